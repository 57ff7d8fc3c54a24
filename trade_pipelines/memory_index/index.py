"""Chroma-backed semantic index over the agent's memories.

DuckDB holds the canonical memory table; this index is a derived, rebuildable
view used for similarity search. Every search is bounded by an ``as_of`` date
so a decision made as of a day can never retrieve a memory written later.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
import pandas as pd
from chromadb.config import Settings
from chromadb.errors import NotFoundError

from trade_pipelines.agent.days import day_of
from trade_pipelines.memory_index.embedding import WordLlamaEmbeddingFunction, embedding_text

COLLECTION_NAME = "memories"
REQUIRED_COLUMNS: tuple[str, ...] = ("memory_id", "as_of", "text")
METADATA_COLUMNS: tuple[str, ...] = (
    "kind",
    "tier",
    "symbol",
    "strategy_id",
    "regime",
    "importance",
    "source",
)
# Distances closer than this count as ties, so float noise from batching
# cannot reorder memories with identical text.
_TIE_DECIMALS = 6
# Extra candidates fetched beyond ``n`` so ties at the cut-off are resolved by
# our ordering rather than by whichever the ANN index happened to return first.
_TIE_SLACK = 16


def as_of_key(value: dt.date | dt.datetime | pd.Timestamp | np.datetime64 | str) -> int:
    """A date as the int yyyymmdd, the form Chroma can range-filter with $lte/$gte."""
    day = _to_date(value)
    return day.year * 10000 + day.month * 100 + day.day


def _to_date(value: Any) -> dt.date:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        raise ValueError("as_of must not be missing")
    return day_of(value)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and other non-scalars
        return False


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars; Chroma only accepts str/int/float/bool."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class IndexModelMismatchError(RuntimeError):
    """The index on disk was built with another embedding model than this version's."""


