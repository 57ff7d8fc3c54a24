"""The supervisor page in a real browser, served by a real ``streamlit run``.

AppTest skips the browser, the websocket and the server's own process; this test covers
them: the page must load, show the accounts, and record a pause on a click.
Chromium comes from the system (no browser download; the machine may be offline).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sample_data import SampleSummary

from trade_pipelines.control import APP_USER, load_events
from trade_pipelines.settings import HOME_ENV, PROJECT_ROOT, Paths
from trade_pipelines.warehouse import Warehouse

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
RUNNING = "[data-testid='stApp'][data-test-script-state='running']"
STARTUP_TIMEOUT_S = 60
UI_TIMEOUT_MS = 30_000


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    if found is None:
        pytest.fail("Chromium is not installed; the browser test needs a system Chromium. "
                    "Install it with: apt-get install -y chromium", pytrace=False)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(home: Paths, log: Path) -> Iterator[str]:
    """``streamlit run`` on a free port with ``home`` as the project's home folder."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, HOME_ENV: str(home.home)}
    command = [sys.executable, "-m", "streamlit", "run", "streamlit_app/app.py",
               "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.address", "127.0.0.1", "--server.port", str(port),
               "--server.fileWatcherType", "none"]
    with log.open("w") as output:
        server = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=output,
                                  stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"streamlit exited with {server.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not become healthy:\n{log.read_text()}")
            time.sleep(0.25)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_for_rerun(page: Page, action: object) -> None:
    """Do ``action`` and wait for the rerun it causes to finish.

    The script may start and finish between two polls, so seeing it run is optional;
    the caller then waits for what the rerun should have drawn.
    """
    action()  # type: ignore[operator]
    with contextlib.suppress(Exception):
        page.wait_for_selector(RUNNING, timeout=2_000)
    page.wait_for_selector(IDLE, timeout=UI_TIMEOUT_MS)


def test_supervisor_page_in_chromium(
    filled_home: tuple[Paths, SampleSummary], tmp_path: Path,
) -> None:
    home, sample = filled_home
    executable = chromium_path()
    with streamlit_server(home, tmp_path / "streamlit.log") as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url, timeout=UI_TIMEOUT_MS)
            page.wait_for_selector(IDLE, timeout=UI_TIMEOUT_MS)
            expect(page.get_by_role("heading", name="Supervisor")).to_be_visible()
            expect(page.get_by_test_id("stException")).to_have_count(0)
            expect(page.get_by_text(f"{sample.latest:%a %d %b %Y}").first).to_be_visible()
            # Tables draw on a canvas; their cells are mirrored in an accessible <table>.
            performance = page.get_by_test_id("stDataFrame").first
            for account in ("Aggressive", "Conservative", "Combined", "S&P 500 (rebased)"):
                cell = performance.locator("td").filter(
                    has_text=re.compile(rf"^{re.escape(account)}$"))
                expect(cell).to_have_count(1)
            expect(page.locator(".js-plotly-plot")).to_have_count(1)
            expect(page.get_by_test_id("stExpander")).to_have_count(3)

            reason = page.get_by_label("Reason (recorded with the event)")
            wait_for_rerun(page, lambda: (reason.fill("checked from a real browser"),
                                          reason.press("Enter")))
            expect(page.get_by_text("No control recorded")).to_be_visible()
            # The action defaults to a pause from the next session: press Record.
            record = page.get_by_role("button", name="Record")
            wait_for_rerun(page, record.click)

            expect(page.get_by_text("Trading is paused")).to_be_visible(
                timeout=UI_TIMEOUT_MS)
            page.wait_for_selector(IDLE, timeout=UI_TIMEOUT_MS)
            (event,) = load_events(Warehouse(home.warehouse))
            assert event.action == "pause"
            assert event.reason == "checked from a real browser"
            assert event.recorded_by == APP_USER
            # The app scrolls inside its own container: grow the window to capture it all.
            height = page.evaluate("document.querySelector('[data-testid=stMain]')"
                                   ".scrollHeight")
            page.set_viewport_size({"width": 1400, "height": min(int(height) + 50, 8000)})
            page.wait_for_selector(IDLE, timeout=UI_TIMEOUT_MS)
            page.screenshot(path=str(tmp_path / "supervisor.png"), full_page=True)
        finally:
            browser.close()
