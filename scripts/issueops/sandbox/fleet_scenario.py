"""Fleet scenarios: several repositories (each an ordinary scenario), GitHub Apps and their
installations, in one YAML file that `issueops sandbox serve` and the tests load.

    clock: {start: 2026-11-23T09:00:00Z}
    repos:
      - {repo: acme/ops, topics: [issueops], users: [...], issues: [...]}
      - {repo: acme/web}
    apps:
      - {slug: issueops-app, owner: acme, id: 123456, public_key_file: app.pub.pem}
    installations:
      - {app: issueops-app, account: acme, repositories: [ops, web]}   # no `repositories`: all

Every problem is reported as `file:line:col: message`, as for a single scenario.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from issueops.core.errors import ConfigError, Problem
from issueops.core.yamlpos import SourceMap, read_yaml
from issueops.sandbox.apps import LEVELS
from issueops.sandbox.clock import VirtualClock, parse_time
from issueops.sandbox.fleet import Fleet
from issueops.sandbox.ratelimit import Limits
from issueops.sandbox.sandbox import DEFAULT_BASE_URL
from issueops.sandbox.scenario import ScenarioChecker, build_sandbox, check_scenario

_TOP = {"clock", "rate_limit", "base_url", "repos", "apps", "installations"}
_APP = {"slug", "id", "owner", "public_key", "public_key_file", "permissions"}
_INSTALLATION = {"app", "account", "repositories", "permissions"}


def is_fleet(data: Any) -> bool:
    """A fleet scenario lists `repos:`; a single-repository one names `repo:`."""
    return isinstance(data, Mapping) and "repos" in data


def _rebased(source: SourceMap | None, prefix: tuple[Any, ...]) -> SourceMap | None:
    """The positions of one subtree, as if it were a document of its own."""
    if source is None:
        return None
    cut = len(prefix)
    return SourceMap(
        keys={k[cut:]: v for k, v in source.keys.items() if k[:cut] == prefix},
        values={k[cut:]: v for k, v in source.values.items() if k[:cut] == prefix},
    )


def check_fleet(data: Any, path: str = "<scenario>", source: SourceMap | None = None) -> list[Problem]:
    c = ScenarioChecker(path, data, source)
    if not c.keys(data, _TOP, "a fleet scenario", ("repos",)):
        return c.problems
    names: list[str] = []
    for index, repo in enumerate(c.items(data, "repos")):
        if not isinstance(repo, dict):
            c.fail(data, "repos", "each of `repos` is a scenario mapping with `repo: OWNER/NAME`")
            continue
        topics = repo.get("topics", [])
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            c.fail(repo, "topics", "topics must be a list of names")
        own = {k: v for k, v in repo.items() if k != "topics"}
        c.problems += check_scenario(own, path, _rebased(source, ("repos", index)))
        names.append(str(repo.get("repo", "")).lower())
    for key in ("clock", "rate_limit", "base_url"):
        for repo in data.get("repos") or []:
            if isinstance(repo, dict) and key in repo:
                c.fail(repo, key, f"`{key}` belongs at the top of a fleet scenario (one GitHub, one {key})")
    slugs: set[str] = set()
    for app in c.items(data, "apps"):
        if not c.keys(app, _APP, "an app", ("slug", "owner")):
            continue
        slugs.add(str(app["slug"]))
        if ("public_key" in app) == ("public_key_file" in app):
            c.fail(app, None, "an app needs exactly one of `public_key` (PEM) or `public_key_file`")
        _permissions(c, app)
    for installation in c.items(data, "installations"):
        if not c.keys(installation, _INSTALLATION, "an installation", ("app", "account")):
            continue
        if installation["app"] not in slugs:
            c.fail(installation, "app", f"no app {installation['app']!r} in `apps`")
        account = str(installation["account"]).lower()
        for repo in installation.get("repositories") or []:
            full = str(repo).lower() if "/" in str(repo) else f"{account}/{str(repo).lower()}"
            if full not in names:
                c.fail(installation, "repositories", f"{repo!r} is not one of the fleet's `repos`")
        _permissions(c, installation)
    return c.problems


def _permissions(c: ScenarioChecker, node: dict[str, Any]) -> None:
    granted = node.get("permissions")
    if granted is None:
        return
    if not isinstance(granted, dict) or not all(v in LEVELS for v in granted.values()):
        c.fail(node, "permissions", "permissions map a name to read, write or admin, e.g. {issues: write}")


def fleet_from_scenario(path: Path | str) -> Fleet:
    """`issueops sandbox serve` of a fleet scenario file (key files next to it)."""
    return build_fleet(load_fleet(path), Path(path).parent)


def load_fleet(path: Path | str) -> Mapping[str, Any]:
    """Read and check a fleet scenario file; ConfigError naming `file:line` for every problem."""
    path = Path(path)
    doc = read_yaml(path, timestamps=False)
    if doc.problems:
        raise ConfigError(doc.problems)
    problems = check_fleet(doc.data, str(path), doc.source)
    if problems:
        raise ConfigError(problems)
    return doc.data  # type: ignore[no-any-return]


def _read_key(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [Problem(str(path), 1, 1, f"cannot read the app's public key ({exc.strerror}): give a PEM file")]
        ) from None


def build_fleet(data: Mapping[str, Any], base_dir: Path = Path()) -> Fleet:
    """A Fleet in the state the scenario describes; key files are read relative to `base_dir`."""
    problems = check_fleet(data)
    if problems:
        raise ConfigError(problems)
    clock_spec = data.get("clock")
    clock = VirtualClock()
    if isinstance(clock_spec, dict) and clock_spec.get("start") is not None:
        clock = VirtualClock(parse_time(str(clock_spec["start"])), float(clock_spec.get("tick_seconds", 0)))
    elif clock_spec is not None and not isinstance(clock_spec, dict):
        clock = VirtualClock(parse_time(str(clock_spec)))
    fleet = Fleet(
        clock=clock,
        limits=Limits(**dict(data.get("rate_limit") or {})),
        base_url=str(data.get("base_url", DEFAULT_BASE_URL)),
    )
    for repo in data["repos"]:
        own = {k: v for k, v in repo.items() if k != "topics"}
        own["clock"] = {"start": clock.now().isoformat()}
        fleet.adopt(build_sandbox(own), topics=[str(t) for t in repo.get("topics") or []])
    apps = {}
    for spec in data.get("apps") or []:
        key = spec.get("public_key") or _read_key(base_dir / str(spec["public_key_file"]))
        apps[spec["slug"]] = fleet.add_app(
            str(spec["slug"]),
            str(key),
            owner=str(spec["owner"]),
            app_id=spec.get("id"),
            permissions=spec.get("permissions"),
        )
    for spec in data.get("installations") or []:
        repositories = spec.get("repositories")
        fleet.install(
            apps[spec["app"]],
            str(spec["account"]),
            [str(r) for r in repositories] if repositories is not None else None,
            permissions=spec.get("permissions"),
        )
    return fleet
