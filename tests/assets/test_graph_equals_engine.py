"""The assets are thin: a replay through the Dagster graph and the agent driven in
memory give the same decisions, fills, accounts, memories and gene pool, with the same
imported headlines feeding news sentiment and headline events in both."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
from replay_helpers import SYMBOLS, table, warehouse

from trade_pipelines.agent.loop.simulation import run_agent_loop
from trade_pipelines.cli import run_replay
from trade_pipelines.market_data.builtin import BENCHMARK_SYMBOL, VIX_SYMBOL, load_builtin_bars
from trade_pipelines.market_data.news_importer import import_news_file

START, END = date(2019, 2, 1), date(2019, 4, 30)


def _normalised(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    for column in ("as_of", "known_from", "effective_from"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame.sort_values(keys).reset_index(drop=True)


def _within(frame: pd.DataFrame) -> pd.DataFrame:
    day = pd.to_datetime(frame["as_of"]).dt.date
    return frame[(day >= START) & (day <= END)]


def _headlines(path: Path) -> Path:
    """Bad news for two names on a few days, a good market-wide day, and one headline
    after the window (it must change nothing)."""
    bad = "{} faces fraud investigation; losses and default fears mount"
    rows = [(f"2019-{m}-{d}T14:00:00-05:00", bad.format(s), s)
            for m, d in (("02", "12"), ("03", "05"), ("03", "20"), ("04", "09"))
            for s in ("AAPL", "JPM")]
    rows += [("2019-03-01T10:00:00-05:00", "Stocks rally as profits improve strongly", ""),
             ("2019-05-02T10:00:00-04:00", bad.format("MSFT"), "MSFT")]
    pd.DataFrame(rows, columns=["published_at", "headline", "symbol"]).to_csv(path,
                                                                              index=False)
    return path


def test_the_graph_and_the_in_memory_engine_agree(project_home: Path, tmp_path: Path) -> None:
    report = import_news_file(_headlines(tmp_path / "news.csv"), warehouse(project_home))
    assert report.imported == 10
    assert run_replay(START, END, SYMBOLS, progress=False)
    headlines = table(project_home, "news")
    result = run_agent_loop(load_builtin_bars(), START, END, SYMBOLS.split(","),
                            BENCHMARK_SYMBOL, VIX_SYMBOL, headlines=headlines)
    loop = result["frames"]
    # The headlines reached the engine: its decisions differ from a run without them.
    unread = run_agent_loop(load_builtin_bars(), START, END, SYMBOLS.split(","),
                            BENCHMARK_SYMBOL, VIX_SYMBOL)["frames"]
    assert not loop["decisions"].reset_index(drop=True).equals(
        unread["decisions"].reset_index(drop=True))
    for name, key in (("market_events", "event_id"), ("news_sentiment", "symbol")):
        graph, memory = (_within(f) for f in (table(project_home, name), loop[name]))
        assert len(graph) > 0, name
        pd.testing.assert_frame_equal(
            _normalised(graph, ["as_of", key])[list(memory.columns)],
            _normalised(memory, ["as_of", key]), check_dtype=False, obj=name)
    assert (_within(loop["market_events"])["kind"] == "news").sum() >= 8
    checks = {"decisions": ["decision_id"], "fills": ["fill_id"],
              "accounts": ["as_of", "account"], "memories": ["memory_id"],
              "strategy_evaluations": ["as_of", "strategy_id"],
              "strategy_history": ["as_of", "strategy_id"],
              # the reviews and their plans (a weekly, monthly and quarterly cycle)
              "changes": ["change_id"], "horizon_plans": ["plan_id"]}
    for name, keys in checks.items():
        graph = _normalised(table(project_home, name), keys)
        memory = _normalised(loop[name], keys)
        # three months of five names make plans but too few trades for a change
        assert len(graph) > 0 or name == "changes", name
        columns = [c for c in memory.columns if c in graph.columns]
        pd.testing.assert_frame_equal(graph[columns], memory[columns], check_dtype=False,
                                      obj=name)
