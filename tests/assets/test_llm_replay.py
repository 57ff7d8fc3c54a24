"""A replay argued by an LLM over HTTP (the real langchain/openai client against a local
OpenAI-compatible server): it is used, the same replay again makes no call and gives
the same ledger, and the export names who argued each decision."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from llm_server import chat_server, debater
from replay_helpers import LEDGER_TABLES, table

from trade_pipelines.cli import main, run_replay
from trade_pipelines.resources import REASONER_VARIABLES

SYMBOLS = "AAPL,JPM,KO"
START, END = date(2019, 2, 1), date(2019, 2, 28)


def _replay(home: Path, url: str, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> str:
    for name in REASONER_VARIABLES.values():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRADE_PIPELINES_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
    monkeypatch.setenv("TRADE_PIPELINES_LLM_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("TRADE_PIPELINES_LLM_KNOWLEDGE_CUTOFF", "2023-10-01")
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local-test")
    capsys.readouterr()
    assert run_replay(START, END, SYMBOLS, progress=False)
    return capsys.readouterr().out


def test_an_llm_replay_is_cached_and_exported(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    with chat_server(debater) as server:
        out = _replay(first, server.url, monkeypatch, capsys)
        calls = server.calls
        decisions = table(first, "decisions")
        assert calls > 0 and len(decisions) > 0
        assert set(decisions["reasoner"]) == {"llm"}
        assert set(decisions["model"]) == {"gpt-4o-mini"}
        assert decisions["fallback_reason"].isna().all()
        assert (decisions["prompt_tokens"] > 0).all() and (decisions["llm_cost"] > 0).all()
        assert set(decisions["cleanliness"]) == {"replay_llm_precutoff"}
        # the probes ran: this scripted model remembers no price, and ignores its evidence
        assert "llm_recall_probe: passed, score 0.0" in out
        assert "llm_counterfactual_probe: FAILED, score 0.0" in out
        # The LLM's spend is a trading cost: paid from every account's cash.
        spend = decisions.groupby("as_of")["llm_cost"].sum()
        assert spend.sum() > 0

        # The same replay in a new home with the first one's call cache: no call.
        (second / "dagster_home").mkdir(parents=True)
        shutil.copy(first / "llm_cache.duckdb", second / "llm_cache.duckdb")
        _replay(second, server.url, monkeypatch, capsys)
        assert server.calls == calls + 0
    for name in LEDGER_TABLES:
        pd.testing.assert_frame_equal(table(first, name), table(second, name),
                                      check_exact=True, obj=name)
    again = table(second, "decisions")
    assert (again["cache_hits"] > 0).all() and (again["llm_calls"] == 0).all()
    same = ["decision_id", "verdict", "confidence", "weight_combined", "transcript",
            "llm_cost"]
    pd.testing.assert_frame_equal(decisions[same], again[same])

    out_file = tmp_path / "decisions.csv"
    assert main(["export", "decisions", "--out", str(out_file)]) == 0
    exported = pd.read_csv(out_file)
    assert {"reasoner", "model", "fallback_reason", "llm_cost", "cleanliness",
            "prompt_log"} <= set(exported.columns)
    assert set(exported["model"]) == {"gpt-4o-mini"}
