"""The canonical memory rows the index mirrors: the agent's own (``memories``) and those a
person taught (``taught_memories``), read from the warehouse."""

from __future__ import annotations

from datetime import date

import pandas as pd

from trade_pipelines.warehouse import Warehouse

INDEXED_COLUMNS = ("as_of", "memory_id", "kind", "tier", "symbol", "strategy_id", "regime",
                   "importance", "text", "source")


def stored_memories(store: Warehouse, first: date | None = None,
                    last: date | None = None) -> pd.DataFrame:
    """Both tables' rows dated in [first, last] (every row without bounds), by day and
    id, with ``as_of`` as dates."""
    columns = ", ".join(f'"{c}"' for c in INDEXED_COLUMNS)
    window = "WHERE as_of BETWEEN ? AND ?" if first is not None and last is not None else ""
    params = [first, last] if window else []
    tables = [t for t in ("memories", "taught_memories") if store.table_exists(t)]
    if not tables:
        return pd.DataFrame(columns=list(INDEXED_COLUMNS))
    frame = store.query(" UNION ALL ".join(f"SELECT {columns} FROM {t} {window}"
                                           for t in tables)
                        + " ORDER BY as_of, memory_id", params * len(tables))
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.date.astype(object)
    return frame
