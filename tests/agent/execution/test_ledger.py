"""The ledger engine: next-bar fills, consistent books, exits, pause, and restarts."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from trade_pipelines.agent.evolution.genomes import StrategyGenome
from trade_pipelines.agent.execution.broker import (
    COMMISSION_RATE,
    MIN_COMMISSION,
    Bar,
    slippage_bps,
)
from trade_pipelines.agent.execution.ledger import (
    ACCOUNTS,
    STARTING_CAPITAL,
    AccountState,
    DayMarket,
    Ledger,
    LedgerState,
    PendingOrder,
    state_from_rows,
)

T1 = StrategyGenome("T1", "slow trend", "trend", "momentum", {"min_return": 0.0},
                    stop_loss=0.05, take_profit=0.50, max_holding_days=100)
T2 = StrategyGenome("T2", "short hold", "trend", "momentum", {"min_return": 0.0},
                    stop_loss=0.20, take_profit=0.50, max_holding_days=3)
GENOMES = {"T1": T1, "T2": T2}
DAYS = [date(2024, 1, 1) + timedelta(days=i) for i in range(10)]
VOL = 0.2

# (open, close) per day; C has no bar on day 7
PRICES = {
    "A": [(100, 100), (101, 102), (102, 103), (95, 92), (91, 90), (90, 91), (91, 93),
          (93, 94), (94, 95), (95, 96)],
    "B": [(50, 50), (50.5, 51), (51, 51.5), (51.5, 52), (52, 52.5), (52.5, 52), (52, 51),
          (51, 50), (50, 50.5), (50.5, 51)],
    "C": [(20, 20), (20, 20.2), (20.2, 20.4), (20.4, 20.5), (20.6, 21), (21, 21.5),
          (21.5, 22), None, (21, 20.5), (20.5, 20)],
}
# day -> [(symbol, strategy, weight)]
DECISIONS = {0: [("A", "T1", 0.10), ("B", "T2", 0.08)], 3: [("C", "T1", 0.06)],
             5: [("A", "T1", 0.05)], 8: [("B", "T2", 0.05)]}


def not_paused(_: date) -> tuple[bool, str]:
    return False, ""


def market(i: int, prices: dict | None = None, benchmark_return: float = 0.0,
           defensive: bool = False) -> DayMarket:
    prices = PRICES if prices is None else prices
    bars = {s: Bar(float(p[i][0]), float(p[i][1]), 1e9)
            for s, p in prices.items() if p[i] is not None}
    return DayMarket(DAYS[i], bars, {s: VOL for s in bars}, 4000.0 + i, benchmark_return,
                     defensive)


def decisions(i: int, rows: list[tuple[str, str, float]] | None = None) -> pd.DataFrame:
    rows = DECISIONS.get(i, []) if rows is None else rows
    return pd.DataFrame([
        {"as_of": DAYS[i], "decision_id": f"D-{i}-{s}", "symbol": s, "strategy_id": g,
         "confidence": 0.7, "weight_aggressive": w, "weight_conservative": w / 2,
         "weight_combined": w} for s, g, w in rows],
        columns=["as_of", "decision_id", "symbol", "strategy_id", "confidence",
                 "weight_aggressive", "weight_conservative", "weight_combined"])


def run(ledger: Ledger, days: range, pause=not_paused) -> Ledger:
    for i in days:
        ledger.run_day(market(i), decisions(i), pause)
    return ledger


def full_run() -> Ledger:
    return run(Ledger(LedgerState(), GENOMES), range(len(DAYS)))


def test_orders_fill_on_the_next_bar_never_on_their_own_day() -> None:
    frames = full_run().result.frames()
    orders, fills = frames["orders"], frames["fills"]
    accepted = orders[orders["status"] == "accepted"]
    assert len(accepted) >= 10
    order_day = dict(zip(orders["order_id"], orders["as_of"], strict=True))
    assert not fills.empty
    for fill in fills.itertuples():
        placed = order_day[fill.order_id]
        assert fill.as_of == DAYS[DAYS.index(placed) + 1]
    assert fills[fills["as_of"] == DAYS[0]].empty
    # the day-0 buys fill at day 1's open plus slippage, not at day 0's close
    first = fills[(fills["as_of"] == DAYS[1]) & (fills["symbol"] == "A")]
    assert len(first) == len(ACCOUNTS)
    assert first["price"].tolist() == pytest.approx(
        [101.0 * (1 + slippage_bps(VOL) / 10_000)] * 3, abs=1e-6)
    # every accepted order fills except one whose symbol has no bar the next day
    assert set(fills["order_id"]) <= set(accepted["order_id"])


def test_an_order_without_a_next_bar_expires_with_a_warning() -> None:
    prices = {"C": PRICES["C"]}
    ledger = Ledger(LedgerState(), GENOMES)
    ledger.run_day(market(6, prices), decisions(6, [("C", "T1", 0.05)]), not_paused)
    assert len(ledger.state.pending) == len(ACCOUNTS)
    ledger.run_day(market(7, prices), decisions(7, []), not_paused)
    assert ledger.result.fills == []
    assert ledger.state.pending == []
    assert len(ledger.result.warnings) == len(ACCOUNTS)
    assert all("expired" in w for w in ledger.result.warnings)


def test_cash_plus_positions_value_is_equity_every_day() -> None:
    frames = full_run().result.frames()
    accounts, positions = frames["accounts"], frames["positions"]
    assert len(accounts) == len(DAYS) * len(ACCOUNTS)
    assert not positions.empty
    value = positions.groupby(["as_of", "account"])["market_value"].sum()
    for row in accounts.itertuples():
        held = float(value.get((row.as_of, row.account), 0.0))
        assert row.equity == pytest.approx(row.cash + held, abs=1e-3)
        assert row.gross_exposure == pytest.approx(held, abs=1e-3)
        assert row.cash >= 0
    # fees and slippage were paid: equity moved off the starting capital
    last = accounts[accounts["as_of"] == DAYS[-1]]
    assert (last["equity"] != STARTING_CAPITAL).all()


def test_cash_moves_by_exactly_the_fills() -> None:
    frames = full_run().result.frames()
    fills, accounts = frames["fills"], frames["accounts"]
    for name in ACCOUNTS:
        own = fills[fills["account"] == name]
        sign = own["side"].map({"buy": -1.0, "sell": 1.0})
        expected = STARTING_CAPITAL + float((sign * own["quantity"] * own["price"]
                                             - own["fee"]).sum())
        final = accounts[(accounts["account"] == name) & (accounts["as_of"] == DAYS[-1])]
        assert float(final["cash"].iloc[0]) == pytest.approx(expected, abs=1e-6)


def test_stop_loss_exit() -> None:
    frames = full_run().result.frames()
    orders, trades, positions = frames["orders"], frames["trades"], frames["positions"]
    stops = orders[(orders["purpose"] == "stop_loss")]
    assert set(stops["account"]) == set(ACCOUNTS)
    assert (stops["as_of"] == DAYS[3]).all() and (stops["symbol"] == "A").all()
    a_trades = trades[(trades["symbol"] == "A") & (trades["exit_reason"] == "stop_loss")]
    assert len(a_trades) == len(ACCOUNTS)
    assert (a_trades["as_of"] == DAYS[4]).all()
    assert (a_trades["opened_as_of"] == DAYS[1]).all()
    assert (a_trades["pnl"] < 0).all()
    assert (a_trades["exit_price"] < 91.0).all()  # day 4's open less slippage
    # A is flat after the stop fills, until the day-5 decision fills on day 6
    held_a = positions[positions["symbol"] == "A"]
    assert held_a[held_a["as_of"].isin([DAYS[4], DAYS[5]])].empty
    assert not held_a[held_a["as_of"] == DAYS[6]].empty


def test_time_exit_after_max_holding_days() -> None:
    frames = full_run().result.frames()
    trades = frames["trades"]
    b = trades[trades["symbol"] == "B"]
    assert set(b["exit_reason"]) == {"time_exit"}
    assert (b["as_of"] == DAYS[5]).all()
    assert (b["holding_days"] == T2.max_holding_days).all()


def test_pause_refuses_every_order_with_the_reason_and_nothing_fills() -> None:
    def paused(_: date) -> tuple[bool, str]:
        return True, "supervisor: reconciling the broker statement"

    ledger = run(Ledger(LedgerState(), GENOMES), range(len(DAYS)), pause=paused)
    frames = ledger.result.frames()
    orders = frames["orders"]
    assert len(orders) > 0
    assert (orders["status"] == "paused").all()
    assert orders["reason"].str.contains("reconciling the broker statement").all()
    assert frames["fills"].empty and frames["positions"].empty and frames["trades"].empty
    assert (frames["accounts"]["cash"] == STARTING_CAPITAL).all()
    assert ledger.state.pending == []


def test_defensive_day_refuses_entries_but_still_exits() -> None:
    ledger = Ledger(LedgerState(), GENOMES)
    for i in range(len(DAYS)):
        ledger.run_day(market(i, defensive=i >= 3), decisions(i), not_paused)
    orders = ledger.result.frames()["orders"]
    entries = orders[orders["purpose"] == "entry"]
    assert (entries[entries["as_of"] >= DAYS[3]]["status"] == "rejected").all()
    exits = orders[orders["purpose"] != "entry"]
    assert not exits.empty and (exits["status"] == "accepted").all()


def test_circuit_breaker_day_refuses_entries() -> None:
    ledger = Ledger(LedgerState(), GENOMES)
    ledger.run_day(market(0, benchmark_return=-0.12), decisions(0), not_paused)
    orders = ledger.result.frames()["orders"]
    assert (orders["status"] == "rejected").all()
    assert orders["reason"].str.contains("circuit breaker").all()


def test_accounts_trade_their_own_weights() -> None:
    frames = full_run().result.frames()
    positions = frames["positions"]
    day1 = positions[(positions["as_of"] == DAYS[1]) & (positions["symbol"] == "A")]
    weight = dict(zip(day1["account"], day1["weight"], strict=True))
    assert weight["aggressive"] == pytest.approx(0.10, abs=0.002)
    assert weight["combined"] == pytest.approx(0.10, abs=0.002)
    assert weight["conservative"] == pytest.approx(0.05, abs=0.002)


def test_a_cash_limited_fill_charges_the_commission_of_what_it_bought() -> None:
    state = LedgerState()
    state.accounts["combined"] = AccountState(cash=1_000.0, peak_equity=1_000.0,
                                              last_equity=1_000.0)
    state.pending.append(PendingOrder("O-1", "combined", "A", "buy", 100.0, "T1", "entry"))
    ledger = Ledger(state, GENOMES)
    ledger.run_day(DayMarket(DAYS[1], {"A": Bar(50.0, 50.0, 1e9)}, {"A": VOL}, 4000.0, 0.0,
                             False), decisions(1, []), not_paused)
    (fill,) = ledger.result.fills
    assert fill["quantity"] == 19
    assert fill["fee"] == pytest.approx(
        max(MIN_COMMISSION, COMMISSION_RATE * fill["quantity"] * fill["price"]))
    account = ledger.state.accounts["combined"]
    assert account.cash == pytest.approx(1_000.0 - fill["quantity"] * fill["price"]
                                         - fill["fee"])
    assert account.cash >= 0


def rebuild(result_frames: dict[str, pd.DataFrame], day: date) -> LedgerState:
    accounts = result_frames["accounts"]
    peaks = accounts[accounts["as_of"] <= day].groupby("account")["equity"].max().to_dict()
    positions = result_frames["positions"]
    orders = result_frames["orders"]
    pending = orders[(orders["as_of"] == day) & (orders["status"] == "accepted")] \
        .sort_values("sequence")
    return state_from_rows(accounts[accounts["as_of"] == day], peaks,
                           positions[positions["as_of"] == day].sort_values(
                               ["account", "symbol"]), pending)


@pytest.mark.parametrize("k", range(0, len(DAYS) - 1))
def test_restart_from_rows_continues_exactly(k: int) -> None:
    full = full_run().result.frames()
    first = run(Ledger(LedgerState(), GENOMES), range(0, k + 1)).result.frames()
    second = run(Ledger(rebuild(first, DAYS[k]), GENOMES), range(k + 1, len(DAYS)))
    rest = second.result.frames()
    for table in ("orders", "fills", "positions", "accounts", "trades"):
        expected = full[table][full[table]["as_of"] > DAYS[k]]
        assert rest[table].to_dict("records") == expected.to_dict("records"), table
        before = full[table][full[table]["as_of"] <= DAYS[k]]
        assert first[table].to_dict("records") == before.to_dict("records"), table
    assert len(rest["fills"]) > 0 or k >= 8


def test_restart_covers_pending_orders_and_open_positions() -> None:
    # the interesting boundaries: day 3 leaves a pending stop and a pending buy,
    # day 7 has a held position without a bar
    full = full_run().result.frames()
    orders = full["orders"]
    at_3 = orders[(orders["as_of"] == DAYS[3]) & (orders["status"] == "accepted")]
    assert set(at_3["purpose"]) == {"stop_loss", "entry"}
    positions = full["positions"]
    c7 = positions[(positions["as_of"] == DAYS[7]) & (positions["symbol"] == "C")]
    assert not c7.empty and (c7["close"] == 22.0).all()
