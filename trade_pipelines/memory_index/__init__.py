"""Semantic memory: an offline WordLlama encoder and a look-ahead-safe Chroma index."""

from trade_pipelines.memory_index.embedding import (
    EMBEDDING_DIM,
    MODEL_ID,
    WordLlamaEmbedder,
    WordLlamaEmbeddingFunction,
    default_embedder,
)
from trade_pipelines.memory_index.index import IndexModelMismatchError, MemoryIndex

__all__ = [
    "EMBEDDING_DIM",
    "MODEL_ID",
    "IndexModelMismatchError",
    "MemoryIndex",
    "WordLlamaEmbedder",
    "WordLlamaEmbeddingFunction",
    "default_embedder",
]
