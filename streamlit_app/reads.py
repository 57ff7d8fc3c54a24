"""Cached warehouse reads that survive a busy warehouse.

Reads go through short read-only connections keyed by the warehouse path (so each home
has its own cache entries). While a replay holds the write lock, the page shows the last
good read and retries on a timer instead of going blank or hanging.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime
from typing import TypeVar

import duckdb
import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from streamlit_app import queries
from streamlit_app.checks import FailedCheck, latest_failed_checks
from trade_pipelines.warehouse import Warehouse, WarehouseLockedError

# Short lock budget: a page that hangs for a minute behind a long replay transaction is
# worse than one that says "busy" and tries again a moment later.
LOCK_TIMEOUT_S = 2.0
RETRY_EVERY_S = 2.0
CACHE_TTL_S = 5

T = TypeVar("T")


def _warehouse(path: str) -> Warehouse:
    return Warehouse(path, lock_timeout_s=LOCK_TIMEOUT_S)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def load_overview(path: str) -> queries.Overview:
    return queries.load_overview(_warehouse(path))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def load_day(path: str, day: date) -> queries.DayDetail:
    return queries.load_day(_warehouse(path), day)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def load_controls(path: str) -> pd.DataFrame:
    return queries.control_log(_warehouse(path))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def load_failed_checks(path: str) -> list[FailedCheck]:
    """The bar checks whose latest evaluation failed."""
    return latest_failed_checks(_warehouse(path))


def forget_cached_reads() -> None:
    """Runs before the page does, so the rerun the click causes reads afresh."""
    load_failed_checks.clear()
    load_overview.clear()
    load_day.clear()
    load_controls.clear()


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
