"""Gene-pool evaluation speed: genome-symbol-days per second of 1,000 genomes' daily books
over ten years of the built-in universe, against vectorbt on an SMA-crossover grid of the
same size on the same closes.

Prints:
  1. the features, computed once for every genome (as the pipeline's features step does);
  2. the genome books, warm (after a call that loads the compiled loop): the signals
     (``entry_signal`` of each genome, pivoted to matrices), the simulation, and both
     together through ``genome_books``; best of ``--repeat`` runs;
  3. the peer: vectorbt, 1,000 (fast, slow) SMA pairs over the same close matrix, moving
     averages, crossovers, ``Portfolio.from_signals`` with fees and the daily returns,
     warm, best of ``--repeat``; all pairs in one call, and 50 pairs a call (smaller
     arrays, which vectorbt runs faster here); the ratio takes the faster. vectorbt wants
     pandas >= 3 and the project pins pandas < 3, so it runs in its own virtualenv under
     ``~/.cache/trade-pipelines-bench`` (created on first use, reused after) as a child
     process fed an ``.npz`` file.

The last line is ``genome_symbol_days_per_s=<int> vectorbt=<int> ratio=<x.xx>``, with
``vectorbt=unavailable (<reason>)`` when vectorbt could not be installed or run.

Usage: python benchmarks/evolution.py [--genomes 1000] [--start 2013-01-01]
       [--end 2022-12-28] [--seed 7] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from trade_pipelines.agent.evolution.books import (
    genome_books,
    signal_matrices,
    simulate_books,
)
from trade_pipelines.agent.evolution.genomes import (
    SEEDED_STRATEGIES,
    StrategyGenome,
    with_indicators,
)
from trade_pipelines.agent.loop.wiring import with_breadth
from trade_pipelines.agent.perception.features import compute_features
from trade_pipelines.market_data.builtin import BUILTIN_UNIVERSE, load_builtin_bars

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "trade-pipelines-bench"
VECTORBT_VENV = CACHE / "vectorbt-venv"
SMA_WINDOWS = np.arange(5, 255, 5)  # 5, 10, ..., 250

VECTORBT_CHILD = r'''
import json, sys, time
import numpy as np, pandas as pd, vectorbt as vbt

data = np.load(sys.argv[1])
repeat = int(sys.argv[2])
close = pd.DataFrame(data["close"], index=pd.to_datetime(data["days"]),
                     columns=[str(s) for s in data["symbols"]])
fast, slow, fees = data["fast"].tolist(), data["slow"].tolist(), float(data["fees"])
CHUNK = 50  # pairs at a time: vectorbt's arrays stay small, and it runs faster

def run(fast, slow):
    fast_ma = vbt.MA.run(close, fast, short_name="fast")
    slow_ma = vbt.MA.run(close, slow, short_name="slow")
    entries = fast_ma.ma_crossed_above(slow_ma)
    exits = fast_ma.ma_crossed_below(slow_ma)
    portfolio = vbt.Portfolio.from_signals(close, entries, exits, fees=fees, freq="1D")
    return portfolio.returns()

def timed(chunk):
    """Best of ``repeat`` runs over every pair, ``chunk`` pairs at a time."""
    seconds = []
    for _ in range(repeat):
        began = time.perf_counter()
        columns = 0
        for i in range(0, len(fast), chunk):
            columns += run(fast[i:i + chunk], slow[i:i + chunk]).shape[1]
        seconds.append(time.perf_counter() - began)
    return min(seconds), columns

run(fast[:3], slow[:3])  # compile vectorbt's numba functions
whole, columns = timed(len(fast))
chunked, _ = timed(CHUNK)
print(json.dumps({"whole": whole, "chunked": chunked, "chunk": CHUNK, "columns": columns,
                  "days": len(close), "version": vbt.__version__}))
'''


def genome_grid(n: int, seed: int) -> list[StrategyGenome]:
    """``n`` variations of the seeded genomes, round robin over their entry rules: new
    windows and thresholds, new stop, target and holding period (deterministic)."""
    rng = np.random.default_rng(seed)

    def uniform(low: float, high: float, digits: int = 3) -> float:
        return round(float(rng.uniform(low, high)), digits)

    genomes = []
    for i in range(n):
        base = SEEDED_STRATEGIES[i % len(SEEDED_STRATEGIES)]
        params = dict(base.params)
        match base.entry:
            case "sma_cross":
                fast = int(rng.choice(SMA_WINDOWS[SMA_WINDOWS <= 60]))
                params["fast"] = fast
                params["slow"] = int(rng.choice(SMA_WINDOWS[SMA_WINDOWS - fast >= 10]))
            case "momentum":
                params["min_return"] = uniform(0.02, 0.15)
            case "rsi_oversold" | "pullback":
                params["rsi_max"] = uniform(20, 50, 1)
            case "zscore_reversion":
                params["z_max"] = uniform(-2.5, -1.0, 2)
            case "vol_contraction" | "low_vol_trend":
                params["max_vol"] = uniform(0.12, 0.35)
            case "fear_reversal":
                params["max_breadth"] = uniform(0.2, 0.45)
                params["rsi_max"] = uniform(25, 45, 1)
        genomes.append(replace(base, strategy_id=f"B{i:04d}", name=f"{base.name} #{i}",
                               params=params, stop_loss=uniform(0.03, 0.15),
                               take_profit=uniform(0.05, 0.40),
                               max_holding_days=int(rng.integers(5, 81))))
    return genomes


def best_of(repeat: int, work) -> tuple[float, object]:
    """The fastest of ``repeat`` runs (the machine is shared: the minimum is the signal)."""
    times, out = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        out = work()
        times.append(time.perf_counter() - began)
    return min(times), out


def vectorbt_python() -> Path:
    """The cached virtualenv's interpreter with vectorbt installed (created on first use)."""
    python = VECTORBT_VENV / "bin" / "python"
    probe = [str(python), "-c", "import vectorbt"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"Installing vectorbt into {VECTORBT_VENV} (first run only)...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VECTORBT_VENV)], check=True,
                   capture_output=True, text=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "vectorbt"], check=True,
                   capture_output=True, text=True)
    subprocess.run(probe, check=True, capture_output=True, text=True)
    return python


