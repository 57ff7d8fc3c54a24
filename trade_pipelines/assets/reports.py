"""Reflection: the daily report, as Markdown files and warehouse rows."""


from datetime import timedelta

import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from trade_pipelines.agent.gene_pool import GENOMES
from trade_pipelines.agent.reporting import ReportInputs, daily_report
from trade_pipelines.assets.common import partition_window, progress, to_dates
from trade_pipelines.assets.market import WRITER_TAGS
from trade_pipelines.partitions import single_run, trading_months
from trade_pipelines.resources import WarehouseResource


@asset(partitions_def=trading_months, backfill_policy=single_run, group_name="reflection",
       deps=["account_values", "closed_trades", "paper_fills", "debate_decisions",
             "daily_plans", "strategy_evaluations", "trade_memories"], op_tags=WRITER_TAGS)
def daily_reports(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    """After each close: P&L against the benchmark, the accounts compared, best and worst
    trade with their reasons, lessons, the next session's plan, the gene pool's state."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    folder = warehouse.paths().reports
    accounts = to_dates(store.query("SELECT * FROM accounts WHERE as_of <= ? ORDER BY as_of",
                                    [end]), "as_of")
    trades = to_dates(store.query("SELECT * FROM trades WHERE as_of <= ?", [end]),
                      "as_of", "opened_as_of")
    fills = to_dates(store.query("SELECT * FROM fills WHERE as_of BETWEEN ? AND ?",
                                 [start, end]), "as_of")
    decisions = to_dates(store.query(
        "SELECT as_of, symbol, strategy_id, verdict, confidence, low_certainty, summary "
        "FROM decisions WHERE as_of BETWEEN ? AND ?", [start - timedelta(days=400), end]),
        "as_of")
    plans = to_dates(store.query("SELECT * FROM plans WHERE as_of BETWEEN ? AND ?",
                                 [start, end]), "as_of").set_index("as_of", drop=False)
    evaluations = to_dates(store.query(
        "SELECT * FROM strategy_evaluations WHERE as_of BETWEEN ? AND ?",
        [start - timedelta(days=14), end]), "as_of")
    names = {k: g.name for k, g in GENOMES.items()}
    days = sorted(d for d in accounts["as_of"].unique() if start <= d <= end) \
        if not accounts.empty else []
    rows = []
    for day in progress(days, "daily reports", len(days)):
        known = evaluations[evaluations["as_of"] <= day]
        latest_eval = known[known["as_of"] == known["as_of"].max()] if not known.empty \
            else known
        past = decisions[decisions["as_of"] <= day].sort_values("as_of")
        summaries = {(r.symbol, r.strategy_id): r.summary for r in past.itertuples()}
        inputs = ReportInputs(
            as_of=day, accounts=accounts[accounts["as_of"] <= day],
            trades_today=trades[trades["as_of"] == day] if not trades.empty else trades,
            trades_to_date=trades[trades["as_of"] <= day] if not trades.empty else trades,
            fills_today=fills[fills["as_of"] == day] if not fills.empty else fills,
            decisions_today=decisions[decisions["as_of"] == day],
            plan=plans.loc[day] if day in plans.index else None,
            evaluations=latest_eval, names=names)
        markdown = daily_report(inputs, summaries)
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
