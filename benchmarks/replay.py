"""Replay speed: symbol-days per second of a 10-year replay of the built-in universe.

Prints three figures, side by side:
  1. end to end: `trade-pipelines replay` as a user runs it (a fresh home, one Dagster
     run over 120 monthly partitions, DuckDB, the memory index, reports);
  2. the agent loop alone: the same agent functions driven in memory, no Dagster and no
     warehouse (features, regime, gene pool, proposals, debate, ledger);
  3. the peer: backtrader running a bare SMA crossover on the same bars.

And the cost of resuming: the same replay killed with SIGKILL at 90% of its uninterrupted
time, then run again; the rerun's time as a share of the full run's.

Usage: .venv/bin/python benchmarks/replay.py [--start 2013-01-01] [--end 2022-12-28]
       [--kill-at 0.9]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from backtrader_peer import run_backtrader_sma  # noqa: E402

from trade_pipelines.agent.loop.simulation import run_agent_loop  # noqa: E402
from trade_pipelines.market_data.builtin import (  # noqa: E402
    BENCHMARK_SYMBOL,
    BUILTIN_UNIVERSE,
    VIX_SYMBOL,
    load_builtin_bars,
)


def step_seconds(home: Path) -> dict[str, float]:
    """Per-step wall time of the last run, from the Dagster event log."""
    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")
    from dagster import DagsterEventType, DagsterInstance

    instance = DagsterInstance.get()
    run = instance.get_runs(limit=1)[0]
    started: dict[str, float] = {}
    out: dict[str, float] = {}
    for record in instance.all_logs(run.run_id):
        event = record.dagster_event
        if event is None or record.step_key is None:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            started[record.step_key] = record.timestamp
        elif event.event_type == DagsterEventType.STEP_SUCCESS:
            out[record.step_key] = record.timestamp - started[record.step_key]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--start", type=date.fromisoformat, default=date(2013, 1, 1))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2022, 12, 28))
    parser.add_argument("--kill-at", type=float, default=0.9,
                        help="share of the uninterrupted time at which a replay is killed")
    args = parser.parse_args()

    bars = load_builtin_bars()
    universe = bars[bars["symbol"].isin(BUILTIN_UNIVERSE)
                    & (bars["as_of"] >= args.start) & (bars["as_of"] <= args.end)]
    symbol_days = len(universe)
    print(f"Universe: {len(BUILTIN_UNIVERSE)} symbols, {args.start} .. {args.end}, "
          f"{symbol_days:,} symbol-days\n")

    cli = Path(sys.executable).parent / "trade-pipelines"
    command = [str(cli), "replay", "--start", str(args.start), "--end", str(args.end),
               "--no-progress"]
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        env = dict(os.environ, TRADE_PIPELINES_HOME=str(home))
        began = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        end_to_end = time.perf_counter() - began
        steps = step_seconds(home)

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        env = dict(os.environ, TRADE_PIPELINES_HOME=str(home))
        process = subprocess.Popen(command, env=env, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(args.kill_at * end_to_end)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        began = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        resumed = time.perf_counter() - began

    began = time.perf_counter()
    loop = run_agent_loop(bars, args.start, args.end, list(BUILTIN_UNIVERSE),
                          BENCHMARK_SYMBOL, VIX_SYMBOL)
    agent_loop = time.perf_counter() - began

    peer_seconds, peer_days, _ = run_backtrader_sma(universe)

    rows = [
        ("trade-pipelines, end to end (CLI, Dagster, DuckDB, memory, reports)", end_to_end,
         symbol_days),
        ("trade-pipelines, agent loop alone (in memory)", agent_loop, symbol_days),
        ("backtrader 1.9, bare SMA 10/30 crossover, same bars", peer_seconds, peer_days),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'run':<{width}}  {'seconds':>8}  {'symbol-days/s':>13}")
    for name, seconds, days in rows:
        print(f"{name:<{width}}  {seconds:>8.1f}  {days / seconds:>13,.0f}")
    print(f"\nAgent loop: {loop['decisions']:,} debates, {loop['fills']:,} fills, "
          f"final equity {', '.join(f'{k} {v:,.0f}' for k, v in loop['equity'].items())}")
    print("\nEnd-to-end time by step (s):")
    for step, seconds in sorted(steps.items(), key=lambda kv: -kv[1]):
        print(f"  {step:<22} {seconds:6.1f}")
    print(f"  {'(steps total)':<22} {sum(steps.values()):6.1f}  of {end_to_end:.1f} "
          "(the rest is Python start-up and Dagster bookkeeping)")
    print(f"\nResume: killed at {args.kill_at:.0%} of {end_to_end:.1f}s, the rerun took "
          f"{resumed:.1f}s = {resumed / end_to_end:.0%} of the full run")


if __name__ == "__main__":
    pd.options.mode.chained_assignment = None
    main()
