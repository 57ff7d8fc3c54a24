"""A home holds one market: the market of its first replay (US stocks, A-shares, Hong
Kong or crypto) is recorded in the warehouse table ``home_market``, and a replay of
another market in the same home is refused. One account trades in one currency on one
calendar; bars, ledgers and reports of two markets in one warehouse would be mixed.

A home that already holds bars from before the market was recorded belongs to the market
of those bars.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from trade_pipelines.agent.markets import market_of_symbols, market_rules
from trade_pipelines.settings import HOME_ENV, Paths, market_setting
from trade_pipelines.warehouse import Warehouse, WarehouseLockedError

TABLE = "home_market"
# How long a definitions load waits for a writer's lock before it reads no home market;
# the warehouse's default (a minute) would stall the load.
LOAD_LOCK_TIMEOUT_S = 2.0


class HomeMarketMismatch(ValueError):
    """A run of one market asked for in a home that holds another."""


def home_market(warehouse: Warehouse) -> str | None:
    """The market this home holds: the recorded one, else that of the bars it holds,
    else None (a new home)."""
    if warehouse.table_exists(TABLE):
        recorded = warehouse.query(f"SELECT market FROM {TABLE} ORDER BY recorded_at LIMIT 1")
        if not recorded.empty:
            return str(recorded["market"].iloc[0])
    if warehouse.table_exists("bars"):
        symbols = warehouse.query("SELECT DISTINCT symbol FROM bars ORDER BY symbol")
        if not symbols.empty:
            try:
                return market_of_symbols(list(symbols["symbol"]))
            except ValueError:  # bars of several markets imported: no claim to make
                return None
    return None


def claim_home_market(market: str, paths: Paths) -> str:
    """Record ``market`` as the home's market, or check it is the one already held;
    a HomeMarketMismatch says which folder to use instead."""
    rules = market_rules(market)
    warehouse = Warehouse(paths.warehouse)
    held = home_market(warehouse)
    if held is not None and held != rules.code:
        held_rules = market_rules(held)
        raise HomeMarketMismatch(
            f"the home {paths.home} holds the {held_rules.name} market ({held_rules.currency}); "
            f"a replay of {rules.name} ({rules.currency}) would mix two markets in one "
            f"warehouse. Set {HOME_ENV} to another folder for it (for example "
            f"{HOME_ENV}={paths.home.parent / (paths.home.name + '-' + rules.code)}).")
    warehouse.migrate()
    if not warehouse.table_exists(TABLE) or warehouse.query(
            f"SELECT count(*) AS n FROM {TABLE}")["n"].iloc[0] == 0:
        warehouse.append(TABLE, pd.DataFrame(
            {"market": [rules.code],
             "recorded_at": [datetime.now(UTC).replace(tzinfo=None)]}))
    _write_market_file(paths.market_file, rules.code)
    return rules.code


def _write_market_file(path: Path, code: str) -> None:
    """Write the ``market`` file on every claim (a file left from a deleted warehouse
    would name another market), whole or not at all: a temporary file replaces it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(code + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def configured_market(home: Path | str, symbols: str) -> str:
    """The market the definitions trade: ``$TRADE_PIPELINES_MARKET``; else "" when
    ``symbols`` (the configured universe) are given (they decide); else the home's market,
    so the schedules and the UI's runs of an A-share home trade A-shares, not the default
    US universe."""
    if market_setting() or symbols.strip():
        return market_setting()
    paths = Paths(Path(home))
    if paths.market_file.exists():
        return paths.market_file.read_text().strip()
    try:  # a home claimed before the file existed; a writer's lock must not stop a load
        return home_market(Warehouse(paths.warehouse, lock_timeout_s=LOAD_LOCK_TIMEOUT_S)) or ""
    except (duckdb.Error, WarehouseLockedError):
        return ""
