"""Evaluating the gene pool: what each genome's past signals did, weekly scores, elimination.

A genome is judged on its trades (count and win rate, from ``setup_outcomes``) and, where
the pool has it, on its daily book (Sharpe, drawdown and return, from
``books.simulate_books``: every position marked to market each close, idle cash earning
nothing), not on a Sharpe of trade returns that treats overlapping trades in correlated
names as independent. It is eliminated after failing the bar (win rate < 45%, Sharpe <
0.5 or score < 60) at two evaluations in a row; the pool never drops below
``POOL_FLOOR`` tradeable established genomes (``apply_floor``), so the best-scoring
eliminated ones are reinstated rather than leaving the agent idle or on newborns alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import date, timedelta

import numpy as np
import pandas as pd

from trade_pipelines.agent.evolution.genomes import (
    StrategyGenome,
    entry_signal,
    with_indicators,
)
from trade_pipelines.agent.execution.broker import one_side_costs
from trade_pipelines.agent.markets import market_of_symbol, market_rules
from trade_pipelines.agent.reflection.performance import core_daily_stats, trade_stats

MIN_WIN_RATE = 0.45
MIN_SHARPE = 0.5
MIN_SCORE = 60.0
POOL_FLOOR = 3
EVALUATION_WINDOW = timedelta(days=365)
# "probation": a genome born in the pool, trading a small allocation until promoted.
TRADEABLE = ("active", "watch", "reinstated", "probation")

# Share of capital a single evaluated trade is assumed to use, for drawdown and return.
TRADE_ALLOCATION = 0.02
OUTCOME_COLUMNS = ["symbol", "signal_as_of", "entry_as_of", "known_as_of", "return", "cost"]


def setup_outcomes(genome: StrategyGenome, features: pd.DataFrame) -> pd.DataFrame:
    """The trades this genome's past signals would have made, symbol by symbol in date order.

    Enter at the close of the bar after a signal; leave at the stop, target or trailing
    stop (checked on closes) or after ``max_holding_days`` bars. A signal while the symbol
    is still held (from its signal to its exit day) opens no trade: the next one needs a
    signal on or after the exit day, so it enters after the exit, as one position at a
    time would.
    Each return is net of the broker's own round-trip cost at the symbol's ``vol_20`` and
    close on the signal day, at its market's commission rate and stamp duty of that day.
    An outcome becomes known (``known_as_of``) on its exit day, and only known outcomes
    may inform a decision.

    The chain of trades starts at the first row of ``features``, so trades known by a day
    depend on nothing later, but they do depend on where the history starts: callers pass
    the whole history they have, never a window of it (the strategy and trading assets
    read every bar up to their partition's end, the in-memory loop every bar it is given;
    both start at the first bar stored, so they agree).
    """
    return _outcomes(genome, with_indicators(
        features.sort_values(["symbol", "as_of"], kind="mergesort"), [genome]))


def _outcomes(genome: StrategyGenome, features: pd.DataFrame,
              signals: np.ndarray | None = None) -> pd.DataFrame:
    """``setup_outcomes`` of features already sorted by symbol, then day (``signals``:
    the genome's ``entry_signal`` on them, when the caller has it already)."""
    horizon = genome.max_holding_days
    signals_all = entry_signal(genome, features).to_numpy() if signals is None else signals
    symbols = features["symbol"].to_numpy()
    closes_all = features["close"].to_numpy(dtype=float)
    days_all = features["as_of"].to_numpy()
    vols_all = features["vol_20"].to_numpy(dtype=float)
    bounds = np.flatnonzero(symbols[1:] != symbols[:-1]) + 1
    frames = []
    for first, last in zip([0, *bounds], [*bounds, len(symbols)], strict=True):
        closes, days = closes_all[first:last], days_all[first:last]
        n = len(closes)
        signals = np.flatnonzero(signals_all[first:last])
        signals = signals[signals + 1 < n]
        if signals.size == 0:
            continue
        # Every signal's would-be trade at once; the chain below keeps those that do not
        # overlap. Pad with NaN so each holding window is defined to the end of the data.
        padded = np.concatenate([closes, np.full(horizon + 1, np.nan)])
        window = np.lib.stride_tricks.sliding_window_view(padded, horizon + 1)[signals + 1]
        path = window[:, 1:] / window[:, :1] - 1
        hit = (path <= -genome.stop_loss) | (path >= genome.take_profit)
        if genome.trailing_stop:
            # The highest close since entry, the entry's own close included.
            peak = np.fmax.accumulate(window, axis=1)[:, 1:]
            hit |= window[:, 1:] / peak - 1 <= -genome.trailing_stop
        any_hit = hit.any(axis=1)
        held = np.where(any_hit, hit.argmax(axis=1), horizon - 1)
        complete = any_hit | ~np.isnan(path[:, -1])
        exits = signals + 2 + held
        taken = []
        i = 0
        # A trade still open when the data ends blocks every later signal.
        while i < signals.size and complete[i]:
            taken.append(i)
            i = int(np.searchsorted(signals, exits[i], side="left"))
        if not taken:
            continue
        rows = np.array(taken)
        entered = signals[rows]
        rules = market_rules(market_of_symbol(str(symbols[first])))
        cost = 2 * one_side_costs(vols_all[first:last][entered], closes[entered], rules,
                                  days[entered])
        # Columns gathered symbol by symbol and framed once (a frame a symbol is slow).
        frames.append((np.full(rows.size, symbols[first], dtype=object),
                       days[signals[rows]], days[signals[rows] + 1], days[exits[rows]],
                       path[rows, held[rows]] - cost, cost))
    if not frames:
        return pd.DataFrame(columns=OUTCOME_COLUMNS)
    return pd.DataFrame({name: np.concatenate([f[k] for f in frames])
                         for k, name in enumerate(OUTCOME_COLUMNS)})


def summarise_outcomes(returns: np.ndarray) -> dict[str, float]:
    """The gene pool's figures of one evaluation window's trade returns, by exit date.

    Sharpe is annualised by the trades actually made in the window (a year of them),
    drawdown and total return compound ``TRADE_ALLOCATION`` of capital into each trade.
    """
    years = EVALUATION_WINDOW.days / 365.25
    return asdict(trade_stats(returns, trades_per_year=returns.size / years,
                              allocation=TRADE_ALLOCATION))


def strategy_score(stats: dict[str, float]) -> float:
    """0..100 from win rate, Sharpe and drawdown, shrunk towards 0 when evidence is thin."""
    if not stats["n_trades"]:
        return 0.0
    win = np.clip((stats["win_rate"] - 0.40) / 0.20, 0, 1)
    sharpe = np.clip(np.nan_to_num(stats["sharpe"]) / 1.5, 0, 1)
    drawdown = np.clip(1 + stats["max_drawdown"] / 0.30, 0, 1)
    evidence = min(stats["n_trades"] / 20, 1.0)
    return float(round(100 * evidence * (0.35 * win + 0.35 * sharpe + 0.3 * drawdown), 2))


def all_outcomes(genomes: list[StrategyGenome], features: pd.DataFrame) -> pd.DataFrame:
    """``setup_outcomes`` of every genome, with its ``strategy_id``."""
    ordered = with_indicators(features.sort_values(["symbol", "as_of"], kind="mergesort"),
                              genomes)
    frames = [_outcomes(g, ordered).assign(strategy_id=g.strategy_id) for g in genomes]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=[*OUTCOME_COLUMNS, "strategy_id"])
    return pd.concat(frames, ignore_index=True)


