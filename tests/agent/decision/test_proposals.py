"""Trade proposals: only genomes that fire propose, one proposal per symbol, at most
MAX_PROPOSALS_PER_DAY a day, ranked by gene-pool score and signal strength."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.decision.proposals import (
    COLUMNS,
    MAX_PROPOSALS_PER_DAY,
    propose,
    propose_for_window,
)
from trade_pipelines.agent.evolution.genomes import SEEDED_GENOMES as GENOMES
from trade_pipelines.agent.evolution.genomes import StrategyGenome, entry_signal
from trade_pipelines.agent.evolution.lifecycle import Probation
from trade_pipelines.agent.ids import stable_id

DAY = date(2024, 5, 6)
BREAKOUT = StrategyGenome("B", "test breakout", "breakout", "breakout", {"window": 55})
OVERSOLD = StrategyGenome("R", "test oversold", "mean_reversion", "rsi_oversold",
                          {"rsi_max": 30})

# A quiet row: neither test genome fires (close under the 55-day high, RSI 50).
NEUTRAL = {"as_of": DAY, "close": 100.0, "ret_20d": 0.0, "sma_20": 100.0, "sma_50": 100.0,
           "sma_200": 100.0, "vol_20": 0.30, "rsi_14": 50.0, "zscore_20": 0.0,
           "high_55": 110.0, "breadth": 0.5}
BREAKS_OUT = {"close": 115.0, "ret_20d": 0.05}   # breakout strength 0.5
OVERSOLD_ROW = {"rsi_14": 20.0}                   # oversold strength 1.0


def rows(*specs: tuple[str, dict]) -> pd.DataFrame:
    return pd.DataFrame([{**NEUTRAL, "symbol": symbol, **spec} for symbol, spec in specs])


def test_only_genomes_whose_signal_fires_propose() -> None:
    day = rows(("AAA", BREAKS_OUT), ("BBB", OVERSOLD_ROW), ("CCC", {}))
    out = propose(day, [BREAKOUT, OVERSOLD], {})
    assert dict(zip(out["symbol"], out["strategy_id"], strict=True)) == {"AAA": "B", "BBB": "R"}
    genomes = {"B": BREAKOUT, "R": OVERSOLD}
    for p in out.itertuples():
        row = day[day["symbol"] == p.symbol]
        assert entry_signal(genomes[p.strategy_id], row).item()


def test_a_genome_outside_the_tradeable_list_never_proposes() -> None:
    day = rows(("AAA", BREAKS_OUT), ("BBB", OVERSOLD_ROW))
    out = propose(day, [OVERSOLD], {"B": 100.0, "R": 0.0})
    assert out["strategy_id"].tolist() == ["R"]
    assert propose(day, [], {}).empty


def test_no_signal_no_proposal() -> None:
    out = propose(rows(("AAA", {}), ("BBB", {})), [BREAKOUT, OVERSOLD], {})
    assert out.empty
    assert list(out.columns) == COLUMNS


@pytest.mark.parametrize(("scores", "winner"), [({"B": 90.0, "R": 10.0}, "B"),
                                                ({"B": 0.0, "R": 100.0}, "R")])
def test_one_proposal_per_symbol_from_its_best_ranked_genome(scores: dict[str, float],
                                                             winner: str) -> None:
    # B: 0.6 * 0.9 + 0.4 * 0.5 = 0.74 beats R: 0.6 * 0.1 + 0.4 * 1.0 = 0.46, and the
    # other way round when R has the better record
    day = rows(("AAA", {**BREAKS_OUT, **OVERSOLD_ROW}))
    out = propose(day, [BREAKOUT, OVERSOLD], scores)
    assert out["symbol"].tolist() == ["AAA"]
    assert out["strategy_id"].tolist() == [winner]


def test_at_most_max_proposals_a_day_strongest_first() -> None:
    specs = [(f"S{i:02d}", {"close": 115.0, "ret_20d": 0.01 * (i + 1)}) for i in range(10)]
    out = propose(rows(*specs), [BREAKOUT, OVERSOLD], {"B": 50.0})
    assert len(out) == MAX_PROPOSALS_PER_DAY == 6
    assert out["symbol"].tolist() == [f"S{i:02d}" for i in range(9, 3, -1)]
    assert out["strength"].is_monotonic_decreasing


def test_equal_rank_breaks_ties_by_symbol() -> None:
    out = propose(rows(("BBB", BREAKS_OUT), ("AAA", BREAKS_OUT)), [BREAKOUT], {})
    assert out["symbol"].tolist() == ["AAA", "BBB"]


def test_proposal_fields() -> None:
    day = rows(("AAA", {"close": 115.0, "ret_20d": 0.0123456, "rsi_14": 61.0,
                        "vol_20": 0.25}))
    p = propose(day, [BREAKOUT], {"B": 70.0}).iloc[0]
    assert list(p.index) == COLUMNS
    assert p["side"] == "buy"
    assert p["as_of"] == DAY
    assert p["strength"] == 0.1235  # |20d return| / 10%, rounded to 4 places
    assert p["proposal_id"] == stable_id("P", DAY, "AAA", "B")
    assert p["rationale"] == ("test breakout (breakout) fired on AAA: close 115.00, 20d return "
                              "+1.2%, RSI 61, volatility 25%.")


def random_days(seed: int, n_days: int = 12, n_symbols: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = []
    for d in range(n_days):
        for s in range(n_symbols):
            close = float(rng.uniform(80, 120))
            out.append({
                "symbol": f"S{s:02d}", "as_of": DAY + timedelta(days=d), "close": close,
                "ret_20d": float(rng.normal(0, 0.08)), "sma_20": close * rng.uniform(0.9, 1.1),
                "sma_50": close * rng.uniform(0.9, 1.1), "sma_200": close * rng.uniform(0.8, 1.2),
                "vol_20": float(rng.uniform(0.1, 0.4)), "rsi_14": float(rng.uniform(15, 70)),
                "zscore_20": float(rng.normal(0, 1.5)), "high_55": close * rng.uniform(0.9, 1.1),
                "breadth": float(rng.uniform(0.1, 0.9))})
    return pd.DataFrame(out)


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_several_days_at_once_equal_one_day_at_a_time(seed: int) -> None:
    features = random_days(seed)
    genomes = list(GENOMES.values())
    scores = {g: float(s) for g, s in zip(GENOMES, np.linspace(30, 90, len(GENOMES)),
                                          strict=True)}
    together = propose(features, genomes, scores)
    one_by_one = pd.concat([propose(day, genomes, scores)
                            for _, day in features.groupby("as_of")], ignore_index=True)
    pd.testing.assert_frame_equal(together, one_by_one)
    per_day = together.groupby("as_of")
    assert (per_day.size() <= MAX_PROPOSALS_PER_DAY).all()
    assert (per_day["symbol"].nunique() == per_day.size()).all()
    assert per_day.size().max() == MAX_PROPOSALS_PER_DAY  # the cap is actually exercised


def test_a_day_is_ranked_on_its_own_rows_only() -> None:
    features = random_days(10, n_days=6)
    genomes = list(GENOMES.values())
    cut = features["as_of"].drop_duplicates().iloc[2]
    before = propose(features, genomes, {})
    perturbed = features.copy()
    later = perturbed["as_of"] > cut
    perturbed.loc[later, "rsi_14"] = 5.0  # every oversold genome fires, at full strength
    after = propose(perturbed, genomes, {})
    pd.testing.assert_frame_equal(before[before["as_of"] <= cut].reset_index(drop=True),
                                  after[after["as_of"] <= cut].reset_index(drop=True))
    assert not before[before["as_of"] > cut].reset_index(drop=True).equals(
        after[after["as_of"] > cut].reset_index(drop=True))


def test_a_newborn_on_probation_proposes_only_where_established_genomes_leave_room() -> None:
    # the newborn's (mostly in-sample) score is higher, but it ranks after the others
    both = rows(("AAA", {**BREAKS_OUT, **OVERSOLD_ROW}))
    scores = {"B": 99.0, "R": 10.0}
    assert propose(both, [BREAKOUT, OVERSOLD], scores)["strategy_id"].tolist() == ["B"]
    out = propose(both, [BREAKOUT, OVERSOLD], scores, statuses={"B": "probation",
                                                                 "R": "active"})
    assert out["strategy_id"].tolist() == ["R"]
    # and it takes the day's slots only after every established candidate
    many = rows(*[(f"S{i:02d}", BREAKS_OUT) for i in range(MAX_PROPOSALS_PER_DAY)],
                ("ZZZ", OVERSOLD_ROW))
    out = propose(many, [BREAKOUT, OVERSOLD], {"B": 99.0, "R": 10.0},
                  statuses={"B": "probation", "R": "watch"})
    assert out["symbol"].iloc[0] == "ZZZ" and len(out) == MAX_PROPOSALS_PER_DAY


def test_over_a_window_an_unpromoted_newborn_ranks_last_whatever_its_label() -> None:
    # both missed the bar once; B, a newborn, has the better score
    evaluated = DAY - timedelta(days=3)
    evaluations = pd.DataFrame({"as_of": [evaluated] * 2, "strategy_id": ["B", "R"],
                                "score": [99.0, 10.0], "status": ["watch", "watch"]})
    both = rows(("AAA", {**BREAKS_OUT, **OVERSOLD_ROW}))
    genomes = {"B": BREAKOUT, "R": OVERSOLD}
    tradeable = ("active", "watch", "probation")
    plain = propose_for_window(both, evaluations, genomes, tradeable)
    assert plain["strategy_id"].tolist() == ["B"]
    newborn = Probation({"B": evaluated - timedelta(days=30)}, {})
    out = propose_for_window(both, evaluations, genomes, tradeable, probation=newborn)
    assert out["strategy_id"].tolist() == ["R"]
    promoted = Probation({"B": evaluated - timedelta(days=30)}, {"B": evaluated})
    again = propose_for_window(both, evaluations, genomes, tradeable, probation=promoted)
    assert again["strategy_id"].tolist() == ["B"]
