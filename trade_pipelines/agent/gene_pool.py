"""The strategy gene pool: seeded genomes, weekly evaluation, elimination.

A genome is eliminated after failing the bar (win rate < 45%, Sharpe < 0.5 or score < 60)
at two evaluations in a row; the pool never drops below ``POOL_FLOOR`` tradeable genomes,
so the best-scoring eliminated ones are reinstated rather than leaving the agent idle.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd

from trade_pipelines.agent.strategies import (
    SEEDED_STRATEGIES,
    StrategyGenome,
    setup_outcomes,
    strategy_score,
    summarise_outcomes,
)

MIN_WIN_RATE = 0.45
MIN_SHARPE = 0.5
MIN_SCORE = 60.0
POOL_FLOOR = 3
EVALUATION_WINDOW = timedelta(days=365)
TRADEABLE = ("active", "watch", "reinstated")

GENOMES = {genome.strategy_id: genome for genome in SEEDED_STRATEGIES}


def seeded_pool() -> pd.DataFrame:
    """Rows for the ``strategies`` table."""
    return pd.DataFrame([
        {"strategy_id": g.strategy_id, "name": g.name, "family": g.family,
         "genome": g.genome_json(), "parents": json.dumps([]), "origin": "seed",
         "as_of": None, "status": "active"}
        for g in SEEDED_STRATEGIES
    ])


def all_outcomes(genomes: list[StrategyGenome], features: pd.DataFrame) -> pd.DataFrame:
    frames = [setup_outcomes(g, features).assign(strategy_id=g.strategy_id) for g in genomes]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["symbol", "signal_as_of", "known_as_of", "return",
                                     "strategy_id"])
    return pd.concat(frames, ignore_index=True)


def _fails(stats: dict[str, float], score: float) -> bool:
    return bool(
        stats["n_trades"] == 0
        or np.nan_to_num(stats["win_rate"]) < MIN_WIN_RATE
        or np.nan_to_num(stats["sharpe"]) < MIN_SHARPE
        or score < MIN_SCORE
    )


def evaluate_pool(
    genomes: list[StrategyGenome],
    outcomes: pd.DataFrame,
    evaluation_days: list[date],
    previous_status: dict[str, str],
) -> pd.DataFrame:
    """One row per (evaluation day, genome), using outcomes known by that day only.

    At each day a genome is judged on its outcomes with ``known_as_of`` in
    (day - EVALUATION_WINDOW, day], in the order they appear in ``outcomes``.
    """
    rows = []
    # A reinstated genome is on probation, as a watched one is; the stored label says
    # "reinstated", the state machine carries "watch".
    status = {k: "watch" if v == "reinstated" else v for k, v in previous_status.items()}
    # Each genome's outcomes are split out once; a day's window is then a mask over them.
    known = pd.to_datetime(outcomes["known_as_of"]).to_numpy().astype("datetime64[D]")
    strategy_ids = outcomes["strategy_id"].to_numpy()
    returns = outcomes["return"].to_numpy(dtype=float)
    by_genome = {}
    for genome in genomes:
        mine = strategy_ids == genome.strategy_id
        by_genome[genome.strategy_id] = (known[mine], returns[mine])
    for day in evaluation_days:
        last = np.datetime64(day, "D")
        first = np.datetime64(day - EVALUATION_WINDOW, "D")
        day_rows = []
        for genome in genomes:
            genome_known, genome_returns = by_genome[genome.strategy_id]
            in_window = (genome_known <= last) & (genome_known > first)
            stats = summarise_outcomes(genome_returns[in_window], genome.max_holding_days)
            score = strategy_score(stats)
            before = status.get(genome.strategy_id, "active")
            if _fails(stats, score):
                new = "eliminated" if before in ("watch", "eliminated") else "watch"
            else:
                new = "active" if before != "eliminated" else "eliminated"
            day_rows.append({"as_of": day, "strategy_id": genome.strategy_id, **stats,
                             "score": score, "status": new})
        tradeable = [r for r in day_rows if r["status"] in TRADEABLE]
        if len(tradeable) < POOL_FLOOR:
            candidates = sorted((r for r in day_rows if r["status"] == "eliminated"),
                                key=lambda r: (-r["score"], r["strategy_id"]))
            for row in candidates[: POOL_FLOOR - len(tradeable)]:
                row["status"] = "reinstated"
        for row in day_rows:
            # a reinstated genome is on probation: it fails out again at its next miss
            status[row["strategy_id"]] = "watch" if row["status"] == "reinstated" \
                else row["status"]
        rows.extend(day_rows)
    columns = ["as_of", "strategy_id", "n_trades", "win_rate", "sharpe", "max_drawdown",
               "total_return", "score", "status"]
    frame = pd.DataFrame(rows)
    return frame[columns] if not frame.empty else pd.DataFrame(columns=columns)


def week_ends(trading_days: list[date]) -> list[date]:
    """The last trading day of each ISO week among ``trading_days``."""
    by_week: dict[tuple[int, int], date] = {}
    for day in sorted(trading_days):
        iso = day.isocalendar()
        by_week[(iso.year, iso.week)] = day
    return sorted(by_week.values())
