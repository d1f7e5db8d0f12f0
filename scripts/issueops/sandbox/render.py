"""GitHub's JSON shapes for the sandbox's records, with every URL built from the sandbox's base URL."""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from issueops.sandbox.clock import iso
from issueops.sandbox.gitstore import GitStore
from issueops.sandbox.models import (
    REACTION_CONTENTS,
    Comment,
    Event,
    GitCommit,
    Issue,
    Label,
    Reaction,
    User,
)
from issueops.sandbox.store import SandboxState

JSON = dict[str, Any]


@lru_cache(maxsize=1 << 16)
def node_id(prefix: str, ident: int | str) -> str:
    """An opaque GraphQL-style node id (stable for a given object)."""
    return prefix + "_" + base64.b64encode(f"{prefix}{ident}".encode()).decode().rstrip("=")


class Renderer:
    """Renders state records for one base URL (REST and web links share it, as in the sandbox)."""

    def __init__(self, state: SandboxState, base_url: str) -> None:
        self.state = state
        self.base = base_url.rstrip("/")
        repo = state.repo
        self.repo_url = f"{self.base}/repos/{repo.owner}/{repo.name}"
        self.repo_html = f"{self.base}/{repo.owner}/{repo.name}"
        self._users: dict[tuple[str, str], JSON] = {}
        self._labels: dict[tuple[object, ...], JSON] = {}
        self._repo_prefix = f"/repos/{repo.owner}/{repo.name}".lower()
        self._associations: dict[str, str] = {}  # for the request being served

    def link_path(self, path: str) -> str:
        """A repository path as GitHub writes it in `Link` headers: `/repositories/{id}/...`."""
        if path.lower() == self._repo_prefix or path.lower().startswith(self._repo_prefix + "/"):
            return f"/repositories/{self.state.repo.id}{path[len(self._repo_prefix) :]}"
        return path

    def begin_request(self) -> None:
        """Forget what was derived for the previous request (authors' associations)."""
        self._associations.clear()

    def association(self, login: str) -> str:
        """`author_association`, once a request per author: a page renders the same few people
        a hundred times, and each answer walks the teams."""
        found = self._associations.get(login)
        if found is None:
            found = self._associations[login] = self.state.author_association(login)
        return found

    # --- people -------------------------------------------------------------------------
    def user(self, login: str | None) -> JSON | None:
        if login is None:
            return None
        user = self.state.user(login)
        key = (user.login, user.type)
        cached = self._users.get(key)
        if cached is None:
            cached = self._user(user)
            self._users[key] = cached
        return dict(cached)

    def _user(self, user: User) -> JSON:
        u = f"{self.base}/users/{quote(user.login)}"
        return {
            "login": user.login,
            "id": user.id,
            "node_id": node_id("U" if user.type != "Bot" else "BOT", user.id),
            "avatar_url": f"{self.base}/avatars/u/{user.id}?v=4",
            "gravatar_id": "",
            "url": u,
            "html_url": f"{self.base}/{quote(user.login)}",
            "followers_url": f"{u}/followers",
            "following_url": f"{u}/following{{/other_user}}",
            "gists_url": f"{u}/gists{{/gist_id}}",
            "starred_url": f"{u}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{u}/subscriptions",
            "organizations_url": f"{u}/orgs",
            "repos_url": f"{u}/repos",
            "events_url": f"{u}/events{{/privacy}}",
            "received_events_url": f"{u}/received_events",
            "type": user.type,
            "user_view_type": "public",
            "site_admin": False,
        }

    def private_user(self, login: str) -> JSON:
        """GET /user: the authenticated user's own profile."""
        user = self.state.user(login)
        out = self.user(login) or {}
        created = iso(user.created_at or self.state.repo.created_at)
        out.update(
            name=user.name,
            company=None,
            blog="",
            location=None,
            email=user.email,
            hireable=None,
            bio=None,
            twitter_username=None,
            notification_email=user.email,
            public_repos=0,
            public_gists=0,
            followers=0,
            following=0,
            created_at=created,
            updated_at=created,
            private_gists=0,
            total_private_repos=0,
            owned_private_repos=0,
            disk_usage=0,
            collaborators=0,
            two_factor_authentication=True,
        )
        return out

    # --- repository ---------------------------------------------------------------------
    def repository(self, viewer: str | None = None) -> JSON:
        repo = self.state.repo
        r = self.repo_url
        open_count = self.state.open_issues
        created = iso(repo.created_at)
        out: JSON = {
            "id": repo.id,
            "node_id": node_id("R", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "owner": self.user(repo.owner),
            "html_url": self.repo_html,
            "description": repo.description,
            "fork": False,
            "url": r,
            "archive_url": f"{r}/{{archive_format}}{{/ref}}",
            "assignees_url": f"{r}/assignees{{/user}}",
            "blobs_url": f"{r}/git/blobs{{/sha}}",
            "branches_url": f"{r}/branches{{/branch}}",
            "collaborators_url": f"{r}/collaborators{{/collaborator}}",
            "comments_url": f"{r}/comments{{/number}}",
            "commits_url": f"{r}/commits{{/sha}}",
            "compare_url": f"{r}/compare/{{base}}...{{head}}",
            "contents_url": f"{r}/contents/{{+path}}",
            "contributors_url": f"{r}/contributors",
            "deployments_url": f"{r}/deployments",
            "downloads_url": f"{r}/downloads",
            "events_url": f"{r}/events",
            "forks_url": f"{r}/forks",
            "git_commits_url": f"{r}/git/commits{{/sha}}",
            "git_refs_url": f"{r}/git/refs{{/sha}}",
            "git_tags_url": f"{r}/git/tags{{/sha}}",
            "git_url": f"git://{self.base.split('://', 1)[-1]}/{repo.full_name}.git",
            "issue_comment_url": f"{r}/issues/comments{{/number}}",
            "issue_events_url": f"{r}/issues/events{{/number}}",
            "issues_url": f"{r}/issues{{/number}}",
            "keys_url": f"{r}/keys{{/key_id}}",
            "labels_url": f"{r}/labels{{/name}}",
            "languages_url": f"{r}/languages",
            "merges_url": f"{r}/merges",
            "milestones_url": f"{r}/milestones{{/number}}",
            "notifications_url": f"{r}/notifications{{?since,all,participating}}",
            "pulls_url": f"{r}/pulls{{/number}}",
            "releases_url": f"{r}/releases{{/id}}",
            "ssh_url": f"git@{self.base.split('://', 1)[-1].split('/')[0]}:{repo.full_name}.git",
            "stargazers_url": f"{r}/stargazers",
            "statuses_url": f"{r}/statuses/{{sha}}",
            "subscribers_url": f"{r}/subscribers",
            "subscription_url": f"{r}/subscription",
            "tags_url": f"{r}/tags",
            "teams_url": f"{r}/teams",
            "trees_url": f"{r}/git/trees{{/sha}}",
            "clone_url": f"{self.repo_html}.git",
            "mirror_url": None,
            "hooks_url": f"{r}/hooks",
            "svn_url": self.repo_html,
            "homepage": None,
            "language": "Python",
            "forks_count": 0,
            "forks": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "watchers": 0,
            "size": len(self.state.git.blobs),
            "default_branch": repo.default_branch,
            "open_issues_count": open_count,
            "open_issues": open_count,
            "is_template": False,
            "topics": [],
            "has_issues": True,
            "has_projects": True,
            "has_wiki": False,
            "has_pages": False,
            "has_downloads": True,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "visibility": "private" if repo.private else "public",
            "pushed_at": created,
            "created_at": created,
            "updated_at": created,
            "allow_rebase_merge": True,
            "allow_squash_merge": True,
            "allow_merge_commit": True,
            "allow_auto_merge": False,
            "delete_branch_on_merge": False,
            "allow_update_branch": False,
            "use_squash_pr_title_as_default": False,
            "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
            "squash_merge_commit_message": "COMMIT_MESSAGES",
            "merge_commit_title": "MERGE_MESSAGE",
            "merge_commit_message": "PR_TITLE",
            "allow_forking": True,
            "web_commit_signoff_required": False,
            "license": None,
            "custom_properties": {},
            "network_count": 0,
            "subscribers_count": 0,
        }
        owner = self.state.find_user(repo.owner)
        if owner is not None and owner.type == "Organization":
            out["organization"] = self.user(repo.owner)
        if viewer is not None:
            level = self.state.level(viewer)
            if level >= 3:  # GitHub shows a (here empty) clone token to those who can push
                out["temp_clone_token"] = ""
            out["permissions"] = {
                "admin": level >= 5,
                "maintain": level >= 4,
                "push": level >= 3,
                "triage": level >= 2,
                "pull": level >= 1,
            }
        return out

    # --- labels, issues, comments, reactions ---------------------------------------------
    def label(self, label: Label) -> JSON:
        key = (label.id, label.name, label.color, label.description, label.default)
        cached = self._labels.get(key)  # a repository has a few labels, on every issue of a page
        if cached is None:
            cached = self._labels[key] = {
                "id": label.id,
                "node_id": node_id("LA", label.id),
                "url": f"{self.repo_url}/labels/{quote(label.name, safe='')}",
                "name": label.name,
                "color": label.color,
                "default": label.default,
                "description": label.description,
            }
        return dict(cached)

    def issue_labels(self, issue: Issue) -> list[JSON]:
        out = []
        for name in issue.labels:
            label = self.state.find_label(name)
            if label is not None:
                out.append(self.label(label))
        return out

    def rollup(self, url: str, reactions: list[Reaction]) -> JSON:
        counts = dict.fromkeys(REACTION_CONTENTS, 0)
        for reaction in reactions:
            counts[reaction.content] += 1
        return {"url": url, "total_count": len(reactions), **counts}

    def issue(self, issue: Issue) -> JSON:
        n = issue.number
        url = f"{self.repo_url}/issues/{n}"
        kind = "pull" if issue.pull else "issues"
        out: JSON = {
            "url": url,
            "repository_url": self.repo_url,
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": f"{self.repo_html}/{kind}/{n}",
            "id": issue.id,
            "node_id": node_id("PR" if issue.pull else "I", issue.id),
            "number": n,
            "title": issue.title,
            "user": self.user(issue.user),
            "labels": self.issue_labels(issue),
            "state": issue.state,
            "locked": issue.locked,
            "assignee": self.user(issue.assignees[0]) if issue.assignees else None,
            "assignees": [self.user(a) for a in issue.assignees],
            "milestone": None,
            "comments": len(issue.comment_ids),
            "created_at": iso(issue.created_at),
            "updated_at": iso(issue.updated_at),
            "closed_at": iso(issue.closed_at) if issue.closed_at else None,
            "author_association": self.association(issue.user),
            "active_lock_reason": None,
            "body": issue.body,
            "reactions": self.rollup(f"{url}/reactions", issue.reactions),
            "timeline_url": f"{url}/timeline",
            "performed_via_github_app": None,
            "state_reason": issue.state_reason,
            "closed_by": self.user(issue.closed_by) if issue.closed_by else None,
            "type": None,
            "sub_issues_summary": {"total": 0, "completed": 0, "percent_completed": 0},
            "issue_dependencies_summary": {
                "blocked_by": 0,
                "blocking": 0,
                "total_blocked_by": 0,
                "total_blocking": 0,
            },
            "pinned_comment": None,
        }
        if issue.pull is not None:
            pull = issue.pull
            pr_url = f"{self.repo_url}/pulls/{n}"
            out["draft"] = pull.draft
            out["pull_request"] = {
                "url": pr_url,
                "html_url": f"{self.repo_html}/pull/{n}",
                "diff_url": f"{self.repo_html}/pull/{n}.diff",
                "patch_url": f"{self.repo_html}/pull/{n}.patch",
                "merged_at": iso(pull.merged_at) if pull.merged_at else None,
            }
        return out

    def comment(self, comment: Comment) -> JSON:
        url = f"{self.repo_url}/issues/comments/{comment.id}"
        issue = self.state.issues[comment.issue_number]
        kind = "pull" if issue.pull else "issues"
        return {
            "url": url,
            "html_url": f"{self.repo_html}/{kind}/{comment.issue_number}#issuecomment-{comment.id}",
            "issue_url": f"{self.repo_url}/issues/{comment.issue_number}",
            "id": comment.id,
            "node_id": node_id("IC", comment.id),
            "user": self.user(comment.user),
            "created_at": iso(comment.created_at),
            "updated_at": iso(comment.updated_at),
            "author_association": self.association(comment.user),
            "body": comment.body,
            "reactions": self.rollup(f"{url}/reactions", comment.reactions),
            "performed_via_github_app": None,
        }

    def reaction(self, reaction: Reaction) -> JSON:
        return {
            "id": reaction.id,
            "node_id": node_id("REA", reaction.id),
            "user": self.user(reaction.user),
            "content": reaction.content,
            "created_at": iso(reaction.created_at),
        }

    def event(self, event: Event) -> JSON:
        if event.event == "cross-referenced" and event.source is not None:
            # GitHub's timeline entry: no id or url; the source is the referencing issue or PR.
            source = self.state.issues[event.source]
            return {
                "event": "cross-referenced",
                "actor": self.user(event.actor),
                "created_at": iso(event.created_at),
                "updated_at": iso(event.created_at),
                "source": {"type": "issue", "issue": self.issue(source)},
            }
        out: JSON = {
            "id": event.id,
            "node_id": node_id(event.event[:2].upper() + "E", event.id),
            "url": f"{self.repo_url}/issues/events/{event.id}",
            "actor": self.user(event.actor),
            "event": event.event,
            "commit_id": event.commit_id,
            "commit_url": f"{self.repo_url}/commits/{event.commit_id}" if event.commit_id else None,
            "created_at": iso(event.created_at),
            "performed_via_github_app": None,
        }
        if event.label is not None:
            out["label"] = {"name": event.label[0], "color": event.label[1]}
        if event.assignee is not None:
            out["assignee"] = self.user(event.assignee)
            out["assigner"] = self.user(event.assigner or event.actor)
        if event.rename is not None:
            out["rename"] = {"from": event.rename[0], "to": event.rename[1]}
        if event.event in ("closed", "reopened"):
            out["state_reason"] = event.state_reason
        return out

    # --- team membership, permissions ----------------------------------------------------------
    def team_membership(self, org: str, team_id: int, login: str, role: str) -> JSON:
        return {
            "url": f"{self.base}/organizations/{self.state.repo.id}/team/{team_id}/memberships/"
            + quote(login),
            "role": role,
            "state": "active",
        }

    # --- git ------------------------------------------------------------------------------
    def git_user(self, commit: GitCommit, committer: bool = False) -> JSON:
        if committer:
            return {"name": commit.committer_name, "email": commit.committer_email, "date": iso(commit.date)}
        return {"name": commit.author_name, "email": commit.author_email, "date": iso(commit.date)}

    def git_commit(self, commit: GitCommit) -> JSON:
        return {
            "sha": commit.sha,
            "node_id": node_id("C", commit.sha[:12]),
            "url": f"{self.repo_url}/git/commits/{commit.sha}",
            "html_url": f"{self.repo_html}/commit/{commit.sha}",
            "author": self.git_user(commit),
            "committer": self.git_user(commit, committer=True),
            "tree": {"sha": commit.tree, "url": f"{self.repo_url}/git/trees/{commit.tree}"},
            "message": commit.message,
            "parents": [
                {
                    "sha": p,
                    "url": f"{self.repo_url}/git/commits/{p}",
                    "html_url": f"{self.repo_html}/commit/{p}",
                }
                for p in commit.parents
            ],
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        }

    def commit(self, commit: GitCommit) -> JSON:
        """The REST `commit` shape (branches, contents PUT)."""
        url = f"{self.repo_url}/commits/{commit.sha}"
        return {
            "url": url,
            "sha": commit.sha,
            "node_id": node_id("C", commit.sha[:12]),
            "html_url": f"{self.repo_html}/commit/{commit.sha}",
            "comments_url": f"{url}/comments",
            "commit": {
                "url": f"{self.repo_url}/git/commits/{commit.sha}",
                "author": self.git_user(commit),
                "committer": self.git_user(commit, committer=True),
                "message": commit.message,
                "comment_count": 0,
                "tree": {"sha": commit.tree, "url": f"{self.repo_url}/git/trees/{commit.tree}"},
                "verification": {
                    "verified": False,
                    "reason": "unsigned",
                    "signature": None,
                    "payload": None,
                    "verified_at": None,
                },
            },
            "author": None,
            "committer": None,
            "parents": [
                {"sha": p, "url": f"{self.repo_url}/commits/{p}", "html_url": f"{self.repo_html}/commit/{p}"}
                for p in commit.parents
            ],
        }

    def ref(self, ref: str, sha: str) -> JSON:
        return {
            "ref": ref,
            "node_id": node_id("REF", ref),
            "url": f"{self.repo_url}/git/{quote(ref)}",
            "object": {"sha": sha, "type": "commit", "url": f"{self.repo_url}/git/commits/{sha}"},
        }

    def tree(self, git: GitStore, sha: str, recursive: bool) -> JSON:
        entries = git.walk(sha) if recursive else [(e.name, e) for e in git.trees[sha]]
        items: list[JSON] = []
        for path, entry in entries:
            item: JSON = {"path": path, "mode": entry.mode, "type": entry.type, "sha": entry.sha}
            if entry.type == "blob":
                item["size"] = len(git.blobs.get(entry.sha, b""))
                item["url"] = f"{self.repo_url}/git/blobs/{entry.sha}"
            else:
                item["url"] = f"{self.repo_url}/git/trees/{entry.sha}"
            items.append(item)
        return {"sha": sha, "url": f"{self.repo_url}/git/trees/{sha}", "tree": items, "truncated": False}

    def blob(self, sha: str, content: bytes) -> JSON:
        return {
            "sha": sha,
            "node_id": node_id("B", sha[:12]),
            "url": f"{self.repo_url}/git/blobs/{sha}",
            "size": len(content),
            "content": base64.encodebytes(content).decode(),
            "encoding": "base64",
        }

    def content_entry(self, path: str, sha: str, kind: str, size: int, ref: str) -> JSON:
        self_url = f"{self.repo_url}/contents/{quote(path)}?ref={quote(ref, safe='')}"
        git_url = f"{self.repo_url}/git/{'blobs' if kind == 'file' else 'trees'}/{sha}"
        html_url = f"{self.repo_html}/{'blob' if kind == 'file' else 'tree'}/{ref}/{quote(path)}"
        return {
            "type": kind,
            "size": size,
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "url": self_url,
            "git_url": git_url,
            "html_url": html_url,
            "download_url": f"{self.base}/raw/{self.state.repo.full_name}/{ref}/{quote(path)}"
            if kind == "file"
            else None,
            "_links": {"self": self_url, "git": git_url, "html": html_url},
        }

    # --- pull requests ------------------------------------------------------------------------
    def pull(self, issue: Issue, *, full: bool) -> JSON:
        pull = issue.pull
        assert pull is not None
        n = issue.number
        url = f"{self.repo_url}/pulls/{n}"
        issue_url = f"{self.repo_url}/issues/{n}"
        html = f"{self.repo_html}/pull/{n}"
        owner = self.state.repo.owner
        head_sha = self.state.branch_sha(pull.head_ref) if not pull.merged else pull.head_sha
        base_sha = self.state.branch_sha(pull.base_ref) or pull.base_sha

        def side(ref: str, sha: str | None) -> JSON:
            return {
                "label": f"{owner}:{ref}",
                "ref": ref,
                "sha": sha or pull.head_sha,
                "user": self.user(owner),
                "repo": self.repository(),
            }

        out: JSON = {
            "url": url,
            "id": issue.id + 500_000_000,
            "node_id": node_id("PR", issue.id),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": issue_url,
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{self.repo_url}/pulls/comments{{/number}}",
            "comments_url": f"{issue_url}/comments",
            "statuses_url": f"{self.repo_url}/statuses/{head_sha}",
            "number": n,
            "state": issue.state,
            "locked": issue.locked,
            "title": issue.title,
            "user": self.user(issue.user),
            "body": issue.body,
            "labels": self.issue_labels(issue),
            "milestone": None,
            "active_lock_reason": None,
            "created_at": iso(issue.created_at),
            "updated_at": iso(issue.updated_at),
            "closed_at": iso(issue.closed_at) if issue.closed_at else None,
            "merged_at": iso(pull.merged_at) if pull.merged_at else None,
            "merge_commit_sha": pull.merge_commit_sha,
            "assignee": self.user(issue.assignees[0]) if issue.assignees else None,
            "assignees": [self.user(a) for a in issue.assignees],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": side(pull.head_ref, head_sha),
            "base": side(pull.base_ref, base_sha),
            "_links": {
                "self": {"href": url},
                "html": {"href": html},
                "issue": {"href": issue_url},
                "comments": {"href": f"{issue_url}/comments"},
                "review_comments": {"href": f"{url}/comments"},
                "review_comment": {"href": f"{self.repo_url}/pulls/comments{{/number}}"},
                "commits": {"href": f"{url}/commits"},
                "statuses": {"href": f"{self.repo_url}/statuses/{head_sha}"},
            },
            "author_association": self.association(issue.user),
            "auto_merge": None,
            "draft": pull.draft,
        }
        if full:
            mergeable = self.state.mergeable(issue)
            files_changed = self._changed_files(issue)
            out.update(
                merged=pull.merged,
                mergeable=mergeable,
                rebaseable=mergeable,
                mergeable_state="clean" if mergeable else ("dirty" if mergeable is False else "unknown"),
                merged_by=self.user(pull.merged_by) if pull.merged_by else None,
                comments=len(issue.comment_ids),
                review_comments=0,
                maintainer_can_modify=pull.maintainer_can_modify,
                commits=self._commit_count(issue),
                additions=0,
                deletions=0,
                changed_files=files_changed,
            )
        return out

    def _commit_count(self, issue: Issue) -> int:
        pull = issue.pull
        assert pull is not None
        git = self.state.git
        head = pull.head_sha if pull.merged else self.state.branch_sha(pull.head_ref)
        if head is None:
            return 0
        count, sha, stop = 0, head, pull.base_sha
        while sha and sha != stop and sha in git.commits and count < 250:
            count += 1
            parents = git.commits[sha].parents
            sha = parents[0] if parents else ""
        return count

    def _changed_files(self, issue: Issue) -> int:
        pull = issue.pull
        assert pull is not None
        git = self.state.git
        head = pull.head_sha if pull.merged else self.state.branch_sha(pull.head_ref)
        if head is None or head not in git.commits or pull.base_sha not in git.commits:
            return 0
        before = git.flatten(git.commits[pull.base_sha].tree)
        after = git.flatten(git.commits[head].tree)
        return sum(1 for p in set(before) | set(after) if before.get(p) != after.get(p))
