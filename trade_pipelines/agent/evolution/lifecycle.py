"""The gene pool's life: at each evaluation day genomes are judged, newborns promoted
or eliminated, and new genomes bred (``operators.py``).

A newborn is on probation: it trades a small allocation (``PROBATION_SCALE``) until
out-of-sample evidence promotes it. Only what happened after its birth counts: at least
``MIN_OOS_TRADES`` trades signalled after it, and its daily book since birth in excess
of the tradeable genomes' mean book, with at least ``MIN_POSITIVE_FOLDS`` of
``WALK_FORWARD_FOLDS`` consecutive slices of positive mean and a deflated Sharpe ratio
of at least ``MIN_DEFLATED_SHARPE``: the chance its Sharpe beats the best of every
genome the pool has tried by then under no skill, their spread measured on the
tradeable genomes' excess books over the same days. It must also pass the
pool's bar that day. The evidence is looked at only every ``PROMOTION_LOOK_WEEKS``
weeks after birth, not weekly: each look is another chance to promote luck. A newborn that
misses the bar twice running is eliminated, as any genome is, and so is one still
unpromoted after ``PROBATION_LIMIT``. Eliminated newborns leave the pool; eliminated
seeds stay as the floor's reserve. At most ``MAX_LIVING`` genomes live at once.

Everything decided on a day reads outcomes known by that day and the day's own seed, and
the state between days is ``PoolState`` (the registry, the last statuses and the
promotions), which the warehouse stores, so a replay split anywhere equals one run.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from trade_pipelines.agent.evolution.books import BookMarket, books_of
from trade_pipelines.agent.evolution.evaluation import (
    EVALUATION_COLUMNS,
    EVALUATION_WINDOW,
    MIN_SCORE,
    OUTCOME_COLUMNS,
    TRADEABLE,
    GenomeBook,
    GenomeRecord,
    _outcomes,
    apply_floor,
    book_window,
    carried_status,
    genome_records,
    known_between,
    score_day,
)
from trade_pipelines.agent.evolution.genomes import (
    SEEDED_STRATEGIES,
    StrategyGenome,
    entry_signal,
    genome_from_json,
    indicator,
    missing_indicators,
)
from trade_pipelines.agent.evolution.operators import breed
from trade_pipelines.agent.reflection.performance import total_return
from trade_pipelines.agent.reflection.scoreboard_stats import deflated_sharpe_ratio

PROBATION_SCALE = 0.4
MAX_LIVING = 24
PROBATION_LIMIT = timedelta(weeks=52)
MIN_OOS_TRADES = 20
WALK_FORWARD_FOLDS = 3
MIN_POSITIVE_FOLDS = 2
MIN_DEFLATED_SHARPE = 0.80
PROMOTION_LOOK_WEEKS = 13
# The seed design's check: a genome's recent result beside the same window a year before.
RECENT_WINDOW = timedelta(days=91)
EXTRA_COLUMNS = ["oos_trades", "deflated_sharpe", "recent_return", "year_ago_return"]
POOL_COLUMNS = [*EVALUATION_COLUMNS, *EXTRA_COLUMNS]
HISTORY_COLUMNS = ["as_of", "strategy_id", "event", "old_status", "new_status", "reason",
                   "statistics"]
STRATEGY_COLUMNS = ["strategy_id", "name", "family", "genome", "parents", "origin", "as_of",
                    "status", "generation", "born_as_of"]


@dataclass(frozen=True)
class Lineage:
    genome: StrategyGenome
    origin: str                   # seed, mutation, crossover or wild
    parents: tuple[str, ...] = ()
    generation: int = 0
    born_as_of: date | None = None

    def row(self, status: str) -> dict[str, object]:
        """The ``strategies`` row, with the genome's latest status."""
        g = self.genome
        return {"strategy_id": g.strategy_id, "name": g.name, "family": g.family,
                "genome": g.genome_json(), "parents": json.dumps(list(self.parents)),
                "origin": self.origin, "as_of": self.born_as_of, "status": status,
                "generation": self.generation, "born_as_of": self.born_as_of}


