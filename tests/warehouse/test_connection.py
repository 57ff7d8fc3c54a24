"""The warehouse's writes: replace by key, insert only what is missing, share a
transaction."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from trade_pipelines.warehouse import Warehouse


def _bars(closes: dict[date, float]) -> pd.DataFrame:
    return pd.DataFrame({"symbol": "AAA", "as_of": list(closes), "open": None, "high": None,
                         "low": None, "close": list(closes.values()), "volume": None,
                         "source": "test", "available_at": datetime(2024, 1, 1)})


@pytest.fixture
def store(tmp_path: Path) -> Warehouse:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.migrate()
    return warehouse


def _closes(store: Warehouse) -> dict[date, float]:
    frame = store.query("SELECT as_of, close FROM bars ORDER BY as_of")
    return {pd.Timestamp(d).date(): c for d, c in zip(frame["as_of"], frame["close"],
                                                       strict=True)}


def test_upsert_replaces_and_insert_missing_keeps(store: Warehouse) -> None:
    d1, d2, d3 = date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)
    assert store.upsert("bars", _bars({d1: 1.0, d2: 2.0}), ["symbol", "as_of"]) == 2
    assert store.upsert("bars", _bars({d2: 20.0}), ["symbol", "as_of"]) == 1
    assert _closes(store) == {d1: 1.0, d2: 20.0}
    inserted = store.insert_missing("bars", _bars({d1: 99.0, d3: 3.0}), ["symbol", "as_of"])
    assert inserted == 1
    assert _closes(store) == {d1: 1.0, d2: 20.0, d3: 3.0}


def test_writes_sharing_a_transaction_land_together_or_not_at_all(store: Warehouse) -> None:
    d1, d2 = date(2024, 1, 2), date(2024, 1, 3)
    store.append("bars", _bars({d1: 1.0}))
    with pytest.raises(RuntimeError), store.transaction() as connection:
        store.upsert("bars", _bars({d1: 5.0}), ["symbol", "as_of"], connection)
        store.insert_missing("bars", _bars({d2: 2.0}), ["symbol", "as_of"], connection)
        raise RuntimeError("killed")
    assert _closes(store) == {d1: 1.0}
