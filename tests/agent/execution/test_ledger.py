"""The ledger engine: next-bar fills, consistent books, exits, every order's terminal
state, the supervisor's controls, and restarts."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from trade_pipelines.agent.evolution.genomes import StrategyGenome
from trade_pipelines.agent.execution.broker import (
    COMMISSION_RATE,
    MIN_COMMISSION,
    Bar,
    slippage_bps,
)
from trade_pipelines.agent.execution.controls import (
    NO_CONTROLS,
    ControlEvent,
    ControlSchedule,
)
from trade_pipelines.agent.execution.ledger import (
    ACCOUNTS,
    STARTING_CAPITAL,
    TERMINAL_STATUSES,
    AccountState,
    DayMarket,
    Ledger,
    LedgerState,
    PendingOrder,
    state_from_rows,
)
from trade_pipelines.agent.markets import US

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


def run(ledger: Ledger, days: range, controls: ControlSchedule = NO_CONTROLS) -> Ledger:
    for i in days:
        ledger.run_day(market(i), decisions(i), controls.state(DAYS[i]))
    return ledger


def control(action: str, i: int, reason: str = "supervisor review") -> ControlEvent:
    return ControlEvent(action, DAYS[i], reason, "alice", datetime(2023, 12, 1, 9, i))


# day 0's buys cancelled at day 1; day 3's entry fills; halted on day 7, when C has no bar
HALT_AND_RESUME = ControlSchedule([control("pause", 1), control("resume", 3),
                                   control("halt", 7)])


def full_run() -> Ledger:
    return run(Ledger(LedgerState(), GENOMES), range(len(DAYS)))


def test_orders_fill_on_the_next_bar_never_on_their_own_day() -> None:
    frames = full_run().result.frames()
    orders, fills = frames["orders"], frames["fills"]
    accepted = orders[orders["verdict"] == "accepted"]
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


def test_an_order_without_a_next_bar_expires_with_the_reason() -> None:
    prices = {"C": PRICES["C"]}
    ledger = Ledger(LedgerState(), GENOMES)
    ledger.run_day(market(6, prices), decisions(6, [("C", "T1", 0.05)]))
    assert len(ledger.state.pending) == len(ACCOUNTS)
    assert {o["status"] for o in ledger.result.orders} == {"pending"}
    ledger.run_day(market(7, prices), decisions(7, []))
    assert ledger.result.fills == []
    assert ledger.state.pending == []
    orders = ledger.result.frames()["orders"]
    assert len(orders) == len(ACCOUNTS)
    assert (orders["status"] == "expired").all()
    assert (orders["resolution"] == f"no C bar on {DAYS[7]}").all()
    assert (orders["resolved_as_of"] == DAYS[7]).all()
    assert (orders["filled_quantity"] == 0).all()
    assert (orders["unfilled_quantity"] == orders["quantity"]).all()
    assert (orders["verdict"] == "accepted").all()


@pytest.mark.parametrize("controls", [NO_CONTROLS, HALT_AND_RESUME], ids=["free", "halted"])
def test_every_order_ends_in_a_terminal_state_with_its_quantities(
        controls: ControlSchedule) -> None:
    frames = run(Ledger(LedgerState(), GENOMES), range(len(DAYS)), controls).result.frames()
    orders, fills = frames["orders"], frames["fills"]
    placed_before_last = orders[orders["as_of"] < DAYS[-1]]
    assert set(placed_before_last["status"]) <= set(TERMINAL_STATUSES)
    assert "filled" in set(placed_before_last["status"])
    if controls is HALT_AND_RESUME:
        assert {"rejected", "cancelled", "expired"} <= set(placed_before_last["status"])
    assert (placed_before_last["resolved_as_of"] >= placed_before_last["as_of"]).all()
    # only the last close's accepted orders wait for a bar this run never saw
    last = orders[orders["as_of"] == DAYS[-1]]
    assert set(last.loc[last["verdict"] == "accepted", "status"]) <= {"pending"}
    assert last.loc[last["status"] == "pending", "resolved_as_of"].isna().all()
    filled = fills.groupby("order_id")["quantity"].sum()
    for row in orders.itertuples():
        assert row.filled_quantity == pytest.approx(filled.get(row.order_id, 0.0))
        assert row.filled_quantity + row.unfilled_quantity == pytest.approx(row.quantity)
        if row.status in ("filled", "partially_filled"):
            assert row.filled_quantity > 0 and row.resolution.startswith("filled")
        elif row.status != "pending":
            assert row.filled_quantity == 0 and row.resolution


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


def _before(frames: dict[str, pd.DataFrame], day: date) -> dict[str, list[dict]]:
    """Every row of the days before ``day``; an order's outcome only if known before it."""
    out = {}
    for table, frame in frames.items():
        rows = frame[frame["as_of"] < day]
        if table == "orders":
            known = rows["resolved_as_of"].map(lambda d: d is not None and d < day)
            rows = rows.assign(**{c: rows[c].where(known, "later") for c in (
                "status", "resolution", "filled_quantity", "unfilled_quantity",
                "resolved_as_of")})
        out[table] = rows.to_dict("records")
    return out


