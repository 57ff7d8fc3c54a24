"""Supervisor: watch the agent's accounts and debates, and pause its trading.

Run with ``streamlit run streamlit_app/app.py``. The page only reads the warehouse, in
short read-only connections, so it can stay open while a replay writes; the pause switch
is a JSON file beside the warehouse, so it works even while the warehouse is busy.
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
from trade_pipelines.control import PauseState, read_pause_state, set_paused  # noqa: E402
from trade_pipelines.settings import paths  # noqa: E402
from trade_pipelines.warehouse import Warehouse, WarehouseLockedError  # noqa: E402

CHANGED_BY = "supervisor app"
# Short lock budget: a page that hangs for a minute behind a long replay transaction is
# worse than one that says "busy" and tries again a moment later.
LOCK_TIMEOUT_S = 2.0
RETRY_EVERY_S = 2.0
CACHE_TTL_S = 5

T = TypeVar("T")

PAUSE_KEY = "pause_toggle"
REASON_KEY = "pause_reason"
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
STATUS_ICONS = {"accepted": ":green[:material/check_circle:]",
                "rejected": ":red[:material/block:]",
                "paused": ":orange[:material/pause_circle:]"}
STATUS_COLORS = {"accepted": "#1b7f3b", "rejected": "#c62828", "paused": "#d46b08"}


# -- cached reads (keyed by the warehouse path, so each home has its own entries) ---------

def _warehouse(path: str) -> Warehouse:
    return Warehouse(path, lock_timeout_s=LOCK_TIMEOUT_S)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def load_overview(path: str) -> queries.Overview:
    return queries.load_overview(_warehouse(path))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def load_day(path: str, day: date) -> queries.DayDetail:
    return queries.load_day(_warehouse(path), day)


# -- pause switch -------------------------------------------------------------------------

def _read_pause(control: Path) -> PauseState | None:
    try:
        return read_pause_state(control)
    except (OSError, ValueError, TypeError) as error:
        st.error(f"Could not read the pause switch in {control}: {error}")
        return None


def _when(changed_at: str) -> str:
    try:
        return f"{datetime.fromisoformat(changed_at):%Y-%m-%d %H:%M %Z}".strip()
    except ValueError:
        return changed_at or "an unknown time"


def _on_pause_toggled() -> None:
    """Write the switch the moment the toggle moves, before the page re-renders."""
    paused = bool(st.session_state[PAUSE_KEY])
    reason = str(st.session_state.get(REASON_KEY) or "").strip() or (
        "paused from the supervisor app" if paused else "resumed from the supervisor app")
    set_paused(paths().control, paused, reason, CHANGED_BY)
    st.session_state[REASON_KEY] = ""


def render_pause_switch(state: PauseState | None) -> None:
    if state is not None and state.paused:
        st.warning(
            f"**Trading is paused.** Reason: {state.reason or 'none given'}  \n"
            f"Set by {state.changed_by or 'unknown'} at {_when(state.changed_at)}. "
            "The order step refuses new orders (status `paused`) until trading resumes.",
            icon=":material/pause_circle:")
    # The file is the truth (the CLI can flip it too): sync the toggle to it every run.
    st.session_state[PAUSE_KEY] = bool(state and state.paused)
    with st.container(border=True):
        reason_col, toggle_col = st.columns([4, 1], vertical_alignment="bottom")
        reason_col.text_input(
            "Reason (recorded with the switch)", key=REASON_KEY,
            placeholder="e.g. review before earnings week" if not (state and state.paused)
            else "e.g. review done")
        toggle_col.toggle("Pause trading", key=PAUSE_KEY, on_change=_on_pause_toggled,
                          help="Takes effect at the next trading day the replay processes.")


# -- sections -----------------------------------------------------------------------------

def _forget_cached_reads() -> None:
    """Runs before the page does, so the rerun the click causes reads afresh."""
    load_overview.clear()
    load_day.clear()


def render_status(overview: queries.Overview | None, state: PauseState | None,
                  busy: bool) -> None:
    if overview is None:
        latest = "unknown"
    else:
        latest = f"{overview.latest:%a %d %b %Y}" if overview.latest else "none yet"
    if busy:
        latest += " :orange-badge[:material/hourglass_top: warehouse busy]"
    if state is None:
        trading = ":orange-badge[pause switch unreadable]"
    elif state.paused:
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
        if row.n_paused:
            text += f" · {row.n_paused} paused"
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
    st.markdown(" · ".join(f"{STATUS_ICONS.get(s, '')} {n} {s}" for s, n in counts.items()))
    if counts.get("paused", 0):
        st.warning(f"{counts['paused']} orders were refused because trading was paused.",
                   icon=":material/pause_circle:")
    display = pd.DataFrame({
        "Account": orders["account"].map(lambda a: LABELS.get(a, a)),
        "Symbol": orders["symbol"],
        "Side": orders["side"],
        "Quantity": orders["quantity"],
        "Purpose": orders["purpose"],
        "Type": orders["order_type"],
        "Status": orders["status"],
        "Reason": orders["reason"],
    })
    styled = display.style.map(
        lambda status: f"color: {STATUS_COLORS[status]}" if status in STATUS_COLORS else "",
        subset=["Status"])
    narrow = st.column_config.TextColumn(width="small")
    st.dataframe(styled, hide_index=True, key="orders_table", placeholder="—", column_config={
        "Symbol": narrow, "Side": narrow, "Type": narrow, "Status": narrow,
        "Quantity": st.column_config.NumberColumn(format="localized", width="small"),
        "Reason": st.column_config.TextColumn(width="large"),
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

    state = _read_pause(home.control)
    overview, overview_stale = read_or_last("overview", warehouse_path,
                                            lambda: load_overview(warehouse_path))
    render_status(overview, state, busy=overview_stale is not None)
    render_pause_switch(state)
    notice = st.empty()
    stale = [overview_stale] if overview_stale is not None else []

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
