"""The supervisor page, run headless with Streamlit's AppTest against a real warehouse."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from sample_data import PAUSE_REASON, SampleSummary
from streamlit.testing.v1 import AppTest

from trade_pipelines.control import read_pause_state, set_paused
from trade_pipelines.settings import Paths
from trade_pipelines.warehouse import Warehouse

TIMEOUT_S = 30


def run_app(app_file: Path) -> AppTest:
    at = AppTest.from_file(str(app_file), default_timeout=TIMEOUT_S)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def all_text(at: AppTest) -> str:
    """Every piece of text the page rendered, to search without knowing its element."""
    parts = [e.value for kind in ("title", "subheader", "markdown", "caption", "info",
                                  "warning", "error") for e in getattr(at, kind)]
    parts += [e.label for e in at.expander]
    return "\n".join(str(p) for p in parts)


# A table is known by a column only it has (``st.dataframe`` exposes no key to AppTest).
TABLE_COLUMNS = {"performance": "Max drawdown", "decisions": "Verdict", "orders": "Status"}


def table(at: AppTest, name: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if TABLE_COLUMNS[name] in d.value.columns)


def test_page_shows_accounts_decisions_transcript_and_orders(
    filled_home: tuple[Paths, SampleSummary], app_file: Path,
) -> None:
    _, sample = filled_home
    at = run_app(app_file)
    text = all_text(at)

    assert at.title[0].value == "Supervisor"
    assert f"{sample.latest:%a %d %b %Y}" in text
    assert "Trading active" in text
    assert not any("Trading is paused" in w.value for w in at.warning)

    performance = table(at, "performance")
    assert list(performance["Account"]) == [
        "Aggressive", "Conservative", "Combined", "S&P 500 (rebased)"]
    latest = sample.accounts[sample.accounts["as_of"] == sample.latest].set_index("account")
    assert performance["Equity"].iloc[0] == pytest.approx(latest.loc["aggressive", "equity"])
    assert at.get("plotly_chart"), "the equity chart is missing"

    # The day picker defaults to the latest decision day and shows its decisions.
    assert at.selectbox(key="decision_day").value == sample.latest
    decisions = table(at, "decisions")
    expected = sample.decisions[sample.decisions["as_of"] == sample.latest]
    assert sorted(decisions["Symbol"]) == sorted(expected["symbol"])
    assert set(decisions["Verdict"]) == {"execute", "adjust", "drop"}
    assert decisions["Confidence"].max() <= 100
    assert decisions["Low certainty"].dtype == bool
    assert list(decisions["Orders"]) == [3, 2, 1]  # one per account the verdict sized

    # One expander per decision, holding the debate grouped by round and speaker.
    assert len(at.expander) == len(expected)
    first = expected.iloc[0]
    debate = next(e for e in at.expander if e.label.startswith(first["symbol"]))
    debate_text = "\n".join(m.value for m in debate.markdown)
    assert f"Proposal: {first['side']} {first['symbol']} at " in debate_text
    assert "**Round 1**" in debate_text and "**Round 3**" in debate_text
    assert "**Judge**" in debate_text and "Verdict: EXECUTE" in debate_text
    assert "M-0000" in debate_text and "AAPL breakout after earnings" in debate_text
    assert {c.name for c in debate.chat_message} >= {"aggressive", "conservative", "quant",
                                                     "judge"}

    # Orders refused while paused are listed with their reason.
    orders = table(at, "orders")
    assert set(orders["Status"]) == {"paused"}
    assert orders["Reason"].str.contains(PAUSE_REASON).all()
    assert any("refused because trading was paused" in w.value for w in at.warning)


def test_choosing_another_day_shows_its_decisions_and_orders(
    filled_home: tuple[Paths, SampleSummary], app_file: Path,
) -> None:
    _, sample = filled_home
    at = run_app(app_file)
    day = sample.days[1]
    at.selectbox(key="decision_day").select(day).run()
    assert not at.exception

    expected = sample.decisions[sample.decisions["as_of"] == day]
    assert sorted(table(at, "decisions")["Symbol"]) == sorted(expected["symbol"])
    orders = table(at, "orders")
    assert set(orders["Status"]) == {"accepted", "rejected"}
    assert orders["Reason"].str.contains("position would exceed 10% of equity").any()
    assert "stop_loss" in set(orders["Purpose"])  # exits show up beside debated entries


def test_pause_toggle_writes_the_control_file_and_warns(
    filled_home: tuple[Paths, SampleSummary], app_file: Path,
) -> None:
    home, _ = filled_home
    at = run_app(app_file)
    assert read_pause_state(home.control).paused is False

    at.text_input(key="pause_reason").input("hold during the Fed meeting")
    at.toggle(key="pause_toggle").set_value(True).run()
    assert not at.exception

    state = read_pause_state(home.control)
    assert state.paused is True
    assert state.reason == "hold during the Fed meeting"
    assert state.changed_by == "supervisor app"
    banner = at.warning[0].value
    assert "Trading is paused" in banner and "hold during the Fed meeting" in banner
    assert "Trading paused" in all_text(at)
    assert at.toggle(key="pause_toggle").value is True
    assert at.text_input(key="pause_reason").value == ""  # ready for the resume note

    at.toggle(key="pause_toggle").set_value(False).run()
    state = read_pause_state(home.control)
    assert state.paused is False and state.reason == "resumed from the supervisor app"
    assert not any("Trading is paused" in w.value for w in at.warning)


def test_toggle_follows_a_switch_flipped_elsewhere(
    filled_home: tuple[Paths, SampleSummary], app_file: Path,
) -> None:
    """The file is the truth: a pause set from the command line shows on the next run."""
    home, _ = filled_home
    at = run_app(app_file)
    assert at.toggle(key="pause_toggle").value is False

    set_paused(home.control, True, "broker maintenance", "cli")
    at.run()
    assert at.toggle(key="pause_toggle").value is True
    assert "broker maintenance" in at.warning[0].value and "cli" in at.warning[0].value


@pytest.mark.parametrize("migrated", [False, True], ids=["no-file", "no-rows"])
def test_empty_warehouse_says_how_to_fill_it(
    home: Paths, app_file: Path, migrated: bool,
) -> None:
    if migrated:
        Warehouse(home.warehouse).migrate()
    at = run_app(app_file)
    assert any("No data yet" in i.value and "trade-pipelines replay" in i.value
               for i in at.info)
    assert not at.dataframe
    assert at.toggle(key="pause_toggle").value is False  # the switch works with no data


HOLD_LOCK = textwrap.dedent("""
    import sys, duckdb
    connection = duckdb.connect(sys.argv[1])  # read-write: excludes every other process
    print("locked", flush=True)
    sys.stdin.readline()
    connection.close()
