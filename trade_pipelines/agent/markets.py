"""The four markets the agent trades, and each one's rules, as data.

A market is a calendar, a closing time, a currency, a benchmark and the exchange's rules
for orders: lot sizes, settlement (A-shares are T+1: what was bought today cannot be sold
today), daily price limits (no fill at a limit-locked price), taxes and fees. The
execution layer applies these rules; perception reads the calendar and the closing time
(a bar is known only after its close); reports show the market and its currency.

Rates that changed over time are dated, so a replay of 2015 pays 2015's stamp duty:

* A-share stamp duty: both sides 0.3% from 1991-10-10, 0.5% from 1997-05-12, 0.4% from
  1998-06-12, 0.2% from 2001-11-16, 0.1% from 2005-01-24, 0.3% from
  2007-05-30, 0.1% from 2008-04-24; sells only from 2008-09-19 (0.1%), 0.05% from
  2023-08-28 (Ministry of Finance announcements of those days).
* Hong Kong stamp duty, both sides: 0.1% from 2001-09-01, 0.13% from 2021-08-01, 0.1%
  again from 2023-11-17.
* A-share price limits: none before 1996-12-16, when Shanghai and Shenzhen set them;
  +/-10% on the main boards; ChiNext (300xxx, 301xxx) +/-20% from 2020-08-24; the STAR
  market (688xxx) +/-20% since it opened on 2019-07-22; the Beijing Stock Exchange
  (43xxxx, 83xxxx, 87xxxx, 88xxxx, 92xxxx; .BJ) +/-30% since it opened on 2021-11-15
  (its stocks' earlier NEEQ trading is not modelled). A new listing trades without a
  limit on its first sessions: five on ChiNext (from 2020-08-24), on STAR, and on the
  main boards from 2023-04-10; elsewhere its listing day (whose 44% main-board limit is
  against the offer price, which no bar holds). Special-treatment (ST, +/-5%) stocks
  cannot be told from the ticker and are not modelled.

Pure data and arithmetic: no dagster, no pandas.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from types import MappingProxyType

# Relative slack when comparing an open with a limit price, which exchanges round to the
# tick (0.01 CNY) and adjusted series round again.
LIMIT_TOLERANCE = 0.002


class UnknownBoardLot(ValueError):
    """A stock of a market whose lots differ per stock, with no lot on record: an order
    is refused rather than sized on a guess."""


@dataclass(frozen=True)
class DatedRate:
    """A rate in force from ``effective_from`` until the next one's date."""

    effective_from: date
    rate: float


def rate_on(schedule: tuple[DatedRate, ...], day: date) -> float:
    """The rate of ``schedule`` in force on ``day`` (0 before the first one)."""
    rate = 0.0
    for entry in sorted(schedule, key=lambda e: e.effective_from):
        if entry.effective_from <= day:
            rate = entry.rate
    return rate


@dataclass(frozen=True)
class PriceLimitRule:
    """A daily limit of ``limit`` (a fraction of the previous close; None: no limit) for
    tickers starting with one of ``prefixes``, in force from ``effective_from``. A new
    listing trades without a limit on its first ``new_listing_sessions`` sessions."""

    prefixes: tuple[str, ...]
    limit: float | None
    effective_from: date = date(1990, 1, 1)
    new_listing_sessions: int = 1


@dataclass(frozen=True)
class Commission:
    """A broker's charge per fill: the larger of a rate of the value and a charge per
    share, at least ``minimum`` per order, at most ``maximum_rate`` of the value."""

    rate: float
    per_share: float = 0.0
    minimum: float = 0.0
    maximum_rate: float = 1.0

    def on(self, quantity: float, price: float) -> float:
        value = quantity * price
        fee = max(self.minimum, self.per_share * quantity, self.rate * value)
        return round(min(fee, max(self.minimum, self.maximum_rate * value)), 6)


