"""The pipeline at scale (issue #15): 1,000, 5,000 and 20,000 items, young and aged.

For each size, in a fresh process (so peak memory is that size's own): SIZE triage items are
assigned, processed and settled with `run` until a run writes nothing; then one more `run` is
the quiet run over *young* items (runs are RUN_INTERVAL apart on the sandbox's clock, which a
run's write pacing does not move; see `scheduled`). The sandbox clock then moves AGE_DAYS on, the sweep's SLA
ladder fires (reminders, escalations), the repository settles again, and one more `run` is the
quiet run over *aged* items. Figures come from the sandbox ledger (what it served), the process
CPU split into the sandbox's part (time inside `Sandbox.handle`) and the client's (the rest),
the cache file. The quiet runs are run by a separate client process against the same sandbox
served over HTTP on 127.0.0.1 (the bench process serves it), so that process's own figures are
the client's: its CPU for the run and its peak RSS, nothing of the sandbox's in them.

    .venv/bin/python tests/bench/bench_scale.py                 # 1,000, 5,000 and 20,000
    BENCH_SCALE_SIZES=1000 .venv/bin/python tests/bench/bench_scale.py
    BENCH_SCALE_SIZES=1000,5000 .venv/bin/python tests/bench/bench_scale.py
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import bench_pipeline as bp

from issueops.app import run_stages
from issueops.github.clock import VirtualClock
from issueops.sandbox.inprocess import activate
from issueops.sandbox.sandbox import Sandbox
from issueops.sandbox.server import serve

SIZES = tuple(int(s) for s in os.environ.get("BENCH_SCALE_SIZES", "1000,5000,20000").split(","))
AGE_DAYS = 45  # past every SLA of the repository's workflows: reminders and escalations fire
MAX_SETTLE_RUNS = 8
RUN_INTERVAL = 15 * 60  # scheduled runs are minutes apart, and the sandbox clock moves only when told
# The quiet run comes right after the last settling run: as time passes, an item whose SLA
# clock starts to matter costs one label-history read, once (see docs/performance.md).
QUIET_GAP = 0
HERE = Path(__file__).resolve().parent


@dataclass
class Step:
    size: int
    step: str
    items: int  # the divisor: items transitioned (assign, process), managed items (runs)
    made: int
    counted: int
    writes: int
    wall: float
    cpu_client: float
    cpu_sandbox: float
    runs: int = 1
    cache_bytes: int | None = None
    client_rss_kib: int | None = None  # the quiet run's client process: its peak RSS
    client_base_kib: int | None = None  # ... and its RSS before the run (interpreter, imports)


class SandboxTimer:
    """CPU seconds spent inside `Sandbox.handle` (the rest of the process's CPU is the client's)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.seconds = 0.0
        original = sandbox.handle

        def handle(*args: Any, **kwargs: Any) -> Any:
            began = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.process_time() - began

        sandbox.handle = handle  # type: ignore[method-assign]


def build(size: int) -> Sandbox:
    """`bp.build`'s scenario, created over the last day whatever the size."""
    sandbox = bp.build(0)
    start = sandbox.clock.now() - timedelta(days=1)
    spacing = min(30.0, 86_000 / max(size, 1))
    for n in range(size):
        title, body, author, labels = bp._KINDS[n % len(bp._KINDS)]
        created = start + timedelta(seconds=spacing * n)
        issue = sandbox.add_issue(
            title.format(n=n), body.format(n=n), author, labels=("state::triage", *labels), created_at=created
        )
        if n % 4 == 0:
            at = created + timedelta(minutes=5)
            sandbox.add_comment(issue.number, author, "Any update on this?", created_at=at, updated_at=at)
    return sandbox


def quiet_client(spec: Mapping[str, str]) -> None:
    """The quiet run in its own process (`--quiet-run`), against the sandbox served over HTTP: the
    pipeline's `run` of every stage, as in-process, with the sandbox's time as its `now`. Prints
    this process's CPU for the run and its peak RSS, before and after the run."""
    now = datetime.fromisoformat(spec["now"])
    workdir = Path(spec["workdir"])
    opts = bp.Ours.options(spec["api_url"], workdir)
    base = _status_kib("VmRSS")
    began = time.process_time()
    run_stages(
        opts,
        bp.ALL_STAGES,
        clock=VirtualClock(now.timestamp()),  # writes are not expected: nothing is paced
        now=now,
        fetch=bp.quiet_web,
        cache_path=workdir / "etags.json",
    )
    cpu = time.process_time() - began
    peak = _status_kib("VmHWM")
    print(json.dumps({"cpu": cpu, "base_rss_kib": base, "peak_rss_kib": peak}), flush=True)


