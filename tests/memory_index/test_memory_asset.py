"""The memory_index asset mirrors both canonical tables: the agent's memories and the
taught ones, month by month."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
from dagster import DagsterInstance, materialize

from trade_pipelines.agent.memory.taught import taught_memory
from trade_pipelines.assets.common import FIRST_DAY_TAG, LAST_DAY_TAG
from trade_pipelines.assets.memory import memory_index
from trade_pipelines.definitions import build_resources
from trade_pipelines.memory_index.index import MemoryIndex
from trade_pipelines.memory_index.stored import stored_memories
from trade_pipelines.settings import Paths
from trade_pipelines.warehouse import Warehouse


def _run(home: Path) -> dict:
    result = materialize(
        [memory_index], instance=DagsterInstance.ephemeral(), partition_key="2019-01-01",
        resources=build_resources(symbols="AAPL", source="warehouse", home=home),
        tags={FIRST_DAY_TAG: "2019-03-01", LAST_DAY_TAG: "2019-04-30"})
    assert result.success
    return result.asset_materializations_for_node("memory_index")[0].metadata


def test_the_index_holds_taught_and_agent_memories(project_home: Path) -> None:
    store = Warehouse(Paths(project_home).warehouse)
    store.migrate()
    store.append("memories", pd.DataFrame([{
        "as_of": date(2019, 3, 12), "memory_id": "M-aapl", "kind": "trade",
        "tier": "short_term", "symbol": "AAPL", "strategy_id": "S03", "regime": "bull",
        "importance": 5, "outcome_return": 0.03, "source": "agent",
        "text": "AAPL SMA 20/50 trend trade in a bull market won +3.0% in 8 days."}]))
    lessons = pd.concat([
        taught_memory("chip makers fall after weak guidance", date(2019, 4, 2), "ana",
                      datetime(2019, 4, 2, 18), "NVDA"),
        taught_memory("a lesson of a later year", date(2020, 1, 6), "ana",
                      datetime(2020, 1, 6, 18))], ignore_index=True)
    store.append("taught_memories", lessons)
    assert len(stored_memories(store)) == 3
    assert list(stored_memories(store, date(2019, 3, 1), date(2019, 4, 30))["memory_id"]) \
        == ["M-aapl", lessons["memory_id"].iloc[0]]
    first = _run(project_home)
    assert first["indexed"].value == 2 and first["index_size"].value == 2
    with MemoryIndex(Paths(project_home).memory_index) as index:
        (hit,) = index.search("semiconductor shares drop when the outlook disappoints",
                              date(2019, 4, 30), n=1)
    assert hit["memory_id"] == lessons["memory_id"].iloc[0]
    assert hit["metadata"]["source"] == "human" and hit["metadata"]["kind"] == "taught"
    # unchanged rows: nothing re-indexed
    assert _run(project_home)["indexed"].value == 0


def test_the_trading_loop_continues_with_every_taught_memory(project_home: Path) -> None:
    from trade_pipelines.assets.trading import _warehouse_state

    store = Warehouse(Paths(project_home).warehouse)
    store.migrate()
    lesson = taught_memory("chip makers fall after weak guidance", date(2019, 4, 2), "ana",
                           datetime(2019, 4, 2, 18), "NVDA")
    store.append("taught_memories", lesson)
    # a later lesson too: the book recalls each only after its day
    _, memories, previous_day = _warehouse_state(store, date(2019, 3, 1))
    assert previous_day is None
    assert list(memories["memory_id"]) == list(lesson["memory_id"])
    assert memories["as_of"].iloc[0] == date(2019, 4, 2) and memories["source"].iloc[0] == "human"
