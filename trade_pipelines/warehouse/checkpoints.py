"""Month-by-month commits that a re-run resumes from.

A replay of ten years is one Dagster run, and each step walks its whole range. Were each
step to write its range in one transaction, a run killed near its end would lose every
step's work and start over. Instead the long steps commit month by month, and each
commit records a fingerprint of everything that month's output was computed from (the
step's inputs for the month, the fingerprint of the month before, the code). Run again,
a step skips the leading months whose stored fingerprint matches what it would compute
from now, and computes from the first month that does not: the same data and code give
the same fingerprints, so a rerun after a kill redoes only the month it was killed in
and what follows, while any change upstream (a re-imported bar, a new control event, an
edited rule) changes the fingerprint and the month is computed again.

Skipping stops at the first month that is computed: every later month is computed too,
since its stored rows may rest on the month just rewritten.
"""

from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from trade_pipelines.warehouse.connection import Warehouse

CHECKPOINT_TABLE = "step_checkpoints"
COMMIT_EVERY_S = 2.0


@dataclass(frozen=True)
class MonthSlice:
    """The part of one calendar month that a run covers."""

    first: date
    last: date


def month_slices(start: date, end: date) -> list[MonthSlice]:
    """[start, end] cut at month boundaries, in order."""
    slices = []
    first = start
    while first <= end:
        next_month = (first.replace(day=1) + timedelta(days=32)).replace(day=1)
        last = min(end, next_month - timedelta(days=1))
        slices.append(MonthSlice(first, last))
        first = next_month
    return slices


def split_by_month(frame: pd.DataFrame, months: list[MonthSlice],
                   column: str = "as_of") -> list[pd.DataFrame]:
    """The frame's rows of each month slice, in the order of ``months``."""
    if frame.empty or not months:
        return [frame.iloc[0:0]] * len(months)
    days = pd.to_datetime(frame[column]).to_numpy(dtype="datetime64[D]")
    edges = np.array([np.datetime64(m.first, "D") for m in months]
                     + [np.datetime64(months[-1].last, "D") + 1])
    position = np.searchsorted(edges, days, side="right") - 1
    position[days < edges[0]] = -1
    return [frame[position == i] for i in range(len(months))]


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A digest of the project's source: a checkpoint made by other code is never reused."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _hashable(column: pd.Series) -> pd.Series:
    """Numbers and text hash as they are; dates by their timestamps; anything else by its
    text."""
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
        return column
    kind = pd.api.types.infer_dtype(column, skipna=True)
    if kind == "string":
        return column
    if kind in ("date", "datetime"):
        return pd.to_datetime(column)
    return column.astype(str)


