"""Recall by meaning and by metadata: the memories a debate brings to a proposal.

Each memory's text is embedded once (its gist, figures stripped, with the same offline
WordLlama model as the semantic index), and a day's proposals are embedded in one batch.
A memory is a candidate for a proposal when it was formed strictly before the decision
day, is not forgotten (see ``tiers``), and either shares the proposal's symbol or
strategy or means nearly the same (cosine similarity >= ``MEANING_FLOOR``). Candidates
are ranked by

    score = 0.40 * similarity                  (cosine, query text vs memory text)
          + 0.20 * same symbol
          + 0.15 * strategy match              (1 same strategy, 0.5 same family)
          + 0.10 * regime match                (1 same regime, 0.5 a neighbouring one)
          + 0.05 * recency                     (exp(-age_days / 365))
          + 0.10 * decayed importance / 10     (see ``tiers.decayed_importance``)

so a memory of the same name and setup outranks one that merely sounds alike, and a
taught lesson that says the same thing in other words can still be found.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import numpy as np
import pandas as pd

from trade_pipelines.agent.memory.tiers import (
    decayed_importance,
    forget_reason,
    half_lives,
    lifetimes,
    promotion_reason,
    tier_for,
)

W_SIMILARITY, W_SYMBOL, W_STRATEGY, W_REGIME, W_RECENCY, W_IMPORTANCE = (
    0.40, 0.20, 0.15, 0.10, 0.05, 0.10)
# A memory sharing neither symbol nor strategy must mean about the same as the query:
# WordLlama scores a paraphrase about 0.5 and unrelated sentences below 0.3.
MEANING_FLOOR = 0.45
RECENCY_DAYS = 365.0
# Regimes one step apart (a range market lies between a bull and a bear one).
NEIGHBOUR_REGIMES = {"bull": {"range"}, "bear": {"range"}, "range": {"bull", "bear"}}
DEFAULT_RECALLED = 3


class Embedder(Protocol):
    """Sentences to unit-norm vectors, one row each."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def setup_text(side: str, ret_20d: float, rsi_14: float, above_sma_200: bool) -> str:
    """The setup in words (figures mean nothing to the embedding)."""
    move = ("after a rally" if ret_20d > 0.05 else "after a fall" if ret_20d < -0.05
            else "after a flat month")
    stretch = (", overbought" if rsi_14 > 70 else ", oversold" if rsi_14 < 30 else "")
    trend = "above" if above_sma_200 else "below"
    return f"{side} {move}{stretch}, {trend} its 200-day average"


@dataclass(frozen=True)
class RecallQuery:
    """What a proposal asks of memory. ``family_ids``: the strategies of its family."""

    as_of: date
    symbol: str
    strategy_id: str
    regime: str
    strategy_name: str = ""
    family: str = ""
    setup: str = ""
    family_ids: frozenset[str] = frozenset()

    @property
    def text(self) -> str:
        family = self.family.replace("_", " ")
        return " ".join(f"{self.symbol} {self.strategy_name} {family} trade in a "
                        f"{self.regime} market: {self.setup}".split())


def _gist(text: str) -> str:
    from trade_pipelines.memory_index.embedding import embedding_text

    return embedding_text(text)


