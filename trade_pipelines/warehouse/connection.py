"""One module owns every DuckDB connection.

DuckDB lets one process write a file, and while any process holds the file open (even
read-only) no other process can write it. So nobody keeps a connection: the writer opens,
writes one transaction and closes; readers open read-only, query and close. Both retry
on the lock error for a bounded time, so a supervisor app reading while a replay writes
slows either side down by milliseconds and breaks neither.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from trade_pipelines.warehouse.schema import MIGRATIONS

LOCK_MARKERS = ("Could not set lock", "Conflicting lock", "database is locked")


class WarehouseLockedError(RuntimeError):
    """Another process held the warehouse for longer than the retry budget."""


def _is_lock_error(error: Exception) -> bool:
    return any(marker in str(error) for marker in LOCK_MARKERS)


class Warehouse:
    """The warehouse file at ``path``; every method opens and closes its own connection."""

    def __init__(self, path: Path | str, lock_timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s

    # -- connections -------------------------------------------------------------------
    @contextlib.contextmanager
    def _connect(self, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.005
        while True:
            try:
                connection = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.Error as error:
                if not _is_lock_error(error) or time.monotonic() > deadline:
                    if _is_lock_error(error):
                        raise WarehouseLockedError(
                            f"warehouse {self.path} stayed locked for "
                            f"{self.lock_timeout_s:.0f}s: {error}"
                        ) from error
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
        try:
            yield connection
        finally:
            connection.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write transaction: all of it lands, or none of it."""
        with self._connect(read_only=False) as connection:
            connection.execute("BEGIN TRANSACTION")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    # -- schema ------------------------------------------------------------------------
    def migrate(self) -> int:
        """Apply pending migrations; returns the schema version."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.transaction() as connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                "applied_at TIMESTAMP DEFAULT current_timestamp)"
            )
            applied = {row[0] for row in connection.execute(
                "SELECT version FROM schema_version").fetchall()}
            for version, ddl in MIGRATIONS:
                if version in applied:
                    continue
                connection.execute(ddl)
                connection.execute("INSERT INTO schema_version (version) VALUES (?)", [version])
            return max(v for v, _ in MIGRATIONS)

    # -- reads -------------------------------------------------------------------------
    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        """Run a read-only query; an absent warehouse reads as empty."""
        if not self.path.exists():
            return pd.DataFrame()
        with self._connect(read_only=True) as connection:
            return connection.execute(sql, params or []).df()

    def table_exists(self, table: str) -> bool:
        if not self.path.exists():
            return False
        found = self.query(
            "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = ?", [table]
        )
        return bool(found["n"].iloc[0])

    # -- writes ------------------------------------------------------------------------
    # Every write takes an optional open ``connection`` so several of them can share one
    # transaction; without it, each is a transaction of its own.
    @contextlib.contextmanager
    def _writing(self, connection: duckdb.DuckDBPyConnection | None
                 ) -> Iterator[duckdb.DuckDBPyConnection]:
        if connection is not None:
            yield connection
        else:
            with self.transaction() as own:
                yield own

    @staticmethod
    def insert_frame(connection: duckdb.DuckDBPyConnection, table: str,
                     frame: pd.DataFrame) -> None:
        """Insert the frame's rows; its columns name the table's."""
        if frame.empty:
            return
        connection.register("incoming_frame", frame)
        try:
            columns = ", ".join(f'"{c}"' for c in frame.columns)
            connection.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM incoming_frame"
            )
        finally:
            connection.unregister("incoming_frame")

    @staticmethod
    @contextlib.contextmanager
    def _incoming_keys(connection: duckdb.DuckDBPyConnection, frame: pd.DataFrame,
                       keys: list[str]) -> Iterator[str]:
        """The frame's keys (and row positions, ``_row``) as the view ``incoming_keys``
        while the block runs; yields the SQL condition matching a stored row ``t`` to an
        incoming key ``k``."""
        connection.register("incoming_keys", frame[keys].assign(_row=range(len(frame))))
        try:
            yield " AND ".join(f't."{k}" = k."{k}"' for k in keys)
        finally:
            connection.unregister("incoming_keys")

    def replace_days(
        self, tables: dict[str, pd.DataFrame], start: date, end: date,
        connection: duckdb.DuckDBPyConnection | None = None,
        kinds: dict[str, list[str]] | None = None,
    ) -> dict[str, int]:
        """Replace every table's rows with ``as_of`` in [start, end] in one transaction;
        for a table named in ``kinds``, only its rows of those ``kind`` values (two steps
        writing one table each replace their own rows).

        Re-running a partition therefore never duplicates a row, and a run killed midway
        leaves the previous rows intact.
        """
        counts: dict[str, int] = {}
        kinds = kinds or {}
        with self._writing(connection) as conn:
            for table, frame in tables.items():
                if table in kinds:
                    conn.execute(f"DELETE FROM {table} WHERE as_of BETWEEN ? AND ? "
                                 "AND list_contains(?, kind)", [start, end, kinds[table]])
                else:
                    conn.execute(f"DELETE FROM {table} WHERE as_of BETWEEN ? AND ?",
                                 [start, end])
                self.insert_frame(conn, table, frame)
                counts[table] = len(frame)
        return counts

    def upsert(self, table: str, frame: pd.DataFrame, keys: list[str],
               connection: duckdb.DuckDBPyConnection | None = None) -> int:
        """Insert rows, replacing those stored with the same key."""
        if frame.empty:
            return 0
        with self._writing(connection) as conn:
            with self._incoming_keys(conn, frame, keys) as condition:
                conn.execute(f"DELETE FROM {table} t WHERE EXISTS "
                             f"(SELECT 1 FROM incoming_keys k WHERE {condition})")
            self.insert_frame(conn, table, frame)
        return len(frame)

    def insert_missing(self, table: str, frame: pd.DataFrame, keys: list[str],
                       connection: duckdb.DuckDBPyConnection | None = None) -> int:
        """Insert only the rows whose key is not stored yet; returns how many."""
        if frame.empty:
            return 0
        with self._writing(connection) as conn:
            with self._incoming_keys(conn, frame, keys) as condition:
                rows = conn.execute(
                    f"SELECT k._row FROM incoming_keys k WHERE NOT EXISTS "
                    f"(SELECT 1 FROM {table} t WHERE {condition})").df()["_row"]
            fresh = frame.iloc[sorted(rows)]
            self.insert_frame(conn, table, fresh)
        return len(fresh)

    def append(self, table: str, frame: pd.DataFrame,
               connection: duckdb.DuckDBPyConnection | None = None) -> int:
        with self._writing(connection) as conn:
            self.insert_frame(conn, table, frame)
        return len(frame)
