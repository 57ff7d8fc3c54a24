"""The LLM reasoner's settings, read from the environment.

No model named means no LLM: the deterministic reasoner argues every debate. The key is
held but never shown: not in a repr, a log line, metadata or a decision row.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

MODEL = "TRADE_PIPELINES_LLM_MODEL"
DEEP_MODEL = "TRADE_PIPELINES_LLM_DEEP_MODEL"
BASE_URL = "OPENAI_BASE_URL"
API_KEY = "OPENAI_API_KEY"
KNOWLEDGE_CUTOFF = "TRADE_PIPELINES_LLM_KNOWLEDGE_CUTOFF"
DEEP_KNOWLEDGE_CUTOFF = "TRADE_PIPELINES_LLM_DEEP_KNOWLEDGE_CUTOFF"
DAILY_TOKENS = "TRADE_PIPELINES_LLM_DAILY_TOKENS"
DAILY_USD = "TRADE_PIPELINES_LLM_DAILY_USD"
PRICES = "TRADE_PIPELINES_LLM_PRICES"
CONCURRENCY = "TRADE_PIPELINES_LLM_CONCURRENCY"
TIMEOUT = "TRADE_PIPELINES_LLM_TIMEOUT"
ANONYMISE = "TRADE_PIPELINES_LLM_ANONYMISE"

# USD per 1M (input, output) tokens: the providers' list prices as of 2025, without
# cache discounts. They change; override them with TRADE_PIPELINES_LLM_PRICES.
LIST_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "deepseek-chat": (0.27, 1.10),
    "deepseek-reasoner": (0.55, 2.19),
    "qwen-plus": (0.40, 1.20),
    "qwen-max": (1.60, 6.40),
}


def _number(environ: Mapping[str, str], name: str, kind: type, default: object,
            minimum: float) -> object:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a {kind.__name__}") from None
    if not math.isfinite(value) or value < minimum:
        raise ValueError(f"{name}={raw!r} must be a finite number >= {minimum}")
    return value


def _date(environ: Mapping[str, str], name: str) -> date | None:
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an ISO date (YYYY-MM-DD)") from None


def _prices(environ: Mapping[str, str]) -> dict[str, tuple[float, float]]:
    prices = dict(LIST_PRICES)
    raw = environ.get(PRICES, "").strip()
    for item in filter(None, (part.strip() for part in raw.split(","))):
        try:
            model, pair = item.split("=", 1)
            given, taken = (float(x) for x in pair.split("/"))
        except ValueError:
            raise ValueError(f"{PRICES}: {item!r} is not model=IN/OUT (USD per 1M "
                             "input/output tokens)") from None
        if not (math.isfinite(given) and math.isfinite(taken)) or min(given, taken) < 0:
            raise ValueError(f"{PRICES}: {item!r} has a negative or non-finite price")
        prices[model.strip()] = (given, taken)
    return prices


def _flag(environ: Mapping[str, str], name: str) -> bool:
    raw = environ.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name}={raw!r} must be 1 or 0")


@dataclass(frozen=True)
class LLMConfig:
    model: str
    deep_model: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    knowledge_cutoff: date | None = None
    deep_knowledge_cutoff: date | None = None
    daily_tokens: int | None = None
    daily_usd: float | None = None
    prices: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: dict(LIST_PRICES))
    concurrency: int = 4
    timeout_s: float = 60.0
    anonymise: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LLMConfig | None:
        """The configured reasoner, or None (no model: the deterministic reasoner)."""
        environ = os.environ if environ is None else environ
        model = environ.get(MODEL, "").strip()
        if not model:
            return None
        prices = _prices(environ)
        config = cls(
            model=model,
            deep_model=environ.get(DEEP_MODEL, "").strip() or model,
            base_url=environ.get(BASE_URL, "").strip() or None,
            api_key=environ.get(API_KEY, "").strip() or None,
            knowledge_cutoff=_date(environ, KNOWLEDGE_CUTOFF),
            deep_knowledge_cutoff=_date(environ, DEEP_KNOWLEDGE_CUTOFF),
            daily_tokens=_number(environ, DAILY_TOKENS, int, None, 1),
            daily_usd=_number(environ, DAILY_USD, float, None, 0.0),
            prices=prices,
            concurrency=_number(environ, CONCURRENCY, int, 4, 1),
            timeout_s=_number(environ, TIMEOUT, float, 60.0, 0.001),
            anonymise=_flag(environ, ANONYMISE),
        )
        if config.daily_usd is not None:
            for name in {config.model, config.deep_model}:
                if config.price(name) is None:
                    raise ValueError(
                        f"{DAILY_USD} is set but model {name!r} has no price: add it to "
                        f"{PRICES} as {name}=IN/OUT")
        return config

    def price(self, model: str) -> tuple[float, float] | None:
        """USD per 1M (input, output) tokens: the model's own entry, else the longest
        listed name it starts with ("gpt-4o-2024-08-06" pays gpt-4o's price)."""
        if model in self.prices:
            return self.prices[model]
        known = [name for name in self.prices if model.startswith(name)]
        return self.prices[max(known, key=len)] if known else None

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """USD of one call; a model without a price costs 0 (only its tokens count)."""
        given, taken = self.price(model) or (0.0, 0.0)
        return (prompt_tokens * given + completion_tokens * taken) / 1e6

    def cutoff(self, model: str) -> date | None:
        if model == self.deep_model and model != self.model:
            return self.deep_knowledge_cutoff
        return self.knowledge_cutoff

    def describe(self) -> dict[str, object]:
        """What a supervisor may see: everything but the key."""
        return {
            "reasoner": "llm", "model": self.model, "deep_model": self.deep_model,
            "base_url": self.base_url,
            "knowledge_cutoff": self.knowledge_cutoff and self.knowledge_cutoff.isoformat(),
            "deep_knowledge_cutoff": (self.deep_knowledge_cutoff
                                      and self.deep_knowledge_cutoff.isoformat()),
            "daily_tokens": self.daily_tokens, "daily_usd": self.daily_usd,
            "concurrency": self.concurrency, "timeout_s": self.timeout_s,
            "anonymise": self.anonymise,
        }
