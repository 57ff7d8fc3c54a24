"""The trading engine for the three paper accounts, one trading day at a time.

Each day, in this order: at the open, apply the supervisor's trading state (a pause
cancels pending entries; a halt also places orders selling every position); fill the
pending orders at today's bar; mark every position to today's close; record positions
and accounts; then, after the close, turn exits and today's debate decisions into
risk-checked orders that fill at the next bar. The engine is the same for a replay and
for the live daily cycle; its state between days is exactly what the warehouse stores
(positions, cash, peak equity, orders accepted and not yet resolved).

Every order ends in a terminal state, written to its row with the reason, the filled
and unfilled quantity and the day it was resolved (``resolved_as_of``):

- ``rejected``: refused when it was placed (resolved that day): by the risk engine, or
  because its weight buys less than one lot (a decision with a positive weight and a bar
  always leaves an order row saying why it did not trade), or the stock's board lot is
  not on record (Hong Kong: refused, never guessed: a buy or the sale of a part of a
  position; the sale of all of it needs no lot and goes ahead);
- ``filled``: filled in full at the next bar;
- ``partially_filled``: part filled, the remainder cancelled (volume cap, the cash at
  the fill price, a smaller position than ordered);
- ``expired``: nothing filled because the market offered no chance (no bar for the
  symbol that session, a volume cap that allows no share, no usable price);
- ``cancelled``: withdrawn before it could fill: by a pause or halt, or because the cash
  buys no share at the fill price, or the position to sell is gone, or (an order stored
  before board lots were required) its stock's board lot is not on record and it is a
  buy or the sale of a part of the position.

Until then an accepted order is ``pending``. The risk verdict at submission (``verdict``
and ``reason``) never changes, so a re-run rebuilds the pending orders exactly.

The market's rules (``agent/markets.py``; the US by default) apply at every step: entry
quantities in whole lots (A-shares 100, Hong Kong board lots, crypto fractions), also
when the volume cap or the cash cuts an order (a whole position may be sold as an odd
lot); no fill at a limit-locked open (``expired``, "limit-locked", against the symbol's
previous close, known before the open); T+1 (what was bought in a session cannot be
sold in it: it binds only where a purchase and a sale of one stock meet at an open,
which this daily cycle does not produce by itself, as an exit is decided at a close and
a halt first cancels pending purchases); the market's fees and dated stamp duty. A
sell these rules keep from filling (T+1, a lower-limit lock) is re-submitted at that
session's close for the next session, with the reason, unless an exit placed then sells
the position anyway.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import pandas as pd

from trade_pipelines.agent.evolution.genomes import StrategyGenome
from trade_pipelines.agent.execution.broker import (
    MAX_VOLUME_SHARE,
    Bar,
    Execution,
    execute,
    fill_fee,
    no_fill_reason,
    unknown_lot,
)
from trade_pipelines.agent.execution.controls import ACTIVE, TradingState
from trade_pipelines.agent.execution.risk import (
    AccountView,
    MarketView,
    OrderRequest,
    RiskLimits,
    RiskVerdict,
    check_order,
)
from trade_pipelines.agent.ids import stable_id
from trade_pipelines.agent.markets import US, MarketRules

ACCOUNTS = ("aggressive", "conservative", "combined")
STARTING_CAPITAL = 1_000_000.0
WEIGHT_COLUMN = {"aggressive": "weight_aggressive", "conservative": "weight_conservative",
                 "combined": "weight_combined"}

ORDER_COLUMNS = ["as_of", "order_id", "sequence", "account", "decision_id", "strategy_id", "symbol",
                 "side", "quantity", "order_type", "purpose", "verdict", "reason", "status",
                 "resolution", "filled_quantity", "unfilled_quantity", "resolved_as_of"]
PENDING = "pending"
TERMINAL_STATUSES = ("filled", "partially_filled", "expired", "cancelled", "rejected")
# The columns a resolution writes; everything else in an order's row is fixed when placed.
RESOLUTION_COLUMNS = ["status", "resolution", "filled_quantity", "unfilled_quantity",
                      "resolved_as_of"]
FILL_COLUMNS = ["as_of", "fill_id", "order_id", "account", "symbol", "side", "quantity",
                "price", "fee", "slippage_bps"]
POSITION_COLUMNS = ["as_of", "account", "symbol", "quantity", "avg_cost", "close",
                    "market_value", "unrealized_pnl", "weight", "opened_as_of", "days_held",
                    "entry_fees", "strategy_id", "decision_id", "peak_close"]
ACCOUNT_COLUMNS = ["as_of", "account", "cash", "equity", "gross_exposure", "daily_return",
                   "drawdown", "benchmark_close"]
TRADE_COLUMNS = ["as_of", "trade_id", "account", "symbol", "strategy_id", "opened_as_of",
                 "quantity", "entry_price", "exit_price", "pnl", "return_pct", "holding_days",
                 "exit_reason", "decision_id"]


@dataclass
class Position:
    quantity: float
    avg_cost: float
    opened_as_of: date
    strategy_id: str
    days_held: int = 0
    entry_fees: float = 0.0
    decision_id: str | None = None  # the debate that opened it
    # The highest close since entry (the fill price to start): a trailing stop's anchor.
    peak_close: float = 0.0
    # The last session with a buy fill and the quantity bought in it: under T+1 those
    # shares cannot be sold in that session (never stored: a session ends in one run).
    bought_as_of: date | None = None
    bought_quantity: float = 0.0


@dataclass
class AccountState:
    cash: float = STARTING_CAPITAL
    peak_equity: float = STARTING_CAPITAL
    last_equity: float = STARTING_CAPITAL
    positions: dict[str, Position] = field(default_factory=dict)


@dataclass
class PendingOrder:
    order_id: str
    account: str
    symbol: str
    side: str
    quantity: float
    strategy_id: str
    reason: str
    decision_id: str | None = None
    # The order's row (ORDER_COLUMNS); its resolution is written into it when known.
    row: dict[str, Any] | None = None


@dataclass
class LedgerState:
    accounts: dict[str, AccountState] = field(
        default_factory=lambda: {name: AccountState() for name in ACCOUNTS})
    pending: list[PendingOrder] = field(default_factory=list)
    last_close: dict[str, float] = field(default_factory=dict)


@dataclass
class DayMarket:
    """What the engine may know at one day's close."""

    as_of: date
    bars: dict[str, Bar]
    volatility: dict[str, float]
    benchmark_close: float
    benchmark_return: float
    defensive: bool
    event_blackout: frozenset[str] = frozenset()   # see risk.EventBlackout
    event_size_scale: float = 1.0


