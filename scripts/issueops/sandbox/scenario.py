"""Scenario files: YAML describing the repository, people, labels, issues and files to start from.

`load_scenario` checks the structure and reports every problem as `file:line:col: message`
(a ConfigError); `build_sandbox` turns a checked mapping into a running Sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from issueops.core.errors import ConfigError, Problem
from issueops.core.yamlpos import DataPath, SourceMap, read_yaml
from issueops.sandbox.agent import CopilotAgent
from issueops.sandbox.clock import DEFAULT_START, VirtualClock, parse_time
from issueops.sandbox.inference import Scripted
from issueops.sandbox.models import PERMISSION_LEVELS, REACTION_CONTENTS, Issue
from issueops.sandbox.ratelimit import Limits
from issueops.sandbox.sandbox import DEFAULT_BASE_URL, Sandbox
from issueops.sandbox.store import SandboxState

_TOP = {
    "repo",
    "bot",
    "private",
    "description",
    "default_branch",
    "base_url",
    "clock",
    "rate_limit",
    "users",
    "teams",
    "labels",
    "files",
    "branches",
    "issues",
    "pulls",
    "inference",
    "copilot",
}
_COPILOT = {"enabled", "delay_minutes", "work_minutes"}
_INFERENCE = {"answers", "default"}
_USER = {"login", "token", "permission", "type", "name", "email", "rate_limit"}
_TEAM = {"slug", "name", "members", "maintainers", "permission"}
_LABEL = {"name", "color", "description"}
_ISSUE = {
    "number",
    "events",
    "title",
    "body",
    "user",
    "labels",
    "assignees",
    "state",
    "state_reason",
    "created_at",
    "comments",
    "reactions",
}
_COMMENT = {"id", "user", "body", "created_at", "edited", "reactions"}
_EVENT = {"event", "label", "actor", "created_at"}
_PULL = {"number", "title", "head", "base", "body", "user", "files", "draft", "labels", "created_at"}
_LIMITS = {"core", "search", "anonymous", "content_per_minute", "content_per_hour"}
_CLOCK = {"start", "tick_seconds"}


def _paths(data: Any, path: DataPath, into: dict[int, DataPath]) -> dict[int, DataPath]:
    """The data path of every mapping and list in `data`, by identity (to look up positions)."""
    if isinstance(data, dict | list):
        into[id(data)] = path
        children = data.items() if isinstance(data, dict) else enumerate(data)
        for key, child in children:
            _paths(child, (*path, key), into)
    return into


class ScenarioChecker:
    """Collects a scenario file's problems, each at the `file:line:col` of the node it names
    (shared by the one-repository and the fleet scenario readers)."""

    def __init__(self, path: str, data: Any, source: SourceMap | None) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self.source = source or SourceMap()
        self._where = _paths(data, (), {}) if source is not None else {}

    def at(self, node: Any, key: str | None = None) -> tuple[int, int]:
        path = self._where.get(id(node))
        if path is None:
            return 1, 1
        span = self.source.key((*path, key)) if key is not None else self.source.value(path)
        return span.line, span.col

    def fail(self, node: Any, key: str | None, message: str) -> None:
        line, col = self.at(node, key)
        self.problems.append(Problem(self.path, line, col, message))

    def keys(self, node: Any, allowed: set[str], what: str, required: tuple[str, ...] = ()) -> bool:
        if not isinstance(node, dict):
            self.fail(None, None, f"{what} must be a mapping")
            return False
        for key in node:
            if key not in allowed:
                self.fail(node, key, f"unknown key {key!r} in {what}; allowed: {', '.join(sorted(allowed))}")
        for key in required:
            if key not in node:
                self.fail(node, None, f"{what} needs {key!r}")
        return True

    def items(self, parent: Mapping[str, Any], key: str) -> list[Any]:
        value = parent.get(key, [])
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(parent, key, f"{key!r} must be a list")
            return []
        return value

    def time(self, node: Any, key: str) -> None:
        value = node.get(key)
        if value is not None:
            try:
                parse_time(str(value))
            except ValueError:
                self.fail(node, key, f"{key} {value!r} is not an RFC 3339 time like 2025-01-06T09:00:00Z")

    def permission(self, node: Any, key: str) -> None:
        value = node.get(key)
        if value is not None and value not in PERMISSION_LEVELS:
            self.fail(node, key, f"permission {value!r} must be one of {', '.join(PERMISSION_LEVELS)}")

    def string_map(self, node: Any, key: str) -> None:
        value = node.get(key)
        if value is not None and (
            not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values())
        ):
            self.fail(node, key, f"{key!r} must map file paths to text")

    def number(self, node: Any) -> None:
        value = node.get("number")
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            self.fail(node, "number", f"number must be a positive integer, got {value!r}")

    def reactions(self, node: Any) -> None:
        for reaction in self.items(node, "reactions"):
            valid = self.keys(reaction, {"user", "content"}, "a reaction", ("user", "content"))
            if valid and reaction.get("content") not in REACTION_CONTENTS:
                self.fail(
                    reaction, "content", f"reaction content must be one of {', '.join(REACTION_CONTENTS)}"
                )


def check_scenario(data: Any, path: str = "<scenario>", source: SourceMap | None = None) -> list[Problem]:
    """Every structural problem in a scenario mapping (empty when it is fine); `source` gives the
    positions of a scenario read from a file."""
    c = ScenarioChecker(path, data, source)
    if not isinstance(data, dict):
        return [Problem(path, 1, 1, "a scenario must be a YAML mapping with at least `repo: OWNER/NAME`")]
    c.keys(data, _TOP, "the scenario", ("repo",))
    bot = data.get("bot")
    if bot is not None and not isinstance(bot, str):
        c.fail(data, "bot", "bot must be the pipeline's login, e.g. issueops-bot or my-app[bot]")
    repo = data.get("repo")
    if repo is not None and (not isinstance(repo, str) or repo.count("/") != 1):
        c.fail(data, "repo", f"repo must be OWNER/NAME, got {repo!r}")
    clock = data.get("clock")
    if isinstance(clock, dict):
        c.keys(clock, _CLOCK, "clock")
        c.time(clock, "start")
    elif clock is not None:
        c.time(data, "clock")
    limits = data.get("rate_limit")
    if limits is not None and c.keys(limits, _LIMITS, "rate_limit"):
        for key, value in limits.items():
            if not isinstance(value, int) or value < 0:
                c.fail(limits, key, f"rate_limit.{key} must be a non-negative integer")
    inference = data.get("inference")
    if inference is not None and c.keys(inference, _INFERENCE, "inference"):
        for entry in c.items(inference, "answers"):
            if not isinstance(entry, dict):
                c.fail(inference, "answers", "inference.answers: each answer is a mapping (match, answer...)")
                continue
            try:
                Scripted.from_mapping(entry)
            except (TypeError, ValueError) as exc:
                c.fail(entry, None, f"inference.answers: {exc}")
        default = inference.get("default")
        if default is not None and not isinstance(default, dict):
            c.fail(
                inference,
                "default",
                "inference.default must be an answer mapping (workflow, confidence, reason)",
            )
    agent = data.get("copilot")
    if agent is not None and c.keys(agent, _COPILOT, "copilot"):
        for key in ("delay_minutes", "work_minutes"):
            value = agent.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                c.fail(agent, key, f"copilot.{key} must be a number of minutes, 0 or more")
    for user in c.items(data, "users"):
        if c.keys(user, _USER, "a user", ("login",)):
            c.permission(user, "permission")
            if user.get("type", "User") not in ("User", "Bot"):
                c.fail(user, "type", "user type must be User or Bot")
    for team in c.items(data, "teams"):
        if c.keys(team, _TEAM, "a team", ("slug",)):
            c.permission(team, "permission")
    for label in c.items(data, "labels"):
        c.keys(label, _LABEL, "a label", ("name",))
    c.string_map(data, "files")
    branches = data.get("branches")
    if branches is not None:
        if not isinstance(branches, dict):
            c.fail(data, "branches", "branches must map a branch name to {from, files}")
        else:
            for spec in branches.values():
                if c.keys(spec, {"from", "files"}, "a branch"):
                    c.string_map(spec, "files")
    for issue in c.items(data, "issues"):
        if not c.keys(issue, _ISSUE, "an issue", ("title",)):
            continue
        c.time(issue, "created_at")
        c.number(issue)
        for event in c.items(issue, "events"):
            if c.keys(event, _EVENT, "an issue event", ("event", "actor")):
                c.time(event, "created_at")
                kind = event.get("event")
                if kind not in ("labeled", "unlabeled", "closed", "reopened"):
                    c.fail(event, "event", "an issue event is `labeled`, `unlabeled`, `closed` or `reopened`")
                elif kind in ("labeled", "unlabeled") and not event.get("label"):
                    c.fail(event, None, f"a `{kind}` event needs `label`")
        if issue.get("state", "open") not in ("open", "closed"):
            c.fail(issue, "state", "issue state must be open or closed")
        c.reactions(issue)
        for comment in c.items(issue, "comments"):
            if c.keys(comment, _COMMENT, "a comment", ("body",)):
                c.time(comment, "created_at")
                edited = comment.get("edited")
                if edited is not None and not isinstance(edited, bool):
                    c.time(comment, "edited")
                c.reactions(comment)
    for pull in c.items(data, "pulls"):
        if c.keys(pull, _PULL, "a pull request", ("title", "head")):
            c.string_map(pull, "files")
            c.number(pull)
            c.time(pull, "created_at")
    return c.problems


def load_scenario(path: Path | str) -> Mapping[str, Any]:
    """Read and check a scenario file; raises ConfigError naming `file:line` for every problem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError([Problem(str(path), 1, 1, "cannot read the scenario: no such file")])
    doc = read_yaml(path, timestamps=False)
    if doc.problems:
        raise ConfigError(doc.problems)
    data = doc.data
    problems = _join_surrogates(data, str(path), doc.source, ())
    problems += check_scenario(data, str(path), doc.source)
    if problems:
        raise ConfigError(problems)
    return data  # type: ignore[no-any-return]


