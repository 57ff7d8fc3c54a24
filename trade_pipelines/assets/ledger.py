"""Execution: risk-checked orders, fills, positions and account values of the three paper
accounts, produced together by one engine that walks the days in order."""


import math
from datetime import date

import pandas as pd
from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    TimeWindowPartitionMapping,
    multi_asset,
)

from trade_pipelines.agent.gene_pool import GENOMES
from trade_pipelines.agent.ledger import (
    ACCOUNTS,
    DayMarket,
    Ledger,
    bars_by_day,
    state_from_rows,
)
from trade_pipelines.assets.common import partition_window, progress, to_dates, trading_days
from trade_pipelines.assets.decisions import debate_decisions
from trade_pipelines.assets.market import WRITER_TAGS, market_bars, market_features, market_regime
from trade_pipelines.partitions import single_run, trading_months
from trade_pipelines.resources import MarketDataResource, WarehouseResource
from trade_pipelines.warehouse import Warehouse

PREVIOUS_MONTH = TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
LEDGER_TABLES = ("orders", "fills", "positions", "accounts", "trades")
UPSTREAM = [market_bars, market_features, market_regime, debate_decisions]


def _spec(key: str, description: str, table: str, after: tuple[str, ...] = (),
          self_dependent: bool = False) -> AssetSpec:
    deps = [AssetDep(key, partition_mapping=PREVIOUS_MONTH)] if self_dependent else []
    return AssetSpec(key, description=description, group_name="execution",
                     deps=[*(a.key for a in UPSTREAM), *after, *deps],
                     metadata={"table": table, "partition_expr": "as_of"})


def load_state(store: Warehouse, start: date):
    """The ledger's state at the close of the last recorded day before ``start``."""
    last = store.query("SELECT max(as_of) AS d FROM accounts WHERE as_of < ?", [start])
    previous = last["d"].iloc[0] if not last.empty else None
    if previous is None or pd.isna(previous):
        return state_from_rows(pd.DataFrame(), {}, pd.DataFrame(), pd.DataFrame()), None
    accounts = store.query("SELECT * FROM accounts WHERE as_of = ?", [previous])
    peaks = store.query("SELECT account, max(equity) AS peak FROM accounts WHERE as_of <= ? "
                        "GROUP BY account", [previous])
    positions = to_dates(store.query("SELECT * FROM positions WHERE as_of = ? "
                                     "ORDER BY account, symbol", [previous]), "opened_as_of")
    # Orders accepted at that close fill at the next bar, which is inside this window.
    pending = store.query("SELECT * FROM orders WHERE as_of = ? AND status = 'accepted' "
                          "ORDER BY sequence", [previous])
    state = state_from_rows(accounts, dict(zip(peaks["account"], peaks["peak"], strict=True)),
                            positions, pending)
    return state, pd.Timestamp(previous).date()