@dataclass
class LedgerResult:
    orders: list[dict] = field(default_factory=list)  # placed in this run
    # Orders placed before this run (pending in the starting state) and resolved in it:
    # their whole rows, to be written over the stored ones by ``order_id``.
    earlier_orders: list[dict] = field(default_factory=list)
    fills: list[dict] = field(default_factory=list)
    positions: list[dict] = field(default_factory=list)
    accounts: list[dict] = field(default_factory=list)
    trades: list[dict] = field(default_factory=list)

    def earlier_orders_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.earlier_orders, columns=ORDER_COLUMNS)

    def frames(self) -> dict[str, pd.DataFrame]:
        return {
            "orders": pd.DataFrame(self.orders, columns=ORDER_COLUMNS),
            "fills": pd.DataFrame(self.fills, columns=FILL_COLUMNS),
            "positions": pd.DataFrame(self.positions, columns=POSITION_COLUMNS),
            "accounts": pd.DataFrame(self.accounts, columns=ACCOUNT_COLUMNS),
            "trades": pd.DataFrame(self.trades, columns=TRADE_COLUMNS),
        }


def _view(account: AccountState, prices: dict[str, float]) -> AccountView:
    values = {s: p.quantity * prices[s] for s, p in account.positions.items()}
    gross = sum(values.values())
    return AccountView(cash=account.cash, equity=account.cash + gross, gross_exposure=gross,
                       position_value=values,
                       position_quantity={s: p.quantity for s, p in account.positions.items()})


