"""The command line. Only this module imports click: it parses options, calls the library and maps
errors to exit codes (0 done, 1 user error or failed items, 2 usage, 3 internal)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

import click
from click.core import ParameterSource

from issueops import __version__
from issueops.core.errors import ConfigError, IssueOpsError, Problem, UserError
from issueops.core.options import DEFAULT_API_URL, Options

if TYPE_CHECKING:
    from issueops.app import ProgressTick, StopRequest
    from issueops.runner import RunSummary

P = ParamSpec("P")
R = TypeVar("R")


def _env() -> dict[str, str]:
    ctx = click.get_current_context(silent=True)
    opts = ctx.find_object(Options) if ctx is not None else None
    return opts.env if opts is not None else dict(os.environ)


def _command_name() -> str:
    ctx = click.get_current_context(silent=True)
    return " ".join(ctx.command_path.split()[1:]) if ctx is not None else ""


def _fail(message: str, code: int, *, fix: str = "", annotations: Sequence[str] = ()) -> NoReturn:
    """Print the error (annotations on a runner), and on a runner still write the step summary and
    outputs, so that a failed run reports like any other; then exit with `code`."""
    from issueops import actions_env
    from issueops.output import markdown_error

    env = _env()
    on_runner = actions_env.in_actions(env)
    if on_runner:
        shown = [*annotations] or [
            actions_env.annotate("error", message + (f" (fix: {fix})" if fix else ""), title="issueops")
        ]
        for line in shown:
            click.echo(line, err=True)
    if annotations or not on_runner:
        click.echo(message, err=True)
    if fix:
        click.echo(f"  fix: {fix}", err=True)
    if on_runner:
        command = _command_name()
        actions_env.append_step_summary(env, markdown_error(command, message, fix, code))
        actions_env.set_outputs(env, actions_env.error_outputs(command, code, message))
    sys.exit(code)


def _problem_annotations(problems: Sequence[Problem]) -> list[str]:
    from issueops.actions_env import annotate

    return [
        annotate(
            "error",
            p.message,
            p.path,
            p.line if p.line >= 1 else None,
            col=p.col if p.col >= 1 else None,
            title="issueops validate",
        )
        for p in problems
    ]


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """User errors: a message and exit 1, no traceback. Ctrl-C: 130. Anything unexpected: 3."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            if not in_actions_env():
                for problem in exc.problems:
                    click.echo(f"error: {problem}", err=True)
            _fail(
                f"{len(exc.problems)} error(s); nothing was written.",
                exc.exit_code,
                annotations=_problem_annotations(exc.problems) if exc.problems else (),
            )
        except IssueOpsError as exc:
            _fail(f"error: {exc}", exc.exit_code, fix=getattr(exc, "hint", ""))
        except KeyboardInterrupt:
            _fail("interrupted (Ctrl-C): stopped before the run began its work; nothing was written.", 130)
        except click.exceptions.Exit:
            raise
        except (click.ClickException, click.Abort):
            raise
        except Exception:
            traceback.print_exc()
            _fail("internal error: this is a bug in issueops; the traceback above says where.", 3)

    return wrapper


def in_actions_env() -> bool:
    from issueops.actions_env import in_actions

    return in_actions(_env())


@contextmanager
def ctrl_c_stops_between_items() -> Iterator[StopRequest]:
    """The first Ctrl-C lets the item in hand finish and starts no other; a second stops at once."""
    from issueops.app import StopRequest

    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_sigint(signum: int, frame: object) -> None:
        if stop.reason:
            raise KeyboardInterrupt
        stop.request()
        click.echo("\ninterrupted: finishing the item in hand, then stopping (again: at once)", err=True)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _options(ctx: click.Context) -> Options:
    opts = ctx.find_object(Options)
    assert opts is not None
    return opts


def _emit(opts: Options, summary: dict[str, Any], human: str) -> None:
    if opts.json_output:
        click.echo(json.dumps(summary, indent=2, sort_keys=True, default=str))
    else:
        click.echo(human)