@multi_asset(
    specs=[
        _spec("risk_checked_orders", "Orders after the risk engine: accepted, rejected or "
              "refused while paused, each with its reason.", "orders"),
        _spec("paper_fills", "Fills at the bar after the decision, with modelled slippage "
              "and fees.", "fills", after=("risk_checked_orders",)),
        _spec("positions", "End-of-day positions of each paper account.", "positions",
              after=("paper_fills",)),
        _spec("account_values", "End-of-day cash, equity, drawdown of the three accounts "
              "beside the benchmark.", "accounts", after=("positions",), self_dependent=True),
        _spec("closed_trades", "Round trips closed, with P&L and exit reason.", "trades",
              after=("paper_fills",)),
    ],
    partitions_def=trading_months, backfill_policy=single_run, op_tags=WRITER_TAGS,
    can_subset=False,
)
def paper_ledger(context: AssetExecutionContext, warehouse: WarehouseResource,
                 market_data: MarketDataResource):
    """Walk the window's trading days through the ledger engine and write all its tables
    in one transaction, so a killed run leaves the previous ledger intact."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    universe = market_data.universe()
    state, previous_day = load_state(store, start)
    days = trading_days(store, universe, start, end)
    bars = to_dates(store.query(
        "SELECT b.symbol, b.as_of, b.open, b.close, b.volume, f.vol_20 FROM bars b "
        "LEFT JOIN features f USING (symbol, as_of) WHERE b.as_of BETWEEN ? AND ? "
        "AND list_contains(?, b.symbol)", [start, end, universe]), "as_of")
    regimes = to_dates(store.query("SELECT as_of, benchmark_close, defensive FROM regimes "
                                   "WHERE as_of BETWEEN ? AND ? ORDER BY as_of",
                                   [start, end]), "as_of").set_index("as_of")
    last_benchmark = store.query("SELECT benchmark_close FROM regimes WHERE as_of < ? "
                                 "ORDER BY as_of DESC LIMIT 1", [start])
    decisions = to_dates(store.query("SELECT * FROM decisions WHERE as_of BETWEEN ? AND ?",
                                     [start, end]), "as_of")
    decisions_by_day: dict[date, list[dict]] = {}
    for record in decisions.to_dict("records") if not decisions.empty else []:
        decisions_by_day.setdefault(record["as_of"], []).append(record)
    market_by_day = bars_by_day(bars)
    ledger = Ledger(state, GENOMES)
    pause_state = warehouse.pause_state

    def pause(_: date) -> tuple[bool, str]:
        current = pause_state()
        return current.paused, current.reason

    previous_close = float(last_benchmark["benchmark_close"].iloc[0]) \
        if not last_benchmark.empty else math.nan
    benchmark = dict(zip(regimes.index, regimes["benchmark_close"].astype(float), strict=True))
    defensive = dict(zip(regimes.index, regimes["defensive"].astype(bool), strict=True))
    for day in progress(days, "paper ledger", len(days)):
        day_bars, volatility = market_by_day.get(day, ({}, {}))
        close = benchmark.get(day, math.nan)
        bench_return = close / previous_close - 1 if math.isfinite(previous_close) \
            and math.isfinite(close) and previous_close else 0.0
        previous_close = close if math.isfinite(close) else previous_close
        ledger.run_day(DayMarket(day, day_bars, volatility, close, bench_return,
                                 defensive.get(day, False)),
                       decisions_by_day.get(day, []), pause)
    frames = ledger.result.frames()
    counts = store.replace_days(dict(zip(LEDGER_TABLES, (frames[t] for t in LEDGER_TABLES),
                                         strict=True)), start, end)
    accounts = frames["accounts"]
    final = accounts[accounts["as_of"] == accounts["as_of"].max()] if not accounts.empty \
        else accounts
    equity = {r.account: round(r.equity, 2) for r in final.itertuples()}
    orders = frames["orders"]
    for warning in ledger.result.warnings[:20]:
        context.log.warning(warning)
    common = {"window": f"{start}..{end}", "continued_from": str(previous_day)}
    yield MaterializeResult(asset_key="risk_checked_orders", metadata={
        **common, "rows": counts["orders"],
        "status": MetadataValue.json(orders["status"].value_counts().to_dict()
                                     if not orders.empty else {})})
    yield MaterializeResult(asset_key="paper_fills", metadata={**common,
                                                               "rows": counts["fills"]})
    yield MaterializeResult(asset_key="positions", metadata={**common,
                                                             "rows": counts["positions"]})
    yield MaterializeResult(asset_key="account_values", metadata={
        **common, "rows": counts["accounts"], **{f"equity_{a}": equity.get(a, 0.0)
                                                  for a in ACCOUNTS},
        "pnl_combined": round(equity.get("combined", 1_000_000.0) - 1_000_000.0, 2)})
    yield MaterializeResult(asset_key="closed_trades", metadata={
        **common, "rows": counts["trades"],
        "pnl": round(float(frames["trades"]["pnl"].sum()), 2) if counts["trades"] else 0.0})