class Ledger:
    """Runs trading days forward from a starting state."""

    def __init__(self, state: LedgerState, genomes: dict[str, StrategyGenome],
                 limits: RiskLimits | None = None, rules: MarketRules = US) -> None:
        if rules.sell_after_sessions > 1:
            raise ValueError(f"{rules.name}: a sale {rules.sell_after_sessions} sessions "
                             "after the purchase is not modelled (T+0 and T+1 are)")
        self.state = state
        self.genomes = genomes
        self.limits = limits or RiskLimits()
        self.rules = rules
        self.result = LedgerResult()
        self._sequence = 0
        self._placed: set[str] = set()  # ids of the orders placed in this run
        # (account, symbol) -> (purpose, why): sells the market's rules kept from filling
        # in this session, re-submitted at its close.
        self._blocked_sells: dict[tuple[str, str], tuple[str, str]] = {}

    def start_new_batch(self) -> None:
        """Forget the rows produced so far (the caller stored them): orders placed before
        now count as earlier ones, whose resolution is reported in ``earlier_orders``."""
        self.result = LedgerResult()
        self._placed.clear()

    # -- one day ------------------------------------------------------------------------
    def run_day(self, market: DayMarket,
                decisions: pd.DataFrame | Sequence[Mapping[str, Any]],
                trading: TradingState = ACTIVE, research_cost: float = 0.0) -> None:
        """One session. ``trading`` is the supervisor's state for this session (see
        ``agent/execution/controls.py``): it applies from the open, before any fill.
        ``research_cost``: what the evening's debate paid its LLM (in the market's
        currency), a trading cost
        each account pays in full (each would have paid it trading alone), from its cash
        before the day is marked."""
        self._sequence = 0
        self._blocked_sells = {}
        market = self._with_previous_closes(market)
        for symbol, bar in market.bars.items():
            self.state.last_close[symbol] = bar.close
        view_market = MarketView(trading=trading, benchmark_return=market.benchmark_return,
                                 defensive=market.defensive, rules=self.rules,
                                 event_blackout=market.event_blackout,
                                 event_size_scale=market.event_size_scale)
        if not trading.allows_entries:
            self._cancel_pending_entries(market, trading)
        if trading.halted:
            self._halt_orders(market, view_market)
        self._fill_pending(market)
        if research_cost > 0:
            for account in self.state.accounts.values():
                account.cash -= research_cost
        self._mark_and_record(market)
        self._exit_orders(market, view_market)
        self._entry_orders(market, view_market, decisions)

    def _with_previous_closes(self, market: DayMarket) -> DayMarket:
        """Bars that do not bring their previous close (a price limit's base) take the
        last close this ledger saw, which is known before the open."""
        if not (self.rules.price_limits or self.rules.default_price_limit):
            return market
        last = self.state.last_close
        missing = [s for s, b in market.bars.items()
                   if not math.isfinite(b.previous_close) and s in last]
        if not missing:
            return market
        bars = dict(market.bars)
        for symbol in missing:
            bars[symbol] = replace(bars[symbol], previous_close=last[symbol])
        return replace(market, bars=bars)

    def _cancel_pending_entries(self, market: DayMarket, trading: TradingState) -> None:
        """Entries decided before a pause or halt do not fill in it; exits still do."""
        keep: list[PendingOrder] = []
        for order in self.state.pending:
            if order.side == "buy":
                self._resolve(order, market.as_of, "cancelled", 0.0,
                              f"cancelled before filling: {trading.describe()}")
            else:
                keep.append(order)
        self.state.pending = keep

    def _halt_orders(self, market: DayMarket, view_market: MarketView) -> None:
        """At a halted session's open, sell what is held and not already being sold."""
        selling: dict[tuple[str, str], float] = {}
        for order in self.state.pending:
            if order.side == "sell":
                key = (order.account, order.symbol)
                selling[key] = selling.get(key, 0.0) + order.quantity
        for name in ACCOUNTS:
            account = self.state.accounts[name]
            for symbol in sorted(account.positions):
                position = account.positions[symbol]
                quantity = position.quantity - selling.get((name, symbol), 0.0)
                if quantity <= 0:
                    continue
                request = OrderRequest(name, symbol, "sell", quantity,
                                       self.state.last_close.get(symbol, position.avg_cost),
                                       0.0, "halt")
                self._submit(market, view_market, name, request, position.strategy_id)

    def _resolve(self, order: PendingOrder, day: date, status: str, filled: float,
                 why: str) -> None:
        """Write an order's terminal state into its row."""
        row = order.row
        if row is None:  # a pending order given without its row: keep what is known
            row = order.row = {"order_id": order.order_id, "account": order.account,
                               "symbol": order.symbol, "side": order.side,
                               "quantity": order.quantity, "purpose": order.reason,
                               "strategy_id": order.strategy_id,
                               "decision_id": order.decision_id, "verdict": "accepted"}
        row.update({"status": status, "resolution": why, "filled_quantity": filled,
                    "unfilled_quantity": round(order.quantity - filled, 6),
                    "resolved_as_of": day})
        if order.order_id not in self._placed:
            self.result.earlier_orders.append(row)

    def _fill_pending(self, market: DayMarket) -> None:
        pending, self.state.pending = self.state.pending, []
        day = market.as_of
        for order in pending:
            bar = market.bars.get(order.symbol)
            account = self.state.accounts[order.account]
            if bar is None:
                self._resolve(order, day, "expired", 0.0, f"no {order.symbol} bar on {day}")
                continue
            wanted = order.quantity
            shortfalls = []
            held = account.positions.get(order.symbol)
            if order.side == "sell" and held is not None:
                locked = self._bought_this_session(held, day)
                if locked > 0 and wanted > held.quantity - locked:
                    why = (f"T+1: {locked:g} {order.symbol} bought on {day} can be sold "
                           "from the next session (re-submitted at the close)")
                    self._blocked_sells[(order.account, order.symbol)] = (order.reason, why)
                    wanted = held.quantity - locked
                    if wanted <= 0:
                        self._resolve(order, day, "expired", 0.0, why)
                        continue
                    shortfalls.append(why)
            no_lot = self._unknown_lot(order.symbol, order.side, wanted, held)
            if no_lot:  # placed before its lot was required (stored by an older run)
                self._resolve(order, day, "cancelled", 0.0, no_lot)
                continue
            fill = execute(order.side, wanted, bar,
                           market.volatility.get(order.symbol, math.nan), self.rules,
                           order.symbol, day)
            if fill is None:
                why = no_fill_reason(order.side, wanted, bar, self.rules, order.symbol, day) \
                    or f"no usable {order.symbol} price in the bar"
                if order.side == "sell" and why.startswith("limit-locked"):
                    self._blocked_sells[(order.account, order.symbol)] = (
                        order.reason, f"{why} (re-submitted at the close)")
                self._resolve(order, day, "expired", 0.0, why)
                continue
            if fill.quantity < wanted:
                shortfalls.append(f"volume cap: at most {MAX_VOLUME_SHARE:.0%} of the "
                                  f"average daily volume of {bar.adv:,.0f}")
            if order.side == "buy":
                cost = fill.quantity * fill.price + fill.fee
                if cost > account.cash:  # the open gapped up past the cash we had
                    quantity = self.rules.round_quantity(
                        order.symbol, (account.cash - fill.fee) / fill.price)
                    if quantity <= 0:
                        self._resolve(order, day, "cancelled", 0.0,
                                      f"cash {account.cash:,.2f} buys no "
                                      f"{self._unit(order.symbol)} at the fill price "
                                      f"{fill.price:,.4f}")
                        continue
                    shortfalls.append(f"cash {account.cash:,.2f} paid for {quantity:g} of "
                                      f"{fill.quantity:g} shares at {fill.price:,.4f}")
                    fill = Execution(quantity, fill.price,
                                     fill_fee(self.rules, "buy", quantity, fill.price, day),
                                     fill.slippage_bps)
                    cost = fill.quantity * fill.price + fill.fee
                account.cash -= cost
                if held is None:
                    held = account.positions[order.symbol] = Position(
                        fill.quantity, fill.price, market.as_of, order.strategy_id,
                        entry_fees=fill.fee, decision_id=order.decision_id,
                        peak_close=fill.price)
                else:
                    total = held.quantity + fill.quantity
                    held.avg_cost = (held.avg_cost * held.quantity
                                     + fill.price * fill.quantity) / total
                    held.quantity = total
                    held.entry_fees += fill.fee
                held.bought_quantity = fill.quantity + (
                    held.bought_quantity if held.bought_as_of == day else 0.0)
                held.bought_as_of = day
            else:
                if held is None:
                    self._resolve(order, day, "cancelled", 0.0,
                                  f"no {order.symbol} position left to sell")
                    continue
                quantity = min(fill.quantity, held.quantity)
                if quantity < fill.quantity:
                    shortfalls.append(f"only {held.quantity:g} shares held")
                account.cash += quantity * fill.price - fill.fee
                share = quantity / held.quantity
                entry_fee = held.entry_fees * share
                pnl = (fill.price - held.avg_cost) * quantity - fill.fee - entry_fee
                self.result.trades.append({
                    "as_of": market.as_of,
                    "trade_id": stable_id("T", order.order_id),
                    "account": order.account, "symbol": order.symbol,
                    "strategy_id": held.strategy_id, "opened_as_of": held.opened_as_of,
                    "quantity": quantity, "entry_price": round(held.avg_cost, 6),
                    "exit_price": fill.price, "pnl": round(pnl, 4),
                    "return_pct": round(pnl / (held.avg_cost * quantity), 6),
                    "holding_days": held.days_held, "exit_reason": order.reason,
                    "decision_id": held.decision_id,
                })
                held.quantity -= quantity
                held.entry_fees -= entry_fee
                if held.quantity <= 1e-9:
                    del account.positions[order.symbol]
                fill = Execution(quantity, fill.price, fill.fee, fill.slippage_bps)
            self.result.fills.append({
                "as_of": market.as_of, "fill_id": stable_id("F", order.order_id),
                "order_id": order.order_id, "account": order.account, "symbol": order.symbol,
                "side": order.side, "quantity": fill.quantity, "price": fill.price,
                "fee": fill.fee, "slippage_bps": fill.slippage_bps,
            })
            if shortfalls:
                self._resolve(order, day, "partially_filled", fill.quantity,
                              f"filled {fill.quantity:g} of {order.quantity:g} at "
                              f"{fill.price:,.4f}; remainder cancelled: "
                              + "; ".join(shortfalls))
            else:
                self._resolve(order, day, "filled", fill.quantity,
                              f"filled {fill.quantity:g} at {fill.price:,.4f}")

    def _bought_this_session(self, position: Position, day: date) -> float:
        """The quantity of ``position`` the market's settlement keeps from a sale today."""
        if self.rules.sell_after_sessions and position.bought_as_of == day:
            return position.bought_quantity
        return 0.0

    def _unit(self, symbol: str) -> str:
        lot = self.rules.lot(symbol)
        return f"lot of {lot:g}" if lot > 1 else "share"

    def _mark_and_record(self, market: DayMarket) -> None:
        prices = self.state.last_close
        for name in ACCOUNTS:
            account = self.state.accounts[name]
            view = _view(account, prices)
            equity = view.equity
            for symbol in sorted(account.positions):
                position = account.positions[symbol]
                if symbol in market.bars:
                    position.days_held += 1 if position.opened_as_of < market.as_of else 0
                    position.peak_close = max(position.peak_close, market.bars[symbol].close)
                close = prices[symbol]
                value = position.quantity * close
                self.result.positions.append({
                    "as_of": market.as_of, "account": name, "symbol": symbol,
                    "quantity": position.quantity, "avg_cost": position.avg_cost,
                    "close": close, "market_value": round(value, 4),
                    "unrealized_pnl": round((close - position.avg_cost) * position.quantity, 4),
                    "weight": round(value / equity, 6) if equity else 0.0,
                    "opened_as_of": position.opened_as_of, "days_held": position.days_held,
                    "entry_fees": position.entry_fees, "strategy_id": position.strategy_id,
                    "decision_id": position.decision_id, "peak_close": position.peak_close,
                })
            account.peak_equity = max(account.peak_equity, equity)
            self.result.accounts.append({
                "as_of": market.as_of, "account": name, "cash": account.cash,
                "equity": equity, "gross_exposure": view.gross_exposure,
                "daily_return": equity / account.last_equity - 1 if account.last_equity else 0.0,
                "drawdown": equity / account.peak_equity - 1,
                "benchmark_close": market.benchmark_close,
            })
            account.last_equity = equity

    def _submit(self, market: DayMarket, view_market: MarketView, account_name: str,
                request: OrderRequest, strategy_id: str, note: str | None = None,
                refusal: str | None = None) -> None:
        """Risk-check ``request`` and record it; ``note`` (a re-submission's cause) joins
        its reason and its id; ``refusal``: why it cannot be placed at all (recorded as
        rejected, so a decision that did not trade still says why)."""
        account = self.state.accounts[account_name]
        refusal = refusal or self._unknown_lot(request.symbol, request.side, request.quantity,
                                               account.positions.get(request.symbol))
        verdict = RiskVerdict(0.0, "rejected", refusal) if refusal else check_order(
            request, _view(account, self.state.last_close), view_market, self.limits)
        order_id = stable_id("O", market.as_of, account_name, request.symbol, request.side,
                             request.decision_id or request.reason,
                             *([note] if note else []))
        self._sequence += 1
        accepted = verdict.status == "accepted"
        quantity = verdict.quantity if accepted else request.quantity
        row = {
            "as_of": market.as_of, "order_id": order_id, "sequence": self._sequence,
            "account": account_name,
            "decision_id": request.decision_id, "strategy_id": strategy_id,
            "symbol": request.symbol, "side": request.side, "quantity": quantity,
            "order_type": "market", "purpose": request.reason, "verdict": verdict.status,
            "reason": "; ".join([request.reason, *([note] if note else []), verdict.reason,
                                 *verdict.warnings]),
            **_unresolved(quantity),
        }
        self.result.orders.append(row)
        self._placed.add(order_id)
        if accepted:
            self.state.pending.append(PendingOrder(
                order_id, account_name, request.symbol, request.side, verdict.quantity,
                strategy_id, request.reason, request.decision_id, row))
        else:
            row.update({"status": "rejected", "resolution": verdict.reason,
                        "resolved_as_of": market.as_of})

    def _exit_orders(self, market: DayMarket, view_market: MarketView) -> None:
        for name in ACCOUNTS:
            account = self.state.accounts[name]
            for symbol in sorted(account.positions):
                position = account.positions[symbol]
                if symbol not in market.bars:
                    continue
                genome = self.genomes.get(position.strategy_id)
                change = market.bars[symbol].close / position.avg_cost - 1
                reason = None
                if genome is not None and change <= -genome.stop_loss:
                    reason = "stop_loss"
                elif genome is not None and change >= genome.take_profit:
                    reason = "take_profit"
                elif (genome is not None and genome.trailing_stop
                      and market.bars[symbol].close / position.peak_close - 1
                      <= -genome.trailing_stop):
                    reason = "trailing_stop"
                elif genome is not None and position.days_held >= genome.max_holding_days:
                    reason = "time_exit"
                note = None
                if reason is None and (name, symbol) in self._blocked_sells:
                    reason, why = self._blocked_sells[(name, symbol)]
                    note = f"re-submitted: {why}"
                if reason is None:
                    continue
                request = OrderRequest(name, symbol, "sell", position.quantity,
                                       market.bars[symbol].close, 0.0, reason)
                self._submit(market, view_market, name, request, position.strategy_id, note)

    def _entry_orders(self, market: DayMarket, view_market: MarketView,
                      decisions: pd.DataFrame | Sequence[Mapping[str, Any]]) -> None:
        records = decision_records(decisions)
        if not records:
            return
        for name in ACCOUNTS:
            account = self.state.accounts[name]
            pending = {(o.account, o.symbol) for o in self.state.pending}
            equity = _view(account, self.state.last_close).equity
            for d in records:
                symbol = d["symbol"]
                weight = float(d[WEIGHT_COLUMN[name]])
                if weight <= 0 or symbol in account.positions or (name, symbol) in pending:
                    continue
                bar = market.bars.get(symbol)
                if bar is None:
                    continue
                genome = self.genomes.get(d["strategy_id"])
                wanted = weight * equity / bar.close
                refusal = self._unknown_lot(symbol)
                quantity = 0.0 if refusal else self.rules.round_quantity(symbol, wanted)
                if quantity <= 0 and not refusal:
                    refusal = self._below_one_lot(symbol, weight, wanted, bar.close)
                request = OrderRequest(name, symbol, "buy", quantity, bar.close,
                                       genome.stop_loss if genome else 0.08, "entry",
                                       d["decision_id"])
                self._submit(market, view_market, name, request, d["strategy_id"],
                             refusal=refusal)
                if not refusal:  # a refused one leaves room for another decision
                    pending.add((name, symbol))

    def _below_one_lot(self, symbol: str, weight: float, wanted: float,
                       price: float) -> str:
        lot = self.rules.lot(symbol)
        if lot > 1:
            smallest = f"one lot of {lot:g} ({lot * price:,.2f} a lot)"
        elif lot == 1:
            smallest = "one share"
        else:
            smallest = f"the smallest quantity, {self.rules.quantity_step:g}"
        return (f"sizing: a weight of {weight:.2%} buys {wanted:,.4g} at {price:,.4g}, less "
                f"than {smallest}")

    def _unknown_lot(self, symbol: str, side: str = "buy", quantity: float = 0.0,
                     held: Position | None = None) -> str | None:
        """Why this order of ``symbol`` cannot be placed: its board lot is not on record
        and it is a buy or the sale of a part of the position ``held`` (a sale of all of
        it needs no lot: a whole holding can always be sold, odd lot or not); or None."""
        if side == "sell" and held is not None and quantity >= held.quantity - 1e-9:
            return None
        return unknown_lot(self.rules, symbol)


