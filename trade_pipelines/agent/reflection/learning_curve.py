"""The learning curve: is the agent getting better? Rolling windows of the combined
account's win rate, Sharpe and judge calibration, each with its trend per year and
whether that trend is distinguishable from no trend at all.

Only the combined account is read (the three accounts trade the same decisions; pooling
them would triple every count). The windows do not overlap: each holds the ``window``
sessions after the one before (from the first session), so the slope's p-value is not
flattered by windows sharing their days (monthly windows of 63 sessions called a trend
in a third of trendless simulations at a 10% level)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from scipy.stats import linregress

from trade_pipelines.agent.decision.calibration import (
    base_rate_forecasts,
    brier,
    first_outcomes,
)
from trade_pipelines.agent.reflection.performance import core_daily_stats

WINDOW_SESSIONS = 63
SIGNIFICANCE = 0.10
MIN_WINDOWS = 4               # fewer windows with a value: too little data
MIN_TRADES = 5                # fewer closed trades in a window: no win rate for it
MIN_SCORED = 5                # fewer scored decisions in a window: no Brier for it

IMPROVING = "improving"
DECLINING = "declining"
STALLED = "stalled"
TOO_LITTLE_DATA = "too little data"

CURVE_COLUMNS = ["end", "first", "sessions", "trades", "win_rate", "sharpe", "scored",
                 "brier", "base_rate_brier"]
# metric -> (title, True when higher is better)
METRICS: Mapping[str, tuple[str, bool]] = {
    "win_rate": ("Win rate (closed trades)", True),
    "sharpe": ("Sharpe (annualised, daily returns)", True),
    "brier": ("Judge calibration (Brier of the debate's confidence; lower is better)", False),
}


@dataclass(frozen=True)
class Trend:
    metric: str
    windows: int              # windows with a value
    slope_per_year: float
    p_value: float
    diagnosis: str


@dataclass(frozen=True)
class LearningCurve:
    last: date
    windows: pd.DataFrame     # CURVE_COLUMNS, oldest first
    trends: Mapping[str, Trend]


def _days(values: pd.Series | list[object]) -> np.ndarray:
    return pd.to_datetime(pd.Series(values, dtype=object)).to_numpy().astype("datetime64[D]")


def window_ends(sessions: list[date], window: int = WINDOW_SESSIONS) -> list[date]:
    """The last session of each complete run of ``window`` sessions from the first one
    (``sessions`` ascending): windows that share no day."""
    return list(sessions[window - 1::window])


def trend(metric: str, ends: list[date], values: np.ndarray, higher_is_better: bool) -> Trend:
    """The OLS slope of ``values`` against time in years, its two-sided p-value and what
    it says: improving or declining when significant at ``SIGNIFICANCE``, else stalled."""
    keep = np.isfinite(values)
    x = (_days(list(ends)).astype(float) / 365.25)[keep]
    y = values[keep]
    n = int(keep.sum())
    if n < MIN_WINDOWS or np.ptp(x) == 0:
        return Trend(metric, n, math.nan, math.nan, TOO_LITTLE_DATA)
    if np.ptp(y) == 0:
        return Trend(metric, n, 0.0, 1.0, STALLED)
    fit = linregress(x, y)
    slope, p = float(fit.slope), float(fit.pvalue)
    if not p < SIGNIFICANCE:
        return Trend(metric, n, slope, p, STALLED)
    better = slope > 0 if higher_is_better else slope < 0
    return Trend(metric, n, slope, p, IMPROVING if better else DECLINING)


def learning_curve(accounts: pd.DataFrame, trades: pd.DataFrame, decisions: pd.DataFrame,
                   last: date, window: int = WINDOW_SESSIONS) -> LearningCurve:
    """The non-overlapping windows of ``window`` sessions up to ``last`` and their trends.

    ``accounts`` (as_of, account, daily_return), ``trades`` (the ``trades`` table) and
    ``decisions`` (decision_id, as_of, raw_confidence) may hold rows after ``last``:
    they are ignored, as are trades closed after it."""
    history = accounts[(accounts["account"] == "combined")
                       & (accounts["as_of"] <= last)].sort_values("as_of", kind="mergesort") \
        if not accounts.empty else accounts
    sessions = list(history["as_of"]) if not history.empty else []
    returns = history["daily_return"].to_numpy(dtype=float) if not history.empty \
        else np.array([])
    known = trades[trades["as_of"] <= last] if not trades.empty else trades
    combined = known[known["account"] == "combined"] if not known.empty else known
    trade_days = _days(list(combined["as_of"])) if not combined.empty else _days([])
    won = combined["pnl"].to_numpy(dtype=float) > 0 if not combined.empty else np.array([])
    # Calibration: one outcome per decision, its first trade to close in any account (the
    # judge's calibration's own rule, ``first_outcomes``): a decision, not an account.
    raw = dict(zip(decisions["decision_id"], decisions["raw_confidence"], strict=True)) \
        if not decisions.empty else {}
    decided = dict(zip(decisions["decision_id"], decisions["as_of"], strict=True)) \
        if not decisions.empty else {}
    outcomes = [t for t in first_outcomes(known.to_dict("records") if not known.empty else [])
                if t["decision_id"] in raw and pd.notna(raw[t["decision_id"]])]
    scored_days = _days([t["as_of"] for t in outcomes])
    scored_won = np.array([float(t["pnl"]) > 0 for t in outcomes], dtype=bool)
    forecast = np.array([float(raw[t["decision_id"]]) for t in outcomes], dtype=float)
    base = base_rate_forecasts([decided[t["decision_id"]] for t in outcomes],
                               [t["as_of"] for t in outcomes], scored_won) \
        if outcomes else np.array([])
    rows = []
    for end in window_ends(sessions, window):
        stop = sessions.index(end) + 1
        if stop < window:
            continue
        first = sessions[stop - window]
        lo, hi = np.datetime64(first, "D"), np.datetime64(end, "D")
        in_trades = (trade_days >= lo) & (trade_days <= hi)
        n_trades = int(in_trades.sum())
        in_scored = (scored_days >= lo) & (scored_days <= hi)
        n_scored = int(in_scored.sum())
        rows.append({
            "end": end, "first": first, "sessions": window, "trades": n_trades,
            "win_rate": float(won[in_trades].mean()) if n_trades >= MIN_TRADES else math.nan,
            "sharpe": core_daily_stats(returns[stop - window:stop])["sharpe"],
            "scored": n_scored,
            "brier": brier(forecast[in_scored], scored_won[in_scored])
            if n_scored >= MIN_SCORED else math.nan,
            "base_rate_brier": brier(base[in_scored], scored_won[in_scored])
            if n_scored >= MIN_SCORED else math.nan,
        })
    frame = pd.DataFrame(rows, columns=CURVE_COLUMNS)
    trends = {metric: trend(metric, list(frame["end"]), frame[metric].to_numpy(dtype=float),
                            higher)
              for metric, (_, higher) in METRICS.items()}
    return LearningCurve(last, frame, trends)


def _number(value: float, spec: str) -> str:
    return format(value, spec) if math.isfinite(value) else "n/a"


def diagnosis_sentence(t: Trend) -> str:
    """The trend in words a person can act on."""
    if t.diagnosis == TOO_LITTLE_DATA:
        return (f"too little data: {t.windows} window(s) with a value, at least "
                f"{MIN_WINDOWS} are needed to read a trend.")
    slope = f"slope {t.slope_per_year:+.3f} a year, p = {t.p_value:.2f} over {t.windows} windows"
    if t.diagnosis == STALLED:
        return (f"stalled: the agent is not measurably learning here ({slope}; not "
                f"distinguishable from no trend at the {SIGNIFICANCE:.0%} level).")
    return f"{t.diagnosis} ({slope}; significant at the {SIGNIFICANCE:.0%} level)."


def learning_curve_markdown(curve: LearningCurve, rows: int = 12) -> list[str]:
    """The section: the trends and their diagnosis, then the latest windows."""
    lines = ["## Learning curve",
             f"Consecutive windows of {WINDOW_SESSIONS} sessions of the combined account "
             f"that share no day, up to {curve.last}; each of the three trends is tested "
             f"at {SIGNIFICANCE:.0%}, so with no trend at all one of them reads improving or "
             "declining about a quarter of the time. A window needs "
             f"{MIN_TRADES}+ closed trades for a win rate and {MIN_SCORED}+ scored decisions "
             "for a Brier score (the base rate's Brier beside it: the no-skill forecast "
             "the debate must beat).", ""]
    for metric, (title, _) in METRICS.items():
        lines.append(f"- **{title}**: {diagnosis_sentence(curve.trends[metric])}")
    lines.append("")
    if curve.windows.empty:
        lines.append(f"No window of {WINDOW_SESSIONS} sessions has closed yet.")
        return lines
    lines += ["| Window | Trades | Win rate | Sharpe | Scored | Brier | Base-rate Brier |",
              "|---|---|---|---|---|---|---|"]
    for w in curve.windows.tail(rows).itertuples():
        lines.append(f"| {w.first} to {w.end} | {w.trades} | {_number(w.win_rate, '.1%')} "
                     f"| {_number(w.sharpe, '.2f')} | {w.scored} | {_number(w.brier, '.3f')} "
                     f"| {_number(w.base_rate_brier, '.3f')} |")
    return lines
