"""The monthly bias diagnosis, each bias present and absent on hand-built round trips of
the combined account; other accounts and trades closed after the month are not read."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd
import pytest

from trade_pipelines.agent.reflection.biases import (
    ANCHORING,
    CONFIRMATION,
    LOSS_AVERSION,
    OVER_TRADING,
    BiasFinding,
    anchoring,
    confirmation,
    diagnose_biases,
    loss_aversion,
    over_trading,
)

FIRST, LAST = date(2016, 3, 1), date(2016, 3, 31)
COLUMNS = ["as_of", "trade_id", "account", "symbol", "strategy_id", "opened_as_of",
           "quantity", "entry_price", "exit_price", "pnl", "return_pct", "holding_days",
           "exit_reason", "decision_id"]


class Trades:
    """Round trips built one at a time, each with a fresh id."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, closed: date, *, opened: date | None = None, symbol: str = "AAA",
            strategy: str = "S-a", pnl: float = 10.0, holding: int = 5,
            entry: float = 100.0, exit_price: float | None = None,
            account: str = "combined") -> Trades:
        opened = opened or closed - timedelta(days=holding)
        exit_price = exit_price if exit_price is not None else entry + pnl / 10
        n = len(self.rows)
        self.rows.append({"as_of": closed, "trade_id": f"T{n:04d}", "account": account,
                          "symbol": symbol, "strategy_id": strategy, "opened_as_of": opened,
                          "quantity": 10.0, "entry_price": entry, "exit_price": exit_price,
                          "pnl": pnl, "return_pct": pnl / (10 * entry),
                          "holding_days": holding, "exit_reason": "signal",
                          "decision_id": f"D{n:04d}"})
        return self

    def frame(self, other_accounts: bool = False) -> pd.DataFrame:
        rows = self.rows
        if other_accounts:
            # the other accounts' copies, and their own noise: none of it may count
            rows = rows + [{**r, "trade_id": f"{r['trade_id']}-{a}", "account": a}
                           for r in self.rows for a in ("aggressive", "conservative")]
        return pd.DataFrame(rows, columns=COLUMNS)


def _find(findings: list[BiasFinding], name: str) -> BiasFinding:
    (finding,) = [f for f in findings if f.name == name]
    return finding


def _summary(findings: list[BiasFinding]) -> list[tuple[str, bool, str, str]]:
    """Comparable findings (NaN is not equal to itself)."""
    return [(f.name, f.present, repr(f.measure), f.evidence) for f in findings]


def _not_assessable(finding: BiasFinding) -> bool:
    return math.isnan(finding.measure) and not finding.present


def test_diagnose_biases_reports_the_four_findings_in_order() -> None:
    findings = diagnose_biases(Trades().frame(), FIRST, LAST)
    assert [f.name for f in findings] == [OVER_TRADING, LOSS_AVERSION, ANCHORING,
                                          CONFIRMATION]
    assert all(_not_assessable(f) for f in findings)
    assert all(f.definition and f.evidence for f in findings)


# -- over-trading --------------------------------------------------------------------------

def _monthly(counts: dict[date, int], trades: Trades | None = None) -> Trades:
    trades = trades or Trades()
    for day, n in counts.items():
        for i in range(n):
            trades.add(day + timedelta(days=i))
    return trades


HISTORY = {date(2015, 12, 7): 2, date(2016, 1, 11): 2, date(2016, 2, 8): 2}


@pytest.mark.parametrize("other_accounts", [False, True])
def test_over_trading_is_more_than_half_again_the_trailing_mean(other_accounts: bool) -> None:
    busy = _monthly({**HISTORY, date(2016, 3, 7): 4}).frame(other_accounts)
    finding = over_trading(busy, FIRST, LAST)
    assert finding.present and finding.measure == 2.0
    assert finding.evidence.startswith("4 trades this month vs a mean of 2.0 over the 3 "
                                       "months before")
    usual = _monthly({**HISTORY, date(2016, 3, 7): 3}).frame(other_accounts)
    finding = over_trading(usual, FIRST, LAST)
    assert not finding.present and finding.measure == 1.5