@dataclass(frozen=True)
class MarketRules:
    """One market: where and when it trades, in what currency, under which rules."""

    code: str                      # us | cn | hk | crypto
    name: str
    calendar: str                  # exchange_calendars code
    timezone: str
    close_time: time               # local time a daily bar is final
    close_next_day: bool           # a 24/7 market's day D bar closes at D+1 00:00
    currency: str
    benchmark_symbol: str
    benchmark_name: str
    volatility_index_symbol: str | None   # None: realised volatility stands in
    commission: Commission
    lot_size: float = 1.0          # shares per lot; 0 means fractional quantities
    lot_sizes: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    quantity_step: float = 1.0     # the smallest fractional quantity (crypto)
    sell_after_sessions: int = 0   # 1 = T+1: shares bought today can be sold tomorrow
    price_limits: tuple[PriceLimitRule, ...] = ()
    default_price_limit: float | None = None
    price_limits_since: date | None = None   # no daily limit on any day before
    stamp_duty_buy: tuple[DatedRate, ...] = ()
    stamp_duty_sell: tuple[DatedRate, ...] = ()
    always_open: bool = False      # no closing bell (crypto)
    volatility_index_close: time | None = None  # local time its daily value is final
    lot_required: bool = False     # lots differ per stock: no default lot (Hong Kong)

    def lot(self, symbol: str) -> float:
        """Shares in one lot of ``symbol`` (0: any fraction down to ``quantity_step``);
        ``UnknownBoardLot`` where lots differ per stock and this one's is not on record."""
        if symbol in self.lot_sizes:
            return float(self.lot_sizes[symbol])
        if self.lot_required and not symbol.startswith("^"):
            raise UnknownBoardLot(
                f"no board lot is known for {symbol}: {self.name} lots differ per stock "
                "(100 to 10,000 shares), so no order is sized on a guess; add it to "
                "board_lots.csv in the project home (trade-pipelines set-board-lot "
                f"{symbol} LOT) or to HK_BOARD_LOTS in trade_pipelines/agent/markets.py")
        return float(self.lot_size)

    def round_quantity(self, symbol: str, quantity: float) -> float:
        """``quantity`` rounded down to whole lots (or to the quantity step)."""
        if not math.isfinite(quantity) or quantity <= 0:
            return 0.0
        lot = self.lot(symbol)
        step = lot if lot > 0 else self.quantity_step
        units = math.floor(quantity / step + 1e-9)
        return round(units * step, 10)

    def price_limit(self, symbol: str, day: date, session: int | None = None
                    ) -> float | None:
        """The daily price limit of ``symbol`` on ``day`` as a fraction, or None.

        ``session`` counts the symbol's sessions since its listing (0: the listing day)
        when it is known: a new listing's first sessions have no limit (the rule's
        ``new_listing_sessions``, at least the listing day). The one source of the
        limits for execution (limit locks) and for validation (moves beyond a limit)."""
        if self.price_limits_since is not None and day < self.price_limits_since:
            return None
        code = symbol.split(".")[0]
        chosen: PriceLimitRule | None = None
        for rule in self.price_limits:
            if code.startswith(rule.prefixes) and rule.effective_from <= day and (
                    chosen is None or rule.effective_from >= chosen.effective_from):
                chosen = rule
        unlimited = chosen.new_listing_sessions if chosen is not None else 1
        if session is not None and session < max(1, unlimited):
            return None
        return chosen.limit if chosen is not None else self.default_price_limit

    def limit_locked(self, symbol: str, day: date, side: str, previous_close: float,
                     price: float, session: int | None = None) -> bool:
        """True when ``price`` sits at the limit against ``side`` (a buy at the upper
        limit, a sell at the lower): the queue on the other side is empty, so a paper
        order there must not fill. ``session`` as in :meth:`price_limit`."""
        limit = self.price_limit(symbol, day, session)
        if limit is None or not (math.isfinite(previous_close) and previous_close > 0
                                 and math.isfinite(price)):
            return False
        move = price / previous_close - 1
        if side == "buy":
            return move >= limit - LIMIT_TOLERANCE
        return move <= -limit + LIMIT_TOLERANCE

    def stamp_duty(self, side: str, day: date) -> float:
        """The stamp duty rate on a ``side`` fill on ``day``."""
        return rate_on(self.stamp_duty_buy if side == "buy" else self.stamp_duty_sell, day)

    def fee(self, side: str, quantity: float, price: float, day: date) -> float:
        """Commission plus stamp duty of one fill, in the market's currency."""
        duty = self.stamp_duty(side, day) * quantity * price
        return round(self.commission.on(quantity, price) + duty, 6)