def _fails(stats: dict[str, float], score: float) -> bool:
    return bool(
        stats["n_trades"] == 0
        or np.nan_to_num(stats["win_rate"]) < MIN_WIN_RATE
        or np.nan_to_num(stats["sharpe"]) < MIN_SHARPE
        or score < MIN_SCORE
    )


GenomeRecord = tuple[np.ndarray, np.ndarray, np.ndarray]
# A genome's daily book: (day, datetime64[D]; its return that day, net of costs).
GenomeBook = tuple[np.ndarray, np.ndarray]
EVALUATION_COLUMNS = ["as_of", "strategy_id", "n_trades", "win_rate", "sharpe",
                      "max_drawdown", "total_return", "score", "status"]


def genome_records(outcomes: pd.DataFrame) -> dict[str, GenomeRecord]:
    """Each genome's outcomes in exit order (ties by symbol, then signal day), split out
    once: (day known, return, signal day); an evaluation day's window is a slice."""
    outcomes = outcomes.sort_values(["known_as_of", "symbol", "signal_as_of"],
                                    kind="mergesort")
    known = pd.to_datetime(outcomes["known_as_of"]).to_numpy().astype("datetime64[D]")
    signal = pd.to_datetime(outcomes["signal_as_of"]).to_numpy().astype("datetime64[D]")
    strategy_ids = outcomes["strategy_id"].to_numpy()
    returns = outcomes["return"].to_numpy(dtype=float)
    records = {}
    for strategy_id in pd.unique(strategy_ids):
        mine = strategy_ids == strategy_id
        records[str(strategy_id)] = (known[mine], returns[mine], signal[mine])
    return records


_EMPTY_RECORD: GenomeRecord = (np.array([], dtype="datetime64[D]"), np.array([]),
                               np.array([], dtype="datetime64[D]"))


def known_between(record: GenomeRecord, first: date, last: date) -> slice:
    """The outcomes of ``record`` known in (first, last]."""
    known = record[0]
    return slice(np.searchsorted(known, np.datetime64(first, "D"), side="right"),
                 np.searchsorted(known, np.datetime64(last, "D"), side="right"))


