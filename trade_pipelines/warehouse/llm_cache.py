"""Every valid LLM answer, keyed by a hash of its full input.

A file of its own, beside the warehouse: a replay's rewind never deletes an answer, and a
slow call never holds the warehouse's writer lock. Connections open and close per call
through the warehouse's connection helper (lock retries included); a process-wide lock
per file serialises this process's threads.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

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
        with self._lock, self._store.transaction() as connection:
            connection.execute(DDL)

    def get(self, key: str) -> CachedCall | None:
        with self._lock, self._store.transaction() as connection:
            row = connection.execute(
                "SELECT response, prompt_tokens, completion_tokens, cost, created_at "
                "FROM llm_calls WHERE key = ?", [key]).fetchone()
        return None if row is None else CachedCall(*row)

    def put(self, key: str, model: str, call: CachedCall) -> None:
        """Keep the first answer stored under ``key`` (a replay never rewrites history)."""
        with self._lock, self._store.transaction() as connection:
            connection.execute(
                "INSERT INTO llm_calls VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [key, model, call.response, call.prompt_tokens, call.completion_tokens,
                 call.cost, call.created_at])

    def __len__(self) -> int:
        with self._lock, self._store.transaction() as connection:
            return int(connection.execute("SELECT count(*) FROM llm_calls").fetchone()[0])
