"""The knowledge_graph asset on a small warehouse: it stores its window's log, built
from all the evidence before it, so windows run apart add up to the whole, and the
stored rows read back as the graph."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dagster import DagsterInstance, materialize
from replay_helpers import warehouse

from trade_pipelines.agent.evolution.genomes import SEEDED_GENOMES, seeded_pool
from trade_pipelines.agent.execution.ledger import TRADE_COLUMNS
from trade_pipelines.agent.memory.knowledge_graph import KnowledgeGraph
from trade_pipelines.agent.perception.events import EVENT_COLUMNS
from trade_pipelines.agent.perception.sentiment import US_SECTORS
from trade_pipelines.assets.common import FIRST_DAY_TAG, LAST_DAY_TAG, to_dates
from trade_pipelines.assets.knowledge import knowledge_graph, knowledge_through
from trade_pipelines.definitions import build_resources

SYMBOLS = ("AAPL", "KO", "XOM")
SESSIONS = [d.date() for d in pd.bdate_range("2020-10-01", "2021-12-31")]
TABLES = ("knowledge_nodes", "knowledge_edges")


@pytest.fixture
def home(project_home: Path) -> Path:
    """Bars, regimes, the seeded strategies, closed trades and events from 2020-10."""
    rng = np.random.default_rng(4)
    store = warehouse(project_home)
    store.migrate()
    bars = pd.DataFrame([{"symbol": s, "as_of": d, "close": float(c), "source": "test",
                          "available_at": datetime(d.year, d.month, d.day, 21)}
                         for s in SYMBOLS for d, c in zip(
                             SESSIONS, 100 * np.exp(np.cumsum(rng.normal(0, 0.02, len(SESSIONS)))),
                             strict=True)])
    store.append("bars", bars)
    store.append("regimes", pd.DataFrame(
        [{"as_of": d, "regime": ("bull", "bear")[(i // 60) % 2], "defensive": False}
         for i, d in enumerate(SESSIONS)]))
    store.append("strategies", seeded_pool())
    ids = sorted(SEEDED_GENOMES)
    trades = []
    for i, closed in enumerate(SESSIONS[12::4]):
        r = float(rng.normal(0.0, 0.03))
        for account in ("combined", "aggressive"):
            trades.append([closed, f"T{i}{account}", account, SYMBOLS[i % 3], ids[i % 10],
                           SESSIONS[i * 4], 10.0, 100.0, 100 * (1 + r), 1000 * r, r, 6,
                           "time_exit", None])
    store.append("trades", pd.DataFrame(trades, columns=TRADE_COLUMNS))
    events = [{"event_id": f"E{i}", "as_of": d, "known_from": d - timedelta(days=14),
               "kind": "earnings", "symbol": SYMBOLS[i % 3], "title": "earnings", "impact": 8,
               "reason": "", "memory": "", "response": "", "blackout_days": "[]",
               "size_scale": 1.0, "source": "test"} for i, d in enumerate(SESSIONS[20::25])]
    events += [{**e, "event_id": f"F{i}", "kind": "central_bank", "symbol": None}
               for i, e in enumerate(events[::3])]
    store.append("market_events", pd.DataFrame(events, columns=EVENT_COLUMNS))
    return project_home


def run(home: Path, first: str, last: str) -> dict[str, object]:
    result = materialize(
        [knowledge_graph], instance=DagsterInstance.ephemeral(), partition_key=f"{first[:4]}-01-01",
        resources=build_resources(symbols=",".join(SYMBOLS), source="warehouse", home=home),
        tags={FIRST_DAY_TAG: first, LAST_DAY_TAG: last})
    assert result.success
    [materialization] = result.asset_materializations_for_node("knowledge_graph")
    return {k: v.value for k, v in materialization.metadata.items()}


def stored(home: Path) -> dict[str, pd.DataFrame]:
    return {t: to_dates(warehouse(home).query(f"SELECT * FROM {t} ORDER BY ALL"),
                        "as_of", "first_seen", "last_seen") for t in TABLES}


def test_windows_built_apart_store_the_log_of_the_whole_year(home: Path) -> None:
    first_half = run(home, "2021-01-01", "2021-06-30")
    rows = stored(home)
    for frame in rows.values():
        assert not frame.empty and frame["as_of"].between(date(2021, 1, 1),
                                                          date(2021, 6, 30)).all()
    assert first_half["edge_rows"] == len(rows["knowledge_edges"])
    assert first_half["node_rows"] == len(rows["knowledge_nodes"])
    assert first_half["edges"] > 0 and first_half["nodes"] > 0
    assert "| source" in first_half["strongest_edges"] and "traded_" in \
        first_half["strongest_edges"]

    run(home, "2021-07-01", "2021-12-31")
    run(home, "2021-07-01", "2021-12-31")  # again: nothing doubles
    whole = knowledge_through(warehouse(home), date(2021, 12, 31))
    expected = whole.frames(date(2021, 1, 1), date(2021, 12, 31))
    for name, frame in stored(home).items():
        want = expected[name].sort_values(list(expected[name].columns)).reset_index(drop=True)
        pd.testing.assert_frame_equal(frame, want, check_dtype=False, obj=name)


def test_the_stored_rows_read_back_as_the_graph(home: Path) -> None:
    run(home, "2020-01-01", "2020-12-31")
    run(home, "2021-01-01", "2021-12-31")
    store = warehouse(home)
    as_of = date(2021, 9, 1)
    frames = [store.query(f"SELECT * FROM {t} WHERE as_of < ?", [as_of]) for t in TABLES]
    loaded = KnowledgeGraph.from_frames(*frames, sectors=US_SECTORS)
    built = knowledge_through(store, date(2021, 12, 31))
    assert len(built.facts("AAPL", "trend", "bear", as_of)) == 3
    for symbol in SYMBOLS:
        for family in ("trend", "mean_reversion", "volatility"):
            assert loaded.facts(symbol, family, "bear", as_of, n=10) == \
                built.facts(symbol, family, "bear", as_of, n=10)
        assert loaded.neighbours(symbol, as_of, n=50) == built.neighbours(symbol, as_of, n=50)
    assert loaded.path("AAPL", "event:central_bank", as_of) == \
        built.path("AAPL", "event:central_bank", as_of)
    moved = built.neighbours("event:central_bank", as_of, n=50)
    assert {e.target for e in moved} == {f"symbol:{s}" for s in SYMBOLS}
