"""Sentences per second of the numpy MiniLM encoder (and sentence-transformers, if present).

Run: python benchmarks/embedding.py [--n 1000] [--batch-size 64]

The memory index embeds every new memory and every recall query on CPU, so
this shows whether the numpy path is fast enough next to the torch original.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trade_pipelines.memory_index.embedding import MiniLMEmbedder, find_model_dir  # noqa: E402

SUBJECTS = ["AAPL", "The index", "Momentum", "Bond yields", "The VIX", "Energy stocks"]
VERBS = ["rallied", "slipped", "stalled", "surged", "reversed", "drifted lower"]
REASONS = [
    "after earnings",
    "on rate fears",
    "as volume dried up",
    "on a strong jobs report",
    "into the close",
    "after guidance was cut",
]


def short_sentences(n: int) -> list[str]:
    """Deterministic, varied short sentences like the agent's memory snippets."""
    return [
        f"{SUBJECTS[i % 6]} {VERBS[(i // 6) % 6]} {REASONS[(i // 36) % 6]} (note {i})."
        for i in range(n)
    ]


def rate(encode: Callable[[list[str]], Any], texts: list[str]) -> tuple[float, np.ndarray]:
    """Time one warm run; returns (sentences per second, embeddings)."""
    encode(texts[:8])  # warm-up: load weights, allocate buffers
    start = time.perf_counter()
    out = np.asarray(encode(texts))
    return len(texts) / (time.perf_counter() - start), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    texts = short_sentences(args.n)

    ours = MiniLMEmbedder(batch_size=args.batch_size)
    ours_rate, ours_out = rate(ours.embed, texts)
    print(f"numpy MiniLM:          {ours_rate:8.1f} sentences/s  ({args.n} short sentences)")

    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        print("sentence-transformers: not installed (comparison skipped)")
        return
    model = SentenceTransformer(str(find_model_dir()), device="cpu")
    st_rate, st_out = rate(
        lambda t: model.encode(t, batch_size=args.batch_size, convert_to_numpy=True), texts
    )
    cos = np.sum(ours_out * st_out, axis=1)
    print(f"sentence-transformers: {st_rate:8.1f} sentences/s  (torch, CPU)")
    print(f"min cosine numpy vs sentence-transformers: {cos.min():.8f}")


if __name__ == "__main__":
    main()