def fingerprint(*parts: object) -> str:
    """A digest of frames and plain values, stable across processes and runs."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, pd.DataFrame):
            digest.update(repr((list(part.columns), len(part))).encode())
            for _, column in part.items():
                if len(column):
                    digest.update(pd.util.hash_pandas_object(_hashable(column), index=False)
                                  .to_numpy().tobytes())
        else:
            digest.update(repr(part).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


class StepCheckpoints:
    """The months one step has committed in the warehouse, with their fingerprints.

    Computed months are staged and committed together, one transaction every
    ``commit_every_s`` seconds at most (and at the end): a commit costs tens of
    milliseconds, so one per month would tax a ten-year replay, while a kill still loses
    no more than the last few seconds of work."""

    def __init__(self, store: Warehouse, step: str,
                 commit_every_s: float = COMMIT_EVERY_S,
                 kinds: dict[str, list[str]] | None = None) -> None:
        self.store = store
        self.step = step
        self.commit_every_s = commit_every_s
        self.kinds = kinds  # tables shared with other steps: the kinds of rows it owns
        stored = store.query(f"SELECT first_day, last_day, fingerprint FROM {CHECKPOINT_TABLE} "
                             "WHERE step = ?", [step])
        self._stored = {
            (pd.Timestamp(first).date(), pd.Timestamp(last).date()): digest
            for first, last, digest in stored.itertuples(index=False, name=None)
        } if not stored.empty else {}
        self.skipped: list[MonthSlice] = []
        self.computed: list[MonthSlice] = []
        self._staged: list[tuple[MonthSlice, str, dict[str, pd.DataFrame]]] = []
        self._updates: list[dict[str, tuple[pd.DataFrame, list[str]]]] = []
        self._last_commit = time.monotonic()

    def chain(self, month: MonthSlice, previous: str, *inputs: object) -> str:
        """The month's fingerprint: the step, the code, the month before and its inputs."""
        return fingerprint(self.step, code_fingerprint(), month.first, month.last, previous,
                           *inputs)

    def can_skip(self, month: MonthSlice, digest: str) -> bool:
        """True while every month so far was skipped and this one's rows were committed
        from exactly these inputs."""
        if self.computed or self._stored.get((month.first, month.last)) != digest:
            return False
        self.skipped.append(month)
        return True

    def stage(self, month: MonthSlice, digest: str,
              frames: dict[str, pd.DataFrame] | None = None,
              updates: dict[str, tuple[pd.DataFrame, list[str]]] | None = None,
              ) -> list[dict[str, pd.DataFrame]]:
        """Queue the month's rows (each table's rows of the month replace the stored ones),
        rows of earlier days it updates (``updates``: table -> rows and their key, written
        after the replacement) and its checkpoint; commits when the last commit is old
        enough. Returns the frames of the months committed now."""
        self._staged.append((month, digest, frames or {}))
        self._updates.append(updates or {})
        self.computed.append(month)
        if time.monotonic() - self._last_commit >= self.commit_every_s:
            return self.flush()
        return []

    def flush(self) -> list[dict[str, pd.DataFrame]]:
        """Commit every staged month in one transaction; returns their frames.

        Staged months are consecutive, so each table's rows over their whole span are
        replaced at once (one delete and one insert a table, not one a month)."""
        staged, self._staged = self._staged, []
        updates, self._updates = self._updates, []
        if staged:
            first, last = staged[0][0].first, staged[-1][0].last
            tables: dict[str, list[pd.DataFrame]] = {}
            for _, _, frames in staged:
                for table, frame in frames.items():
                    tables.setdefault(table, []).append(frame)
            now = datetime.now(UTC).replace(tzinfo=None)
            rows = pd.DataFrame([{"step": self.step, "first_day": month.first,
                                  "last_day": month.last, "fingerprint": digest,
                                  "committed_at": now} for month, digest, _ in staged])
            with self.store.transaction() as connection:
                self.store.replace_days(
                    {table: pd.concat([f for f in frames if not f.empty] or frames[:1],
                                      ignore_index=True)
                     for table, frames in tables.items()}, first, last, connection,
                    self.kinds)
                for month_updates in updates:  # in month order: a later outcome wins
                    for table, (frame, keys) in month_updates.items():
                        self.store.upsert(table, frame, keys, connection)
                # A checkpoint of another slice overlapping these days (a month a run
                # covered in part, say) no longer describes the stored rows: forget it.
                connection.execute(f"DELETE FROM {CHECKPOINT_TABLE} WHERE step = ? AND "
                                   "first_day <= ? AND last_day >= ?", [self.step, last, first])
                self.store.insert_frame(connection, CHECKPOINT_TABLE, rows)
            self._stored = {key: value for key, value in self._stored.items()
                            if key[0] > last or key[1] < first}
            for month, digest, _ in staged:
                self._stored[(month.first, month.last)] = digest
        self._last_commit = time.monotonic()
        return [frames for _, _, frames in staged]

    def summary(self) -> dict[str, int]:
        return {"months_computed": len(self.computed), "months_resumed": len(self.skipped)}


class WindowCheckpoint:
    """A quick step's whole window as one checkpointed slice: ``kept`` when its stored
    rows were computed from exactly these inputs, otherwise ``commit`` writes the new
    rows and the checkpoint in one transaction."""

    def __init__(self, store: Warehouse, step: str, window: MonthSlice,
                 *inputs: object) -> None:
        self._checkpoints = StepCheckpoints(store, step)
        self._window = window
        self._digest = self._checkpoints.chain(window, "", *inputs)
        self.kept = self._checkpoints.can_skip(window, self._digest)

    def commit(self, frames: dict[str, pd.DataFrame] | None = None) -> None:
        self._checkpoints.stage(self._window, self._digest, frames)
        self._checkpoints.flush()
