"""Evaluating the gene pool: what each genome's past signals did, weekly scores, elimination.

A genome is eliminated after failing the bar (win rate < 45%, Sharpe < 0.5 or score < 60)
at two evaluations in a row; the pool never drops below ``POOL_FLOOR`` tradeable genomes,
so the best-scoring eliminated ones are reinstated rather than leaving the agent idle.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from trade_pipelines.agent.evolution.genomes import StrategyGenome, entry_signal

MIN_WIN_RATE = 0.45
MIN_SHARPE = 0.5
MIN_SCORE = 60.0
POOL_FLOOR = 3
EVALUATION_WINDOW = timedelta(days=365)
TRADEABLE = ("active", "watch", "reinstated")



# Share of capital a single evaluated trade is assumed to use, for drawdown and return.
TRADE_ALLOCATION = 0.02


def setup_outcomes(
    genome: StrategyGenome, features: pd.DataFrame, cost: float = 0.001
) -> pd.DataFrame:
    """What happened after each past entry signal of this genome.

    Enter at the next bar's close, leave after ``max_holding_days`` bars or earlier at the
    stop or target (checked on closes). An outcome becomes known (``known_as_of``) on its
    exit day, and only known outcomes may inform a decision.
    """
    frames = []
    horizon = genome.max_holding_days
    for symbol, group in features.groupby("symbol", sort=True):
        group = group.sort_values("as_of")
        closes = group["close"].to_numpy(dtype=float)
        days = group["as_of"].to_numpy()
        n = len(closes)
        signal_rows = np.flatnonzero(entry_signal(genome, group).to_numpy())
        # An outcome needs the entry bar plus a full holding window, unless a stop or
        # target is hit earlier; pad with NaN so the window is defined to the end.
        padded = np.concatenate([closes, np.full(horizon + 1, np.nan)])
        windows = np.lib.stride_tricks.sliding_window_view(padded, horizon + 1)
        entries = signal_rows + 1
        entries = entries[entries < n]
        if entries.size == 0:
            continue
        window = windows[entries]
        path = window[:, 1:] / window[:, :1] - 1
        hit = (path <= -genome.stop_loss) | (path >= genome.take_profit)
        any_hit = hit.any(axis=1)
        first_hit = np.where(any_hit, hit.argmax(axis=1), horizon - 1)
        complete = any_hit | ~np.isnan(path[:, -1])
        exit_index = entries + 1 + first_hit
        keep = complete & (exit_index < n)
        frames.append(pd.DataFrame({
            "symbol": symbol,
            "signal_as_of": days[entries[keep] - 1],
            "known_as_of": days[exit_index[keep]],
            "return": path[keep, first_hit[keep]] - cost,
        }))
    if not frames:
        return pd.DataFrame(columns=["symbol", "signal_as_of", "known_as_of", "return"])
    return pd.concat(frames, ignore_index=True)


def summarise_outcomes(returns: np.ndarray, holding_days: int) -> dict[str, float]:
    """Win rate, payoff ratio, expectancy and a per-year Sharpe of a set of trade returns."""
    n = int(returns.size)
    if n == 0:
        return {"n_trades": 0, "win_rate": np.nan, "payoff": np.nan, "expectancy": np.nan,
                "sharpe": np.nan, "max_drawdown": np.nan, "total_return": np.nan}
    wins, losses = returns[returns > 0], returns[returns <= 0]
    std = returns.std(ddof=1) if n > 1 else np.nan
    trades_per_year = 252 / max(holding_days, 1)
    sharpe = returns.mean() / std * np.sqrt(trades_per_year) if std and std > 0 else np.nan
    equity = np.cumprod(1 + returns * TRADE_ALLOCATION)
    drawdown = float((equity / np.maximum.accumulate(equity) - 1).min())
    return {
        "n_trades": n,
        "win_rate": float(wins.size / n),
        "payoff": float(wins.mean() / -losses.mean()) if wins.size and losses.size
        and losses.mean() < 0 else np.nan,
        "expectancy": float(returns.mean()),
        "sharpe": float(sharpe),
        "max_drawdown": drawdown,
        "total_return": float(equity[-1] - 1),
    }


def strategy_score(stats: dict[str, float]) -> float:
    """0..100 from win rate, Sharpe and drawdown, shrunk towards 0 when evidence is thin."""
    if not stats["n_trades"]:
        return 0.0
    win = np.clip((stats["win_rate"] - 0.40) / 0.20, 0, 1)
    sharpe = np.clip(np.nan_to_num(stats["sharpe"]) / 1.5, 0, 1)
    drawdown = np.clip(1 + stats["max_drawdown"] / 0.30, 0, 1)
    evidence = min(stats["n_trades"] / 20, 1.0)
    return float(round(100 * evidence * (0.35 * win + 0.35 * sharpe + 0.3 * drawdown), 2))


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
