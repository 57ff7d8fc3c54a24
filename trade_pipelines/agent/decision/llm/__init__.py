"""The debate argued by any OpenAI-compatible model (optional; off without a model).

The reasoner (langchain, the openai client) is imported on first use: reading the
settings (``config.py``) must not cost the seconds langchain takes to import."""

from typing import Any

from trade_pipelines.agent.decision.debate import cleanliness
from trade_pipelines.agent.decision.llm.config import LLMConfig

__all__ = ["LLMConfig", "LLMReasoner", "cleanliness", "end_of_day", "market_close"]


def __getattr__(name: str) -> Any:
    if name in ("LLMReasoner", "end_of_day", "market_close"):
        from trade_pipelines.agent.decision.llm import reasoner

        return getattr(reasoner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