@dataclass
class PoolState:
    """What the pool carries from one evaluation day to the next."""

    lineages: dict[str, Lineage]               # every genome known, dead ones included
    status: dict[str, str]                     # last stored status of each living genome
    promoted: dict[str, date] = field(default_factory=dict)

    @classmethod
    def seeded(cls) -> PoolState:
        return cls({g.strategy_id: Lineage(g, "seed") for g in SEEDED_STRATEGIES},
                   {g.strategy_id: "active" for g in SEEDED_STRATEGIES})

    @classmethod
    def from_tables(cls, strategies: pd.DataFrame, last_statuses: pd.DataFrame,
                    promotions: pd.DataFrame) -> PoolState:
        """The state stored before a window: ``strategies`` born before it (and seeds),
        the statuses of the last evaluation before it, and the promotions before it."""
        state = cls.seeded()
        for row in strategies.itertuples():
            if row.origin == "seed":
                continue
            state.lineages[row.strategy_id] = Lineage(
                genome_from_json(row.genome), row.origin, tuple(json.loads(row.parents)),
                int(row.generation), pd.Timestamp(row.born_as_of).date())
        if not last_statuses.empty:
            # An eliminated newborn left the pool (``step``); an eliminated seed stays,
            # in reserve for the floor.
            state.status = {
                sid: status for sid, status in zip(last_statuses["strategy_id"],
                                                   last_statuses["status"], strict=True)
                if status != "eliminated" or state.lineages[sid].origin == "seed"}
        state.promoted = {r.strategy_id: pd.Timestamp(r.as_of).date()
                          for r in promotions.itertuples()}
        return state

    def on_probation(self, strategy_id: str) -> bool:
        return self.lineages[strategy_id].origin != "seed" and \
            strategy_id not in self.promoted


@dataclass
class PoolRun:
    outcomes: pd.DataFrame       # every living genome's setup outcomes (the record book)
    evaluations: pd.DataFrame    # one row per (evaluation day, living genome)
    history: pd.DataFrame        # status changes with their reasons and statistics
    state: PoolState

    def strategies(self, born_from: date | None = None) -> pd.DataFrame:
        """``strategies`` rows of the genomes born on or after ``born_from`` (all bred
        genomes without it), each with its latest status."""
        latest = dict(self.state.status)
        if not self.evaluations.empty:
            last = self.evaluations.groupby("strategy_id")["status"].last()
            latest = {**last.to_dict(), **latest}
        rows = [lin.row(latest.get(sid, "eliminated"))
                for sid, lin in sorted(self.state.lineages.items())
                if lin.born_as_of is not None
                and (born_from is None or lin.born_as_of >= born_from)]
        return pd.DataFrame(rows, columns=STRATEGY_COLUMNS)


class Probation:
    """Which genomes trade on probation on a day, and at what scale of the usual size."""

    def __init__(self, born: dict[str, date], promoted: dict[str, date]) -> None:
        self.born, self.promoted = born, promoted

    @classmethod
    def of(cls, state: PoolState) -> Probation:
        return cls({k: v.born_as_of for k, v in state.lineages.items()
                    if v.born_as_of is not None}, dict(state.promoted))

    def scale(self, strategy_id: str, day: date) -> float:
        """A newborn trades at ``PROBATION_SCALE`` until the day after its promotion."""
        if strategy_id not in self.born:
            return 1.0
        promoted = self.promoted.get(strategy_id)
        return PROBATION_SCALE if promoted is None or day <= promoted else 1.0


def weeks_since_birth(born: date | None, day: date) -> int:
    """Calendar weeks from the week of birth to the week of ``day``: one evaluation day
    falls in each, so a look every k weeks is one evaluation day in k."""
    if born is None:
        return 0
    return ((day - timedelta(days=day.weekday())) - (born - timedelta(days=born.weekday()))
            ).days // 7


def _nan_to_none(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 6)


