"""The status line: the latest trading day, the trading state and a Refresh button."""

from __future__ import annotations

import streamlit as st

from streamlit_app import queries
from streamlit_app.pause_switch import PauseState, status_badge
from streamlit_app.reads import CACHE_TTL_S, forget_cached_reads


def render_status(overview: queries.Overview | None, state: PauseState | None,
                  busy: bool) -> None:
    if overview is None:
        latest = "unknown"
    else:
        latest = f"{overview.latest:%a %d %b %Y}" if overview.latest else "none yet"
    if busy:
        latest += " :orange-badge[:material/hourglass_top: warehouse busy]"
    status_col, refresh_col = st.columns([6, 1], vertical_alignment="center")
    status_col.markdown(f"**Latest trading day:** {latest} &nbsp;·&nbsp; {status_badge(state)}")
    refresh_col.button("Refresh", icon=":material/refresh:", width="stretch",
                       on_click=forget_cached_reads,
                       help=f"Reads are cached for {CACHE_TTL_S} s; this reads again now.")
