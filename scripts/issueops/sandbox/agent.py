"""Copilot's coding agent, as GitHub runs it (scenario key `copilot`).

Assigning `copilot-swe-agent[bot]` takes only with a user token (a `User`'s, not a `Bot`'s:
an installation token's assignee is dropped silently, as GitHub does) and only when the agent is
enabled for the repository; the assignee then reads back as `Copilot` (type Bot). After
`delay_minutes` of virtual time the agent pushes a `copilot/fix-<n>` branch and opens a draft
pull request whose body says `Fixes #<n>`; the issue's timeline gets the `cross-referenced`
event GitHub records (its `source.issue` is the PR's issue object). After `work_minutes` more
the PR is marked ready for review. Jobs run when a request arrives at or after their time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from issueops.sandbox.store import SandboxState

AGENT_LOGIN = "Copilot"
REQUEST_NAMES = frozenset({"copilot-swe-agent[bot]", "copilot-swe-agent", "copilot"})
_LISTED_PATH = re.compile(r"^- (\S+)$", re.MULTILINE)


@dataclass
class AgentJob:
    issue: int
    due: datetime
    base_branch: str
    instructions: str
    step: str = "open"  # "open", then "ready"
    pull: int | None = None


@dataclass
class CopilotAgent:
    enabled: bool = False
    delay_minutes: float = 30.0
    work_minutes: float = 60.0
    jobs: list[AgentJob] = field(default_factory=list)

    @classmethod
    def from_mapping(cls, data: Any) -> CopilotAgent:
        spec = dict(data or {})
        return cls(
            enabled=bool(spec.get("enabled", False)),
            delay_minutes=float(spec.get("delay_minutes", 30.0)),
            work_minutes=float(spec.get("work_minutes", 60.0)),
        )

    def accepts(self, state: SandboxState, actor: str) -> bool:
        user = state.find_user(actor)
        return self.enabled and user is not None and user.type == "User"

    def assign(self, state: SandboxState, number: int, actor: str, assignment: Any) -> None:
        """The assignee is taken: record it and start the work."""
        if state.find_user(AGENT_LOGIN) is None:
            state.add_user(AGENT_LOGIN, type="Bot")
        issue = state.issues[number]
        if AGENT_LOGIN in issue.assignees:
            return
        state.assign(issue, [AGENT_LOGIN], actor)
        spec = assignment if isinstance(assignment, dict) else {}
        base = str(spec.get("base_branch") or state.repo.default_branch)
        due = state.clock.now() + timedelta(minutes=self.delay_minutes)
        self.jobs.append(AgentJob(number, due, base, str(spec.get("custom_instructions") or "")))

    def run_due(self, state: SandboxState) -> None:
        now = state.clock.now()
        for job in [j for j in self.jobs if j.due <= now]:
            self.jobs.remove(job)
            if job.step == "open":
                self._open(state, job)
            elif job.pull is not None:
                pull = state.issues[job.pull]
                if pull.pull is not None and pull.state == "open":
                    pull.pull.draft = False
                    state.record_event(pull, "ready_for_review", AGENT_LOGIN, job.due)

    def _open(self, state: SandboxState, job: AgentJob) -> None:
        issue = state.issues[job.issue]
        if issue.state != "open" or AGENT_LOGIN not in issue.assignees:
            return  # unassigned before it started: no work
        paths = _LISTED_PATH.findall(job.instructions) or [f"notes/{issue.number}.md"]
        files = {path: f"# {issue.title}\n\nDrafted by Copilot for #{issue.number}.\n" for path in paths}
        body = f"Fixes #{issue.number}\n\nCopilot is working on this issue."
        pull = state.add_pull(
            f"[WIP] {issue.title}",
            f"copilot/fix-{issue.number}",
            base=job.base_branch,
            body=body,
            user=AGENT_LOGIN,
            draft=True,
            files=files,
            created_at=job.due,
        )
        state.record_event(issue, "cross-referenced", AGENT_LOGIN, job.due, source=pull.number)
        state.record_event(issue, "connected", AGENT_LOGIN, job.due)
        ready = job.due + timedelta(minutes=self.work_minutes)
        self.jobs.append(AgentJob(job.issue, ready, job.base_branch, "", step="ready", pull=pull.number))
