"""The debate argued by any OpenAI-compatible model (optional; off without a model)."""

from trade_pipelines.agent.decision.debate import cleanliness
from trade_pipelines.agent.decision.llm.config import LLMConfig
from trade_pipelines.agent.decision.llm.reasoner import LLMReasoner, end_of_day, market_close

__all__ = ["LLMConfig", "LLMReasoner", "cleanliness", "end_of_day", "market_close"]