def test_over_trading_needs_three_months_of_history() -> None:
    short = _monthly({date(2016, 1, 11): 1, date(2016, 2, 8): 1, date(2016, 3, 7): 9})
    assert _not_assessable(over_trading(short.frame(), FIRST, LAST))
    # history in another account only does not count
    other = _monthly({date(2015, 11, 9): 1, date(2016, 3, 7): 9})
    other.rows[0]["account"] = "aggressive"
    assert _not_assessable(over_trading(other.frame(), FIRST, LAST))


def test_months_with_no_trade_after_the_first_one_count_as_zero() -> None:
    trades = _monthly({date(2015, 12, 7): 3, date(2016, 3, 7): 2})
    finding = over_trading(trades.frame(), FIRST, LAST)
    # December, January, February: 3, 0, 0
    assert finding.present and finding.measure == pytest.approx(2.0)


# -- loss aversion -------------------------------------------------------------------------

def _held(losers: list[int], winners: list[int], closed: date = date(2016, 2, 15)) -> Trades:
    trades = Trades()
    for holding in losers:
        trades.add(closed, pnl=-10.0, holding=holding)
    for holding in winners:
        trades.add(closed, pnl=10.0, holding=holding)
    return trades


@pytest.mark.parametrize("other_accounts", [False, True])
def test_loss_aversion_is_losers_held_over_twice_as_long(other_accounts: bool) -> None:
    averse = _held([10, 10, 10], [4, 4, 4])
    # old trades (before the three months) and flat ones do not count
    averse.add(date(2015, 12, 31), pnl=10.0, holding=100)
    averse.add(date(2016, 3, 2), pnl=0.0, holding=100)
    finding = loss_aversion(averse.frame(other_accounts), FIRST, LAST)
    assert finding.present and finding.measure == pytest.approx(2.5)
    calm = loss_aversion(_held([8, 8, 8], [4, 4, 4]).frame(other_accounts), FIRST, LAST)
    assert not calm.present and calm.measure == pytest.approx(2.0)


def test_loss_aversion_needs_three_losers_and_three_winners() -> None:
    assert _not_assessable(loss_aversion(_held([30, 30], [1, 1, 1]).frame(), FIRST, LAST))
    assert _not_assessable(loss_aversion(_held([30, 30, 30], [1, 1]).frame(), FIRST, LAST))
    old = _held([30, 30, 30], [1, 1, 1], closed=date(2015, 12, 31))
    assert _not_assessable(loss_aversion(old.frame(), FIRST, LAST))


# -- anchoring -----------------------------------------------------------------------------

def _anchored(price: float, reentry: date) -> Trades:
    trades = Trades()
    # a losing exit of AAA at 100 on 7 March
    trades.add(date(2016, 3, 7), opened=date(2016, 2, 20), symbol="AAA", pnl=-50.0,
               entry=105.0, exit_price=100.0)
    trades.add(reentry + timedelta(days=5), opened=reentry, symbol="AAA", entry=price)
    for symbol in ("BBB", "CCC", "DDD"):
        trades.add(date(2016, 3, 25), opened=date(2016, 3, 15), symbol=symbol)
    return trades


@pytest.mark.parametrize("other_accounts", [False, True])
def test_anchoring_is_buying_back_near_a_losing_exit(other_accounts: bool) -> None:
    finding = anchoring(_anchored(101.0, date(2016, 3, 10)).frame(other_accounts),
                        FIRST, LAST)
    assert finding.present and finding.measure == 0.25
    assert finding.evidence == "1 of 4 entries (25%): AAA 2016-03-10"


@pytest.mark.parametrize(("price", "reentry"), [
    (104.0, date(2016, 3, 10)),   # more than 3% from the exit
    (101.0, date(2016, 3, 22)),   # more than 14 days after it
    (101.0, date(2016, 3, 7)),    # the exit's own session: not after it
])
def test_a_re_entry_far_from_the_losing_exit_is_no_anchoring(price: float,
                                                              reentry: date) -> None:
    finding = anchoring(_anchored(price, reentry).frame(), FIRST, LAST)
    assert not finding.present and finding.measure == 0.0