class GenePool:
    """The pool over a run: its genomes' outcomes and daily books (computed once, at
    birth, over the whole history given) and state."""

    def __init__(self, features: pd.DataFrame, state: PoolState, evolve: bool = True) -> None:
        self.features = features.sort_values(["symbol", "as_of"], kind="mergesort")
        self.state = state
        self.evolve = evolve
        self.frames: dict[str, pd.DataFrame] = {}
        self.records: dict[str, GenomeRecord] = {}
        self.books: dict[str, GenomeBook] = {}
        self._market = BookMarket.of(self.features)
        self._book_days = np.array(self._market.days, dtype="datetime64[D]")
        self._indicators: dict[str, pd.Series] = {}
        self._learn([self.state.lineages[s].genome for s in sorted(self.state.status)])

    def _learn(self, genomes: list[StrategyGenome]) -> None:
        """Compute the outcomes of genomes not seen yet (each genome once a run)."""
        fresh = [g for g in genomes if g.strategy_id not in self.frames]
        if not fresh:
            return
        entries = np.zeros((len(fresh), *self._market.close.shape), dtype=np.bool_)
        for g, genome in enumerate(fresh):
            features = self._features_for(genome)
            signal = entry_signal(genome, features).to_numpy(dtype=np.bool_)
            frame = _outcomes(genome, features, signal).assign(strategy_id=genome.strategy_id)
            self.frames[genome.strategy_id] = frame
            self.records.update(genome_records(frame) if not frame.empty else {})
            entries[g] = self._market.place(signal)
        books = books_of(fresh, entries, self._market.close, self._market.cost, workers=1)
        for g, genome in enumerate(fresh):
            self.books[genome.strategy_id] = (self._book_days, books.daily_returns[g])

    def _features_for(self, genome: StrategyGenome) -> pd.DataFrame:
        """The features with the indicator columns this genome reads, each computed once a
        run. A narrow frame per genome: growing one frame by every bred window would copy
        it whole at each birth."""
        missing = missing_indicators(self.features, [genome])
        if not missing:
            return self.features
        for column, (kind, n) in missing.items():
            if column not in self._indicators:
                self._indicators[column] = indicator(self.features, kind, n)
        added = pd.DataFrame({c: self._indicators[c] for c in sorted(missing)},
                             index=self.features.index)
        return pd.concat([self.features, added], axis=1)

    def _oos_trades(self, strategy_id: str, day: date) -> int:
        """Trades signalled after the genome's birth and known by ``day`` (0 for a seed)."""
        born = self.state.lineages[strategy_id].born_as_of
        record = self.records.get(strategy_id)
        if born is None or record is None:
            return 0
        window = known_between(record, born, day)
        return int((record[2][window] > np.datetime64(born, "D")).sum())

    def trials(self, day: date) -> int:
        """Every genome the pool has tried by ``day``: the seeds and each one born by then,
        living or not."""
        return sum(1 for v in self.state.lineages.values()
                   if v.born_as_of is None or v.born_as_of <= day)

    def _excess_books(self, strategy_id: str, day: date) -> tuple[np.ndarray, np.ndarray]:
        """The newborn's daily book since birth and the tradeable genomes' books over the
        same days, each less the tradeable genomes' mean book: every genome is long the
        same stocks, so a bull market lifts them all, and only what a genome earns beyond
        the pool's common part is evidence of skill."""
        born = self.state.lineages[strategy_id].born_as_of
        days = self._book_days
        first = np.searchsorted(days, np.datetime64(born, "D"), side="right")
        last = np.searchsorted(days, np.datetime64(day, "D"), side="right")
        tradeable = sorted({s for s, v in self.state.status.items() if v in TRADEABLE}
                           | {strategy_id})
        books = np.stack([self.books[s][1][first:last] for s in tradeable])
        common = books.mean(axis=0)
        return self.books[strategy_id][1][first:last] - common, books - common

    def _deflated_sharpe(self, strategy_id: str, day: date) -> float:
        """The deflated Sharpe ratio of the newborn's excess book since birth
        (``_excess_books``): the chance its true Sharpe beats the best of ``trials``
        skill-less genomes, their spread of Sharpe ratios measured on the tradeable
        genomes' excess books over the same days. Too little evidence to say: 0."""
        mine, books = self._excess_books(strategy_id, day)
        with np.errstate(divide="ignore", invalid="ignore"):
            sharpes = books.mean(axis=1) / books.std(axis=1, ddof=1)
        finite = sharpes[np.isfinite(sharpes)]
        variance = float(np.var(finite, ddof=1)) if finite.size > 1 else math.nan
        value = deflated_sharpe_ratio(mine, self.trials(day), variance)
        return value if math.isfinite(value) else 0.0

    def _figures(self, strategy_id: str, day: date) -> dict[str, float]:
        book = self.books[strategy_id]

        def total(first: date, last: date) -> float:
            return total_return(book_window(book, first, last))

        year_ago = day - EVALUATION_WINDOW
        looked = self.state.on_probation(strategy_id) and self._look(strategy_id, day)
        dsr = self._deflated_sharpe(strategy_id, day) if looked else math.nan
        return {"oos_trades": self._oos_trades(strategy_id, day), "deflated_sharpe": dsr,
                "recent_return": total(day - RECENT_WINDOW, day),
                "year_ago_return": total(year_ago - RECENT_WINDOW, year_ago)}

    def _look(self, strategy_id: str, day: date) -> bool:
        """Is ``day`` one of the newborn's looks at its evidence?"""
        weeks = weeks_since_birth(self.state.lineages[strategy_id].born_as_of, day)
        return weeks > 0 and weeks % PROMOTION_LOOK_WEEKS == 0

    def _promotion(self, row: dict, day: date) -> str | None:
        """The reason to promote a newborn that passed today's bar, or None (also on a
        day that is not one of its looks). ``row``: its evaluation row of the day."""
        sid = row["strategy_id"]
        if not self._look(sid, day) or row["oos_trades"] < MIN_OOS_TRADES:
            return None
        born = self.state.lineages[sid].born_as_of
        excess, _ = self._excess_books(sid, day)
        positive = sum(int(fold.mean() > 0)
                       for fold in np.array_split(excess, WALK_FORWARD_FOLDS))
        dsr = row["deflated_sharpe"]
        if positive < MIN_POSITIVE_FOLDS or not dsr >= MIN_DEFLATED_SHARPE:
            return None
        return (f"promoted on out-of-sample evidence at week {weeks_since_birth(born, day)}: "
                f"{row['oos_trades']} trades after birth, {positive}/{WALK_FORWARD_FOLDS} "
                f"walk-forward slices of its daily book since birth ahead of the pool's "
                f"mean, deflated Sharpe of that excess {dsr:.2f} against the "
                f"{self.trials(day)} genomes tried")

    def step(self, day: date) -> tuple[list[dict], list[dict]]:
        """Judge, promote, eliminate and breed at one evaluation day: its evaluation rows
        and its history rows."""
        state = self.state
        living = sorted(state.status)
        genomes = [state.lineages[s].genome for s in living]
        carried = {s: carried_status(v) for s, v in state.status.items()}
        rows = score_day(day, genomes, self.records, carried, self.books)
        reasons: dict[str, str] = {}
        for row in rows:
            sid = row["strategy_id"]
            row.update(self._figures(sid, day))
            if not state.on_probation(sid):
                continue
            born = state.lineages[sid].born_as_of
            if row["status"] == "active":
                promotion = self._promotion(row, day)
                if promotion:
                    reasons[sid] = promotion
                    state.promoted[sid] = day
                elif born is not None and day - born > PROBATION_LIMIT:
                    row["status"] = "eliminated"
                    reasons[sid] = (f"probation expired after {(day - born).days // 7} weeks "
                                    f"without out-of-sample evidence ({row['oos_trades']} "
                                    "trades after birth)")
                else:
                    row["status"] = "probation"
        apply_floor(rows, lambda s: not state.on_probation(s))
        history = [self._change(day, row, state.status.get(row["strategy_id"]), reasons)
                   for row in rows if row["status"] != state.status.get(row["strategy_id"])]
        for row in rows:
            sid = row["strategy_id"]
            if row["status"] == "eliminated" and state.lineages[sid].origin != "seed":
                del state.status[sid]       # an eliminated newborn leaves the pool
            else:
                state.status[sid] = row["status"]
        if self.evolve:
            born_rows, born_history = self._breed(day, rows)
            rows += born_rows
            history += born_history
        return rows, history

    def _change(self, day: date, row: dict, old: str | None, reasons: dict[str, str]) -> dict:
        new = row["status"]
        figures = (f"win rate {row['win_rate']:.0%}, Sharpe {row['sharpe']:.2f}, "
                   f"score {row['score']:.0f} on {row['n_trades']} trades"
                   if row["n_trades"] else "no trade known in the year")
        event, reason = {
            "watch": ("watch", f"missed the bar ({figures})"),
            "eliminated": ("elimination", f"missed the bar twice running ({figures})"),
            "reinstated": ("reinstatement", f"reinstated at the pool floor ({figures})"),
            "probation": ("recovery", f"back above the bar, still on probation ({figures})"),
            "active": ("recovery", f"back above the bar ({figures})"),
        }[new]
        sid = row["strategy_id"]
        if sid in reasons:
            event = "promotion" if new == "active" else "elimination"
            reason = reasons[sid]
        return {"as_of": day, "strategy_id": sid, "event": event, "old_status": old,
                "new_status": new, "reason": reason, "statistics": self._statistics(row)}

    @staticmethod
    def _statistics(row: dict) -> str:
        keys = ["n_trades", "win_rate", "sharpe", "score", *EXTRA_COLUMNS]
        return json.dumps({k: _nan_to_none(row[k]) for k in keys}, sort_keys=True)

    def _breed(self, day: date, rows: list[dict]) -> tuple[list[dict], list[dict]]:
        state = self.state
        ranked = sorted((r for r in rows if r["status"] in TRADEABLE
                         and r["score"] >= MIN_SCORE),
                        key=lambda r: (-r["score"], r["strategy_id"]))
        alive = sum(1 for v in state.status.values() if v in TRADEABLE)
        births = breed(day, [state.lineages[r["strategy_id"]].genome for r in ranked],
                       set(state.lineages), MAX_LIVING - alive, day.day <= 7)
        born_rows, history = [], []
        for birth in births:
            sid = birth.genome.strategy_id
            generation = 1 + max((state.lineages[p].generation for p in birth.parents),
                                 default=0)
            state.lineages[sid] = Lineage(birth.genome, birth.origin, birth.parents,
                                          generation, day)
        self._learn([b.genome for b in births])
        for birth in births:
            sid = birth.genome.strategy_id
            row = score_day(day, [birth.genome], self.records, {}, self.books)[0]
            row.update(self._figures(sid, day), status="probation")
            state.status[sid] = "probation"
            born_rows.append(row)
            parents = " x ".join(birth.parents) or "no parent"
            history.append({"as_of": day, "strategy_id": sid, "event": "birth",
                            "old_status": None, "new_status": "probation",
                            "reason": f"born by {birth.origin} of {parents} "
                                      f"(in-sample score {row['score']:.0f})",
                            "statistics": self._statistics(row)})
        return born_rows, history

    def run(self, days: list[date]) -> PoolRun:
        evaluations, history = [], []
        for day in days:
            rows, changes = self.step(day)
            evaluations += rows
            history += changes
        frames = [f for f in self.frames.values() if not f.empty]
        outcomes = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            columns=[*OUTCOME_COLUMNS, "strategy_id"])
        return PoolRun(outcomes, pd.DataFrame(evaluations, columns=POOL_COLUMNS),
                       pd.DataFrame(history, columns=HISTORY_COLUMNS), self.state)
