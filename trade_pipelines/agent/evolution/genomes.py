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


GENOMES = {genome.strategy_id: genome for genome in SEEDED_STRATEGIES}


def seeded_pool() -> pd.DataFrame:
    """Rows for the ``strategies`` table."""
    return pd.DataFrame([
        {"strategy_id": g.strategy_id, "name": g.name, "family": g.family,
         "genome": g.genome_json(), "parents": json.dumps([]), "origin": "seed",
         "as_of": None, "status": "active"}
        for g in SEEDED_STRATEGIES
    ])
