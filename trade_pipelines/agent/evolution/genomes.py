"""Strategy genomes: the gene pool's unit. A genome is data: a signal family and its
parameters, filters, exits and sizing. Its entry rule reads one day's features and
nothing later.

The interface is deliberately narrow: ``entry_signal(genome, features)`` says which
(symbol, day) rows are entries; exits (stop, target, trailing stop, time) are the
engine's job.

Seeded genomes keep their ids S01..S10 (so stored history stays readable); every genome
born later takes an id derived from its content (``content_id``), so the same genome
bred twice is one genome.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from trade_pipelines.agent.ids import stable_id
from trade_pipelines.agent.perception.features import _rsi, rolling_mean, rolling_std


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
    # Entry filters: ``max_vol`` (vol_20 below), ``min_volume_ratio`` (liquidity),
    # ``min_breadth`` (market regime: share of stocks above their 50-day average).
    filters: dict[str, float] = field(default_factory=dict)
    # Position sizing: {} is the debate's size as is; {"kind": "vol_target", "target": v,
    # "cap": c} scales it by v / vol_20 (at most c); {"kind": "fraction", "fraction": f}.
    sizing: dict[str, object] = field(default_factory=dict)
    # Leave when the close falls this far below the highest close since entry (0: never).
    trailing_stop: float = 0.0

    def _fields(self) -> dict[str, object]:
        """The genome as data; a genome without a trailing stop is written as before the
        gene existed, so its stored JSON and content id do not change."""
        data = asdict(self)
        if not data["trailing_stop"]:
            data.pop("trailing_stop")
        return data

    def genome_json(self) -> str:
        return json.dumps(self._fields(), sort_keys=True)

    def content(self) -> str:
        """What the genome does, without its id and name (which derive from it)."""
        data = self._fields()
        data.pop("strategy_id")
        data.pop("name")
        return json.dumps(data, sort_keys=True)


def content_id(genome: StrategyGenome) -> str:
    return stable_id("G", genome.content())


def _fmt(value: object) -> str:
    return f"{value:g}" if isinstance(value, float | int) else str(value)


def describe(genome: StrategyGenome) -> str:
    """A short human-readable name of a bred genome."""
    params = " ".join(f"{k}={_fmt(v)}" for k, v in sorted(genome.params.items()))
    filters = "".join(f", {k} {_fmt(v)}" for k, v in sorted(genome.filters.items()))
    sizing = f", {genome.sizing['kind']}" if genome.sizing else ""
    trail = f" trail {genome.trailing_stop:.0%}" if genome.trailing_stop else ""
    return (f"{genome.entry} {params}{filters}{sizing}; stop {genome.stop_loss:.0%} "
            f"target {genome.take_profit:.0%}{trail} {genome.max_holding_days}d")


def bred(family: str, entry: str, params: dict[str, float], stop_loss: float,
         take_profit: float, max_holding_days: int, filters: dict[str, float] | None = None,
         sizing: dict[str, object] | None = None, trailing_stop: float = 0.0
         ) -> StrategyGenome:
    """A new genome whose id and name derive from its content."""
    genome = StrategyGenome("", "", family, entry, dict(sorted(params.items())),
                            round(float(stop_loss), 4), round(float(take_profit), 4),
                            int(max_holding_days), dict(sorted((filters or {}).items())),
                            dict(sorted((sizing or {}).items())),
                            round(float(trailing_stop), 4))
    return replace(genome, strategy_id=content_id(genome), name=describe(genome))


def genome_from_json(text: str) -> StrategyGenome:
    return StrategyGenome(**json.loads(text))


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


# Indicator kind -> stored column name for a window ``n``.
INDICATOR_COLUMNS = {"sma": "sma_{n}", "high": "high_{n}", "rsi": "rsi_{n}",
                     "zscore": "zscore_{n}", "vol": "vol_{n}", "ret": "ret_{n}d"}
# The windows each entry rule reads: (indicator kind, parameter, default window).
RULE_INDICATORS: dict[str, tuple[tuple[str, str, int], ...]] = {
    "sma_cross": (("sma", "fast", 20), ("sma", "slow", 50)),
    "momentum": (("ret", "lookback", 20), ("sma", "trend", 50)),
    "breakout": (("high", "window", 55),),
    "rsi_oversold": (("rsi", "rsi_window", 14),),
    "zscore_reversion": (("zscore", "window", 20),),
    "pullback": (("sma", "trend", 200), ("rsi", "rsi_window", 14)),
    "vol_contraction": (("vol", "vol_window", 20), ("sma", "sma", 20)),
    "low_vol_trend": (("vol", "vol_window", 20), ("sma", "fast", 50), ("sma", "slow", 200)),
    "fear_reversal": (("rsi", "rsi_window", 14),),
}


def _column(kind: str, n: int) -> str:
    return INDICATOR_COLUMNS[kind].format(n=int(n))


def _compute(kind: str, n: int, close: pd.Series) -> pd.Series:
    """One symbol's indicator from its closes in date order, as ``features.py`` computes
    the stored ones (window by window, so it does not depend on where history starts)."""
    match kind:
        case "sma":
            return rolling_mean(close, n)
        case "high":  # closes only: the stored high_55 uses highs where bars have them
            return close.shift(1).rolling(n, min_periods=n).max()
        case "rsi":
            return _rsi(close, n)
        case "zscore":
            return (close - rolling_mean(close, n)) / rolling_std(close, n).replace(0.0, np.nan)
        case "vol":
            return rolling_std(np.log(close).diff(), n) * np.sqrt(252)
        case "ret":
            return close.pct_change(n, fill_method=None)
    raise ValueError(f"unknown indicator {kind!r}")


def indicator(features: pd.DataFrame, kind: str, n: float) -> pd.Series:
    """The stored feature column for this window if there is one (the fast path),
    otherwise computed from each symbol's closes (a symbol's rows in date order)."""
    column = _column(kind, int(n))
    if column in features:
        return features[column]
    return features.groupby("symbol", sort=False)["close"].transform(
        lambda close: _compute(kind, int(n), close))


def missing_indicators(features: pd.DataFrame, genomes: Iterable[StrategyGenome]
                       ) -> dict[str, tuple[str, int]]:
    """The indicator columns the genomes read that ``features`` lacks: column -> (kind, n)."""
    missing: dict[str, tuple[str, int]] = {}
    for genome in genomes:
        for kind, param, default in RULE_INDICATORS.get(genome.entry, ()):
            n = int(genome.params.get(param, default))
            if _column(kind, n) not in features:
                missing[_column(kind, n)] = (kind, n)
    return missing


def with_indicators(features: pd.DataFrame, genomes: Iterable[StrategyGenome]) -> pd.DataFrame:
    """``features`` with every indicator column the genomes read, computed once a run
    (pass the whole history: an indicator's look-back must be inside the frame)."""
    missing = missing_indicators(features, genomes)
    if not missing:
        return features
    # One concat, not a column at a time: hundreds of bred windows would fragment the frame.
    added = pd.DataFrame({column: indicator(features, kind, n)
                          for column, (kind, n) in sorted(missing.items())},
                         index=features.index)
    return pd.concat([features, added], axis=1)


def entry_signal(genome: StrategyGenome, features: pd.DataFrame) -> pd.Series:
    """Boolean per feature row: does this genome want to enter at this row's close?

    ``features`` may carry ``breadth`` (market breadth that day) and ``fear_greed`` (the
    market sentiment's composite) for sentiment genomes.
    """
    p = genome.params

    def ind(kind: str, param: str, default: int) -> pd.Series:
        return indicator(features, kind, p.get(param, default))

    close = features["close"]
    match genome.entry:
        case "sma_cross":
            fast, slow = ind("sma", "fast", 20), ind("sma", "slow", 50)
            signal = (fast > slow) & (close > fast)
        case "momentum":
            signal = ((ind("ret", "lookback", 20) > p["min_return"])
                      & (close > ind("sma", "trend", 50)))
        case "breakout":
            signal = close > ind("high", "window", 55)
        case "rsi_oversold":
            signal = ind("rsi", "rsi_window", 14) < p["rsi_max"]
        case "zscore_reversion":
            signal = ind("zscore", "window", 20) < p["z_max"]
        case "pullback":
            signal = ((close > ind("sma", "trend", 200))
                      & (ind("rsi", "rsi_window", 14) < p["rsi_max"]))
        case "vol_contraction":
            signal = ((ind("vol", "vol_window", 20) < p["max_vol"])
                      & (close > ind("sma", "sma", 20)))
        case "low_vol_trend":
            fast = ind("sma", "fast", 50)
            signal = ((ind("vol", "vol_window", 20) < p["max_vol"]) & (close > fast)
                      & (fast > ind("sma", "slow", 200)))
        case "fear_reversal":
            signal = _fearful(features, p) & (ind("rsi", "rsi_window", 14) < p["rsi_max"])
        case other:
            raise ValueError(f"unknown entry rule {other!r} in genome {genome.strategy_id}")
    return (signal & _filters(genome, features)).fillna(False).astype(bool)


# The market sentiment's fear/greed (0-100) under which the market counts as fearful.
FEARFUL_SCORE = 20.0


def _fearful(features: pd.DataFrame, params: dict[str, float]) -> pd.Series:
    """Is the market fearful that day? Breadth below ``max_breadth`` (as before the
    market sentiment existed), or, where ``features`` carry it, the market sentiment's
    fear/greed composite below ``max_fear_greed`` (it also reads the volatility index,
    so a panic with breadth still above the threshold counts)."""
    by_breadth = _breadth(features) < params["max_breadth"]
    if "fear_greed" not in features:
        return by_breadth
    by_score = features["fear_greed"].astype(float) < params.get("max_fear_greed",
                                                                 FEARFUL_SCORE)
    return by_breadth | by_score


def _breadth(features: pd.DataFrame) -> pd.Series:
    if "breadth" in features:
        return features["breadth"]
    return pd.Series(np.nan, index=features.index)


def _filters(genome: StrategyGenome, features: pd.DataFrame) -> pd.Series:
    """The genome's regime and liquidity/volatility filters (all true when it has none)."""
    keep = pd.Series(True, index=features.index)
    for name, value in genome.filters.items():
        match name:
            case "max_vol":
                keep &= features["vol_20"] < value
            case "min_volume_ratio":
                keep &= features["volume_ratio"] >= value
            case "min_breadth":
                keep &= _breadth(features) >= value
            case other:
                raise ValueError(f"unknown filter {other!r} in genome {genome.strategy_id}")
    return keep


def sizing_scale(genome: StrategyGenome, vol_20: float) -> float:
    """How the genome's sizing gene scales the debate's size (1.0 without one)."""
    kind = genome.sizing.get("kind")
    if kind == "vol_target":
        if not np.isfinite(vol_20) or vol_20 <= 0:
            return 1.0
        return float(min(float(genome.sizing["cap"]), float(genome.sizing["target"]) / vol_20))
    if kind == "fraction":
        return float(genome.sizing["fraction"])
    return 1.0


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


# The seeded genomes by id; the genomes known at a day are the gene pool's registry
# (``agent/evolution/lifecycle.py``).
SEEDED_GENOMES = {genome.strategy_id: genome for genome in SEEDED_STRATEGIES}


def seeded_pool() -> pd.DataFrame:
    """Rows for the ``strategies`` table."""
    return pd.DataFrame([
        {"strategy_id": g.strategy_id, "name": g.name, "family": g.family,
         "genome": g.genome_json(), "parents": json.dumps([]), "origin": "seed",
         "as_of": None, "status": "active", "generation": 0, "born_as_of": None}
        for g in SEEDED_STRATEGIES
    ])
