"""Supervisor: watch the agent's accounts and debates, and pause, halt or resume its
trading.

Run with ``streamlit run streamlit_app/app.py``. The page reads the warehouse in short
read-only connections, so it can stay open while a replay writes. A control (pause,
resume, halt) is a dated event the page records in the warehouse with "supervisor app"
as its author: one short write that waits a few seconds for a busy writer, and says so
when it could not, rather than blocking the page.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

import duckdb
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

# ``streamlit run`` puts only this folder on sys.path; the page also imports its sibling
# module as ``streamlit_app.queries``, so the project root must be importable too.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from streamlit_app import queries  # noqa: E402
from trade_pipelines.agent.execution.controls import (  # noqa: E402
    ControlSchedule,
    TradingState,
    events_from_rows,
)
from trade_pipelines.control import (  # noqa: E402
    APP_USER,
    ControlError,
    default_effective_from,
    record_control,
)
from trade_pipelines.settings import paths  # noqa: E402
from trade_pipelines.warehouse import Warehouse, WarehouseLockedError  # noqa: E402

# A control is worth waiting for a little longer than a read.
CONTROL_LOCK_TIMEOUT_S = 10.0
# Short lock budget: a page that hangs for a minute behind a long replay transaction is
# worse than one that says "busy" and tries again a moment later.
LOCK_TIMEOUT_S = 2.0
RETRY_EVERY_S = 2.0
CACHE_TTL_S = 5

T = TypeVar("T")

ACTION_KEY = "control_action"
REASON_KEY = "control_reason"
FROM_KEY = "control_from"
RECORD_KEY = "control_record"
OUTCOME_KEY = "_control_outcome"
DAY_KEY = "decision_day"

LABELS = {"aggressive": "Aggressive", "conservative": "Conservative", "combined": "Combined",
          queries.BENCHMARK: "S&P 500 (rebased)"}
COLORS = {"aggressive": "#d62728", "conservative": "#1f77b4", "combined": "#2ca02c",
          queries.BENCHMARK: "#7f7f7f"}
# Material icons ship with Streamlit, so they render even where no emoji font is installed.
ROLE_AVATARS = {"aggressive": ":material/trending_up:", "conservative": ":material/shield:",
                "quant": ":material/query_stats:", "judge": ":material/gavel:"}
VERDICT_ICONS = {"execute": ":material/check_circle:", "adjust": ":material/tune:",
                 "drop": ":material/cancel:"}
STATUS_ICONS = {"filled": ":green[:material/check_circle:]",
                "partially_filled": ":green[:material/incomplete_circle:]",
                "pending": ":blue[:material/schedule:]",
                "expired": ":gray[:material/timer_off:]",
                "cancelled": ":orange[:material/cancel:]",
                "rejected": ":red[:material/block:]"}
STATUS_COLORS = {"filled": "#1b7f3b", "partially_filled": "#5b8c2a", "pending": "#1f5fbf",
                 "expired": "#6b6b6b", "cancelled": "#d46b08", "rejected": "#c62828"}
ACTION_LABELS = {"pause": "Pause entries", "halt": "Halt and flatten",
                 "resume": "Resume entries"}


# -- cached reads (keyed by the warehouse path, so each home has its own entries) ---------

def _warehouse(path: str) -> Warehouse:
    return Warehouse(path, lock_timeout_s=LOCK_TIMEOUT_S)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def load_overview(path: str) -> queries.Overview:
    return queries.load_overview(_warehouse(path))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def load_day(path: str, day: date) -> queries.DayDetail:
    return queries.load_day(_warehouse(path), day)


# -- controls -----------------------------------------------------------------------------

@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def load_controls(path: str) -> pd.DataFrame:
    return queries.control_log(_warehouse(path))


def _next_session() -> date:
    return default_effective_from()


def _schedule(log: pd.DataFrame | None) -> ControlSchedule | None:
    return None if log is None else ControlSchedule(events_from_rows(log))


def _on_record(warehouse_path: str) -> None:
    """Record the event the moment the button is pressed, before the page re-renders."""
    action = st.session_state[ACTION_KEY]
    reason = str(st.session_state.get(REASON_KEY) or "").strip()
    try:
        event = record_control(Warehouse(warehouse_path, lock_timeout_s=CONTROL_LOCK_TIMEOUT_S),
                               action, reason, APP_USER, st.session_state[FROM_KEY])
    except ControlError as error:
        st.session_state[OUTCOME_KEY] = ("error", f"Not recorded: {error}.")
        return
    except WarehouseLockedError:
        st.session_state[OUTCOME_KEY] = (
            "warning", "Not recorded: the warehouse stayed busy (a replay is writing). "
                       "Press the button again in a moment.")
        return
    st.session_state[OUTCOME_KEY] = (
        "success", f"Recorded {event.action} from {event.effective_from}.")
    st.session_state[REASON_KEY] = ""
    load_controls.clear()


def render_trading_state(state: TradingState | None, upcoming: date) -> None:
    if state is None or state.mode == "active":
        return
    what = ("refuses new entries and cancels entries due to fill; stops, take-profit and "
            "time exits still fill" if state.mode == "paused" else
            "sold every position at that session's bar and refuses new entries")
    text = (f"**Trading is {state.mode}** from {state.since} (state for the next session, "
            f"{upcoming}). Reason: {state.reason or 'none given'}  \n"
            f"Recorded by {state.by or 'unknown'}. The ledger {what} until a resume.")
    if state.halted:
        st.error(text, icon=":material/front_hand:")
    else:
        st.warning(text, icon=":material/pause_circle:")


def render_controls(warehouse_path: str, log: pd.DataFrame | None, upcoming: date) -> None:
    with st.container(border=True):
        st.markdown("**Controls** · each is an event with who, when, why and the first "
                    "session it applies to")
        action_col, reason_col, from_col, button_col = st.columns(
            [2, 4, 2, 1], vertical_alignment="bottom")
        action_col.selectbox("Action", list(ACTION_LABELS), key=ACTION_KEY,
                             format_func=ACTION_LABELS.__getitem__)
        reason_col.text_input("Reason (recorded with the event)", key=REASON_KEY,
                              placeholder="e.g. review before earnings week")
        if FROM_KEY not in st.session_state:
            st.session_state[FROM_KEY] = upcoming
        from_col.date_input("From session", key=FROM_KEY,
                            help="The first NYSE session it applies to; by default the "
                                 "next one. A past session applies when that range is "
                                 "replayed again.")
        button_col.button("Record", key=RECORD_KEY, type="primary", width="stretch",
                          on_click=_on_record, args=(warehouse_path,))
        outcome = st.session_state.pop(OUTCOME_KEY, None)
        if outcome is not None:
            getattr(st, outcome[0])(outcome[1])
        if log is None:
            st.caption("The control log could not be read (the warehouse is busy).")
        elif log.empty:
            st.caption("No control recorded: trading is active.")
        else:
            shown = log.sort_values(["effective_from", "recorded_at"], ascending=False)
            st.dataframe(pd.DataFrame({
                "From": pd.to_datetime(shown["effective_from"]).dt.date,
                "Action": shown["action"], "Reason": shown["reason"],
                "By": shown["recorded_by"],
                "Recorded (UTC)": pd.to_datetime(shown["recorded_at"]),
            }), hide_index=True, key="controls_table", column_config={
                "Recorded (UTC)": st.column_config.DatetimeColumn(
                    format="YYYY-MM-DD HH:mm:ss")})


# -- sections -----------------------------------------------------------------------------

def _forget_cached_reads() -> None:
    """Runs before the page does, so the rerun the click causes reads afresh."""
    load_overview.clear()
    load_day.clear()
    load_controls.clear()


def render_status(overview: queries.Overview | None, state: TradingState | None,
                  busy: bool) -> None:
    if overview is None:
        latest = "unknown"
    else:
        latest = f"{overview.latest:%a %d %b %Y}" if overview.latest else "none yet"
    if busy:
        latest += " :orange-badge[:material/hourglass_top: warehouse busy]"
    if state is None:
        trading = ":orange-badge[trading state unknown]"
    elif state.halted:
        trading = ":red-badge[:material/front_hand: Trading halted]"
    elif state.mode == "paused":
        trading = ":red-badge[:material/pause: Trading paused]"
    else:
        trading = ":green-badge[:material/play_arrow: Trading active]"
    status_col, refresh_col = st.columns([6, 1], vertical_alignment="center")
    status_col.markdown(f"**Latest trading day:** {latest} &nbsp;·&nbsp; {trading}")
    refresh_col.button("Refresh", icon=":material/refresh:", width="stretch",
                       on_click=_forget_cached_reads,
                       help=f"Reads are cached for {CACHE_TTL_S} s; this reads again now.")


def read_or_last(kind: str, key: object, load: Callable[[], T]) -> tuple[T | None, float | None]:
    """A fresh read, or, while a writer holds the warehouse, the last good read of the
    same thing, so the page keeps showing data instead of going blank.

    Returns the value and, when it is stale, the time it was read (``None`` if fresh).
    """
    remembered: dict[str, tuple[object, object, float]] = st.session_state.setdefault(
        "_last_reads", {})
    try:
        value = load()
    except WarehouseLockedError:
        last = remembered.get(kind)
        if last is not None and last[0] == key:
            return last[1], last[2]  # type: ignore[return-value]
        return None, 0.0
    except duckdb.Error as error:  # e.g. a warehouse from an incompatible schema
        st.error(f"Could not read the warehouse: {error}", icon=":material/error:")
        return None, None
    remembered[kind] = (key, value, time.time())
    return value, None


def render_busy(notice: DeltaGenerator, stale_since: float) -> None:
    """Say the replay is writing and retry shortly, without blocking the page."""
    shown = (f" Showing what was read at {datetime.fromtimestamp(stale_since):%H:%M:%S}."
             if stale_since else "")
    notice.info(f"Warehouse busy: the replay is writing.{shown} "
                f"Retrying every {RETRY_EVERY_S:.0f} s…", icon=":material/hourglass_top:")
    st.session_state["_busy_ticks"] = 0

    @st.fragment(run_every=RETRY_EVERY_S)
    def retry() -> None:
        # The fragment's first run is part of this page run; later runs are timer ticks.
        if st.session_state.get("_busy_ticks", 0) > 0:
            st.rerun()
        st.session_state["_busy_ticks"] = 1

    retry()


def render_performance(overview: queries.Overview) -> None:
    st.subheader("Accounts vs benchmark")
    curves = queries.equity_curves(overview.history)
    if curves.empty:
        st.info("No account history yet.")
        return
    figure = go.Figure()
    few_days = len(curves) <= 30
    for name in curves.columns:
        series = curves[name].dropna()
        if series.empty:
            continue
        figure.add_trace(go.Scatter(
            x=list(series.index), y=series.values, name=LABELS.get(name, name),
            # Markers on a short history: each day is visible, and the axis gets padding.
            mode="lines+markers" if few_days else "lines", marker={"size": 5},
            line={"color": COLORS.get(name), "width": 2,
                  "dash": "dash" if name == queries.BENCHMARK else "solid"},
            hovertemplate="%{y:$,.0f}"))
    figure.add_hline(y=queries.STARTING_EQUITY, line={"color": "#bbbbbb", "width": 1,
                                                      "dash": "dot"})
    figure.update_layout(
        height=380, margin={"l": 10, "r": 10, "t": 30, "b": 10}, hovermode="x unified",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        yaxis={"tickformat": "$,.0f", "title": None},
        # Trading days only: no flat weekend segments, no intraday hour ticks.
        xaxis={"title": None, "tickformat": "%d %b %Y",
               "rangebreaks": [{"bounds": ["sat", "mon"]}]})
    if few_days:  # label each day (automatic ticks would fall between them)
        figure.update_xaxes(tickvals=list(curves.index))
    st.plotly_chart(figure, key="equity_chart")

    table = queries.performance(curves)
    display = pd.DataFrame({
        "Account": [LABELS.get(s, s) for s in table["series"]],
        "Equity": table["equity"],
        "Total return": table["total_return"] * 100,
        "vs benchmark": table["excess_return"] * 100,
        "Drawdown": table["drawdown"] * 100,
        "Max drawdown": table["max_drawdown"] * 100,
    })
    percent = st.column_config.NumberColumn(format="%.2f%%")
    signed = st.column_config.NumberColumn(format="%+.2f%%")
    st.dataframe(display, hide_index=True, key="performance_table", placeholder="—",
                 column_config={"Equity": st.column_config.NumberColumn(format="dollar"),
                                "Total return": signed, "vs benchmark": signed,
                                "Drawdown": percent, "Max drawdown": percent})
    st.caption("Accounts start at $1,000,000; the benchmark is rebased to $1,000,000 at the "
               f"first day shown ({curves.index[0]:%d %b %Y}). Drawdown is from the running "
               "peak, counting the starting capital as the first peak.")


def _day_label(days: pd.DataFrame) -> dict[date, str]:
    labels = {}
    for row in days.itertuples(index=False):
        text = f"{row.as_of:%a %d %b %Y} · {row.n_decisions} decisions · {row.n_orders} orders"
        if row.n_rejected:
            text += f" · {row.n_rejected} rejected"
        if row.n_cancelled:
            text += f" · {row.n_cancelled} cancelled"
        labels[row.as_of] = text
    return labels


def select_day(overview: queries.Overview) -> date | None:
    st.subheader("Decisions")
    if overview.days.empty:
        st.info("No decisions recorded yet.")
        return None
    labels = _day_label(overview.days)
    options = list(labels)
    default = queries.default_day(overview.days)
    return st.selectbox("Trading day", options, index=options.index(default), key=DAY_KEY,
                        format_func=labels.__getitem__)


def _render_transcript(raw: object) -> None:
    rounds = queries.parse_transcript(raw)
    if not rounds:
        st.caption("No transcript stored.")
        return
    for debate_round in rounds:
        st.markdown(f"**Round {debate_round.number}**")
        for turn in debate_round.turns:
            with st.chat_message(turn.role,
                                 avatar=ROLE_AVATARS.get(turn.role, ":material/forum:")):
                body = "\n".join(f"- {text}" for text in turn.texts) if len(turn.texts) > 1 \
                    else turn.texts[0]
                st.markdown(f"**{turn.role.capitalize()}**\n\n{body}")


def _render_memories(raw: object, memories: pd.DataFrame) -> None:
    ids = queries.parse_memory_ids(raw)
    st.markdown("**Memories used**")
    if not ids:
        st.caption("None: no similar past setup was recalled.")
        return
    known = memories.set_index("memory_id") if not memories.empty else pd.DataFrame()
    lines = []
    for memory_id in ids:
        if memory_id in known.index:
            m = known.loc[memory_id]
            lines.append(f"- `{memory_id}` ({m['kind']}, {m['tier']}, {m['as_of']}): "
                         f"{m['text']}")
        else:
            lines.append(f"- `{memory_id}` (not in the warehouse)")
    st.markdown("\n".join(lines))


def render_decisions(detail: queries.DayDetail) -> None:
    decisions = detail.decisions
    if decisions.empty:
        st.info("No decisions on this day.")
        return
    display = pd.DataFrame({
        "Symbol": decisions["symbol"],
        "Side": decisions["side"],
        "Verdict": decisions["verdict"],
        "Confidence": decisions["confidence"].astype(float) * 100,
        "Low certainty": decisions["low_certainty"].astype(bool),
        # An executed decision may place no order (already held, or no room left).
        "Orders": decisions["decision_id"].map(
            detail.orders.groupby("decision_id").size()).fillna(0).astype(int),
        "Summary": decisions["summary"],
    })
    narrow = st.column_config.TextColumn(width="small")
    st.dataframe(display, hide_index=True, key="decisions_table", column_config={
        "Symbol": narrow, "Side": narrow, "Verdict": narrow,
        "Confidence": st.column_config.ProgressColumn(min_value=0, max_value=100,
                                                      format="%.0f%%", width="small"),
        "Low certainty": st.column_config.CheckboxColumn(width="small"),
        "Orders": st.column_config.NumberColumn(width="small"),
        "Summary": st.column_config.TextColumn(width="large"),
    })
    st.markdown("**Debates**")
    for row in decisions.itertuples(index=False):
        flag = " · low certainty" if row.low_certainty else ""
        label = (f"{row.symbol} {row.side} — {row.verdict} at "
                 f"{float(row.confidence):.0%}{flag}")
        with st.expander(label, key=f"debate_{row.decision_id}",
                         icon=VERDICT_ICONS.get(row.verdict, ":material/forum:")):
            st.caption(row.summary)
            _render_transcript(row.transcript)
            _render_memories(row.memories_used, detail.memories)


def render_orders(detail: queries.DayDetail) -> None:
    st.subheader("Orders")
    orders = detail.orders
    if orders.empty:
        st.info("No orders on this day.")
        return
    counts = orders["status"].value_counts()
    st.markdown(" · ".join(f"{STATUS_ICONS.get(s, '')} {n} {s.replace('_', ' ')}"
                           for s, n in counts.items()))
    controlled = queries.stopped_by_controls(orders)
    if controlled:
        st.warning(f"{controlled} orders were refused or cancelled because trading was "
                   "paused or halted.", icon=":material/pause_circle:")
    display = pd.DataFrame({
        "Account": orders["account"].map(lambda a: LABELS.get(a, a)),
        "Symbol": orders["symbol"],
        "Side": orders["side"],
        "Quantity": orders["quantity"],
        "Purpose": orders["purpose"],
        "Type": orders["order_type"],
        "Status": orders["status"],
        "Filled": orders["filled_quantity"],
        "Unfilled": orders["unfilled_quantity"],
        "Outcome": orders["resolution"],
        "Resolved": pd.to_datetime(orders["resolved_as_of"]).dt.date,
        "Reason": orders["reason"],
    })
    styled = display.style.map(
        lambda status: f"color: {STATUS_COLORS[status]}" if status in STATUS_COLORS else "",
        subset=["Status"])
    narrow = st.column_config.TextColumn(width="small")
    st.dataframe(styled, hide_index=True, key="orders_table", placeholder="—", column_config={
        "Symbol": narrow, "Side": narrow, "Type": narrow, "Status": narrow,
        "Quantity": st.column_config.NumberColumn(format="localized", width="small"),
        "Filled": st.column_config.NumberColumn(format="localized", width="small"),
        "Unfilled": st.column_config.NumberColumn(format="localized", width="small"),
        "Outcome": st.column_config.TextColumn(width="large"),
        "Resolved": st.column_config.DateColumn(width="small"),
        "Reason": st.column_config.TextColumn(
            width="large", help="The risk engine's verdict when the order was placed"),
    })


def render_report(detail: queries.DayDetail) -> None:
    st.subheader("Daily report")
    if not detail.report:
        st.info("No report for this day yet.")
        return
    with st.expander("The day's report, as written after the close", expanded=False):
        st.markdown(detail.report)


# -- page ---------------------------------------------------------------------------------

def main() -> None:
    st.set_page_config(page_title="Supervisor", page_icon=":material/monitoring:", layout="wide")
    home = paths()
    warehouse_path = str(home.warehouse)
    st.title("Supervisor")

    upcoming = _next_session()
    log, log_stale = read_or_last("controls", warehouse_path,
                                  lambda: load_controls(warehouse_path))
    schedule = _schedule(log)
    state = schedule.state(upcoming) if schedule is not None else None
    overview, overview_stale = read_or_last("overview", warehouse_path,
                                            lambda: load_overview(warehouse_path))
    render_status(overview, state, busy=overview_stale is not None)
    render_trading_state(state, upcoming)
    render_controls(warehouse_path, log, upcoming)
    notice = st.empty()
    stale = [t for t in (overview_stale, log_stale) if t is not None]

    if overview is not None and overview.empty:
        st.info("**No data yet:** run `trade-pipelines replay --start 2021-01-01 --end "
                f"2022-12-31` to fill the warehouse (`{warehouse_path}`), then press Refresh.",
                icon=":material/inbox:")
    elif overview is not None:
        render_performance(overview)
        day = select_day(overview)
        if day is not None:
            detail, detail_stale = read_or_last("day", (warehouse_path, day),
                                                lambda: load_day(warehouse_path, day))
            if detail_stale is not None:
                stale.append(detail_stale)
            if detail is not None:
                render_decisions(detail)
                render_orders(detail)
                render_report(detail)
    if stale:
        render_busy(notice, min(stale))

main()
