"""``trade-pipelines evaluate``: the walk-forward scoreboard, run as the Dagster job's
asset in this process (so it shows in the UI with its metadata)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

from trade_pipelines.cli.common import dagster_env, parse_date, print_step_failures
from trade_pipelines.settings import paths

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_evaluate(start: date, end: date, out: Path | None, symbols: str = "",
                 source: str = "builtin", train_years: int = 3, test_months: int = 12,
                 progress: bool = True, market: str = "") -> bool:
    if end <= start:
        raise SystemExit(f"--end {end} is not after --start {start}")
    dagster_env()
    if progress:
        os.environ["TRADE_PIPELINES_PROGRESS"] = "1"
    from dagster import DagsterInstance, materialize

    from trade_pipelines.assets import ALL_ASSETS
    from trade_pipelines.assets.evaluation import first_test_day, walk_forward_scoreboard
    from trade_pipelines.definitions import build_resources
    from trade_pipelines.home_market import claim_home_market

    try:
        resources = build_resources(symbols=symbols, source=source, market=market or None)
        claim_home_market(resources["market_data"].rules().code, paths())
    except ValueError as error:  # an unknown market, or another than the home's
        raise SystemExit(f"evaluation refused: {error}") from None
    folder = (out or paths().home / "scoreboard").resolve()
    print(f"Walk-forward evaluation of {start} .. {end}: warm-up {train_years} years, test "
          f"windows of {test_months} months from {first_test_day(start, train_years)}",
          flush=True)
    began = time.perf_counter()
    config = {"start": start.isoformat(), "end": end.isoformat(), "out": str(folder),
              "train_years": train_years, "test_months": test_months}
    result = materialize(
        ALL_ASSETS, selection=[walk_forward_scoreboard], instance=DagsterInstance.get(),
        resources=resources,
        run_config={**QUIET, "ops": {"walk_forward_scoreboard": {"config": config}}},
        raise_on_error=False)
    elapsed = time.perf_counter() - began
    if not result.success:
        print_step_failures(result)
        print(f"Evaluation failed after {elapsed:.1f}s (run {result.run_id}).",
              file=sys.stderr)
        return False
    import pandas as pd

    summary = pd.read_csv(folder / "summary.csv")
    shown = summary[["system", "total_return", "sharpe", "max_drawdown",
                     "windows_beating_buy_and_hold", "deflated_sharpe"]]
    print(f"\nEvaluation finished in {elapsed:.1f}s (Dagster run {result.run_id}).")
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nScoreboard: {folder / 'scoreboard.csv'}\nReport:     {folder / 'report.html'}")
    return True


def cmd_evaluate(args: argparse.Namespace) -> int:
    ok = run_evaluate(args.start, args.end, args.out, args.symbols or "", args.source,
                      args.train_years, args.test_months, progress=not args.no_progress,
                      market=args.market or "")
    return 0 if ok else 1


def register(sub: argparse._SubParsersAction) -> None:
    evaluate = sub.add_parser(
        "evaluate", help="walk-forward scoreboard: the agent against baselines and "
                         "ablations, out of sample")
    evaluate.add_argument("--start", type=parse_date, required=True,
                          help="first day of history; the first test window begins "
                               "--train-years later")
    evaluate.add_argument("--end", type=parse_date, required=True)
    evaluate.add_argument("--out", type=Path, default=None,
                          help="output folder (default: <home>/scoreboard)")
    evaluate.add_argument("--symbols", default="", help="comma-separated; default: built-in 20")
    evaluate.add_argument("--source", default="builtin",
                          choices=["builtin", "yfinance", "live", "warehouse"])
    evaluate.add_argument("--market", default="", choices=["", "us", "cn", "hk", "crypto"],
                          help="the market whose built-in data and calendar to use "
                               "(default: $TRADE_PIPELINES_MARKET, else the symbols' "
                               "spelling, else the home's market (recorded by its first "
                               "replay), else US)")
    evaluate.add_argument("--train-years", type=int, default=3)
    evaluate.add_argument("--test-months", type=int, default=12)
    evaluate.add_argument("--no-progress", action="store_true")
    evaluate.set_defaults(func=cmd_evaluate)
