"""One role's call: cache, budget, the chat model over langchain, parse, one repair.

Any OpenAI-compatible endpoint works: the prompt asks for JSON and pydantic validates it
here (no provider-specific structured-output mode). Only valid answers are cached, under
the key of the first attempt, so a replay hits the cache even where a repair was needed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import openai
from langchain_openai import ChatOpenAI

from trade_pipelines.agent.decision.llm.budget import Allowance
from trade_pipelines.agent.decision.llm.config import LLMConfig
from trade_pipelines.agent.decision.llm.schemas import Answer, InvalidAnswer, parse, schema_json
from trade_pipelines.warehouse import WarehouseLockedError
from trade_pipelines.warehouse.llm_cache import CachedCall, LLMCallCache, call_key

PARAMETERS: dict[str, object] = {"temperature": 0}
REPAIR = ("Your answer was rejected: {error}\nAnswer again with only the JSON object the "
          "schema asks for.")


class CallFailed(Exception):
    """The role could not answer; ``reason`` is the decision's fallback reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class CallRecord:
    """One role's call as the prompt log shows it."""

    role: str
    model: str
    cache_hit: bool = False
    http_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    outcome: str = "ok"


def _failure(error: Exception) -> str:
    if isinstance(error, openai.APITimeoutError | httpx.TimeoutException | TimeoutError):
        return "timeout"
    # the openai client's own class (langchain wraps some in subclasses of its own)
    named = next((k for k in type(error).__mro__ if k.__module__.startswith("openai")),
                 type(error))
    return f"error: {named.__name__}"


class ChatCaller:
    """Calls through langchain's ChatOpenAI (the official openai client underneath)."""

    def __init__(self, config: LLMConfig, cache: LLMCallCache) -> None:
        self.config = config
        self.cache = cache
        self._models: dict[str, ChatOpenAI] = {}
        self._lock = threading.Lock()

    def _chat(self, model: str) -> ChatOpenAI:
        with self._lock:
            if model not in self._models:
                self._models[model] = ChatOpenAI(
                    model=model, base_url=self.config.base_url,
                    # a local server needs no key; the client insists on one
                    api_key=self.config.api_key or "not-needed",
                    timeout=self.config.timeout_s, max_retries=0, **PARAMETERS)
            return self._models[model]

    def _send(self, model: str, messages: list[dict[str, str]]) -> tuple[str, int, int]:
        try:
            response = self._chat(model).invoke(
                [(m["role"], m["content"]) for m in messages])
        except Exception as error:  # every transport failure becomes a fallback reason
            raise CallFailed(_failure(error)) from error
        text = response.content if isinstance(response.content, str) else str(response.content)
        usage = response.usage_metadata or {}
        # a server that reports no usage is charged an estimate: never free
        prompt = int(usage.get("input_tokens")
                     or sum(len(m["content"]) for m in messages) // 4)
        completion = int(usage.get("output_tokens") or len(text) // 4)
        return text, prompt, completion

    def call(self, record: CallRecord, messages: list[dict[str, str]], schema: type[Answer],
             allowance: Allowance, check: Callable[[Answer], None] | None = None) -> Answer:
        """The parsed answer; raises CallFailed with the fallback reason. ``record`` and
        ``allowance`` are charged for every token, cached or not."""
        if allowance.exhausted:
            record.outcome = "budget exhausted"
            raise CallFailed("budget exhausted")
        # The endpoint is part of the key: "gpt-4o" on a local server is another model.
        key = call_key(record.model, messages, schema_json(schema),
                       {**PARAMETERS, "base_url": self.config.base_url})
        try:
            cached = self.cache.get(key)
        except WarehouseLockedError as error:
            record.outcome = "error: call cache locked"
            raise CallFailed("error: call cache locked") from error
        if cached is not None:
            try:
                answer = parse(schema, cached.response)
                if check is not None:
                    check(answer)
            except InvalidAnswer as error:
                # Stored under a validation that has since changed (the key hashes the
                # schema, not its validators): the same fallback on every replay.
                record.outcome = "invalid cached output"
                raise CallFailed("invalid cached output") from error
            record.cache_hit = True
            self._charge(record, allowance, cached.prompt_tokens, cached.completion_tokens)
            return answer
        attempt = list(messages)
        start_tokens = (record.prompt_tokens, record.completion_tokens)
        for tries in (1, 2):
            if allowance.exhausted:
                record.outcome = "budget exhausted"
                raise CallFailed("budget exhausted")
            try:
                text, prompt, completion = self._send(record.model, attempt)
            except CallFailed as failure:
                record.outcome = failure.reason
                raise
            record.http_calls += 1
            self._charge(record, allowance, prompt, completion)
            try:
                answer = parse(schema, text)
                if check is not None:
                    check(answer)
            except InvalidAnswer as error:
                if tries == 2:
                    record.outcome = "invalid output"
                    raise CallFailed("invalid output") from error
                attempt = [*attempt, {"role": "assistant", "content": text},
                           {"role": "user", "content": REPAIR.format(error=error)}]
                continue
            prompt_total = record.prompt_tokens - start_tokens[0]
            completion_total = record.completion_tokens - start_tokens[1]
            self.cache.put(key, record.model, CachedCall(
                text, prompt_total, completion_total,
                self.config.cost(record.model, prompt_total, completion_total),
                datetime.now(UTC).replace(tzinfo=None)))
            return answer
        raise AssertionError("unreachable")

    def _charge(self, record: CallRecord, allowance: Allowance, prompt: int,
                completion: int) -> None:
        cost = self.config.cost(record.model, prompt, completion)
        record.prompt_tokens += prompt
        record.completion_tokens += completion
        record.cost += cost
        allowance.spend(prompt + completion, cost)