class MemoryIndex:
    """A persistent, look-ahead-safe similarity index of memories.

    The collection uses cosine space and always our offline embedding function:
    Chroma's default one would try to download a model. Opening an index built with
    another model raises IndexModelMismatchError: its vectors cannot be compared with
    the queries', and only the warehouse can repopulate it.
    """

    def __init__(
        self,
        path: Path | str,
        embedding_function: WordLlamaEmbeddingFunction | None = None,
        collection_name: str = COLLECTION_NAME,
    ) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.collection_name = collection_name
        self._ef = embedding_function or WordLlamaEmbeddingFunction()
        self._client = chromadb.PersistentClient(
            path=str(self.path), settings=Settings(anonymized_telemetry=False)
        )
        try:
            self._check_model()
            self._collection = self._open_collection()
        except BaseException:
            self._client.close()
            raise

    def _check_model(self) -> None:
        """Refuse an index whose vectors came from another embedding model."""
        try:
            existing = self._client.get_collection(self.collection_name)
        except NotFoundError:
            return
        persisted = existing.configuration_json.get("embedding_function") or {}
        built_with = persisted.get("name")
        if built_with != self._ef.name():
            raise IndexModelMismatchError(
                f"The memory index at {self.path} was built with the embedding model "
                f"{built_with!r}; this version embeds with {self._ef.name()!r}, and the two "
                f"cannot be compared. Delete {self.path} and replay from the first day: the "
                "index is a copy of the warehouse's memories and is rebuilt from them."
            )

    def _open_collection(self) -> Any:
        return self._client.get_or_create_collection(
            name=self.collection_name,
            embedding_function=self._ef,
            configuration={"hnsw": {"space": "cosine"}},
        )

    def close(self) -> None:
        """Release the on-disk store so another process or client can open it."""
        self._client.close()

    def __enter__(self) -> MemoryIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def count(self) -> int:
        """Number of memories in the index."""
        return int(self._collection.count())

    @property
    def _batch_size(self) -> int:
        return int(self._client.get_max_batch_size())

    def upsert(self, records: pd.DataFrame) -> int:
        """Insert or replace memories by memory_id; returns how many were written.

        Columns: memory_id, as_of, text (required) and optionally kind, tier,
        symbol, strategy_id, regime, importance, source. Missing values are dropped from
        the metadata because Chroma rejects None.
        """
        missing = [c for c in REQUIRED_COLUMNS if c not in records.columns]
        if missing:
            raise ValueError(f"records lack required columns: {missing}")
        if records.empty:
            return 0

        ids: list[str] = []
        documents: list[str] = []
        metadatas: list[dict[str, Any]] = []
        for rec in records.to_dict(orient="records"):
            memory_id = rec["memory_id"]
            if _is_missing(memory_id) or memory_id == "":
                raise ValueError("memory_id must not be missing")
            text = rec["text"]
            if _is_missing(text) or not isinstance(text, str):
                raise ValueError(f"memory {memory_id!r}: text must be a string")
            day = _to_date(rec["as_of"])
            meta: dict[str, Any] = {"as_of_key": as_of_key(day), "as_of": day.isoformat()}
            for col in METADATA_COLUMNS:
                value = rec.get(col)
                if _is_missing(value):
                    continue
                meta[col] = int(value) if col == "importance" else _plain(value)
            ids.append(str(memory_id))
            documents.append(text)
            metadatas.append(meta)

        if len(set(ids)) != len(ids):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"duplicate memory_id values: {dupes[:10]}")

        # Embed each distinct gist once: memories of the same kind of event share one.
        gists = [embedding_text(d) for d in documents]
        distinct = sorted(set(gists))
        vectors = dict(zip(distinct, self._ef.embedder.embed(distinct), strict=True)) if distinct \
            else {}
        embeddings = [vectors[g] for g in gists]
        size = self._batch_size
        for start in range(0, len(ids), size):
            end = start + size
            self._collection.upsert(
                ids=ids[start:end],
                documents=documents[start:end],
                metadatas=metadatas[start:end],
                embeddings=embeddings[start:end],
            )
        return len(ids)

    def search(
        self,
        query: str,
        as_of: dt.date,
        n: int = 5,
        symbol: str | None = None,
        regime: str | None = None,
        strategy_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """The n memories nearest to ``query`` among those dated on or before ``as_of``.

        The as_of bound is the look-ahead rule: a decision as of a day must not
        see memories created later. Results are ordered by distance, then by
        memory_id, so ties come back in a stable order.
        """
        if n <= 0:
            return []
        total = self.count()
        if total == 0:
            return []
        clauses: list[dict[str, Any]] = [{"as_of_key": {"$lte": as_of_key(as_of)}}]
        for field, value in (("symbol", symbol), ("regime", regime), ("strategy_id", strategy_id)):
            if value is not None:
                clauses.append({field: value})
        where: dict[str, Any] = clauses[0] if len(clauses) == 1 else {"$and": clauses}

        result = self._collection.query(
            query_embeddings=[self._ef.embedder.embed([embedding_text(query)])[0]],
            n_results=min(total, n + _TIE_SLACK),
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        hits = [
            {
                "memory_id": memory_id,
                "text": text,
                "distance": float(distance),
                "as_of": dt.date.fromisoformat(meta["as_of"]),
                "metadata": dict(meta),
            }
            for memory_id, text, meta, distance in zip(
                result["ids"][0],
                result["documents"][0],
                result["metadatas"][0],
                result["distances"][0],
                strict=True,
            )
        ]
        hits.sort(key=lambda h: (round(h["distance"], _TIE_DECIMALS), h["memory_id"]))
        return hits[:n]

    def rebuild(self, records: pd.DataFrame) -> int:
        """Drop the collection and re-index ``records`` (the canonical DuckDB rows)."""
        with contextlib.suppress(NotFoundError):
            self._client.delete_collection(self.collection_name)
        self._collection = self._open_collection()
        return self.upsert(records)

    def delete_from(self, as_of: dt.date) -> int:
        """Remove memories dated on or after ``as_of``; returns how many.

        Used when a replay re-runs a period, so the re-run starts from the
        memory as it stood before that period.
        """
        found = self._collection.get(where={"as_of_key": {"$gte": as_of_key(as_of)}}, include=[])
        ids = list(found["ids"])
        for chunk in _chunks(ids, self._batch_size):
            self._collection.delete(ids=list(chunk))
        return len(ids)

    def ids_between(self, first: dt.date, last: dt.date) -> set[str]:
        """The ids of the memories dated in [first, last]."""
        found = self._collection.get(
            where={"$and": [{"as_of_key": {"$gte": as_of_key(first)}},
                            {"as_of_key": {"$lte": as_of_key(last)}}]}, include=[])
        return set(found["ids"])

    def delete_between(self, first: dt.date, last: dt.date) -> int:
        """Remove the memories dated in [first, last]; returns how many."""
        ids = sorted(self.ids_between(first, last))
        for chunk in _chunks(ids, self._batch_size):
            self._collection.delete(ids=list(chunk))
        return len(ids)