def _global_params() -> list[click.Option]:
    """The options every command takes, before or after its name (`issueops assign --dry-run`)."""
    return [
        click.Option(["--repo"], envvar="GITHUB_REPOSITORY", help="OWNER/NAME [default: $GITHUB_REPOSITORY]"),
        click.Option(
            ["--api-url"],
            envvar="GITHUB_API_URL",
            default=DEFAULT_API_URL,
            show_default=True,
            help="REST base URL (GitHub Enterprise, the sandbox) [env: GITHUB_API_URL]",
        ),
        click.Option(
            ["--token-env"],
            default="GITHUB_TOKEN",
            show_default=True,
            help="Name of the environment variable holding the token (never printed).",
        ),
        click.Option(
            ["--config", "config_path"],
            type=click.Path(path_type=Path),
            default=Path(".github/issueops.yml"),
            show_default=True,
            help="Pipeline configuration.",
        ),
        click.Option(
            ["--schemas", "schemas_dir"],
            type=click.Path(path_type=Path),
            default=Path("workflow_schemas"),
            show_default=True,
            help="Workflow definitions.",
        ),
        click.Option(
            ["--telemetry", "telemetry_dir"],
            type=click.Path(path_type=Path),
            default=Path("telemetry"),
            show_default=True,
            help="Where JSONL events go.",
        ),
        click.Option(["--dry-run"], is_flag=True, help="Plan and print; send no write request at all."),
        click.Option(
            ["--json", "json_output"], is_flag=True, help="One JSON document on stdout (the run summary)."
        ),
        click.Option(["--limit"], type=click.IntRange(min=0), help="At most N work items changed this run."),
        click.Option(["--max-requests"], type=click.IntRange(min=1), help="API request budget for this run."),
        click.Option(
            ["--max-seconds"],
            type=click.IntRange(min=1),
            help="Wall-clock budget for this run: no item starts after it (config api.max_run_seconds).",
        ),
        click.Option(
            ["--bot-login"],
            envvar="ISSUEOPS_BOT_LOGIN",
            help="The token's own login (github-actions[bot], <app-slug>[bot]): an installation token "
            "cannot read it from the API [env: ISSUEOPS_BOT_LOGIN; else config bot_login; else GET /user]",
        ),
    ]


GLOBAL_NAMES = frozenset(str(p.name) for p in _global_params())


def _taking_global_options(callback: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command's callback: global options typed after the command win over those before.

    Only values typed on the command line count here: defaults and the environment were already
    resolved by the group, so `issueops --repo a/b assign` keeps `a/b`.
    """

    @wraps(callback)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        typed = {
            name: kwargs.pop(name)
            for name in list(kwargs)
            if name in GLOBAL_NAMES and ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
        }
        for name in GLOBAL_NAMES:
            kwargs.pop(name, None)
        parent = ctx.find_object(Options)
        if parent is not None:
            ctx.obj = dataclasses.replace(parent, **typed) if typed else parent
        return callback(*args, **kwargs)

    return wrapper


class GlobalOptionsGroup(click.Group):
    """A group whose every command (and every sub-group's command) also takes the global options."""

    group_class = type  # sub-groups are GlobalOptionsGroup too

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not isinstance(cmd, click.Group) and cmd.callback is not None:
            cmd.callback = _taking_global_options(cmd.callback)
            cmd.params.extend(_global_params())
        super().add_command(cmd, name)


@click.group(
    cls=GlobalOptionsGroup,
    params=_global_params(),
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="The options above may also be given after the command (issueops assign --dry-run).",
)
@click.version_option(__version__, prog_name="issueops")
@click.pass_context
def main(ctx: click.Context, /, **kwargs: Any) -> None:
    """IssueOps automation: monitor intake, assign, process and approve work items on GitHub."""
    ctx.obj = Options(**kwargs, env=dict(os.environ))


# --- configuration -----------------------------------------------------------------------------


# --- the fleet: every repository the GitHub App is installed on ------------------------------


@main.group()
def fleet() -> None:
    """Org scale: the repositories a GitHub App installation reaches (see docs/operations.md)."""


@fleet.command("matrix")
@click.option("--owner", help="Only the installation on this account [default: the owner of --repo, if set].")
@click.option("--topic", help="Only repositories with this topic.")
@click.option(
    "--with-config",
    "config_file",
    help="Only repositories that have this file on their default branch (e.g. .github/issueops.yml).",
)
@click.pass_context
@handle_errors
def fleet_matrix(ctx: click.Context, owner: str | None, topic: str | None, config_file: str | None) -> None:
    """Print the repositories as a JSON `strategy.matrix` ({"repo": [...]}) on one line.

    Acts as the App: ISSUEOPS_APP_ID and ISSUEOPS_APP_PRIVATE_KEY (or ..._FILE) must be set.
    """
    from issueops import actions_env
    from issueops.fleet import FleetFilter, fleet_repositories, matrix

    opts = _options(ctx)
    if owner is None and opts.repo:
        owner = opts.repo.split("/", 1)[0]
    found = fleet_repositories(opts, FleetFilter(owner=owner, topic=topic, config_file=config_file))
    text = json.dumps(matrix(found), separators=(",", ":"))
    click.echo(text)
    if actions_env.in_actions(opts.env):
        actions_env.set_outputs(opts.env, {"matrix": text, "count": str(len(found))})


@fleet.command("report")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--expected",
    envvar="ISSUEOPS_FLEET_MATRIX",
    help='The matrix the shards ran ({"repo": [...]}): a repository without a summary is reported '
    "as missing [env: ISSUEOPS_FLEET_MATRIX].",
)
@click.pass_context
@handle_errors
def fleet_report(ctx: click.Context, folder: Path, expected: str | None) -> None:
    """One Markdown report from the shards' summaries (the *.json files under FOLDER).

    Exits 1 when a shard failed or left no summary, so the aggregating job shows it.
    """
    from issueops import actions_env
    from issueops.fleet import aggregate, read_shard_summaries, report_markdown

    opts = _options(ctx)
    report = aggregate(read_shard_summaries(folder), expected_repositories(expected))
    markdown = report_markdown(report)
    click.echo(markdown)
    if actions_env.in_actions(opts.env):
        actions_env.append_step_summary(opts.env, markdown)
    if report.failed or report.missing:
        sys.exit(1)


def expected_repositories(text: str | None) -> list[str] | None:
    """The repositories of a `fleet matrix` document, or None when not given."""
    if not text:
        return None
    try:
        data = json.loads(text)
        repos = data["repo"]
        if not isinstance(repos, list):
            raise TypeError("repo")
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f'--expected: not a fleet matrix ({{"repo": [...]}}): {exc}') from None
    return [str(r) for r in repos]


