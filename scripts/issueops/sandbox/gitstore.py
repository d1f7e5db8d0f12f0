"""Git objects (blobs, trees, commits) and refs, hashed the way git hashes them."""

from __future__ import annotations

import hashlib
from datetime import datetime

from issueops.sandbox.models import GitCommit, TreeEntry

FILE_MODE = "100644"
TREE_MODE = "040000"
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def _hash(kind: str, payload: bytes) -> str:
    header = f"{kind} {len(payload)}\0".encode()
    return hashlib.sha1(header + payload, usedforsecurity=False).hexdigest()


class GitStore:
    """Content-addressed objects plus a ref table (`refs/heads/main` -> commit sha)."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.trees: dict[str, list[TreeEntry]] = {EMPTY_TREE: []}
        self.commits: dict[str, GitCommit] = {}
        self.refs: dict[str, str] = {}

    # --- objects ------------------------------------------------------------------------
    def put_blob(self, content: bytes) -> str:
        sha = _hash("blob", content)
        self.blobs[sha] = content
        return sha

    def put_tree(self, entries: list[TreeEntry]) -> str:
        ordered = sorted(entries, key=lambda e: e.name + ("/" if e.type == "tree" else ""))
        payload = b"".join(
            f"{e.mode.lstrip('0') if e.type == 'tree' else e.mode} {e.name}\0".encode() + bytes.fromhex(e.sha)
            for e in ordered
        )
        sha = _hash("tree", payload)
        self.trees[sha] = ordered
        return sha

    def put_commit(
        self, tree: str, parents: list[str], message: str, author: tuple[str, str], when: datetime
    ) -> str:
        stamp = f"{int(when.timestamp())} +0000"
        lines = [f"tree {tree}", *(f"parent {p}" for p in parents)]
        lines += [
            f"author {author[0]} <{author[1]}> {stamp}",
            f"committer GitHub <noreply@github.com> {stamp}",
        ]
        sha = _hash("commit", ("\n".join(lines) + "\n\n" + message).encode())
        self.commits[sha] = GitCommit(sha, tree, list(parents), message, author[0], author[1], when)
        return sha

    # --- flat views ---------------------------------------------------------------------
    def flatten(self, tree_sha: str, prefix: str = "") -> dict[str, tuple[str, str]]:
        """Every file under a tree: path -> (mode, blob sha)."""
        out: dict[str, tuple[str, str]] = {}
        for entry in self.trees.get(tree_sha, []):
            path = prefix + entry.name
            if entry.type == "tree":
                out.update(self.flatten(entry.sha, path + "/"))
            else:
                out[path] = (entry.mode, entry.sha)
        return out

    def build_tree(self, files: dict[str, tuple[str, str]]) -> str:
        """Write nested trees for a flat path map and return the root tree's sha."""
        children: dict[str, dict[str, tuple[str, str]]] = {}
        entries: list[TreeEntry] = []
        for path, (mode, sha) in files.items():
            head, sep, rest = path.partition("/")
            if sep:
                children.setdefault(head, {})[rest] = (mode, sha)
            else:
                entries.append(TreeEntry(head, mode, "blob", sha))
        for name, sub in children.items():
            entries.append(TreeEntry(name, TREE_MODE, "tree", self.build_tree(sub)))
        return self.put_tree(entries)

    def walk(self, tree_sha: str, prefix: str = "") -> list[tuple[str, TreeEntry]]:
        """Every entry (trees included) under a tree, with its full path, for `recursive=1`."""
        out: list[tuple[str, TreeEntry]] = []
        for entry in self.trees.get(tree_sha, []):
            path = prefix + entry.name
            out.append((path, entry))
            if entry.type == "tree":
                out.extend(self.walk(entry.sha, path + "/"))
        return out

    def lookup(self, tree_sha: str, path: str) -> TreeEntry | None:
        """The entry at `path` under a tree (None when absent)."""
        current: TreeEntry | None = TreeEntry("", TREE_MODE, "tree", tree_sha)
        for part in [p for p in path.split("/") if p]:
            if current is None or current.type != "tree":
                return None
            current = next((e for e in self.trees.get(current.sha, []) if e.name == part), None)
        return current

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        seen: set[str] = set()
        stack = [descendant]
        while stack:
            sha = stack.pop()
            if sha == ancestor:
                return True
            if sha in seen or sha not in self.commits:
                continue
            seen.add(sha)
            stack.extend(self.commits[sha].parents)
        return False

    def merge_base(self, a: str, b: str) -> str | None:
        ancestors: set[str] = set()
        stack = [a]
        while stack:
            sha = stack.pop()
            if sha in ancestors or sha not in self.commits:
                continue
            ancestors.add(sha)
            stack.extend(self.commits[sha].parents)
        queue = [b]
        seen: set[str] = set()
        while queue:
            sha = queue.pop(0)
            if sha in ancestors:
                return sha
            if sha in seen or sha not in self.commits:
                continue
            seen.add(sha)
            queue.extend(self.commits[sha].parents)
        return None

    def three_way(self, base: str | None, ours: str, theirs: str) -> dict[str, tuple[str, str]] | None:
        """Merge the file maps of two commits; None on a conflict (both sides changed a path differently)."""
        base_files = self.flatten(self.commits[base].tree) if base else {}
        our_files = self.flatten(self.commits[ours].tree)
        their_files = self.flatten(self.commits[theirs].tree)
        merged: dict[str, tuple[str, str]] = {}
        for path in sorted(set(base_files) | set(our_files) | set(their_files)):
            b, o, t = base_files.get(path), our_files.get(path), their_files.get(path)
            if o == t:
                chosen = o
            elif o == b:
                chosen = t
            elif t == b:
                chosen = o
            else:
                return None
            if chosen is not None:
                merged[path] = chosen
        return merged
