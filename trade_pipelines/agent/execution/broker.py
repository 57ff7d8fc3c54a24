"""The paper broker: fills an order at the bar after the one that produced it.

Costs are modelled, not assumed away: slippage grows with the symbol's volatility (a
close-only series has no spread to read, so volatility stands in for it), a commission
is charged on every fill, and where volume is known a fill takes at most 10% of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BASE_SLIPPAGE_BPS = 2.0
VOLATILITY_SLIPPAGE = 0.05     # share of one day's typical move paid as slippage
COMMISSION_RATE = 0.0005
MIN_COMMISSION = 1.0
MAX_VOLUME_SHARE = 0.10


@dataclass(frozen=True)
class Bar:
    open: float
    close: float
    volume: float


@dataclass(frozen=True)
class Execution:
    quantity: float
    price: float
    fee: float
    slippage_bps: float


def slippage_bps(annual_volatility: float) -> float:
    daily_bps = (annual_volatility if math.isfinite(annual_volatility) else 0.25) \
        / math.sqrt(252) * 10_000
    return BASE_SLIPPAGE_BPS + VOLATILITY_SLIPPAGE * daily_bps


def commission(quantity: float, price: float) -> float:
    return round(max(MIN_COMMISSION, COMMISSION_RATE * quantity * price), 6)


def execute(side: str, quantity: float, bar: Bar, annual_volatility: float) -> Execution | None:
    """Fill at the bar's open (its close when the series has no opens)."""
    reference = bar.open if math.isfinite(bar.open) else bar.close
    if math.isfinite(bar.volume) and bar.volume > 0:
        quantity = min(quantity, math.floor(bar.volume * MAX_VOLUME_SHARE))
    if quantity <= 0 or not math.isfinite(reference) or reference <= 0:
        return None
    slip = slippage_bps(annual_volatility)
    price = reference * (1 + slip / 10_000) if side == "buy" else reference * (1 - slip / 10_000)
    price = round(price, 6)
    return Execution(float(quantity), price, commission(quantity, price), round(slip, 4))


def round_trip_cost(annual_volatility: float) -> float:
    """What buying and later selling costs, as a share of the amount traded: the slippage
    ``execute`` charges at this volatility plus the commission rate, on each side. The
    minimum commission is left out: it depends on the order's size."""
    return 2 * (slippage_bps(annual_volatility) / 10_000 + COMMISSION_RATE)
