"""Performance statistics, in one place. The gene pool, the quant's record, the daily
report and the supervisor app all take their Sharpe, Sortino and drawdown from here,
computed by empyrical, so no two screens can disagree about the same returns.

Conventions, the same everywhere:

* returns are simple returns, oldest first (trades: by exit date); missing values are
  dropped;
* drawdown is measured on the compounded curve whose first peak is the starting capital,
  so a loss on the very first day is already a drawdown;
* daily figures are annualised with 252 sessions a year, per-trade figures with the
  number of trades a year the caller states;
* too little data gives NaN, never an exception.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import empyrical
import numpy as np
import pandas as pd
from empyrical.stats import drawdown_series
from statsmodels.stats.proportion import proportion_confint

TRADING_DAYS = 252

ReturnsLike = Sequence[float] | np.ndarray | pd.Series


@dataclass(frozen=True)
class PerformanceStats:
    """Figures of a daily return series."""

    days: int
    total_return: float
    annual_return: float
    annual_volatility: float
    sharpe: float
    sortino: float
    max_drawdown: float
    drawdown: float          # the last day's, from the running peak
    calmar: float


@dataclass(frozen=True)
class TradeStats:
    """Figures of closed trades."""

    n_trades: int
    win_rate: float
    payoff: float            # average win over average loss
    expectancy: float        # average return a trade
    sharpe: float
    max_drawdown: float
    total_return: float


def _clean(returns: ReturnsLike) -> np.ndarray:
    values = np.asarray(returns, dtype=float).ravel()
    return values[np.isfinite(values)]


def _finite(value: float) -> float:
    """An undefined ratio (0/0, x/0, overflow) as NaN, so it reads "n/a" everywhere."""
    value = float(value)
    return value if math.isfinite(value) else math.nan


def daily_stats(returns: ReturnsLike) -> PerformanceStats:
    """Total and annual return, volatility, Sharpe, Sortino, drawdown and Calmar."""
    r = _clean(returns)
    if not r.size:
        return PerformanceStats(0, *[math.nan] * 8)
    return PerformanceStats(
        days=int(r.size),
        annual_return=_finite(empyrical.annual_return(r)),
        annual_volatility=_finite(empyrical.annual_volatility(r)),
        sortino=_finite(empyrical.sortino_ratio(r)),
        drawdown=_finite(drawdown_series(r)[-1]),
        calmar=_finite(empyrical.calmar_ratio(r)),
        **core_daily_stats(r),
    )


def core_daily_stats(returns: ReturnsLike) -> dict[str, float]:
    """``daily_stats``' Sharpe, max drawdown and total return alone, a third of its cost:
    the gene pool asks for them of every genome's book every week."""
    r = _clean(returns)
    if not r.size:
        return {"sharpe": math.nan, "max_drawdown": math.nan, "total_return": math.nan}
    return {"sharpe": _finite(empyrical.sharpe_ratio(r)),
            "max_drawdown": _finite(empyrical.max_drawdown(r)),
            "total_return": total_return(r)}


def total_return(returns: ReturnsLike) -> float:
    """Compounded return of ``returns`` (NaN for none)."""
    r = _clean(returns)
    return _finite(empyrical.cum_returns_final(r)) if r.size else math.nan


# daily_stats fields that column_stats computes, each with the empyrical function behind it
COLUMN_STATS = {
    "total_return": empyrical.cum_returns_final,
    "annual_return": empyrical.annual_return,
    "sharpe": empyrical.sharpe_ratio,
    "sortino": empyrical.sortino_ratio,
    "max_drawdown": empyrical.max_drawdown,
}


def column_stats(returns: np.ndarray, field: str) -> np.ndarray:
    """One ``daily_stats`` figure of every column of a days x series array in one call.

    Bootstraps and random-portfolio tests score thousands of series; a loop over
    ``daily_stats`` would be slow. The columns must be complete (no NaN): column ``i``
    then equals ``getattr(daily_stats(returns[:, i]), field)``, undefined values as NaN.
    """
    if field not in COLUMN_STATS:
        raise ValueError(f"unknown field {field!r}; one of {', '.join(COLUMN_STATS)}")
    r = np.asarray(returns, dtype=float)
    if r.ndim != 2:
        raise ValueError("returns must be days x series")
    if not r.shape[0]:
        return np.full(r.shape[1], math.nan)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        values = np.asarray(COLUMN_STATS[field](r), dtype=float).reshape(r.shape[1])
    return np.where(np.isfinite(values), values, math.nan)


EXPANDING_COLUMNS = ["total_return", "max_drawdown", "drawdown", "sharpe"]


def expanding_daily_stats(returns: ReturnsLike) -> pd.DataFrame:
    """Total return, max drawdown, drawdown and Sharpe of every prefix of ``returns``.

    Row ``i`` equals ``daily_stats(returns[: i + 1])`` (tests hold it to that), but the
    whole table costs one pass, so a report replayed over ten years stays linear. A
    missing return counts as no observation, as ``daily_stats`` drops it.
    """
    r = np.asarray(returns, dtype=float).ravel()
    if not r.size:
        return pd.DataFrame(columns=EXPANDING_COLUMNS, dtype=float)
    series = pd.Series(np.where(np.isfinite(r), r, np.nan))
    underwater = drawdown_series(series.to_numpy())
    expanding = series.expanding(min_periods=2)
    # empyrical's rule: identical values have no dispersion, so no Sharpe
    constant = expanding.max() == expanding.min()
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = expanding.mean() / expanding.std(ddof=1) * math.sqrt(TRADING_DAYS)
    sharpe = sharpe.where(~constant & np.isfinite(sharpe))
    return pd.DataFrame({
        "total_return": empyrical.cum_returns(series.to_numpy()),
        "max_drawdown": np.fmin.accumulate(underwater),
        "drawdown": underwater,
        "sharpe": sharpe.to_numpy(),
    })


def trade_stats(returns: ReturnsLike, trades_per_year: float | None = None,
                allocation: float = 1.0) -> TradeStats:
    """Win rate, payoff, expectancy, Sharpe and drawdown of trade returns by exit date.

    A trade wins when its return is above zero. Sharpe is the mean over the standard
    deviation of the trade returns times the square root of ``trades_per_year``, the rate
    the trades were actually made at (None: no Sharpe). It treats trades as independent:
    concurrent trades in correlated names make it an upper bound. Drawdown and total
    return are those of capital that puts ``allocation`` of itself into each trade in turn.
    """
    r = _clean(returns)
    n = int(r.size)
    if not n:
        return TradeStats(0, *[math.nan] * 6)
    wins, losses = r[r > 0], r[r <= 0]
    payoff = wins.mean() / -losses.mean() if wins.size and losses.size \
        and losses.mean() < 0 else math.nan
    sharpe = empyrical.sharpe_ratio(r, annualization=trades_per_year) \
        if trades_per_year else math.nan
    curve = r * allocation
    return TradeStats(
        n_trades=n,
        win_rate=float(wins.size / n),
        payoff=_finite(payoff),
        expectancy=float(r.mean()),
        sharpe=_finite(sharpe),
        max_drawdown=_finite(empyrical.max_drawdown(curve)),
        total_return=_finite(empyrical.cum_returns_final(curve)),
    )


def wilson_interval(wins: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """The Wilson score interval of a win rate: honest at small n and near 0 or 1, where
    the normal approximation leaves [0, 1]. (nan, nan) without a trade."""
    if n <= 0:
        return math.nan, math.nan
    low, high = proportion_confint(wins, n, alpha=alpha, method="wilson")
    return float(low), float(high)
