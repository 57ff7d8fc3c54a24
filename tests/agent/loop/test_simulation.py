"""The in-memory loop under the ``no_evolution`` ablation trades the seeded genomes only,
and the full agent trades newborns too, on probation."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from trade_pipelines.agent.evolution.genomes import SEEDED_GENOMES
from trade_pipelines.agent.evolution.lifecycle import PROBATION_SCALE
from trade_pipelines.agent.loop.simulation import run_agent_loop
from trade_pipelines.agent.loop.variant import ABLATIONS, FULL_AGENT
from trade_pipelines.market_data.builtin import BENCHMARK_SYMBOL, VIX_SYMBOL, load_builtin_bars

START, END = date(2016, 1, 1), date(2016, 9, 30)


@pytest.fixture(scope="module")
def universe() -> tuple:
    bars = load_builtin_bars()
    symbols = sorted(set(bars["symbol"]) - {BENCHMARK_SYMBOL, VIX_SYMBOL})[:20]
    return bars[bars["as_of"] >= date(2013, 1, 1)], symbols


def _run(universe: tuple, variant) -> dict:
    bars, symbols = universe
    return run_agent_loop(bars, START, END, symbols, BENCHMARK_SYMBOL, VIX_SYMBOL,
                          variant=variant)["frames"]


def test_without_evolution_only_seeded_genomes_are_debated(universe: tuple) -> None:
    frames = _run(universe, ABLATIONS["no_evolution"])
    assert set(frames["decisions"]["strategy_id"]) <= set(SEEDED_GENOMES)
    assert set(frames["strategy_evaluations"]["strategy_id"]) == set(SEEDED_GENOMES)
    assert frames["strategies"].empty


def test_the_full_agent_debates_newborns_at_a_probation_size(universe: tuple) -> None:
    frames = _run(universe, FULL_AGENT)
    decisions = frames["decisions"]
    bred = ~decisions["strategy_id"].isin(list(SEEDED_GENOMES))
    assert bred.any()
    history = frames["strategy_history"]
    promoted = dict(zip(*history.loc[history["event"] == "promotion",
                                     ["strategy_id", "as_of"]].T.to_numpy(), strict=True))
    on_probation = bred & np.array([promoted.get(s) is None or d <= promoted[s]
                                    for s, d in zip(decisions["strategy_id"],
                                                    decisions["as_of"], strict=True)])
    assert on_probation.any()
    # on probation the proposer asks at most the probation share of the usual 10% (its
    # volatility-target sizing may scale that by up to 1.5)
    cap = 0.10 * PROBATION_SCALE * 1.5 + 1e-9
    assert decisions.loc[on_probation, "weight_aggressive"].max() <= cap
    assert decisions.loc[~bred, "weight_aggressive"].max() > cap
