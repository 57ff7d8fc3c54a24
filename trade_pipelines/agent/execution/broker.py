"""The paper broker: fills an order at the bar after the one that produced it.

Costs are modelled, not assumed away, at least as strictly as the FINSABER study's
backtests (per-share commission with a minimum, slippage in basis points, fills capped at
a share of average daily volume):

* slippage: a floor of ``BASE_SLIPPAGE_BPS`` plus a share of the symbol's typical daily
  move (a close-only series has no spread to read, so volatility stands in for it);
* fees: the market's (``agent/markets.py``): its broker's commission and its dated stamp
  duty. In the US the commission is the larger of ``COMMISSION_PER_SHARE`` a share and
  ``COMMISSION_RATE`` of the value, at least ``MIN_COMMISSION`` an order, at most
  ``MAX_COMMISSION_RATE`` of the value (a broker's cap, which keeps the per-share charge
  sane on back-adjusted prices of a few cents), and no stamp duty;
* volume: a fill takes at most ``MAX_VOLUME_SHARE`` of the bar's volume and of the
  symbol's average daily volume over the 20 sessions before, where they are known, in
  whole lots of the market; a stock whose board lot is not on record (Hong Kong) fills
  the whole quantity asked (a whole position sold as an odd lot) or nothing, and is
  never bought;
* price limits: an order meeting a limit-locked open (a buy at the upper limit against
  the previous close, a sell at the lower) does not fill: nobody sells at the upper limit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from trade_pipelines.agent.markets import US, DatedRate, MarketRules, UnknownBoardLot

BASE_SLIPPAGE_BPS = 5.0
VOLATILITY_SLIPPAGE = 0.05     # share of one day's typical move paid as slippage
# The US broker's commission (``markets.US.commission``), named for the reports.
COMMISSION_PER_SHARE = US.commission.per_share
COMMISSION_RATE = US.commission.rate
MIN_COMMISSION = US.commission.minimum
MAX_COMMISSION_RATE = US.commission.maximum_rate
MAX_VOLUME_SHARE = 0.10
ADV_SESSIONS = 20


@dataclass(frozen=True)
class Bar:
    open: float
    close: float
    volume: float
    adv: float = math.nan      # average daily volume of up to ADV_SESSIONS sessions before
    # The symbol's close at its session before, known before the open: a price limit's base.
    previous_close: float = math.nan


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


def volume_cap(bar: Bar, unit: float = 1.0) -> float:
    """The most shares one order may take at the open: ``MAX_VOLUME_SHARE`` of the average
    daily volume of the sessions before, the volume known when the order meets the
    market (the bar's own volume is known only at its close; inf when no session before
    has a volume), rounded down to whole ``unit``s (a share, a lot, a coin's step). A
    bar on which not one share traded (a halted stock) fills nothing."""
    if bar.volume == 0:
        return 0.0
    if math.isfinite(bar.adv) and bar.adv >= 0:
        return round(math.floor(bar.adv * MAX_VOLUME_SHARE / unit) * unit, 10)
    return math.inf


def quantity_unit(rules: MarketRules, symbol: str) -> float:
    """The smallest quantity of ``symbol`` an order may take: a lot, or the fractional
    step of a market without lots (crypto)."""
    lot = rules.lot(symbol)
    return lot if lot > 0 else rules.quantity_step


def fillable_quantity(quantity: float, bar: Bar, rules: MarketRules = US,
                      symbol: str = "") -> float:
    """What of ``quantity`` the volume cap lets fill: all of it when the cap allows, else
    the cap in whole lots (a whole position may be sold as an odd lot, a part of one only
    in lots). With no board lot on record there is no lot to cut a part in: all of it
    (within the cap in shares) or nothing."""
    try:
        unit = quantity_unit(rules, symbol)
    except UnknownBoardLot:
        return float(quantity) if quantity <= volume_cap(bar) else 0.0
    cap = volume_cap(bar, unit)
    return float(quantity) if quantity <= cap else cap


def unknown_lot(rules: MarketRules, symbol: str) -> str | None:
    """Why ``symbol`` has no lot to size an order in (its board lot is not on record),
    or None."""
    try:
        rules.lot(symbol)
    except UnknownBoardLot as error:
        return str(error)
    return None


def reference_price(bar: Bar) -> float:
    """The price an order meets: the open (the close when the series has no opens)."""
    return bar.open if math.isfinite(bar.open) else bar.close


def no_fill_reason(side: str, quantity: float, bar: Bar, rules: MarketRules = US,
                   symbol: str = "", day: date | None = None) -> str | None:
    """Why an order cannot fill at all at ``bar``, or None when it can. A buy of a stock
    whose board lot is not on record is never filled (it would be sized on a guess)."""
    no_lot = unknown_lot(rules, symbol)
    if no_lot and side == "buy":
        return no_lot
    if bar.volume == 0:
        return f"no {symbol} share traded in the bar (halted)"
    reference = reference_price(bar)
    if not math.isfinite(reference) or reference <= 0:
        return f"no usable {symbol} price in the bar"
    if day is not None and rules.limit_locked(symbol, day, side, bar.previous_close,
                                              reference):
        limit = rules.price_limit(symbol, day) or 0.0
        where = "upper" if side == "buy" else "lower"
        return (f"limit-locked: the open {reference:,.4f} is at the {where} limit "
                f"({'+' if side == 'buy' else '-'}{limit:.0%}) of the previous close "
                f"{bar.previous_close:,.4f}")
    if fillable_quantity(quantity, bar, rules, symbol) <= 0:
        if no_lot:
            return (f"volume cap: {MAX_VOLUME_SHARE:.0%} of the average daily volume of "
                    f"{bar.adv:,.0f} allows less than the {quantity:g} ordered, and a part "
                    f"cannot be sold: {no_lot}")
        lot = rules.lot(symbol)
        unit = f"lot of {lot:g}" if lot > 1 else "share"
        return (f"volume cap: {MAX_VOLUME_SHARE:.0%} of the average daily volume of "
                f"{bar.adv:,.0f} allows no {unit}")
    return None


def execute(side: str, quantity: float, bar: Bar, annual_volatility: float,
            rules: MarketRules = US, symbol: str = "",
            day: date | None = None) -> Execution | None:
    """Fill at the bar's open (its close when the series has no opens), under ``rules``:
    none at a limit-locked open (``day`` is needed to know the limit and the stamp
    duty), the volume cap in whole lots, the market's fee. None when nothing fills."""
    if quantity <= 0 or no_fill_reason(side, quantity, bar, rules, symbol, day) is not None:
        return None
    quantity = fillable_quantity(quantity, bar, rules, symbol)
    reference = reference_price(bar)
    slip = slippage_bps(annual_volatility)
    price = reference * (1 + slip / 10_000) if side == "buy" else reference * (1 - slip / 10_000)
    price = round(price, 6)
    return Execution(float(quantity), price, fill_fee(rules, side, quantity, price, day),
                     round(slip, 4))


def fill_fee(rules: MarketRules, side: str, quantity: float, price: float,
             day: date | None) -> float:
    """The market's fee of one fill (commission and stamp duty); a market with a dated
    stamp duty needs the fill's day."""
    if day is None:
        if rules.stamp_duty_buy or rules.stamp_duty_sell:
            raise ValueError(f"a {rules.name} fill needs its day: its stamp duty is dated")
        return rules.commission.on(quantity, price)
    return rules.fee(side, quantity, price, day)


def one_side_cost(annual_volatility: float, price: float = math.inf,
                  rules: MarketRules = US, day: date | None = None) -> float:
    """What one fill costs as a share of the value traded: the slippage ``execute``
    charges at this volatility plus the commission, per share or by value, whichever is
    larger at ``price`` (left out when unknown; in the US the rate rules above $10 a
    share), plus the market's stamp duty on ``day`` averaged over the two sides (an
    A-share pays it on the sell only: a round trip of two sides pays it once). The
    minimum commission is left out: it depends on the order's size."""
    days = None if day is None else [day]
    return float(one_side_costs(np.array([annual_volatility]), np.array([price]), rules,
                                days)[0])


def one_side_costs(annual_volatility: np.ndarray, price: np.ndarray,
                   rules: MarketRules = US,
                   days: Sequence[date] | np.ndarray | None = None) -> np.ndarray:
    """``one_side_cost`` of many fills at once (the gene pool prices thousands); ``days``
    (one per fill) are needed where the market has a dated stamp duty."""
    vol = np.asarray(annual_volatility, dtype=float)
    price = np.asarray(price, dtype=float)
    vol = np.where(np.isfinite(vol), vol, 0.25)
    slip = BASE_SLIPPAGE_BPS + VOLATILITY_SLIPPAGE * vol / math.sqrt(252) * 10_000
    known = np.isfinite(price) & (price > 0)
    per_share = np.divide(rules.commission.per_share, price, out=np.zeros_like(price),
                          where=known)
    commission_share = np.minimum(np.maximum(rules.commission.rate, per_share),
                                  rules.commission.maximum_rate)
    cost = slip / 10_000 + commission_share
    if not (rules.stamp_duty_buy or rules.stamp_duty_sell):
        return cost
    if days is None:
        raise ValueError(f"{rules.name} costs need each fill's day: its stamp duty is dated")
    on = np.asarray(days, dtype="datetime64[D]").reshape(cost.shape)
    duty = (_rates_on(rules.stamp_duty_buy, on) + _rates_on(rules.stamp_duty_sell, on)) / 2
    return cost + duty


def _rates_on(schedule: tuple[DatedRate, ...], days: np.ndarray) -> np.ndarray:
    """``markets.rate_on`` of many days at once (0 before the first rate)."""
    ordered = sorted(schedule, key=lambda e: e.effective_from)
    if not ordered:
        return np.zeros(days.shape)
    starts = np.array([e.effective_from for e in ordered], dtype="datetime64[D]")
    rates = np.array([0.0, *(e.rate for e in ordered)])
    return rates[np.searchsorted(starts, days, side="right")]


def round_trip_cost(annual_volatility: float, price: float = math.inf,
                    rules: MarketRules = US, day: date | None = None) -> float:
    """What buying and later selling costs, as a share of the amount traded."""
    return 2 * one_side_cost(annual_volatility, price, rules, day)
