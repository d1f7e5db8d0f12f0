"""The HTML report in a real browser: headless Chromium draws every chart with its series.

A probe script is added to a copy of the report (the report itself has no script); it measures
each mark (`getBBox`, `getTotalLength`) and the page width, and writes the figures into the DOM,
which `--dump-dom` hands back. In CI (CI=true) a missing Chromium is a failure, not a skip:
`.ci/run` installs it.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from telemetry_fixture import HAND_COUNT, write_fixture

from issueops.telemetry.report import build_report, render

CHARTS = {
    "states-now",
    "throughput",
    "time-in-state",
    "approval-denials",
    "flow-through",
    "failures",
    "api-requests",
}
PHONE = (390, 844)
DESKTOP = (1280, 900)

PROBE = """
<script>
(function () {
  var out = {width: window.innerWidth, overflow: document.documentElement.scrollWidth - window.innerWidth,
             charts: {}};
  document.querySelectorAll('[data-chart]').forEach(function (fig) {
    var marks = [];
    fig.querySelectorAll('[data-series]').forEach(function (el) {
      var box = el.getBBox();
      marks.push({tag: el.tagName, series: el.dataset.series, label: el.dataset.label || null,
                  value: el.dataset.value === undefined ? null : Number(el.dataset.value),
                  values: el.dataset.values || null, w: box.width, h: box.height,
                  length: el.tagName === 'polyline' ? el.getTotalLength() : null,
                  fill: getComputedStyle(el).fill, stroke: getComputedStyle(el).stroke});
    });
    var svg = fig.querySelector('svg');
    var rect = svg ? svg.getBoundingClientRect() : null;
    out.charts[fig.dataset.chart] = {empty: fig.dataset.empty === 'true', marks: marks,
      width: rect ? rect.width : 0, height: rect ? rect.height : 0, right: rect ? rect.right : 0};
  });
  var host = window.parent.document;  // the page holding the iframe: what --dump-dom returns
  var pre = host.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  host.body.appendChild(pre);
})();
</script>
"""


def _chromium() -> str:
    found = next(
        (
            shutil.which(name)
            for name in ("chromium", "chromium-browser", "google-chrome")
            if shutil.which(name)
        ),
        None,
    )
    if found:
        return found
    message = "headless Chromium is missing (Debian: apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI must have it: .ci/run installs it when running as root")
    pytest.skip(message)


def _run_chromium(tmp_path: Path, size: tuple[int, int], *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{size[0]}-{len(list(tmp_path.iterdir()))}"
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={size[0]},{size[1]}",
        *args,
    ]
    env = {**os.environ, "HOME": str(tmp_path)}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=False)


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("browser")
    write_fixture(directory / "telemetry")
    page = directory / "report.html"
    page.write_text(render(build_report(directory / "telemetry"), "html"), encoding="utf-8")
    return page


def _probe(tmp_path: Path, page: Path, size: tuple[int, int]) -> dict[str, Any]:
    """Load the report in an iframe exactly `size[0]` CSS pixels wide (headless windows have a
    minimum width, an iframe does not) and return what the probe measured."""
    probed = page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>")
    host = tmp_path / "host.html"
    host.write_text(
        '<!doctype html><html><body style="margin:0">'
        f'<iframe style="border:0;display:block;width:{size[0]}px;height:8000px" '
        f'srcdoc="{html.escape(probed, quote=True)}"></iframe></body></html>',
        encoding="utf-8",
    )
    done = _run_chromium(tmp_path, (1400, 900), "--dump-dom", host.as_uri())
    match = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.DOTALL)
    assert match, f"no probe output from chromium (exit {done.returncode}): {done.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return result


def _marks(probe: dict[str, Any], chart: str, series: str, tag: str = "rect") -> list[dict[str, Any]]:
    return [m for m in probe["charts"][chart]["marks"] if m["series"] == series and m["tag"] == tag]


def _proportional(marks: list[dict[str, Any]], dimension: str) -> None:
    """Each drawn mark's size is its value times one scale (zero draws nothing)."""
    scales = []
    for mark in marks:
        if mark["value"] == 0:
            assert mark[dimension] == pytest.approx(0, abs=0.01), mark
        else:
            assert mark[dimension] > 0, mark
            scales.append(mark[dimension] / mark["value"])
    assert scales, "nothing drawn"
    assert max(scales) == pytest.approx(min(scales), rel=0.01)


