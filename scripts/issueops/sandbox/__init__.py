"""The sandbox GitHub: a stateful, faithful stand-in for the REST API subset issueops uses.

`Sandbox` holds the state and serves requests; `from_scenario` builds one from a scenario file;
`inprocess.activate` routes `requests` (and so PyGithub) to it without a socket; `server.serve`
puts it on 127.0.0.1. See docs/sandbox.md.

A test double, outside the product's layers: it may import `issueops.core` only.
"""

from __future__ import annotations

from issueops.sandbox.clock import VirtualClock
from issueops.sandbox.faults import Fault
from issueops.sandbox.http import SandboxResponse, SandboxTimeout
from issueops.sandbox.ledger import LedgerEntry
from issueops.sandbox.ratelimit import Limits
from issueops.sandbox.sandbox import DEFAULT_BASE_URL, Sandbox
from issueops.sandbox.scenario import from_scenario

__all__ = [
    "DEFAULT_BASE_URL",
    "Fault",
    "LedgerEntry",
    "Limits",
    "Sandbox",
    "SandboxResponse",
    "SandboxTimeout",
    "VirtualClock",
    "from_scenario",
]
