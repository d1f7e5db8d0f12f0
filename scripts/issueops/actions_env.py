"""The GitHub Actions runtime: event payload, step summary, outputs, workflow commands, launcher.

Why this module exists: the workflows must never splice untrusted text into a shell line, so
everything they pass reaches the program through the environment or the event file, and this
module is the one place that reads those and speaks the runner's file and command protocols.

- `load_event` reads `$GITHUB_EVENT_PATH` into a small typed `ActionsEvent`.
- `append_step_summary` appends Markdown to `$GITHUB_STEP_SUMMARY` and never passes the
  runner's 1 MiB per-step limit (it truncates and says so).
- `set_outputs` writes `$GITHUB_OUTPUT` with a random heredoc delimiter (multi-line safe).
- `annotate`, `mask` and `quarantine` build workflow commands with the runner's escaping.
- `python -m issueops.actions_env exec COMMAND...` is the launcher the workflows call: it turns
  the dispatch inputs (passed as `ISSUEOPS_INPUT_*` variables) into validated CLI options,
  decides dry-run (fail-safe: dry unless told otherwise) and replaces itself with `issueops`.

No click and no PyGithub here: this is plain standard library, importable by the runner.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from issueops.core.errors import UserError

STEP_SUMMARY_LIMIT = 1024 * 1024  # bytes per step, enforced by the runner (larger uploads are dropped)
_KINDS: frozenset[str] = frozenset({"error", "warning", "notice"})
_OUTPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_REPO = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
_APP_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62})")
_WHOLE_NUMBER = re.compile(r"^[0-9]{1,12}$")
_TRUE = frozenset({"true"})
_FALSE = frozenset({"false"})


class EventError(UserError):
    """The event payload file is missing or is not a JSON object: names the file and the fix."""


class InputError(UserError):
    """A dispatch or action input has a bad value: names the input, the value and the fix."""

    exit_code = 2


def in_actions(env: Mapping[str, str]) -> bool:
    """True on a GitHub Actions runner (the runner sets `GITHUB_ACTIONS=true`)."""
    return env.get("GITHUB_ACTIONS", "").lower() == "true"


# --- the event payload ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EventComment:
    """The comment of an `issue_comment` payload: enough to refuse a stranger without a read."""

    id: int
    body: str
    login: str
    user_type: str
    association: str  # `author_association`, as GitHub computed it for this comment
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class ActionsEvent:
    """What the pipeline needs of one event payload; the raw payload stays in the file."""

    name: str
    action: str | None = None
    issue_number: int | None = None
    comment_id: int | None = None
    is_pull_request: bool = False
    label: str | None = None
    sender_login: str | None = None
    sender_type: str | None = None
    repository: str | None = None
    inputs: Mapping[str, str] = field(default_factory=dict)
    path: Path | None = None
    comment: EventComment | None = None
    issue_author: str | None = None
    issue_title: str = ""

    @property
    def is_item_event(self) -> bool:
        """An event about one issue (or pull request) that `issueops commands --event` handles."""
        return self.name in ("issue_comment", "issues") and self.issue_number is not None


def _obj(payload: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = payload.get(key)
    return value if isinstance(value, Mapping) else {}


def _int(value: Any) -> int | None:
    # bool is an int in Python; a payload `true` is never an issue number
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _input_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _event_comment(comment: Mapping[str, Any]) -> EventComment | None:
    user = _obj(comment, "user")
    cid, login = _int(comment.get("id")), _str(user.get("login"))
    created = _str(comment.get("created_at")) or ""
    if cid is None or login is None:
        return None
    return EventComment(
        id=cid,
        body=_str(comment.get("body")) or "",
        login=login,
        user_type=_str(user.get("type")) or "User",
        association=_str(comment.get("author_association")) or "",
        created_at=created,
        updated_at=_str(comment.get("updated_at")) or created,
    )


def parse_event(name: str, payload: Mapping[str, Any], path: Path | None = None) -> ActionsEvent:
    """The typed view of a payload; fields that do not apply to the event are None."""
    issue = _obj(payload, "issue") or _obj(payload, "pull_request")
    comment = _obj(payload, "comment")
    sender = _obj(payload, "sender")
    inputs = _obj(payload, "inputs")
    return ActionsEvent(
        name=name,
        action=_str(payload.get("action")),
        issue_number=_int(issue.get("number")),
        comment_id=_int(comment.get("id")),
        is_pull_request=bool(_obj(payload, "pull_request")) or "pull_request" in issue,
        label=_str(_obj(payload, "label").get("name")),
        sender_login=_str(sender.get("login")),
        sender_type=_str(sender.get("type")),
        repository=_str(_obj(payload, "repository").get("full_name")),
        inputs={str(k): _input_text(v) for k, v in inputs.items()},
        path=path,
        comment=_event_comment(comment) if name == "issue_comment" else None,
        issue_author=_str(_obj(issue, "user").get("login")),
        issue_title=_str(issue.get("title")) or "",
    )


def read_event(path: Path, name: str) -> ActionsEvent:
    """Read one payload file (as in `$GITHUB_EVENT_PATH`, or a saved one for `--event`)."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise EventError(f"event file {path} does not exist; pass the path of a saved payload") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventError(f"event file {path} is not readable JSON ({exc}); pass a webhook payload") from exc
    if not isinstance(payload, dict):
        raise EventError(f"event file {path} holds a JSON {type(payload).__name__}, not an object")
    return parse_event(name, payload, path)


