"""Target-weight portfolios filled through the paper broker, so a rule-based baseline pays
exactly the costs the agent pays and a scoreboard compares like with like.

Conventions (the same as the ledger's where the ledger has one):

* a target row for day t is decided after t's close; its orders are sized at t's close
  (whole lots of the market, whole shares in the US, rounded toward zero; a full exit
  sells the whole position) and fill at the next day's bar through ``broker.execute``
  under the market's rules (the open, or the close of a close-only series; volatility
  slippage; commission with its minimum and stamp duty; the volume cap; no fill at a
  limit-locked open, which leaves the target standing, as a missing bar does);
* NaN means no view: the position is left as it is. A target of 0 (or below: the book
  is long only) sells the whole position;
* each day all sells fill before any buy, so the cash a sell frees is there for the buys;
  a buy the cash cannot pay in full is cut to the shares it can (the ledger's rule) and
  its remainder cancelled; buys go in symbol order;
* a symbol with no bar (or no usable price) on the fill day is not filled: its target
  stays standing and is sized again at that day's close (from its last known close), so
  the order retries at every following bar until it fills or a newer target replaces it.
  Once an order met a bar its target is settled, even if the volume cap or the cash cut
  it (the remainder is cancelled, as in the ledger);
* ``rebalance_band`` only spares resizing a held position to a non-zero target: entries
  and full exits always trade;
* a stock whose board lot is not on record (Hong Kong) is never sized on a guess: a
  target that would buy it, or sell a part of it, is refused when sized and recorded in
  ``refused`` with the reason (the ledger's rejected order), and stays refused until a
  newer target replaces it; a full exit sells all of it (it needs no lot);
* a day's one-way turnover is the value traded that day (buys and sells, each counted
  once, at fill prices) over that day's closing equity; exposure is the market value
  held over closing equity; both are averaged over every day of the calendar, trading
  or not. ``turnover_and_exposure`` measures the agent's accounts the same way.

The calendar is the targets' index; bars on other days are ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trade_pipelines.agent.execution.broker import Execution, execute, fill_fee, unknown_lot
from trade_pipelines.agent.execution.ledger import STARTING_CAPITAL, bars_by_day
from trade_pipelines.agent.markets import US, MarketRules

TRADE_COLUMNS = ["symbol", "opened_as_of", "as_of", "return_pct"]
REFUSED_COLUMNS = ["as_of", "symbol", "side", "reason"]


@dataclass(frozen=True)
class RebalanceResult:
    equity: pd.Series          # by day, starting capital before the first day's fills
    daily_returns: pd.Series   # by day
    weights: pd.DataFrame      # days x symbols, end-of-day share of equity held
    trades: pd.DataFrame       # closed round trips: symbol, opened_as_of, as_of, return_pct
    fees: float                # total commission paid
    turnover: float            # average daily one-way turnover: traded value / equity
    exposure: float            # average gross exposure (share of equity invested)
    # orders refused when sized (as_of: the day of the target): as_of, symbol, side, reason
    refused: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=REFUSED_COLUMNS))


@dataclass
class _Holding:
    quantity: float
    avg_cost: float
    opened_as_of: Any
    entry_fees: float


def _key(day: Any) -> pd.Timestamp:
    """Days may come as dates or timestamps; they are matched as timestamps."""
    return pd.Timestamp(day)


def simulate_target_weights(targets: pd.DataFrame, bars: pd.DataFrame,
                            capital: float = STARTING_CAPITAL,
                            rebalance_band: float = 0.0,
                            rules: MarketRules = US) -> RebalanceResult:
    """targets: days x symbols target weights decided after day t's close (NaN = no view,
    keep), filled at day t+1's bar through broker.execute (whole shares, cash-limited,
    sells before buys); bars: long frame symbol, as_of, open, close, volume, vol_20 (the
    columns the trading loop fills at). A position whose weight drifts is only traded when
    its target differs from its current weight by more than rebalance_band."""
    targets = targets.sort_index()
    days = list(targets.index)
    symbols = list(targets.columns)
    market = {_key(day): value for day, value
              in bars_by_day(bars[bars["symbol"].isin(symbols)]).items()}
    wanted = targets.to_numpy(dtype=float)

    cash = capital
    holdings: dict[Any, _Holding] = {}
    last_close: dict[Any, float] = {}
    standing: dict[Any, float] = {}         # symbol -> target not yet met by a bar
    orders: list[tuple[str, Any, float]] = []  # (side, symbol, shares) for the next bar
    fees = 0.0
    previous_equity = capital
    equity_path = np.empty(len(days))
    returns = np.empty(len(days))
    turnover = np.empty(len(days))
    exposure = np.empty(len(days))
    weights = np.zeros((len(days), len(symbols)))
    column = {symbol: j for j, symbol in enumerate(symbols)}
    trades: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []

    for i, day in enumerate(days):
        day_bars, volatility = market.get(_key(day), ({}, {}))
        traded = 0.0
        for side, symbol, shares in orders:
            bar = day_bars.get(symbol)
            fill = execute(side, shares, bar, volatility.get(symbol, math.nan), rules, symbol,
                           _key(day).date()) if bar is not None else None
            if fill is None:
                continue  # no bar, no price: the target stands and is sized again
            standing.pop(symbol, None)
            if side == "sell":
                held = holdings[symbol]
                quantity = min(fill.quantity, held.quantity)
                cash += quantity * fill.price - fill.fee
                entry_fee = held.entry_fees * quantity / held.quantity
                pnl = (fill.price - held.avg_cost) * quantity - fill.fee - entry_fee
                trades.append({"symbol": symbol, "opened_as_of": held.opened_as_of,
                               "as_of": day,
                               "return_pct": pnl / (held.avg_cost * quantity)})
                held.quantity -= quantity
                held.entry_fees -= entry_fee
                if held.quantity <= 1e-9:
                    del holdings[symbol]
            else:
                if fill.quantity * fill.price + fill.fee > cash:
                    quantity = rules.round_quantity(symbol, (cash - fill.fee) / fill.price)
                    if quantity <= 0:
                        continue
                    fill = Execution(quantity, fill.price,
                                     fill_fee(rules, "buy", quantity, fill.price,
                                              _key(day).date()), fill.slippage_bps)
                quantity = fill.quantity
                cash -= quantity * fill.price + fill.fee
                held = holdings.get(symbol)
                if held is None:
                    holdings[symbol] = _Holding(quantity, fill.price, day, fill.fee)
                else:
                    total = held.quantity + quantity
                    held.avg_cost = (held.avg_cost * held.quantity
                                     + fill.price * quantity) / total
                    held.quantity = total
                    held.entry_fees += fill.fee
            fees += fill.fee
            traded += quantity * fill.price

        for symbol, bar in day_bars.items():
            if math.isfinite(bar.close) and bar.close > 0:
                last_close[symbol] = bar.close
        values = {s: h.quantity * last_close[s] for s, h in holdings.items()}
        equity = cash + sum(values.values())
        equity_path[i] = equity
        returns[i] = equity / previous_equity - 1 if previous_equity else math.nan
        previous_equity = equity
        if equity > 0:
            turnover[i] = traded / equity
            exposure[i] = sum(values.values()) / equity
            for symbol, value in values.items():
                weights[i, column[symbol]] = value / equity
        else:
            turnover[i] = exposure[i] = math.nan

        for j, symbol in enumerate(symbols):
            if math.isfinite(wanted[i, j]):
                standing[symbol] = max(0.0, float(wanted[i, j]))
        orders = _orders(standing, holdings, last_close, equity, rebalance_band, rules,
                         refused, day)

    index = targets.index
    trade_frame = pd.DataFrame(trades, columns=TRADE_COLUMNS)
    return RebalanceResult(
        equity=pd.Series(equity_path, index=index, name="equity"),
        daily_returns=pd.Series(returns, index=index, name="daily_return"),
        weights=pd.DataFrame(weights, index=index, columns=targets.columns),
        trades=trade_frame,
        fees=fees,
        turnover=float(np.nanmean(turnover)) if len(days) else math.nan,
        exposure=float(np.nanmean(exposure)) if len(days) else math.nan,
        refused=pd.DataFrame(refused, columns=REFUSED_COLUMNS),
    )


def _orders(standing: dict[Any, float], holdings: dict[Any, _Holding],
            last_close: dict[Any, float], equity: float,
            band: float, rules: MarketRules = US,
            refused: list[dict[str, Any]] | None = None,
            day: Any = None) -> list[tuple[str, Any, float]]:
    """The next bar's orders from the standing targets, sells first. A target already met
    (within the band, or less than a lot away) is settled here; so is one that cannot be
    sized, a stock with no board lot on record, which is added to ``refused``."""
    sells: list[tuple[str, Any, float]] = []
    buys: list[tuple[str, Any, float]] = []
    for symbol in sorted(standing, key=str):
        target = standing[symbol]
        held = holdings.get(symbol)
        quantity = held.quantity if held is not None else 0.0
        price = last_close.get(symbol)
        if target <= 0:
            if quantity > 0:
                sells.append(("sell", symbol, quantity))
            else:
                del standing[symbol]
            continue
        if price is None or equity <= 0:
            continue  # nothing to size it with yet: it waits for a close
        if quantity > 0 and abs(target - quantity * price / equity) <= band:
            del standing[symbol]
            continue
        delta = target * equity / price - quantity
        no_lot = unknown_lot(rules, str(symbol))
        if no_lot:  # a buy, or the sale of a part: refused, never sized on a guess
            del standing[symbol]
            if refused is not None:
                refused.append({"as_of": day, "symbol": symbol,
                                "side": "buy" if delta > 0 else "sell", "reason": no_lot})
            continue
        shares = rules.round_quantity(str(symbol), abs(delta))
        if shares <= 0:
            del standing[symbol]
        elif delta > 0:
            buys.append(("buy", symbol, shares))
        else:
            sells.append(("sell", symbol, shares))
    return sells + buys


def daily_turnover_and_exposure(fills: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """One account's one-way turnover and gross exposure on each day of ``accounts``
    (index: its ``as_of``), measured as ``simulate_target_weights`` measures a baseline.
    ``fills``: as_of, quantity, price; ``accounts``: as_of, equity, gross_exposure, one row
    a day (the ledger's rows)."""
    days = accounts["as_of"]
    traded = (fills["quantity"].astype(float) * fills["price"].astype(float)).groupby(
        fills["as_of"].map(_key)).sum() if not fills.empty else pd.Series(dtype=float)
    equity = accounts["equity"].to_numpy(dtype=float)
    value = days.map(_key).map(traded).fillna(0.0).to_numpy(dtype=float)
    gross = accounts["gross_exposure"].to_numpy(dtype=float)
    return pd.DataFrame({"turnover": value / equity, "exposure": gross / equity},
                        index=days.to_numpy())


def turnover_and_exposure(fills: pd.DataFrame, accounts: pd.DataFrame) -> tuple[float, float]:
    """``daily_turnover_and_exposure`` averaged over the account's days."""
    if accounts.empty:
        return math.nan, math.nan
    daily = daily_turnover_and_exposure(fills, accounts)
    return float(daily["turnover"].mean()), float(daily["exposure"].mean())