def decision_records(
    decisions: pd.DataFrame | Sequence[Mapping[str, Any]],
) -> list[Mapping[str, Any]]:
    """A day's decisions in the order the engine acts on them: most confident first."""
    if isinstance(decisions, pd.DataFrame):
        decisions = decisions.to_dict("records") if not decisions.empty else []
    return sorted(decisions, key=lambda d: (-float(d["confidence"]), d["symbol"]))


def state_from_rows(accounts: pd.DataFrame, peaks: dict[str, float], positions: pd.DataFrame,
                    pending_orders: pd.DataFrame) -> LedgerState:
    """Rebuild the engine's state from the warehouse rows of the last recorded day, so a
    run that starts there continues exactly as an uninterrupted one would."""
    state = LedgerState()
    for row in accounts.itertuples():
        state.accounts[row.account] = AccountState(
            cash=float(row.cash), peak_equity=float(peaks.get(row.account, row.equity)),
            last_equity=float(row.equity))
    for row in positions.itertuples():
        state.accounts[row.account].positions[row.symbol] = Position(
            float(row.quantity), float(row.avg_cost), row.opened_as_of, row.strategy_id,
            int(row.days_held), float(row.entry_fees), _optional(row, "decision_id"),
            _peak_close(row))
        state.last_close[row.symbol] = float(row.close)
    for record in pending_orders.to_dict("records"):
        row = {c: record.get(c) for c in ORDER_COLUMNS}
        row["as_of"] = pd.Timestamp(row["as_of"]).date()
        row["decision_id"] = _optional_value(row["decision_id"])
        row.update(_unresolved(float(row["quantity"])))  # resolved again by this run
        state.pending.append(PendingOrder(row["order_id"], row["account"], row["symbol"],
                                          row["side"], float(row["quantity"]),
                                          row["strategy_id"], row["purpose"],
                                          row["decision_id"], row))
    return state


