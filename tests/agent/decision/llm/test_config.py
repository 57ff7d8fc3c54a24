"""LLMConfig from the environment, prices, and the cleanliness label."""

from __future__ import annotations

from datetime import date

import pytest

from trade_pipelines.agent.decision.debate import cleanliness
from trade_pipelines.agent.decision.llm.config import LIST_PRICES, LLMConfig

BASE = {"TRADE_PIPELINES_LLM_MODEL": "deepseek-chat", "OPENAI_API_KEY": "sk-hidden"}


def test_no_model_means_the_deterministic_reasoner() -> None:
    assert LLMConfig.from_env({}) is None
    assert LLMConfig.from_env({"OPENAI_API_KEY": "sk-x"}) is None


def test_every_setting_is_read() -> None:
    c = LLMConfig.from_env({
        **BASE, "TRADE_PIPELINES_LLM_DEEP_MODEL": "deepseek-reasoner",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "TRADE_PIPELINES_LLM_KNOWLEDGE_CUTOFF": "2024-07-01",
        "TRADE_PIPELINES_LLM_DEEP_KNOWLEDGE_CUTOFF": "2024-10-01",
        "TRADE_PIPELINES_LLM_DAILY_TOKENS": "200000", "TRADE_PIPELINES_LLM_DAILY_USD": "1.5",
        "TRADE_PIPELINES_LLM_PRICES": "deepseek-chat=0.28/0.42,my-local=0/0",
        "TRADE_PIPELINES_LLM_CONCURRENCY": "8", "TRADE_PIPELINES_LLM_TIMEOUT": "30",
        "TRADE_PIPELINES_LLM_ANONYMISE": "1"})
    assert c is not None
    assert (c.model, c.deep_model, c.daily_tokens, c.daily_usd) == \
        ("deepseek-chat", "deepseek-reasoner", 200000, 1.5)
    assert c.cutoff("deepseek-reasoner") == date(2024, 10, 1)
    assert c.cutoff("deepseek-chat") == date(2024, 7, 1)
    assert c.price("deepseek-chat") == (0.28, 0.42) and c.price("my-local") == (0, 0)
    assert (c.concurrency, c.timeout_s, c.anonymise) == (8, 30.0, True)
    assert c.describe()["deep_model"] == "deepseek-reasoner"
    assert "sk-hidden" not in repr(c) and "sk-hidden" not in str(c.describe())


def test_defaults_and_price_prefixes() -> None:
    c = LLMConfig.from_env({"TRADE_PIPELINES_LLM_MODEL": "gpt-4o-2024-08-06"})
    assert c is not None and c.deep_model == c.model and c.concurrency == 4
    assert c.timeout_s == 60 and c.anonymise is False and c.base_url is None
    assert c.price("gpt-4o-2024-08-06") == LIST_PRICES["gpt-4o"]
    assert c.price("gpt-4o-mini-2024-07-18") == LIST_PRICES["gpt-4o-mini"]
    assert c.cost("gpt-4o", 1_000_000, 1_000_000) == pytest.approx(12.5)


@pytest.mark.parametrize(("name", "value"), [
    ("TRADE_PIPELINES_LLM_DAILY_TOKENS", "lots"), ("TRADE_PIPELINES_LLM_DAILY_TOKENS", "0"),
    ("TRADE_PIPELINES_LLM_DAILY_USD", "-1"), ("TRADE_PIPELINES_LLM_DAILY_USD", "nan"),
    ("TRADE_PIPELINES_LLM_CONCURRENCY", "0"), ("TRADE_PIPELINES_LLM_TIMEOUT", "soon"),
    ("TRADE_PIPELINES_LLM_KNOWLEDGE_CUTOFF", "July 2024"),
    ("TRADE_PIPELINES_LLM_PRICES", "gpt-4o=2.5"), ("TRADE_PIPELINES_LLM_ANONYMISE", "maybe"),
])
def test_a_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        LLMConfig.from_env({**BASE, name: value})


def test_a_usd_budget_needs_a_price() -> None:
    with pytest.raises(ValueError, match="TRADE_PIPELINES_LLM_PRICES"):
        LLMConfig.from_env({"TRADE_PIPELINES_LLM_MODEL": "llama3",
                            "TRADE_PIPELINES_LLM_DAILY_USD": "1"})


def test_cleanliness_labels() -> None:
    day = date(2024, 6, 3)
    assert cleanliness("deterministic", None, day) == "replay"
    assert cleanliness("llm", None, day) == "replay_llm_precutoff"
    assert cleanliness("llm", date(2024, 6, 3), day) == "replay_llm_precutoff"
    assert cleanliness("llm", date(2024, 6, 2), day) == "replay_llm_postcutoff"
