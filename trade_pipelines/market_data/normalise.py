"""What every live source does to the symbols asked for and to the bars it returns."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from trade_pipelines.agent.perception.validation import CANONICAL_COLUMNS


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
