"""`issueops telemetry fetch`: bring the runs published on the telemetry branch into the local
telemetry directory, so `report` and `telemetry verify` see every run, not only local ones.

The stage workflows append each run's file to the `issueops-telemetry` branch under
`telemetry/<day>/<run id>.jsonl` (see .github/workflows/issueops-telemetry.yml). Files are only
ever appended to, so a local file is replaced only by a longer file that starts with it; a local
file that differs otherwise is kept and reported (never overwritten). Uses the `git` command.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from issueops.core.errors import UserError

DEFAULT_BRANCH = "issueops-telemetry"
BRANCH_FOLDER = "telemetry/"


@dataclass
class FetchReport:
    """What the fetch did, file by file (paths relative to the telemetry directory)."""

    ref: str
    added: list[str] = field(default_factory=list)
    extended: list[str] = field(default_factory=list)
    unchanged: int = 0
    kept_local: list[str] = field(default_factory=list)

    def human(self) -> str:
        lines = [
            f"{self.ref}: {len(self.added)} new file(s), {len(self.extended)} longer, "
            f"{self.unchanged} already here"
        ]
        lines += [
            f"  kept the local {name}: it differs from the branch's (check it with telemetry verify)"
            for name in self.kept_local
        ]
        return "\n".join(lines)

    def summary(self) -> dict[str, object]:
        return {
            "ref": self.ref,
            "added": self.added,
            "extended": self.extended,
            "unchanged": self.unchanged,
            "kept_local": self.kept_local,
        }


def _git(repo: Path, *args: str, what: str) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False, timeout=300)
    except FileNotFoundError as exc:
        raise UserError("git is not installed; `telemetry fetch` needs it") from exc
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UserError(f"{what}: git says: {detail[-1] if detail else f'exit {done.returncode}'}")
    return done.stdout


def fetch_telemetry(
    directory: Path, *, repo: Path = Path("."), remote: str = "origin", branch: str = DEFAULT_BRANCH
) -> FetchReport:
    """Fetch `branch` from `remote` (in the git repository `repo`) and copy its telemetry in."""
    if remote.startswith("-") or branch.startswith("-"):
        raise UserError(f"--remote {remote!r} / --branch {branch!r}: a name cannot start with '-'")
    ref = f"refs/remotes/{remote}/{branch}"
    _git(
        repo,
        "fetch",
        "--quiet",
        "--no-tags",
        remote,
        f"+refs/heads/{branch}:{ref}",
        what=f"cannot fetch branch {branch!r} from {remote!r} (it appears after the first published "
        "run; pass --remote/--branch if yours differ)",
    )
    listing = _git(
        repo, "ls-tree", "-r", "-z", "--name-only", ref, "--", BRANCH_FOLDER, what="cannot list it"
    )
    report = FetchReport(ref=f"{remote}/{branch}")
    for raw in listing.split(b"\0"):
        name = raw.decode("utf-8", "replace")
        if not name.endswith(".jsonl") or ".." in name.split("/"):
            continue
        relative = name[len(BRANCH_FOLDER) :]
        content = _git(repo, "cat-file", "blob", f"{ref}:{name}", what=f"cannot read {name}")
        _place(directory / relative, relative, content, report)
    return report


def _place(dest: Path, relative: str, content: bytes, report: FetchReport) -> None:
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(content)
        report.added.append(relative)
        return
    local = dest.read_bytes()
    if local == content:
        report.unchanged += 1
    elif content.startswith(local):
        dest.write_bytes(content)  # the branch has more of the same append-only file
        report.extended.append(relative)
    else:
        report.kept_local.append(relative)
