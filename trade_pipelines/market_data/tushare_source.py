"""Live daily bars of A-shares and A-share indices through tushare pro.

tushare (BSD) is a token-based API: ``ts.pro_api(token, timeout).daily(ts_code=...,
start_date=..., end_date=...)`` POSTs ``{"api_name": "daily", "token": ..., "params":
{...}, "fields": ""}`` to ``http://api.waditu.com/dataapi/daily`` and reads
``{"code": 0, "msg": "", "data": {"fields": [...], "items": [[...], ...]}}``, newest day
first. The token comes from ``$TUSHARE_TOKEN`` (free registration at tushare.pro); without
it the source raises ``SourceUnreachable`` naming the variable. Tickers are spelled as
ours (``600036.SH``, ``000002.SZ``); indices (``000300.SH``) use ``index_daily``.

Units: ``vol`` is in lots of 100 shares (converted to shares here); ``amount`` is in
thousands of CNY (not kept: bars carry no turnover).

Adjustment, explicitly: ``daily`` is unadjusted. Stocks are forward-adjusted here the way
tushare's own ``pro_bar(adj="qfq")`` does: each price times that day's ``adj_factor`` over
the latest factor. The latest factor is asked for up to today (not just to ``end``), so
the prices are on today's share basis, the same as akshare's ``qfq`` and yfinance's
``auto_adjust``: the chain can compare them and switch between them without a jump.
Re-fetched old bars change after each dividend. Indices are not adjusted.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from typing import Any

import pandas as pd

from trade_pipelines.market_data.errors import SourceUnreachable
from trade_pipelines.market_data.network import with_retries
from trade_pipelines.market_data.normalise import (
    delivered_bars,
    empty_source_bars,
    normalise_symbols,
    source_bars,
)

SOURCE = "tushare"
TOKEN_ENV = "TUSHARE_TOKEN"
# Shares per lot in tushare's ``vol``.
LOT = 100
PRICE_COLUMNS = ("open", "high", "low", "close")


def is_tushare_symbol(symbol: str) -> bool:
    upper = symbol.strip().upper()
    base, _, suffix = upper.rpartition(".")
    return suffix in {"SH", "SZ"} and len(base) == 6 and base.isdigit()


def is_index(symbol: str) -> bool:
    """Shanghai codes starting 000 and Shenzhen codes starting 399 are indices."""
    base, _, suffix = symbol.strip().upper().rpartition(".")
    return (suffix == "SH" and base.startswith("000")) or (suffix == "SZ"
                                                          and base.startswith("399"))


def _days(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.astype(str), format="%Y%m%d", errors="coerce").dt.date


def bars_from_tushare_frames(daily: pd.DataFrame, factors: pd.DataFrame | None,
                             symbol: str) -> pd.DataFrame:
    """Canonical bars (``source="tushare"``, volume in shares) from a ``daily`` (or
    ``index_daily``) frame, forward-adjusted by ``factors`` (an ``adj_factor`` frame
    reaching to the latest day; None for an index).

    A day without a factor cannot be adjusted and is dropped rather than stored
    unadjusted beside adjusted neighbours (that would be a false jump).
    """
    if daily is None or daily.empty:
        return empty_source_bars()
    absent = [c for c in ("trade_date", *PRICE_COLUMNS, "vol") if c not in daily.columns]
    if absent:
        raise ValueError(f"tushare's frame for {symbol} lacks {', '.join(absent)}: "
                         f"{list(daily.columns)}")
    bars = pd.DataFrame({"as_of": _days(daily["trade_date"])})
    for column in PRICE_COLUMNS:
        bars[column] = pd.to_numeric(daily[column], errors="coerce").astype("float64").to_numpy()
    bars["volume"] = pd.to_numeric(daily["vol"], errors="coerce").astype("float64").to_numpy() \
        * LOT
    if factors is not None:
        if factors.empty:
            raise ValueError(f"tushare returned no adjustment factors for {symbol}")
        factor = pd.Series(pd.to_numeric(factors["adj_factor"], errors="coerce").to_numpy(),
                           index=_days(factors["trade_date"]))
        factor = factor[factor.index.notna() & factor.notna()].sort_index()
        latest = float(factor.iloc[-1])
        ratio = bars["as_of"].map(factor / latest)
        bars = bars[ratio.notna()].copy()
        for column in PRICE_COLUMNS:
            bars[column] = (bars[column] * ratio[ratio.notna()]).round(4)
    return source_bars(bars, symbol, SOURCE)


class TushareSource:
    """Daily A-share bars through tushare pro: a time-out on every request, retries with
    back-off on connection errors, ``DataSourceUnavailable`` rather than silence."""

    name = SOURCE

    def __init__(self, token: str | None = None, timeout_s: float = 10, attempts: int = 3,
                 backoff_s: float = 0.5, base_url: str | None = None) -> None:
        """``token`` defaults to ``$TUSHARE_TOKEN``; ``base_url`` replaces tushare's own
        API address (``http://api.waditu.com/dataapi``; a proxy, or a recorded server)."""
        self.token = token if token is not None else os.environ.get(TOKEN_ENV, "").strip()
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.base_url = base_url

    def supports(self, symbol: str) -> bool:
        return is_tushare_symbol(symbol)

    def _api(self, symbols: list[str]) -> Any:  # tushare.pro.client.DataApi
        if not self.token:
            raise SourceUnreachable(
                f"tushare needs a token: set {TOKEN_ENV} (register at https://tushare.pro)",
                symbols)
        import tushare as ts

        api = ts.pro_api(self.token, timeout=self.timeout_s)
        if self.base_url is not None:
            api._DataApi__http_url = self.base_url.rstrip("/")
        return api

    def _query(self, call: Callable[[], pd.DataFrame], what: str,
               undelivered: list[str]) -> pd.DataFrame:
        try:
            return with_retries(call, what=what, source=SOURCE, symbols=undelivered,
                                attempts=self.attempts, backoff_s=self.backoff_s,
                                timeout_s=self.timeout_s)
        except SourceUnreachable:
            raise
        except Exception as error:
            # tushare raises a bare Exception with the API's message (a wrong token, a
            # rate limit, no permission for the endpoint): the whole source is refused.
            raise SourceUnreachable(f"tushare refused {what}: {error}", undelivered) from error

    def fetch(self, symbols: list[str], start: date, end: date) -> pd.DataFrame:
        """Bars for ``symbols`` from ``start`` to ``end``, both inclusive; raises
        ``SourceUnreachable`` when tushare cannot be asked (no token, no network, refused)
        and ``DataSourceUnavailable`` naming the symbols it has no bars for."""
        wanted = normalise_symbols(symbols)
        if not wanted:
            raise ValueError("no symbols to fetch")
        if end < start:
            raise ValueError(f"end {end} is before start {start}")
        missing = {s: "not an A-share or A-share index" for s in wanted
                   if not is_tushare_symbol(s)}
        ours = [s for s in wanted if s not in missing]
        api = self._api(ours) if ours else None
        first, last = start.strftime("%Y%m%d"), end.strftime("%Y%m%d")
        parts: list[pd.DataFrame] = []
        for position, symbol in enumerate(ours):
            undelivered = ours[position:]
            what = f"{symbol} ({start} to {end})"
            if is_index(symbol):
                daily = self._query(lambda s=symbol: api.index_daily(
                    ts_code=s, start_date=first, end_date=last), what, undelivered)
                factors = None
            else:
                daily = self._query(lambda s=symbol: api.daily(
                    ts_code=s, start_date=first, end_date=last), what, undelivered)
                factors = None if daily.empty else self._query(
                    lambda s=symbol: api.adj_factor(ts_code=s, start_date=first),
                    f"{symbol}'s adjustment factors", undelivered)
            try:
                bars = bars_from_tushare_frames(daily, factors, symbol)
            except ValueError as error:
                missing[symbol] = str(error)
                continue
            bars = bars[(bars["as_of"] >= start) & (bars["as_of"] <= end)]
            if bars["close"].notna().any():
                parts.append(bars)
            else:
                missing[symbol] = "no bar in range"
        return delivered_bars(parts, missing, SOURCE, start, end)
