"""The day's report, as the agent wrote it after the close."""

from __future__ import annotations

import streamlit as st

from streamlit_app import queries


def render_report(detail: queries.DayDetail) -> None:
    st.subheader("Daily report")
    if not detail.report:
        st.info("No report for this day yet.")
        return
    with st.expander("The day's report, as written after the close", expanded=False):
        st.markdown(detail.report)
