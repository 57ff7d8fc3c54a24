"""Failed data checks: the blocking bar checks whose latest evaluation failed, with the
failing rows and the expectation each broke, as the Dagster UI shows them.

Read from the Dagster instance of the home (its event log), not from the warehouse: a
failed check's rows are the bars already stored that the suite condemned. dagster is
imported only when the home has an instance to read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import streamlit as st

BAR_CHECKS = ("bars_pass_quality_suite", "stored_bars_self_check")


@dataclass(frozen=True)
class FailedCheck:
    """One failed evaluation: which check, when, why, and the rows as a markdown table."""

    name: str
    evaluated_at: datetime
    description: str
    failing_rows: str
    run_id: str


def latest_failed_checks(dagster_home: Path) -> list[FailedCheck]:
    """Each bar check whose latest evaluation failed (a later pass clears it).

    ``get_latest_asset_check_evaluation_record`` is the instance's own read of a check's
    latest evaluation (what the UI's check page shows); dagster 1.13 has no ``@public``
    reader of check evaluations."""
    if not (dagster_home / "storage").is_dir():
        return []
    from dagster import AssetCheckKey, AssetKey, DagsterInstance
    from dagster._core.storage.asset_check_execution_record import (
        AssetCheckExecutionRecordStatus,
    )

    failed = []
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        for name in BAR_CHECKS:
            record = instance.get_latest_asset_check_evaluation_record(
                AssetCheckKey(AssetKey("market_bars"), name))
            # A check being evaluated right now (planned) shows again once it finishes.
            if record is None or record.status != AssetCheckExecutionRecordStatus.FAILED:
                continue
            evaluation = record.evaluation
            if evaluation is None:
                continue
            rows = evaluation.metadata.get("failing_rows")
            failed.append(FailedCheck(
                name=name, evaluated_at=datetime.fromtimestamp(record.create_timestamp),
                description=evaluation.description or "failed",
                failing_rows=str(rows.value) if rows is not None else "none",
                run_id=record.run_id))
    return failed


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
