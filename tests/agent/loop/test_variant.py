"""The ablations switch one layer off and leave the rest of the agent as it is."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from trade_pipelines.agent.loop.simulation import run_agent_loop
from trade_pipelines.agent.loop.variant import ABLATIONS, FULL_AGENT
from trade_pipelines.market_data.builtin import (
    BENCHMARK_SYMBOL,
    VIX_SYMBOL,
    load_builtin_bars,
)

SYMBOLS = ["AAPL", "JPM", "KO", "XOM", "MSFT", "PFE", "WMT"]
START, END = date(2018, 1, 2), date(2018, 12, 31)


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    every = load_builtin_bars()
    return every[every["as_of"] >= date(2015, 1, 1)]


def _decisions(bars: pd.DataFrame, variant=FULL_AGENT) -> pd.DataFrame:
    result = run_agent_loop(bars, START, END, SYMBOLS, BENCHMARK_SYMBOL, VIX_SYMBOL,
                            variant=variant)
    return result["frames"]["decisions"]


@pytest.fixture(scope="module")
def full(bars: pd.DataFrame) -> pd.DataFrame:
    return _decisions(bars)


def test_without_memory_no_decision_recalls_one(bars: pd.DataFrame,
                                                 full: pd.DataFrame) -> None:
    assert (full["memories_used"] != "[]").any(), "the full agent never recalled a memory"
    ablated = _decisions(bars, ABLATIONS["no_memory"])
    assert len(ablated) > 0
    assert (ablated["memories_used"] == "[]").all()


def test_without_debate_every_account_takes_the_proposers_size(bars: pd.DataFrame,
                                                               full: pd.DataFrame) -> None:
    ablated = _decisions(bars, ABLATIONS["no_debate"])
    assert len(ablated) > 0
    assert set(ablated["verdict"]) <= {"execute", "drop"}
    taken = ablated[ablated["verdict"] == "execute"]
    assert len(taken) > 0
    assert (taken["weight_combined"] == taken["weight_aggressive"]).all()
    assert (taken["weight_conservative"] == taken["weight_aggressive"]).all()
    # 5-10% of equity by strength, scaled down by sizing rules and probation (and, from
    # the reviews' changes, by the checklist: it sizes all three accounts alike here)
    assert ((taken["weight_combined"] > 0) & (taken["weight_combined"] <= 0.10)).all()
    lines = [json.loads(t) for t in ablated["transcript"]]
    assert all(all(line["role"] == "judge" and line["text"].startswith("Checklist:")
                   for line in t) for t in lines)
    assert all((t == []) == (c == "[]") for t, c in zip(lines, ablated["changes_applied"],
                                                        strict=True))
    assert (ablated["rounds"] == 0).all()
    # the debate does change sizes: the full agent cut or dropped some of the same proposals
    assert (full["weight_combined"] < full["weight_aggressive"]).any()
