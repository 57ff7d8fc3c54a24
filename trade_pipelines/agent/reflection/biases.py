"""The monthly bias diagnosis: four behavioural biases, each with a definition a person can
check, a measure, its threshold and the trades behind it. Read from the combined
account's closed round trips only (the three accounts trade the same decisions: counting
all three would triple every number)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

OVER_TRADING = "over_trading"
LOSS_AVERSION = "loss_aversion"
ANCHORING = "anchoring"
CONFIRMATION = "confirmation"

OVER_TRADING_RATIO = 1.5          # trades this month over the trailing monthly mean
OVER_TRADING_MONTHS = 6           # the trailing months of that mean
OVER_TRADING_MIN_MONTHS = 3       # fewer months of history: not assessable
LOSS_AVERSION_RATIO = 2.0         # losers' mean holding over winners'
LOSS_AVERSION_MONTHS = 3
ANCHORING_DAYS = 14               # a re-entry this soon after a losing exit ...
ANCHORING_PRICE = 0.03            # ... within this distance of the exit price
ANCHORING_SHARE = 0.25
CONFIRMATION_WIN_RATE = 0.40      # a strategy whose record is below this ...
CONFIRMATION_MIN_RECORD = 8       # ... over at least this many trades
CONFIRMATION_SHARE = 0.30
MIN_ENTRIES = 4                   # fewer entries in the month: not assessable

DEFINITIONS = {
    OVER_TRADING: (f"Over-trading: the month's closed trades exceed {OVER_TRADING_RATIO}x "
                   f"their mean over the {OVER_TRADING_MONTHS} months before."),
    LOSS_AVERSION: (f"Loss aversion: over the last {LOSS_AVERSION_MONTHS} months, losing "
                    f"trades were held more than {LOSS_AVERSION_RATIO}x as long as winners."),
    ANCHORING: (f"Anchoring: at least {ANCHORING_SHARE:.0%} of the month's entries bought a "
                f"name again within {ANCHORING_DAYS} days of a losing exit, within "
                f"{ANCHORING_PRICE:.0%} of that exit's price."),
    CONFIRMATION: (f"Confirmation: at least {CONFIRMATION_SHARE:.0%} of the month's entries "
                   f"used a strategy whose own record before the entry was a win rate below "
                   f"{CONFIRMATION_WIN_RATE:.0%} over {CONFIRMATION_MIN_RECORD}+ trades."),
}


@dataclass(frozen=True)
class BiasFinding:
    name: str
    present: bool
    measure: float        # NaN: not assessable
    threshold: float
    definition: str
    evidence: str


def _months_back(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, 1)


def _combined(trades: pd.DataFrame) -> pd.DataFrame:
    if trades.empty:
        return trades
    out = trades[trades["account"] == "combined"] if "account" in trades else trades
    return out.sort_values(["as_of", "trade_id"], kind="mergesort")


def over_trading(trades: pd.DataFrame, first: date, last: date) -> BiasFinding:
    t = _combined(trades)
    exits = pd.to_datetime(t["as_of"]).dt.date if not t.empty else pd.Series(dtype=object)
    this = int(((exits >= first) & (exits <= last)).sum())
    counts = []
    for k in range(1, OVER_TRADING_MONTHS + 1):
        start = _months_back(first, k)
        end = _months_back(first, k - 1) - timedelta(days=1)
        counts.append(int(((exits >= start) & (exits <= end)).sum()))
    earliest = exits.min() if len(exits) else None
    months_known = sum(1 for k in range(1, OVER_TRADING_MONTHS + 1)
                       if earliest is not None and earliest < _months_back(first, k - 1))
    if months_known < OVER_TRADING_MIN_MONTHS:
        return BiasFinding(OVER_TRADING, False, float("nan"), OVER_TRADING_RATIO,
                           DEFINITIONS[OVER_TRADING],
                           f"{this} trades this month; fewer than {OVER_TRADING_MIN_MONTHS} "
                           "months of history: not assessable")
    trailing = counts[:months_known]
    mean = sum(trailing) / len(trailing)
    ratio = this / mean if mean else (float("inf") if this else 0.0)
    return BiasFinding(OVER_TRADING, ratio > OVER_TRADING_RATIO, ratio, OVER_TRADING_RATIO,
                       DEFINITIONS[OVER_TRADING],
                       f"{this} trades this month vs a mean of {mean:.1f} over the "
                       f"{len(trailing)} months before (ratio {ratio:.2f})")


def loss_aversion(trades: pd.DataFrame, first: date, last: date) -> BiasFinding:
    t = _combined(trades)
    if not t.empty:
        exits = pd.to_datetime(t["as_of"]).dt.date
        t = t[(exits >= _months_back(first, LOSS_AVERSION_MONTHS - 1)) & (exits <= last)]
    losers = t[t["pnl"] < 0]["holding_days"] if not t.empty else pd.Series(dtype=float)
    winners = t[t["pnl"] > 0]["holding_days"] if not t.empty else pd.Series(dtype=float)
    if len(losers) < 3 or len(winners) < 3:
        return BiasFinding(LOSS_AVERSION, False, float("nan"), LOSS_AVERSION_RATIO,
                           DEFINITIONS[LOSS_AVERSION],
                           f"{len(losers)} losers and {len(winners)} winners: fewer than 3 "
                           "of each, not assessable")
    ratio = float(losers.mean()) / max(float(winners.mean()), 1e-9)
    return BiasFinding(LOSS_AVERSION, ratio > LOSS_AVERSION_RATIO, ratio, LOSS_AVERSION_RATIO,
                       DEFINITIONS[LOSS_AVERSION],
                       f"{len(losers)} losers held {losers.mean():.1f} sessions on average, "
                       f"{len(winners)} winners {winners.mean():.1f} (ratio {ratio:.2f})")


def _entries(t: pd.DataFrame, first: date, last: date) -> pd.DataFrame:
    opened = pd.to_datetime(t["opened_as_of"]).dt.date
    return t[(opened >= first) & (opened <= last)]


def _share_of_entries(name: str, threshold: float, trades: pd.DataFrame, first: date,
                      last: date, flagged: Callable[[pd.DataFrame, pd.Series, Any, date],
                                                    str | None]) -> BiasFinding:
    """A bias measured as the share of the month's entries ``flagged`` says show it
    (given the combined account's trades, their exit days, the entry and its day; it
    returns what to quote, or None)."""
    t = _combined(trades)
    entries = _entries(t, first, last) if not t.empty else t
    if len(entries) < MIN_ENTRIES:
        return BiasFinding(name, False, float("nan"), threshold, DEFINITIONS[name],
                           f"{len(entries)} closed trades opened this month: not assessable")
    exits = pd.to_datetime(t["as_of"]).dt.date
    quoted = [q for entry in entries.itertuples()
              if (q := flagged(t, exits, entry, pd.Timestamp(entry.opened_as_of).date()))]
    share = len(quoted) / len(entries)
    return BiasFinding(name, share >= threshold, share, threshold, DEFINITIONS[name],
                       f"{len(quoted)} of {len(entries)} entries ({share:.0%})"
                       + (": " + ", ".join(quoted[:5]) if quoted else ""))


def anchoring(trades: pd.DataFrame, first: date, last: date) -> BiasFinding:
    def reentry_after_a_loss(t: pd.DataFrame, exits: pd.Series, entry: Any,
                             opened: date) -> str | None:
        losing = t[(t["symbol"] == entry.symbol) & (t["pnl"] < 0) & (exits < opened)
                   & (exits >= opened - timedelta(days=ANCHORING_DAYS))]
        near = any(abs(entry.entry_price / x - 1) <= ANCHORING_PRICE
                   for x in losing["exit_price"])
        return f"{entry.symbol} {opened}" if near else None

    return _share_of_entries(ANCHORING, ANCHORING_SHARE, trades, first, last,
                             reentry_after_a_loss)


def confirmation(trades: pd.DataFrame, first: date, last: date) -> BiasFinding:
    def refuted_by_its_record(t: pd.DataFrame, exits: pd.Series, entry: Any,
                              opened: date) -> str | None:
        record = t[(t["strategy_id"] == entry.strategy_id) & (exits < opened)]
        refuted = len(record) >= CONFIRMATION_MIN_RECORD and \
            (record["pnl"] > 0).mean() < CONFIRMATION_WIN_RATE
        return f"{entry.symbol} {opened} ({entry.strategy_id})" if refuted else None

    return _share_of_entries(CONFIRMATION, CONFIRMATION_SHARE, trades, first, last,
                             refuted_by_its_record)


def diagnose_biases(trades: pd.DataFrame, first: date, last: date) -> list[BiasFinding]:
    """The four findings for the month [first, last] from the closed trades known at its
    last close (columns of the ``trades`` table; other accounts' rows are ignored)."""
    known = trades[pd.to_datetime(trades["as_of"]).dt.date <= last] if not trades.empty \
        else trades
    return [f(known, first, last) for f in (over_trading, loss_aversion, anchoring,
                                            confirmation)]
