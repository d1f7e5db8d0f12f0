"""The command line. Only this module imports click: it parses options, calls the library and maps
errors to exit codes (0 done, 1 user error or failed items, 2 usage, 3 internal)."""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from issueops import __version__
from issueops.core.errors import ConfigError, IssueOpsError, UserError
from issueops.core.options import DEFAULT_API_URL, Options

P = ParamSpec("P")
R = TypeVar("R")


def _fail(message: str, code: int) -> None:
    click.echo(message, err=True)
    sys.exit(code)


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """User errors: a message and exit 1, no traceback. Anything unexpected: traceback, exit 3."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            click.echo(f"{len(exc.problems)} error(s); nothing was written.", err=True)
            sys.exit(exc.exit_code)
        except IssueOpsError as exc:
            hint = getattr(exc, "hint", "")
            _fail(f"error: {exc}" + (f"\n  fix: {hint}" if hint else ""), exc.exit_code)
        except click.exceptions.Exit:
            raise
        except (click.ClickException, click.Abort):
            raise
        except Exception:
            traceback.print_exc()
            _fail("internal error: this is a bug in issueops; the traceback above says where.", 3)
        raise AssertionError("unreachable")

    return wrapper


def _options(ctx: click.Context) -> Options:
    opts = ctx.find_object(Options)
    assert opts is not None
    return opts


def _emit(opts: Options, summary: dict[str, Any], human: str) -> None:
    if opts.json_output:
        click.echo(json.dumps(summary, indent=2, sort_keys=True, default=str))
    else:
        click.echo(human)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="issueops")
@click.option("--repo", envvar="GITHUB_REPOSITORY", help="OWNER/NAME [default: $GITHUB_REPOSITORY]")
@click.option(
    "--api-url",
    envvar="GITHUB_API_URL",
    default=DEFAULT_API_URL,
    show_default=True,
    help="REST base URL (GitHub Enterprise, the sandbox) [env: GITHUB_API_URL]",
)
@click.option(
    "--token-env",
    default="GITHUB_TOKEN",
    show_default=True,
    help="Name of the environment variable holding the token (never printed).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=Path(".github/issueops.yml"),
    show_default=True,
    help="Pipeline configuration.",
)
@click.option(
    "--schemas",
    "schemas_dir",
    type=click.Path(path_type=Path),
    default=Path("workflow_schemas"),
    show_default=True,
    help="Workflow definitions.",
)
@click.option(
    "--telemetry",
    "telemetry_dir",
    type=click.Path(path_type=Path),
    default=Path("telemetry"),
    show_default=True,
    help="Where JSONL events go.",
)
@click.option("--dry-run", is_flag=True, help="Plan and print; send no write request at all.")
@click.option("--json", "json_output", is_flag=True, help="One JSON document on stdout (the run summary).")
@click.option("--limit", type=click.IntRange(min=0), help="At most N work items changed this run.")
@click.option("--max-requests", type=click.IntRange(min=1), help="API request budget for this run.")
@click.option(
    "--max-seconds",
    type=click.IntRange(min=1),
    help="Wall-clock budget for this run: no item starts after it (config api.max_run_seconds).",
)
@click.option(
    "--bot-login",
    envvar="ISSUEOPS_BOT_LOGIN",
    help="The token's own login (github-actions[bot], <app-slug>[bot]): an installation token "
    "cannot read it from the API [env: ISSUEOPS_BOT_LOGIN; else config bot_login; else GET /user]",
)
@click.pass_context
def main(ctx: click.Context, /, **kwargs: Any) -> None:
    """IssueOps automation: monitor intake, assign, process and approve work items on GitHub."""
    ctx.obj = Options(**kwargs, env=dict(os.environ))


# --- configuration -----------------------------------------------------------------------------


@main.command()
@click.pass_context
@handle_errors
def validate(ctx: click.Context) -> None:
    """Check config, workflow schemas and templates; errors name file:line and the fix."""
    from issueops.config.validate import validate_all

    opts = _options(ctx)
    report = validate_all(opts.config_path, opts.schemas_dir)
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


def _finish(opts: Options, summary: Any) -> None:
    """Print the summary, mirror it into the Actions step summary and outputs, exit 0 or 1."""
    from issueops import actions_env
    from issueops.output import human_summary, markdown_summary

    data = summary.as_dict()
    _emit(opts, data, human_summary(summary))
    if actions_env.in_actions(opts.env):
        actions_env.append_step_summary(opts.env, markdown_summary(summary))
        actions_env.set_outputs(opts.env, actions_env.summary_outputs(data))
    if summary.exit_code:
        sys.exit(summary.exit_code)


def _stage_command(name: str, stages: tuple[str, ...], doc: str) -> None:
    @main.command(name, help=doc)
    @item_option
    @click.pass_context
    @handle_errors
    def command(ctx: click.Context, item: int | None) -> None:
        from dataclasses import replace

        from issueops.app import run_stages

        opts = replace(_options(ctx), item=item)
        _finish(opts, run_stages(opts, stages, command=name))


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
    if event_path is not None:
        event = read_event(event_path, opts.env.get("GITHUB_EVENT_NAME", ""))
        event_item = event.issue_number
        if event_item is None:
            click.echo(f"{event_path}: not an issue event; nothing to do.", err=True)
            return
    _finish(opts, run_stages(opts, ("commands",), command="commands", event_item=event_item))


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
@click.option("--hours", type=click.IntRange(min=1, max=24 * 14), default=24, show_default=True)
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
    """The JSONL telemetry: verify the hash chain."""


@telemetry.command("verify")
@click.pass_context
@handle_errors
def telemetry_verify(ctx: click.Context) -> None:
    """Find changed, removed or torn lines in the telemetry files; exit 1 if any."""
    from issueops.telemetry.verify import verify_directory

    opts = _options(ctx)
    result = verify_directory(opts.telemetry_dir)
    _emit(opts, result.summary(), result.human())
    if not result.ok:
        raise UserError(f"telemetry under {opts.telemetry_dir} failed verification (see above)")


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
    text = render(kpis, fmt)
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text)


if __name__ == "__main__":  # pragma: no cover
    main()