class MemoryBook:
    """Memories the debate can recall, as arrays that grow during a run, with one
    embedding per distinct gist; recall is a few vectorised comparisons a query.

    ``reviewed_through``: the last day whose promotions and forgettings were audited
    (``review``); a loop continuing from the warehouse sets it to the last stored close.
    """

    TEXT_COLUMNS = ("memory_id", "symbol", "strategy_id", "regime", "text", "tier",
                    "source")

    def __init__(self, memories: pd.DataFrame | None = None,
                 embedder: Embedder | None = None) -> None:
        self._c: dict[str, np.ndarray] = {
            "day": np.array([], dtype="datetime64[D]"),
            **{k: np.array([], dtype=object) for k in self.TEXT_COLUMNS},
            "importance": np.array([], dtype=float), "outcome": np.array([], dtype=float),
            "lifetime": np.array([], dtype=float), "half_life": np.array([], dtype=float),
            "gist": np.array([], dtype=int),
            # when a taught memory was written down (NaT for the agent's own)
            "recorded": np.array([], dtype="datetime64[D]"),
        }
        self._embedder = embedder
        self._gists: dict[str, int] = {}        # gist -> row of _vectors
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self._query_vectors: dict[str, np.ndarray] = {}
        self.reviewed_through: date | None = None
        if memories is not None and not memories.empty:
            self.add(memories)

    def add(self, memories: pd.DataFrame) -> None:
        """Add memory rows (``memories`` or ``taught_memories`` columns); their text is
        embedded at the next recall, with every other new gist, in one batch."""
        if memories.empty:
            return
        importance = memories["importance"].to_numpy(dtype=float)
        outcome = pd.to_numeric(memories["outcome_return"], errors="coerce").to_numpy(
            dtype=float)
        tiers = (memories["tier"].to_numpy(dtype=object) if "tier" in memories
                 else np.array([tier_for(int(i)) for i in importance], dtype=object))
        half_life = half_lives(tiers)
        new = {
            "day": pd.to_datetime(memories["as_of"]).to_numpy(dtype="datetime64[D]"),
            **{k: memories[k].to_numpy(dtype=object) if k in memories
               else np.full(len(memories), None, dtype=object) for k in self.TEXT_COLUMNS},
            "tier": tiers, "importance": importance, "outcome": outcome,
            "lifetime": lifetimes(importance, half_life), "half_life": half_life,
            "gist": np.array([self._gist_row(_gist(str(t))) for t in memories["text"]],
                             dtype=int),
            "recorded": pd.to_datetime(memories["recorded_at"]).to_numpy(
                dtype="datetime64[D]") if "recorded_at" in memories
            else np.full(len(memories), np.datetime64("NaT"), dtype="datetime64[D]"),
        }
        if "source" not in memories:
            new["source"] = np.full(len(memories), "agent", dtype=object)
        self._c = {k: np.concatenate([self._c[k], new[k]]) for k in self._c}

    def _gist_row(self, gist: str) -> int:
        return self._gists.setdefault(gist, len(self._gists))

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._embedder is None:
            from trade_pipelines.memory_index.embedding import default_embedder

            self._embedder = default_embedder()
        return np.asarray(self._embedder.embed(texts), dtype=np.float32)

    def _memory_vectors(self) -> np.ndarray:
        """One row per distinct gist; the ones added since the last call are embedded now."""
        known = len(self._vectors)
        if known < len(self._gists):
            pending = list(self._gists)[known:]
            fresh = self._embed(pending)
            self._vectors = fresh if not known else np.vstack([self._vectors, fresh])
        return self._vectors

    def _queries(self, texts: list[str]) -> np.ndarray:
        """The queries' vectors; each distinct gist is embedded once a run."""
        gists = [_gist(t) for t in texts]
        missing = sorted({g for g in gists if g not in self._query_vectors})
        if missing:
            self._query_vectors.update(zip(missing, self._embed(missing), strict=True))
        return np.stack([self._query_vectors[g] for g in gists])

    def __len__(self) -> int:
        return len(self._c["day"])

    def recall(self, as_of: date, symbol: str, strategy_id: str, regime: str,
               n: int = DEFAULT_RECALLED) -> list[dict]:
        """One query's memories (see ``recall_many``)."""
        return self.recall_many([RecallQuery(as_of, symbol, strategy_id, regime)], n)[0]

    def recall_many(self, queries: Sequence[RecallQuery],
                    n: int = DEFAULT_RECALLED) -> list[list[dict]]:
        """Each query's ``n`` best memories formed strictly before its day, best first
        (ties by memory id), each with its ``score`` and ``similarity``."""
        if not queries:
            return []
        if not len(self):
            return [[] for _ in queries]
        c = self._c
        similarities = self._queries([q.text for q in queries]) @ self._memory_vectors().T
        results = []
        for query, gist_similarity in zip(queries, similarities, strict=True):
            similarity = gist_similarity[c["gist"]].astype(float)
            age = (np.datetime64(query.as_of, "D") - c["day"]).astype(float)
            remembered = (age > 0) & (age <= c["lifetime"])
            same_symbol = c["symbol"] == query.symbol
            same_strategy = c["strategy_id"] == query.strategy_id
            same_family = np.isin(c["strategy_id"], list(query.family_ids)) \
                if query.family_ids else np.zeros(len(self), dtype=bool)
            neighbours = list(NEIGHBOUR_REGIMES.get(query.regime, ()))
            regime = np.where(c["regime"] == query.regime, 1.0,
                              np.where(np.isin(c["regime"], neighbours), 0.5, 0.0))
            score = (W_SIMILARITY * similarity + W_SYMBOL * same_symbol
                     + W_STRATEGY * np.where(same_strategy, 1.0, 0.5 * same_family)
                     + W_REGIME * regime
                     + W_RECENCY * np.exp(-np.clip(age, 0, None) / RECENCY_DAYS)
                     + W_IMPORTANCE * decayed_importance(c["importance"], c["half_life"],
                                                         age) / 10)
            relevant = same_symbol | same_strategy | (similarity >= MEANING_FLOOR)
            chosen = np.flatnonzero(remembered & relevant)
            order = sorted(chosen, key=lambda i: (-round(float(score[i]), 9),
                                                  c["memory_id"][i]))[:n]
            results.append([self._recalled(i, float(score[i]), float(similarity[i]))
                            for i in order])
        return results

    def _recalled(self, i: int, score: float, similarity: float) -> dict:
        c = self._c
        outcome = c["outcome"][i]
        # Dated: the LLM reasoner refuses undated text (agent/decision/llm/prompts.py).
        return {"memory_id": c["memory_id"][i], "text": c["text"][i],
                "as_of": c["day"][i].astype("datetime64[D]").item(),
                # a lesson written after the day it is dated (backdated): hindsight
                "recorded_on": None if np.isnat(c["recorded"][i])
                else c["recorded"][i].astype("datetime64[D]").item(),
                "importance": int(c["importance"][i]),
                "outcome_return": None if math.isnan(outcome) else float(outcome),
                "score": round(score, 4), "similarity": round(similarity, 4),
                "source": c["source"][i], "tier": c["tier"][i]}

    def review(self, through: date) -> list[dict]:
        """Audit rows (``tiers.AUDIT_COLUMNS``) of the promotions and forgettings that
        take effect after ``reviewed_through`` and by ``through``, dated ``through``."""
        after, self.reviewed_through = self.reviewed_through, through
        c = self._c
        last = np.datetime64(through, "D")
        first = np.datetime64(after, "D") if after is not None else None
        finite = np.isfinite(c["lifetime"])
        # tiers.forget_day, for every memory at once
        offset = np.maximum(1, np.floor(np.where(finite, c["lifetime"], 0.0)) + 1)
        forgotten_on = c["day"] + offset.astype(int).astype("timedelta64[D]")
        born = (c["day"] <= last) & ((c["day"] > first) if first is not None else True)
        forgets = finite & (forgotten_on <= last) & (
            (forgotten_on > first) if first is not None else True)
        rows = []
        for i in np.flatnonzero(born):
            outcome = c["outcome"][i]
            reason = promotion_reason(str(c["tier"][i]), int(c["importance"][i]),
                                      str(c["source"][i]),
                                      None if math.isnan(outcome) else float(outcome))
            if reason is not None:
                rows.append({"as_of": through, "memory_id": c["memory_id"][i],
                             "event": "promote", "tier_before": "short_term",
                             "tier_after": c["tier"][i],
                             "importance": float(c["importance"][i]), "reason": reason})
        for i in np.flatnonzero(forgets):
            age = int((forgotten_on[i] - c["day"][i]).astype(int))
            decayed = float(decayed_importance(c["importance"][i], c["half_life"][i], age))
            rows.append({"as_of": through, "memory_id": c["memory_id"][i], "event": "forget",
                         "tier_before": c["tier"][i], "tier_after": "forgotten",
                         "importance": round(decayed, 4),
                         "reason": forget_reason(int(c["importance"][i]), str(c["tier"][i]),
                                                 age, decayed)})
        return sorted(rows, key=lambda r: (r["memory_id"], r["event"]))
