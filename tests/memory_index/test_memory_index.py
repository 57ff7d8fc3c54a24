"""MemoryIndex: metadata filters, the as_of look-ahead rule, persistence, rebuild."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import pandas as pd
import pytest
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.config import Settings
from chromadb.utils.embedding_functions import register_embedding_function

from trade_pipelines.memory_index.index import (
    COLLECTION_NAME,
    IndexModelMismatchError,
    MemoryIndex,
    as_of_key,
)

ROOT = Path(__file__).resolve().parents[2]

D = dt.date


def _records(*rows: dict[str, Any]) -> pd.DataFrame:
    """A memory frame with every optional column present (None where not given)."""
    defaults = {
        "kind": None,
        "tier": None,
        "symbol": None,
        "strategy_id": None,
        "regime": None,
        "importance": None,
    }
    return pd.DataFrame([{**defaults, **row} for row in rows])


BASE = _records(
    {
        "memory_id": "m1",
        "as_of": D(2024, 1, 2),
        "text": "AAPL rallied after strong quarterly earnings beat expectations",
        "kind": "observation",
        "tier": "short",
        "symbol": "AAPL",
        "strategy_id": "momo",
        "regime": "bull",
        "importance": 3,
    },
    {
        "memory_id": "m2",
        "as_of": D(2024, 1, 3),
        "text": "Momentum strategy lost money when volatility spiked",
        "kind": "lesson",
        "tier": "long",
        "strategy_id": "momo",
        "regime": "high_vol",
        "importance": 5,
    },
    {
        "memory_id": "m3",
        "as_of": D(2024, 1, 4),
        "text": "MSFT shares jumped on a good earnings report",
        "kind": "observation",
        "symbol": "MSFT",
        "regime": "bull",
    },
    {
        "memory_id": "m4",
        "as_of": D(2024, 1, 5),
        "text": "The central bank raised interest rates by half a point",
        "kind": "observation",
        "regime": "high_vol",
        "importance": 2,
    },
)


@pytest.fixture
def index(tmp_path: Path) -> Iterator[MemoryIndex]:
    idx = MemoryIndex(tmp_path / "chroma")
    idx.upsert(BASE)
    yield idx
    idx.close()


def _ids(hits: list[dict[str, Any]]) -> list[str]:
    return [h["memory_id"] for h in hits]


def test_as_of_key() -> None:
    assert as_of_key(D(2024, 1, 5)) == 20240105
    assert as_of_key(pd.Timestamp("2024-12-31 15:30")) == 20241231
    assert as_of_key(dt.datetime(2024, 2, 29, 23, 59)) == 20240229


def test_upsert_and_search_returns_nearest_with_metadata(index: MemoryIndex) -> None:
    assert index.count() == 4
    hits = index.search("stock jumped on earnings", as_of=D(2024, 12, 31), n=2)
    assert set(_ids(hits)) == {"m1", "m3"}
    assert hits[0]["distance"] <= hits[1]["distance"]
    top = next(h for h in hits if h["memory_id"] == "m1")
    assert top["text"] == BASE.loc[0, "text"]
    assert top["as_of"] == D(2024, 1, 2)
    meta = top["metadata"]
    assert meta["as_of_key"] == 20240102
    assert meta["importance"] == 3 and isinstance(meta["importance"], int)
    assert meta["symbol"] == "AAPL" and meta["strategy_id"] == "momo"
    # None values are not stored at all (Chroma rejects None metadata).
    m3 = index.search("MSFT earnings", as_of=D(2024, 12, 31), n=1)[0]
    assert m3["memory_id"] == "m3"
    assert "importance" not in m3["metadata"] and "strategy_id" not in m3["metadata"]
    assert 0.0 <= hits[0]["distance"] < 1.0  # cosine space


def test_metadata_filters(index: MemoryIndex) -> None:
    late = D(2024, 12, 31)
    assert _ids(index.search("earnings", late, n=5, symbol="MSFT")) == ["m3"]
    assert set(_ids(index.search("anything", late, n=5, regime="high_vol"))) == {"m2", "m4"}
    assert _ids(index.search("anything", late, n=5, strategy_id="momo", regime="bull")) == ["m1"]
    assert index.search("anything", late, n=5, symbol="TSLA") == []


def test_as_of_excludes_later_memories(index: MemoryIndex) -> None:
    # m3 is the best match for its own text but is dated 2024-01-04.
    query = "MSFT shares jumped on a good earnings report"
    assert "m3" not in _ids(index.search(query, as_of=D(2024, 1, 3), n=10))
    assert index.search(query, as_of=D(2024, 1, 4), n=1)[0]["memory_id"] == "m3"
    assert index.search(query, as_of=D(2024, 1, 1), n=10) == []
    for hit in index.search(query, as_of=D(2024, 1, 3), n=10):
        assert hit["as_of"] <= D(2024, 1, 3)


def test_perturbing_the_future_does_not_change_the_past(index: MemoryIndex) -> None:
    queries = ["earnings rally", "volatility hurt momentum", "interest rates"]
    as_of = D(2024, 1, 4)
    before = {q: index.search(q, as_of, n=10) for q in queries}
    future = _records(
        *(
            {"memory_id": f"f{i}", "as_of": D(2024, 1, 5) + dt.timedelta(days=i), "text": text}
            for i, text in enumerate(
                [*queries, "earnings rally earnings rally", "AAPL rallied after earnings"] * 3
            )
        )
    )
    index.upsert(future)
    assert index.count() == len(BASE) + len(future)
    after = {q: index.search(q, as_of, n=10) for q in queries}
    assert after == before


def test_upsert_replaces_by_memory_id(index: MemoryIndex) -> None:
    changed = BASE.iloc[[0]].assign(text="Gold prices hit a record high", symbol="GLD")
    assert index.upsert(changed) == 1
    assert index.count() == 4
    hit = index.search("gold record", D(2024, 12, 31), n=1)[0]
    assert hit["memory_id"] == "m1" and hit["metadata"]["symbol"] == "GLD"


def test_ties_are_ordered_by_memory_id(tmp_path: Path) -> None:
    text = "Breadth narrowed while the index made new highs"
    with MemoryIndex(tmp_path / "ties") as idx:
        idx.upsert(
            _records(
                *(
                    {"memory_id": mid, "as_of": D(2024, 3, 1), "text": text}
                    for mid in ["t3", "t1", "t4", "t2"]
                ),
                {"memory_id": "x", "as_of": D(2024, 3, 1), "text": "Oil fell on supply news"},
            )
        )
        assert _ids(idx.search(text, D(2024, 3, 1), n=3)) == ["t1", "t2", "t3"]
        assert _ids(idx.search(text, D(2024, 3, 1), n=5)) == ["t1", "t2", "t3", "t4", "x"]


def test_persists_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "persist"
    with MemoryIndex(path) as idx:
        idx.upsert(BASE)
        expected = idx.search("earnings", D(2024, 12, 31), n=3)
    with MemoryIndex(path) as reopened:
        assert reopened.count() == 4
        assert reopened.search("earnings", D(2024, 12, 31), n=3) == expected


def test_a_new_process_reopens_the_index_and_finds_the_same(tmp_path: Path) -> None:
    """Chroma rebuilds the embedding function by its registered name in the new process."""
    path = tmp_path / "shared"
    with MemoryIndex(path) as idx:
        idx.upsert(BASE)
        expected = [(h["memory_id"], round(h["distance"], 5))
                    for h in idx.search("stock jumped on earnings", D(2024, 1, 4), n=3)]
    script = (
        "import datetime as dt, json, sys\n"
        "from trade_pipelines.memory_index.index import MemoryIndex\n"
        "with MemoryIndex(sys.argv[1]) as idx:\n"
        "    hits = idx.search('stock jumped on earnings', dt.date(2024, 1, 4), n=3)\n"
        "    print(json.dumps([idx.count(), [(h['memory_id'], round(h['distance'], 5))\n"
        "                                    for h in hits]]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script, str(path)], env=env,
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    count, hits = json.loads(done.stdout.strip().splitlines()[-1])
    assert count == len(BASE)
    assert [tuple(h) for h in hits] == expected
    assert hits[0][0] in {"m1", "m3"}


@register_embedding_function
class _PreviousModel(EmbeddingFunction[Documents]):
    """Stands for the model an older version of the project indexed with."""

    def __init__(self) -> None:
        pass

    def __call__(self, input: Documents) -> Embeddings:
        return [[1.0, 0.0, 0.0] for _ in input]

    @staticmethod
    def name() -> str:
        return "trade_pipelines_minilm_l6_v2_numpy"

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> _PreviousModel:
        return _PreviousModel()


def test_an_index_built_with_another_model_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "old"
    client = chromadb.PersistentClient(path=str(path),
                                       settings=Settings(anonymized_telemetry=False))
    client.create_collection(COLLECTION_NAME, embedding_function=_PreviousModel(),
                             configuration={"hnsw": {"space": "cosine"}})
    client.get_collection(COLLECTION_NAME, embedding_function=_PreviousModel()).add(
        ids=["old"], documents=["an old memory"], metadatas=[{"as_of_key": 20240101}])
    client.close()
    with pytest.raises(IndexModelMismatchError, match="minilm_l6_v2_numpy") as raised:
        MemoryIndex(path)
    assert str(path) in str(raised.value) and "replay" in str(raised.value)
    # Refused, not changed: the old collection is still there, and nothing new was added.
    client = chromadb.PersistentClient(path=str(path),
                                       settings=Settings(anonymized_telemetry=False))
    assert [c.name for c in client.list_collections()] == [COLLECTION_NAME]
    assert client.get_collection(COLLECTION_NAME, embedding_function=_PreviousModel()).count() \
        == 1
    client.close()


def test_rebuild_replaces_everything(index: MemoryIndex) -> None:
    fresh = _records(
        {"memory_id": "r1", "as_of": D(2024, 2, 1), "text": "Bond yields fell"},
        {"memory_id": "r2", "as_of": D(2024, 2, 2), "text": "Semiconductors led the market"},
    )
    assert index.rebuild(fresh) == 2
    assert index.count() == 2
    assert set(_ids(index.search("earnings", D(2024, 12, 31), n=10))) == {"r1", "r2"}
    assert index.rebuild(fresh.iloc[:0]) == 0
    assert index.count() == 0
    assert index.search("anything", D(2024, 12, 31)) == []


def test_delete_from_removes_that_day_and_later(index: MemoryIndex) -> None:
    assert index.delete_from(D(2024, 1, 4)) == 2
    assert index.count() == 2
    assert set(_ids(index.search("anything", D(2024, 12, 31), n=10))) == {"m1", "m2"}
    assert index.delete_from(D(2025, 1, 1)) == 0


def test_batches_respect_the_max_batch_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(MemoryIndex, "_batch_size", property(lambda self: 3))
    rows = [
        {
            "memory_id": f"b{i:02d}",
            "as_of": D(2024, 1, 1) + dt.timedelta(days=i),
            "text": f"note {i}",
        }
        for i in range(10)
    ]
    with MemoryIndex(tmp_path / "batches") as idx:
        assert idx.upsert(_records(*rows)) == 10
        assert idx.count() == 10
        assert idx.delete_from(D(2024, 1, 4)) == 7
        assert idx.count() == 3


def test_upsert_validation(index: MemoryIndex) -> None:
    with pytest.raises(ValueError, match="required columns"):
        index.upsert(pd.DataFrame({"memory_id": ["a"], "text": ["x"]}))
    dupes = _records(
        {"memory_id": "d", "as_of": D(2024, 1, 1), "text": "x"},
        {"memory_id": "d", "as_of": D(2024, 1, 2), "text": "y"},
    )
    with pytest.raises(ValueError, match="duplicate"):
        index.upsert(dupes)
    with pytest.raises(ValueError, match="as_of"):
        index.upsert(_records({"memory_id": "z", "as_of": None, "text": "x"}))
    assert index.upsert(BASE.iloc[:0]) == 0
    assert index.count() == 4


def test_importance_survives_a_float_column(tmp_path: Path) -> None:
    """A nullable int column arrives from pandas as float; it must be stored as int."""
    frame = _records(
        {"memory_id": "a", "as_of": D(2024, 1, 1), "text": "x", "importance": 4},
        {"memory_id": "b", "as_of": D(2024, 1, 1), "text": "y", "importance": None},
    )
    assert frame["importance"].dtype == float
    with MemoryIndex(tmp_path / "imp") as idx:
        idx.upsert(frame)
        hits = {h["memory_id"]: h["metadata"] for h in idx.search("x", D(2024, 1, 1), n=2)}
    assert hits["a"]["importance"] == 4 and isinstance(hits["a"]["importance"], int)
    assert "importance" not in hits["b"]


def test_memories_that_differ_only_in_figures_embed_as_one(index: MemoryIndex) -> None:
    from trade_pipelines.memory_index.index import embedding_text

    assert embedding_text("AAPL trade won +5.2% in 12 days, confidence 71%.") == \
        "AAPL trade won in days, confidence ."
    index.upsert(_records(
        {"memory_id": "a", "as_of": D(2024, 1, 2),
         "text": "AAPL momentum trade in a bull market won +5.2% in 12 days"},
        {"memory_id": "b", "as_of": D(2024, 1, 2),
         "text": "AAPL momentum trade in a bull market won +4.8% in 9 days"},
        {"memory_id": "c", "as_of": D(2024, 1, 2),
         "text": "XOM reversion trade in a bear market lost -3.0% in 4 days"},
    ))
    hits = index.search("AAPL momentum trade in a bull market won", dt.date(2030, 1, 1), n=20)
    distance = {h["memory_id"]: h["distance"] for h in hits}
    assert distance["a"] == pytest.approx(distance["b"], abs=1e-6)
    assert distance["c"] > distance["a"] + 0.1
    # the stored documents keep their figures
    assert {h["text"] for h in hits} >= {
        "AAPL momentum trade in a bull market won +5.2% in 12 days"}
