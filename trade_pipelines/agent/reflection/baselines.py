"""Baselines the agent has to beat, as target weights run through the same paper broker.

Each rule decides after day t's close from closes up to t only (tests perturb the future
and check). A rule speaks only when it wants a trade: a NaN row keeps the book as it is,
so a baseline pays for its own signal changes, not for re-trimming drift every day.

* ``buy_and_hold``: equal weight of the universe on the first day, never rebalanced;
* ``sma_crossover``: equal weight among the symbols whose fast SMA is above their slow
  SMA, cash otherwise; re-weighted on the days that set changes;
* ``momentum_12_1``: on the first session of each month, the top share of symbols by
  their return from 12 months to 1 month ago (252 and 21 sessions), equal weight;
* ``random_entries``: seeded coin flips that enter and leave symbols at the agent's own
  average daily turnover and exposure, so it shows what that much trading is worth
  with no skill.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd

from trade_pipelines.agent.execution.ledger import STARTING_CAPITAL
from trade_pipelines.agent.execution.rebalancing import (
    REFUSED_COLUMNS,
    TRADE_COLUMNS,
    RebalanceResult,
    simulate_target_weights,
)
from trade_pipelines.agent.markets import US, MarketRules
from trade_pipelines.agent.perception.features import annual_volatility_20, rolling_mean

BASELINES = ("buy_and_hold", "sma_crossover", "momentum_12_1", "random_entries")


def _no_view(closes: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(np.nan, index=closes.index, columns=closes.columns)


def _priced(closes: pd.DataFrame) -> pd.DataFrame:
    return closes.notna() & (closes > 0)


def buy_and_hold_targets(closes: pd.DataFrame) -> pd.DataFrame:
    """Equal weight of the symbols priced on the first day, then no view (hold)."""
    targets = _no_view(closes)
    if closes.empty:
        return targets
    listed = _priced(closes).iloc[0].to_numpy()
    if listed.any():
        targets.iloc[0] = np.where(listed, 1.0 / listed.sum(), 0.0)
    return targets


def _equal_weights(chosen: np.ndarray) -> np.ndarray:
    """Rows of booleans to rows of equal weights (all zero when nothing is chosen)."""
    counts = chosen.sum(axis=1, keepdims=True)
    return np.where(chosen, 1.0 / np.maximum(counts, 1), 0.0)


def sma_crossover_targets(closes: pd.DataFrame, fast: int = 50,
                          slow: int = 200) -> pd.DataFrame:
    """Equal weight among symbols with SMA fast > slow, cash otherwise: a full row on the
    first day and on every day the set changes, no view in between. A symbol without
    ``slow`` closes yet is out."""
    if not 0 < fast < slow:
        raise ValueError(f"need 0 < fast < slow, got fast={fast}, slow={slow}")
    targets = _no_view(closes)
    if closes.empty:
        return targets
    fast_sma = closes.apply(lambda column: rolling_mean(column, fast))
    slow_sma = closes.apply(lambda column: rolling_mean(column, slow))
    trending = (fast_sma > slow_sma).to_numpy()
    changed = np.ones(len(closes), dtype=bool)
    changed[1:] = (trending[1:] != trending[:-1]).any(axis=1)
    weights = _equal_weights(trending)
    targets.iloc[changed] = weights[changed]
    return targets


def momentum_12_1_targets(closes: pd.DataFrame, top: float = 0.3, lookback: int = 252,
                          skip: int = 21) -> pd.DataFrame:
    """Monthly: hold the top share by 12-month return skipping the last month, equal
    weight. Decided at the close of each month's first session (the data's first day
    counts as one), so the month turn needs no knowledge of the next session. Of n
    symbols with a score, the best ``max(1, round(top * n))`` are held (ties: column
    order); a month with no score yet gives no view."""
    if not 0 < top <= 1 or not 0 <= skip < lookback:
        raise ValueError(f"need 0 < top <= 1 and 0 <= skip < lookback, got {top}, "
                         f"{skip}, {lookback}")
    targets = _no_view(closes)
    if closes.empty:
        return targets
    score = (closes.shift(skip) / closes.shift(lookback) - 1).to_numpy(dtype=float)
    months = pd.DatetimeIndex(pd.to_datetime(closes.index)).to_period("M")
    first_session = np.ones(len(closes), dtype=bool)
    first_session[1:] = months[1:] != months[:-1]
    for i in np.flatnonzero(first_session):
        scored = np.flatnonzero(np.isfinite(score[i]))
        if not scored.size:
            continue
        keep = max(1, math.floor(top * scored.size + 0.5))
        best = scored[np.argsort(-score[i, scored], kind="stable")[:keep]]
        row = np.zeros(closes.shape[1])
        row[best] = 1.0 / keep
        targets.iloc[i] = row
    return targets


def random_entry_probabilities(turnover: float, exposure: float) -> tuple[float, float]:
    """Daily chance to enter a symbol not held and to leave one held, each symbol worth
    1/n of equity. A symbol is then held a share ``exposure`` of the days (the chain's
    stationary state) and changes state on ``turnover`` of them, so the book's exposure
    is ``exposure`` and its one-way turnover ``turnover``. Reachable while turnover <=
    2 * min(exposure, 1 - exposure); beyond, the chances are capped at 1."""
    if exposure <= 0:
        return 0.0, 1.0
    if exposure >= 1:
        return 1.0, 0.0
    rate = max(turnover, 0.0)
    return min(1.0, rate / (2 * (1 - exposure))), min(1.0, rate / (2 * exposure))


def random_entry_targets(closes: pd.DataFrame, turnover: float, exposure: float,
                         seed: int) -> pd.DataFrame:
    """Random long entries and exits, seeded: each symbol flips between out (weight 0)
    and in (1/n of equity) with the chances of ``random_entry_probabilities``, starting
    from the stationary state on the first day. A symbol without a close that day keeps
    its state. Targets appear only on the days a symbol flips."""
    targets = _no_view(closes)
    n_days, n_symbols = closes.shape
    if not n_days or not n_symbols:
        return targets
    enter, leave = random_entry_probabilities(turnover, exposure)
    draws = np.random.default_rng(seed).random((n_days, n_symbols))  # row t: day t only
    priced = _priced(closes).to_numpy()
    weight = 1.0 / n_symbols
    held = np.zeros(n_symbols, dtype=bool)
    out = np.full((n_days, n_symbols), np.nan)
    for i in range(n_days):
        if i == 0:
            want = draws[0] < min(max(exposure, 0.0), 1.0)
        else:
            want = np.where(held, draws[i] >= leave, draws[i] < enter)
        want = np.where(priced[i], want, held)
        flips = want != held
        out[i, flips] = np.where(want[flips], weight, 0.0)
        held = want
    targets.iloc[:, :] = out
    return targets


def _with_volatility(bars: pd.DataFrame) -> pd.DataFrame:
    """The bars with ``vol_20`` (the ledger's slippage input), computed when missing as
    the trading loop's bars carry it: at the previous close, known before the open."""
    if "vol_20" in bars:
        return bars
    ordered = bars.sort_values(["symbol", "as_of"], kind="mergesort")
    vol = ordered.groupby("symbol", sort=False)["close"].transform(
        lambda close: annual_volatility_20(close).shift(1))
    return ordered.assign(vol_20=vol)


def _standing(targets: pd.DataFrame, window: np.ndarray) -> pd.DataFrame:
    """The window's targets, its first row being the book the rule held going in (the
    last target each symbol got on or before that day), so a rule whose signal came
    before the window still starts invested."""
    inside = targets[window].copy()
    if not inside.empty:
        inside.iloc[0] = targets.ffill()[window].iloc[0]
    return inside


def average_results(results: list[RebalanceResult],
                    capital: float = STARTING_CAPITAL) -> RebalanceResult:
    """Several runs as one: the mean of their daily returns, compounded from ``capital``
    into the equity (a book split equally between the runs, re-split every day); the
    mean of their end-of-day weights, fees, turnover and exposure; all their trades,
    each counted once, by exit day; all their refused orders."""
    returns = pd.concat([r.daily_returns for r in results], axis=1).mean(axis=1)
    equity = capital * (1 + returns).cumprod()
    weights = sum((r.weights for r in results[1:]), results[0].weights) / len(results)
    frames = [r.trades for r in results if not r.trades.empty]
    trades = pd.concat(frames, ignore_index=True) if frames \
        else pd.DataFrame(columns=TRADE_COLUMNS)
    trades = trades.sort_values("as_of", kind="mergesort").reset_index(drop=True)
    refusals = [r.refused for r in results if not r.refused.empty]
    refused = pd.concat(refusals, ignore_index=True) if refusals \
        else pd.DataFrame(columns=REFUSED_COLUMNS)
    return RebalanceResult(
        equity=equity.rename("equity"), daily_returns=returns.rename("daily_return"),
        weights=weights, trades=trades,
        fees=float(np.mean([r.fees for r in results])),
        turnover=float(np.mean([r.turnover for r in results])),
        exposure=float(np.mean([r.exposure for r in results])),
        refused=refused)


def run_baselines(bars: pd.DataFrame, start: date, end: date, turnover: float,
                  exposure: float, seeds: int = 5,
                  capital: float = STARTING_CAPITAL) -> dict[str, RebalanceResult]:
    """Every baseline over the sessions of ``bars`` in [start, end], each from
    ``capital``. ``bars``: the tradeable universe only (symbol, as_of, open, close,
    volume; vol_20 is computed when absent), with history before ``start`` for the SMAs
    and momentum. ``turnover`` and ``exposure``: the agent's, as
    ``rebalancing.turnover_and_exposure`` measures them. Like the agent, a baseline
    decides at the first session's close and first fills at the next bar.
    ``random_entries`` is ``seeds`` runs (seeds 0 .. seeds-1) joined by
    ``average_results``; ``baseline_runs`` gives them apart (a scoreboard averages
    their statistics: averaging their returns would diversify away risk no single random
    book carries, and flatter its Sharpe)."""
    runs = baseline_runs(bars, start, end, turnover, exposure, seeds, capital)
    return {**{k: v for k, v in runs.items() if k != "random_entries"},
            "random_entries": average_results(runs["random_entries"], capital)}


def baseline_runs(bars: pd.DataFrame, start: date, end: date, turnover: float,
                  exposure: float, seeds: int = 5, capital: float = STARTING_CAPITAL,
                  only_random: bool = False, rules: MarketRules = US) -> dict:
    """``run_baselines``'s runs, the random entries' seeds apart (a list), each trading
    under the market's ``rules``."""
    if seeds < 1:
        raise ValueError("seeds must be at least 1")
    bars = bars[pd.to_datetime(bars["as_of"]) <= pd.Timestamp(end)]
    bars = _with_volatility(bars)
    closes = bars.pivot(index="as_of", columns="symbol", values="close").sort_index()
    days = pd.to_datetime(closes.index)
    window = np.asarray((days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end)))
    trading = bars[bars["as_of"].isin(closes.index[window])]
    window_closes = closes[window]

    def run(targets: pd.DataFrame) -> RebalanceResult:
        return simulate_target_weights(targets, trading, capital, rules=rules)

    randoms = [run(random_entry_targets(window_closes, turnover, exposure, seed))
               for seed in range(seeds)]
    if only_random:
        return {"random_entries": randoms}
    return {
        "buy_and_hold": run(buy_and_hold_targets(window_closes)),
        "sma_crossover": run(_standing(sma_crossover_targets(closes), window)),
        "momentum_12_1": run(_standing(momentum_12_1_targets(closes), window)),
        "random_entries": randoms,
    }
