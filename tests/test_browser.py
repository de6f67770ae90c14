"""What a person opens, in a real browser with no network: the dashboard `driftline ui` serves,
the report index, a Data Docs page and an Evidently report.

Headless Debian Chromium; every request off this machine is refused and would fail the
test, as would any request that fails. Screenshots go to the test's temp folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from conftest import write_project
from test_dashboard import POLICY, _scored

from driftline.core.config import load_config
from driftline.core.drift import check_drift
from driftline.core.generator import CATEGORICAL, NUMERIC, Drift, generate
from driftline.core.lineage import PREDICTION_COLUMN
from driftline.orchestration.prefect_server import free_port
from driftline.storage.dashboard import Dashboard
from driftline.storage.expectations import load_suite, run_validation
from driftline.storage.report_index import ReportIndex
from driftline.testing.browser import CHROMIUM, offline_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PANELS = [
    "Share of drifted columns",
    "Prediction drift score",
    "Drift score per column",
    "Prediction mean and distribution",
    "Realised quality on labelled windows",
    "Label-free quality estimate",
    "Promotions",
]


@pytest.fixture(scope="module", autouse=True)
def _chromium() -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (.ci/run installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")


def _project_state(tmp_path: Path) -> Path:
    """A project with what the flows leave: Data Docs, two checks and their reports, indexed."""
    path = write_project(tmp_path, n_rows=600)
    cfg = load_config(path)
    index = ReportIndex.for_config(cfg)
    docs = cfg.state_path / "runs" / "r1" / "validation" / "docs"
    data = pd.concat([pd.read_csv(p) for p in sorted((tmp_path / "data").glob("*.csv"))])
    report = run_validation(data, load_suite(cfg.suite_path), docs, cfg.state_path / "assets")
    assert report.docs_path is not None
    index.add("validation", "passed" if report.success else "failed", "Data Docs", report.docs_path)
    board = Dashboard.for_config(cfg, "binary")
    reference = _scored(generate(800, seed=1), 1)
    board.add_reference("v0001", reference, [])
    for shift in (0.0, 15.0):  # two checks: a line over time
        current = _scored(generate(800, seed=2, drift=Drift(shift={"age": shift})), 2)
        result, drift = check_drift(
            reference, current, NUMERIC, CATEGORICAL, POLICY, PREDICTION_COLUMN, "churned"
        )
        board.add_check(result, drift, current, "v0001", ["2026-12-01 10:00 — → v0001 (promote)"])
    html = cfg.state_path / "runs" / "r2" / "monitoring" / "drift-report.html"
    drift.save_html(html)  # the last check's report (each is a few MB)
    index.add("monitoring", f"{len(result.alerts)} alerts", result.reason, html)
    return path


def _wait_for(url: str, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"driftline ui exited {proc.returncode}"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def test_dashboard_index_and_reports_render_with_no_network(tmp_path: Path) -> None:
    started = time.monotonic()
    config = _project_state(tmp_path)
    print(f"state written in {time.monotonic() - started:.1f} s")
    cfg = load_config(config)
    port = free_port()
    driftline = Path(sys.executable).parent / "driftline"
    proc = subprocess.Popen(
        [str(driftline), "ui", "--config", str(config), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    shots = tmp_path / "screenshots"
    shots.mkdir()
    try:
        _wait_for(f"http://127.0.0.1:{port}/api/projects", proc)
        print(f"dashboard answering after {time.monotonic() - started:.1f} s")
        with offline_page(tmp_path / "profile") as (page, traffic):
            page.goto(f"http://127.0.0.1:{port}/", wait_until="networkidle")
            page.get_by_text(cfg.project).first.click()
            for title in PANELS:
                page.get_by_text(title, exact=True).first.wait_for(timeout=20_000)
            for legend in ("% of features drifted", "age", "live mean", "RocAuc"):
                page.get_by_text(legend, exact=True).first.wait_for(timeout=10_000)
            # its own line: the UI keys lines by metric and column, and drops a duplicate
            page.get_by_text("training reference mean", exact=True).wait_for(timeout=10_000)
            page.wait_for_load_state("networkidle")
            assert page.locator("svg").count() >= len(PANELS) - 1  # a chart per plot panel
            page.screenshot(path=str(shots / "dashboard.png"), full_page=True)

            index = ReportIndex.for_config(cfg)
            page.goto(index.page.as_uri(), wait_until="load")
            rows = page.locator("#reports tbody tr")
            assert rows.count() == len(index.entries()) == 2
            assert rows.first.locator("td").nth(1).inner_text() == "monitoring"  # newest first
            page.screenshot(path=str(shots / "index.png"), full_page=True)

            page.locator("#reports a", has_text="Data Docs").click()
            page.wait_for_load_state("networkidle")
            assert "Great Expectations" in page.title()
            # jQuery, Bootstrap and Vega came from the project's assets folder.
            assert page.evaluate("typeof jQuery === 'function' && typeof vegaEmbed === 'function'")
            page.screenshot(path=str(shots / "data-docs.png"), full_page=True)

            page.goto(index.page.as_uri(), wait_until="load")
            page.locator("#reports a").first.click()
            page.wait_for_load_state("networkidle")
            page.get_by_text("Drift in column 'age'").first.wait_for(timeout=20_000)
            page.screenshot(path=str(shots / "drift-report.png"), full_page=True)

            assert traffic.refused == [], "requests tried to leave the machine"
            assert traffic.failed == [] and traffic.errors == []
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
    assert f"dashboard: http://127.0.0.1:{port}" in out
    assert "Prefect UI:" in out
    assert all((shots / f"{name}.png").stat().st_size > 10_000 for name in ("dashboard", "index"))