def load_event(env: Mapping[str, str]) -> ActionsEvent | None:
    """The current run's event, or None outside Actions or when the runner gave no payload."""
    if not in_actions(env):
        return None
    path = env.get("GITHUB_EVENT_PATH", "")
    name = env.get("GITHUB_EVENT_NAME", "")
    if not path or not name:
        return None
    return read_event(Path(path), name)


# --- the step summary ----------------------------------------------------------------------------


def _cut_utf8(data: bytes, size: int) -> bytes:
    """At most `size` bytes of `data`, never ending inside a multi-byte character."""
    if size >= len(data):
        return data
    end = max(size, 0)
    while end > 0 and (data[end] & 0xC0) == 0x80:  # a continuation byte: step back to a boundary
        end -= 1
    return data[:end]


def _truncation_note(omitted: int) -> bytes:
    return (
        f"\n> **Summary truncated**: {omitted} bytes did not fit GitHub's 1 MiB step-summary limit; "
        f"the full output is in the job log.\n"
    ).encode()


def fit_summary(markdown: str, used: int, limit: int = STEP_SUMMARY_LIMIT) -> bytes:
    """The bytes to append when `used` bytes are already in the step's summary file.

    Fits the whole text when it can; otherwise keeps whole lines up to the limit, closes an open
    code fence, and ends with a note saying how much was left out. Returns b"" when even the
    note does not fit.
    """
    data = markdown.encode("utf-8")
    if not data.endswith(b"\n"):
        data += b"\n"
    room = limit - used
    if len(data) <= room:
        return data
    # sized for the largest count it could report, so the real note is never longer
    keep = room - len(_truncation_note(len(data))) - len(b"\n```\n")
    if keep <= 0:
        note = _truncation_note(len(data))
        return note if len(note) <= room else b""
    head = _cut_utf8(data, keep)
    newline = head.rfind(b"\n")
    if newline >= len(head) // 2:  # prefer a line boundary unless that throws away half the text
        head = head[: newline + 1]
    elif not head.endswith(b"\n"):
        head += b"\n"
    fences = sum(1 for ln in head.split(b"\n") if ln.lstrip().startswith(b"```"))
    closing = b"```\n" if fences % 2 else b""
    return head + closing + _truncation_note(len(data) - len(head))


