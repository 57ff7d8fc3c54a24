"""Breeding operators: deterministic for a day, different across days, ids from content,
crossover across families, and mutated parameters the entry rules accept."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.evolution.genomes import (
    SEEDED_GENOMES,
    SEEDED_STRATEGIES,
    bred,
    content_id,
    entry_signal,
    genome_from_json,
    indicator,
    with_indicators,
)
from trade_pipelines.agent.evolution.operators import (
    PARAM_SPACE,
    TRAILING_SPACE,
    breed,
    crossover,
    day_rng,
    mutate,
    wild,
)
from trade_pipelines.agent.perception.features import compute_features

DAY = date(2016, 3, 4)
RANKED = list(SEEDED_STRATEGIES)


def _ids(births: list) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(b.genome.strategy_id, b.origin, b.parents) for b in births]


def test_breeding_is_deterministic_for_a_day_and_differs_across_days() -> None:
    first = breed(DAY, RANKED, set(SEEDED_GENOMES), 10, True)
    again = breed(DAY, RANKED, set(SEEDED_GENOMES), 10, True)
    other = breed(date(2016, 3, 11), RANKED, set(SEEDED_GENOMES), 10, True)
    assert _ids(first) == _ids(again)
    assert first and _ids(first) != _ids(other)


def test_slots_truncate_the_same_candidates() -> None:
    all_of_them = breed(DAY, RANKED, set(SEEDED_GENOMES), 10, True)
    two = breed(DAY, RANKED, set(SEEDED_GENOMES), 2, True)
    assert _ids(two) == _ids(all_of_them)[:2]
    assert breed(DAY, RANKED, set(SEEDED_GENOMES), 0, True) == []


def test_a_known_genome_is_not_born_again() -> None:
    births = breed(DAY, RANKED, set(SEEDED_GENOMES), 10, True)
    known = set(SEEDED_GENOMES) | {births[0].genome.strategy_id}
    assert births[0].genome.strategy_id not in {b.genome.strategy_id
                                                for b in breed(DAY, RANKED, known, 10, True)}


def test_ids_are_stable_and_derive_from_content() -> None:
    genome = mutate(SEEDED_GENOMES["S01"], day_rng(DAY))
    assert genome.strategy_id == content_id(genome)
    assert genome.strategy_id.startswith("G-")
    assert genome_from_json(genome.genome_json()) == genome
    same = bred(genome.family, genome.entry, dict(reversed(list(genome.params.items()))),
                genome.stop_loss, genome.take_profit, genome.max_holding_days,
                genome.filters, genome.sizing)
    assert same.strategy_id == genome.strategy_id
    assert replace(genome, stop_loss=genome.stop_loss + 0.01).content() != genome.content()
    # seeded genomes keep their readable ids
    assert [g.strategy_id for g in SEEDED_STRATEGIES] == [f"S{i:02d}" for i in range(1, 11)]


def test_a_genome_without_a_trailing_stop_keeps_its_stored_form() -> None:
    seed = SEEDED_GENOMES["S01"]
    assert "trailing_stop" not in seed.genome_json()
    trailed = replace(seed, trailing_stop=0.1)
    assert "trailing_stop" in trailed.genome_json()
    assert genome_from_json(trailed.genome_json()) == trailed
    assert content_id(trailed) != content_id(seed)
    assert "trail 10%" in bred(seed.family, seed.entry, seed.params, seed.stop_loss,
                               seed.take_profit, seed.max_holding_days,
                               trailing_stop=0.1).name


def test_mutation_switches_trailing_stops_on_and_off_within_their_range() -> None:
    rng = day_rng(DAY)
    children = [mutate(parent, rng) for parent in SEEDED_STRATEGIES for _ in range(40)]
    trailed = [c for c in children if c.trailing_stop]
    assert trailed and len(trailed) < len(children)
    assert all(TRAILING_SPACE[0] <= c.trailing_stop <= TRAILING_SPACE[1] for c in trailed)
    grandchildren = [mutate(c, rng) for c in trailed for _ in range(20)]
    assert any(not g.trailing_stop for g in grandchildren)


def test_crossover_parents_come_from_different_families() -> None:
    births = breed(DAY, RANKED, set(SEEDED_GENOMES), 10, first_of_month=True)
    cross = [b for b in births if b.origin == "crossover"]
    assert len(cross) == 1
    a, b = (SEEDED_GENOMES[p] for p in cross[0].parents)
    assert a.family != b.family
    assert cross[0].genome.entry == a.entry and cross[0].genome.family == a.family
    assert not [b for b in breed(DAY, RANKED, set(SEEDED_GENOMES), 10, first_of_month=False)
                if b.origin == "crossover"]
    with pytest.raises(ValueError):
        crossover(SEEDED_GENOMES["S01"], SEEDED_GENOMES["S02"], day_rng(DAY))


def test_mutants_stay_in_their_parameter_space() -> None:
    rng = day_rng(DAY)
    for parent in SEEDED_STRATEGIES:
        for _ in range(20):
            child = mutate(parent, rng)
            assert child.entry == parent.entry and child.family == parent.family
            for name, value in child.params.items():
                low, high, _ = PARAM_SPACE[child.entry][name]
                assert low <= value <= high, (child.name, name)


def _features() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    days = pd.bdate_range("2020-01-01", periods=300).date
    rows = []
    for symbol in ("AAA", "BBB"):
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, len(days))))
        rows.append(pd.DataFrame({"symbol": symbol, "as_of": days, "close": close,
                                  "high": close, "low": close, "volume": 1e6}))
    return compute_features(pd.concat(rows, ignore_index=True))


def test_an_indicator_of_any_window_is_computed_and_equals_the_stored_one() -> None:
    features = _features()
    stored = features["sma_50"]
    dropped = features.drop(columns=["sma_50", "rsi_14", "zscore_20", "vol_20", "ret_20d"])
    pd.testing.assert_series_equal(indicator(dropped, "sma", 50), stored, check_names=False)
    for kind, column in (("rsi", "rsi_14"), ("zscore", "zscore_20"), ("vol", "vol_20"),
                         ("ret", "ret_20d")):
        n = int(column.split("_")[1].rstrip("d"))
        np.testing.assert_array_equal(indicator(dropped, kind, n).to_numpy(),
                                      features[column].to_numpy())
    # a window nobody stores: computed per symbol, NaN until the window is full
    sma_37 = indicator(features, "sma", 37)
    aaa = features["symbol"] == "AAA"
    assert sma_37[aaa].iloc[:36].isna().all()
    assert sma_37[aaa].iloc[36] == pytest.approx(features.loc[aaa, "close"].iloc[:37].mean())


def test_wild_and_mutated_genomes_signal_on_real_features() -> None:
    features = _features().assign(breadth=0.5)
    rng = day_rng(DAY)
    genomes = [wild(rng) for _ in range(15)] + [mutate(g, rng) for g in SEEDED_STRATEGIES]
    wide = with_indicators(features, genomes)
    assert len(wide.columns) > len(features.columns)
    fired = 0
    for genome in genomes:
        on_wide, on_plain = entry_signal(genome, wide), entry_signal(genome, features)
        assert on_wide.dtype == bool
        pd.testing.assert_series_equal(on_wide, on_plain)
        fired += int(on_wide.any())
    assert fired > 0
