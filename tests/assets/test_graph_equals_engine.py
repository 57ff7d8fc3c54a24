"""The assets are thin: a replay through the Dagster graph and the agent driven in
memory give the same decisions, fills, accounts, memories and gene pool."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
from replay_helpers import SYMBOLS, table

from trade_pipelines.agent.loop.simulation import run_agent_loop
from trade_pipelines.cli import run_replay
from trade_pipelines.market_data.builtin import BENCHMARK_SYMBOL, VIX_SYMBOL, load_builtin_bars

START, END = date(2019, 2, 1), date(2019, 4, 30)


def _normalised(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.date
    return frame.sort_values(keys).reset_index(drop=True)


def test_the_graph_and_the_in_memory_engine_agree(project_home: Path) -> None:
    assert run_replay(START, END, SYMBOLS, progress=False)
    loop = run_agent_loop(load_builtin_bars(), START, END, SYMBOLS.split(","),
                          BENCHMARK_SYMBOL, VIX_SYMBOL)["frames"]
    checks = {"decisions": ["decision_id"], "fills": ["fill_id"],
              "accounts": ["as_of", "account"], "memories": ["memory_id"],
              "strategy_evaluations": ["as_of", "strategy_id"],
              "strategy_history": ["as_of", "strategy_id"]}
    for name, keys in checks.items():
        graph = _normalised(table(project_home, name), keys)
        memory = _normalised(loop[name], keys)
        assert len(graph) > 0, name
        columns = [c for c in memory.columns if c in graph.columns]
        pd.testing.assert_frame_equal(graph[columns], memory[columns], check_dtype=False,
                                      obj=name)
