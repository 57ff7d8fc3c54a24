"""The paper broker: fills an order at the bar after the one that produced it.

Costs are modelled, not assumed away, at least as strictly as the FINSABER study's
backtests (per-share commission with a minimum, slippage in basis points, fills capped at
a share of average daily volume):

* slippage: a floor of ``BASE_SLIPPAGE_BPS`` plus a share of the symbol's typical daily
  move (a close-only series has no spread to read, so volatility stands in for it);
* commission: the larger of ``COMMISSION_PER_SHARE`` a share and ``COMMISSION_RATE`` of
  the value, at least ``MIN_COMMISSION`` an order, at most ``MAX_COMMISSION_RATE`` of the
  value (a broker's cap, which keeps the per-share charge sane on back-adjusted prices of
  a few cents);
* volume: a fill takes at most ``MAX_VOLUME_SHARE`` of the bar's volume and of the
  symbol's average daily volume over the 20 sessions before, where they are known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

BASE_SLIPPAGE_BPS = 5.0
VOLATILITY_SLIPPAGE = 0.05     # share of one day's typical move paid as slippage
COMMISSION_PER_SHARE = 0.005
COMMISSION_RATE = 0.0005
MIN_COMMISSION = 1.0
MAX_COMMISSION_RATE = 0.01
MAX_VOLUME_SHARE = 0.10
ADV_SESSIONS = 20


@dataclass(frozen=True)
class Bar:
    open: float
    close: float
    volume: float
    adv: float = math.nan      # average daily volume of up to ADV_SESSIONS sessions before


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
    value = quantity * price
    fee = max(MIN_COMMISSION, COMMISSION_PER_SHARE * quantity, COMMISSION_RATE * value)
    return round(min(fee, max(MIN_COMMISSION, MAX_COMMISSION_RATE * value)), 6)


def volume_cap(bar: Bar) -> float:
    """The most shares one order may take at the open: ``MAX_VOLUME_SHARE`` of the average
    daily volume of the sessions before, the volume known when the order meets the
    market (the bar's own volume is known only at its close; inf when no session before
    has a volume). A bar on which not one share traded (a halted stock) fills nothing."""
    if bar.volume == 0:
        return 0.0
    if math.isfinite(bar.adv) and bar.adv >= 0:
        return float(math.floor(bar.adv * MAX_VOLUME_SHARE))
    return math.inf


def execute(side: str, quantity: float, bar: Bar, annual_volatility: float) -> Execution | None:
    """Fill at the bar's open (its close when the series has no opens)."""
    reference = bar.open if math.isfinite(bar.open) else bar.close
    quantity = min(quantity, volume_cap(bar))
    if quantity <= 0 or not math.isfinite(reference) or reference <= 0:
        return None
    slip = slippage_bps(annual_volatility)
    price = reference * (1 + slip / 10_000) if side == "buy" else reference * (1 - slip / 10_000)
    price = round(price, 6)
    return Execution(float(quantity), price, commission(quantity, price), round(slip, 4))


def one_side_cost(annual_volatility: float, price: float = math.inf) -> float:
    """What one fill costs as a share of the value traded: the slippage ``execute``
    charges at this volatility plus the commission, per share or by value, whichever is
    larger at ``price`` (left out when unknown; the rate rules above $10 a share). The
    minimum commission is left out: it depends on the order's size."""
    return float(one_side_costs(np.array([annual_volatility]), np.array([price]))[0])


def one_side_costs(annual_volatility: np.ndarray, price: np.ndarray) -> np.ndarray:
    """``one_side_cost`` of many fills at once (the gene pool prices thousands)."""
    vol = np.asarray(annual_volatility, dtype=float)
    price = np.asarray(price, dtype=float)
    vol = np.where(np.isfinite(vol), vol, 0.25)
    slip = BASE_SLIPPAGE_BPS + VOLATILITY_SLIPPAGE * vol / math.sqrt(252) * 10_000
    known = np.isfinite(price) & (price > 0)
    per_share = np.divide(COMMISSION_PER_SHARE, price, out=np.zeros_like(price),
                          where=known)
    commission_share = np.minimum(np.maximum(COMMISSION_RATE, per_share),
                                  MAX_COMMISSION_RATE)
    return slip / 10_000 + commission_share


def round_trip_cost(annual_volatility: float, price: float = math.inf) -> float:
    """What buying and later selling costs, as a share of the amount traded."""
    return 2 * one_side_cost(annual_volatility, price)
