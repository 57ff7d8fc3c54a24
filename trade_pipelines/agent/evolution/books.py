"""Genomes judged as books: each genome trades one account, marked to market every close.

Per-trade Sharpe (``setup_outcomes``) treats trades as independent and ignores the days
money sits idle or is stuck in overlapping positions. A book does not: every genome gets
an account of 1.0, trades every symbol it signals on under the same rules as
``setup_outcomes`` and the paper broker, and reports its daily return net of costs, so
genomes are compared on the same daily returns ``daily_stats`` reads.

Many genomes at once: the day-by-day loop is compiled with numba and runs genomes in
chunks on threads (it releases the GIL; threads rather than numba's own parallel loops,
whose default threading layer must not be entered from two threads at once). It is
compiled with ``cache=True``: the first call after this file changes compiles it (about
1.5 s on a 2-core machine) and stores the machine code in ``__pycache__`` (or numba's
user-wide cache when that is read-only); later processes load it in about 0.35 s.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from numba import njit

from trade_pipelines.agent.evolution.genomes import (
    StrategyGenome,
    entry_signal,
    with_indicators,
)
from trade_pipelines.agent.execution.broker import one_side_costs
from trade_pipelines.agent.markets import US, market_of_symbol, market_rules

# A new position is sized on the equity after the day's exits; rounding in the previous
# entries' arithmetic must not refuse the last slot that exactly fits.
CASH_TOLERANCE = 1e-9
# Share of equity a new position takes unless a genome sets its own: a fixed share, not
# one of the universe, since the universe a frame holds depends on how far it reaches (a
# symbol listed later would shrink every earlier position).
DEFAULT_SLOT_WEIGHT = 0.05


@dataclass(frozen=True)
class BookResult:
    """Per genome: its book's daily returns and exposure, and its trading figures."""

    daily_returns: np.ndarray   # float64 [genomes, days]: each genome's book, net of costs
    exposure: np.ndarray        # float64 [genomes, days]: share of equity invested at a close
    n_trades: np.ndarray        # int64 [genomes]: closed round trips
    n_wins: np.ndarray          # int64 [genomes]: closed round trips with proceeds > outlay
    turnover: np.ndarray        # float64 [genomes]: mean over days of traded value / equity


@njit(cache=True, nogil=True)
def _books_kernel(entries: np.ndarray, close: np.ndarray, cost: np.ndarray,
                  stop_loss: np.ndarray, take_profit: np.ndarray, trailing_stop: np.ndarray,
                  max_holding_days: np.ndarray, slot_weight: np.ndarray, first: int, last: int,
                  daily_returns: np.ndarray, exposure: np.ndarray, n_trades: np.ndarray,
                  n_wins: np.ndarray, turnover: np.ndarray) -> None:
    """Books of genomes ``first..last-1``, written into the output arrays."""
    n_days, n_symbols = close.shape
    units = np.zeros(n_symbols)
    entry_price = np.zeros(n_symbols)
    peak = np.zeros(n_symbols)
    last_price = np.zeros(n_symbols)
    outlay = np.zeros(n_symbols)
    bars = np.zeros(n_symbols, dtype=np.int64)
    held = np.zeros(n_symbols, dtype=np.bool_)
    pending = np.zeros(n_symbols, dtype=np.bool_)
    for g in range(first, last):
        signals = entries[g]
        stop = stop_loss[g]
        take = take_profit[g]
        trail = trailing_stop[g]
        horizon = max_holding_days[g]
        slot = slot_weight[g]
        held[:] = False
        pending[:] = False
        cash = 1.0
        previous = 1.0
        trades = 0
        wins = 0
        traded_share = 0.0
        for d in range(n_days):
            # Mark, then exits: every held symbol with a bar today.
            marked = cash
            holdings = 0.0
            traded = 0.0
            for s in range(n_symbols):
                if not held[s]:
                    continue
                price = close[d, s]
                if price != price:
                    value = units[s] * last_price[s]
                    marked += value
                    holdings += value
                    continue
                last_price[s] = price
                value = units[s] * price
                marked += value
                bars[s] += 1
                if price > peak[s]:
                    peak[s] = price
                move = price / entry_price[s] - 1.0
                if (move <= -stop or move >= take or bars[s] >= horizon
                        or (trail > 0.0 and price / peak[s] - 1.0 <= -trail)):
                    proceeds = value - value * cost[d, s]
                    cash += proceeds
                    traded += value
                    held[s] = False
                    trades += 1
                    if proceeds > outlay[s]:
                        wins += 1
                else:
                    holdings += value
            # Entries ordered at the symbol's previous bar, all sized on this equity.
            budget = slot * (cash + holdings)
            for s in range(n_symbols):
                if not pending[s]:
                    continue
                price = close[d, s]
                if price != price:
                    continue
                pending[s] = False
                if budget > 0.0 and cash >= budget * (1.0 - CASH_TOLERANCE):
                    notional = budget / (1.0 + cost[d, s])
                    fee = notional * cost[d, s]
                    cash -= notional + fee
                    units[s] = notional / price
                    entry_price[s] = price
                    peak[s] = price
                    last_price[s] = price
                    outlay[s] = notional + fee
                    bars[s] = 0
                    held[s] = True
                    holdings += notional
                    traded += notional
            # Today's signals order an entry at the next bar of a symbol not held.
            for s in range(n_symbols):
                if signals[d, s] and not held[s] and close[d, s] == close[d, s]:
                    pending[s] = True
            equity = cash + holdings
            daily_returns[g, d] = equity / previous - 1.0
            exposure[g, d] = holdings / equity
            traded_share += traded / marked
            previous = equity
        n_trades[g] = trades
        n_wins[g] = wins
        turnover[g] = traded_share / n_days if n_days else 0.0


