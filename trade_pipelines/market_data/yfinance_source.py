"""Live daily bars from Yahoo Finance through yfinance.

yfinance does not raise when it cannot reach Yahoo: ``yf.download`` logs the failure and
returns an empty frame (or, when some tickers fail, all-NaN columns for them). Silently
trading on no data would be worse than stopping, so :class:`YFinanceSource` turns an empty
answer, or any requested ticker without a single close, into ``DataSourceUnavailable``
naming the symbols and carrying yfinance's own error text.

Prices are fetched with ``auto_adjust=True``: open, high, low and close are all adjusted
for splits and dividends. That matches the built-in history (skfolio's adjusted closes),
and keeps a split from looking like a 50% crash to the jump check and the features. The
cost: adjusted history is restated whenever a dividend is paid, so re-fetched old bars
can differ slightly from stored ones.

Parsing is split into :func:`bars_from_yfinance_frame` (pure, tested against the frame
layout yfinance 1.7 builds) so the network call is the only untested-offline part.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta

import numpy as np
import pandas as pd

from trade_pipelines.market_data.errors import DataSourceUnavailable
from trade_pipelines.market_data.normalise import empty_source_bars, normalise_symbols

SOURCE = "yfinance"
# yfinance's price field names, and the canonical column each becomes.
FIELD_COLUMNS = {"Open": "open", "High": "high", "Low": "low", "Close": "close",
                 "Volume": "volume"}
KNOWN_FIELDS = frozenset({*FIELD_COLUMNS, "Adj Close", "Dividends", "Stock Splits",
                          "Capital Gains", "Repaired?"})


def _price_level(columns: pd.MultiIndex) -> int:
    """Which of the two column levels holds the price fields (Open, Close, ...)."""
    if "Price" in columns.names:
        return columns.names.index("Price")
    hits = [len(KNOWN_FIELDS & {str(v) for v in columns.get_level_values(level)})
            for level in range(2)]
    return int(np.argmax(hits))


def _one_ticker(prices: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """Canonical bars for one ticker's Open/High/Low/Close/Volume columns."""
    if "Close" not in prices.columns:
        raise ValueError(f"yfinance frame for {symbol} has no Close column: "
                         f"{list(prices.columns)}")
    index = pd.DatetimeIndex(prices.index)
    if index.tz is not None:
        index = index.tz_localize(None)
    bars = pd.DataFrame({
        column: (pd.to_numeric(prices[field], errors="coerce").to_numpy(dtype="float64")
                 if field in prices.columns else np.full(len(prices), np.nan))
        for field, column in FIELD_COLUMNS.items()
    })
    bars.insert(0, "as_of", index.date)
    bars.insert(0, "symbol", symbol)
    # Rows with nothing at all are padding from aligning tickers on one date index.
    padding = bars[list(FIELD_COLUMNS.values())].isna().all(axis=1)
    return bars.loc[~padding.to_numpy()]


def bars_from_yfinance_frame(frame: pd.DataFrame | None, symbols: Sequence[str]) -> pd.DataFrame:
    """Canonical bars (``source="yfinance"``) from what ``yf.download`` returned.

    Handles the MultiIndex layouts (``(Ticker, Price)`` with ``group_by="ticker"``,
    ``(Price, Ticker)`` with the default ``group_by="column"``) and the flat layout of a
    single ticker with ``multi_level_index=False``. A requested symbol absent from the
    frame simply has no rows; deciding whether that is an error is the caller's job.
    """
    wanted = normalise_symbols(symbols)
    if frame is None or frame.empty or not wanted:
        return empty_source_bars()
    parts: list[pd.DataFrame] = []
    if isinstance(frame.columns, pd.MultiIndex):
        if frame.columns.nlevels != 2:
            raise ValueError(f"unexpected yfinance column levels: {frame.columns.names}")
        price_level = _price_level(frame.columns)
        ticker_level = 1 - price_level
        tickers = {str(t).upper(): t for t in frame.columns.get_level_values(ticker_level)}
        for symbol in wanted:
            if symbol in tickers:
                prices = frame.xs(tickers[symbol], axis=1, level=ticker_level)
                parts.append(_one_ticker(prices, symbol))
    else:
        if len(wanted) != 1:
            raise ValueError(
                f"a flat yfinance frame holds one ticker, but {len(wanted)} were asked for: "
                f"{', '.join(wanted)}"
            )
        parts.append(_one_ticker(frame, wanted[0]))
    if not parts:
        return empty_source_bars()
    bars = pd.concat(parts, ignore_index=True)
    bars["source"] = SOURCE
    return bars.sort_values(["symbol", "as_of"], kind="stable").reset_index(drop=True)


class _ErrorCollector(logging.Handler):
    """Keeps yfinance's error log lines so they can go into our exception's message."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().strip()
        if message and message not in self.messages:
            self.messages.append(message)


@contextmanager
def _collect_yfinance_errors() -> Iterator[_ErrorCollector]:
    collector = _ErrorCollector()
    yf_logger = logging.getLogger("yfinance")
    yf_logger.addHandler(collector)
    try:
        yield collector
    finally:
        yf_logger.removeHandler(collector)


class YFinanceSource:
    """Daily bars from Yahoo Finance; raises ``DataSourceUnavailable`` rather than go quiet."""

    def __init__(self, timeout_s: float = 10) -> None:
        self.timeout_s = timeout_s

    def fetch(self, symbols: list[str], start: date, end: date) -> pd.DataFrame:
        """Bars for ``symbols`` from ``start`` to ``end``, both inclusive.

        Raises ``DataSourceUnavailable`` when yfinance fails, returns nothing, or leaves any
        requested symbol without a close in the range (a range with no trading session at
        all also ends up here: check the calendar before asking).
        """
        wanted = normalise_symbols(symbols)
        if not wanted:
            raise ValueError("no symbols to fetch")
        if end < start:
            raise ValueError(f"end {end} is before start {start}")
        import yfinance as yf

        with _collect_yfinance_errors() as errors:
            try:
                frame = yf.download(
                    wanted,
                    start=start.isoformat(),
                    # yfinance's end is exclusive; ours is inclusive.
                    end=(end + timedelta(days=1)).isoformat(),
                    group_by="ticker",
                    auto_adjust=True,
                    actions=False,
                    progress=False,
                    threads=False,
                    timeout=self.timeout_s,
                    multi_level_index=True,
                )
            except Exception as error:
                raise DataSourceUnavailable(
                    f"yfinance failed for {', '.join(wanted)} ({start} to {end}): {error!r}",
                    wanted,
                ) from error
        detail = f": {' | '.join(errors.messages[-3:])}" if errors.messages else ""
        bars = bars_from_yfinance_frame(frame, wanted)
        if len(bars):
            in_range = (bars["as_of"] >= start) & (bars["as_of"] <= end)
            bars = bars.loc[in_range.to_numpy()].reset_index(drop=True)
        delivered = set(bars.loc[bars["close"].notna(), "symbol"])
        missing = [s for s in wanted if s not in delivered]
        if missing:
            what = ("no data at all" if not delivered
                    else f"data for {', '.join(sorted(delivered))} only")
            raise DataSourceUnavailable(
                f"yfinance returned {what}; missing {', '.join(missing)} "
                f"({start} to {end}){detail}",
                missing,
            )
        return bars
