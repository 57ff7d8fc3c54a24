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
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from trade_pipelines.warehouse.connection import Warehouse

CHECKPOINT_TABLE = "step_checkpoints"


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


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A digest of the project's source: a checkpoint made by other code is never reused."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def fingerprint(*parts: object) -> str:
    """A digest of frames and plain values, stable across processes and runs."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, pd.DataFrame):
            digest.update(repr((list(part.columns), [str(t) for t in part.dtypes],
                                len(part))).encode())
            if len(part):
                hashed = pd.util.hash_pandas_object(part.astype(str), index=False)
                digest.update(hashed.to_numpy().tobytes())
        else:
            digest.update(repr(part).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


class StepCheckpoints:
    """The months one step has committed in the warehouse, with their fingerprints."""

    def __init__(self, store: Warehouse, step: str) -> None:
        self.store = store
        self.step = step
        stored = store.query(f"SELECT first_day, last_day, fingerprint FROM {CHECKPOINT_TABLE} "
                             "WHERE step = ?", [step])
        self._stored = {
            (pd.Timestamp(first).date(), pd.Timestamp(last).date()): digest
            for first, last, digest in stored.itertuples(index=False, name=None)
        } if not stored.empty else {}
        self.skipped: list[MonthSlice] = []
        self.computed: list[MonthSlice] = []

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

    def record(self, connection: duckdb.DuckDBPyConnection, month: MonthSlice,
               digest: str) -> None:
        """Mark the month committed, inside the transaction that wrote its rows."""
        row = pd.DataFrame([{"step": self.step, "first_day": month.first,
                             "last_day": month.last, "fingerprint": digest,
                             "committed_at": datetime.now(UTC).replace(tzinfo=None)}])
        self.store.upsert(CHECKPOINT_TABLE, row, ["step", "first_day", "last_day"],
                          connection)
        self._stored[(month.first, month.last)] = digest
        self.computed.append(month)

    def commit(self, month: MonthSlice, digest: str,
               frames: dict[str, pd.DataFrame]) -> dict[str, int]:
        """Replace the month's rows of every table and record the checkpoint, atomically."""
        with self.store.transaction() as connection:
            counts = self.store.replace_days(frames, month.first, month.last, connection)
            self.record(connection, month, digest)
        return counts

    def summary(self) -> dict[str, int]:
        return {"months_computed": len(self.computed), "months_resumed": len(self.skipped)}
