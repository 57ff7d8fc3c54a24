"""Small replays for the integration tests: a few symbols, a few months."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from trade_pipelines.settings import Paths
from trade_pipelines.warehouse import Warehouse

SYMBOLS = "AAPL,JPM,KO,XOM,MSFT"
LEDGER_TABLES = ("orders", "fills", "positions", "accounts", "trades")


def warehouse(home: Path) -> Warehouse:
    return Warehouse(Paths(home).warehouse)


def table(home: Path, name: str) -> pd.DataFrame:
    return warehouse(home).query(f"SELECT * FROM {name} ORDER BY ALL")