# One US dollar in each market's currency, to charge an LLM's spend (priced in dollars)
# to accounts kept in yuan or Hong Kong dollars. Fixed approximations: the Hong Kong
# dollar is pegged at 7.75-7.85; the yuan traded at 7.1-7.3 through 2023-2025. An LLM's
# cost is a small share of a day's costs, so a few percent of error in it is noise.
USD_IN_CURRENCY = {"USD": 1.0, "CNY": 7.2, "HKD": 7.8}


US = MarketRules(
    code="us", name="US stocks (NYSE/Nasdaq)", calendar="XNYS", timezone="America/New_York",
    close_time=time(16, 0), close_next_day=False, currency="USD",
    benchmark_symbol="^GSPC", benchmark_name="S&P 500", volatility_index_symbol="^VIX",
    volatility_index_close=time(16, 15),  # Cboe computes VIX until 16:15 New York
    commission=Commission(rate=0.0005, per_share=0.005, minimum=1.0, maximum_rate=0.01),
)

# Ticker prefixes of the Beijing Stock Exchange (.BJ) and of the main boards.
BSE_PREFIXES = ("43", "83", "87", "88", "92")
MAIN_BOARD_PREFIXES = ("60", "00")
# The A-share boards' limits beyond the main boards' default +/-10% (see the docstring).
CN_PRICE_LIMITS = (
    PriceLimitRule(MAIN_BOARD_PREFIXES, 0.10, date(2023, 4, 10), new_listing_sessions=5),
    PriceLimitRule(("300", "301"), 0.20, date(2020, 8, 24), new_listing_sessions=5),
    PriceLimitRule(("688",), 0.20, date(2019, 7, 22), new_listing_sessions=5),
    PriceLimitRule(BSE_PREFIXES, None),
    PriceLimitRule(BSE_PREFIXES, 0.30, date(2021, 11, 15)),
)

# A-share stamp duty before 2001, on both sides: 0.3% from 1991-10-10, 0.5% from
# 1997-05-12, 0.4% from 1998-06-12 (then 0.2% from 2001-11-16, below).
EARLY_A_SHARE_DUTY = (DatedRate(date(1991, 10, 10), 0.003), DatedRate(date(1997, 5, 12), 0.005),
                      DatedRate(date(1998, 6, 12), 0.004))

CN = MarketRules(
    code="cn", name="China A-shares (Shanghai/Shenzhen)", calendar="XSHG",
    timezone="Asia/Shanghai", close_time=time(15, 0), close_next_day=False, currency="CNY",
    benchmark_symbol="000300.SH", benchmark_name="CSI 300", volatility_index_symbol=None,
    commission=Commission(rate=0.00025, minimum=5.0),
    lot_size=100, sell_after_sessions=1,
    price_limits=CN_PRICE_LIMITS, default_price_limit=0.10,
    price_limits_since=date(1996, 12, 16),
    stamp_duty_buy=(*EARLY_A_SHARE_DUTY,
                    DatedRate(date(2001, 11, 16), 0.002), DatedRate(date(2005, 1, 24), 0.001),
                    DatedRate(date(2007, 5, 30), 0.003), DatedRate(date(2008, 4, 24), 0.001),
                    DatedRate(date(2008, 9, 19), 0.0)),
    stamp_duty_sell=(*EARLY_A_SHARE_DUTY,
                     DatedRate(date(2001, 11, 16), 0.002), DatedRate(date(2005, 1, 24), 0.001),
                     DatedRate(date(2007, 5, 30), 0.003), DatedRate(date(2008, 4, 24), 0.001),
                     DatedRate(date(2023, 8, 28), 0.0005)),
)

