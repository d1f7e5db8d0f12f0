"""The PyGithub adapter: every GitHubPort operation, through one governor, in the project's models.

PyGithub supplies authentication (token or GitHub App installation), the base URL handling
(github.com, Enterprise `/api/v3`, the sandbox), JSON encoding and its error types. We call its
Requester directly and page ourselves (`per_page=100`, following `Link`), so each port method
costs an exact, documented number of requests: PyGithub's object layer re-fetches a listed
object whenever an attribute is missing, which would add hidden requests. See docs/github-layer.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import requests

from github import Auth, Github, GithubException
from issueops.core.errors import BudgetExhausted, GitHubError
from issueops.core.model import (
    Actor,
    Comment,
    CrossReference,
    LabelEvent,
    Permission,
    PullRequest,
    SearchHit,
    WorkItem,
)
from issueops.github import convert
from issueops.github.app_auth import AppClient
from issueops.github.classify import HINTS, UncertainWrite, auth_hint, code_for_status
from issueops.github.governor import Governor
from issueops.github.port import GitHubPort, LabelSpec
from issueops.github.transport import USER_AGENT, governing, install

T = TypeVar("T")
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')
_MARKERS = re.compile(r"<!--\s*issueops:[^>]*?-->")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
# A label history is remembered only for an item unchanged this long: `updated_at` has whole
# seconds, so a change in the same second as the listing could otherwise hide behind it.
SETTLED_SECONDS = 120


@dataclass(frozen=True)
class AppAuth:
    """GitHub App credentials: the app, its private key (PEM), and the installation to act as
    (None: the one installed on the repository, found with GET /repos/{owner}/{repo}/installation)."""

    app_id: int | str
    private_key: str = field(repr=False)
    installation_id: int | None = None


def blob_sha(content: str) -> str:
    """Git's object id of a file with this content: equal ids mean an identical file."""
    data = content.encode("utf-8")
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _normalized(body: str) -> str:
    return body.replace("\r\n", "\n").strip()