@main.command()
@click.pass_context
@handle_errors
def validate(ctx: click.Context) -> None:
    """Check config, workflow schemas and templates; errors name file:line and the fix."""
    from issueops.config.validate import validate_all

    opts = _options(ctx)
    if not opts.config_path.is_file() and not opts.config_path.is_dir():
        problem = Problem(
            str(opts.config_path),
            0,
            0,
            "the config file does not exist; copy .github/issueops.yml from issueops (README, "
            "Install) or pass --config PATH",
        )
        raise ConfigError([problem])
    report = validate_all(opts.config_path, opts.schemas_dir)
    if in_actions_env():
        from issueops.actions_env import annotate

        for w in report.warnings:
            click.echo(annotate("warning", w.message, w.path, w.line or None, col=w.col or None), err=True)
    elif opts.json_output:
        for warning in report.warnings:
            click.echo(f"warning: {warning}", err=True)
    if report.problems:
        if opts.json_output:
            click.echo(json.dumps(report.summary(), indent=2, sort_keys=True, default=str))
        raise ConfigError(report.problems)
    _emit(opts, report.summary(), report.human())


@main.group()
def schema() -> None:
    """JSON Schemas of the config and workflow files."""


@schema.command("export")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Directory to write into [default: the --schemas directory].",
)
@click.pass_context
@handle_errors
def schema_export(ctx: click.Context, out_dir: Path | None) -> None:
    """Write config.schema.json and workflow.schema.json for editors and CI."""
    from issueops.config.validate import export_json_schemas

    opts = _options(ctx)
    for path in export_json_schemas(out_dir or opts.schemas_dir):
        click.echo(f"wrote {path}")


# --- the pipeline ------------------------------------------------------------------------------

item_option = click.option(
    "--item", type=click.IntRange(min=1), default=None, help="Only this issue number (others untouched)."
)


def _finish(opts: Options, summary: RunSummary) -> None:
    """Print the summary; on a runner also annotate failed items and write the step summary and
    outputs; exit 0, 1 (failed items) or 130 (interrupted)."""
    from issueops import actions_env
    from issueops.app import html_base
    from issueops.output import human_summary, item_linker, markdown_summary

    data = summary.as_dict()
    _emit(opts, data, human_summary(summary))
    shard_file = opts.env.get("ISSUEOPS_SUMMARY_FILE", "").strip()
    if shard_file:  # a fleet shard: its summary, for the job that aggregates the fleet's report
        from issueops.fleet import write_shard_summary

        write_shard_summary(Path(shard_file), opts.repo or "", data)
    if actions_env.in_actions(opts.env):
        for failure in summary.failures:
            target = failure["target"]
            shown = f"#{target}" if isinstance(target, int) else str(target)
            click.echo(
                actions_env.annotate(
                    "error",
                    f"{shown}: {failure['failure_code']}: {failure['message']} (fix: {failure['hint']})",
                    title=f"issueops {summary.command}: {failure['stage']} failed",
                ),
                err=True,
            )
        link = item_linker(html_base(opts.api_url), opts.repo) if opts.repo else None
        markdown = markdown_summary(summary, link=link) if link else markdown_summary(summary)
        actions_env.append_step_summary(opts.env, markdown)
        full_at = _save_full_summary(opts, data)
        actions_env.set_outputs(opts.env, actions_env.summary_outputs(data, full_at=full_at))
    if summary.exit_code:
        sys.exit(summary.exit_code)