def test_a_pause_refuses_entries_from_its_day_and_exits_still_fill() -> None:
    paused_from = 5
    ledger = run(Ledger(LedgerState(), GENOMES), range(len(DAYS)),
                 ControlSchedule([control("pause", paused_from, "reconciling the statement")]))
    frames = ledger.result.frames()
    orders, fills = frames["orders"], frames["fills"]
    entries = orders[(orders["purpose"] == "entry") & (orders["as_of"] >= DAYS[paused_from])]
    assert len(entries) == 2 * len(ACCOUNTS)  # days 5 and 8
    assert (entries["status"] == "rejected").all()
    assert (entries["verdict"] == "rejected").all()
    assert entries["resolution"].str.contains(
        f"trading paused from {DAYS[paused_from]} by alice: reconciling the statement").all()
    # the B time exits decided the day before the pause still fill on its first day
    exits = fills[(fills["as_of"] >= DAYS[paused_from]) & (fills["side"] == "sell")]
    assert len(exits) == len(ACCOUNTS) and set(exits["symbol"]) == {"B"}
    assert fills[(fills["as_of"] >= DAYS[paused_from]) & (fills["side"] == "buy")].empty
    # and the days before the pause are exactly those of a run without it
    assert _before(frames, DAYS[paused_from]) == _before(full_run().result.frames(),
                                                         DAYS[paused_from])


def test_a_pause_cancels_entries_that_would_fill_in_it_with_the_reason() -> None:
    ledger = run(Ledger(LedgerState(), GENOMES), range(len(DAYS)),
                 ControlSchedule([control("pause", 6, "earnings week")]))
    orders = ledger.result.frames()["orders"]
    decided = orders[(orders["as_of"] == DAYS[5]) & (orders["purpose"] == "entry")]
    assert len(decided) == len(ACCOUNTS)
    assert (decided["verdict"] == "accepted").all()
    assert (decided["status"] == "cancelled").all()
    assert (decided["resolved_as_of"] == DAYS[6]).all()
    assert decided["resolution"].str.contains("earnings week").all()
    assert (decided["unfilled_quantity"] == decided["quantity"]).all()
    fills = ledger.result.frames()["fills"]
    assert not fills["order_id"].isin(decided["order_id"]).any()


def test_a_resume_allows_entries_decided_from_its_day() -> None:
    controls = ControlSchedule([control("pause", 1), control("resume", 5)])
    orders = run(Ledger(LedgerState(), GENOMES), range(len(DAYS)), controls) \
        .result.frames()["orders"]
    entries = orders[orders["purpose"] == "entry"]
    during = entries[(entries["as_of"] >= DAYS[1]) & (entries["as_of"] < DAYS[5])]
    assert len(during) > 0 and (during["status"] == "rejected").all()
    after = entries[entries["as_of"] >= DAYS[5]]
    assert len(after) > 0 and (after["verdict"] == "accepted").all()
    # the day-0 buys, decided before the pause, would fill on its first day: cancelled
    first = entries[entries["as_of"] == DAYS[0]]
    assert (first["status"] == "cancelled").all()