def run_vectorbt(close: np.ndarray, days: list[date], symbols: list[str],
                 pairs: list[tuple[int, int]], fees: float, repeat: int) -> dict | str:
    """vectorbt's figures as its child process reports them, or why there are none."""
    try:
        python = vectorbt_python()
    except subprocess.CalledProcessError as error:
        detail = (error.stderr or error.stdout or "").strip().splitlines()
        return f"install failed: {detail[-1] if detail else error}"
    with tempfile.TemporaryDirectory() as folder:
        data, child = Path(folder) / "close.npz", Path(folder) / "peer.py"
        np.savez(data, close=close, days=np.array([d.isoformat() for d in days]),
                 symbols=np.array(symbols), fast=np.array([p[0] for p in pairs]),
                 slow=np.array([p[1] for p in pairs]), fees=fees)
        child.write_text(VECTORBT_CHILD)
        done = subprocess.run([str(python), str(child), str(data), str(repeat)],
                              capture_output=True, text=True)
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()
        return f"run failed: {detail[-1] if detail else done.returncode}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--genomes", type=int, default=1000)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2013, 1, 1))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2022, 12, 28))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    genomes = genome_grid(args.genomes, args.seed)
    bars = load_builtin_bars()
    bars = bars[bars["symbol"].isin(BUILTIN_UNIVERSE)]
    # Features from the first bar, so the long averages are defined from the window's start.
    began = time.perf_counter()
    features = with_indicators(with_breadth(compute_features(bars)), genomes)
    features_seconds = time.perf_counter() - began
    window = features[(features["as_of"] >= args.start) & (features["as_of"] <= args.end)]
    window = window.reset_index(drop=True)

    began = time.perf_counter()
    genome_books(genomes[:10], window)
    first_call = time.perf_counter() - began
    signal_seconds, matrices = best_of(args.repeat, lambda: signal_matrices(genomes, window))
    exits = {
        "stop_loss": np.array([g.stop_loss for g in genomes]),
        "take_profit": np.array([g.take_profit for g in genomes]),
        "trailing_stop": np.zeros(len(genomes)),
        "max_holding_days": np.array([g.max_holding_days for g in genomes]),
        "slot_weight": np.full(len(genomes), 1 / len(matrices.symbols)),
    }
    simulation_seconds, _ = best_of(args.repeat, lambda: simulate_books(
        matrices.entries, matrices.close, matrices.cost, **exits))
    one_thread_seconds, _ = best_of(args.repeat, lambda: simulate_books(
        matrices.entries, matrices.close, matrices.cost, **exits, workers=1))
    total_seconds, (books, days, symbols) = best_of(
        args.repeat, lambda: genome_books(genomes, window))
    cells = len(genomes) * len(symbols) * len(days)
    ours = cells / total_seconds

    print(f"Universe: {len(symbols)} symbols, {days[0]} .. {days[-1]} ({len(days):,} days); "
          f"{len(genomes):,} genomes over {len({g.entry for g in genomes})} entry rules: "
          f"{cells:,} genome-symbol-days\n")
    rows = [
        ("features, all history, once for every genome (not in the figure)", features_seconds,
         None),
        ("first call in this process (loads or compiles the loop; 10 genomes)", first_call,
         None),
        ("signals: entry_signal per genome, pivoted to matrices", signal_seconds, cells),
        ("simulation: daily books, threads over genomes", simulation_seconds, cells),
        ("simulation, one thread", one_thread_seconds, cells),
        ("genome_books: signals + simulation", total_seconds, cells),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'step':<{width}}  {'seconds':>8}  {'genome-symbol-days/s':>20}")
    for name, seconds, n in rows:
        rate = f"{n / seconds:>20,.0f}" if n else f"{'':>20}"
        print(f"{name:<{width}}  {seconds:>8.2f}  {rate}")
    print(f"\nBooks: median {np.median(books.n_trades):,.0f} trades a genome, median "
          f"exposure {np.median(books.exposure.mean(axis=1)):.0%}, median total return "
          f"{np.median(np.prod(1 + books.daily_returns, axis=1) - 1):+.0%}")

    rng = np.random.default_rng(args.seed)
    pairs = []
    while len(pairs) < len(genomes):
        fast, slow = sorted(int(w) for w in rng.choice(SMA_WINDOWS, 2, replace=False))
        pairs.append((fast, slow))
    peer = run_vectorbt(matrices.close, days, symbols, pairs,
                        fees=float(np.nanmean(matrices.cost)), repeat=args.repeat)
    if isinstance(peer, str):
        print(f"\nvectorbt: unavailable ({peer})")
        print(f"genome_symbol_days_per_s={ours:.0f} vectorbt=unavailable ({peer})")
        return
    cells = peer["columns"] * peer["days"]
    print(f"\nvectorbt {peer['version']}: {len(pairs):,} SMA (fast, slow) pairs x "
          f"{len(symbols)} symbols ({cells:,} symbol-days), moving averages, crossovers, "
          "from_signals with fees, daily returns; warm, best of "
          f"{args.repeat}:")
    print(f"  all pairs at once        {peer['whole']:>7.2f} s = "
          f"{cells / peer['whole']:>12,.0f} symbol-days/s")
    print(f"  {peer['chunk']} pairs at a time      {peer['chunked']:>7.2f} s = "
          f"{cells / peer['chunked']:>12,.0f} symbol-days/s")
    theirs = cells / min(peer["whole"], peer["chunked"])
    print("  (the ratio below takes vectorbt's faster way)")
    print(f"genome_symbol_days_per_s={ours:.0f} vectorbt={theirs:.0f} ratio={ours / theirs:.2f}")


if __name__ == "__main__":
    pd.options.mode.chained_assignment = None
    main()
