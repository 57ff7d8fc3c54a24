"""Where daily bars come from: built-in offline data, a live yfinance feed, user files.

Every source returns the canonical bar columns of
:mod:`trade_pipelines.agent.perception.validation` plus ``source``, and every bar is checked by
``validate_bars`` before it is stored.

When a bar becomes knowable: a daily bar for day D is only known once its exchange has
closed (16:00 New York for US stocks; each market's close is in ``agent/markets.py``; an
early-close day only makes this later than the truth, never earlier). The warehouse
stores timestamps naive in UTC, so ``available_at`` is that close converted to UTC
(20:00 or 21:00 for New York, depending on daylight saving).
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from trade_pipelines.agent.markets import market_rules
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

# The columns of the warehouse's ``bars`` table, as every source stores them.
BAR_COLUMNS = [*CANONICAL_COLUMNS, "source", "available_at"]

__all__ = [
    "BAR_COLUMNS",
    "BENCHMARK_SYMBOL",
    "BUILTIN_KNOWN_JUMPS",
    "BUILTIN_UNIVERSE",
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


def bars_available_at(as_of: pd.Series, market: str = "us",
                      symbols: pd.Series | None = None) -> pd.Series:
    """Naive-UTC timestamps of each day's close on ``market``'s exchange (16:00 New York
    for US stocks, 15:00 Shanghai, 16:10 Hong Kong, the next midnight for 24/7 crypto),
    so no bar is seen early; with ``symbols`` (aligned with ``as_of``), the market's
    volatility index when its value is final later (VIX at 16:15)."""
    rules = market_rules(market)
    days = pd.to_datetime(pd.Series(as_of)).dt.normalize()
    local = days + pd.Timedelta(days=1 if rules.close_next_day else 0,
                                hours=rules.close_time.hour, minutes=rules.close_time.minute)
    if symbols is not None and rules.volatility_index_close is not None:
        index_close = days + pd.Timedelta(hours=rules.volatility_index_close.hour,
                                          minutes=rules.volatility_index_close.minute)
        is_index = pd.Series(symbols).to_numpy() == rules.volatility_index_symbol
        local = local.where(~is_index, index_close)
    return local.dt.tz_localize(rules.timezone).dt.tz_convert("UTC").dt.tz_localize(None)


def bar_available_at(as_of: date, market: str = "us") -> datetime:
    """The naive-UTC moment the bar for ``as_of`` is known: that day's close."""
    return bars_available_at(pd.Series([as_of]), market).iloc[0].to_pydatetime()
