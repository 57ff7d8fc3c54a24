"""The supervisor page, run headless with Streamlit's AppTest against a real warehouse."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from sample_data import PAUSE_REASON, SampleSummary
from streamlit.testing.v1 import AppTest

from trade_pipelines.control import APP_USER, load_events, record_control
from trade_pipelines.market_data.calendar import next_session_after
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
    assert set(orders["Status"]) == {"rejected"}
    assert orders["Outcome"].str.contains(PAUSE_REASON).all()
    assert (orders["Filled"] == 0).all() and (orders["Unfilled"] == orders["Quantity"]).all()
    assert any("refused or cancelled because trading was paused or halted" in w.value
               for w in at.warning)


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
    assert set(orders["Status"]) == {"filled", "rejected"}
    assert orders["Reason"].str.contains("position would exceed 10% of equity").any()
    filled = orders[orders["Status"] == "filled"]
    assert (filled["Filled"] == filled["Quantity"]).all()
    assert filled["Outcome"].str.startswith("filled").all()
    assert (filled["Resolved"] > day).all()  # known at the next session
    assert "stop_loss" in set(orders["Purpose"])  # exits show up beside debated entries


def record_from_page(at: AppTest, action: str, reason: str,
                     effective_from: date | None = None) -> None:
    at.selectbox(key="control_action").select(action)
    at.text_input(key="control_reason").input(reason)
    if effective_from is not None:
        at.date_input(key="control_from").set_value(effective_from)
    at.button(key="control_record").click().run()
    assert not at.exception, [e.value for e in at.exception]


def test_the_page_records_a_pause_event_and_shows_the_state_and_the_log(
    filled_home: tuple[Paths, SampleSummary], app_file: Path,
) -> None:
    home, _ = filled_home
    at = run_app(app_file)
    upcoming = next_session_after(datetime.now(UTC))
    assert at.date_input(key="control_from").value == upcoming  # the next session
    assert "No control recorded" in all_text(at)

    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    record_from_page(at, "pause", "hold during the Fed meeting")
    (event,) = load_events(Warehouse(home.warehouse))
    assert (event.action, event.reason, event.recorded_by, event.effective_from) == (
        "pause", "hold during the Fed meeting", APP_USER, upcoming)
    assert before <= event.recorded_at <= datetime.now(UTC).replace(tzinfo=None)
    assert any(f"Recorded pause from {upcoming}" in m.value for m in at.success)
    banner = at.warning[0].value
    assert "Trading is paused" in banner and "hold during the Fed meeting" in banner
    assert "supervisor app" in banner
    assert "Trading paused" in all_text(at)
    assert at.text_input(key="control_reason").value == ""  # ready for the next note
    log = next(d.value for d in at.dataframe if "Recorded (UTC)" in d.value.columns)
    assert log[["Action", "Reason", "By"]].values.tolist() == [
        ["pause", "hold during the Fed meeting", "supervisor app"]]
    assert list(log["From"]) == [upcoming]

    record_from_page(at, "resume", "review done")
    assert [e.action for e in load_events(Warehouse(home.warehouse))] == ["pause", "resume"]
    assert not any("Trading is paused" in w.value for w in at.warning)
    assert "Trading active" in all_text(at)


def test_a_halt_for_a_past_session_and_a_pause_without_reason(
    filled_home: tuple[Paths, SampleSummary], app_file: Path,
) -> None:
    home, _ = filled_home
    at = run_app(app_file)
    record_from_page(at, "pause", " ")
    assert any("needs a reason" in e.value for e in at.error)
    record_from_page(at, "halt", "broker outage", date(2024, 3, 9))  # a Saturday
    assert any("not an NYSE session" in e.value for e in at.error)
    assert load_events(Warehouse(home.warehouse)) == []
    record_from_page(at, "halt", "broker outage", date(2024, 3, 11))
    (event,) = load_events(Warehouse(home.warehouse))
    assert (event.action, event.effective_from) == ("halt", date(2024, 3, 11))
    assert any("Trading is halted" in e.value for e in at.error)
    assert "Trading halted" in all_text(at)


def test_an_event_recorded_elsewhere_shows_on_the_next_run(
    filled_home: tuple[Paths, SampleSummary], app_file: Path,
) -> None:
    """The warehouse is the truth: a pause recorded from the command line shows."""
    home, _ = filled_home
    at = run_app(app_file)
    assert "Trading active" in all_text(at)
    record_control(Warehouse(home.warehouse), "pause", "broker maintenance", "alice")
    st.cache_data.clear()  # as the Refresh button does; AppTest shares this process
    at.run()
    assert "broker maintenance" in at.warning[0].value and "alice" in at.warning[0].value


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
    record_from_page(at, "pause", "before the first replay")  # controls work with no data
    assert [e.action for e in load_events(Warehouse(home.warehouse))] == ["pause"]


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


def test_busy_warehouse_shows_a_notice_and_controls_say_when_not_recorded(
    filled_home: tuple[Paths, SampleSummary], app_file: Path,
) -> None:
    """A writer holding the file must not break the page: it says "busy", a control
    that could not be written says so (nothing is recorded behind the user's back), and
    the page recovers once the writer lets go."""
    home, _ = filled_home
    with warehouse_held(home.warehouse):
        at = run_app(app_file)
        assert busy_notices(at)
        assert "warehouse busy" in all_text(at)  # the status line says so too
        assert not at.dataframe  # nothing read yet, so nothing to show
        at.session_state["control_from"] = date(2024, 3, 11)
        record_from_page(at, "pause", "hold")
        assert any("Not recorded" in w.value and "busy" in w.value for w in at.warning)

    assert load_events(Warehouse(home.warehouse)) == []
    record_from_page(at, "pause", "hold")
    assert not busy_notices(at)
    assert [e.reason for e in load_events(Warehouse(home.warehouse))] == ["hold"]
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


def test_the_page_shows_the_home_markets_name_currency_and_benchmark(
    home: Paths, app_file: Path,
) -> None:
    from sample_data import fill_warehouse

    from trade_pipelines.home_market import claim_home_market

    us = run_app(app_file)  # a new home is a US one
    assert "**Market:** US stocks (NYSE/Nasdaq), USD (benchmark S&P 500)" in all_text(us)
    claim_home_market("hk", home)
    st.cache_data.clear()
    empty = run_app(app_file)
    assert any("`trade-pipelines replay --market hk --start 2016-01-01" in i.value
               for i in empty.info)
    fill_warehouse(Warehouse(home.warehouse))
    st.cache_data.clear()  # what the Refresh button does
    at = run_app(app_file)
    text = all_text(at)
    assert "**Market:** Hong Kong stocks (HKEX), HKD (benchmark Hang Seng Index)" in text
    assert "Amounts in HKD. Accounts start at HKD 1,000,000" in text
    assert list(table(at, "performance")["Account"])[-1] == "Hang Seng Index (rebased)"
