"""What every live source does to the symbols asked for and to the bars it returns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd

from trade_pipelines.agent.perception.validation import CANONICAL_COLUMNS
from trade_pipelines.market_data.errors import DataSourceUnavailable


def normalise_symbols(symbols: Sequence[str] | str) -> list[str]:
    """Stripped, upper-cased, de-duplicated tickers in the order given."""
    if isinstance(symbols, str):
        symbols = [symbols]
    return list(dict.fromkeys(str(s).strip().upper() for s in symbols if str(s).strip()))


def source_bars(bars: pd.DataFrame, symbol: str, source: str) -> pd.DataFrame:
    """``bars`` (as_of and prices) as one symbol's canonical bars from ``source``, in date
    order; rows without a date are dropped."""
    bars = bars[bars["as_of"].notna()].copy()
    bars.insert(0, "symbol", symbol.strip().upper())
    bars["source"] = source
    return bars[[*CANONICAL_COLUMNS, "source"]].sort_values("as_of").reset_index(drop=True)


def empty_source_bars() -> pd.DataFrame:
    """No bars, with the canonical columns and their types."""
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in CANONICAL_COLUMNS})
    frame["symbol"] = frame["symbol"].astype(object)
    frame["as_of"] = frame["as_of"].astype(object)
    frame["source"] = pd.Series(dtype=object)
    return frame


def delivered_bars(parts: list[pd.DataFrame], missing: dict[str, str], source: str,
                   start: date, end: date) -> pd.DataFrame:
    """Every symbol's bars in one frame; ``DataSourceUnavailable`` naming each symbol in
    ``missing`` and why, when any is."""
    if missing:
        detail = "; ".join(f"{s}: {why}" for s, why in missing.items())
        raise DataSourceUnavailable(
            f"{source} has no bars for {', '.join(missing)} ({start} to {end}): {detail}",
            list(missing))
    return pd.concat(parts, ignore_index=True).sort_values(
        ["symbol", "as_of"], kind="stable").reset_index(drop=True)
