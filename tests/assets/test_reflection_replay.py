"""A rollback recorded as a person would (``record_change_decision``, what
``trade-pipelines changes rollback`` calls), then a replay through the asset graph: the
history before it is untouched, no later decision follows the change, the change stays on
record as rolled back, and the graph gives what the in-memory engine gives under the same
decision."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
from replay_helpers import LEDGER_TABLES, SYMBOLS, table, warehouse

from trade_pipelines.agent.loop.simulation import run_agent_loop
from trade_pipelines.agent.reflection.changes import ROLLBACK
from trade_pipelines.change_control import (
    changes_with_effects,
    load_change_decisions,
    record_change_decision,
)
from trade_pipelines.cli import run_replay
from trade_pipelines.market_data.builtin import BENCHMARK_SYMBOL, VIX_SYMBOL, load_builtin_bars

START, END = date(2019, 1, 2), date(2019, 8, 30)


def _cited(decisions: pd.DataFrame) -> set[str]:
    return {c for ids in decisions["changes_applied"] for c in json.loads(ids)}


def _before(frame: pd.DataFrame, day: date) -> pd.DataFrame:
    return frame[pd.to_datetime(frame["as_of"]).dt.date < day].reset_index(drop=True)


def test_a_rollback_then_a_replay_restores_the_earlier_behaviour(project_home: Path) -> None:
    assert run_replay(START, END, SYMBOLS, progress=False)
    first = {name: table(project_home, name) for name in (*LEDGER_TABLES, "decisions")}
    changes = table(project_home, "changes")
    cited = changes[changes["change_id"].isin(_cited(first["decisions"]))]
    assert not cited.empty, "no review shaped a decision"
    change = cited.sort_values(["as_of", "change_id"]).iloc[0]
    effective = pd.Timestamp(change["effective_from"]).date()

    store = warehouse(project_home)
    decision = record_change_decision(store, change["change_id"], ROLLBACK,
                                      "the evidence is too thin", "a tester",
                                      effective_from=effective)
    assert run_replay(START, END, SYMBOLS, progress=False)
    second = {name: table(project_home, name) for name in (*LEDGER_TABLES, "decisions")}
    for name in LEDGER_TABLES:
        pd.testing.assert_frame_equal(_before(second[name], effective),
                                      _before(first[name], effective), obj=name)
    assert change["change_id"] not in _cited(second["decisions"])
    assert not second["decisions"].equals(first["decisions"])
    listed = changes_with_effects(store).set_index("change_id")
    assert listed.loc[change["change_id"], "status"] == f"rolled back from {effective}"

    engine = run_agent_loop(load_builtin_bars(), START, END, SYMBOLS.split(","),
                            BENCHMARK_SYMBOL, VIX_SYMBOL,
                            human=load_change_decisions(store))["frames"]
    assert [d.decision_id for d in load_change_decisions(store)] == [decision.decision_id]
    graph = second["decisions"].sort_values("decision_id").reset_index(drop=True)
    memory = engine["decisions"].sort_values("decision_id").reset_index(drop=True)
    assert list(graph["decision_id"]) == list(memory["decision_id"])
    assert list(graph["changes_applied"]) == list(memory["changes_applied"])
    pd.testing.assert_series_equal(graph["weight_combined"], memory["weight_combined"],
                                   check_dtype=False)
