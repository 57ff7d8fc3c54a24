"""Offline sentence embeddings for the memory index: WordLlama, shipped inside its wheel.

WordLlama (``l2_supercat``, 256 dimensions) pools token vectors distilled from a large
language model. It needs numpy only, embeds thousands of sentences a second on a CPU,
and its weights and tokenizer are files of the ``wordllama`` wheel: a plain
``pip install .`` gives working embeddings with no network. It knows less of the world
than a transformer ("fear gauge" is not "volatility index" to it); benchmarks/embedding.py
measures what that costs in recall.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

if TYPE_CHECKING:
    from wordllama import WordLlamaInference

MODEL_CONFIG = "l2_supercat"
EMBEDDING_DIM = 256
# Names the model in a persisted collection: an index built with another model (or
# another size of this one) holds vectors that cannot be compared with ours.
MODEL_ID = f"wordllama-{MODEL_CONFIG}-{EMBEDDING_DIM}"


def _import_wordllama() -> type:
    """Import wordllama without letting it switch on INFO logging for the whole process.

    Its package calls ``logging.basicConfig(level=INFO)`` at import, which, when the
    root logger has no handler yet, would print every library's INFO records.
    """
    root = logging.getLogger()
    guard = None if root.handlers else logging.NullHandler()
    if guard is not None:
        root.addHandler(guard)
    try:
        from wordllama import WordLlama
    finally:
        if guard is not None:
            root.removeHandler(guard)
    return WordLlama


def load_model() -> WordLlamaInference:
    """The packaged model, read from the installed wheel, never from the network.

    wordllama looks for its weights in its package's ``weights/`` (shipped) but for its
    tokenizer in ``tokenizer/``, while the wheel ships ``tokenizers/``; its second place
    to look is ``<cache_dir>/tokenizers/``. So the package folder itself serves as a
    read-only cache: nothing is copied or written, and ``disable_download`` turns a
    missing file into an error instead of a download.
    """
    word_llama = _import_wordllama()
    package_dir = Path(str(files("wordllama")))
    return word_llama.load(
        config=MODEL_CONFIG, dim=EMBEDDING_DIM, cache_dir=package_dir, disable_download=True
    )


class WordLlamaEmbedder:
    """The memory index's sentence encoder; the model loads on first use.

    Loading is deferred so importing the memory package (e.g. when Dagster loads
    definitions) costs nothing until something is actually embedded.
    """

    dim: int = EMBEDDING_DIM

    def __init__(self) -> None:
        self._model: WordLlamaInference | None = None
        self._lock = threading.Lock()

    def _loaded(self) -> WordLlamaInference:
        with self._lock:
            if self._model is None:
                self._model = load_model()
            return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts into an (n, 256) float32 array of unit-norm rows.

        A text with no token at all (empty, or only figures once the index strips them)
        pools to zero; it gets one fixed unit vector instead, so that no NaN reaches the
        index and such texts count as alike.
        """
        if isinstance(texts, str):
            raise TypeError("embed() takes a list of strings, not a single string")
        texts = list(texts)
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"embed() expects strings, got {type(t).__name__}")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        pooled = np.asarray(self._loaded().embed(texts, norm=False), dtype=np.float32)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        empty = norms[:, 0] == 0.0
        pooled[empty] = 1.0
        norms[empty] = np.sqrt(np.float32(self.dim))
        return pooled / norms


_FIGURES = re.compile(r"[-+]?\d[\d.,]*%?")


def embedding_text(text: str) -> str:
    """What a memory means, without its figures: "AAPL momentum trade in a bull market won
    +5.2% in 12 days" and the same trade at +4.8% mean the same thing to a search by
    meaning, embed as one, and cost one embedding. Figures stay in the stored document.
    """
    return " ".join(_FIGURES.sub("", text).split())


_default: WordLlamaEmbedder | None = None
_default_lock = threading.Lock()


def default_embedder() -> WordLlamaEmbedder:
    """The per-process shared encoder, so the model is read at most once."""
    global _default
    with _default_lock:
        if _default is None:
            _default = WordLlamaEmbedder()
        return _default


@register_embedding_function
class WordLlamaEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma adapter for the encoder.

    Chroma's built-in default downloads an ONNX model at first use, which fails
    offline, so every collection is given this function instead. It is registered by
    name so a persisted collection reopens in a new process.
    """

    def __init__(self, embedder: WordLlamaEmbedder | None = None) -> None:
        self._embedder = embedder

    @property
    def embedder(self) -> WordLlamaEmbedder:
        """The wrapped encoder; the process-wide one unless another was given."""
        return self._embedder if self._embedder is not None else default_embedder()

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embedder.embed(list(input)))

    @staticmethod
    def name() -> str:
        return f"trade_pipelines_{MODEL_ID.replace('-', '_')}"

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def get_config(self) -> dict[str, Any]:
        # No local paths: the config is persisted and must load on any machine.
        return {"model": MODEL_ID, "dim": EMBEDDING_DIM}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> WordLlamaEmbeddingFunction:
        return WordLlamaEmbeddingFunction()