def test_a_halt_sells_every_position_at_its_first_bar_and_refuses_entries() -> None:
    halted_from = 2
    ledger = run(Ledger(LedgerState(), GENOMES), range(len(DAYS)),
                 ControlSchedule([control("halt", halted_from, "broker outage")]))
    frames = ledger.result.frames()
    orders, fills, positions = frames["orders"], frames["fills"], frames["positions"]
    held = positions[positions["as_of"] == DAYS[halted_from - 1]]
    assert len(held) == 2 * len(ACCOUNTS)  # A and B in every account
    halts = orders[orders["purpose"] == "halt"]
    assert len(halts) == len(held)
    assert (halts["as_of"] == DAYS[halted_from]).all()
    assert (halts["status"] == "filled").all()
    sold = fills[fills["order_id"].isin(halts["order_id"])]
    assert (sold["as_of"] == DAYS[halted_from]).all()
    # at that bar's open, less slippage
    a_open = PRICES["A"][halted_from][0]
    assert sold.loc[sold["symbol"] == "A", "price"].tolist() == pytest.approx(
        [a_open * (1 - slippage_bps(VOL) / 10_000)] * len(ACCOUNTS))
    assert positions[positions["as_of"] >= DAYS[halted_from]].empty
    assert set(frames["trades"]["exit_reason"]) == {"halt"}
    entries = orders[(orders["purpose"] == "entry") & (orders["as_of"] >= DAYS[halted_from])]
    assert len(entries) > 0 and (entries["status"] == "rejected").all()
    assert entries["resolution"].str.contains("halted").all()
    accounts = frames["accounts"]
    assert (accounts.loc[accounts["as_of"] >= DAYS[halted_from], "gross_exposure"] == 0).all()


def test_a_halt_sells_a_position_without_a_bar_at_its_next_bar() -> None:
    # C has no bar on day 7: halted from 7, it is sold at day 8's bar
    ledger = run(Ledger(LedgerState(), GENOMES), range(len(DAYS)),
                 ControlSchedule([control("halt", 7)]))
    orders = ledger.result.frames()["orders"]
    halts = orders[orders["purpose"] == "halt"]
    c = halts[halts["symbol"] == "C"]
    assert list(c["status"]) == ["expired"] * len(ACCOUNTS) + ["filled"] * len(ACCOUNTS)
    assert set(c["as_of"]) == {DAYS[7], DAYS[8]}
    assert ledger.result.frames()["positions"].query("as_of >= @DAYS[8]").empty


def test_a_fill_capped_by_volume_is_partial_and_the_rest_cancelled() -> None:
    state = LedgerState()
    state.pending.append(PendingOrder("O-1", "combined", "A", "buy", 100.0, "T1", "entry"))
    state.pending.append(PendingOrder("O-2", "combined", "B", "buy", 100.0, "T1", "entry"))
    ledger = Ledger(state, GENOMES)
    bars = {"A": Bar(50.0, 50.0, 1e6, 400.0), "B": Bar(50.0, 50.0, 1e6, 5.0)}
    ledger.run_day(DayMarket(DAYS[1], bars, {"A": VOL, "B": VOL}, 4000.0, 0.0, False),
                   decisions(1, []))
    (fill,) = ledger.result.fills
    assert fill["quantity"] == 40
    partial, expired = ledger.result.earlier_orders
    assert (partial["order_id"], partial["status"]) == ("O-1", "partially_filled")
    assert (partial["filled_quantity"], partial["unfilled_quantity"]) == (40.0, 60.0)
    assert "volume cap" in partial["resolution"] and "remainder cancelled" in \
        partial["resolution"]
    assert (expired["order_id"], expired["status"]) == ("O-2", "expired")
    assert "allows no share" in expired["resolution"]


def test_defensive_day_refuses_entries_but_still_exits() -> None:
    ledger = Ledger(LedgerState(), GENOMES)
    for i in range(len(DAYS)):
        ledger.run_day(market(i, defensive=i >= 3), decisions(i))
    orders = ledger.result.frames()["orders"]
    entries = orders[orders["purpose"] == "entry"]
    assert (entries[entries["as_of"] >= DAYS[3]]["status"] == "rejected").all()
    exits = orders[orders["purpose"] != "entry"]
    assert not exits.empty and (exits["verdict"] == "accepted").all()