def _workers(n_genomes: int) -> int:
    return max(1, min(os.cpu_count() or 1, n_genomes // 16 or 1))


def simulate_books(entries: np.ndarray, close: np.ndarray, cost: np.ndarray, *,
                   stop_loss: np.ndarray, take_profit: np.ndarray,
                   trailing_stop: np.ndarray, max_holding_days: np.ndarray,
                   slot_weight: np.ndarray, workers: int | None = None) -> BookResult:
    """Each genome's book, day by day, from its entry signals (rules as setup_outcomes's).

    ``entries``: bool [genomes, days, symbols], a signal at that day's close; ``close``:
    float64 [days, symbols], NaN where the symbol has no bar; ``cost``: float64 [days,
    symbols], one side's cost as a share of the value traded (``cost_matrix``); per genome
    [genomes]: ``stop_loss``, ``take_profit``, ``trailing_stop`` (0: none),
    ``max_holding_days`` and ``slot_weight`` (share of equity a new position takes).

    Every book starts with 1.0 in cash, which earns nothing. A signal at a symbol's close
    orders an entry at its next bar's close (the broker fills at the bar after; the data
    are closes only), unless the symbol is held after that close's exits: one position per
    symbol at a time. A signal where the symbol has no bar is ignored; a held symbol
    without a bar keeps its last close. At each bar a held symbol leaves at that close
    when its return from the entry close is <= -stop_loss or >= take_profit, its close is
    ``trailing_stop`` or more below the highest close since entry, or it has been held
    ``max_holding_days`` of its bars. Exits come before entries, and a day's entries, in
    symbol order, each take ``slot_weight`` of the equity after the exits, cost included,
    while free cash covers that (else the order lapses). Each side pays ``cost`` of the
    value traded. A trade wins when its sale proceeds exceed its outlay; turnover counts
    buys and sells, each as a share of that close's equity before trading, averaged over
    all days (a round trip of the whole account adds 2 / days). ``workers``
    threads share the genomes (default: one per core).
    """
    entries = np.ascontiguousarray(entries, dtype=np.bool_)
    close = np.ascontiguousarray(close, dtype=np.float64)
    cost = np.ascontiguousarray(cost, dtype=np.float64)
    if entries.ndim != 3 or close.shape != entries.shape[1:] or cost.shape != close.shape:
        raise ValueError(f"entries {entries.shape}, close {close.shape} and cost {cost.shape} "
                         "do not share the [days, symbols] axes")
    n_genomes, n_days, _ = entries.shape
    per_genome = [np.ascontiguousarray(np.broadcast_to(a, (n_genomes,)), dtype=t) for a, t in (
        (stop_loss, np.float64), (take_profit, np.float64), (trailing_stop, np.float64),
        (max_holding_days, np.int64), (slot_weight, np.float64))]
    daily_returns = np.zeros((n_genomes, n_days))
    exposure = np.zeros((n_genomes, n_days))
    n_trades = np.zeros(n_genomes, dtype=np.int64)
    n_wins = np.zeros(n_genomes, dtype=np.int64)
    turnover = np.zeros(n_genomes)
    outputs = (daily_returns, exposure, n_trades, n_wins, turnover)

    def run(first: int, last: int) -> None:
        _books_kernel(entries, close, cost, *per_genome, first, last, *outputs)

    chunks = workers or _workers(n_genomes)
    bounds = np.linspace(0, n_genomes, chunks + 1).astype(int)
    if chunks == 1:
        run(0, n_genomes)
    else:
        with ThreadPoolExecutor(chunks) as pool:
            list(pool.map(run, bounds[:-1], bounds[1:]))
    return BookResult(*outputs)


def cost_matrix(vol_20: np.ndarray, close: np.ndarray | None = None,
                symbols: Sequence[str] | None = None,
                days: Sequence[date] | None = None) -> np.ndarray:
    """One side's cost share at each annualised volatility (and close, where given, for
    the per-share commission): the broker's own ``one_side_cost``, so a book pays what the
    paper broker would (a missing volatility costs what the broker charges for it).
    With ``symbols`` (one per column of [days, symbols]) each symbol pays its own
    market's commission rate and stamp duty (an A-share, a Hong Kong stock, a coin: told
    by the ticker's spelling), on ``days`` (one per row) for a dated duty; US by default."""
    vol = np.asarray(vol_20, dtype=np.float64)
    price = np.full(vol.shape, np.inf) if close is None else np.asarray(close, np.float64)
    price = np.where(np.isfinite(price) & (price > 0), price, np.inf)
    if not vol.size:
        return vol.copy()
    cost = one_side_costs(vol, price)
    for column, symbol in enumerate(symbols or ()):
        rules = market_rules(market_of_symbol(symbol))
        if rules is not US:
            cost[:, column] = one_side_costs(vol[:, column], price[:, column], rules, days)
    return cost


@dataclass(frozen=True)
class SignalMatrices:
    """Everything ``simulate_books`` reads, on one day axis and one symbol axis."""

    entries: np.ndarray
    close: np.ndarray
    cost: np.ndarray
    days: list[date]
    symbols: list[str]


@dataclass(frozen=True)
class BookMarket:
    """The closes and costs of ``features`` on sorted days x sorted symbols, and where
    each feature row sits on them: built once, shared by every genome's entries."""

    cell: np.ndarray        # int64 per feature row: day * n_symbols + symbol
    close: np.ndarray       # float64 [days, symbols], NaN where the symbol has no bar
    cost: np.ndarray        # float64 [days, symbols], one side's cost share
    days: list[date]
    symbols: list[str]

    @classmethod
    def of(cls, features: pd.DataFrame) -> BookMarket:
        day_codes, day_values = pd.factorize(pd.to_datetime(features["as_of"]), sort=True)
        symbol_codes, symbol_values = pd.factorize(features["symbol"], sort=True)
        n_days, n_symbols = len(day_values), len(symbol_values)
        cell = day_codes.astype(np.int64) * n_symbols + symbol_codes
        if np.unique(cell).size != cell.size:
            raise ValueError("features hold more than one row for a (symbol, as_of)")
        close = np.full(n_days * n_symbols, np.nan)
        close[cell] = features["close"].to_numpy(dtype=np.float64)
        vol = np.full(n_days * n_symbols, np.nan)
        vol[cell] = features["vol_20"].to_numpy(dtype=np.float64)
        close = close.reshape(n_days, n_symbols)
        days = [d.date() for d in day_values]
        symbols = [str(s) for s in symbol_values]
        return cls(cell, close,
                   cost_matrix(vol.reshape(n_days, n_symbols), close, symbols, days),
                   days, symbols)

    def place(self, signal: np.ndarray) -> np.ndarray:
        """A boolean per feature row (in the rows' order) as [days, symbols]."""
        entries = np.zeros(self.close.size, dtype=np.bool_)
        entries[self.cell] = signal
        return entries.reshape(self.close.shape)


def _signal_key(genome: StrategyGenome) -> tuple:
    return genome.entry, tuple(sorted(genome.params.items()))


def signal_matrices(genomes: Sequence[StrategyGenome], features: pd.DataFrame) -> SignalMatrices:
    """Each genome's ``entry_signal`` on ``features`` (symbol, as_of, close, vol_20 and what
    the rules read), pivoted onto sorted days x sorted symbols. Genomes with the same rule
    and parameters share one evaluation of it; a (symbol, day) with no row has NaN close
    and never signals."""
    features = with_indicators(features, genomes)
    market = BookMarket.of(features)
    entries = np.zeros((len(genomes), *market.close.shape), dtype=np.bool_)
    done: dict[tuple, int] = {}
    for g, genome in enumerate(genomes):
        key = _signal_key(genome)
        if key in done:
            entries[g] = entries[done[key]]
            continue
        entries[g] = market.place(entry_signal(genome, features).to_numpy(dtype=np.bool_))
        done[key] = g
    return SignalMatrices(entries, market.close, market.cost, market.days, market.symbols)


def genome_books(genomes: Sequence[StrategyGenome], features: pd.DataFrame, *,
                 slot_weight: float | None = None, workers: int | None = None,
                 ) -> tuple[BookResult, list[date], list[str]]:
    """Each genome's book over the days and symbols of ``features``, with its exits
    (``trailing_stop`` 0 where the genome has none) and its ``slot_weight`` (else the
    given one, else ``DEFAULT_SLOT_WEIGHT``). Returns the books and their day and symbol
    axes."""
    matrices = signal_matrices(genomes, features)
    result = books_of(genomes, matrices.entries, matrices.close, matrices.cost,
                      slot_weight=slot_weight, workers=workers)
    return result, matrices.days, matrices.symbols


def books_of(genomes: Sequence[StrategyGenome], entries: np.ndarray, close: np.ndarray,
             cost: np.ndarray, *, slot_weight: float | None = None,
             workers: int | None = None) -> BookResult:
    """``simulate_books`` with each genome's own exits and slot weight (else the given
    one, else ``DEFAULT_SLOT_WEIGHT``)."""
    fallback = slot_weight if slot_weight is not None else DEFAULT_SLOT_WEIGHT
    return simulate_books(
        entries, close, cost,
        stop_loss=np.array([g.stop_loss for g in genomes], dtype=np.float64),
        take_profit=np.array([g.take_profit for g in genomes], dtype=np.float64),
        trailing_stop=np.array([g.trailing_stop for g in genomes], dtype=np.float64),
        max_holding_days=np.array([g.max_holding_days for g in genomes], dtype=np.int64),
        slot_weight=np.array([_slot(g, fallback) for g in genomes], dtype=np.float64),
        workers=workers,
    )


def _slot(genome: StrategyGenome, fallback: float) -> float:
    value = getattr(genome, "slot_weight", None)
    return float(value) if value is not None and math.isfinite(value) else fallback


def _simulate_books_reference(entries: np.ndarray, close: np.ndarray, cost: np.ndarray, *,
                              stop_loss: np.ndarray, take_profit: np.ndarray,
                              trailing_stop: np.ndarray, max_holding_days: np.ndarray,
                              slot_weight: np.ndarray) -> BookResult:
    """The same rules written plainly, one genome and one position record at a time.

    For tests only: the compiled kernel must agree with it on random inputs.
    """
    n_genomes, n_days, n_symbols = np.shape(entries)
    returns = np.zeros((n_genomes, n_days))
    exposure = np.zeros((n_genomes, n_days))
    trades = np.zeros(n_genomes, dtype=np.int64)
    wins = np.zeros(n_genomes, dtype=np.int64)
    turnover = np.zeros(n_genomes)

    def has_bar(day: int, symbol: int) -> bool:
        return not math.isnan(close[day, symbol])

    for g in range(n_genomes):
        stop, take = float(stop_loss[g]), float(take_profit[g])
        trail, horizon = float(trailing_stop[g]), int(max_holding_days[g])
        cash, equity_before, total_share = 1.0, 1.0, 0.0
        positions: dict[int, dict[str, float]] = {}
        orders: set[int] = set()
        for day in range(n_days):
            value = {s: p["units"] * p["last"] for s, p in positions.items()}
            for s, p in positions.items():
                if has_bar(day, s):
                    p["last"] = float(close[day, s])
                    value[s] = p["units"] * p["last"]
            marked = cash + sum(value.values())
            traded = 0.0
            for s in sorted(positions):
                p = positions[s]
                if not has_bar(day, s):
                    continue
                p["bars"] += 1
                p["peak"] = max(p["peak"], p["last"])
                change = p["last"] / p["entry"] - 1.0
                stopped = change <= -stop
                target = change >= take
                trailed = trail > 0 and p["last"] / p["peak"] - 1.0 <= -trail
                if stopped or target or trailed or p["bars"] >= horizon:
                    proceeds = value[s] * (1.0 - float(cost[day, s]))
                    cash += proceeds
                    traded += value[s]
                    trades[g] += 1
                    wins[g] += proceeds > p["outlay"]
                    del positions[s], value[s]
            budget = float(slot_weight[g]) * (cash + sum(value.values()))
            for s in sorted(orders):
                if not has_bar(day, s):
                    continue
                orders.discard(s)
                if budget <= 0 or cash < budget * (1.0 - CASH_TOLERANCE):
                    continue
                price, side = float(close[day, s]), float(cost[day, s])
                notional = budget / (1.0 + side)
                cash -= notional * (1.0 + side)
                positions[s] = {"units": notional / price, "entry": price, "peak": price,
                                "last": price, "bars": 0, "outlay": notional * (1.0 + side)}
                value[s] = notional
                traded += notional
            for s in range(n_symbols):
                if entries[g, day, s] and s not in positions and has_bar(day, s):
                    orders.add(s)
            invested = sum(value.values())
            equity = cash + invested
            returns[g, day] = equity / equity_before - 1.0
            exposure[g, day] = invested / equity
            total_share += traded / marked
            equity_before = equity
        turnover[g] = total_share / n_days if n_days else 0.0
    return BookResult(returns, exposure, trades, wins, turnover)
