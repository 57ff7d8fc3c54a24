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
    # The key reaches the configuration only when a reasoner is built.
    assert reasoner.environment()["OPENAI_API_KEY"] == SECRET


def test_a_new_model_changes_the_checkpoint_fingerprint(tmp_path) -> None:
    first = ReasonerResource(home=str(tmp_path), model="gpt-4o-mini")
    other = ReasonerResource(home=str(tmp_path), model="deepseek-chat")
    slower = ReasonerResource(home=str(tmp_path), model="gpt-4o-mini", timeout="5")
    served = ReasonerResource(home=str(tmp_path), model="gpt-4o-mini",
                              base_url="http://elsewhere/v1")
    batched = ReasonerResource(home=str(tmp_path), model="gpt-4o-mini", concurrency="8")
    assert first.fingerprint() != other.fingerprint()
    assert first.fingerprint() == slower.fingerprint()
    # "gpt-4o-mini" elsewhere is another model (its answers are cached apart too).
    assert first.fingerprint() != served.fingerprint()
    # The batch size sets where a day's budget runs out.
    assert first.fingerprint() != batched.fingerprint()
