"""Small replays for the integration tests: a few symbols, a few months."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd

from trade_pipelines.settings import Paths
from trade_pipelines.warehouse import Warehouse

SYMBOLS = "AAPL,JPM,KO,XOM,MSFT"
LEDGER_TABLES = ("orders", "fills", "positions", "accounts", "trades")
# What the weekly, monthly and quarterly reviews leave: a resumed run must leave the same.
REVIEW_TABLES = ("changes", "horizon_plans", "framework_proposals")


def warehouse(home: Path) -> Warehouse:
    return Warehouse(Paths(home).warehouse)


def table(home: Path, name: str) -> pd.DataFrame:
    return warehouse(home).query(f"SELECT * FROM {name} ORDER BY ALL")


def seed_builtin_bars(home: Path, first: date, last: date, symbols: str = SYMBOLS) -> None:
    """The built-in bars of ``symbols``, the benchmark and the volatility index between
    two days, stored in a new warehouse under ``home`` (each known at 21:00 UTC)."""
    from trade_pipelines.market_data.builtin import BENCHMARK_SYMBOL, VIX_SYMBOL, load_builtin_bars

    wanted = [*symbols.split(","), BENCHMARK_SYMBOL, VIX_SYMBOL]
    bars = load_builtin_bars()
    bars = bars[bars["symbol"].isin(wanted) & (bars["as_of"] >= first)
                & (bars["as_of"] <= last)].copy()
    bars["available_at"] = [datetime(d.year, d.month, d.day, 21) for d in bars["as_of"]]
    store = warehouse(home)
    store.migrate()
    store.append("bars", bars[["symbol", "as_of", "open", "high", "low", "close", "volume",
                               "source", "available_at"]])