def _save_full_summary(opts: Options, data: dict[str, Any]) -> str:
    """The whole summary beside the telemetry (the workflows upload it with it) when the `summary`
    output would have to be cut; returns where it is, or "" when the output holds it all."""
    from issueops.actions_env import SUMMARY_OUTPUT_LIMIT

    text = json.dumps(data, indent=1, sort_keys=True, default=str)
    if len(text.encode()) <= SUMMARY_OUTPUT_LIMIT:
        return ""
    run = opts.env.get("GITHUB_RUN_ID", "local") + "-" + opts.env.get("GITHUB_RUN_ATTEMPT", "1")
    path = opts.telemetry_dir / "summaries" / f"{data['command'].replace(' ', '-')}-{run}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return f"{path} in this run's telemetry artifact"


class ProgressDisplay:
    """click's progress bar on stderr, one bar per stage: items done/total, ETA, requests, waits.

    Shown only on a terminal outside Actions (a log file or a runner's log gets nothing)."""

    def __init__(self) -> None:
        self.stage: str | None = None
        self.bar: Any = None
        self.shown = 0

    @staticmethod
    def wanted(env: dict[str, str]) -> bool:
        from issueops.actions_env import in_actions

        return sys.stderr.isatty() and not in_actions(env) and env.get("TERM") != "dumb"

    def __call__(self, tick: ProgressTick) -> None:
        if tick.stage != self.stage:
            self.close()
            self.stage, self.shown = tick.stage, 0
            self.bar = click.progressbar(
                length=max(tick.total, 1),
                label=f"{tick.stage:>8}",
                file=sys.stderr,
                show_eta=True,
                show_pos=True,
                item_show_func=lambda text: text,
            )
        extra = f"{tick.requests} requests"
        if tick.waits:
            extra += f", {tick.waits} waits ({tick.waited_seconds:.0f} s)"
        self.bar.update(max(tick.done - self.shown, 0), extra)
        self.shown = max(tick.done, self.shown)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.render_finish()
            self.bar = None


@contextmanager
def progress_display(opts: Options) -> Iterator[ProgressDisplay | None]:
    display = ProgressDisplay() if ProgressDisplay.wanted(opts.env) else None
    try:
        yield display
    finally:
        if display is not None:
            display.close()


def _stage_command(name: str, stages: tuple[str, ...], doc: str) -> None:
    @main.command(name, help=doc)
    @item_option
    @click.pass_context
    @handle_errors
    def command(ctx: click.Context, item: int | None) -> None:
        from dataclasses import replace

        from issueops.app import run_stages

        opts = replace(_options(ctx), item=item)
        with ctrl_c_stops_between_items() as stop, progress_display(opts) as progress:
            summary = run_stages(opts, stages, command=name, stop=stop, progress=progress)
        _finish(opts, summary)


_stage_command("monitor", ("monitor",), "Run the intake sources; open or update work items (deduplicated).")
_stage_command("assign", ("assign",), "state::triage -> state::assigned: workflow, risk and owner chosen.")
_stage_command(
    "process", ("process",), "Run assigned/approved items' workflow steps (deliverables, PR, publish)."
)
_stage_command(
    "sweep",
    ("sweep",),
    "Repair label drift; send SLA reminders and escalations; repair or report orphaned PRs and branches.",
)
_stage_command(
    "run",
    ("commands", "monitor", "assign", "process", "sweep"),
    "commands, monitor, assign, process and sweep, in that order, in one run.",
)


