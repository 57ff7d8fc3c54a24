"""Breeding operators of the gene pool: mutation, crossover and wild genomes.

Every draw comes from a generator seeded by the evaluation day (``day_rng``), and the
operators only read genomes and the day's scores, so a replay breeds exactly the same
genomes on the same days, whichever way its range is split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np

from trade_pipelines.agent.evolution.genomes import StrategyGenome, bred

# Entry rule -> parameter -> (low, high, integer?). Windows stay within 200 bars, the
# look-back the stored features guarantee.
PARAM_SPACE: dict[str, dict[str, tuple[float, float, bool]]] = {
    "sma_cross": {"fast": (5, 60, True), "slow": (30, 200, True)},
    "momentum": {"min_return": (0.02, 0.20, False), "lookback": (5, 60, True),
                 "trend": (20, 200, True)},
    "breakout": {"window": (10, 120, True)},
    "rsi_oversold": {"rsi_max": (15, 45, False), "rsi_window": (5, 30, True)},
    "zscore_reversion": {"z_max": (-3.5, -1.0, False), "window": (10, 60, True)},
    "pullback": {"rsi_max": (25, 50, False), "trend": (50, 200, True),
                 "rsi_window": (5, 30, True)},
    "vol_contraction": {"max_vol": (0.08, 0.35, False), "vol_window": (10, 60, True),
                        "sma": (10, 60, True)},
    "low_vol_trend": {"max_vol": (0.10, 0.40, False), "vol_window": (10, 60, True),
                      "fast": (20, 100, True), "slow": (100, 200, True)},
    "fear_reversal": {"max_breadth": (0.10, 0.50, False), "rsi_max": (20, 45, False),
                      "rsi_window": (5, 30, True)},
}
FAMILY = {"sma_cross": "trend", "momentum": "trend", "breakout": "breakout",
          "rsi_oversold": "mean_reversion", "zscore_reversion": "mean_reversion",
          "pullback": "mean_reversion", "vol_contraction": "volatility",
          "low_vol_trend": "volatility", "fear_reversal": "sentiment"}
EXIT_SPACE = {"stop_loss": (0.03, 0.15, False), "take_profit": (0.04, 0.35, False),
              "max_holding_days": (5, 60, True)}
# A trailing stop, when a genome has one (0: none), about 1-4 daily ranges of a large
# stock; mutation switches it on and off too.
TRAILING_SPACE = (0.03, 0.12, False)
FILTER_SPACE = {"max_vol": (0.15, 0.60, False), "min_volume_ratio": (0.5, 1.5, False),
                "min_breadth": (0.30, 0.70, False)}

MUTANTS_PER_WEEK = (2, 3)   # variants of the best genomes each evaluation day
MUTATED_PARENTS = 3         # drawn from this many best genomes
WILD_RATE = 0.08            # chance of a random genome on an evaluation day


@dataclass(frozen=True)
class Birth:
    genome: StrategyGenome
    origin: str             # mutation, crossover or wild
    parents: tuple[str, ...]


def day_rng(day: date, salt: str = "gene-pool") -> np.random.Generator:
    """A generator seeded by the day alone: same day, same draws."""
    seed = int.from_bytes(hashlib.sha256(f"{salt}|{day.isoformat()}".encode()).digest()[:8],
                          "big")
    return np.random.default_rng(seed)


def _draw(space: tuple[float, float, bool], rng: np.random.Generator) -> float:
    low, high, integer = space
    value = rng.uniform(low, high)
    return int(round(value)) if integer else round(float(value), 3)


def _jitter(value: float, space: tuple[float, float, bool], rng: np.random.Generator) -> float:
    low, high, integer = space
    moved = float(np.clip(value * rng.uniform(0.75, 1.25), low, high))
    return int(round(moved)) if integer else round(moved, 3)


def _valid(entry: str, params: dict[str, float]) -> dict[str, float]:
    """Keep two-average rules meaningful: the fast average shorter than the slow one."""
    if entry in ("sma_cross", "low_vol_trend") and params["fast"] >= params["slow"]:
        params = {**params, "fast": max(5, int(params["slow"]) // 2)}
    return params


def _complete(entry: str, params: Mapping[str, float]) -> dict[str, float]:
    """A seeded genome's parameters with the windows it uses implicitly made explicit."""
    defaults = {"momentum": {"lookback": 20, "trend": 50}, "breakout": {},
                "rsi_oversold": {"rsi_window": 14}, "zscore_reversion": {"window": 20},
                "pullback": {"trend": 200, "rsi_window": 14},
                "vol_contraction": {"vol_window": 20, "sma": 20},
                "low_vol_trend": {"vol_window": 20, "fast": 50, "slow": 200},
                "fear_reversal": {"rsi_window": 14}}.get(entry, {})
    return {**defaults, **params}