def _append_bytes(path: Path, data: bytes) -> None:
    """One O_APPEND descriptor, every byte written (the runner reads the file after the step)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)


def append_step_summary(env: Mapping[str, str], markdown: str) -> None:
    """Append Markdown to this step's summary; a no-op outside Actions."""
    target = env.get("GITHUB_STEP_SUMMARY", "")
    if not target or not markdown:
        return
    path = Path(target)
    try:
        used = path.stat().st_size
    except FileNotFoundError:
        used = 0
    data = fit_summary(markdown, used)
    if data:
        _append_bytes(path, data)


# --- step outputs --------------------------------------------------------------------------------

OutputValue = str | int | float | bool | None


def _random_delimiter() -> str:
    return f"ghadelimiter_{uuid.uuid4()}"


def _output_text(value: OutputValue | Mapping[str, Any] | Sequence[Any]) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)


def format_outputs(mapping: Mapping[str, Any], delimiter: Callable[[], str] = _random_delimiter) -> str:
    """The `$GITHUB_OUTPUT` text: `name<<DELIM`, the value, `DELIM`, for every entry."""
    parts: list[str] = []
    for name, raw in mapping.items():
        if not _OUTPUT_NAME.match(name):
            raise ValueError(
                f"output name {name!r} is not valid; use letters, digits, '_' and '-' "
                "and do not start with a digit"
            )
        value = _output_text(raw)
        for _ in range(8):
            marker = delimiter()
            if marker not in value and marker not in name:
                break
        else:
            raise ValueError(f"output {name!r}: could not pick a delimiter absent from its value")
        parts.append(f"{name}<<{marker}\n{value}\n{marker}\n")
    return "".join(parts)


def set_outputs(env: Mapping[str, str], mapping: Mapping[str, Any]) -> None:
    """Write step outputs (multi-line safe); a no-op outside Actions."""
    target = env.get("GITHUB_OUTPUT", "")
    if target and mapping:
        _append_bytes(Path(target), format_outputs(mapping).encode("utf-8"))


RUN_OUTPUTS: tuple[str, ...] = (
    "command",
    "dry-run",
    "exit-code",
    "items-seen",
    "items-changed",
    "items-failed",
    "items-deferred",
    "requests-made",
    "requests-counted",
    "budget-stop",
    "summary",
    "error",
)


SUMMARY_OUTPUT_LIMIT = 256 * 1024  # bytes of the `summary` output; GitHub's limit is 1 MB per output


def capped_summary(
    summary: Mapping[str, Any], limit: int = SUMMARY_OUTPUT_LIMIT, *, full_at: str = ""
) -> str:
    """The summary as JSON, at most `limit` bytes: the long lists are cut and counted, and
    `full_summary` says where the whole document is (the run's telemetry artifact)."""
    text = json.dumps(summary, sort_keys=True, default=str)
    if len(text.encode()) <= limit:
        return text
    cut = dict(summary)
    left_out: dict[str, int] = {}
    for key in ("plan", "deferred", "failures"):
        values = cut.get(key)
        if isinstance(values, list) and values:
            keep = 20
            left_out[key] = max(len(values) - keep, 0)
            cut[key] = values[:keep]
    cut["truncated"] = {"left_out": left_out, "limit_bytes": limit}
    cut["full_summary"] = full_at or "the job log (`--json`)"
    text = json.dumps(cut, sort_keys=True, default=str)
    if len(text.encode()) <= limit:
        return text
    counts = {k: v for k, v in cut.items() if not isinstance(v, list | dict) or k == "truncated"}
    return json.dumps(counts, sort_keys=True, default=str)


def summary_outputs(summary: Mapping[str, Any], *, full_at: str = "") -> dict[str, str]:
    """The step outputs of a run summary (`RunSummary.as_dict()`); the action declares these names."""
    keys = {
        "command": "command",
        "dry-run": "dry_run",
        "exit-code": "exit_code",
        "items-seen": "items_seen",
        "items-changed": "items_changed",
        "items-failed": "items_failed",
        "items-deferred": "items_deferred",
        "requests-made": "requests_made",
        "requests-counted": "requests_counted",
        "budget-stop": "budget_stop",
    }
    out = {name: _output_text(summary.get(key)) for name, key in keys.items()}
    out["summary"] = capped_summary(summary, full_at=full_at)
    out["error"] = ""
    return out


