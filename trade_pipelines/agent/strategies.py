"""Strategy genomes: the gene pool's unit. A genome is data (family + parameters); its
entry rule reads one day's features and nothing later.

The interface is deliberately narrow: ``entry_signal(genome, features)`` says which
(symbol, day) rows are entries; exits (stop, target, time) are the engine's job.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

# Share of capital a single evaluated trade is assumed to use, for drawdown and return.
TRADE_ALLOCATION = 0.02


@dataclass(frozen=True)
class StrategyGenome:
    strategy_id: str
    name: str
    family: str
    entry: str
    params: dict[str, float] = field(default_factory=dict)
    stop_loss: float = 0.08
    take_profit: float = 0.15
    max_holding_days: int = 20

    def genome_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


SEEDED_STRATEGIES: tuple[StrategyGenome, ...] = (
    StrategyGenome("S01", "SMA 20/50 trend", "trend", "sma_cross",
                   {"fast": 20, "slow": 50}, 0.08, 0.20, 40),
    StrategyGenome("S02", "Golden cross 50/200", "trend", "sma_cross",
                   {"fast": 50, "slow": 200}, 0.10, 0.25, 60),
    StrategyGenome("S03", "20-day momentum", "trend", "momentum",
                   {"min_return": 0.08}, 0.07, 0.15, 20),
    StrategyGenome("S04", "55-day breakout", "breakout", "breakout",
                   {"window": 55}, 0.08, 0.20, 30),
    StrategyGenome("S05", "RSI oversold bounce", "mean_reversion", "rsi_oversold",
                   {"rsi_max": 30}, 0.06, 0.08, 10),
    StrategyGenome("S06", "Z-score reversion", "mean_reversion", "zscore_reversion",
                   {"z_max": -2.0}, 0.06, 0.06, 10),
    StrategyGenome("S07", "Pullback in uptrend", "mean_reversion", "pullback",
                   {"rsi_max": 40}, 0.06, 0.10, 15),
    StrategyGenome("S08", "Volatility contraction", "volatility", "vol_contraction",
                   {"max_vol": 0.18}, 0.05, 0.10, 20),
    StrategyGenome("S09", "Low-vol trend", "volatility", "low_vol_trend",
                   {"max_vol": 0.25}, 0.07, 0.15, 30),
    StrategyGenome("S10", "Fear reversal", "sentiment", "fear_reversal",
                   {"max_breadth": 0.30, "rsi_max": 35}, 0.10, 0.12, 15),
)


def _sma(features: pd.DataFrame, window: float) -> pd.Series:
    column = f"sma_{int(window)}"
    if column not in features:
        raise ValueError(f"feature {column} is not computed")
    return features[column]


def entry_signal(genome: StrategyGenome, features: pd.DataFrame) -> pd.Series:
    """Boolean per feature row: does this genome want to enter at this row's close?

    ``features`` may carry ``breadth`` (market breadth that day) for sentiment genomes.
    """
    p = genome.params
    close = features["close"]
    match genome.entry:
        case "sma_cross":
            fast, slow = _sma(features, p["fast"]), _sma(features, p["slow"])
            signal = (fast > slow) & (close > fast)
        case "momentum":
            signal = (features["ret_20d"] > p["min_return"]) & (close > features["sma_50"])
        case "breakout":
            signal = close > features["high_55"]
        case "rsi_oversold":
            signal = features["rsi_14"] < p["rsi_max"]
        case "zscore_reversion":
            signal = features["zscore_20"] < p["z_max"]
        case "pullback":
            signal = (close > features["sma_200"]) & (features["rsi_14"] < p["rsi_max"])
        case "vol_contraction":
            signal = (features["vol_20"] < p["max_vol"]) & (close > features["sma_20"])
        case "low_vol_trend":
            signal = ((features["vol_20"] < p["max_vol"]) & (close > features["sma_50"])
                      & (features["sma_50"] > features["sma_200"]))
        case "fear_reversal":
            breadth = features["breadth"] if "breadth" in features else pd.Series(
                np.nan, index=features.index)
            signal = (breadth < p["max_breadth"]) & (features["rsi_14"] < p["rsi_max"])
        case other:
            raise ValueError(f"unknown entry rule {other!r} in genome {genome.strategy_id}")
    return signal.fillna(False).astype(bool)


def signal_strength(genome: StrategyGenome, features: pd.DataFrame) -> pd.Series:
    """0..1: how far past its threshold the entry condition is; ranks competing proposals."""
    match genome.family:
        case "trend" | "breakout":
            raw = features["ret_20d"].abs() / 0.10
        case "mean_reversion" | "sentiment":
            raw = (50 - features["rsi_14"]).clip(lower=0) / 30
        case _:
            raw = (0.30 - features["vol_20"]).clip(lower=0) / 0.30
    return raw.clip(0.0, 1.0).fillna(0.0)


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
