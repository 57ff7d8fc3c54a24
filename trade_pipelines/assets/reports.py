"""Reflection: the daily report, as Markdown files and warehouse rows."""


import itertools
import os
import tempfile
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from trade_pipelines.agent.reflection.daily_report import reports_for_days
from trade_pipelines.assets.common import (
    WAREHOUSE_POOL,
    partition_window,
    progress,
    to_dates,
)
from trade_pipelines.assets.strategy import known_genomes
from trade_pipelines.partitions import single_run, trading_years
from trade_pipelines.resources import MarketDataResource, WarehouseResource
from trade_pipelines.warehouse.checkpoints import (
    MonthSlice,
    StepCheckpoints,
    month_slices,
    split_by_month,
)

REPORT_COLUMNS = ["as_of", "kind", "path", "markdown"]
TEMP_PREFIX = ".report-"
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
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX, suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(markdown)
    os.replace(temp, path)


@asset(partitions_def=trading_years, backfill_policy=single_run, group_name="reflection",
       deps=["account_values", "closed_trades", "paper_fills", "debate_decisions",
             "daily_plans", "strategy_evaluations", "trade_memories"], pool=WAREHOUSE_POOL)
def daily_reports(context: AssetExecutionContext, warehouse: WarehouseResource,
                  market_data: MarketDataResource) -> MaterializeResult:
    """After each close: P&L against the benchmark, the accounts compared, best and worst
    trade with their reasons, lessons, the next session's plan, the gene pool's state.

    Written month by month: each month's rows are committed (with a checkpoint of what
    they were computed from) before its files are written, so a killed run resumes near
    where it was killed."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    folder = warehouse.paths().reports
    accounts = to_dates(store.query("SELECT * FROM accounts WHERE as_of <= ? "
                                    "ORDER BY as_of, account", [end]), "as_of")
    trades = to_dates(store.query(
        "SELECT t.*, d.confidence AS decision_confidence, d.summary AS decision_summary, "
        "d.raw_confidence AS decision_raw_confidence, d.as_of AS decision_as_of "
        "FROM trades t LEFT JOIN decisions d USING (decision_id) WHERE t.as_of <= ? "
        "ORDER BY t.as_of, t.trade_id", [end]), "as_of", "opened_as_of", "decision_as_of")
    fills = to_dates(store.query("SELECT * FROM fills WHERE as_of BETWEEN ? AND ? "
                                 "ORDER BY as_of, fill_id", [start, end]), "as_of")
    decisions = to_dates(store.query(
        "SELECT as_of, symbol, strategy_id, verdict, confidence, raw_confidence, "
        "low_certainty, summary, "
        "reasoner, model, fallback_reason, llm_cost, knowledge_cutoff, cleanliness "
        "FROM decisions WHERE as_of BETWEEN ? AND ? ORDER BY as_of, decision_id",
        [start, end]), "as_of")
    plans = to_dates(store.query("SELECT * FROM plans WHERE as_of BETWEEN ? AND ? "
                                 "ORDER BY as_of", [start, end]), "as_of")
    evaluations = to_dates(store.query(
        "SELECT * FROM strategy_evaluations WHERE as_of BETWEEN ? AND ? "
        "ORDER BY as_of, strategy_id", [start - EVALUATION_LOOKBACK, end]), "as_of")
    names = {k: g.name for k, g in known_genomes(store, end).items()}
    # A run killed while writing a file leaves its temp file; this step is the only
    # writer of the folder (the warehouse pool), so any left now is garbage.
    for stale in folder.rglob(f"{TEMP_PREFIX}*.tmp"):
        stale.unlink(missing_ok=True)

    def before(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["as_of"] < start] if not frame.empty else frame

    checkpoints = StepCheckpoints(store, "daily_reports")
    previous = checkpoints.chain(MonthSlice(start, start), "", before(accounts),
                                 before(trades), before(evaluations))
    months = month_slices(start, end)
    digests: dict[MonthSlice, str] = {}
    for month, *inputs in zip(months, *(split_by_month(frame, months) for frame in (
            accounts, trades, fills, decisions, plans, evaluations)), strict=True):
        previous = digests[month] = checkpoints.chain(month, previous, *inputs)
    # The leading months committed from the same inputs are kept; their files are
    # rewritten from the stored rows if a kill lost them.
    kept = list(itertools.takewhile(lambda m: checkpoints.can_skip(m, digests[m]), months))
    if kept:
        stored = store.query("SELECT path, markdown FROM reports WHERE as_of BETWEEN ? AND ? "
                             "AND kind = 'daily' ORDER BY as_of", [kept[0].first, kept[-1].last])
        for path, markdown in zip(stored["path"], stored["markdown"], strict=True):
            write_report_file(Path(path), markdown)
    to_write = months[len(kept):]
    first = to_write[0].first if to_write else end + timedelta(days=1)
    days = sorted(d for d in accounts["as_of"].unique() if first <= d <= end) \
        if not accounts.empty else []
    written = 0
    last_markdown = "_no trading day in this window_"

    def write_files(committed: list[dict[str, pd.DataFrame]]) -> None:
        nonlocal written, last_markdown
        for frames in committed:  # only once the rows they come from are committed
            for path, markdown in zip(frames["reports"]["path"], frames["reports"]["markdown"],
                                      strict=True):
                write_report_file(Path(path), markdown)
                last_markdown = markdown
                written += 1

    market = market_data.rules()
    rendered = iter(reports_for_days(days, accounts, trades, fills, decisions, plans,
                                     evaluations, names, market))
    pending = next(rendered, None)
    for month in progress(to_write, "daily reports", len(to_write), unit="month"):
        rows = []
        while pending is not None and pending[0] <= month.last:
            day, markdown = pending
            rows.append({"as_of": day, "kind": "daily",
                         "path": str(report_path(folder, day)), "markdown": markdown})
            pending = next(rendered, None)
        write_files(checkpoints.stage(month, digests[month], {
            "reports": pd.DataFrame(rows, columns=REPORT_COLUMNS)}))
    write_files(checkpoints.flush())
    return MaterializeResult(metadata={"rows": written, **checkpoints.summary(),
                                       "market": market.name, "currency": market.currency,
                                       "folder": MetadataValue.path(str(folder)),
                                       "latest_report": MetadataValue.md(last_markdown)})
