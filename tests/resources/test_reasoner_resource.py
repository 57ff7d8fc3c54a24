"""The reasoner resource: configured from the environment once, shown in the Dagster UI
without the API key, and part of each month's checkpoint."""

from __future__ import annotations

import json

import pytest

from trade_pipelines.agent.markets import US
from trade_pipelines.definitions import build_resources
from trade_pipelines.resources import REASONER_VARIABLES, ReasonerResource

SECRET = "sk-test-never-shown-1234"


def test_no_model_means_the_deterministic_reasoner(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path) -> None:
    for name in REASONER_VARIABLES.values():
        monkeypatch.delenv(name, raising=False)
    reasoner = build_resources(home=tmp_path)["reasoner"]
    assert reasoner.config() is None and reasoner.reasoner(US) is None
    assert reasoner.fingerprint() == [("reasoner", "deterministic")]


def test_the_key_stays_out_of_the_configuration_the_ui_shows(
        monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("TRADE_PIPELINES_LLM_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    reasoner = build_resources(home=tmp_path)["reasoner"]
    shown = json.dumps(reasoner.model_dump()) + repr(reasoner) + str(reasoner.fingerprint())
    assert "gpt-4o-mini" in shown and SECRET not in shown
    assert reasoner.api_key_env == "OPENAI_API_KEY"
    # The key reaches the configuration only when a reasoner is built.
    assert reasoner.environment()["OPENAI_API_KEY"] == SECRET


def test_a_new_model_changes_the_checkpoint_fingerprint(tmp_path) -> None:
    first = ReasonerResource(home=str(tmp_path), model="gpt-4o-mini")
    other = ReasonerResource(home=str(tmp_path), model="deepseek-chat")
    paced = ReasonerResource(home=str(tmp_path), model="gpt-4o-mini", concurrency="8",
                             timeout="5", base_url="http://elsewhere/v1")
    assert first.fingerprint() != other.fingerprint()
    # How fast or where a model is served does not change its answers' cache key.
    assert first.fingerprint() == paced.fingerprint()