def _peak_close(row: Any) -> float:
    """A stored position's highest close since entry; rows written before the column
    existed have none, and their entry and last close are the best bound known."""
    peak = getattr(row, "peak_close", None)
    if peak is None or not math.isfinite(float(peak)):
        return max(float(row.avg_cost), float(row.close))
    return float(peak)


def _unresolved(quantity: float) -> dict[str, Any]:
    return {"status": PENDING, "resolution": None, "filled_quantity": 0.0,
            "unfilled_quantity": quantity, "resolved_as_of": None}


def _optional(row: Any, name: str) -> str | None:
    return _optional_value(getattr(row, name, None))


def _optional_value(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) \
        else str(value)


def bars_by_day(bars: pd.DataFrame) -> dict[date, tuple[dict[str, Bar], dict[str, float]]]:
    """Each day's bars and volatilities, built in one pass (per-day frames are slow).
    Optional columns: ``adv`` (the volume cap's) and ``previous_close`` (a price limit's
    base), both known before the open."""
    out: dict[date, tuple[dict[str, Bar], dict[str, float]]] = {}
    missing = pd.Series(math.nan, index=bars.index)
    adv = bars.get("adv", missing)
    previous = bars.get("previous_close", missing)
    columns = [bars[c].tolist() for c in ("as_of", "symbol", "open", "close", "volume", "vol_20")]
    for day, symbol, open_, close, volume, vol, average, before in zip(
            *columns, adv.tolist(), previous.tolist(), strict=True):
        day_bars, volatility = out.setdefault(day, ({}, {}))
        day_bars[symbol] = Bar(float(open_) if pd.notna(open_) else math.nan, float(close),
                               float(volume) if pd.notna(volume) else math.nan,
                               float(average) if pd.notna(average) else math.nan,
                               float(before) if pd.notna(before) else math.nan)
        volatility[symbol] = float(vol) if pd.notna(vol) else math.nan
    return out


def with_later_resolutions(orders: pd.DataFrame, resolved_later: pd.DataFrame) -> pd.DataFrame:
    """A re-run of a window leaves its last orders pending; where a later window already
    resolved the same order (``resolved_later``: order_id and RESOLUTION_COLUMNS, as
    stored), keep that outcome, so re-running an earlier window rewrites no order row.
    A later window that no longer follows from this one must be re-run anyway."""
    if orders.empty or resolved_later.empty:
        return orders
    later = resolved_later.set_index("order_id")
    orders = orders.copy()
    mask = (orders["status"] == PENDING) & orders["order_id"].isin(later.index)
    for row in orders.index[mask]:
        stored = later.loc[orders.at[row, "order_id"]]
        if "quantity" in stored.index and not math.isclose(
                float(stored["quantity"]), float(orders.at[row, "quantity"])):
            continue  # placed differently now: its old outcome no longer applies
        for column in RESOLUTION_COLUMNS:
            value = stored[column]
            if column == "resolved_as_of":
                value = pd.Timestamp(value).date()
            orders.at[row, column] = value
    return orders
