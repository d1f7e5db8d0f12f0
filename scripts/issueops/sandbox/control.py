"""The control endpoints under /_sandbox/: ledger, faults, clock and a state summary.

They are never counted, never rate-limited and never written to the ledger.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from issueops.sandbox.clock import iso, parse_time
from issueops.sandbox.faults import Fault
from issueops.sandbox.http import SandboxResponse

if TYPE_CHECKING:
    from issueops.sandbox.sandbox import Sandbox


def _reply(status: int, body: Any) -> SandboxResponse:
    payload = b"" if body is None else json.dumps(body).encode()
    return SandboxResponse(status, {"Content-Type": "application/json; charset=utf-8"}, payload)


def _error(status: int, message: str) -> SandboxResponse:
    return _reply(status, {"message": message})


def handle_control(
    sb: Sandbox, method: str, path: str, raw_query: str, body: bytes | None
) -> SandboxResponse:
    query = dict(parse_qsl(raw_query))
    try:
        data: Any = json.loads(body) if body else {}
    except ValueError:
        return _error(400, "control body must be JSON")
    what = path.removeprefix("/_sandbox/").strip("/")
    try:
        if what == "ledger":
            if method == "GET":
                since = int(query.get("since", "0"))
                entries = [e.as_json() for e in sb.ledger.since(since)]
                return _reply(
                    200,
                    {
                        "count": len(sb.ledger),
                        "counted": sb.ledger.counted(),
                        "writes": sb.ledger.writes(),
                        "entries": entries,
                    },
                )
            if method == "DELETE":
                sb.ledger.clear()
                return _reply(204, None)
        if what == "faults":
            if method == "GET":
                return _reply(200, {"faults": [f.describe() for f in sb.faults.items]})
            if method == "POST":
                specs = data if isinstance(data, list) else [data]
                added = [sb.faults.add(Fault.from_json(spec)) for spec in specs]
                return _reply(201, {"faults": [f.describe() for f in added]})
            if method == "DELETE":
                sb.faults.clear()
                return _reply(204, None)
        if what == "clock":
            if method == "POST":
                if "advance_seconds" in data:
                    sb.clock.advance(float(data["advance_seconds"]))
                elif "now" in data:
                    sb.clock.set(parse_time(str(data["now"])))
                else:
                    return _error(422, 'send {"advance_seconds": N} or {"now": "2025-01-06T09:00:00Z"}')
            if method in ("GET", "POST"):
                return _reply(200, {"now": iso(sb.clock.now())})
        if what == "state" and method == "GET":
            return _reply(200, sb.summary())
    except (ValueError, TypeError) as exc:
        return _error(422, str(exc))
    return _error(404, f"no control endpoint {method} {path}; see docs/sandbox.md")
