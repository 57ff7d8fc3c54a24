"""What each kind of change the reviews make earns: the in-memory agent over 2008-2016 on
the built-in US data with no change applied, each kind applied alone (the reviews still
run; the other kinds are never made) and all of them, side by side; the combined
account's Sharpe and maximum drawdown. About a minute a line on two cores.

    python benchmarks/reflection_kinds.py [KIND ...]
"""

from __future__ import annotations

import sys
import time
from datetime import date
from typing import Any

import numpy as np

from trade_pipelines.agent.loop.simulation import run_agent_loop
from trade_pipelines.agent.reflection.changes import CHANGE_KINDS
from trade_pipelines.agent.reflection.cycles import ReflectionCycle, ReflectionOutput
from trade_pipelines.market_data.builtin import BENCHMARK_SYMBOL, VIX_SYMBOL, load_builtin_bars

START, END = date(2008, 1, 2), date(2016, 12, 30)


def reviews_making(kinds: frozenset[str]) -> type[ReflectionCycle]:
    """The reviews, making only changes of ``kinds``."""

    class Only(ReflectionCycle):
        def _change(self, out: ReflectionOutput, day: date, effective: date, review: str,
                    kind: str, target: str, new_value: Any, evidence: str) -> None:
            if kind in kinds:
                super()._change(out, day, effective, review, kind, target, new_value,
                                evidence)

    return Only


def main(names: list[str]) -> None:
    bars = load_builtin_bars()
    bars = bars[bars["as_of"] >= date(2005, 1, 1)]
    symbols = sorted(set(bars["symbol"]) - {BENCHMARK_SYMBOL, VIX_SYMBOL})
    runs = {"none": frozenset(), **{k: frozenset({k}) for k in CHANGE_KINDS},
            "all": frozenset(CHANGE_KINDS)}
    print(f"{'changes applied':<16} {'Sharpe':>7} {'max DD':>7} {'changes':>8} {'seconds':>8}")
    for name, kinds in runs.items():
        if names and name not in names:
            continue
        started = time.perf_counter()
        frames = run_agent_loop(bars, START, END, symbols, BENCHMARK_SYMBOL, VIX_SYMBOL,
                                reflection=reviews_making(kinds))["frames"]
        combined = frames["accounts"][frames["accounts"]["account"] == "combined"]
        returns = combined["daily_return"].to_numpy(dtype=float)
        sharpe = returns.mean() / returns.std() * np.sqrt(252)
        print(f"{name:<16} {sharpe:>7.3f} {combined['drawdown'].min():>7.1%} "
              f"{len(frames['changes']):>8} {time.perf_counter() - started:>8.0f}",
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