# (chart, series, expected {label: value}, the dimension that carries the value)
SERIES: list[tuple[str, str, dict[str, float], str]] = [
    ("states-now", "items", {k: float(v) for k, v in HAND_COUNT["states_now"].items()}, "w"),
    ("throughput", "done", {"11-20": 1, "11-21": 1, "11-22": 1}, "h"),
    (
        "time-in-state",
        "p50",
        {"triage": 1, "assigned": 1, "in-progress": 1, "awaiting-approval": 2, "approved": 1, "failed": 1.5},
        "w",
    ),
    (
        "time-in-state",
        "p95",
        {
            "triage": 24,
            "assigned": 12,
            "in-progress": 24,
            "awaiting-approval": 4,
            "approved": 2,
            "failed": 1.5,
        },
        "w",
    ),
    ("approval-denials", "denied", {"self_approval": 1, "not_collaborator": 1}, "w"),
    ("failures", "events", {"permanent/validation": 1, "transient/timeout": 1}, "w"),
    ("flow-through", "hands_off", {"approvals only": 1}, "w"),
    ("flow-through", "intervened", {"a manual command": 2}, "w"),
]


@pytest.fixture(scope="module")
def phone_probe(report_html: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _probe(tmp_path_factory.mktemp("phone"), report_html, PHONE)


@pytest.mark.parametrize(
    ("chart", "series", "expected", "dimension"), SERIES, ids=[f"{c}:{s}" for c, s, _, _ in SERIES]
)
def test_chart_series_drawn(
    phone_probe: dict[str, Any], chart: str, series: str, expected: dict[str, float], dimension: str
) -> None:
    marks = _marks(phone_probe, chart, series)
    assert {m["label"]: m["value"] for m in marks} == expected
    _proportional(marks, dimension)
    for mark in marks:
        assert mark["fill"] not in ("none", "rgb(0, 0, 0)"), mark  # coloured by the stylesheet


def test_every_chart_is_drawn(phone_probe: dict[str, Any]) -> None:
    assert set(phone_probe["charts"]) == CHARTS
    for name, chart in phone_probe["charts"].items():
        assert not chart["empty"], name
        assert chart["width"] > 200 and chart["height"] > 20, (name, chart["width"], chart["height"])


def test_line_chart_series_drawn(phone_probe: dict[str, Any]) -> None:
    for series, values in (("requests_made", [20, 40, 6]), ("requests_counted", [15, 30, 6])):
        (line,) = _marks(phone_probe, "api-requests", series, "polyline")
        assert line["values"] == ",".join(str(v) for v in values)
        assert line["length"] > 100
        assert line["fill"] == "none" and line["stroke"] != "none"
        dots = _marks(phone_probe, "api-requests", series, "circle")
        assert [d["value"] for d in dots] == values
        assert all(d["w"] > 0 for d in dots)


def test_phone_layout_does_not_scroll_sideways(phone_probe: dict[str, Any]) -> None:
    assert phone_probe["width"] == PHONE[0]
    assert phone_probe["overflow"] <= 0
    for name, chart in phone_probe["charts"].items():
        assert chart["right"] <= PHONE[0], name


def test_desktop_layout(report_html: Path, tmp_path: Path) -> None:
    probe = _probe(tmp_path, report_html, DESKTOP)
    assert probe["overflow"] <= 0
    assert set(probe["charts"]) == CHARTS


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("size", [PHONE], ids=["phone"])
def test_screenshot(report_html: Path, tmp_path: Path, size: tuple[int, int]) -> None:
    """A screenshot for people to look at (kept in the test's tmp dir); it must be a real image."""
    shot = tmp_path / f"report-{size[0]}.png"
    done = _run_chromium(tmp_path, (size[0], 2400), f"--screenshot={shot}", report_html.as_uri())
    assert shot.exists(), done.stderr[-2000:]
    assert _png_size(shot) == (size[0], 2400)
    assert shot.stat().st_size > 20_000  # a blank page compresses to a few kB
