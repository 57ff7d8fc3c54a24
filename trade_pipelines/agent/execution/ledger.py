"""The trading engine for the three paper accounts, one trading day at a time.

Each day, in this order: fill yesterday's accepted orders at today's bar; mark every
position to today's close; record positions and accounts; then, after the close, turn
exits and today's debate decisions into risk-checked orders that fill tomorrow. The
engine is the same for a replay and for the live daily cycle; its state between days is
exactly what the warehouse stores (positions, cash, peak equity, accepted orders).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from trade_pipelines.agent.evolution.genomes import StrategyGenome
from trade_pipelines.agent.execution.broker import Bar, Execution, commission, execute
from trade_pipelines.agent.execution.risk import (
    AccountView,
    MarketView,
    OrderRequest,
    RiskLimits,
    check_order,
)
from trade_pipelines.agent.ids import stable_id

ACCOUNTS = ("aggressive", "conservative", "combined")
STARTING_CAPITAL = 1_000_000.0
WEIGHT_COLUMN = {"aggressive": "weight_aggressive", "conservative": "weight_conservative",
                 "combined": "weight_combined"}

ORDER_COLUMNS = ["as_of", "order_id", "sequence", "account", "decision_id", "strategy_id", "symbol",
                 "side", "quantity", "order_type", "purpose", "status", "reason"]
FILL_COLUMNS = ["as_of", "fill_id", "order_id", "account", "symbol", "side", "quantity",
                "price", "fee", "slippage_bps"]
POSITION_COLUMNS = ["as_of", "account", "symbol", "quantity", "avg_cost", "close",
                    "market_value", "unrealized_pnl", "weight", "opened_as_of", "days_held",
                    "entry_fees", "strategy_id", "decision_id"]
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


@dataclass
class LedgerResult:
    orders: list[dict] = field(default_factory=list)
    fills: list[dict] = field(default_factory=list)
    positions: list[dict] = field(default_factory=list)
    accounts: list[dict] = field(default_factory=list)
    trades: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

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
                 limits: RiskLimits | None = None) -> None:
        self.state = state
        self.genomes = genomes
        self.limits = limits or RiskLimits()
        self.result = LedgerResult()
        self._sequence = 0

    # -- one day ------------------------------------------------------------------------
    def run_day(self, market: DayMarket,
                decisions: pd.DataFrame | Sequence[Mapping[str, Any]],
                pause: Callable[[date], tuple[bool, str]]) -> None:
        day = market.as_of
        self._sequence = 0
        for symbol, bar in market.bars.items():
            self.state.last_close[symbol] = bar.close
        paused, pause_reason = pause(day)
        if paused:
            self._cancel_pending(market, pause_reason)
        self._fill_pending(market)
        self._mark_and_record(market)
        view_market = MarketView(paused=paused, pause_reason=pause_reason,
                                 benchmark_return=market.benchmark_return,
                                 defensive=market.defensive)
        self._exit_orders(market, view_market)
        self._entry_orders(market, view_market, decisions)

    def _cancel_pending(self, market: DayMarket, pause_reason: str) -> None:
        """A pause stops trading at once: orders accepted before it do not fill."""
        pending, self.state.pending = self.state.pending, []
        for order in pending:
            self._sequence += 1
            self.result.orders.append({
                "as_of": market.as_of, "order_id": stable_id("C", order.order_id),
                "sequence": self._sequence, "account": order.account, "decision_id": None,
                "strategy_id": order.strategy_id, "symbol": order.symbol, "side": order.side,
                "quantity": order.quantity, "order_type": "cancel", "purpose": order.reason,
                "status": "cancelled",
                "reason": f"order {order.order_id} cancelled before filling: trading paused "
                          f"by supervisor: {pause_reason or 'no reason given'}",
            })

    def _fill_pending(self, market: DayMarket) -> None:
        pending, self.state.pending = self.state.pending, []
        for order in pending:
            bar = market.bars.get(order.symbol)
            account = self.state.accounts[order.account]
            if bar is None:
                self.result.warnings.append(
                    f"{market.as_of}: no {order.symbol} bar; order {order.order_id} expired")
                continue
            fill = execute(order.side, order.quantity, bar,
                           market.volatility.get(order.symbol, math.nan))
            if fill is None:
                continue
            if order.side == "buy":
                cost = fill.quantity * fill.price + fill.fee
                if cost > account.cash:  # the open gapped up past the cash we had
                    quantity = math.floor((account.cash - fill.fee) / fill.price)
                    if quantity <= 0:
                        continue
                    fill = Execution(float(quantity), fill.price,
                                     commission(quantity, fill.price), fill.slippage_bps)
                    cost = fill.quantity * fill.price + fill.fee
                account.cash -= cost
                held = account.positions.get(order.symbol)
                if held is None:
                    account.positions[order.symbol] = Position(
                        fill.quantity, fill.price, market.as_of, order.strategy_id,
                        entry_fees=fill.fee, decision_id=order.decision_id)
                else:
                    total = held.quantity + fill.quantity
                    held.avg_cost = (held.avg_cost * held.quantity
                                     + fill.price * fill.quantity) / total
                    held.quantity = total
                    held.entry_fees += fill.fee
            else:
                held = account.positions.get(order.symbol)
                if held is None:
                    continue
                quantity = min(fill.quantity, held.quantity)
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
                    "decision_id": position.decision_id,
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
                request: OrderRequest, strategy_id: str) -> None:
        account = self.state.accounts[account_name]
        verdict = check_order(request, _view(account, self.state.last_close), view_market,
                              self.limits)
        order_id = stable_id("O", market.as_of, account_name, request.symbol, request.side,
                             request.decision_id or request.reason)
        self._sequence += 1
        self.result.orders.append({
            "as_of": market.as_of, "order_id": order_id, "sequence": self._sequence,
            "account": account_name,
            "decision_id": request.decision_id, "strategy_id": strategy_id,
            "symbol": request.symbol, "side": request.side,
            "quantity": verdict.quantity if verdict.status == "accepted" else request.quantity,
            "order_type": "market", "purpose": request.reason, "status": verdict.status,
            "reason": "; ".join([request.reason, verdict.reason, *verdict.warnings]),
        })
        if verdict.status == "accepted":
            self.state.pending.append(PendingOrder(
                order_id, account_name, request.symbol, request.side, verdict.quantity,
                strategy_id, request.reason, request.decision_id))

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
                elif genome is not None and position.days_held >= genome.max_holding_days:
                    reason = "time_exit"
                if reason is None:
                    continue
                request = OrderRequest(name, symbol, "sell", position.quantity,
                                       market.bars[symbol].close, 0.0, reason)
                self._submit(market, view_market, name, request, position.strategy_id)

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
                quantity = math.floor(weight * equity / bar.close)
                if quantity <= 0:
                    continue
                request = OrderRequest(name, symbol, "buy", quantity, bar.close,
                                       genome.stop_loss if genome else 0.08, "entry",
                                       d["decision_id"])
                self._submit(market, view_market, name, request, d["strategy_id"])
                pending.add((name, symbol))


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
            int(row.days_held), float(row.entry_fees), _optional(row, "decision_id"))
        state.last_close[row.symbol] = float(row.close)
    for row in pending_orders.itertuples():
        state.pending.append(PendingOrder(row.order_id, row.account, row.symbol, row.side,
                                          float(row.quantity), row.strategy_id, row.purpose,
                                          _optional(row, "decision_id")))
    return state


def _optional(row: Any, name: str) -> str | None:
    value = getattr(row, name, None)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) \
        else str(value)


def bars_by_day(bars: pd.DataFrame) -> dict[date, tuple[dict[str, Bar], dict[str, float]]]:
    """Each day's bars and volatilities, built in one pass (per-day frames are slow)."""
    out: dict[date, tuple[dict[str, Bar], dict[str, float]]] = {}
    columns = [bars[c].tolist() for c in ("as_of", "symbol", "open", "close", "volume", "vol_20")]
    for day, symbol, open_, close, volume, vol in zip(*columns, strict=True):
        day_bars, volatility = out.setdefault(day, ({}, {}))
        day_bars[symbol] = Bar(float(open_) if pd.notna(open_) else math.nan, float(close),
                               float(volume) if pd.notna(volume) else math.nan)
        volatility[symbol] = float(vol) if pd.notna(vol) else math.nan
    return out