def error_outputs(command: str, exit_code: int, message: str) -> dict[str, str]:
    """The step outputs of a run that ended with an error: the same names, so callers can branch."""
    data = {"command": command, "exit_code": exit_code, "error": message}
    out = {name: "" for name in RUN_OUTPUTS}
    out.update(command=command, **{"exit-code": str(exit_code)}, error=message)
    out["summary"] = json.dumps(data, sort_keys=True)
    return out


# --- workflow commands ---------------------------------------------------------------------------


def escape_data(text: str) -> str:
    """The runner's escaping for a command's message: a newline can never start a new command."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escaping for a property value: also ':' and ',', so '::' cannot end the property list."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotate(
    kind: str,
    message: str,
    file: str | None = None,
    line: int | None = None,
    *,
    title: str | None = None,
    col: int | None = None,
    end_line: int | None = None,
) -> str:
    """`::error file=F,line=N::message` (or warning/notice); print it to stdout to annotate."""
    if kind not in _KINDS:
        raise ValueError(f"annotation kind {kind!r} is not one of {sorted(_KINDS)}")
    props: list[tuple[str, str]] = []
    if title:
        props.append(("title", title))
    if file:
        props.append(("file", file))
    for name, number in (("line", line), ("endLine", end_line), ("col", col)):
        if number is not None:
            if number < 1:
                raise ValueError(f"annotation {name} must be 1 or more, got {number}")
            props.append((name, str(number)))
    head = ",".join(f"{k}={escape_property(v)}" for k, v in props)
    return f"::{kind}{' ' + head if head else ''}::{escape_data(message)}"


def mask(value: str) -> str:
    """`::add-mask::` commands hiding `value` from the log, one per line of a multi-line secret.

    Print the result only on a runner: outside Actions it would show the value itself.
    """
    lines = [ln for ln in value.replace("\r\n", "\n").replace("\r", "\n").split("\n") if ln.strip()]
    return "\n".join(f"::add-mask::{escape_data(ln)}" for ln in lines)


def quarantine(text: str, token: str | None = None) -> str:
    """Untrusted text wrapped so that lines in it that look like `::commands::` are not run."""
    marker = token or f"issueops-{uuid.uuid4().hex}"
    if marker in text:
        raise ValueError("the stop-commands token occurs in the text; pass another token")
    return f"::stop-commands::{marker}\n{text}\n::{marker}::"


# --- the launcher the workflows call ---------------------------------------------------------------

COMMANDS: frozenset[str] = frozenset(
    {"monitor", "assign", "process", "commands", "sweep", "run", "validate", "report", "labels sync"}
)
ITEM_COMMANDS: frozenset[str] = frozenset({"monitor", "assign", "process", "commands", "sweep"})


@dataclass(frozen=True)
class RunInputs:
    """The validated inputs of one launch; `dry_run_reason` is shown in the log."""

    dry_run: bool
    dry_run_reason: str
    limit: int | None = None
    max_requests: int | None = None
    max_seconds: int | None = None
    item: int | None = None
    api_url: str | None = None
    config: str | None = None
    schemas: str | None = None
    token_env: str | None = None
    repo: str | None = None
    telemetry: str | None = None
    bot_login: str | None = None


def _number(env: Mapping[str, str], var: str, label: str, minimum: int) -> int | None:
    raw = env.get(var, "").strip()
    if not raw:
        return None
    if not _WHOLE_NUMBER.match(raw) or int(raw) < minimum:
        shown = raw if len(raw) <= 40 else raw[:40] + "..."
        raise InputError(
            f"input `{label}` must be a whole number of at least {minimum}, got {shown!r}; "
            f"leave it empty for the default"
        )
    return int(raw)


def _dry_run(env: Mapping[str, str]) -> tuple[bool, str]:
    """Explicit input wins; otherwise dry unless the repository variable ISSUEOPS_LIVE is 'true'."""
    raw = env.get("ISSUEOPS_INPUT_DRY_RUN", "").strip().lower()
    if raw in _TRUE:
        return True, "the dry_run input is true"
    if raw in _FALSE:
        return False, "the dry_run input is false"
    if raw:
        raise InputError(f"input `dry_run` must be true or false, got {raw[:40]!r}")
    if env.get("ISSUEOPS_LIVE", "").strip().lower() == "true":
        return False, "the repository variable ISSUEOPS_LIVE is 'true'"
    return True, "the repository variable ISSUEOPS_LIVE is not 'true' (set it to go live)"


def _path_input(env: Mapping[str, str], var: str, label: str) -> str | None:
    """A file or directory input: never something the CLI would read as an option."""
    value = env.get(var, "").strip() or None
    if value is not None and value.startswith("-"):
        raise InputError(f"input `{label}` must be a path, got {value[:80]!r}")
    return value


def resolve_inputs(env: Mapping[str, str]) -> RunInputs:
    """Validate the `ISSUEOPS_INPUT_*` variables; raise InputError naming the bad one."""
    dry, reason = _dry_run(env)
    token_env = env.get("ISSUEOPS_INPUT_TOKEN_ENV", "").strip() or None
    if token_env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", token_env):
        raise InputError(f"input `token-env` must be an environment variable name, got {token_env[:40]!r}")
    api_url = env.get("ISSUEOPS_INPUT_API_URL", "").strip() or None
    if api_url is not None and not re.fullmatch(r"https?://[^\s]+", api_url):
        raise InputError(f"input `api-url` must be an http(s) URL, got {api_url[:80]!r}")
    config = _path_input(env, "ISSUEOPS_INPUT_CONFIG", "config")
    schemas = _path_input(env, "ISSUEOPS_INPUT_SCHEMAS", "schemas")
    telemetry = _path_input(env, "ISSUEOPS_INPUT_TELEMETRY", "telemetry")
    repo = env.get("ISSUEOPS_INPUT_REPO", "").strip() or None
    if repo is not None and not _REPO.fullmatch(repo):
        raise InputError(f"input `repo` must look like OWNER/NAME, got {repo[:80]!r}")
    # The token of an App installation (the workflow's GITHUB_TOKEN is the `github-actions` App's)
    # cannot read GET /user, so the workflow says whose token it passes: the bot is `<slug>[bot]`.
    slug = env.get("ISSUEOPS_INPUT_APP_SLUG", "").strip() or None
    if slug is not None and not _APP_SLUG.fullmatch(slug):
        raise InputError(f"input `app-slug` must be a GitHub App slug, got {slug[:80]!r}")
    return RunInputs(
        dry_run=dry,
        dry_run_reason=reason,
        limit=_number(env, "ISSUEOPS_INPUT_LIMIT", "limit", 0),
        max_requests=_number(env, "ISSUEOPS_INPUT_MAX_REQUESTS", "max_requests", 1),
        max_seconds=_number(env, "ISSUEOPS_INPUT_MAX_SECONDS", "max_seconds", 1),
        item=_number(env, "ISSUEOPS_INPUT_ITEM", "item", 1),
        api_url=api_url,
        config=config,
        schemas=schemas,
        token_env=token_env,
        repo=repo,
        telemetry=telemetry,
        bot_login=f"{slug}[bot]" if slug else None,
    )


def split_command(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """(command words, the rest): `labels sync --x` -> (['labels', 'sync'], ['--x'])."""
    if len(args) >= 2 and " ".join(args[:2]) in COMMANDS:
        return list(args[:2]), list(args[2:])
    if args and args[0] in COMMANDS:
        return [args[0]], list(args[1:])
    shown = " ".join(args[:2]) if args else "(nothing)"
    raise InputError(f"unknown issueops command {shown!r}; use one of: {', '.join(sorted(COMMANDS))}")


def build_argv(words: Sequence[str], extra: Sequence[str], inputs: RunInputs) -> tuple[list[str], list[str]]:
    """The `issueops` arguments (globals, command, per-command options) and any warnings."""
    argv: list[str] = []
    warnings: list[str] = []
    if inputs.repo:
        argv += ["--repo", inputs.repo]
    if inputs.api_url:
        argv += ["--api-url", inputs.api_url]
    if inputs.config:
        argv += ["--config", inputs.config]
    if inputs.schemas:
        argv += ["--schemas", inputs.schemas]
    if inputs.token_env:
        argv += ["--token-env", inputs.token_env]
    if inputs.telemetry:
        argv += ["--telemetry", inputs.telemetry]
    if inputs.dry_run:
        argv.append("--dry-run")
    if inputs.limit is not None:
        argv += ["--limit", str(inputs.limit)]
    if inputs.max_requests is not None:
        argv += ["--max-requests", str(inputs.max_requests)]
    if inputs.max_seconds is not None:
        argv += ["--max-seconds", str(inputs.max_seconds)]
    if inputs.bot_login:
        argv += ["--bot-login", inputs.bot_login]
    argv += list(words)
    command = " ".join(words)
    if inputs.item is not None:
        if command in ITEM_COMMANDS:
            argv += ["--item", str(inputs.item)]
        else:
            warnings.append(f"input `item` ({inputs.item}) is ignored: `issueops {command}` has no --item")
    argv += list(extra)
    return argv, warnings


Execute = Callable[[str, list[str]], Any]


def _to_stderr(line: str) -> None:
    # stderr: the runner reads workflow commands from both streams, and stdout stays the program's
    # own (`report --format md >> "$GITHUB_STEP_SUMMARY"`)
    print(line, file=sys.stderr)


def _message(env: Mapping[str, str], kind: str, text: str, title: str) -> str:
    """An annotation on a runner (shown on the run page); a plain line anywhere else."""
    return annotate(kind, text, title=title) if in_actions(env) else f"{kind}: {text}"


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    execute: Execute = os.execvp,
    out: Callable[[str], None] | None = None,
) -> int:
    """`python -m issueops.actions_env exec COMMAND [ARGS...]`: validate inputs, then run issueops."""
    out = out or _to_stderr
    args = list(sys.argv[1:] if argv is None else argv)
    environ = dict(os.environ) if env is None else dict(env)
    if not args or args[0] != "exec":
        out("usage: python -m issueops.actions_env exec COMMAND [ARGS...]")
        return 2
    try:
        words, extra = split_command(args[1:])
        inputs = resolve_inputs(environ)
    except InputError as exc:
        out(_message(environ, "error", str(exc), "issueops input"))
        return exc.exit_code
    full, warnings = build_argv(words, extra, inputs)
    for warning in warnings:
        out(_message(environ, "warning", warning, "issueops input"))
    if in_actions(environ) and inputs.token_env and inputs.token_env != "GITHUB_TOKEN":  # noqa: S105
        secret = environ.get(inputs.token_env, "")
        if secret:
            out(mask(secret))  # only on a runner, where the command is consumed, never shown
    mode = "dry run" if inputs.dry_run else "live"
    if inputs.dry_run:
        out(
            _message(
                environ, "notice", f"dry run: no write will be sent ({inputs.dry_run_reason})", "issueops"
            )
        )
    out(f"issueops ({mode}: {inputs.dry_run_reason}): issueops {shlex.join(full)}")
    sys.stdout.flush()
    sys.stderr.flush()
    execute(sys.executable, [sys.executable, "-m", "issueops", *full])
    return 0  # reached only when `execute` returns (tests); os.execvp never does


if __name__ == "__main__":
    sys.exit(main())
