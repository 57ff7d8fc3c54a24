"""Semantic memory: an offline MiniLM encoder and a look-ahead-safe Chroma index."""

from trade_pipelines.memory_index.embedding import (
    EMBEDDING_DIM,
    MiniLMEmbedder,
    MiniLMEmbeddingFunction,
    ModelNotInstalledError,
    default_embedder,
)
from trade_pipelines.memory_index.index import MemoryIndex

__all__ = [
    "EMBEDDING_DIM",
    "MemoryIndex",
    "MiniLMEmbedder",
    "MiniLMEmbeddingFunction",
    "ModelNotInstalledError",
    "default_embedder",
]
