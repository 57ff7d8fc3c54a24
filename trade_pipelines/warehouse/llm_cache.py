"""Every valid LLM answer, keyed by a hash of its full input.

A file of its own, beside the warehouse: a replay's rewind never deletes an answer, and a
slow call never holds the warehouse's writer lock. A connection opens through the
warehouse's connection helper (lock retries included) per call, or once for a whole
``session()`` (a trading day's debates: opening a DuckDB file costs tens of
milliseconds); a process-wide lock per file serialises this process's threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from trade_pipelines.warehouse.connection import Warehouse

DDL = """
CREATE TABLE IF NOT EXISTS llm_calls (
    key VARCHAR PRIMARY KEY,
    model VARCHAR NOT NULL,
    response VARCHAR NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cost DOUBLE NOT NULL,
    created_at TIMESTAMP NOT NULL
)
"""

_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _file_lock(path: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(path.resolve(), threading.Lock())


def call_key(model: str, messages: list[dict[str, str]], schema: str,
             parameters: dict[str, object]) -> str:
    """sha256 of everything that shapes an answer."""
    payload = json.dumps({"model": model, "messages": messages, "schema": schema,
                          "parameters": parameters}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class CachedCall:
    response: str
    prompt_tokens: int
    completion_tokens: int
    cost: float
    created_at: datetime


class LLMCallCache:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._store = Warehouse(self.path)
        self._lock = _file_lock(self.path)
        self._held: duckdb.DuckDBPyConnection | None = None
        # The table is made at the first connection, not here: building a reasoner never
        # waits on another process's lock of the file.
        self._ready = False

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Hold one connection until the block ends (other processes wait meanwhile)."""
        with self._lock:
            if self._held is not None:
                raise RuntimeError(f"{self.path}: a session is already open")
            opened = self._open()
            self._held = opened.__enter__()
        try:
            yield
        finally:
            with self._lock:
                self._held = None
                opened.__exit__(None, None, None)

    @contextlib.contextmanager
    def _open(self) -> Iterator[duckdb.DuckDBPyConnection]:
        # the warehouse's own connection helper, in autocommit: every answer lands as
        # soon as it is stored, whatever happens to the rest of the day
        with self._store._connect(read_only=False) as connection:
            if not self._ready:
                connection.execute(DDL)
                self._ready = True
            yield connection

    @contextlib.contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            if self._held is not None:
                yield self._held
            else:
                with self._open() as connection:
                    yield connection

    def get(self, key: str) -> CachedCall | None:
        with self._connection() as connection:
            row = connection.execute(
                "SELECT response, prompt_tokens, completion_tokens, cost, created_at "
                "FROM llm_calls WHERE key = ?", [key]).fetchone()
        return None if row is None else CachedCall(*row)

    def put(self, key: str, model: str, call: CachedCall) -> None:
        """Keep the first answer stored under ``key`` (a replay never rewrites history)."""
        with self._connection() as connection:
            connection.execute(
                "INSERT INTO llm_calls VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [key, model, call.response, call.prompt_tokens, call.completion_tokens,
                 call.cost, call.created_at])

    def __len__(self) -> int:
        with self._connection() as connection:
            return int(connection.execute("SELECT count(*) FROM llm_calls").fetchone()[0])
