"""The packaged WordLlama encoder: stable unit vectors, paraphrases found, fully offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from trade_pipelines.memory_index.embedding import (
    EMBEDDING_DIM,
    MODEL_ID,
    WordLlamaEmbedder,
    WordLlamaEmbeddingFunction,
    default_embedder,
)

ROOT = Path(__file__).resolve().parents[2]

MEMORIES = {
    "bounce_bear": "AAPL RSI oversold bounce trade in a bear market lost in days, exit by stop "
                   "loss.",
    "breakout": "NVDA breakout trade in a bull market lost in days, exit by stop loss.",
    "opec": "Crude oil prices jumped after OPEC announced production cuts.",
    "oil_demand": "Oil demand forecasts were cut by the energy agency.",
    "yields": "Ten-year Treasury yields climbed to their highest level since.",
    "cpi": "Consumer prices rose faster than forecast and inflation stayed hot.",
    "gold": "Gold hit a record high as investors sought safe havens.",
    "bank_fail": "Bank stocks fell after a regional lender failed.",
    "bitcoin": "Bitcoin dropped in a single day.",
    "tight_stops": "Lesson: tight stop losses are triggered by normal noise in range markets.",
    "earnings": "Lesson: do not hold large positions through earnings announcements.",
}

PARAPHRASES = [
    ("a breakout that failed quickly and got stopped out", "breakout"),
    ("oil rallied on supply cuts by producers", "opec"),
    ("bond yields rose to a multi-year high", "yields"),
    ("inflation came in hotter than expected", "cpi"),
    ("precious metal at an all-time high, flight to safety", "gold"),
    ("lenders sold off after a bank collapse", "bank_fail"),
    ("crypto crash", "bitcoin"),
    ("stops placed too close get hit in choppy sideways markets", "tight_stops"),
    ("avoid holding big positions into earnings reports", "earnings"),
]


@pytest.fixture(scope="module")
def embedder() -> WordLlamaEmbedder:
    return default_embedder()


def test_vectors_are_deterministic_unit_norm_float32(embedder: WordLlamaEmbedder) -> None:
    texts = list(MEMORIES.values())
    once = embedder.embed(texts)
    assert once.shape == (len(texts), EMBEDDING_DIM) and once.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(once, axis=1), 1.0, atol=1e-5)
    # The same text gives the same vector alone, in another batch and in a new encoder.
    np.testing.assert_allclose(embedder.embed(texts[3:4])[0], once[3], atol=1e-6)
    np.testing.assert_allclose(WordLlamaEmbedder().embed(texts[::-1])[::-1], once, atol=1e-6)
    assert len({v.tobytes() for v in once}) == len(texts)


def test_text_without_tokens_gets_one_fixed_unit_vector(embedder: WordLlamaEmbedder) -> None:
    blank = embedder.embed(["", "hello", ""])
    assert np.isfinite(blank).all()
    np.testing.assert_allclose(np.linalg.norm(blank, axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(blank[0], blank[2])
    assert float(blank[0] @ blank[1]) < 0.5


@pytest.mark.parametrize(("query", "target"), PARAPHRASES)
def test_a_paraphrase_ranks_its_memory_first(
    embedder: WordLlamaEmbedder, query: str, target: str
) -> None:
    ids = list(MEMORIES)
    scores = embedder.embed(list(MEMORIES.values())) @ embedder.embed([query])[0]
    assert ids[int(np.argmax(scores))] == target, dict(zip(ids, scores.round(3), strict=True))


def test_empty_input_and_bad_input(embedder: WordLlamaEmbedder) -> None:
    assert embedder.embed([]).shape == (0, EMBEDDING_DIM)
    with pytest.raises(TypeError):
        embedder.embed("not a list")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        embedder.embed([1, 2])  # type: ignore[list-item]


def test_default_embedder_is_a_process_singleton() -> None:
    assert default_embedder() is default_embedder()


def test_chroma_embedding_function_contract(embedder: WordLlamaEmbedder) -> None:
    ef = WordLlamaEmbeddingFunction(embedder)
    vectors = ef(["alpha", "beta"])
    assert len(vectors) == 2 and all(len(v) == EMBEDDING_DIM for v in vectors)
    np.testing.assert_allclose(vectors[0], embedder.embed(["alpha"])[0], atol=1e-6)
    assert not ef.is_legacy()
    assert MODEL_ID.replace("-", "_") in ef.name()
    rebuilt = WordLlamaEmbeddingFunction.build_from_config(ef.get_config())
    assert rebuilt.name() == ef.name()
    assert rebuilt.get_config() == ef.get_config()
    assert rebuilt.embedder is default_embedder()
    persisted = json.dumps(ef.get_config())  # persisted by Chroma, so JSON, and portable
    assert os.sep not in persisted and "site-packages" not in persisted


def test_the_model_loads_offline_writes_nothing_and_leaves_logging_alone(
    tmp_path: Path,
) -> None:
    """In a fresh process with every network connection refused and an empty HOME."""
    script = textwrap.dedent(
        """
        import importlib.util, json, logging, socket
        from pathlib import Path

        def refuse(*args, **kwargs):
            raise OSError("network used")

        socket.socket.connect = refuse
        socket.create_connection = refuse
        # find_spec, not files(): importing wordllama here would configure logging itself
        package = Path(importlib.util.find_spec("wordllama").submodule_search_locations[0])
        before = sorted((str(p), p.stat().st_mtime_ns) for p in package.rglob("*"))
        from trade_pipelines.memory_index.embedding import WordLlamaEmbedder

        vectors = WordLlamaEmbedder().embed(["rates rose", "stocks fell"])
        after = sorted((str(p), p.stat().st_mtime_ns) for p in package.rglob("*"))
        print(json.dumps({
            "shape": list(vectors.shape),
            "package_unchanged": before == after,
            "root_handlers": len(logging.getLogger().handlers),
        }))
        """
    )
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT),
           "HF_HUB_OFFLINE": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"shape": [2, EMBEDDING_DIM], "package_unchanged": True,
                      "root_handlers": 0}
    assert list(home.iterdir()) == []
