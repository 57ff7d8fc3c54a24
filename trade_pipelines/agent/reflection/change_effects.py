"""What each change did: the metric it names, measured the same way over the sessions
before it took effect and the as many sessions from then on, so the "after" figure is out
of sample for the review that made it.

A principle is judged by the trades it governs: the combined account's closed trades of
its family opened in its regime. Every other change moves the whole book, so it is
judged by the combined account's daily returns. Only the combined account counts: the
three accounts trade the same decisions, so counting all three would triple every trade.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from trade_pipelines.agent.days import day_of
from trade_pipelines.agent.reflection.changes import PRINCIPLE, Change, changes_from_rows
from trade_pipelines.agent.reflection.performance import daily_stats, trade_stats

COMBINED = "combined"
EFFECT_SESSIONS = 20


@dataclass(frozen=True)
class Windows:
    """The sessions just before a change took effect and those from then on."""

    before: tuple[date, ...]
    after: tuple[date, ...]
    size: int
    until: date | None = None    # the first session it no longer applied (a rollback)

    @property
    def cut(self) -> bool:
        """The change stopped applying before its after-window was full."""
        return len(self.after) < self.size and self.until is not None

    @property
    def complete(self) -> bool:
        return len(self.after) >= self.size or self.cut

    def counts(self) -> str:
        if len(self.before) == len(self.after) == self.size:
            return f"{self.size} sessions each"
        tail = f", up to its rollback from {self.until}" if self.cut else ""
        return f"{len(self.before)} sessions before, {len(self.after)} after{tail}"


def windows(sessions: Sequence[date], effective_from: date, size: int,
            until: date | None = None) -> Windows:
    """``size`` sessions before ``effective_from`` and ``size`` from it on, before
    ``until`` (fewer where the record is shorter); ``sessions`` sorted."""
    before = [d for d in sessions if d < effective_from][-size:]
    after = [d for d in sessions if d >= effective_from and (until is None or d < until)]
    last = sessions[-1] if sessions else None
    ended = until if until is not None and last is not None and until <= last else None
    return Windows(tuple(before), tuple(after[:size]), size, ended)


def _combined(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty or "account" not in frame:
        return frame.iloc[0:0]
    return frame[frame["account"] == COMBINED]


def _pct(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:+.2%}"


def _ratio(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:+.2f}"


def _trade_figures(returns: np.ndarray) -> str:
    stats = trade_stats(returns)
    noun = "trade" if stats.n_trades == 1 else "trades"
    if not stats.n_trades:
        return "0 trades"
    return (f"{stats.n_trades} {noun}, win rate {stats.win_rate:.0%}, "
            f"mean {_pct(stats.expectancy)}")


def _daily_figures(returns: np.ndarray) -> str:
    if not returns.size:
        return "no sessions"
    stats = daily_stats(returns)
    return f"mean daily return {_pct(float(returns.mean()))}, Sharpe {_ratio(stats.sharpe)}"


def _principle_scope(change: Change) -> Mapping[str, Any] | None:
    """The family and regime a principle governs; a withdrawn one, those it governed."""
    value = change.new_value if change.new_value is not None else change.old_value
    return value if isinstance(value, Mapping) else None


def _principle_returns(trades: pd.DataFrame, families: Mapping[str, str],
                       regime_by_day: Mapping[date, str], scope: Mapping[str, Any],
                       days: Sequence[date]) -> np.ndarray:
    if trades.empty or not days:
        return np.array([], dtype=float)
    family, regime = str(scope.get("family") or ""), str(scope.get("regime") or "")
    first, last = days[0], days[-1]
    returns = []
    for trade in trades.itertuples(index=False):
        opened = day_of(trade.opened_as_of)
        if not first <= opened <= last:
            continue
        if family and families.get(str(trade.strategy_id), "") != family:
            continue
        if regime and regime_by_day.get(opened, "") != regime:
            continue
        returns.append(float(trade.return_pct))
    return np.asarray(returns, dtype=float)


def _effect(change: Change, sessions: Sequence[date], returns: pd.Series,
            trades: pd.DataFrame, families: Mapping[str, str],
            regime_by_day: Mapping[date, str], size: int, until: date | None) -> str:
    span = windows(sessions, change.effective_from, size, until)
    scope = _principle_scope(change) if change.kind == PRINCIPLE else None
    if scope is not None:
        before = _trade_figures(_principle_returns(trades, families, regime_by_day, scope,
                                                   span.before))
        after = _trade_figures(_principle_returns(trades, families, regime_by_day, scope,
                                                  span.after))
    else:
        before = _daily_figures(returns.loc[list(span.before)].to_numpy(dtype=float))
        after = _daily_figures(returns.loc[list(span.after)].to_numpy(dtype=float))
    if not span.complete:
        return (f"pending: {len(span.after)} of {size} sessions after; before: {before} "
                f"({len(span.before)} sessions)")
    caveat = ("before: inside the review's own evidence" if scope is not None
              else "before and after, not a controlled comparison")
    return f"before: {before}; after: {after} ({span.counts()}; {caveat})"


def change_effects(changes: pd.DataFrame, accounts: pd.DataFrame, trades: pd.DataFrame,
                   families: Mapping[str, str], regime_by_day: Mapping[date, str],
                   sessions: int = EFFECT_SESSIONS,
                   rolled_back_from: Mapping[str, date] | None = None) -> list[str]:
    """One effect text per row of ``changes`` (the ``changes`` table's columns), in order.

    ``accounts`` and ``trades`` are the warehouse tables (only the combined account's rows
    count); ``families`` maps strategy_id to family; ``regime_by_day`` gives each day's
    regime. A session is a day the combined account has a row. A change rolled back
    (``rolled_back_from``: change_id -> first session without it) is measured only while
    it applied.
    """
    if sessions < 1:
        raise ValueError("sessions must be at least 1")
    book = _combined(accounts)
    returns = pd.Series(book["daily_return"].astype(float).to_numpy(),
                        index=[day_of(d) for d in book["as_of"]]) if not book.empty \
        else pd.Series(dtype=float)
    returns = returns[~returns.index.duplicated(keep="last")].sort_index()
    days = list(returns.index)
    closed = _combined(trades)
    ends = rolled_back_from or {}
    return [_effect(change, days, returns, closed, families, regime_by_day, sessions,
                    ends.get(change.change_id)) for change in changes_from_rows(changes)]
