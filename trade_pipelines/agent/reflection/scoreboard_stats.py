"""What a walk-forward scoreboard reports beyond returns and Sharpe: how sure the Sharpe
is, whether luck or the number of strategies tried explains it, how it compares with
random portfolios under the same constraints, and where it came from (market, regime).

Conventions are those of ``performance``: simple daily returns, oldest first, 252
sessions a year, too little data gives NaN rather than an exception. A wrong argument
(an unknown metric, an odd number of splits) is a programming error and raises.

Weights and turnover, the same in ``turnover_and_exposure`` and the random portfolios:

* a weight is the share of equity held in a symbol at the end of a day, after that day's
  trades; it earns the next day's return; cash is the remainder;
* a day's turnover is the value traded that day over equity, the sum over symbols of
  ``|weight change|``: buying 10% from cash is 0.10, moving 10% from one stock into
  another is 0.20. The day before the first is all cash, so the opening purchase counts.
  Price drift between days is counted as trading (the weights are compared as given);
* a day's cost is ``cost_per_turnover`` times its turnover, so ``cost_per_turnover`` is
  the cost of trading one unit of equity, one side (commission plus slippage);
* exposure is gross: the sum of ``|weight|``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from itertools import combinations

import empyrical
import numpy as np
import pandas as pd
from arch.bootstrap import StationaryBootstrap, optimal_block_length
from numpy.typing import ArrayLike
from scipy.stats import percentileofscore

from trade_pipelines.agent.reflection.performance import (
    COLUMN_STATS,
    TRADING_DAYS,
    column_stats,
    daily_stats,
)

# fewer finite returns than this give NaN: a Sharpe interval or a deflated Sharpe from a
# few weeks of data would only look precise
MIN_RETURNS = 20

# random portfolios draw enough jumps for about 1 / 0.85 of the turnover they need and
# follow only part of each, so that every portfolio can meet its target exactly
_TURNOVER_MARGIN = 0.85
_PORTFOLIOS_PER_BATCH = 250
# times a portfolio whose jumps fall short of the turnover is drawn again
_REDRAWS = 20

REGIME_COLUMNS = ["days", "total_return", "annual_return", "sharpe", "max_drawdown"]


def _clean(returns: ArrayLike) -> np.ndarray:
    values = np.asarray(returns, dtype=float).ravel()
    return values[np.isfinite(values)]


# --- how sure the Sharpe is -------------------------------------------------------------

def bootstrap_block_length(returns: ArrayLike) -> float:
    """Mean block length for the stationary bootstrap of ``returns``.

    Politis & White's (2004, corrected 2009) estimate as arch computes it, kept between 1
    and a tenth of the sample, so even a short or strongly trending series is resampled in
    at least ten blocks on average. NaN below ``MIN_RETURNS`` finite returns.
    """
    r = _clean(returns)
    if r.size < MIN_RETURNS or np.ptp(r) == 0:
        return math.nan
    estimate = float(optimal_block_length(r)["stationary"].iloc[0])
    if not math.isfinite(estimate):
        estimate = r.size ** (1 / 3)
    return float(np.clip(estimate, 1.0, max(1.0, r.size / 10)))


def sharpe_confidence_interval(returns: ArrayLike, level: float = 0.95, reps: int = 1000,
                               seed: int = 0) -> tuple[float, float]:
    """Block-bootstrap CI of the annualised daily Sharpe (arch's stationary bootstrap,
    block length from ``bootstrap_block_length``), so serial correlation is not ignored.
    NaN, NaN when fewer than ``MIN_RETURNS`` finite returns or zero variance.

    A percentile interval of the resampled Sharpe ratios, each computed as
    ``performance`` computes it; missing returns are dropped first.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    if reps < 1:
        raise ValueError(f"reps must be positive, got {reps}")
    r = _clean(returns)
    block = bootstrap_block_length(r)
    if math.isnan(block):
        return math.nan, math.nan
    bootstrap = StationaryBootstrap(block, r, seed=seed)
    samples = np.stack([data[0][0] for data in bootstrap.bootstrap(reps)], axis=1)
    sharpes = column_stats(samples, "sharpe")
    if np.isnan(sharpes).all():
        return math.nan, math.nan
    low, high = np.nanquantile(sharpes, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def deflated_sharpe_ratio(returns: ArrayLike, n_trials: int, trials_sharpe_variance: float
                          ) -> float:
    """Bailey & Lopez de Prado (2014): probability that the true Sharpe is above the
    expected maximum Sharpe of ``n_trials`` independent trials with the given variance of
    their (per-period, non-annualised) Sharpe ratios, adjusting for the sample's skew and
    kurtosis and its length. Returns a probability in [0, 1]; NaN when undefined.

    skfolio's expected maximum and probabilistic Sharpe ratio do the work (same Sharpe as
    ``performance``: sample standard deviation). With one trial, or trials that all had
    the same Sharpe, the benchmark is zero and this is the plain probabilistic Sharpe ratio.
    """
    r = _clean(returns)
    trials, variance = float(n_trials), float(trials_sharpe_variance)
    if (r.size < MIN_RETURNS or np.ptp(r) == 0 or not math.isfinite(trials) or trials < 1
            or not math.isfinite(variance) or variance < 0):
        return math.nan
    # imported here: skfolio takes a second to import and only this function needs it
    from skfolio.measures import expected_max_sharpe_ratio, probabilistic_sharpe_ratio

    benchmark = expected_max_sharpe_ratio(n_trials=trials,
                                          trial_sharpe_ratio_std=math.sqrt(variance))
    value = float(probabilistic_sharpe_ratio(r, benchmark_sharpe_ratio=benchmark))
    return value if math.isfinite(value) else math.nan


# --- overfitting across configurations --------------------------------------------------

def probability_of_backtest_overfitting(performance: np.ndarray, n_splits: int = 16) -> float:
    """Bailey, Borwein, Lopez de Prado & Zhu (2015), combinatorially symmetric cross-
    validation: ``performance`` is T x N (per-period returns of N configurations over the
    same T periods); split rows into ``n_splits`` equal blocks, for every half/half
    combination pick the in-sample best by Sharpe and record the logit of its out-of-sample
    rank; PBO = share of combinations with logit <= 0. NaN when N < 2 or T too short.

    Written here because none of the declared libraries computes it (skfolio's
    CombinatorialPurgedCV gives the splits, the easy part). Rows with a missing value in
    any configuration are dropped; the oldest ``T mod n_splits`` rows are dropped so the
    blocks are equal; each block needs at least two rows. The out-of-sample rank runs from
    1 (worst) to N, ties averaged; ``omega = rank / (N + 1)``. A configuration without a
    Sharpe in a half (no dispersion) ranks below every other there.
    """
    if n_splits < 2 or n_splits % 2:
        raise ValueError(f"n_splits must be even and at least 2, got {n_splits}")
    x = np.asarray(performance, dtype=float)
    if x.ndim != 2:
        raise ValueError("performance must be periods x configurations")
    x = x[np.isfinite(x).all(axis=1)]
    n_configs = x.shape[1]
    block = x.shape[0] // n_splits
    if n_configs < 2 or block < 2:
        return math.nan
    x = x[x.shape[0] - block * n_splits:]
    # per-block sums of centred returns: the mean and variance of any union of blocks
    # follow from them without revisiting the rows
    centre = x.mean(axis=0)
    d = (x - centre).reshape(n_splits, block, n_configs)
    sums, squares = d.sum(axis=1), (d * d).sum(axis=1)
    chosen = np.zeros((math.comb(n_splits, n_splits // 2), n_splits))
    for row, blocks in enumerate(combinations(range(n_splits), n_splits // 2)):
        chosen[row, list(blocks)] = 1.0
    n = block * n_splits // 2

    def sharpe(mask: np.ndarray) -> np.ndarray:
        s, q = mask @ sums, mask @ squares
        variance = (q - s * s / n) / (n - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = (s / n + centre) / np.sqrt(variance)
        return np.where(np.isfinite(value) & (variance > 0), value, -np.inf)

    in_sample, out_sample = sharpe(chosen), sharpe(1.0 - chosen)
    best = np.argmax(in_sample, axis=1)
    oos_best = out_sample[np.arange(best.size), best][:, None]
    rank = (out_sample < oos_best).sum(axis=1) + ((out_sample == oos_best).sum(axis=1) + 1) / 2
    omega = rank / (n_configs + 1)
    logit = np.log(omega / (1 - omega))
    return float(np.mean(logit <= 0))


# --- against random portfolios ----------------------------------------------------------

def turnover_and_exposure(weights: pd.DataFrame) -> tuple[float, float]:
    """From a days x symbols frame of end-of-day portfolio weights (share of equity held,
    cash is the remainder): average daily turnover and average gross exposure.

    Turnover as the module states it: the sum of ``|weight change|`` a day, the opening
    purchase from cash included. A missing weight is no position. NaN, NaN for no days.
    """
    if not len(weights):
        return math.nan, math.nan
    w = np.nan_to_num(weights.to_numpy(dtype=float), nan=0.0)
    changes = np.abs(np.diff(w, axis=0, prepend=0.0)).sum(axis=1)
    return float(changes.mean()), float(np.abs(w).sum(axis=1).mean())


def _holding_mask(asset_returns: np.ndarray) -> np.ndarray:
    """Where a weight may be held at a day's close: the asset has a return the next day
    (the last day: that day)."""
    tradeable = np.isfinite(asset_returns)
    return np.vstack([tradeable[1:], tradeable[-1:]])


def _allocations(rng: np.random.Generator, allowed: np.ndarray, holdings: int | None
                 ) -> np.ndarray:
    """Random long-only allocations summing to 1 over ``holdings`` randomly chosen allowed
    assets (all allowed ones when None), Dirichlet(1) weights; zero where none allowed."""
    raw = allowed.astype(float) if holdings == 1 else \
        rng.standard_exponential(allowed.shape) * allowed
    if holdings is not None and holdings < allowed.shape[-1]:
        # ranks only: single precision is enough and twice as fast
        keys = rng.random(allowed.shape, dtype=np.float32)
        keys[~allowed] = np.inf
        cutoff = np.partition(keys, holdings - 1, axis=-1)[..., holdings - 1:holdings]
        raw *= keys <= cutoff
    return _normalise(raw)


def _normalise(raw: np.ndarray) -> np.ndarray:
    total = raw.sum(axis=-1, keepdims=True)
    return np.divide(raw, total, out=np.zeros_like(raw), where=total > 0)


def _solve_blend(clean: np.ndarray, core_steps: np.ndarray, path_steps: np.ndarray,
                 target: float) -> tuple[np.ndarray, np.ndarray]:
    """The share ``lam`` of each portfolio that follows its moving path so that its total
    turnover ``lam * clean + sum |(1 - lam) core_step + lam path_step|`` equals ``target``
    (per unit of exposure; the core only steps on the days summed). The total is convex
    in ``lam``, so bisection finds the crossing; a target out of reach gives 0 or 1, and
    for 1 a flag that the portfolio falls short."""
    def total(lam: np.ndarray) -> np.ndarray:
        mixed = (1 - lam[:, None, None]) * core_steps + lam[:, None, None] * path_steps
        return lam * clean + np.abs(mixed).sum(axis=(1, 2))

    n = clean.size
    low, high = np.zeros(n), np.ones(n)
    for _ in range(50):
        mid = (low + high) / 2
        below = total(mid) < target
        low, high = np.where(below, mid, low), np.where(below, high, mid)
    short = total(np.ones(n)) < target * (1 - 1e-9)
    lam = np.where(short, 1.0, (low + high) / 2)
    return np.where(total(np.zeros(n)) >= target, 0.0, lam), short


def _weight_batch(rng: np.random.Generator, mask: np.ndarray, step: float, turnover: float,
                  exposure: float, n_portfolios: int, holdings: int | None) -> np.ndarray:
    """One batch of ``random_portfolio_weights``; ``step`` is the average turnover (per
    unit of exposure) of jumping from one random allocation to another."""
    n_days, n_assets = mask.shape
    if exposure == 0 or not mask.any():
        return np.zeros((n_portfolios, n_days, n_assets))
    target = turnover * n_days / exposure
    n_moves = int(np.clip(math.ceil((target - 1) / (step * _TURNOVER_MARGIN)), 0, n_days - 1))
    core, moves, targets, lam, short = _draw_paths(rng, mask, target, n_portfolios, n_moves,
                                                   holdings)
    # a path whose jumps happen to be too small to reach the turnover is drawn again,
    # unless no number of jumps would do (a jump every day already)
    for _ in range(_REDRAWS if n_moves < n_days - 1 else 0):
        again = np.flatnonzero(short)
        if not again.size:
            break
        redrawn = _draw_paths(rng, mask, target, again.size, n_moves, holdings)
        for kept, fresh in zip((core, moves, targets, lam, short), redrawn, strict=True):
            kept[again] = fresh
    segment = np.cumsum(moves, axis=1) - 1
    path = np.take_along_axis(targets, segment[..., None], axis=1)
    if not mask.all():
        path, core = _normalise(path * mask), _normalise(core * mask)
    lam = lam[:, None, None]
    return exposure * ((1 - lam) * core + lam * path)


def _draw_paths(rng: np.random.Generator, mask: np.ndarray, target: float,
                n_portfolios: int, n_moves: int, holdings: int | None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A core allocation held throughout, blended with a path that jumps to a fresh random
    allocation on ``n_moves`` random days; the blend ``lam`` is set per portfolio to hit
    the ``target`` total turnover per unit of exposure. Also says which fall short."""
    n_days, n_assets = mask.shape
    core = _allocations(rng, np.ones((n_portfolios, 1, n_assets), bool), holdings)
    moves = np.ones((n_portfolios, n_days), bool)
    if n_moves < n_days - 1:
        keys = rng.random((n_portfolios, n_days - 1))
        cutoff = np.partition(keys, n_moves, axis=1)[:, n_moves:n_moves + 1]
        moves[:, 1:] = keys < cutoff
    move_days = np.nonzero(moves)[1].reshape(n_portfolios, n_moves + 1)
    # a jump on a day when nothing can be held draws over all assets, for the days after
    allowed = mask[move_days]
    targets = _allocations(rng, allowed | ~allowed.any(axis=2, keepdims=True), holdings)
    segment = np.cumsum(moves, axis=1) - 1

    def path_on(days: np.ndarray) -> np.ndarray:
        held = np.take_along_axis(targets, segment[:, days, None], axis=1) * mask[days]
        return np.where(days[:, None] >= 0, _normalise(held), 0.0)

    # the core trades only on day one and where the set of holdable assets changes; on
    # every other day turnover is linear in the blend
    changes = np.flatnonzero(np.r_[True, (mask[1:] != mask[:-1]).any(axis=1)])
    path_steps = path_on(changes) - path_on(changes - 1)
    core_steps = (_normalise(core * mask[changes])
                  - np.where((changes >= 1)[:, None], _normalise(core * mask[changes - 1]), 0))
    before = _normalise(targets[:, :-1] * mask[move_days[:, 1:] - 1])
    jumps = np.abs(targets[:, 1:] - before).sum(axis=2)
    is_change = np.zeros(n_days, bool)
    is_change[changes] = True
    clean = (jumps * ~is_change[move_days[:, 1:]]).sum(axis=1)
    lam, short = _solve_blend(clean, core_steps, path_steps, target)
    return core, moves, targets, lam, short


def _check_portfolio_arguments(asset_returns: np.ndarray, turnover: float, exposure: float,
                               n_portfolios: int, holdings: int | None) -> None:
    if asset_returns.ndim != 2:
        raise ValueError("asset_returns must be days x assets")
    if not (exposure >= 0 and turnover >= 0 and n_portfolios >= 1):
        raise ValueError("exposure and turnover must be non-negative, n_portfolios positive")
    if holdings is not None and holdings < 1:
        raise ValueError(f"holdings must be positive, got {holdings}")


def random_portfolio_weights(asset_returns: np.ndarray, turnover: float, exposure: float,
                             n_portfolios: int = 2000, seed: int = 0, *,
                             holdings: int | None = None) -> np.ndarray:
    """Seeded random long-only portfolios, portfolios x days x assets of end-of-day weights.

    Each holds ``exposure`` of equity every day (less only when nothing can be held) and
    trades exactly ``turnover`` a day on average as ``turnover_and_exposure`` measures it,
    unless that is out of reach: below the opening purchase (``exposure / days``) or above
    a fresh random allocation every day. A portfolio blends a fixed random allocation with
    one that jumps to a new random allocation on random days; each allocation is
    Dirichlet(1) over ``holdings`` random assets (None: all). No weight is held into a day
    on which its asset has no return (NaN): it moves to the portfolio's other holdings.
    A portfolio whose jumps happen to be too small to reach the turnover is drawn again.
    """
    r = np.asarray(asset_returns, dtype=float)
    _check_portfolio_arguments(r, turnover, exposure, n_portfolios, holdings)
    return np.concatenate(list(_weight_batches(r, turnover, exposure, n_portfolios, seed,
                                               holdings)))


def _weight_batches(asset_returns: np.ndarray, turnover: float, exposure: float,
                    n_portfolios: int, seed: int, holdings: int | None
                    ) -> Iterator[np.ndarray]:
    """``random_portfolio_weights`` a batch at a time, each batch from its own stream of the
    seed, so memory stays small."""
    n_days, n_assets = asset_returns.shape
    starts = range(0, n_portfolios, _PORTFOLIOS_PER_BATCH)
    pilot_stream, *streams = np.random.SeedSequence(seed).spawn(len(starts) + 1)
    if not n_days or not n_assets:
        step = 1.0
        mask = np.zeros((n_days, n_assets), bool)
    else:
        mask = _holding_mask(asset_returns)
        pilot = _allocations(np.random.default_rng(pilot_stream),
                             np.broadcast_to(mask, (64, n_days, n_assets)), holdings)
        step = float(np.abs(np.diff(pilot, axis=1)).sum(axis=2).mean()) if n_days > 1 else 1.0
    for stream, start in zip(streams, starts, strict=True):
        yield _weight_batch(np.random.default_rng(stream), mask, step, turnover, exposure,
                            min(_PORTFOLIOS_PER_BATCH, n_portfolios - start), holdings)


def portfolio_returns(weights: np.ndarray, asset_returns: np.ndarray,
                      cost_per_turnover: float = 0.0) -> np.ndarray:
    """Daily returns (days x portfolios) of end-of-day ``weights`` (portfolios x days x
    assets): yesterday's weights times today's returns, less today's trading cost."""
    r = np.nan_to_num(np.asarray(asset_returns, dtype=float), nan=0.0)
    w = np.asarray(weights, dtype=float)
    gross = np.zeros(w.shape[:2])
    gross[:, 1:] = np.einsum("pta,ta->pt", w[:, :-1], r[1:])
    costs = cost_per_turnover * np.abs(np.diff(w, axis=1, prepend=0.0)).sum(axis=2)
    return (gross - costs).T


def random_portfolio_percentile(strategy_returns: ArrayLike, asset_returns: np.ndarray,
                                turnover: float, exposure: float, n_portfolios: int = 2000,
                                seed: int = 0, cost_per_turnover: float = 0.0,
                                metric: str = "sharpe", *, holdings: int | None = None
                                ) -> float:
    """Percentile (0..100) of the strategy's metric among ``n_portfolios`` seeded random
    long-only portfolios over the same days on ``asset_returns`` (days x assets, simple
    returns, NaN = not tradeable that day) that hold on average ``exposure`` of capital
    (0..1) and trade with the same average daily ``turnover`` (turnover as the module
    defines it), paying ``cost_per_turnover`` per unit of turnover.

    Portfolios from ``random_portfolio_weights``; pass ``holdings`` near the strategy's
    usual number of positions, as concentrated portfolios spread wider. ``metric`` is a
    ``daily_stats`` field in ``COLUMN_STATS``. Days on which the strategy has no return
    are left out for all. Ties count half (mean percentile); NaN when the strategy's
    metric is undefined or no random one is.
    """
    if metric not in COLUMN_STATS:
        raise ValueError(f"unknown metric {metric!r}; one of {', '.join(COLUMN_STATS)}")
    s = np.asarray(strategy_returns, dtype=float).ravel()
    r = np.asarray(asset_returns, dtype=float)
    if r.ndim != 2 or r.shape[0] != s.size:
        raise ValueError("asset_returns must be days x assets over the strategy's days")
    _check_portfolio_arguments(r, turnover, exposure, n_portfolios, holdings)
    days = np.isfinite(s)
    score = getattr(daily_stats(s[days]), metric)
    if math.isnan(score):
        return math.nan
    scores = np.concatenate([
        column_stats(portfolio_returns(weights, r, cost_per_turnover)[days], metric)
        for weights in _weight_batches(r, turnover, exposure, n_portfolios, seed, holdings)
    ])
    scores = scores[np.isfinite(scores)]
    if not scores.size:
        return math.nan
    return float(percentileofscore(scores, score, kind="mean"))


# --- where the returns came from --------------------------------------------------------

def alpha_beta(returns: ArrayLike, benchmark_returns: ArrayLike) -> tuple[float, float]:
    """Annualised alpha and beta of daily returns against the benchmark's (empyrical),
    aligned, NaN-dropped pairwise.

    Two Series are aligned on their index, anything else by position (equal lengths).
    Alpha is empyrical's: the mean daily residual compounded over 252 days. NaN, NaN for
    fewer than two pairs; NaN for what a flat benchmark leaves undefined.
    """
    if isinstance(returns, pd.Series) and isinstance(benchmark_returns, pd.Series):
        pair = pd.concat([returns, benchmark_returns], axis=1, join="inner")
        a, b = (pair.iloc[:, i].to_numpy(dtype=float) for i in (0, 1))
    else:
        a = np.asarray(returns, dtype=float).ravel()
        b = np.asarray(benchmark_returns, dtype=float).ravel()
        if a.size != b.size:
            raise ValueError("returns and benchmark_returns differ in length")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if a.size < 2 or np.ptp(b) == 0:
        return math.nan, math.nan
    alpha, beta = (float(v) for v in empyrical.alpha_beta(a, b, annualization=TRADING_DAYS))
    return (alpha if math.isfinite(alpha) else math.nan,
            beta if math.isfinite(beta) else math.nan)


def regime_split(returns: pd.Series, regimes: pd.Series) -> pd.DataFrame:
    """Daily returns (indexed by date) split by the regime label of each day (indexed by
    date; labels like bull, bear, range, ...): one row per regime with days,
    total_return, annual_return, sharpe, max_drawdown (from performance.daily_stats).

    Rows in order of each regime's first day; a regime's figures are those of its days
    joined end to end. Days without a return or a label are left out.
    """
    pair = pd.concat([returns.rename("r"), regimes.rename("regime")], axis=1, join="inner")
    pair = pair[np.isfinite(pair["r"].astype(float)) & pair["regime"].notna()]
    rows: dict[object, list[float]] = {}
    for label, group in pair.sort_index().groupby("regime", sort=False):
        stats = daily_stats(group["r"].to_numpy(dtype=float))
        rows[label] = [getattr(stats, c) for c in REGIME_COLUMNS]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=REGIME_COLUMNS)
    table.index.name = "regime"
    return table.astype({"days": int})
