"""Taught memories: knowledge a person gives the agent ("chip makers fall after weak
guidance"), marked as theirs and recalled like any other memory from its day on.

They live in their own table: the trading loop rewrites the ``memories`` rows of each
month it recomputes, and a person's lesson must survive that.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import pandas as pd

from trade_pipelines.agent.ids import stable_id
from trade_pipelines.agent.memory.tiers import tier_for

TAUGHT_IMPORTANCE = 8
TAUGHT_COLUMNS = ["as_of", "memory_id", "kind", "tier", "symbol", "strategy_id", "regime",
                  "importance", "outcome_return", "text", "tags", "source", "recorded_by",
                  "recorded_at"]


def taught_memory(text: str, as_of: date, recorded_by: str, recorded_at: datetime,
                  symbol: str | None = None, tags: Sequence[str] = (),
                  importance: int = TAUGHT_IMPORTANCE) -> pd.DataFrame:
    """The ``taught_memories`` row of one lesson. The same text taught for the same symbol
    and day has the same id, so teaching it again replaces it."""
    text = " ".join(text.split())
    if not text:
        raise ValueError("a taught memory needs some text")
    if not 1 <= importance <= 10:
        raise ValueError(f"importance must be 1-10, not {importance}")
    symbol = symbol.strip().upper() if symbol and symbol.strip() else None
    clean_tags = sorted({t.strip().lower() for t in tags if t.strip()})
    return pd.DataFrame([{
        "as_of": as_of, "memory_id": stable_id("K", as_of, symbol, text.lower()),
        "kind": "taught", "tier": tier_for(importance), "symbol": symbol,
        "strategy_id": None, "regime": None, "importance": importance,
        "outcome_return": None, "text": text, "tags": ",".join(clean_tags),
        "source": "human", "recorded_by": recorded_by, "recorded_at": recorded_at,
    }], columns=TAUGHT_COLUMNS)
