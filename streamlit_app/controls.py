"""Controls: the trading-state banner, the form that records pause, resume and halt, and
the event log.

A control is a dated event in the warehouse, the same one the command line writes, so
the page and the CLI always agree. Recording is one short write that waits a few
seconds for a busy writer and says so when it could not, rather than blocking the page.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from streamlit_app.reads import load_controls
from trade_pipelines.agent.execution.controls import (
    ControlSchedule,
    TradingState,
    events_from_rows,
)
from trade_pipelines.control import APP_USER, ControlError, record_control
from trade_pipelines.warehouse import Warehouse, WarehouseLockedError

# A control is worth waiting for a little longer than a read.
CONTROL_LOCK_TIMEOUT_S = 10.0

ACTION_KEY = "control_action"
REASON_KEY = "control_reason"
FROM_KEY = "control_from"
RECORD_KEY = "control_record"
OUTCOME_KEY = "_control_outcome"
ACTION_LABELS = {"pause": "Pause entries", "halt": "Halt and flatten",
                 "resume": "Resume entries"}


def trading_state(log: pd.DataFrame | None, upcoming: date) -> TradingState | None:
    """The state the ledger will apply on ``upcoming``; ``None`` when the log is unread."""
    return None if log is None else ControlSchedule(events_from_rows(log)).state(upcoming)


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
    """A banner while trading is paused or halted; nothing while it is active."""
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


def _render_log(log: pd.DataFrame | None) -> None:
    if log is None:
        st.caption("The control log could not be read (the warehouse is busy).")
        return
    if log.empty:
        st.caption("No control recorded: trading is active.")
        return
    shown = log.sort_values(["effective_from", "recorded_at"], ascending=False)
    st.dataframe(pd.DataFrame({
        "From": pd.to_datetime(shown["effective_from"]).dt.date,
        "Action": shown["action"], "Reason": shown["reason"],
        "By": shown["recorded_by"],
        "Recorded (UTC)": pd.to_datetime(shown["recorded_at"]),
    }), hide_index=True, key="controls_table", column_config={
        "Recorded (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")})


def render_controls(warehouse_path: str, log: pd.DataFrame | None, upcoming: date) -> None:
    """The form (action, reason, first session, Record), its outcome and the event log."""
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
                            help="The first session of the home's market it applies "
                                 "to; by default the next one. A past session applies "
                                 "when that range is replayed again.")
        button_col.button("Record", key=RECORD_KEY, type="primary", width="stretch",
                          on_click=_on_record, args=(warehouse_path,))
        outcome = st.session_state.pop(OUTCOME_KEY, None)
        if outcome is not None:
            getattr(st, outcome[0])(outcome[1])
        _render_log(log)