def _status_kib(field: str) -> int:
    """A figure of /proc/self/status in KiB: this process image's own (`ru_maxrss` would carry the
    bench process's peak over through fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise SystemExit(f"/proc/self/status has no {field}: the quiet run's memory needs Linux")


def one_size(size: int) -> list[Step]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-scale-{size}-"))
    sandbox = build(size)
    server = serve(sandbox)  # for the quiet runs' client process; in-process steps use the same URL
    timer = SandboxTimer(sandbox)
    ours = bp.Ours(sandbox, workdir)
    run_now = ours.run

    gap = [RUN_INTERVAL]

    def scheduled(names: tuple[str, ...]) -> tuple[Any, bp.Cost]:
        sandbox.clock.advance(gap[0])
        # The run's write pacing waits on its own virtual clock, not the sandbox's: at 20,000 items
        # assign and process pace 200,000 writes, 55 hours at one a second, and with the sandbox's
        # clock moving through them the items would cross their SLA thresholds one after another
        # for days: no run would ever be quiet. Every write of a run happens at its start time.
        ours.clock = VirtualClock(sandbox.clock.now().timestamp())
        return run_now(names)

    ours.run = scheduled  # type: ignore[method-assign]
    cache = workdir / "etags.json"
    steps: list[Step] = []

    def step(
        name: str, work: Callable[[], bp.Cost], items: Callable[[bp.Cost], int], **extra: Any
    ) -> bp.Cost:
        cpu, inside = time.process_time(), timer.seconds
        cost = work()
        sandbox_cpu = timer.seconds - inside
        steps.append(
            Step(
                size,
                name,
                items(cost),
                cost.made,
                cost.counted,
                cost.writes,
                cost.wall,
                time.process_time() - cpu - sandbox_cpu,
                sandbox_cpu,
                **extra,
            )
        )
        return cost

    def managed(_: bp.Cost) -> int:
        return len(bp.states(sandbox))

    def settle(name: str) -> None:
        total: list[bp.Cost] = []

        def runs() -> bp.Cost:
            for _ in range(MAX_SETTLE_RUNS):
                total.append(ours.run(bp.ALL_STAGES)[1])
                if total[-1].writes == 0:
                    break
            return bp.Cost(
                made=sum(c.made for c in total),
                counted=sum(c.counted for c in total),
                not_modified=sum(c.not_modified for c in total),
                writes=sum(c.writes for c in total),
                wall=sum(c.wall for c in total),
                virtual=sum(c.virtual for c in total),
            )

        step(name, runs, managed)
        steps[-1].runs = len(total)

    def quiet(name: str) -> None:
        start, gap[0] = len(sandbox.ledger), QUIET_GAP
        sandbox.clock.advance(gap[0])
        spec = {"now": sandbox.clock.now().isoformat(), "workdir": str(workdir), "api_url": sandbox.base_url}
        inside, began = timer.seconds, time.perf_counter()
        child = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--quiet-run", json.dumps(spec)],
            capture_output=True,
            text=True,
            check=False,
            cwd=HERE,
        )
        wall = time.perf_counter() - began
        if child.returncode != 0:
            print(child.stdout[-2000:], child.stderr[-4000:])
            raise SystemExit(f"size {size}, {name}: the client process failed ({child.returncode})")
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        served = sandbox.ledger[start:]
        steps.append(
            Step(
                size,
                name,
                managed(bp.Cost(0, 0, 0, 0, 0.0, 0.0)),
                len(served),
                sum(1 for e in served if e.counted),
                sum(1 for e in served if e.write),
                wall,
                figures["cpu"],
                timer.seconds - inside,
                cache_bytes=cache.stat().st_size if cache.exists() else 0,
                client_rss_kib=figures["peak_rss_kib"],
                client_base_kib=figures["base_rss_kib"],
            )
        )
        gap[0] = RUN_INTERVAL
        kinds = Counter(_kind(e.path) for e in served)
        counted = Counter(f"{_kind(e.path)}?{e.path.partition('?')[2]}" for e in served if e.counted)
        print(f"# {size} {name}: " + ", ".join(f"{k} {v}" for k, v in kinds.most_common(12)), flush=True)
        if counted:
            print(
                f"# {size} {name}, counted: " + ", ".join(f"{k} {v}" for k, v in counted.items()), flush=True
            )
        by_limit = Counter(e.resource or "none" for e in served if e.counted)
        print(
            f"# {size} {name}: counted against the core hourly limit {by_limit['core']}, "
            f"against the search API's own limit {by_limit['search']}",
            flush=True,
        )

    with activate(sandbox):
        step("assign", lambda: ours.run(("assign",))[1], lambda c: c.transitioned)
        step("process", lambda: ours.run(("process",))[1], lambda c: c.transitioned)
        settle("settle (young)")
        quiet("quiet run (young)")
        sandbox.clock.advance(AGE_DAYS * 86_400)
        settle(f"settle (aged {AGE_DAYS} d)")
        quiet(f"quiet run (aged {AGE_DAYS} d)")
    server.stop()
    for done in steps:
        print(json.dumps(asdict(done)), flush=True)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"size": size, "peak_rss_kib": peak_rss}), flush=True)
    return steps


def _kind(path: str) -> str:
    """A request's route with numbers and the query folded: what the quiet run spends on."""
    return re.sub(r"\d+", "N", path.split("?", 1)[0]).removeprefix("/repos/acme/ops")