# Board lots of the built-in Hong Kong stocks (HKEX, as traded in 2011-2017); a home's
# board_lots.csv adds others (trade_pipelines/board_lots.py, read outside this package).
HK_BOARD_LOTS: Mapping[str, float] = MappingProxyType({
    "0656.HK": 500, "0700.HK": 100, "1359.HK": 1000, "2318.HK": 500, "2333.HK": 500,
    "3333.HK": 1000, "3888.HK": 1000,
})

HK = MarketRules(
    code="hk", name="Hong Kong stocks (HKEX)", calendar="XHKG", timezone="Asia/Hong_Kong",
    close_time=time(16, 10), close_next_day=False, currency="HKD",
    benchmark_symbol="^HSI", benchmark_name="Hang Seng Index", volatility_index_symbol=None,
    commission=Commission(rate=0.0003, minimum=3.0),
    lot_size=100, lot_sizes=HK_BOARD_LOTS, lot_required=True,
    stamp_duty_buy=(DatedRate(date(2001, 9, 1), 0.001), DatedRate(date(2021, 8, 1), 0.0013),
                    DatedRate(date(2023, 11, 17), 0.001)),
    stamp_duty_sell=(DatedRate(date(2001, 9, 1), 0.001), DatedRate(date(2021, 8, 1), 0.0013),
                     DatedRate(date(2023, 11, 17), 0.001)),
)

# Maker and taker fees of a typical spot exchange; a market order at the open is a taker.
CRYPTO_MAKER_FEE = 0.001
CRYPTO_TAKER_FEE = 0.001

CRYPTO = MarketRules(
    code="crypto", name="Crypto (spot, 24/7)", calendar="24/7", timezone="Asia/Shanghai",
    close_time=time(0, 0), close_next_day=True, currency="CNY",
    benchmark_symbol="BTC-CNY", benchmark_name="Bitcoin", volatility_index_symbol=None,
    commission=Commission(rate=CRYPTO_TAKER_FEE),
    lot_size=0, quantity_step=0.0001, always_open=True,
)

MARKETS: Mapping[str, MarketRules] = MappingProxyType(
    {m.code: m for m in (US, CN, HK, CRYPTO)})


def market_rules(code: str) -> MarketRules:
    """The rules of market ``code`` (us, cn, hk or crypto), or a clear error."""
    try:
        return MARKETS[code.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown market {code!r}: choose one of "
                         f"{', '.join(MARKETS)}") from None


def market_of_symbol(symbol: str) -> str:
    """Which market a ticker belongs to, from its spelling: ``600036.SH``,
    ``000002.SZ`` and ``430047.BJ`` are A-shares, ``0700.HK`` and ``^HSI`` Hong Kong, ``BTC-CNY`` or
    ``ETH-USDT`` crypto, anything else US."""
    upper = symbol.strip().upper()
    if upper.endswith((".SH", ".SZ", ".SS", ".BJ")):
        return "cn"
    if upper.endswith(".HK") or upper == "^HSI":
        return "hk"
    base, _, quote = upper.partition("-")
    if quote in {"CNY", "USD", "USDT", "USDC", "BTC", "EUR"} and base.isalpha() and \
            len(base) <= 6:
        return "crypto"
    return "us"


def market_of_symbols(symbols: list[str] | tuple[str, ...]) -> str:
    """The one market all ``symbols`` belong to; mixing markets is refused (one account
    holds one currency and follows one calendar)."""
    found = {market_of_symbol(s) for s in symbols if s.strip()}
    if len(found) > 1:
        raise ValueError("these symbols belong to different markets ("
                         + ", ".join(sorted(found)) + "): replay one market at a time")
    return found.pop() if found else "us"
