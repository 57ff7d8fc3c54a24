"""Reflection: the daily report, as Markdown files and warehouse rows."""


import os
import tempfile
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from trade_pipelines.agent.evolution.genomes import GENOMES
from trade_pipelines.agent.reflection.daily_report import reports_for_days
from trade_pipelines.assets.common import (
    WAREHOUSE_POOL,
    partition_window,
    progress,
    to_dates,
)
from trade_pipelines.partitions import single_run, trading_months
from trade_pipelines.resources import WarehouseResource
from trade_pipelines.warehouse.checkpoints import MonthSlice, StepCheckpoints, month_slices

REPORT_COLUMNS = ["as_of", "kind", "path", "markdown"]
# How far back the gene pool's latest evaluation is looked up for a report.
EVALUATION_LOOKBACK = timedelta(days=14)


def report_path(folder: Path, day: date) -> Path:
    return folder / f"{day:%Y}" / f"{day:%Y-%m-%d}-daily.md"


def write_report_file(path: Path, markdown: str) -> None:
    """Write atomically (a temp file renamed over the old one): a kill never leaves half a
    report, and a file is only ever written from rows already committed."""
    if path.exists() and path.read_text() == markdown:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".report-", suffix=".md")
    with os.fdopen(fd, "w") as handle:
        handle.write(markdown)
    os.replace(temp, path)


def _in(frame: pd.DataFrame, month: MonthSlice) -> pd.DataFrame:
    if frame.empty:
        return frame
    return frame[(frame["as_of"] >= month.first) & (frame["as_of"] <= month.last)]


@asset(partitions_def=trading_months, backfill_policy=single_run, group_name="reflection",
       deps=["account_values", "closed_trades", "paper_fills", "debate_decisions",
             "daily_plans", "strategy_evaluations", "trade_memories"], pool=WAREHOUSE_POOL)
def daily_reports(context: AssetExecutionContext,
                  warehouse: WarehouseResource) -> MaterializeResult:
    """After each close: P&L against the benchmark, the accounts compared, best and worst
    trade with their reasons, lessons, the next session's plan, the gene pool's state.

    Written month by month: each month's rows are committed (with a checkpoint of what
    they were computed from) before its files are written, so a killed run resumes at the
    month it was killed in."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    folder = warehouse.paths().reports
    accounts = to_dates(store.query("SELECT * FROM accounts WHERE as_of <= ? "
                                    "ORDER BY as_of, account", [end]), "as_of")
    trades = to_dates(store.query(
        "SELECT t.*, d.confidence AS decision_confidence, d.summary AS decision_summary "
        "FROM trades t LEFT JOIN decisions d USING (decision_id) WHERE t.as_of <= ? "
        "ORDER BY t.as_of, t.trade_id", [end]), "as_of", "opened_as_of")
    fills = to_dates(store.query("SELECT * FROM fills WHERE as_of BETWEEN ? AND ? "
                                 "ORDER BY as_of, fill_id", [start, end]), "as_of")
    decisions = to_dates(store.query(
        "SELECT as_of, symbol, strategy_id, verdict, confidence, low_certainty, summary "
        "FROM decisions WHERE as_of BETWEEN ? AND ? ORDER BY as_of, decision_id",
        [start, end]), "as_of")
    plans = to_dates(store.query("SELECT * FROM plans WHERE as_of BETWEEN ? AND ? "
                                 "ORDER BY as_of", [start, end]), "as_of")
    evaluations = to_dates(store.query(
        "SELECT * FROM strategy_evaluations WHERE as_of BETWEEN ? AND ? "
        "ORDER BY as_of, strategy_id", [start - EVALUATION_LOOKBACK, end]), "as_of")
    names = {k: g.name for k, g in GENOMES.items()}

    def before(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["as_of"] < start] if not frame.empty else frame

    checkpoints = StepCheckpoints(store, "daily_reports")
    previous = checkpoints.chain(MonthSlice(start, start), "", before(accounts),
                                 before(trades), before(evaluations))
    months = month_slices(start, end)
    written = 0
    last_markdown = "_no trading day in this window_"
    for month in progress(months, "daily reports", len(months)):
        digest = checkpoints.chain(month, previous, _in(accounts, month), _in(trades, month),
                                   _in(fills, month), _in(decisions, month),
                                   _in(plans, month), _in(evaluations, month))
        previous = digest
        if checkpoints.can_skip(month, digest):
            stored = store.query("SELECT as_of, path, markdown FROM reports "
                                 "WHERE as_of BETWEEN ? AND ? AND kind = 'daily'",
                                 [month.first, month.last])
            for path, markdown in zip(stored["path"], stored["markdown"], strict=True):
                write_report_file(Path(path), markdown)  # restores a file lost in a kill
                last_markdown = markdown
            continue
        upto = accounts[accounts["as_of"] <= month.last]
        days = sorted(d for d in upto["as_of"].unique() if month.first <= d)
        rows = [{"as_of": day, "kind": "daily", "path": str(report_path(folder, day)),
                 "markdown": markdown}
                for day, markdown in reports_for_days(
                    days, upto, trades[trades["as_of"] <= month.last], _in(fills, month),
                    _in(decisions, month), _in(plans, month),
                    evaluations[evaluations["as_of"] <= month.last], names)]
        checkpoints.commit(month, digest,
                           {"reports": pd.DataFrame(rows, columns=REPORT_COLUMNS)})
        for row in rows:  # only once the rows they come from are committed
            write_report_file(Path(row["path"]), row["markdown"])
            last_markdown = row["markdown"]
        written += len(rows)
    return MaterializeResult(metadata={"rows": written, **checkpoints.summary(),
                                       "folder": MetadataValue.path(str(folder)),
                                       "latest_report": MetadataValue.md(last_markdown)})