""")


@contextlib.contextmanager
def warehouse_held(path: Path) -> Iterator[None]:
    """Another process holding the warehouse open for writing, as a long replay
    transaction does, until the block ends."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.communicate("\n", timeout=TIMEOUT_S)


def busy_notices(at: AppTest) -> list[str]:
    return [i.value for i in at.info if "Warehouse busy" in i.value]


def test_busy_warehouse_shows_a_notice_and_pause_still_works(
    filled_home: tuple[Paths, SampleSummary], app_file: Path,
) -> None:
    """A writer holding the file must not break the page: it says "busy", keeps the
    pause switch usable, and recovers once the writer lets go."""
    home, _ = filled_home
    with warehouse_held(home.warehouse):
        at = run_app(app_file)
        assert busy_notices(at)
        assert "warehouse busy" in all_text(at)  # the status line says so too
        assert not at.dataframe  # nothing read yet, so nothing to show

        at.toggle(key="pause_toggle").set_value(True).run()
        assert not at.exception
        assert read_pause_state(home.control).paused is True

    at.run()
    assert not at.exception
    assert not busy_notices(at)
    assert "Aggressive" in list(table(at, "performance")["Account"])


def test_busy_warehouse_keeps_showing_the_last_read(
    filled_home: tuple[Paths, SampleSummary], app_file: Path,
) -> None:
    home, sample = filled_home
    at = run_app(app_file)
    st.cache_data.clear()  # AppTest runs the page in this process: same cache
    with warehouse_held(home.warehouse):
        at.run()
        assert not at.exception
        notices = busy_notices(at)
        assert notices and "Showing what was read at" in notices[0]
        assert "Aggressive" in list(table(at, "performance")["Account"])
        assert len(table(at, "decisions")) == len(
            sample.decisions[sample.decisions["as_of"] == sample.latest])


def test_refresh_reads_rows_written_since_the_last_run(
    filled_home: tuple[Paths, SampleSummary], app_file: Path,
) -> None:
    """The replay keeps writing while the page is open; Refresh shows it at once."""
    home, sample = filled_home
    at = run_app(app_file)
    next_day = pd.Timestamp(sample.latest) + pd.offsets.BDay(1)
    rows = sample.accounts[sample.accounts["as_of"] == sample.latest].assign(
        as_of=next_day.date())
    Warehouse(home.warehouse).append("accounts", rows)

    at.button[0].click().run()
    assert not at.exception
    assert f"{next_day:%a %d %b %Y}" in all_text(at)
