"""The reports as standalone HTML: the Markdown rendered, the three charts inline as SVG,
and the same bytes every time (in this process and in a fresh one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from review_ledger import SESSIONS, build_ledger

from trade_pipelines.agent.reflection.changes import WEEKLY
from trade_pipelines.agent.reflection.horizon_reviews import closed_periods, weekly_review
from trade_pipelines.agent.reflection.html_report import daily_html, period_html

LEDGER = build_ledger()
WEEK = closed_periods(WEEKLY, SESSIONS, SESSIONS, SESSIONS[40], SESSIONS[44])[0]
RENDER = """
import sys
sys.path.insert(0, {tests!r})
from review_ledger import build_ledger, SESSIONS
from trade_pipelines.agent.reflection.html_report import daily_html
ledger = build_ledger()
sys.stdout.write(daily_html("# A day\\n", SESSIONS[50], ledger.accounts, ledger.trades, "USD"))
"""


def page() -> str:
    markdown = weekly_review(LEDGER, WEEK) + "\n<script>alert(1)</script>\n"
    return period_html(markdown, "Weekly review", LEDGER.accounts, LEDGER.trades,
                       WEEK.first, WEEK.last, "USD")


def test_the_page_holds_the_report_and_its_three_charts() -> None:
    html = page()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert html.count("<svg") == 3 and html.count("</svg>") == 3
    for caption in ("Equity of each account against the benchmark, rebased",
                    "P&amp;L by trade (combined account)", "Gross exposure over time"):
        assert f"<figcaption>{caption}</figcaption>" in html
    assert "<h1>Weekly review 2016-W" in html and "<table>" in html
    assert "<script>" not in html  # text from the ledger is escaped, never run


def test_the_page_is_byte_identical_across_renders_and_processes() -> None:
    assert page() == page()
    here = daily_html("# A day\n", SESSIONS[50], LEDGER.accounts, LEDGER.trades, "USD")
    tests = str(Path(__file__).parent)
    fresh = subprocess.run([sys.executable, "-c", RENDER.format(tests=tests)],
                           capture_output=True, text=True, check=True).stdout
    assert fresh == here
    assert here.count("<svg") == 3
