"""The pause switch: its banner, status badge and toggle, and where it is stored.

The switch is a JSON file beside the warehouse, so it works even while a replay holds the
warehouse. Everything that knows how the switch is stored lives in this module.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from trade_pipelines.control import PauseState, read_pause_state, set_paused
from trade_pipelines.settings import paths

CHANGED_BY = "supervisor app"
PAUSE_KEY = "pause_toggle"
REASON_KEY = "pause_reason"


def read_state() -> PauseState | None:
    """The switch as stored, or ``None`` (with an error shown) if it cannot be read."""
    control = paths().control
    try:
        return read_pause_state(control)
    except (OSError, ValueError, TypeError) as error:
        st.error(f"Could not read the pause switch in {control}: {error}")
        return None


def status_badge(state: PauseState | None) -> str:
    """The trading state as a badge for the status line."""
    if state is None:
        return ":orange-badge[pause switch unreadable]"
    if state.paused:
        return ":red-badge[:material/pause: Trading paused]"
    return ":green-badge[:material/play_arrow: Trading active]"


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