def test_circuit_breaker_day_refuses_entries() -> None:
    ledger = Ledger(LedgerState(), GENOMES)
    ledger.run_day(market(0, benchmark_return=-0.12), decisions(0))
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
                             False), decisions(1, []))
    (fill,) = ledger.result.fills
    assert fill["quantity"] == 19
    (order,) = ledger.result.earlier_orders
    assert order["status"] == "partially_filled"
    assert (order["filled_quantity"], order["unfilled_quantity"]) == (19.0, 81.0)
    assert order["resolved_as_of"] == DAYS[1]
    assert "cash" in order["resolution"] and "remainder cancelled" in order["resolution"]
    # the commission of the 19 shares bought, not of the 100 ordered
    assert fill["fee"] == pytest.approx(US.commission.on(fill["quantity"], fill["price"]))
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
    # as the asset loads them: accepted at that close, not resolved by it
    pending = orders[(orders["as_of"] == day) & (orders["verdict"] == "accepted")
                     & orders["resolved_as_of"].map(lambda d: d is None or d > day)] \
        .sort_values("sequence")
    return state_from_rows(accounts[accounts["as_of"] == day], peaks,
                           positions[positions["as_of"] == day].sort_values(
                               ["account", "symbol"]), pending)


def _upsert_orders(orders: pd.DataFrame, updates: pd.DataFrame) -> pd.DataFrame:
    """What the asset does with the orders a run resolved for an earlier one."""
    kept = orders[~orders["order_id"].isin(updates["order_id"])]
    frames = [f for f in (kept, updates) if not f.empty]
    return pd.concat(frames).sort_values(["as_of", "sequence"]).reset_index(drop=True)


@pytest.mark.parametrize("controls", [NO_CONTROLS, HALT_AND_RESUME], ids=["free", "halted"])
@pytest.mark.parametrize("k", range(0, len(DAYS) - 1))
def test_restart_from_rows_continues_exactly(k: int, controls: ControlSchedule) -> None:
    full = run(Ledger(LedgerState(), GENOMES), range(len(DAYS)), controls).result.frames()
    first = run(Ledger(LedgerState(), GENOMES), range(0, k + 1), controls).result.frames()
    second = run(Ledger(rebuild(first, DAYS[k]), GENOMES), range(k + 1, len(DAYS)), controls)
    rest = second.result.frames()
    for table in ("orders", "fills", "positions", "accounts", "trades"):
        expected = full[table][full[table]["as_of"] > DAYS[k]]
        assert rest[table].to_dict("records") == expected.to_dict("records"), table
        before = full[table][full[table]["as_of"] <= DAYS[k]]
        written = first[table]
        if table == "orders":  # the orders pending at day k were resolved by the second
            written = _upsert_orders(written, second.result.earlier_orders_frame())
        assert written.to_dict("records") == before.to_dict("records"), table
    assert len(rest["fills"]) > 0 or k >= 8 or controls is HALT_AND_RESUME


def test_restart_covers_pending_orders_and_open_positions() -> None:
    # the interesting boundaries: day 3 leaves a pending stop and a pending buy,
    # day 7 has a held position without a bar
    full = full_run().result.frames()
    orders = full["orders"]
    at_3 = orders[(orders["as_of"] == DAYS[3]) & (orders["verdict"] == "accepted")]
    assert set(at_3["purpose"]) == {"stop_loss", "entry"}
    positions = full["positions"]
    c7 = positions[(positions["as_of"] == DAYS[7]) & (positions["symbol"] == "C")]
    assert not c7.empty and (c7["close"] == 22.0).all()


def test_a_later_outcome_is_kept_only_for_the_order_as_it_was_placed() -> None:
    from datetime import date as day

    import pandas as pd

    from trade_pipelines.agent.execution.ledger import ORDER_COLUMNS, with_later_resolutions

    placed = pd.DataFrame([{c: None for c in ORDER_COLUMNS} | {
        "order_id": "O-1", "quantity": 10.0, "status": "pending", "filled_quantity": 0.0,
        "unfilled_quantity": 10.0}])
    later = pd.DataFrame([{"order_id": "O-1", "quantity": 10.0, "status": "filled",
                           "resolution": "filled 10 at 101", "filled_quantity": 10.0,
                           "unfilled_quantity": 0.0, "resolved_as_of": day(2019, 2, 1)}])
    same = with_later_resolutions(placed, later).iloc[0]
    assert (same["status"], same["filled_quantity"]) == ("filled", 10.0)
    # Re-run with other inputs, the same order id now asks for 12 shares: the stored
    # outcome of a 10-share order must not be pasted onto it.
    changed = with_later_resolutions(placed.assign(quantity=12.0, unfilled_quantity=12.0),
                                     later).iloc[0]
    assert (changed["status"], changed["unfilled_quantity"]) == ("pending", 12.0)


