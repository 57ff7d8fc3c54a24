"""Debate throughput: the deterministic reasoner, and the LLM reasoner against a local
OpenAI-compatible server (first pass over HTTP, second pass from the cache).

    python benchmarks/debate.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

# the tests' local chat server (tests/llm_server.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from llm_server import chat_server, debater  # noqa: E402

from trade_pipelines.agent.decision.debate import Evidence, SetupRecord, debate  # noqa: E402
from trade_pipelines.agent.decision.llm import LLMConfig, LLMReasoner  # noqa: E402
from trade_pipelines.agent.perception.news import NewsSentiment  # noqa: E402


def evidences(n: int, day: date = date(2024, 3, 1)) -> list[Evidence]:
    """Synthetic proposals spanning families, records and volatility."""
    out = []
    for i in range(n):
        record = SetupRecord(n=10 + i % 90, win_rate=0.35 + (i % 40) / 100,
                             expectancy=-0.01 + (i % 5) / 100, payoff=0.8 + (i % 10) / 10,
                             symbol_n=i % 8, symbol_win_rate=(i % 9) / 10)
        out.append(Evidence(
            as_of=day, proposal_id=f"P-{i}", symbol=f"SYM{i % 50}", side="buy",
            strategy_id=f"S{i % 6:02d}", strategy_name="synthetic",
            family=("trend", "breakout", "mean_reversion")[i % 3], strength=(i % 10) / 10,
            close=50.0 + i, ret_20d=-0.2 + (i % 9) / 20, vol_20=0.1 + (i % 7) / 10,
            rsi_14=20.0 + i % 70, above_sma_200=bool(i % 2),
            regime=("bull", "range", "bear")[i % 3], defensive=i % 17 == 0,
            exposure_target=1.0, record=record,
            memories=[{"memory_id": f"M-{i}", "text": "similar trade", "as_of": date(2024, 1, 5),
                       "outcome_return": 0.01 * (i % 5 - 2)}],
            news=NewsSentiment(3, 0.2, 2, 1, f"SYM{i % 50} headline",
                               datetime(2024, 3, 1, 13, 0))))
    return out


def main() -> None:
    batch = evidences(2000)
    started = time.perf_counter()
    for e in batch:
        debate(e)
    elapsed = time.perf_counter() - started
    print(f"deterministic: {len(batch) / elapsed:,.0f} debates/s ({len(batch)} debates)")

    day = evidences(40)
    with chat_server(debater) as server, tempfile.TemporaryDirectory() as folder:
        config = LLMConfig.from_env({"TRADE_PIPELINES_LLM_MODEL": "gpt-4o-mini",
                                     "OPENAI_BASE_URL": server.url,
                                     "TRADE_PIPELINES_LLM_CONCURRENCY": "4"})
        assert config is not None
        for label in ("first pass", "second pass"):
            reasoner = LLMReasoner(config, Path(folder) / "llm_cache.duckdb")
            started = time.perf_counter()
            decisions = reasoner.decide_day(day)
            elapsed = time.perf_counter() - started
            n = len(decisions)
            print(f"llm {label}: {sum(d.llm_calls for d in decisions) / n:.1f} calls, "
                  f"{sum(d.cache_hits for d in decisions) / n:.1f} cache hits, "
                  f"{sum(d.prompt_tokens + d.completion_tokens for d in decisions) / n:,.0f} "
                  f"tokens, ${sum(d.llm_cost for d in decisions) / n:.5f} per decision; "
                  f"{n / elapsed:,.1f} decisions/s; "
                  f"{sum(d.reasoner == 'llm' for d in decisions)}/{n} argued by the model")


if __name__ == "__main__":
    main()
