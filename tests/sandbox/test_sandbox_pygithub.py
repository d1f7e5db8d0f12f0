"""Every route the sandbox serves, driven through PyGithub (the real client the adapter uses).

High-level PyGithub methods where they exist; its own requester for the few operations it has no
method for (team membership by slug). Every body is also checked against GitHub's description.
"""

from __future__ import annotations

import pytest
import sandbox_openapi as oa
from sandbox_world import TOKENS, Recorder, build_world

import github
from github import Auth, InputGitTreeElement
from issueops.sandbox.inprocess import activate


def _client(base_url: str, role: str = "bot") -> github.Github:
    return github.Github(
        auth=Auth.Token(TOKENS[role]),
        base_url=base_url,
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )


def test_pygithub_drives_every_route() -> None:
    sb = build_world()
    recorder = Recorder(sb)
    with activate(sb):
        gh = _client(sb.base_url)
        assert gh.get_rate_limit().resources.core.limit == 5000
        _, root = gh.requester.requestJsonAndCheck("GET", "/")
        assert root["rate_limit_url"] == f"{sb.base_url}/rate_limit"
        assert gh.get_user().login == "issueops-bot"
        repo = gh.get_repo("acme/ops")
        assert repo.default_branch == "main"
        assert repo.get_collaborator_permission("mona") == "write"
        _, membership = gh.requester.requestJsonAndCheck(
            "GET", "/orgs/acme/teams/ops-approvers/memberships/tom"
        )
        assert membership["state"] == "active"

        # issues
        triage = list(repo.get_issues(state="open", labels=["state::triage"]))
        assert len(triage) == 5
        issue = repo.create_issue("From PyGithub", body="body", labels=["security"], assignees=["wes"])
        issue.edit(title="Renamed from PyGithub", state="closed", state_reason="not_planned")
        assert repo.get_issue(issue.number).state_reason == "not_planned"

        # labels
        label = repo.create_label("risk::low", "0e8a16", "Low risk")
        label.edit("risk::lowest", "0e8a16", "Lowest")
        assert repo.get_label("risk::lowest").description == "Lowest"
        assert "security" in [lb.name for lb in repo.get_labels()]
        repo.get_label("risk::lowest").delete()
        target = repo.get_issue(1)
        target.add_to_labels("security")
        target.set_labels("security", "state::assigned")
        target.remove_from_labels("security")
        assert [lb.name for lb in target.get_labels()] == ["state::assigned"]
        repo.get_issue(2).delete_labels()

        # comments and reactions
        comment = target.create_comment("first")
        comment.edit("first (edited)")
        assert target.get_comment(comment.id).body == "first (edited)"
        assert "first (edited)" in [c.body for c in target.get_comments()]
        assert len(list(repo.get_issues_comments())) == 6
        comment.create_reaction("+1")
        assert [r.content for r in comment.get_reactions()] == ["+1"]
        target.create_reaction("eyes")
        assert [r.content for r in target.get_reactions()] == ["eyes"]
        assert comment.delete_reaction(comment.create_reaction("heart").id)
        assert target.delete_reaction(target.create_reaction("rocket").id)
        assert [r.content for r in comment.get_reactions()] == ["+1"]
        assert [r.content for r in target.get_reactions()] == ["eyes"]
        repo.get_issue(3).create_comment("to delete").delete()

        # assignees, events, timeline, search
        target.add_to_assignees("tess")
        target.remove_from_assignees("tess")
        assert {e.event for e in target.get_events()} >= {"labeled", "unlabeled", "assigned", "unassigned"}
        assert any(t.event == "commented" for t in target.get_timeline())
        found = gh.search_issues("disk", repo="acme/ops", state="open", type="issue")
        assert found.totalCount == 5

        # git data, branches, contents
        main_ref = repo.get_git_ref("heads/main")
        assert [r.ref for r in repo.get_git_matching_refs("heads/")] == ["refs/heads/main"]
        assert [r.ref for r in repo.get_git_refs()] == ["refs/heads/main"]
        assert {c.path for c in repo.get_contents("")} >= {"README.md"}  # type: ignore[union-attr]
        base = repo.get_git_commit(main_ref.object.sha)
        blob = repo.create_git_blob("hello\n", "utf-8")
        assert repo.get_git_blob(blob.sha).size == 6
        tree = repo.create_git_tree(
            [
                InputGitTreeElement("reports/1.md", "100644", "blob", content="# One\n"),
                InputGitTreeElement("reports/hello.txt", "100644", "blob", sha=blob.sha),
            ],
            base_tree=base.tree,
        )
        assert {e.path for e in repo.get_git_tree(tree.sha, recursive=True).tree} >= {"reports/1.md"}
        commit = repo.create_git_commit("Add reports", tree, [base])
        ref = repo.create_git_ref("refs/heads/issueops/1-report", main_ref.object.sha)
        ref.edit(commit.sha)
        scratch = repo.create_git_ref("refs/heads/scratch", main_ref.object.sha)
        scratch.delete()
        assert sorted(b.name for b in repo.get_branches()) == ["issueops/1-report", "main"]
        assert repo.get_branch("issueops/1-report").commit.sha == commit.sha
        content = repo.get_contents("reports/1.md", ref="issueops/1-report")
        assert not isinstance(content, list)
        assert content.decoded_content == b"# One\n"
        listing = repo.get_contents("reports", ref="issueops/1-report")
        assert isinstance(listing, list)
        created = repo.create_file("notes.md", "Add notes", "v1\n", branch="issueops/1-report")
        repo.update_file(
            "notes.md", "Update notes", "v2\n", created["content"].sha, branch="issueops/1-report"
        )

        # pull requests
        pull = repo.create_pull(title="Report", body="Closes #4", head="acme:issueops/1-report", base="main")
        assert [p.number for p in repo.get_pulls(state="open", head="acme:issueops/1-report")] == [
            pull.number
        ]
        assert repo.get_pull(pull.number).mergeable is True
        assert pull.is_merged() is False
        status = pull.merge(sha=repo.get_branch("issueops/1-report").commit.sha)
        assert status.merged is True
        assert pull.is_merged() is True
        assert repo.get_issue(4).state == "closed"
        pull.edit(title="Report (merged)")
        assert repo.get_pull(pull.number).title == "Report (merged)"

    served = set(sb.router.templates())
    ok = {(ex.method, ex.template) for ex in recorder.exchanges if ex.template and ex.status < 400}
    assert sorted(served - ok) == [], "routes PyGithub did not reach"
    if oa.spec_available():
        _, violations, _ = oa.check_exchanges(recorder.exchanges)
        assert violations == []


def test_pygithub_sees_github_errors() -> None:
    sb = build_world()
    with activate(sb):
        reader = _client(sb.base_url, "read").get_repo("acme/ops")
        with pytest.raises(github.GithubException) as denied:
            reader.create_label("nope", "ffffff")
        assert denied.value.status == 403
        with pytest.raises(github.UnknownObjectException):
            _client(sb.base_url).get_repo("acme/ops").get_issue(999)
        with pytest.raises(github.BadCredentialsException):
            github.Github(auth=Auth.Token("wrong"), base_url=sb.base_url, retry=None).get_user().login  # noqa: B018
