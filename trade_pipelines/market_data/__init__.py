"""Where daily bars come from: built-in offline data, a live yfinance feed, user files.

Every source returns the canonical bar columns of
:mod:`trade_pipelines.agent.perception.validation` plus ``source``, and every bar is checked by
``validate_bars`` before it is stored.

When a bar becomes knowable: a daily bar for day D is only known once the exchange has
closed, 16:00 New York time (an early-close day only makes this later than the truth,
never earlier). The warehouse stores timestamps naive in UTC, so ``available_at`` is that
16:00 New York close converted to UTC (20:00 or 21:00 depending on daylight saving).
"""

from __future__ import annotations

from datetime import date, datetime, time

import pandas as pd

from trade_pipelines.agent.perception.validation import CANONICAL_COLUMNS
from trade_pipelines.market_data.builtin import (
    BENCHMARK_SYMBOL,
    BUILTIN_KNOWN_JUMPS,
    BUILTIN_UNIVERSE,
    VIX_SYMBOL,
    builtin_coverage,
    builtin_rejected,
    load_builtin_bars,
)
from trade_pipelines.market_data.errors import (
    BarImportConflict,
    BarImportRejected,
    BarSchemaError,
    DataSourceUnavailable,
)

EXCHANGE_TIMEZONE = "America/New_York"
EXCHANGE_CLOSE = time(16, 0)
# The columns of the warehouse's ``bars`` table, as every source stores them.
BAR_COLUMNS = [*CANONICAL_COLUMNS, "source", "available_at"]

__all__ = [
    "BAR_COLUMNS",
    "BENCHMARK_SYMBOL",
    "BUILTIN_KNOWN_JUMPS",
    "BUILTIN_UNIVERSE",
    "EXCHANGE_CLOSE",
    "EXCHANGE_TIMEZONE",
    "VIX_SYMBOL",
    "BarImportConflict",
    "BarImportRejected",
    "BarSchemaError",
    "DataSourceUnavailable",
    "bar_available_at",
    "bars_available_at",
    "builtin_coverage",
    "builtin_rejected",
    "load_builtin_bars",
]


def bars_available_at(as_of: pd.Series) -> pd.Series:
    """Naive-UTC timestamps of each day's 16:00 New York close, so no bar is seen early."""
    local = pd.to_datetime(pd.Series(as_of)).dt.normalize() + pd.Timedelta(
        hours=EXCHANGE_CLOSE.hour, minutes=EXCHANGE_CLOSE.minute)
    return local.dt.tz_localize(EXCHANGE_TIMEZONE).dt.tz_convert("UTC").dt.tz_localize(None)


def bar_available_at(as_of: date) -> datetime:
    """The naive-UTC moment the bar for ``as_of`` is known: that day's 16:00 New York close."""
    return bars_available_at(pd.Series([as_of])).iloc[0].to_pydatetime()