@main.command("commands")
@click.option(
    "--event",
    "event_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="One issue_comment/issues event payload (as in $GITHUB_EVENT_PATH).",
)
@item_option
@click.pass_context
@handle_errors
def commands_cmd(ctx: click.Context, event_path: Path | None, item: int | None) -> None:
    """Apply comment commands and approval labels (one event, or every recent comment)."""
    from dataclasses import replace

    from issueops.actions_env import read_event
    from issueops.app import run_stages

    opts = replace(_options(ctx), item=item)
    event_item = None
    event = None
    if event_path is not None:
        event = read_event(event_path, opts.env.get("GITHUB_EVENT_NAME", ""))
        event_item = event.issue_number
        if event_item is None:
            click.echo(f"{event_path}: not an issue event; nothing to do.", err=True)
            return
    with ctrl_c_stops_between_items() as stop, progress_display(opts) as progress:
        summary = run_stages(
            opts,
            ("commands",),
            command="commands",
            event_item=event_item,
            stop=stop,
            progress=progress,
            event=event,
        )
    _finish(opts, summary)


@main.group()
def labels() -> None:
    """The label set issueops manages."""


@labels.command("sync")
@click.pass_context
@handle_errors
def labels_sync(ctx: click.Context) -> None:
    """Create or update the labels (names, colours, descriptions); a second run changes nothing."""
    from issueops.app import sync_labels

    opts = _options(ctx)
    changed = sync_labels(opts)
    verb = "would change" if opts.dry_run else "changed"
    _emit(
        opts,
        {"changed": changed, "dry_run": opts.dry_run},
        f"{verb} {len(changed)} label(s)" + (": " + ", ".join(changed) if changed else ""),
    )


@main.command()
@click.option(
    "--scenario",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Sandbox scenario [default: the built-in demo].",
)
@click.pass_context
@handle_errors
def demo(ctx: click.Context, scenario: Path | None) -> None:
    """The whole pipeline on a sandbox scenario, narrated."""
    from issueops.demo import run_demo

    opts = _options(ctx)
    sys.exit(run_demo(opts, scenario=scenario, say=click.echo))


# --- what-if ----------------------------------------------------------------------------------


@main.command("snapshot")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the scenario (YAML; as sensitive as the issues).",
)
@click.pass_context
@handle_errors
def snapshot_cmd(ctx: click.Context, out: Path) -> None:
    """Write the repository's current state as a sandbox scenario, for `issueops whatif`."""
    from issueops.capture import write_snapshot

    opts = _options(ctx)
    captured = write_snapshot(opts, out)
    summary = {
        "out": str(out),
        "items": captured.items,
        "managed": captured.managed,
        "pulls": captured.pulls,
        "people": captured.people,
        "unreadable_permissions": list(captured.unreadable_permissions),
    }
    human = (
        f"wrote {out}: {captured.items} item(s) ({captured.managed} managed), {captured.pulls} open "
        f"pipeline PR(s), {captured.people} people"
    )
    if captured.unreadable_permissions:
        human += f"; permission not readable for {len(captured.unreadable_permissions)} (taken as none)"
    _emit(opts, summary, human)


@main.command("whatif")
@click.option(
    "--scenario",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="A scenario written by `issueops snapshot`.",
)
@click.option(
    "--proposed-config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The proposed .github/issueops.yml [default: the current one].",
)
@click.option(
    "--proposed-schemas",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The proposed workflow_schemas/ [default: the current one].",
)
@click.option(
    "--hours",
    type=click.IntRange(min=1, max=24 * 14),
    default=24,
    show_default=True,
    help="Simulated hours; the pipeline runs once an hour.",
)
@click.pass_context
@handle_errors
def whatif_cmd(
    ctx: click.Context,
    scenario: Path,
    proposed_config: Path | None,
    proposed_schemas: Path | None,
    hours: int,
) -> None:
    """Compare the current config (--config/--schemas) with a proposed one on a captured backlog.

    Sends no request to GitHub: both sides run in-process on sandboxes built from the scenario."""
    from issueops import actions_env
    from issueops.sandbox.scenario import load_scenario
    from issueops.whatif import render_markdown, run_whatif

    opts = _options(ctx)
    result = run_whatif(
        opts,
        load_scenario(scenario),
        proposed_config=proposed_config or opts.config_path,
        proposed_schemas=proposed_schemas,
        hours=hours,
    )
    markdown = render_markdown(result)
    _emit(opts, result.as_json(), markdown)
    if actions_env.in_actions(opts.env):
        actions_env.append_step_summary(opts.env, markdown)


# --- the sandbox -------------------------------------------------------------------------------


@main.group()
def sandbox() -> None:
    """The sandbox GitHub: a stateful fake of the REST API on 127.0.0.1."""


