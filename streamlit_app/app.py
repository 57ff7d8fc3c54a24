"""Supervisor: watch the agent's accounts and debates, and pause, halt or resume its
trading.

Run with ``streamlit run streamlit_app/app.py``. The page reads the warehouse in short
read-only connections, so it can stay open while a replay writes; its only write is a
control event (``controls.py``), which waits a few seconds for a busy writer. This file
only lays out the page; each section lives in its own module beside it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# ``streamlit run`` puts only this folder on sys.path; the page imports its sibling
# modules as ``streamlit_app.*``, so the project root must be importable too.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from streamlit_app.checks import render_failed_checks  # noqa: E402
from streamlit_app.controls import (  # noqa: E402
    render_controls,
    render_trading_state,
    trading_state,
)
from streamlit_app.decisions import render_decisions, select_day  # noqa: E402
from streamlit_app.orders import render_orders  # noqa: E402
from streamlit_app.performance import render_performance  # noqa: E402
from streamlit_app.reads import (  # noqa: E402
    load_controls,
    load_day,
    load_failed_checks,
    load_overview,
    read_or_last,
    render_busy,
)
from streamlit_app.report import render_report  # noqa: E402
from streamlit_app.status import render_status  # noqa: E402
from trade_pipelines.control import default_effective_from  # noqa: E402
from trade_pipelines.settings import paths  # noqa: E402


def main() -> None:
    st.set_page_config(page_title="Supervisor", page_icon=":material/monitoring:", layout="wide")
    warehouse_path = str(paths().warehouse)
    st.title("Supervisor")

    overview, overview_stale = read_or_last("overview", warehouse_path,
                                            lambda: load_overview(warehouse_path))
    # Sessions of the home's market (NYSE, Shanghai, Hong Kong or every day for crypto).
    upcoming = default_effective_from(
        calendar=overview.market.calendar if overview is not None else "XNYS")
    log, log_stale = read_or_last("controls", warehouse_path,
                                  lambda: load_controls(warehouse_path))
    state = trading_state(log, upcoming)
    render_status(overview, state, busy=overview_stale is not None)
    failed_checks, _ = read_or_last("checks", warehouse_path,
                                    lambda: load_failed_checks(warehouse_path))
    render_failed_checks(failed_checks or [])
    render_trading_state(state, upcoming)
    render_controls(warehouse_path, log, upcoming)
    notice = st.empty()
    stale = [t for t in (overview_stale, log_stale) if t is not None]

    if overview is not None and overview.empty:
        command = "trade-pipelines replay --start 2021-01-01 --end 2022-12-31" \
            if overview.market_code == "us" else \
            f"trade-pipelines replay --market {overview.market_code} --start 2016-01-01 " \
            "--end 2016-12-31"
        st.info(f"**No data yet:** run `{command}` to fill the warehouse "
                f"(`{warehouse_path}`), then press Refresh.", icon=":material/inbox:")
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
