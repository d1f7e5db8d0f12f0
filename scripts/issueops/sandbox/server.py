"""HTTP transport: the sandbox on 127.0.0.1 in a background thread (tests) or the foreground (CLI)."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from issueops.sandbox.http import SandboxResponse, SandboxTimeout
from issueops.sandbox.sandbox import Sandbox
from issueops.sandbox.scenario import from_scenario


def _handler_for(sandbox: Sandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "issueops-sandbox"
        sys_version = ""

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in separate writes; without this, Nagle + delayed ACK add ~40 ms.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            try:
                reply = sandbox.handle(self.command, self.path, dict(self.headers.items()), body)
            except SandboxTimeout:
                # No answer at all: the client sees the connection drop.
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            except Exception as exc:  # a sandbox bug: say so instead of dropping the connection
                traceback.print_exc(file=sys.stderr)
                payload = json.dumps(
                    {"message": f"sandbox internal error: {exc!r}", "status": "500"}
                ).encode()
                reply = SandboxResponse(500, {"Content-Type": "application/json; charset=utf-8"}, payload)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                if name.lower() not in ("date", "server"):
                    self.send_header(name, value)
            if reply.status not in (204, 304):  # bodiless statuses carry no Content-Length
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD" and reply.body:
                self.wfile.write(reply.body)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve

        def version_string(self) -> str:
            return "issueops-sandbox"

        def date_time_string(self, timestamp: float | None = None) -> str:
            """`Date` comes from the virtual clock, consistent with `x-ratelimit-reset`."""
            return sandbox.clock.now().strftime("%a, %d %b %Y %H:%M:%S GMT")

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the ledger records every request."""

    return Handler


@dataclass
class RunningServer:
    url: str
    _server: ThreadingHTTPServer
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _make_server(sandbox: Sandbox, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(sandbox))
    server.daemon_threads = True
    sandbox.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    return server


def serve(sandbox: Sandbox, port: int = 0) -> RunningServer:
    """Start serving in a daemon thread; `port=0` picks a free port. Sets `sandbox.base_url`."""
    server = _make_server(sandbox, port)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="issueops-sandbox", daemon=True
    )
    thread.start()
    return RunningServer(sandbox.base_url, server, thread)


def serve_forever(scenario: Path, port: int, announce: Callable[[str], None]) -> None:
    """`issueops sandbox serve`: load the scenario, announce the base URL, serve until interrupted."""
    sandbox = from_scenario(scenario)
    server = _make_server(sandbox, port)
    announce(sandbox.base_url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