class PyGithubAdapter:
    """Implements `issueops.github.port.GitHubPort`."""

    def __init__(
        self,
        repo: str,
        *,
        api_url: str,
        token: str | None = None,
        app_auth: AppAuth | None = None,
        governor: Governor,
        dry_run: bool = False,
        timeout: int = 15,
    ) -> None:
        if not _REPO.match(repo):
            raise ValueError(f"--repo {repo!r}: expected OWNER/NAME, e.g. acme/ops")
        if token and app_auth:
            raise ValueError("give a token or GitHub App credentials, not both")
        install()
        self.repo = repo
        self.owner, self.name = repo.split("/")
        self.governor = governor
        self.dry_run = dry_run
        self.simulated: list[tuple[str, dict[str, object]]] = []  # dry-run writes, in order
        governor.add_secret(token)
        if dry_run:
            governor.forbid_writes()
        self._api_url = api_url.rstrip("/")
        self._app_auth = app_auth
        auth: Auth.Auth | None = None
        self._app: AppClient | None = None
        if token:
            auth = Auth.Token(token)
        elif app_auth is not None:
            self._app = AppClient(
                app_auth.app_id,
                app_auth.private_key,
                api_url=self._api_url,
                governor=governor,
                timeout=timeout,
            )
            self.installation_auth = self._app.installation_auth(app_auth.installation_id, repo=repo)
            auth = self.installation_auth
        self._github = Github(
            auth=auth,
            base_url=self._api_url,
            per_page=100,
            timeout=timeout,
            user_agent=USER_AGENT,
            retry=None,  # one retry policy: the governor's
            seconds_between_requests=None,  # one pacing policy: the governor's
            seconds_between_writes=None,
        )
        self._rq = self._github.requester
        self._base = f"/repos/{quote(self.owner)}/{quote(self.name)}"
        self._me: Actor | None = None
        self._commit_trees: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {}
        self._default_branch: str | None = None

    def close(self) -> None:
        """Persist the conditional-request cache and release connections."""
        self.governor.save_cache()
        self._github.close()
        if self._app is not None:
            self._app.close()

    def __enter__(self) -> PyGithubAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _calling(self, target: str) -> Iterator[None]:
        """Every port call: route through the governor and classify whatever goes wrong."""
        with governing(self.governor):
            try:
                yield
            except (GitHubError, BudgetExhausted):
                raise
            except GithubException as exc:
                raise self._error(exc, target) from None
            except convert.ContractError as exc:
                raise GitHubError(
                    "invalid_contract", f"{target}: {exc}", hint=HINTS["invalid_contract"]
                ) from None
            except requests.RequestException as exc:
                raise GitHubError(
                    "upstream_unavailable",
                    f"{target}: {type(exc).__name__}",
                    hint=HINTS["upstream_unavailable"],
                ) from None

    def _error(self, exc: GithubException, target: str) -> GitHubError:
        data = exc.data if isinstance(exc.data, dict) else {}
        message = str(data.get("message") or "")
        details = [
            str(e.get("message") or e.get("code") or "") if isinstance(e, dict) else str(e)
            for e in data.get("errors") or ()
        ]
        text = f"{target}: GitHub answered {exc.status}" + (f" {message}" if message else "")
        if any(details):
            text += " (" + "; ".join(d for d in details if d) + ")"
        code = code_for_status(exc.status)
        hint = HINTS[code]
        if code == "authorization_denied":
            headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
            hint = auth_hint(exc.status, headers.get("x-accepted-github-permissions"), target)
        return GitHubError(code, self.governor.redact(text), status=exc.status, hint=hint)

    def _request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None
    ) -> Any:
        _, data = self._rq.requestJsonAndCheck(method, path, parameters=params, input=body)
        return data

    def _status(self, method: str, path: str, *, body: Any = None) -> tuple[int, Any]:
        """Like `_request`, but hands back a 4xx instead of raising (for 404-means-no answers)."""
        try:
            _, data = self._rq.requestJsonAndCheck(method, path, input=body)
        except GithubException as exc:
            if 400 <= exc.status < 500:
                return exc.status, exc.data
            raise
        return 200, data

    def _pages(
        self, path: str, params: dict[str, Any] | None = None, *, limit: int | None = None
    ) -> list[Any]:
        """All pages of a listing, 100 a page, following `Link: rel="next"` exactly as given."""
        url: str | None = path
        query: dict[str, Any] | None = {**(params or {}), "per_page": 100}
        found: list[Any] = []
        page = 1
        while url is not None:
            headers, data = self._rq.requestJsonAndCheck("GET", url, parameters=query)
            items = data.get("items") if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise convert.ContractError(f"{path}: expected a list, got {type(items).__name__}")
            found.extend(items)
            if limit is not None and len(found) >= limit:
                return found[:limit]
            match = _NEXT.search(str(headers.get("link") or ""))
            if match:
                url, query = match.group(1), None
            elif len(items) >= 100:
                # A full page without rel="next" may be a cached page (304) whose Link predates
                # the pages added since: ask for the next one instead of trusting it.
                url, query = path, {**(params or {}), "per_page": 100, "page": page + 1}
            else:
                url, query = None, None
            page += 1
        return found

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.governor.clock.now(), UTC)

    def _simulate(self, operation: str, **details: object) -> None:
        self.simulated.append((operation, details))

    def _issue(self, number: int) -> str:
        return f"{self.repo}#{number}"

    # --- identity and reads -----------------------------------------------------------------

    def whoami(self) -> Actor:
        if self._me is None:
            with self._calling("the authenticated identity"):
                if self._app is not None:
                    self._me = Actor(self._app.bot_login(), "Bot")
                else:
                    status, data = self._status("GET", "/user")
                    if status == 403:  # "Resource not accessible by integration"
                        raise GitHubError(
                            "authorization_denied",
                            "the token cannot read its own identity (GET /user answers 403): it is an "
                            "installation token, the workflow's GITHUB_TOKEN or a GitHub App's",
                            status=403,
                            hint="pass --bot-login (or ISSUEOPS_BOT_LOGIN): github-actions[bot] for "
                            "GITHUB_TOKEN, <app-slug>[bot] for an App; or set bot_login in the config",
                        )
                    if status != 200:
                        raise GithubException(status, data, None)
                    self._me = convert.actor(data)
        return self._me

    def list_items(
        self, *, labels: Sequence[str] = (), state: str = "open", since: datetime | None = None
    ) -> list[WorkItem]:
        # Oldest first: a new issue then changes only the last page, so the others stay 304.
        params: dict[str, Any] = {"state": state, "sort": "created", "direction": "asc"}
        if labels:
            params["labels"] = ",".join(labels)
        if since is not None:
            params["since"] = convert.iso(since)
        with self._calling(self.repo):
            raw = self._pages(f"{self._base}/issues", params)
            return [convert.work_item(d) for d in raw if not convert.is_pull_request(d)]

    def get_item(self, number: int) -> WorkItem:
        with self._calling(self._issue(number)):
            data = self._request("GET", f"{self._base}/issues/{number}")
            if convert.is_pull_request(data):
                raise GitHubError(
                    "not_found",
                    f"{self._issue(number)} is a pull request, not an issue",
                    status=404,
                    hint="work items are issues; check the number",
                )
            return convert.work_item(data)

    def list_comments(self, *, since: datetime | None = None) -> list[Comment]:
        params: dict[str, Any] = {"sort": "created", "direction": "asc"}
        if since is not None:
            params["since"] = convert.iso(since)
        with self._calling(self.repo):
            return [convert.comment(d) for d in self._pages(f"{self._base}/issues/comments", params)]

    def list_item_comments(self, number: int) -> list[Comment]:
        with self._calling(self._issue(number)):
            raw = self._pages(f"{self._base}/issues/{number}/comments")
            return [convert.comment(d, number) for d in raw]

    def list_label_events(self, number: int, *, as_of: datetime | None = None) -> list[LabelEvent]:
        cache, key = self.governor.cache, f"{self._base}/issues/{number}/label-events"
        version = convert.iso(as_of) if as_of is not None else None
        if cache is not None and version is not None:
            known = cache.recall(key, version)
            if known is not None:
                return [event for event in map(convert.label_event, json.loads(known)) if event]
        with self._calling(self._issue(number)):
            raw = self._pages(f"{self._base}/issues/{number}/events")
            events = [convert.label_event(d) for d in raw]
        if cache is not None and version is not None and self._settled(as_of):
            kept = [convert.label_event_json(e) for e in events if e is not None]
            cache.remember(key, version, json.dumps(kept, separators=(",", ":")))
        return [event for event in events if event is not None]

    def _settled(self, updated_at: datetime | None) -> bool:
        """Old enough that no change can still share its second: a history read now is whole."""
        return updated_at is not None and (self._now() - updated_at).total_seconds() >= SETTLED_SECONDS

    def list_cross_references(self, number: int) -> list[CrossReference]:
        with self._calling(self._issue(number)):
            entries = self._pages(f"{self._base}/issues/{number}/timeline")
            found = (convert.cross_reference(d) for d in entries)
            return [x for x in found if x is not None]

    def get_permission(self, login: str) -> Permission:
        target = f"{self.repo} collaborator {login}"
        with self._calling(target):
            status, data = self._status("GET", f"{self._base}/collaborators/{quote(login)}/permission")
            if status == 404:
                return "none"  # not a collaborator
            if status != 200:
                raise self._error(GithubException(status, data, None), target)
            return convert.permission(data)

    def is_team_member(self, team_slug: str, login: str) -> bool:
        org, _, slug = team_slug.lstrip("@").rpartition("/")
        org = org or self.owner
        target = f"team {org}/{slug} member {login}"
        with self._calling(target):
            status, data = self._status(
                "GET", f"/orgs/{quote(org)}/teams/{quote(slug)}/memberships/{quote(login)}"
            )
            if status == 404:
                return False
            if status != 200:
                raise self._error(GithubException(status, data, None), target)
            return isinstance(data, dict) and data.get("state") == "active"

    def find_pull_request(self, head_branch: str) -> PullRequest | None:
        with self._calling(f"{self.repo} branch {head_branch}"):
            return self._find_pull_request(head_branch)

    def _find_pull_request(self, head_branch: str) -> PullRequest | None:
        raw = self._pages(f"{self._base}/pulls", {"head": f"{self.owner}:{head_branch}", "state": "all"})
        pulls = [convert.pull_request(d) for d in raw]
        pulls = [p for p in pulls if p.head_branch == head_branch]
        if not pulls:
            return None
        return max(pulls, key=lambda p: (p.state == "open", p.number))

    def list_pull_requests(self, *, state: str = "all") -> list[PullRequest]:
        with self._calling(self.repo):
            raw = self._pages(f"{self._base}/pulls", {"state": state, "sort": "created", "direction": "asc"})
            return [convert.pull_request(d) for d in raw]

    def default_branch(self) -> str:
        if self._default_branch is None:
            with self._calling(self.repo):
                data = self._request("GET", self._base)
                branch = data.get("default_branch") if isinstance(data, dict) else None
                if not isinstance(branch, str):
                    raise convert.ContractError("repository without default_branch")
                self._default_branch = branch
        return self._default_branch

    def list_branches(self, prefix: str) -> list[str]:
        # The listing matches by prefix; asking for the stem without its trailing slash and
        # filtering here keeps `issueops/` from depending on how a server treats that slash.
        stem = prefix.rstrip("/")
        with self._calling(f"{self.repo} branches {prefix}*"):
            raw = self._pages(f"{self._base}/git/matching-refs/heads/{quote(stem, safe='/')}")
            refs = (str(convert.require(d, "ref", str)) for d in raw)
            names = (r[len("refs/heads/") :] for r in refs if r.startswith("refs/heads/"))
            return sorted(n for n in names if n.startswith(prefix))

    def search_issues(self, query: str, limit: int) -> list[SearchHit]:
        if limit <= 0:
            return []
        with self._calling("issue search"):
            raw = self._pages("/search/issues", {"q": query}, limit=limit)
            return [convert.search_hit(d) for d in raw]

    # --- writes -------------------------------------------------------------------------------

    def add_labels(self, number: int, labels: Sequence[str]) -> None:
        if not labels:
            return
        if self.dry_run:
            return self._simulate("add_labels", item=number, labels=list(labels))
        with self._calling(self._issue(number)):
            self._request("POST", f"{self._base}/issues/{number}/labels", body={"labels": list(labels)})

    def remove_label(self, number: int, label: str) -> None:
        if self.dry_run:
            return self._simulate("remove_label", item=number, label=label)
        target = self._issue(number)
        with self._calling(target):
            status, data = self._status(
                "DELETE", f"{self._base}/issues/{number}/labels/{quote(label, safe='')}"
            )
            message = str(data.get("message") or "") if isinstance(data, dict) else ""
            if status == 404 and "label" in message.lower():
                return  # it was not there: the goal is reached
            if status != 200:
                raise self._error(GithubException(status, data, None), target)

    def create_comment(self, number: int, body: str) -> Comment:
        if self.dry_run:
            self._simulate("create_comment", item=number, chars=len(body))
            now = self._now()
            return Comment(0, number, self.whoami(), body, now, now)
        with self._calling(self._issue(number)):
            return self._exactly_once(
                self._issue(number),
                send=lambda: convert.comment(
                    self._request("POST", f"{self._base}/issues/{number}/comments", body={"body": body}),
                    number,
                ),
                find=lambda: self._find_own_comment(number, body),
            )

    def _find_own_comment(self, number: int, body: str) -> Comment | None:
        """After an uncertain POST: is our comment there? Newest first, our own account only."""
        me = self.whoami().login
        wanted = _normalized(body)
        for data in reversed(self._pages(f"{self._base}/issues/{number}/comments")):
            found = convert.comment(data, number)
            if found.author.login == me and _normalized(found.body) == wanted:
                return found
        return None

    def _exactly_once(self, target: str, *, send: Callable[[], T], find: Callable[[], T | None]) -> T:
        """Send a non-idempotent write; after an uncertain failure, look before sending again."""
        retries = self.governor.settings.max_retries
        last: UncertainWrite | None = None
        for attempt in range(retries + 1):
            try:
                return send()
            except UncertainWrite as exc:
                last = exc
                found = find()
                if found is not None:
                    return found
                if attempt < retries:
                    self.governor.retry_wait(attempt, reason=exc.code, target=target)
        assert last is not None
        raise GitHubError(
            last.code,
            f"{last} — checked each time that it had not landed; gave up after {retries + 1} tries",
            status=last.status,
            hint=last.hint,
        )

    def edit_comment(self, comment_id: int, body: str) -> None:
        if self.dry_run:
            return self._simulate("edit_comment", comment=comment_id, chars=len(body))
        with self._calling(f"{self.repo} comment {comment_id}"):
            self._request("PATCH", f"{self._base}/issues/comments/{comment_id}", body={"body": body})

    def delete_comment(self, comment_id: int) -> None:
        if self.dry_run:
            return self._simulate("delete_comment", comment=comment_id)
        target = f"{self.repo} comment {comment_id}"
        with self._calling(target):
            status, data = self._status("DELETE", f"{self._base}/issues/comments/{comment_id}")
            if status in (200, 404):  # deleted now, or gone already: the comment was listed this run,
                return  # so a 404 means a concurrent run removed the same duplicate first
            raise self._error(GithubException(status, data, None), target)

    def add_reaction(self, number: int, content: str, comment_id: int | None = None) -> None:
        if self.dry_run:
            return self._simulate("add_reaction", item=number, comment=comment_id, content=content)
        path = (
            f"{self._base}/issues/comments/{comment_id}/reactions"
            if comment_id is not None
            else f"{self._base}/issues/{number}/reactions"
        )
        with self._calling(self._issue(number)):
            self._request("POST", path, body={"content": content})

    def add_assignees(self, number: int, logins: Sequence[str]) -> None:
        """Add assignees, keeping everyone assigned: the issue is read, then edited with the
        assignees it has plus the new ones. `POST .../assignees` would add them in one request,
        but it creates content (GitHub's secondary limit of about 500 an hour counts it, as the
        sandbox does); an edit of the issue does not. The read just before the edit keeps a
        person's assignment made since the run read the item (the edit replaces the list). A
        login GitHub will not assign makes the edit fail (422): then they are added as before,
        where GitHub silently drops that one."""
        if not logins:
            return
        if self.dry_run:
            return self._simulate("add_assignees", item=number, logins=list(logins))
        with self._calling(self._issue(number)):
            data = self._request("GET", f"{self._base}/issues/{number}")
            have = list(convert.work_item(data).assignees)
            known = {login.casefold() for login in have}
            new = [login for login in logins if login.casefold() not in known]
            if not new:
                return
            url = f"{self._base}/issues/{number}"
            status, data = self._status("PATCH", url, body={"assignees": [*have, *new]})
            if status == 422:  # a login GitHub will not assign: the edit refuses the whole list,
                # where adding drops just that one (as before); only then is it a created content
                self._request("POST", f"{url}/assignees", body={"assignees": new})
            elif status != 200:
                raise GithubException(status, data, None)

    def assign_agent(self, number: int, login: str, agent_assignment: Mapping[str, str]) -> tuple[str, ...]:
        if self.dry_run:
            self._simulate("assign_agent", item=number, login=login)
            return (login,)
        body = {"assignees": [login], "agent_assignment": dict(agent_assignment)}
        with self._calling(self._issue(number)):
            data = self._request("POST", f"{self._base}/issues/{number}/assignees", body=body)
        return tuple(convert.actor(a).login for a in (data or {}).get("assignees") or [])

    def remove_assignees(self, number: int, logins: Sequence[str]) -> None:
        if not logins:
            return
        if self.dry_run:
            return self._simulate("remove_assignees", item=number, logins=list(logins))
        with self._calling(self._issue(number)):
            self._request(
                "DELETE", f"{self._base}/issues/{number}/assignees", body={"assignees": list(logins)}
            )

    def create_item(self, title: str, body: str, labels: Sequence[str]) -> WorkItem:
        if self.dry_run:
            self._simulate("create_item", title=title, labels=list(labels))
            now = self._now()
            return WorkItem(0, title, body, self.whoami(), tuple(labels), created_at=now, updated_at=now)
        payload = {"title": title, "body": body, "labels": list(labels)}
        with self._calling(self.repo):
            return self._exactly_once(
                self.repo,
                send=lambda: convert.work_item(self._request("POST", f"{self._base}/issues", body=payload)),
                find=lambda: self._find_own_item(title, body),
            )

    def _find_own_item(self, title: str, body: str) -> WorkItem | None:
        """After an uncertain create: the newest issues, matched by the body's markers (or text)."""
        me = self.whoami().login
        markers = _MARKERS.findall(body)
        recent = self._request(
            "GET",
            f"{self._base}/issues",
            params={"state": "all", "sort": "created", "direction": "desc", "per_page": 100},
        )
        for data in recent or ():
            if convert.is_pull_request(data):
                continue
            item = convert.work_item(data)
            if item.author.login != me:
                continue
            if markers and all(m in item.body for m in markers):
                return item
            if not markers and item.title == title and _normalized(item.body) == _normalized(body):
                return item
        return None

    def update_item(
        self,
        number: int,
        *,
        body: str | None = None,
        state: str | None = None,
        state_reason: str | None = None,
    ) -> None:
        payload = {
            k: v
            for k, v in {"body": body, "state": state, "state_reason": state_reason}.items()
            if v is not None
        }
        if not payload:
            return
        if self.dry_run:
            return self._simulate("update_item", item=number, fields=sorted(payload))
        with self._calling(self._issue(number)):
            self._request("PATCH", f"{self._base}/issues/{number}", body=payload)

    def commit_files(
        self,
        branch: str,
        base: str,
        files: Mapping[str, str],
        message: str,
        *,
        known_missing: bool = False,
    ) -> str:
        with self._calling(f"{self.repo} branch {branch}"):
            return self._commit_files(branch, base, files, message, known_missing)

    def _ref_sha(self, branch: str) -> str | None:
        status, data = self._status("GET", f"{self._base}/git/ref/heads/{quote(branch, safe='/')}")
        if status == 404:
            return None
        if status != 200:
            raise GithubException(status, data, None)
        return str(convert.require(convert.require(data, "object", dict), "sha", str))

    def _commit_files(
        self, branch: str, base: str, files: Mapping[str, str], message: str, known_missing: bool
    ) -> str:
        """On the branch's head when it exists; else on the base, creating the branch. When the
        caller listed the branches this run and this one was not there, no read looks for it;
        if it exists after all (a race), its head is read and the files go on top of it."""
        head = None if known_missing else self._ref_sha(branch)
        if head is None:
            start = self._ref_sha(base)
            if start is None:
                raise GitHubError(
                    "not_found",
                    f"{self.repo} branch {base}: the base branch does not exist",
                    status=404,
                    hint="check default_branch in the config or the workflow's base",
                )
            single = self._single_change(start, files)
            if single is not None and not self.dry_run:
                head = self._create_branch(branch, start)
                if head == start:  # ours, on the base: the file goes on it with one commit
                    return self._put_file(branch, start, *single, message)
                if self._published(branch):
                    return head
                return self._commit_on_top(head, files, message, branch)  # someone else's branch
            sha = self._build_commit(start, files, message, branch)
            head = self._create_branch(branch, sha)
            if head == sha:
                return sha
            if self._published(branch):
                return head
        return self._commit_on_top(head, files, message, branch)

    def _commit_on_top(self, head: str, files: Mapping[str, str], message: str, branch: str) -> str:
        """The files as one commit on the branch's head; the ref moves only when that changed
        something (a fast-forward: a push another run made meanwhile is never overwritten)."""
        sha = self._build_commit(head, files, message, branch)
        if sha != head:
            self._request(
                "PATCH",
                f"{self._base}/git/refs/heads/{quote(branch, safe='/')}",
                body={"sha": sha, "force": False},
            )
        return sha

    def _files_of(self, commit_sha: str) -> tuple[str, dict[str, tuple[str, str]]]:
        """(tree sha, path -> (blob sha, mode)) of a commit. Git objects never change, so each
        commit is read once per run however many branches start from it (the base, usually)."""
        if commit_sha not in self._commit_trees:
            commit = self._request("GET", f"{self._base}/git/commits/{commit_sha}")
            tree_sha = str(convert.require(convert.require(commit, "tree", dict), "sha", str))
            listing = self._request("GET", f"{self._base}/git/trees/{tree_sha}", params={"recursive": 1})
            self._commit_trees[commit_sha] = (
                tree_sha,
                {
                    str(e["path"]): (str(e.get("sha")), str(e.get("mode") or "100644"))
                    for e in (listing or {}).get("tree", ())
                    if isinstance(e, dict) and e.get("type") == "blob"
                },
            )
        return self._commit_trees[commit_sha]

    def _published(self, branch: str) -> bool:
        """The branch appeared meanwhile (another run made it): were its deliverables already
        published, its PR merged? Then nothing more goes on it: a commit there would open a second
        PR over the merged one. One listing, and only in that race."""
        found = self._find_pull_request(branch)
        return found is not None and found.merged

    def _single_change(self, start: str, files: Mapping[str, str]) -> tuple[str, str, str | None] | None:
        """(path, content, blob sha it replaces or None) when exactly one plain file differs from
        `start`: a new branch then costs two content-creating requests (the ref, then the file
        through the Contents API, which makes the blob, tree and commit itself) instead of three
        (tree with inline blobs, commit, ref). With more files the git data API stays cheaper."""
        _, existing = self._files_of(start)
        changed = [
            (path.lstrip("/"), content)
            for path, content in sorted(files.items())
            if existing.get(path.lstrip("/"), ("", ""))[0] != blob_sha(content)
        ]
        if len(changed) != 1:
            return None
        path, content = changed[0]
        old = existing.get(path)
        if old is not None and old[1] != "100644":  # the Contents API writes plain files only
            return None
        return path, content, old[0] if old is not None else None

    def _put_file(
        self, branch: str, start: str, path: str, content: str, replaces: str | None, message: str
    ) -> str:
        """One file committed on `branch` (at `start`) through the Contents API; the new head.
        After an uncertain failure the branch is read: moved on with the file in place means done."""
        url = f"{self._base}/contents/{quote(path, safe='/')}"
        body: dict[str, Any] = {
            "message": message,
            "content": base64.b64encode(content.encode("utf-8")).decode("ascii"),
            "branch": branch,
        }
        if replaces is not None:
            body["sha"] = replaces
        want = blob_sha(content)

        def landed() -> str | None:
            head = self._ref_sha(branch)
            if head is None or head == start:
                return None
            return head if self._files_of(head)[1].get(path, ("", ""))[0] == want else None

        def send() -> str:
            status, data = self._status("PUT", url, body=body)
            if status in (409, 422):  # the file is there already: ours, from an uncertain try?
                head = landed()
                if head is not None:
                    return head
            if status not in (200, 201):
                raise GithubException(status, data, None)
            commit = convert.require(data, "commit", dict)
            return str(convert.require(commit, "sha", str))

        return self._exactly_once(f"{self.repo} branch {branch}", send=send, find=landed)

    def _build_commit(self, start: str, files: Mapping[str, str], message: str, branch: str) -> str:
        """A commit on `start` with `files` written; `start` itself when they are there already."""
        tree_sha, existing = self._files_of(start)
        changed = {
            path.lstrip("/"): content
            for path, content in sorted(files.items())
            if existing.get(path.lstrip("/"), ("", ""))[0] != blob_sha(content)
        }
        if not changed:
            return start
        if self.dry_run:
            self._simulate("commit_files", branch=branch, files=sorted(changed))
            return hashlib.sha1(
                f"{start}:{sorted(changed.items())}".encode(), usedforsecurity=False
            ).hexdigest()
        entries = [
            {"path": path, "mode": existing.get(path, ("", "100644"))[1], "type": "blob", "content": content}
            for path, content in changed.items()
        ]
        new_tree = self._request(
            "POST", f"{self._base}/git/trees", body={"base_tree": tree_sha, "tree": entries}
        )
        new_tree_sha = str(convert.require(new_tree, "sha", str))
        if new_tree_sha == tree_sha:  # identical after all: no empty commit
            return start
        commit = self._request(
            "POST",
            f"{self._base}/git/commits",
            body={"message": message, "tree": new_tree_sha, "parents": [start]},
        )
        return str(convert.require(commit, "sha", str))

    def _create_branch(self, branch: str, sha: str) -> str:
        """The branch's head afterwards: `sha` when created (or created by our own uncertain
        earlier try), else the head of the branch that was there already."""
        if self.dry_run:
            self._simulate("create_branch", branch=branch)
            return sha

        def send() -> str:
            status, data = self._status(
                "POST", f"{self._base}/git/refs", body={"ref": f"refs/heads/{branch}", "sha": sha}
            )
            if status == 422:  # "Reference already exists" (else a real error)
                head = self._ref_sha(branch)
                if head is None:
                    raise GithubException(status, data, None)
                return head
            if status != 200:
                raise GithubException(status, data, None)
            return sha

        def find() -> str | None:
            return sha if self._ref_sha(branch) == sha else None

        return self._exactly_once(f"{self.repo} branch {branch}", send=send, find=find)

    def create_pull_request(self, head: str, base: str, title: str, body: str) -> PullRequest:
        if self.dry_run:
            self._simulate("create_pull_request", head=head, base=base, title=title)
            return PullRequest(0, head, "", base, "open", False, title, body, self._now())

        def send() -> PullRequest:
            payload = {"title": title, "head": head, "base": base, "body": body}
            status, data = self._status("POST", f"{self._base}/pulls", body=payload)
            if status == 422:  # "A pull request already exists": that one is ours; or "No commits
                # between": an overlapping run opened it and published it (merged) already
                existing = self._find_pull_request(head)
                if existing is not None and (existing.state == "open" or existing.merged):
                    return existing
            if status != 200:
                raise GithubException(status, data, None)
            return convert.pull_request(data)

        def find() -> PullRequest | None:
            found = self._find_pull_request(head)
            return found if found is not None and found.state == "open" else None

        with self._calling(f"{self.repo} branch {head}"):
            return self._exactly_once(f"{self.repo} branch {head}", send=send, find=find)

    def merge_pull_request(self, number: int, sha: str) -> None:
        if self.dry_run:
            return self._simulate("merge_pull_request", pull=number, sha=sha)
        target = f"{self.repo}#{number}"
        with self._calling(target):
            status, data = self._status("PUT", f"{self._base}/pulls/{number}/merge", body={"sha": sha})
            if status in (200, 201):
                return
            current = self._request("GET", f"{self._base}/pulls/{number}")
            if isinstance(current, dict) and (current.get("merged") or current.get("merged_at")):
                return  # merged already (by us earlier, or by a person): done
            raise self._error(GithubException(status, data, None), target)

    def close_pull_request(self, number: int) -> None:
        if self.dry_run:
            return self._simulate("close_pull_request", pull=number)
        with self._calling(f"{self.repo}#{number}"):
            self._request("PATCH", f"{self._base}/pulls/{number}", body={"state": "closed"})

    def delete_branch(self, branch: str) -> None:
        if self.dry_run:
            return self._simulate("delete_branch", branch=branch)
        target = f"{self.repo} branch {branch}"
        with self._calling(target):
            status, data = self._status("DELETE", f"{self._base}/git/refs/heads/{quote(branch, safe='/')}")
            message = str(data.get("message") or "") if isinstance(data, dict) else ""
            if status == 200 or (status in (404, 422) and "does not exist" in message.lower()):
                return  # deleted now, or gone already ("Reference does not exist"): the goal is reached
            # A bare 404 "Not Found" is an error: GitHub answers so to a token that cannot see the repo.
            raise self._error(GithubException(status, data, None), target)

    def ensure_labels(self, specs: Iterable[LabelSpec]) -> list[str]:
        changed: list[str] = []
        with self._calling(self.repo):
            current = {str(d["name"]).lower(): d for d in self._pages(f"{self._base}/labels")}
            for spec in specs:
                color = spec.color.lstrip("#").lower()
                have = current.get(spec.name.lower())
                if have is None:
                    changed.append(spec.name)
                    if self.dry_run:
                        self._simulate("create_label", name=spec.name)
                        continue
                    payload = {"name": spec.name, "color": color, "description": spec.description}
                    self._request("POST", f"{self._base}/labels", body=payload)
                elif (
                    str(have.get("color") or "").lower() != color
                    or str(have.get("description") or "") != spec.description
                    or have.get("name") != spec.name
                ):
                    changed.append(spec.name)
                    if self.dry_run:
                        self._simulate("update_label", name=spec.name)
                        continue
                    self._request(
                        "PATCH",
                        f"{self._base}/labels/{quote(str(have['name']), safe='')}",
                        body={"new_name": spec.name, "color": color, "description": spec.description},
                    )
        return changed


def _conforms(adapter: PyGithubAdapter) -> GitHubPort:
    """Type-checked only: the adapter implements every method of the port."""
    return adapter
