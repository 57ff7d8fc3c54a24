"""Live daily bars of A-shares, A-share indices and Hong Kong stocks through akshare.

akshare (MIT) wraps public web endpoints; the ones used here are East Money's daily
k-line API (``push2his.eastmoney.com/api/qt/stock/kline/get``), one request per symbol:

- A-shares, ``ak.stock_zh_a_hist(code, "daily", start, end, adjust="qfq", timeout=...)``
  (``secid`` ``1.<code>`` for Shanghai, ``0.<code>`` for Shenzhen);
- A-share indices (``000300.SH``, ``399001.SZ``), ``ak.stock_zh_index_daily_em("sh000300")``;
- Hong Kong stocks, ``ak.stock_hk_hist("00700", "daily", start, end, adjust="qfq")``
  (``secid`` ``116.<code>``).

Each answer is ``{"data": {"klines": ["2017-07-03,23.80,23.52,23.80,23.33,416239,...", ...]}}``:
date, open, close, high, low, volume, amount, ... East Money counts A-share and A-share
index volume in lots of 100 shares, Hong Kong volume in shares; bars here are in shares.

Prices are forward-adjusted (``qfq``: every price restated to today's share basis, like
yfinance's ``auto_adjust``), so a split or dividend is not a jump; re-fetched old bars
change after each dividend. Indices need no adjustment. Symbols outside these three kinds
(``^HSI``, crypto, US tickers) are not akshare's here: asking for them raises
``DataSourceUnavailable`` naming them, and a source chain asks the next source.

One macro series comes along: China's loan prime rates (:meth:`AkshareSource.loan_prime_rates`,
``ak.macro_china_lpr``, East Money's data centre).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from trade_pipelines.market_data.errors import DataSourceUnavailable, SourceUnreachable
from trade_pipelines.market_data.network import requests_timeout, with_retries
from trade_pipelines.market_data.normalise import (
    delivered_bars,
    empty_source_bars,
    normalise_symbols,
    source_bars,
)

SOURCE = "akshare"
# Shares per lot in East Money's A-share (and A-share index) volume.
A_SHARE_LOT = 100
# akshare's Chinese column names (stock_zh_a_hist, stock_hk_hist) and ours.
HIST_COLUMNS = {"日期": "as_of", "开盘": "open", "最高": "high", "最低": "low", "收盘": "close",
                "成交量": "volume"}
INDEX_COLUMNS = {"date": "as_of", "open": "open", "high": "high", "low": "low",
                 "close": "close", "volume": "volume"}

Kind = Literal["a_share", "cn_index", "hk"]


@dataclass(frozen=True)
class AkshareRequest:
    """What akshare is asked for one of our tickers."""

    symbol: str  # ours: 600036.SH, 000300.SH, 0700.HK
    kind: Kind
    code: str  # akshare's: 600036, sh000300, 00700


def akshare_request(symbol: str) -> AkshareRequest | None:
    """The akshare call for one of our tickers, or None when akshare is not used for it.

    ``.SH`` codes starting 000 are Shanghai indices (000001 the composite, 000300 the CSI
    300), ``.SZ`` codes starting 399 Shenzhen ones; other six-digit codes are stocks.
    Hong Kong codes are padded to East Money's five digits (0700.HK is 00700).
    """
    upper = symbol.strip().upper()
    base, _, suffix = upper.rpartition(".")
    if not base.isdigit():
        return None
    if suffix in {"SH", "SS"} and len(base) == 6:
        if base.startswith("000"):
            return AkshareRequest(upper, "cn_index", f"sh{base}")
        return AkshareRequest(upper, "a_share", base)
    if suffix == "SZ" and len(base) == 6:
        if base.startswith("399"):
            return AkshareRequest(upper, "cn_index", f"sz{base}")
        return AkshareRequest(upper, "a_share", base)
    if suffix == "HK" and len(base) <= 5:
        return AkshareRequest(upper, "hk", base.zfill(5))
    return None


def bars_from_akshare_frame(frame: pd.DataFrame | None, request: AkshareRequest,
                            start: date, end: date) -> pd.DataFrame:
    """Canonical bars (``source="akshare"``, volume in shares) from what the akshare
    function returned, limited to [start, end]."""
    if frame is None or frame.empty:
        return empty_source_bars()
    names = INDEX_COLUMNS if request.kind == "cn_index" else HIST_COLUMNS
    absent = [name for name in names if name not in frame.columns]
    if absent:
        raise ValueError(f"akshare's frame for {request.symbol} lacks {', '.join(absent)}: "
                         f"{list(frame.columns)}")
    bars = pd.DataFrame({ours: frame[theirs].to_numpy() for theirs, ours in names.items()})
    bars["as_of"] = pd.to_datetime(bars["as_of"], errors="coerce").dt.date
    for column in ("open", "high", "low", "close", "volume"):
        bars[column] = pd.to_numeric(bars[column], errors="coerce").astype("float64")
    if request.kind in {"a_share", "cn_index"}:
        bars["volume"] = bars["volume"] * A_SHARE_LOT
    bars = bars[bars["as_of"].notna()]
    bars = bars[(bars["as_of"] >= start) & (bars["as_of"] <= end)]
    return source_bars(bars, request.symbol, SOURCE)


class AkshareSource:
    """Daily bars through akshare, every request with a time-out and retried with back-off
    on connection errors; raises ``DataSourceUnavailable`` rather than go quiet."""

    name = SOURCE

    def __init__(self, timeout_s: float = 10, attempts: int = 3,
                 backoff_s: float = 0.5) -> None:
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = backoff_s

    def supports(self, symbol: str) -> bool:
        return akshare_request(symbol) is not None

    def _call(self, request: AkshareRequest, start: date, end: date) -> pd.DataFrame:
        from akshare.index.index_stock_zh import stock_zh_index_daily_em
        from akshare.stock_feature.stock_hist_em import stock_hk_hist, stock_zh_a_hist

        first, last = start.strftime("%Y%m%d"), end.strftime("%Y%m%d")
        with requests_timeout(self.timeout_s):
            if request.kind == "a_share":
                return stock_zh_a_hist(symbol=request.code, period="daily", start_date=first,
                                       end_date=last, adjust="qfq", timeout=self.timeout_s)
            if request.kind == "cn_index":
                return stock_zh_index_daily_em(symbol=request.code, start_date=first,
                                               end_date=last)
            return stock_hk_hist(symbol=request.code, period="daily", start_date=first,
                                 end_date=last, adjust="qfq")

    def _retried(self, call: Callable[[], pd.DataFrame], what: str,
                 symbols: list[str]) -> pd.DataFrame:
        return with_retries(call, what=what, source=SOURCE, symbols=symbols,
                            attempts=self.attempts, backoff_s=self.backoff_s,
                            timeout_s=self.timeout_s)

    def fetch(self, symbols: list[str], start: date, end: date) -> pd.DataFrame:
        """Bars for ``symbols`` from ``start`` to ``end``, both inclusive.

        Raises ``SourceUnreachable`` (a ``DataSourceUnavailable``) as soon as East Money
        cannot be reached, naming every symbol not delivered yet, and
        ``DataSourceUnavailable`` when a symbol is not akshare's or has no bar in range.
        """
        wanted = normalise_symbols(symbols)
        if not wanted:
            raise ValueError("no symbols to fetch")
        if end < start:
            raise ValueError(f"end {end} is before start {start}")
        asks = {s: akshare_request(s) for s in wanted}
        missing = {s: "not an A-share, A-share index or Hong Kong stock"
                   for s, r in asks.items() if r is None}
        parts: list[pd.DataFrame] = []
        for position, (symbol, request) in enumerate(asks.items()):
            if request is None:
                continue
            undelivered = [s for s in wanted[position:] if asks[s] is not None]
            try:
                frame = self._retried(lambda r=request: self._call(r, start, end),
                                      f"{symbol} ({start} to {end})", undelivered)
            except SourceUnreachable:
                raise
            except Exception as error:  # a malformed answer: akshare raises anything
                missing[symbol] = f"unreadable answer ({type(error).__name__}: {error})"
                continue
            bars = bars_from_akshare_frame(frame, request, start, end)
            if bars["close"].notna().any():
                parts.append(bars)
            else:
                missing[symbol] = "no bar in range"
        return delivered_bars(parts, missing, SOURCE, start, end)

    def loan_prime_rates(self, start: date, end: date) -> pd.DataFrame:
        """China's loan prime rates (1-year and 5-year, percent) announced in [start, end]:
        columns ``as_of`` (the announcement day), ``lpr_1y``, ``lpr_5y``, ``source``."""

        def call() -> pd.DataFrame:
            from akshare.economic.macro_china import macro_china_lpr

            with requests_timeout(self.timeout_s):
                return macro_china_lpr()

        frame = self._retried(call, "loan prime rates", [])
        if frame.empty:
            raise DataSourceUnavailable("akshare returned no loan prime rates")
        rates = pd.DataFrame({
            "as_of": pd.to_datetime(frame["TRADE_DATE"], errors="coerce").dt.date,
            "lpr_1y": pd.to_numeric(frame["LPR1Y"], errors="coerce").astype("float64"),
            "lpr_5y": pd.to_numeric(frame["LPR5Y"], errors="coerce").astype("float64"),
        })
        rates = rates[rates["as_of"].notna() & (rates["as_of"] >= start)
                      & (rates["as_of"] <= end)]
        # Months before 2019's reform have no 5-year LPR: NaN, not zero.
        rates["lpr_5y"] = rates["lpr_5y"].where(rates["lpr_5y"] > 0, np.nan)
        rates["source"] = SOURCE
        return rates.sort_values("as_of").reset_index(drop=True)
