"""The deterministic risk engine: small rules, each one object with one job.

An order passes through every rule in order; a rule may shrink the quantity or refuse
it, and says why. Nothing an agent says can skip a rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from trade_pipelines.agent.execution.controls import ACTIVE, TradingState
from trade_pipelines.agent.markets import US, MarketRules


@dataclass(frozen=True)
class RiskLimits:
    max_risk_per_trade: float = 0.05   # of equity, at the stop
    max_symbol_weight: float = 0.30    # of equity
    max_leverage: float = 1.5          # gross exposure / equity
    min_cash_warning: float = 0.10     # of equity
    crash_freeze: float = -0.10        # benchmark one-day return that freezes new orders


@dataclass
class OrderRequest:
    account: str
    symbol: str
    side: str            # "buy" or "sell"
    quantity: float
    price: float         # the latest close, for sizing
    stop_loss: float     # fraction below entry
    reason: str
    decision_id: str | None = None


@dataclass(frozen=True)
class AccountView:
    cash: float
    equity: float
    gross_exposure: float
    position_value: dict[str, float] = field(default_factory=dict)
    position_quantity: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class MarketView:
    trading: TradingState = ACTIVE     # the supervisor's state for the order's session
    benchmark_return: float = 0.0
    defensive: bool = False
    rules: MarketRules = US            # the market's rules: a buy is sized in whole lots
    # Response plans of high-impact events (agent/perception/events.py): names with no
    # new entries this session, and the scale of new sizes (1.0: unchanged).
    event_blackout: frozenset[str] = frozenset()
    event_size_scale: float = 1.0


@dataclass(frozen=True)
class RiskVerdict:
    quantity: float
    status: str          # accepted / rejected
    reason: str
    warnings: tuple[str, ...] = ()


class Rule(Protocol):
    """One risk rule: given the quantity so far, the quantity it allows and why."""

    name: str

    def apply(self, order: OrderRequest, quantity: float, account: AccountView,
              market: MarketView, limits: RiskLimits) -> tuple[float, str]: ...


def _cap(quantity: float, shares_allowed: float, why: str, order: OrderRequest,
         market: MarketView) -> tuple[float, str]:
    """A buy trimmed to the whole lots (shares in the US) a limit leaves room for."""
    return max(0.0, min(quantity, market.rules.round_quantity(order.symbol,
                                                              shares_allowed))), why


class TradingStateGate:
    """Paused or halted: no new entries. Sells (stops, targets, time exits, risk cuts,
    a halt's liquidation) always pass: a pause must never trap a losing position."""

    name = "trading_state"

    def apply(self, order, quantity, account, market, limits):
        if order.side == "buy" and not market.trading.allows_entries:
            return 0.0, f"entry refused: {market.trading.describe()}"
        return quantity, ""


class CircuitBreaker:
    name = "circuit_breaker"

    def apply(self, order, quantity, account, market, limits):
        if order.side == "buy" and market.benchmark_return <= limits.crash_freeze:
            return 0.0, (f"circuit breaker: benchmark moved {market.benchmark_return:+.1%} "
                         "today; new buys frozen")
        return quantity, ""


class DefensiveMode:
    name = "defensive_mode"

    def apply(self, order, quantity, account, market, limits):
        if order.side == "buy" and market.defensive:
            return 0.0, "defensive mode: no new long entries"
        return quantity, ""


class EventBlackout:
    """An event's response plan: no new entry into a name around its earnings, smaller
    new sizes on a market-wide event. Sells always pass."""

    name = "event_blackout"

    def apply(self, order, quantity, account, market, limits):
        if order.side != "buy":
            return quantity, ""
        if order.symbol in market.event_blackout:
            return 0.0, f"event blackout: no new entries into {order.symbol} around its event"
        if market.event_size_scale < 1.0:
            return _cap(quantity, quantity * market.event_size_scale,
                        f"event response: new sizes scaled to {market.event_size_scale:.0%}",
                        order, market)
        return quantity, ""


class SellOnlyWhatIsHeld:
    name = "no_short"

    def apply(self, order, quantity, account, market, limits):
        if order.side == "sell":
            held = account.position_quantity.get(order.symbol, 0.0)
            if held <= 0:
                return 0.0, f"no {order.symbol} position to sell"
            return min(quantity, held), ""
        return quantity, ""


class RiskPerTrade:
    name = "risk_per_trade"

    def apply(self, order, quantity, account, market, limits):
        if order.side != "buy":
            return quantity, ""
        budget = limits.max_risk_per_trade * account.equity
        loss_per_share = order.price * max(order.stop_loss, 1e-6)
        return _cap(quantity, budget / loss_per_share,
                    f"risk per trade capped at {limits.max_risk_per_trade:.0%} of equity",
                    order, market)


class SymbolConcentration:
    name = "symbol_weight"

    def apply(self, order, quantity, account, market, limits):
        if order.side != "buy":
            return quantity, ""
        room = limits.max_symbol_weight * account.equity - account.position_value.get(
            order.symbol, 0.0)
        return _cap(quantity, room / order.price,
                    f"{order.symbol} capped at {limits.max_symbol_weight:.0%} of equity",
                    order, market)


class LeverageAndCash:
    name = "leverage"

    def apply(self, order, quantity, account, market, limits):
        if order.side != "buy":
            return quantity, ""
        room = limits.max_leverage * account.equity - account.gross_exposure
        # Paper accounts are cash accounts: never spend more cash than there is.
        room = min(room, account.cash)
        return _cap(quantity, room / order.price,
                    "gross exposure capped by leverage and available cash", order, market)


DEFAULT_RULES: tuple[Rule, ...] = (
    TradingStateGate(), CircuitBreaker(), DefensiveMode(), EventBlackout(), SellOnlyWhatIsHeld(),
    RiskPerTrade(), SymbolConcentration(), LeverageAndCash(),
)


def check_order(
    order: OrderRequest, account: AccountView, market: MarketView,
    limits: RiskLimits = RiskLimits(), rules: tuple[Rule, ...] = DEFAULT_RULES,
) -> RiskVerdict:
    quantity = float(order.quantity)
    trims: list[str] = []
    for rule in rules:
        new_quantity, why = rule.apply(order, quantity, account, market, limits)
        if new_quantity <= 0:
            return RiskVerdict(0.0, "rejected", why or f"rejected by {rule.name}")
        if new_quantity < quantity:
            trims.append(why)
        quantity = new_quantity
    warnings = []
    if order.side == "buy" and account.cash - quantity * order.price < \
            limits.min_cash_warning * account.equity:
        warnings.append(f"cash below {limits.min_cash_warning:.0%} of equity after this order")
    reason = "; ".join(trims) if trims else "within all limits"
    return RiskVerdict(quantity, "accepted", reason, tuple(warnings))