def mutate(genome: StrategyGenome, rng: np.random.Generator) -> StrategyGenome:
    """One or two genes jittered by up to 25%, sometimes a filter or the sizing changed."""
    params = _complete(genome.entry, genome.params)
    exits = {"stop_loss": genome.stop_loss, "take_profit": genome.take_profit,
             "max_holding_days": genome.max_holding_days,
             "trailing_stop": genome.trailing_stop}
    genes = sorted(params) + sorted(exits)
    for gene in rng.choice(genes, size=int(rng.integers(1, 3)), replace=False):
        if gene in params:
            params[gene] = _jitter(params[gene], PARAM_SPACE[genome.entry][gene], rng)
        elif gene == "trailing_stop":
            exits[gene] = _trailing(exits[gene], rng)
        else:
            exits[gene] = _jitter(exits[gene], EXIT_SPACE[gene], rng)
    filters = dict(genome.filters)
    if rng.random() < 0.25:
        name = str(rng.choice(sorted(FILTER_SPACE)))
        if name in filters:
            del filters[name]
        else:
            filters[name] = _draw(FILTER_SPACE[name], rng)
    sizing = _sizing(rng) if rng.random() < 0.15 else dict(genome.sizing)
    return bred(genome.family, genome.entry, _valid(genome.entry, params), **exits,
                filters=filters, sizing=sizing)


def _trailing(value: float, rng: np.random.Generator) -> float:
    """A trailing stop switched on where there is none; else moved, or now and then
    switched off."""
    if not value:
        return _draw(TRAILING_SPACE, rng)
    return 0.0 if rng.random() < 0.25 else _jitter(value, TRAILING_SPACE, rng)


def _sizing(rng: np.random.Generator) -> dict[str, object]:
    match int(rng.integers(0, 3)):
        case 0:
            return {}
        case 1:
            return {"kind": "vol_target", "target": _draw((0.10, 0.30, False), rng),
                    "cap": 1.5}
        case _:
            return {"kind": "fraction", "fraction": _draw((0.30, 1.0, False), rng)}


def crossover(a: StrategyGenome, b: StrategyGenome, rng: np.random.Generator) -> StrategyGenome:
    """``a``'s signal with exits gene by gene from either parent, and ``b``'s filters and
    sizing: two genomes of different families."""
    if a.family == b.family:
        raise ValueError(f"crossover needs two families, got {a.family} twice")
    pick = rng.random(4) < 0.5
    return bred(a.family, a.entry, _complete(a.entry, a.params),
                stop_loss=a.stop_loss if pick[0] else b.stop_loss,
                take_profit=a.take_profit if pick[1] else b.take_profit,
                max_holding_days=a.max_holding_days if pick[2] else b.max_holding_days,
                filters={**a.filters, **b.filters}, sizing=dict(b.sizing or a.sizing),
                trailing_stop=a.trailing_stop if pick[3] else b.trailing_stop)


def wild(rng: np.random.Generator) -> StrategyGenome:
    """A genome drawn at random from the whole space."""
    entry = str(rng.choice(sorted(PARAM_SPACE)))
    params = {k: _draw(space, rng) for k, space in sorted(PARAM_SPACE[entry].items())}
    exits = {k: _draw(space, rng) for k, space in sorted(EXIT_SPACE.items())}
    filters = {}
    if rng.random() < 0.5:
        name = str(rng.choice(sorted(FILTER_SPACE)))
        filters[name] = _draw(FILTER_SPACE[name], rng)
    trailing = _draw(TRAILING_SPACE, rng) if rng.random() < 0.5 else 0.0
    return bred(FAMILY[entry], entry, _valid(entry, params), **exits, filters=filters,
                sizing=_sizing(rng), trailing_stop=trailing)


def breed(day: date, ranked: list[StrategyGenome], known: set[str], slots: int,
          first_of_month: bool) -> list[Birth]:
    """The day's newborns, at most ``slots``: a crossover of the best genome with the best
    of another family on the month's first evaluation, a rare wild genome, and 2-3
    mutants of the best genomes. ``ranked`` is the tradeable pool, best first; a genome
    already ``known`` (by id) is not born twice. Every draw is made whatever ``slots``
    is, so the same day always breeds the same candidates."""
    rng = day_rng(day)
    candidates: list[Birth] = []
    if ranked and first_of_month:
        other = next((g for g in ranked if g.family != ranked[0].family), None)
        if other is not None:
            candidates.append(Birth(crossover(ranked[0], other, rng), "crossover",
                                    (ranked[0].strategy_id, other.strategy_id)))
    if rng.random() < WILD_RATE:
        candidates.append(Birth(wild(rng), "wild", ()))
    if ranked:
        n = int(rng.integers(MUTANTS_PER_WEEK[0], MUTANTS_PER_WEEK[1] + 1))
        for i in range(n):
            parent = ranked[i % min(MUTATED_PARENTS, len(ranked))]
            candidates.append(Birth(mutate(parent, rng), "mutation", (parent.strategy_id,)))
    births, seen = [], set(known)
    for birth in candidates:
        if birth.genome.strategy_id not in seen and len(births) < max(slots, 0):
            seen.add(birth.genome.strategy_id)
            births.append(birth)
    return births
