"""Failed data checks: the blocking bar checks whose latest evaluation failed, with the
failing rows and the expectation each broke, as the Dagster UI shows them.

Read from the warehouse's ``bar_check_results``, where each check records every
evaluation (Dagster has no public reader of check evaluations).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import streamlit as st

from trade_pipelines.warehouse import Warehouse

BAR_CHECKS = ("bars_pass_quality_suite", "stored_bars_self_check", "walk_forward_bars")


@dataclass(frozen=True)
class FailedCheck:
    """One failed evaluation: which check, when, why, and the rows as a markdown table."""

    name: str
    evaluated_at: datetime
    description: str
    failing_rows: str
    run_id: str


def latest_failed_checks(warehouse: Warehouse) -> list[FailedCheck]:
    """Each bar check whose latest evaluation failed (a later pass clears it), from the
    ``bar_check_results`` the checks record beside their Dagster evaluation."""
    if not warehouse.table_exists("bar_check_results"):
        return []  # a home made before the checks recorded their results
    rows = warehouse.query(
        "SELECT * FROM bar_check_results QUALIFY row_number() OVER "
        "(PARTITION BY check_name ORDER BY evaluated_at DESC) = 1 ORDER BY check_name")
    return [FailedCheck(name=row.check_name, evaluated_at=row.evaluated_at.to_pydatetime(),
                        description=row.description or "failed",
                        failing_rows=row.failing_rows, run_id=row.run_id or "")
            for row in rows.itertuples() if not row.passed and row.check_name in BAR_CHECKS]


def render_failed_checks(failed: list[FailedCheck]) -> None:
    """Nothing when every bar check passed; otherwise each failure with its rows."""
    if not failed:
        return
    st.subheader("Failed data checks")
    st.caption("Trading on these bars is refused until the check passes again: fix or "
               "re-import the bars, then re-run the cycle.")
    for check in failed:
        st.error(f"**{check.name}** failed at {check.evaluated_at:%Y-%m-%d %H:%M} "
                 f"(run {check.run_id[:8]}): {check.description}", icon=":material/block:")
        with st.expander(f"Failing rows of {check.name}", expanded=True):
            st.markdown(check.failing_rows)