# A trailing stop: D rises to 120 and falls back; only its 5% trail can close it.
T3 = StrategyGenome("T3", "trailed trend", "trend", "momentum", {"min_return": 0.0},
                    stop_loss=0.30, take_profit=0.50, max_holding_days=100,
                    trailing_stop=0.05)
TRAILED = {"D": [(100, 100), (100, 104), (104, 112), (112, 120), (120, 117), (117, 118),
                 (118, 113), (113, 112), (112, 111), (111, 110)]}


def run_trailed(ledger: Ledger, days: range) -> Ledger:
    for i in days:
        ledger.run_day(market(i, TRAILED), decisions(i, [("D", "T3", 0.10)] if i == 0 else []))
    return ledger


def test_a_trailing_stop_sells_when_the_close_falls_its_distance_below_the_peak() -> None:
    frames = run_trailed(Ledger(LedgerState(), {"T3": T3}), range(len(DAYS))).result.frames()
    orders, trades, positions = frames["orders"], frames["trades"], frames["positions"]
    exits = orders[orders["purpose"] != "entry"]
    # 117 is 2.5% under the 120 peak, 113 is 5.8% under it: the order is placed at day 6
    assert set(exits["purpose"]) == {"trailing_stop"}
    assert (exits["as_of"] == DAYS[6]).all() and len(exits) == len(ACCOUNTS)
    assert set(trades["exit_reason"]) == {"trailing_stop"} and (trades["as_of"] == DAYS[7]).all()
    assert (trades["pnl"] > 0).all()  # still above the 100 entry: a stop would never fire
    held = positions[positions["account"] == "combined"].set_index("as_of")["peak_close"]
    assert held[DAYS[1]] == 104.0 and held[DAYS[3]] == 120.0 and held[DAYS[6]] == 120.0


@pytest.mark.parametrize("k", range(1, 7))
def test_a_restart_keeps_the_trailing_stops_peak(k: int) -> None:
    full = run_trailed(Ledger(LedgerState(), {"T3": T3}), range(len(DAYS))).result.frames()
    first = run_trailed(Ledger(LedgerState(), {"T3": T3}), range(0, k + 1)).result.frames()
    rest = run_trailed(Ledger(rebuild(first, DAYS[k]), {"T3": T3}),
                       range(k + 1, len(DAYS))).result.frames()
    for table in ("orders", "trades", "positions"):
        expected = full[table][full[table]["as_of"] > DAYS[k]]
        assert rest[table].to_dict("records") == expected.to_dict("records"), table


def test_the_llm_spend_is_paid_from_every_accounts_cash() -> None:
    traded = full_run().result.frames()["accounts"]
    ledger = Ledger(LedgerState(), GENOMES)
    for i in range(len(DAYS)):
        ledger.run_day(market(i), decisions(i), research_cost=2.5 if i in (0, 4) else 0.0)
    charged = ledger.result.frames()["accounts"]
    idle = Ledger(LedgerState(), GENOMES)
    for i in range(len(DAYS)):  # no trade: the cash moves by the spend alone
        idle.run_day(market(i), decisions(i, []), research_cost=2.5 if i in (0, 4) else 0.0)
    idle_accounts = idle.result.frames()["accounts"]
    for name in ACCOUNTS:
        def cash(frame: pd.DataFrame, i: int, name: str = name) -> float:
            return float(frame[(frame["account"] == name) & (frame["as_of"] == DAYS[i])]
                         ["cash"].iloc[0])
        # Paid on the day it was spent, before the day is marked.
        assert cash(traded, 0) - cash(charged, 0) == pytest.approx(2.5)
        assert [cash(idle_accounts, i) for i in (0, 3, 4, 9)] == pytest.approx(
            [STARTING_CAPITAL - 2.5] * 2 + [STARTING_CAPITAL - 5.0] * 2)
