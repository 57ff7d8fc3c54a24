"""Reflection: the daily report, as Markdown files and warehouse rows."""


from datetime import timedelta

import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from trade_pipelines.agent.evolution.genomes import GENOMES
from trade_pipelines.agent.reflection.daily_report import reports_for_days
from trade_pipelines.assets.common import WAREHOUSE_POOL, partition_window, progress, to_dates
from trade_pipelines.partitions import single_run, trading_months
from trade_pipelines.resources import WarehouseResource


@asset(partitions_def=trading_months, backfill_policy=single_run, group_name="reflection",
       deps=["account_values", "closed_trades", "paper_fills", "debate_decisions",
             "daily_plans", "strategy_evaluations", "trade_memories"], pool=WAREHOUSE_POOL)
def daily_reports(context: AssetExecutionContext,
                  warehouse: WarehouseResource) -> MaterializeResult:
    """After each close: P&L against the benchmark, the accounts compared, best and worst
    trade with their reasons, lessons, the next session's plan, the gene pool's state."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    folder = warehouse.paths().reports
    accounts = to_dates(store.query("SELECT * FROM accounts WHERE as_of <= ? ORDER BY as_of",
                                    [end]), "as_of")
    trades = to_dates(store.query(
        "SELECT t.*, d.confidence AS decision_confidence, d.summary AS decision_summary "
        "FROM trades t "
        "LEFT JOIN decisions d USING (decision_id) WHERE t.as_of <= ?", [end]),
        "as_of", "opened_as_of")
    fills = to_dates(store.query("SELECT * FROM fills WHERE as_of BETWEEN ? AND ?",
                                 [start, end]), "as_of")
    decisions = to_dates(store.query(
        "SELECT as_of, symbol, strategy_id, verdict, confidence, low_certainty, summary "
        "FROM decisions WHERE as_of BETWEEN ? AND ?", [start, end]),
        "as_of")
    plans = to_dates(store.query("SELECT * FROM plans WHERE as_of BETWEEN ? AND ?",
                                 [start, end]), "as_of")
    evaluations = to_dates(store.query(
        "SELECT * FROM strategy_evaluations WHERE as_of BETWEEN ? AND ?",
        [start - timedelta(days=14), end]), "as_of")
    names = {k: g.name for k, g in GENOMES.items()}
    days = sorted(d for d in accounts["as_of"].unique() if start <= d <= end) \
        if not accounts.empty else []
    rows = []
    markdowns = reports_for_days(days, accounts, trades, fills, decisions, plans, evaluations,
                                 names)
    for day, markdown in progress(markdowns, "daily reports", len(days)):
        path = folder / f"{day:%Y}" / f"{day:%Y-%m-%d}-daily.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(markdown)
        rows.append({"as_of": day, "kind": "daily", "path": str(path), "markdown": markdown})
    reports = pd.DataFrame(rows, columns=["as_of", "kind", "path", "markdown"])
    counts = store.replace_days({"reports": reports}, start, end)
    last = rows[-1]["markdown"] if rows else "_no trading day in this window_"
    return MaterializeResult(metadata={"rows": counts["reports"],
                                       "folder": MetadataValue.path(str(folder)),
                                       "latest_report": MetadataValue.md(last)})