def _per(value: float, items: int, digits: int = 2) -> str:
    return f"{value / items:.{digits}f}" if items else "n/a"


def table(rows: list[Mapping[str, Any]], rss: Mapping[int, int]) -> str:
    head = (
        "| items | step | runs | requests | counted | writes | made / item | counted / item "
        "| client CPU ms / item | sandbox CPU ms / item | wall s | cache B / item | client peak RSS MiB "
        "| client RSS KiB / item | process peak RSS KiB / item |"
    )
    lines = [head, "|" + " ---: |" * 15]
    for r in rows:
        n = r["items"]
        quiet = r["cache_bytes"] is not None
        peak, base = r.get("client_rss_kib"), r.get("client_base_kib")
        lines.append(
            f"| {r['size']:,} | {r['step']} | {r['runs']} | {r['made']:,} | {r['counted']:,} "
            f"| {r['writes']:,} "
            f"| {_per(r['made'], n, 3 if quiet else 2)} | {_per(r['counted'], n, 3 if quiet else 2)} "
            f"| {_per(r['cpu_client'] * 1000, n)} | {_per(r['cpu_sandbox'] * 1000, n)} | {r['wall']:.1f} "
            f"| {_per(r['cache_bytes'], n, 0) if quiet else ''} "
            f"| {f'{peak / 1024:.0f}' if peak else ''} "
            f"| {_per(peak - base, n, 1) if peak and base else ''} "
            f"| {_per(rss.get(r['size'], 0), r['size'], 1) if quiet else ''} |"
        )
    return "\n".join(lines)


def main() -> None:
    began = time.perf_counter()
    rows: list[dict[str, Any]] = []
    rss: dict[int, int] = {}
    print(
        f"Scale: {', '.join(f'{s:,}' for s in SIZES)} items, each in its own process; aged = +{AGE_DAYS} days"
    )
    for size in SIZES:
        child = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--size", str(size)],
            capture_output=True,
            text=True,
            check=False,
            cwd=HERE,
        )
        if child.returncode != 0:
            print(child.stdout[-2000:], child.stderr[-4000:])
            raise SystemExit(f"size {size}: the benchmark process failed ({child.returncode})")
        for line in child.stdout.splitlines():
            if line.startswith("# "):
                print(f"  {line[2:]}")
            if not line.startswith("{"):
                continue
            data = json.loads(line)
            if "peak_rss_kib" in data:
                rss[data["size"]] = data["peak_rss_kib"]
            else:
                rows.append(data)
                print(
                    f"  {data['size']:>6,} {data['step']:<24} made/item {_per(data['made'], data['items'])}"
                )
    print()
    print(table(rows, rss))
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"\nwall {time.perf_counter() - began:.0f} s; CPU of the benchmark processes "
        f"{children.ru_utime + children.ru_stime:.0f} s (user + system); load average now "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--size":
        one_size(int(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "--quiet-run":
        quiet_client(json.loads(sys.argv[2]))
    else:
        main()
