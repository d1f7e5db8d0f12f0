"""The sandbox's stand-in for raw.githubusercontent.com: what a contents `download_url` points at.

`GET {base}/raw/{owner}/{repo}/{ref}/{path}` answers the file's bytes as `text/plain`, outside the
API (no rate limit, no JSON). A ref may contain slashes: the longest branch name that prefixes
the rest wins, as on GitHub; a commit sha works too. Anything missing is GitHub's plain-text 404.
"""

from __future__ import annotations

from urllib.parse import unquote

from issueops.sandbox.models import PERMISSION_LEVELS
from issueops.sandbox.store import SandboxState

PREFIX = "/raw/"
TEXT = "text/plain; charset=utf-8"
NOT_FOUND = (404, TEXT, b"404: Not Found")


def serve_raw(state: SandboxState, path: str, login: str | None) -> tuple[int, str, bytes]:
    """(status, content type, bytes) for a download URL path starting with `/raw/`."""
    owner, _, rest = unquote(path[len(PREFIX) :]).partition("/")
    name, _, rest = rest.partition("/")
    repo = state.repo
    if owner.lower() != repo.owner.lower() or name.lower() != repo.name.lower():
        return NOT_FOUND
    if state.level(login) < PERMISSION_LEVELS["read"]:
        return NOT_FOUND
    git = state.git
    parts = rest.split("/")
    for cut in range(len(parts) - 1, 0, -1):
        ref, file_path = "/".join(parts[:cut]), "/".join(parts[cut:])
        sha = state.branch_sha(ref) or (ref if ref in git.commits else None)
        if sha is None:
            continue
        entry = git.lookup(git.commits[sha].tree, file_path)
        if entry is None or entry.type != "blob":
            return NOT_FOUND
        return 200, TEXT, git.blobs[entry.sha]
    return NOT_FOUND
