"""The project's error types: each maps to an exit code and names the object and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FailureClass = Literal["transient", "permanent"]

TRANSIENT_CODES = frozenset({"timeout", "upstream_unavailable", "rate_limited", "contention"})
PERMANENT_CODES = frozenset({"not_found", "validation", "authorization_denied", "invalid_contract"})


class IssueOpsError(Exception):
    """Base class. `exit_code` is what the CLI returns for it."""

    exit_code = 3


class UserError(IssueOpsError):
    """Bad input from a person (config, schema, options): a clear message, no traceback, exit 1."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One validation finding, printed as `path:line:col: message`."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        if self.line < 1:  # about the whole file (e.g. it does not exist)
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class ConfigError(UserError):
    """One or more problems in config, schemas or templates; nothing was written."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class GitHubError(IssueOpsError):
    """A classified failure of a GitHub API call."""

    exit_code = 1

    def __init__(self, code: str, message: str, *, status: int | None = None, hint: str = ""):
        self.code = code
        self.status = status
        self.hint = hint
        super().__init__(message)

    @property
    def failure_class(self) -> FailureClass:
        return "transient" if self.code in TRANSIENT_CODES else "permanent"


class Interrupted(IssueOpsError):
    """Ctrl-C (SIGINT): the run stopped between items and was recorded as interrupted; exit 130."""

    exit_code = 130


class BudgetExhausted(IssueOpsError):
    """The run's request budget (or a wait ceiling) is reached: stop between items, exit 0."""

    exit_code = 0

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)
