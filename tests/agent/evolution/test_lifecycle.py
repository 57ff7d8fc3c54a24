"""The gene pool's life over three years of built-in data: births by every operator,
promotions on out-of-sample evidence, eliminations, each with its reason; the same
inputs give the same tables, a split run equals one run, the future changes no past
decision, and without evolution the pool stays the seeded genomes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.decision.debate import proposer_size
from trade_pipelines.agent.evolution.books import genome_books
from trade_pipelines.agent.evolution.evaluation import (
    EVALUATION_WINDOW,
    TRADEABLE,
    book_figures,
    evaluation_days,
)
from trade_pipelines.agent.evolution.genomes import SEEDED_GENOMES
from trade_pipelines.agent.evolution.lifecycle import (
    MAX_LIVING,
    MIN_OOS_TRADES,
    PROBATION_SCALE,
    PROMOTION_LOOK_WEEKS,
    GenePool,
    Lineage,
    PoolRun,
    PoolState,
    Probation,
    weeks_since_birth,
)
from trade_pipelines.agent.loop.wiring import evaluate_gene_pool, with_breadth
from trade_pipelines.agent.perception.features import compute_features
from trade_pipelines.market_data.builtin import BENCHMARK_SYMBOL, VIX_SYMBOL, load_builtin_bars
from trade_pipelines.market_data.calendar import exchange_sessions

# Three years in which newborns are bred, watched and eliminated. No newborn of the
# built-in data earns promotion under the excess-of-the-pool gate (see the gate's own
# test below, on books with and without skill).
START, END = date(2012, 1, 1), date(2014, 12, 31)
CUTOFF = date(2014, 1, 14)
NEW_YEAR = date(2014, 1, 1)


def _universe(bars: pd.DataFrame) -> pd.DataFrame:
    symbols = sorted(set(bars["symbol"]) - {BENCHMARK_SYMBOL, VIX_SYMBOL})[:20]
    return bars[bars["symbol"].isin(symbols) & (bars["as_of"] <= END)
                & (bars["as_of"] >= date(2007, 1, 1))]


def _features(bars: pd.DataFrame) -> pd.DataFrame:
    return with_breadth(compute_features(bars))


def _days(start: date = START, end: date = END) -> list[date]:
    return evaluation_days(exchange_sessions(start, end + timedelta(days=7)), start, end)


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return _universe(load_builtin_bars())


@pytest.fixture(scope="module")
def features(bars: pd.DataFrame) -> pd.DataFrame:
    return _features(bars)


@pytest.fixture(scope="module")
def run(features: pd.DataFrame) -> PoolRun:
    return evaluate_gene_pool(features, _days())


def test_every_operator_and_verdict_happens_with_a_reason(run: PoolRun) -> None:
    history = run.history
    births = history[history["event"] == "birth"]
    origins = set(run.strategies()["origin"])
    assert {"mutation", "crossover", "wild"} <= origins
    assert len(births) == len(run.strategies())
    for event in ("birth", "elimination", "watch"):
        rows = history[history["event"] == event]
        assert len(rows) > 0, event
        assert rows["reason"].str.len().gt(10).all(), event
    # crossovers name two parents of different families, mutations one
    strategies = run.strategies().set_index("strategy_id")
    families = {k: v.genome.family for k, v in run.state.lineages.items()}
    for _, row in strategies.iterrows():
        parents = json.loads(row["parents"])
        assert len(parents) == {"mutation": 1, "crossover": 2, "wild": 0}[row["origin"]]
        if row["origin"] == "crossover":
            assert families[parents[0]] != families[parents[1]]
        assert row["generation"] == 1 + max((run.state.lineages[p].generation
                                             for p in parents), default=0)


def test_the_pool_stays_under_its_cap_and_records_the_year_ago_check(run: PoolRun) -> None:
    evaluations = run.evaluations
    living = evaluations[evaluations["status"].isin(TRADEABLE)].groupby("as_of").size()
    assert living.max() <= MAX_LIVING
    # both figures are recorded for most rows (a window without a trade has none)
    assert evaluations[["recent_return", "year_ago_return"]].notna().mean().min() > 0.5
    assert (evaluations["recent_return"] != evaluations["year_ago_return"]).any()


def test_two_identical_runs_give_identical_tables(features: pd.DataFrame,
                                                  run: PoolRun) -> None:
    again = evaluate_gene_pool(features.copy(), _days())
    pd.testing.assert_frame_equal(again.evaluations, run.evaluations)
    pd.testing.assert_frame_equal(again.history, run.history)
    pd.testing.assert_frame_equal(again.strategies(), run.strategies())


def _eliminated_newborn_days(run: PoolRun) -> list[date]:
    history = run.history
    bred = ~history["strategy_id"].str.match(r"S\d\d$")
    return sorted(set(history.loc[(history["event"] == "elimination") & bred, "as_of"]))


@pytest.mark.parametrize("split", ["new_year", "after_an_elimination"])
def test_a_run_split_in_two_through_the_stored_tables_equals_one_run(
        features: pd.DataFrame, run: PoolRun, split: str) -> None:
    if split == "new_year":
        middle = NEW_YEAR
    else:  # the day after a newborn was eliminated: it must not come back
        eliminations = [d for d in _eliminated_newborn_days(run) if d > START + timedelta(90)]
        assert eliminations, "no newborn was eliminated: nothing to test"
        middle = eliminations[0] + timedelta(days=1)
    first = evaluate_gene_pool(features, _days(START, middle - timedelta(days=1)))
    last_day = first.evaluations["as_of"].max()
    promotions = first.history[first.history["event"] == "promotion"][["strategy_id", "as_of"]]
    state = PoolState.from_tables(
        first.strategies(), first.evaluations[first.evaluations["as_of"] == last_day],
        promotions)
    second = evaluate_gene_pool(features, _days(middle, END), state)
    both = pd.concat([first.evaluations, second.evaluations], ignore_index=True)
    pd.testing.assert_frame_equal(both, run.evaluations)
    pd.testing.assert_frame_equal(
        pd.concat([first.history, second.history], ignore_index=True), run.history)


def test_perturbing_bars_after_a_day_changes_no_pool_decision_up_to_it(
        bars: pd.DataFrame, run: PoolRun) -> None:
    later = bars["as_of"] > CUTOFF
    perturbed = bars.copy()
    rng = np.random.default_rng(7)
    perturbed.loc[later, "close"] *= rng.uniform(0.7, 1.3, size=int(later.sum()))
    other = evaluate_gene_pool(_features(perturbed), _days())
    for name in ("evaluations", "history"):
        a, b = getattr(run, name), getattr(other, name)
        pd.testing.assert_frame_equal(a[a["as_of"] <= CUTOFF].reset_index(drop=True),
                                      b[b["as_of"] <= CUTOFF].reset_index(drop=True))
        assert not a[a["as_of"] > CUTOFF].reset_index(drop=True).equals(
            b[b["as_of"] > CUTOFF].reset_index(drop=True))


def test_without_evolution_the_pool_stays_the_seeded_genomes(features: pd.DataFrame) -> None:
    days = _days(START, date(2012, 12, 31))
    fixed = evaluate_gene_pool(features, days, evolve=False)
    assert set(fixed.evaluations["strategy_id"]) == set(SEEDED_GENOMES)
    assert fixed.strategies().empty
    assert "birth" not in set(fixed.history["event"])
    assert len(fixed.evaluations) == len(days) * len(SEEDED_GENOMES)


def test_a_newborn_trades_small_until_the_day_after_its_promotion() -> None:
    probation = Probation({"G-1": date(2020, 1, 3), "G-2": date(2020, 1, 3)},
                          {"G-1": date(2020, 3, 6)})
    assert probation.scale("S01", date(2020, 2, 1)) == 1.0
    assert probation.scale("G-1", date(2020, 3, 6)) == PROBATION_SCALE
    assert probation.scale("G-1", date(2020, 3, 9)) == 1.0
    assert probation.scale("G-2", date(2021, 1, 1)) == PROBATION_SCALE


def test_the_probation_scale_reaches_the_proposers_size() -> None:
    from dataclasses import fields

    from trade_pipelines.agent.decision.debate import Evidence, SetupRecord

    values = {f.name: None for f in fields(Evidence)}
    values.update(strength=1.0, record=SetupRecord(0, 0, 0, 0, 0, 0), memories=[])
    full = Evidence(**{**values, "size_scale": 1.0})
    small = Evidence(**{**values, "size_scale": PROBATION_SCALE})
    assert proposer_size(full) == 0.10
    assert proposer_size(small) == pytest.approx(0.10 * PROBATION_SCALE)


def test_a_newborns_deflated_sharpe_is_taken_at_its_looks_on_its_book_since_birth(
        run: PoolRun) -> None:
    evaluations = run.evaluations
    born = {k: v.born_as_of for k, v in run.state.lineages.items()}
    looked = evaluations[evaluations["deflated_sharpe"].notna()]
    assert len(looked) > 10 and looked["deflated_sharpe"].between(0, 1).all()
    weeks = [weeks_since_birth(born[s], d)
             for s, d in zip(looked["strategy_id"], looked["as_of"], strict=True)]
    assert all(w > 0 and w % PROMOTION_LOOK_WEEKS == 0 for w in weeks)
    # seeds are never on probation: no deflated Sharpe is taken for them
    assert not looked["strategy_id"].isin(list(SEEDED_GENOMES)).any()


def test_weeks_since_birth_count_calendar_weeks_whatever_the_weekday() -> None:
    friday = date(2016, 1, 8)
    assert weeks_since_birth(friday, friday) == 0
    assert weeks_since_birth(friday, date(2016, 1, 14)) == 1      # Thursday a week on
    assert weeks_since_birth(friday, friday + timedelta(weeks=13)) == 13
    assert weeks_since_birth(date(2016, 1, 4), date(2016, 1, 8)) == 0  # same week
    assert weeks_since_birth(None, friday) == 0                 # a seed is never on probation


def test_the_pools_sharpe_is_that_of_the_genomes_daily_book(run: PoolRun,
                                                            features: pd.DataFrame) -> None:
    evaluations = run.evaluations
    scored = evaluations[evaluations["sharpe"].notna()]  # a year without a trade has none
    bred = [s for s in run.strategies()["strategy_id"] if s in set(scored["strategy_id"])]
    for sid in ("S01", "S04", bred[0]):
        row = scored[scored["strategy_id"] == sid].iloc[-1]
        genome = run.state.lineages[sid].genome
        books, days, _ = genome_books([genome], features)
        expected = book_figures(
            (np.array(days, dtype="datetime64[D]"), books.daily_returns[0]),
            row["as_of"] - EVALUATION_WINDOW, row["as_of"])
        assert row["sharpe"] == pytest.approx(expected["sharpe"]), sid
        assert row["max_drawdown"] == pytest.approx(expected["max_drawdown"]), sid


def _pool_with_a_newborn(features: pd.DataFrame, excess: float, seed: int
                         ) -> tuple[GenePool, str, date]:
    """The seeded pool over the fixture's data, plus one newborn whose book is the seeds'
    mean book plus ``excess`` a day and noise, with enough trades after birth."""
    pool = GenePool(features, PoolState.seeded())
    born = date(2013, 1, 4)
    day = born + timedelta(weeks=2 * PROMOTION_LOOK_WEEKS)
    days, _ = pool.books["S01"]
    common = np.mean([pool.books[s][1] for s in SEEDED_GENOMES], axis=0)
    noise = np.random.default_rng(seed).normal(0.0, 0.002, common.size)
    genome = replace(SEEDED_GENOMES["S01"], strategy_id="G-test", name="test newborn")
    pool.state.lineages["G-test"] = Lineage(genome, "mutation", ("S01",), 1, born)
    pool.state.status["G-test"] = "probation"
    pool.books["G-test"] = (days, common + excess + noise)
    after = np.array([np.datetime64(born + timedelta(days=7 + 5 * i), "D")
                      for i in range(MIN_OOS_TRADES + 5)])
    pool.records["G-test"] = (after, np.full(after.size, 0.01), after)
    return pool, "G-test", day


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_gate_promotes_skill_beyond_the_pool_not_the_pools_own_drift(
        features: pd.DataFrame, seed: int) -> None:
    for excess, promoted in ((0.0015, True), (0.0, False)):
        pool, sid, day = _pool_with_a_newborn(features, excess, seed)
        assert pool._look(sid, day) and not pool._look(sid, day - timedelta(weeks=1))
        row = {"strategy_id": sid, "oos_trades": pool._oos_trades(sid, day),
               "deflated_sharpe": pool._deflated_sharpe(sid, day)}
        assert row["oos_trades"] >= MIN_OOS_TRADES
        reason = pool._promotion(row, day)
        assert (reason is not None) is promoted, (excess, row["deflated_sharpe"])
        if promoted:
            assert f"against the {pool.trials(day)} genomes tried" in reason
        # not on a day between looks, whatever the evidence
        assert pool._promotion({**row, "deflated_sharpe": 1.0},
                               day - timedelta(weeks=1)) is None


def test_trials_count_every_genome_tried_by_the_day_dead_or_alive(run: PoolRun) -> None:
    pool = GenePool.__new__(GenePool)
    pool.state = run.state
    born = sorted(v.born_as_of for v in run.state.lineages.values() if v.born_as_of)
    assert pool.trials(START) == len(SEEDED_GENOMES)
    assert pool.trials(born[9]) == len(SEEDED_GENOMES) + 10 + sum(
        1 for d in born[10:] if d == born[9])
    assert pool.trials(END) == len(run.state.lineages) > len(run.state.status)
