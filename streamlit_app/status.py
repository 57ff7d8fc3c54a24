"""The status line: the latest trading day, the trading state for the next session and
a Refresh button."""

from __future__ import annotations

import streamlit as st

from streamlit_app import queries
from streamlit_app.reads import CACHE_TTL_S, forget_cached_reads
from trade_pipelines.agent.execution.controls import TradingState
from trade_pipelines.agent.markets import MarketRules


def status_badge(state: TradingState | None) -> str:
    """The trading state as a badge; ``None`` means the control log could not be read."""
    if state is None:
        return ":orange-badge[trading state unknown]"
    if state.halted:
        return ":red-badge[:material/front_hand: Trading halted]"
    if state.mode == "paused":
        return ":red-badge[:material/pause: Trading paused]"
    return ":green-badge[:material/play_arrow: Trading active]"


def market_label(market: MarketRules) -> str:
    """The home's market with its currency and benchmark, for the status line."""
    return f"{market.name}, {market.currency} (benchmark {market.benchmark_name})"


def render_status(overview: queries.Overview | None, state: TradingState | None,
                  busy: bool) -> None:
    if overview is None:
        latest = "unknown"
    else:
        latest = f"{overview.latest:%a %d %b %Y}" if overview.latest else "none yet"
    if busy:
        latest += " :orange-badge[:material/hourglass_top: warehouse busy]"
    status_col, refresh_col = st.columns([6, 1], vertical_alignment="center")
    market = f"**Market:** {market_label(overview.market)} &nbsp;·&nbsp; " \
        if overview is not None else ""
    status_col.markdown(f"{market}**Latest trading day:** {latest} &nbsp;·&nbsp; "
                        f"{status_badge(state)}")
    refresh_col.button("Refresh", icon=":material/refresh:", width="stretch",
                       on_click=forget_cached_reads,
                       help=f"Reads are cached for {CACHE_TTL_S} s; this reads again now.")