def test_a_winning_exit_anchors_nothing() -> None:
    trades = _anchored(101.0, date(2016, 3, 10))
    trades.rows[0]["pnl"] = 50.0
    assert anchoring(trades.frame(), FIRST, LAST).measure == 0.0


def test_anchoring_needs_four_entries_this_month() -> None:
    trades = _anchored(101.0, date(2016, 3, 10))
    trades.rows.pop()
    assert _not_assessable(anchoring(trades.frame(), FIRST, LAST))


# -- confirmation --------------------------------------------------------------------------

def _record(wins: int, losses: int, strategy: str = "S-bad") -> Trades:
    trades = Trades()
    for i in range(wins + losses):
        trades.add(date(2016, 2, 1) + timedelta(days=i), strategy=strategy,
                   pnl=10.0 if i < wins else -10.0)
    return trades


def _entries(trades: Trades, bad: int, others: int) -> Trades:
    for i in range(bad):
        trades.add(date(2016, 3, 20), opened=date(2016, 3, 10 + i), strategy="S-bad",
                   symbol=f"B{i}")
    for i in range(others):
        trades.add(date(2016, 3, 20), opened=date(2016, 3, 10 + i), strategy="S-good",
                   symbol=f"G{i}")
    return trades


@pytest.mark.parametrize("other_accounts", [False, True])
def test_confirmation_is_trading_a_strategy_its_record_refutes(other_accounts: bool) -> None:
    trades = _entries(_record(wins=2, losses=6), bad=2, others=2)
    finding = confirmation(trades.frame(other_accounts), FIRST, LAST)
    assert finding.present and finding.measure == 0.5
    assert finding.evidence.startswith("2 of 4 entries (50%): B0 2016-03-10 (S-bad)")


@pytest.mark.parametrize(("wins", "losses"), [(2, 5), (4, 4)])
def test_a_short_or_good_record_refutes_nothing(wins: int, losses: int) -> None:
    trades = _entries(_record(wins, losses), bad=2, others=2)
    # the other accounts' copies must not lengthen a short record
    finding = confirmation(trades.frame(other_accounts=True), FIRST, LAST)
    assert not finding.present and finding.measure == 0.0


def test_the_record_is_the_one_known_before_the_entry() -> None:
    # eight losers, but closed after the entries were opened
    trades = _entries(Trades(), bad=2, others=2)
    for i in range(8):
        trades.add(date(2016, 3, 21), opened=date(2016, 3, 1), strategy="S-bad",
                   symbol=f"L{i}", pnl=-10.0)
    finding = confirmation(trades.frame(), FIRST, LAST)
    assert finding.measure == 0.0


def test_confirmation_needs_four_entries_this_month() -> None:
    trades = _entries(_record(wins=0, losses=8), bad=3, others=0)
    assert _not_assessable(confirmation(trades.frame(), FIRST, LAST))


# -- no look-ahead -------------------------------------------------------------------------

def test_trades_closed_after_the_month_are_not_read() -> None:
    trades = _anchored(101.0, date(2016, 3, 10))
    within = diagnose_biases(trades.frame(), FIRST, LAST)
    assert _find(within, ANCHORING).present
    # the same month with a fifth entry that closes in April, and many more April trades
    later = _anchored(101.0, date(2016, 3, 10))
    later.add(date(2016, 4, 4), opened=date(2016, 3, 30), symbol="EEE", entry=100.0)
    for i in range(20):
        later.add(date(2016, 4, 5), opened=date(2016, 3, 28), symbol=f"X{i}", pnl=-10.0,
                  holding=60)
    assert _summary(diagnose_biases(later.frame(), FIRST, LAST)) == _summary(within)
    # read directly, without the month's cut, the April trades would change the findings
    assert anchoring(later.frame(), FIRST, LAST).measure != _find(within, ANCHORING).measure
