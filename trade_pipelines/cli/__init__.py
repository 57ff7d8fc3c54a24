"""The ``trade-pipelines`` command, one module per group of subcommands. Heavy imports
happen inside the commands that need them, so ``--help`` and ``export`` start fast."""

from __future__ import annotations

import argparse

from trade_pipelines.cli import (
    bars,
    changes,
    controls,
    evaluate,
    graph,
    jumps,
    lots,
    memory,
    news,
    replay,
    services,
    tables,
)
from trade_pipelines.cli.replay import run_replay

__all__ = ["build_parser", "main", "run_replay"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trade-pipelines", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (replay, evaluate, bars, jumps, lots, news, tables, graph, services,
                   controls, memory, changes):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