@sandbox.command("serve")
@click.option("--scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="0 picks a free port."
)
@handle_errors
def sandbox_serve(scenario: Path, port: int) -> None:
    """Serve the sandbox until interrupted; prints the base URL."""
    from issueops.sandbox.server import serve_forever

    serve_forever(scenario, port, announce=lambda url: click.echo(url, err=False))


@main.command("assign-eval")
@click.argument("items", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--live",
    is_flag=True,
    help="Ask the real GitHub Models endpoint (assign.model settings, token from --token-env) "
    "instead of the set's scripted answers.",
)
@click.option(
    "--ask",
    type=click.Choice(["all", "unmatched"]),
    default="all",
    show_default=True,
    help="Which items the model is asked about; `all` measures agreement with the rules.",
)
@click.pass_context
@handle_errors
def assign_eval(ctx: click.Context, items: Path, live: bool, ask: str) -> None:
    """Needs-human rate and accuracy on a labelled set: rules alone vs rules + model."""
    from issueops.app import load_definitions
    from issueops.evaluate import run_eval

    opts = _options(ctx)
    config, workflows, _ = load_definitions(opts)
    result = run_eval(
        items, config, workflows, live=live, token=opts.token, token_env=opts.token_env, ask=ask
    )
    _emit(opts, {**result.summary(), "rows": [_eval_row(r) for r in result.rows]}, result.human())


def _eval_row(row: Any) -> dict[str, Any]:
    return {
        "item": row.item.number,
        "title": row.item.title,
        "expected": row.item.expected,
        "rules": row.rules,
        "rules_and_model": row.assisted,
        "model": row.note,
    }


# --- telemetry -----------------------------------------------------------------------------------


@main.group()
def telemetry() -> None:
    """The JSONL telemetry: verify the hash chain, fetch the published runs."""


@telemetry.command("verify")
@click.option(
    "--anchor",
    "anchors",
    multiple=True,
    metavar="FILE:LINES:SHA256",
    help="A run's telemetry anchor, as its summary printed it (repeatable): its file must still "
    "hold those lines.",
)
@click.pass_context
@handle_errors
def telemetry_verify(ctx: click.Context, anchors: tuple[str, ...]) -> None:
    """Find changed, removed or torn lines, and truncated, emptied or deleted files; exit 1 if any."""
    from issueops.telemetry.anchor import parse_anchor
    from issueops.telemetry.verify import verify_directory

    opts = _options(ctx)
    try:
        given = [parse_anchor(text) for text in anchors]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--anchor") from None
    result = verify_directory(opts.telemetry_dir, given)
    _emit(opts, result.summary(), result.human())
    if not result.ok:
        raise UserError(f"telemetry under {opts.telemetry_dir} failed verification (see above)")


@telemetry.command("fetch")
@click.option("--remote", default="origin", show_default=True, help="The git remote to fetch from.")
@click.option(
    "--branch", default="issueops-telemetry", show_default=True, help="The branch the workflows publish to."
)
@click.pass_context
@handle_errors
def telemetry_fetch(ctx: click.Context, remote: str, branch: str) -> None:
    """Copy the runs published on the telemetry branch into --telemetry (needs git; run it in a clone)."""
    from issueops.telemetry.fetch import fetch_telemetry

    opts = _options(ctx)
    result = fetch_telemetry(opts.telemetry_dir, remote=remote, branch=branch)
    _emit(opts, result.summary(), result.human())


@main.command()
@click.option(
    "--format", "fmt", type=click.Choice(["md", "json", "csv", "html"]), default="md", show_default=True
)
@click.option("--since", help="Only events at or after this date/time (RFC 3339 or YYYY-MM-DD).")
@click.option("--until", help="Only events before this date/time.")
@click.option("--workflow", help="Only items of this workflow.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file.")
@click.pass_context
@handle_errors
def report(
    ctx: click.Context,
    fmt: str,
    since: str | None,
    until: str | None,
    workflow: str | None,
    output: Path | None,
) -> None:
    """KPIs from the telemetry."""
    from issueops.telemetry.report import build_report, render

    opts = _options(ctx)
    kpis = build_report(opts.telemetry_dir, since=since, until=until, workflow=workflow)
    if kpis.tampered:
        click.echo(
            f"warning: the telemetry this report reads is tampered ({len(kpis.tampered)} problem(s)); "
            "the report lists them, `issueops telemetry verify` explains them",
            err=True,
        )
    text = render(kpis, fmt)
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text)


if __name__ == "__main__":  # pragma: no cover
    main()