def book_window(book: GenomeBook, first: date, last: date) -> np.ndarray:
    """The book's daily returns on its days in (first, last]."""
    days, returns = book
    return returns[np.searchsorted(days, np.datetime64(first, "D"), side="right"):
                   np.searchsorted(days, np.datetime64(last, "D"), side="right")]


def book_figures(book: GenomeBook, first: date, last: date) -> dict[str, float]:
    """Sharpe, drawdown and total return of the book's days in (first, last]."""
    return core_daily_stats(book_window(book, first, last))


def score_day(day: date, genomes: list[StrategyGenome], records: dict[str, GenomeRecord],
              status: dict[str, str], books: Mapping[str, GenomeBook] | None = None
              ) -> list[dict]:
    """Each genome's row at ``day``: its figures over the outcomes known in the year up to
    it (Sharpe, drawdown and return from its book's year where ``books`` has one), and its
    status after the bar (a second miss in a row eliminates; an eliminated genome does not
    come back by passing)."""
    rows = []
    for genome in genomes:
        record = records.get(genome.strategy_id, _EMPTY_RECORD)
        trades = record[1][known_between(record, day - EVALUATION_WINDOW, day)]
        book = (books or {}).get(genome.strategy_id)
        if book is None:
            stats = summarise_outcomes(trades)
        else:  # the trades' count and win rate, the book's figures
            trades = trades[np.isfinite(trades)]
            stats = {"n_trades": int(trades.size),
                     "win_rate": float((trades > 0).mean()) if trades.size else math.nan,
                     **book_figures(book, day - EVALUATION_WINDOW, day)}
        score = strategy_score(stats)
        before = status.get(genome.strategy_id, "active")
        if _fails(stats, score):
            new = "eliminated" if before in ("watch", "eliminated") else "watch"
        else:
            new = "active" if before != "eliminated" else "eliminated"
        rows.append({"as_of": day, "strategy_id": genome.strategy_id, **stats,
                     "score": score, "status": new})
    return rows


def apply_floor(day_rows: list[dict],
                established: Callable[[str], bool] = lambda _: True) -> None:
    """Reinstate the best-scoring eliminated genomes (ties to the lower id) while fewer
    than ``POOL_FLOOR`` established ones are tradeable. Only ``established`` genomes count
    and come back: newborns on probation trade small and have proven nothing, so a pool
    of them alone would leave the agent on unproven genomes at probation size."""
    tradeable = [r for r in day_rows
                 if r["status"] in TRADEABLE and established(r["strategy_id"])]
    if len(tradeable) < POOL_FLOOR:
        candidates = sorted((r for r in day_rows if r["status"] == "eliminated"
                             and established(r["strategy_id"])),
                            key=lambda r: (-r["score"], r["strategy_id"]))
        for row in candidates[: POOL_FLOOR - len(tradeable)]:
            row["status"] = "reinstated"


def carried_status(stored: str) -> str:
    """A reinstated genome is on probation, as a watched one is: the stored label says
    "reinstated", the state machine carries "watch" (it fails out at its next miss)."""
    return "watch" if stored == "reinstated" else stored


def evaluate_pool(
    genomes: list[StrategyGenome],
    outcomes: pd.DataFrame,
    evaluation_days: list[date],
    previous_status: dict[str, str],
) -> pd.DataFrame:
    """One row per (evaluation day, genome), using outcomes known by that day only.

    At each day a genome is judged on its outcomes with ``known_as_of`` in
    (day - EVALUATION_WINDOW, day], in exit order (ties by symbol, then signal day).
    """
    rows = []
    status = {k: carried_status(v) for k, v in previous_status.items()}
    records = genome_records(outcomes)
    for day in evaluation_days:
        day_rows = score_day(day, genomes, records, status)
        apply_floor(day_rows)
        for row in day_rows:
            status[row["strategy_id"]] = carried_status(row["status"])
        rows.extend(day_rows)
    frame = pd.DataFrame(rows)
    return frame[EVALUATION_COLUMNS] if not frame.empty else pd.DataFrame(
        columns=EVALUATION_COLUMNS)


def week_ends(trading_days: list[date]) -> list[date]:
    """The last trading day of each ISO week among ``trading_days``."""
    by_week: dict[tuple[int, int], date] = {}
    for day in sorted(trading_days):
        iso = day.isocalendar()
        by_week[(iso.year, iso.week)] = day
    return sorted(by_week.values())


def evaluation_days(sessions: list[date], start: date, end: date) -> list[date]:
    """The gene pool's evaluation days in [start, end]: each week's last exchange session.
    Pass the sessions of a week past ``end`` too, so a window ending mid-week does not
    take its last day for a week's end (the calendar is known ahead; the data is not)."""
    return [d for d in week_ends(sessions) if start <= d <= end]
