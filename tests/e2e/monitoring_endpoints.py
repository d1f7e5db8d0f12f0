"""The real receivers the monitoring tests send to: a Prometheus Pushgateway process (Debian's
`prometheus-pushgateway`) and a tiny OTLP/HTTP endpoint (http.server), both on 127.0.0.1.

In CI (CI=true) a missing Pushgateway binary is a failure, not a skip: `.ci/run` installs it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

BINARIES = ("prometheus-pushgateway", "pushgateway")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pushgateway_binary() -> str:
    found = next((shutil.which(name) for name in BINARIES if shutil.which(name)), None)
    if found:
        return found
    message = "the Prometheus Pushgateway is missing (Debian: apt-get install prometheus-pushgateway)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI must have it: .ci/run installs it when running as root")
    pytest.skip(message)


@dataclass
class Pushgateway:
    url: str

    def metrics_text(self) -> str:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as reply:
            return str(reply.read().decode("utf-8"))

    def samples(self, **group: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """(sample name, extra labels) -> value for the issueops job and the given grouping."""
        wanted = {"job": "issueops", **group}
        found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for family in text_string_to_metric_families(self.metrics_text()):
            for sample in family.samples:
                labels = {k: v for k, v in sample.labels.items() if k != "instance"}
                if {k: labels.get(k) for k in wanted} == wanted and sample.name.startswith("issueops_"):
                    extra = tuple(sorted((k, v) for k, v in labels.items() if k not in wanted))
                    found[(sample.name, extra)] = sample.value
        return found

    def wipe(self) -> None:
        request = urllib.request.Request(f"{self.url}/api/v1/admin/wipe", method="PUT")
        urllib.request.urlopen(request, timeout=5).close()


@contextmanager
def running_pushgateway(workdir: Path) -> Iterator[Pushgateway]:
    """Start the gateway on a free port of 127.0.0.1, wait until it is ready, stop it after."""
    binary = pushgateway_binary()
    port = free_port()
    log = (workdir / "pushgateway.log").open("wb")
    process = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}", "--web.enable-admin-api", "--log.level=warn"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise AssertionError(
                        f"the Pushgateway did not start: {(workdir / 'pushgateway.log').read_text()[-2000:]}"
                    ) from None
                time.sleep(0.05)
        yield Pushgateway(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@dataclass
class OtlpReceiver:
    """Keeps every POST (path, content type, body); answers each with `status`."""

    url: str
    status: int = 200
    received: list[tuple[str, str, bytes]] = field(default_factory=list)

    def bodies(self, path: str) -> list[bytes]:
        return [body for got, _, body in self.received if got == path]


@contextmanager
def running_otlp_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            receiver.received.append((self.path, self.headers.get("Content-Type", ""), body))
            self.send_response(receiver.status)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            del format, args  # quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