def _joined(text: str) -> str:
    """YAML decodes `\\ud83d\\ude2d` (JSON's escape for one emoji) as two lone surrogates; JSON joins them."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")


def _join_surrogates(node: Any, source: str, where: SourceMap, path: DataPath) -> list[Problem]:
    """Join escaped surrogate pairs in place (the text then encodes as UTF-8 in every answer);
    a lone surrogate is no character at all, so it is reported where it sits."""
    problems: list[Problem] = []
    items: list[tuple[Any, Any]] = []
    if isinstance(node, dict):
        items = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    for key, value in items:
        if isinstance(value, str) and any("\ud800" <= ch <= "\udfff" for ch in value):
            try:
                node[key] = _joined(value)
            except UnicodeDecodeError:
                span = where.value((*path, key))
                problems.append(
                    Problem(
                        source,
                        span.line,
                        span.col,
                        f"{key}: a lone surrogate escape (\\ud800-\\udfff) is not a character; "
                        "write the character itself or a complete pair",
                    )
                )
        else:
            problems += _join_surrogates(value, source, where, (*path, key))
    return problems


def _time(value: Any, default: datetime) -> datetime:
    return parse_time(str(value)) if value is not None else default


def build_sandbox(data: Mapping[str, Any]) -> Sandbox:
    """A Sandbox in the state the scenario describes (checked first; ConfigError on problems)."""
    problems = check_scenario(data)
    if problems:
        raise ConfigError(problems)
    clock_spec = data.get("clock")
    start, tick = DEFAULT_START, 0.0
    if isinstance(clock_spec, dict):
        start = _time(clock_spec.get("start"), DEFAULT_START)
        tick = float(clock_spec.get("tick_seconds", 0))
    elif clock_spec is not None:
        start = parse_time(str(clock_spec))
    limits = Limits(**dict(data.get("rate_limit") or {}))
    sb = Sandbox(
        str(data["repo"]),
        private=bool(data.get("private", False)),
        default_branch=str(data.get("default_branch", "main")),
        clock=VirtualClock(start, tick),
        limits=limits,
        base_url=str(data.get("base_url", DEFAULT_BASE_URL)),
    )
    state = sb.state
    for user in data.get("users") or []:
        sb.add_user(
            str(user["login"]),
            token=user.get("token"),
            permission=str(user.get("permission", "none")),
            type=str(user.get("type", "User")),
            name=user.get("name"),
            email=user.get("email"),
            rate_limit=user.get("rate_limit"),
        )
    for team in data.get("teams") or []:
        state.add_team(
            str(team["slug"]),
            [str(m) for m in team.get("members") or []],
            permission=team.get("permission"),
            maintainers=[str(m) for m in team.get("maintainers") or []],
            name=team.get("name"),
        )
    for label in data.get("labels") or []:
        state.add_label(str(label["name"]), str(label.get("color", "ededed")), label.get("description"))
    if data.get("files"):
        state.commit_files(state.repo.default_branch, dict(data["files"]), "Add scenario files")
    for name, spec in (data.get("branches") or {}).items():
        state.commit_files(
            str(name), dict(spec.get("files") or {}), f"Scenario branch {name}", base=spec.get("from")
        )
    for spec in data.get("issues") or []:
        created = _time(spec.get("created_at"), start)
        events = spec.get("events") or []
        labels = [str(n) for n in spec.get("labels") or []]
        issue = state.add_issue(
            str(spec["title"]),
            spec.get("body"),
            spec.get("user"),
            labels=[] if events else labels,
            assignees=[str(a) for a in spec.get("assignees") or []],
            created_at=created,
            number=spec.get("number"),
        )
        if events:
            _replay_label_history(state, issue, events, labels, created)
        for reaction in spec.get("reactions") or []:
            state.react(issue.reactions, str(reaction["user"]), str(reaction["content"]))
        for comment_spec in spec.get("comments") or []:
            at = _time(comment_spec.get("created_at"), created)
            edited = comment_spec.get("edited")
            updated = None
            if edited is True:
                updated = at + timedelta(minutes=5)
            elif edited:
                updated = parse_time(str(edited))
            comment = state.add_comment(
                issue.number,
                str(comment_spec.get("user", issue.user)),
                str(comment_spec.get("body", "")),
                created_at=at,
                updated_at=updated,
                comment_id=comment_spec.get("id"),
            )
            for reaction in comment_spec.get("reactions") or []:
                state.react(comment.reactions, str(reaction["user"]), str(reaction["content"]))
        if spec.get("state", "open") == "closed":
            state.set_state(
                issue, "closed", spec.get("state_reason") or "completed", issue.user, when=issue.updated_at
            )
        elif issue.state == "closed":  # a replayed history that ends closed, on an issue that is open
            state.set_state(issue, "open", None, issue.user, when=issue.updated_at)
    state.agent = CopilotAgent.from_mapping(data.get("copilot"))
    inference = data.get("inference") or {}
    sb.inference.add(*(dict(entry) for entry in inference.get("answers") or []))
    if inference.get("default") is not None:
        sb.inference.default = dict(inference["default"])
    for spec in data.get("pulls") or []:
        pull = state.add_pull(
            str(spec["title"]),
            str(spec["head"]),
            base=spec.get("base"),
            body=spec.get("body"),
            user=spec.get("user"),
            draft=bool(spec.get("draft", False)),
            files=spec.get("files"),
            number=spec.get("number"),
        )
        state.add_labels(pull, [str(n) for n in spec.get("labels") or []], pull.user)
    return sb


def _replay_label_history(
    state: SandboxState, issue: Issue, events: list[Any], labels: list[str], created: datetime
) -> None:
    """Label, close and reopen events with their actors and times (who applied a label, and when
    the item was closed, matter to the pipeline); labels the history does not explain are applied
    last by the issue's author."""
    last = created
    for event in events:
        when = _time(event.get("created_at"), last)
        last = max(last, when)
        actor, kind = str(event["actor"]), event["event"]
        if kind == "labeled":
            state.add_labels(issue, [str(event["label"])], actor, when=when)
        elif kind == "unlabeled":
            state.remove_label(issue, str(event["label"]), actor, when=when)
        else:
            state.set_state(issue, "closed" if kind == "closed" else "open", None, actor, when=when)
    state.add_labels(issue, [n for n in labels if n not in issue.labels], issue.user, when=last)
    for name in [n for n in issue.labels if n not in labels]:
        state.remove_label(issue, name, issue.user, when=last)


def from_scenario(source: Path | str | Mapping[str, Any]) -> Sandbox:
    """A sandbox built from a scenario file (YAML or JSON) or an already-loaded mapping."""
    data = source if isinstance(source, Mapping) else load_scenario(Path(source))
    return build_sandbox(data)
