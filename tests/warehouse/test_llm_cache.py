"""The LLM call cache: its own DuckDB file, first answer kept, safe across threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from trade_pipelines.warehouse.llm_cache import CachedCall, LLMCallCache, call_key

ANSWER = CachedCall('{"ok": true}', 120, 8, 0.0001, datetime(2025, 1, 2, 3, 4, 5))


def test_the_key_covers_every_input() -> None:
    base = ("m", [{"role": "user", "content": "x"}], "{}", {"temperature": 0})
    key = call_key(*base)
    assert len(key) == 64 and key == call_key(*base)
    assert key != call_key("m2", *base[1:])
    assert key != call_key("m", [{"role": "user", "content": "y"}], "{}", {"temperature": 0})
    assert key != call_key("m", base[1], '{"type": "object"}', {"temperature": 0})
    assert key != call_key("m", base[1], "{}", {"temperature": 1})


def test_an_answer_survives_a_new_instance_and_is_never_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "llm_cache.duckdb"
    LLMCallCache(path).put("k", "m", ANSWER)
    cache = LLMCallCache(path)
    assert cache.get("k") == ANSWER and cache.get("other") is None
    cache.put("k", "m", CachedCall("changed", 1, 1, 0.0, datetime(2026, 1, 1)))
    assert cache.get("k") == ANSWER and len(cache) == 1


def test_threads_share_a_session(tmp_path: Path) -> None:
    cache = LLMCallCache(tmp_path / "c.duckdb")
    with cache.session(), ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: cache.put(f"k{i}", "m", ANSWER), range(64)))
        found = list(pool.map(lambda i: cache.get(f"k{i}"), range(64)))
    assert found == [ANSWER] * 64
    assert len(LLMCallCache(tmp_path / "c.duckdb")) == 64  # committed as it went
