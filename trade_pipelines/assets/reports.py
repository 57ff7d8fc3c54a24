"""Reflection: the daily report and the weekly, monthly and quarterly reviews, as
Markdown and HTML files and warehouse rows."""


import itertools
import os
import tempfile
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from trade_pipelines.agent.markets import MarketRules
from trade_pipelines.agent.reflection.changes import HORIZONS, QUARTERLY
from trade_pipelines.agent.reflection.daily_report import reports_for_days
from trade_pipelines.agent.reflection.horizon_reviews import (
    Ledger,
    closed_periods,
    period_end,
    review,
)
from trade_pipelines.agent.reflection.html_report import daily_html, period_html
from trade_pipelines.assets.common import (
    WAREHOUSE_POOL,
    exchange_sessions,
    partition_window,
    progress,
    to_dates,
)
from trade_pipelines.assets.strategy import known_genomes
from trade_pipelines.partitions import single_run, trading_years
from trade_pipelines.resources import MarketDataResource, WarehouseResource
from trade_pipelines.warehouse import Warehouse
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
# How far before its window a review may reach: a quarter that began in the year before.
REVIEW_LOOKBACK = timedelta(days=100)
REVIEW_TITLES = {"weekly": "Weekly review", "monthly": "Monthly review",
                 "quarterly": "Quarterly review"}


def report_path(folder: Path, day: date, kind: str = "daily") -> Path:
    return folder / f"{day:%Y}" / f"{day:%Y-%m-%d}-{kind}.md"


def html_path(path: Path) -> Path:
    """The HTML page beside a report's Markdown file."""
    return path.with_suffix(".html")


def remove_stale_temp_files(folder: Path) -> None:
    """A run killed while writing a file leaves its temp file; the report steps are the
    only writers of the folder (the warehouse pool), so any left now is garbage."""
    for stale in folder.rglob(f"{TEMP_PREFIX}*.tmp"):
        stale.unlink(missing_ok=True)


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
    remove_stale_temp_files(folder)
    market = market_data.rules()

    def before(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["as_of"] < start] if not frame.empty else frame

    checkpoints = StepCheckpoints(store, "daily_reports", kinds={"reports": ["daily"]})
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
        stored = to_dates(store.query(
            "SELECT as_of, path, markdown FROM reports WHERE as_of BETWEEN ? AND ? "
            "AND kind = 'daily' ORDER BY as_of", [kept[0].first, kept[-1].last]), "as_of")
        for day, path, markdown in stored.itertuples(index=False, name=None):
            write_report_file(Path(path), markdown)
            # rows kept from unchanged inputs: a page already written was written from them
            if not html_path(Path(path)).exists():
                write_report_file(html_path(Path(path)), daily_html(
                    markdown, day, accounts, trades, market.currency))
    to_write = months[len(kept):]
    first = to_write[0].first if to_write else end + timedelta(days=1)
    days = sorted(d for d in accounts["as_of"].unique() if first <= d <= end) \
        if not accounts.empty else []
    written = 0
    last_markdown = "_no trading day in this window_"

    def write_files(committed: list[dict[str, pd.DataFrame]]) -> None:
        nonlocal written, last_markdown
        for frames in committed:  # only once the rows they come from are committed
            rows = frames["reports"]
            for day, path, markdown in zip(rows["as_of"], rows["path"], rows["markdown"],
                                           strict=True):
                write_report_file(Path(path), markdown)
                write_report_file(html_path(Path(path)), daily_html(
                    markdown, day, accounts, trades, market.currency))
                last_markdown = markdown
                written += 1
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


REVIEW_KINDS = list(HORIZONS)


@asset(partitions_def=trading_years, backfill_policy=single_run, group_name="reflection",
       deps=["daily_reports", "account_values", "closed_trades", "paper_fills",
             "debate_decisions", "trade_memories", "review_changes", "weekly_plans",
             "monthly_plans", "quarterly_plans", "framework_proposals"], pool=WAREHOUSE_POOL)
def horizon_reviews(context: AssetExecutionContext, warehouse: WarehouseResource,
                    market_data: MarketDataResource) -> MaterializeResult:
    """The weekly, monthly and quarterly reviews of every period whose last session falls
    in the window and has been traded: what the period earned, what the agent did and
    would have earned otherwise, what its reviews changed and what it plans next.

    The window's review rows are replaced in one transaction, then their files written
    (Markdown and HTML): a killed run leaves the previous rows, and a re-run the same."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    folder = warehouse.paths().reports
    market = market_data.rules()
    ledger = read_ledger(store, start, end, market)
    remove_stale_temp_files(folder)
    account_days = sorted(set(ledger.accounts["as_of"])) if not ledger.accounts.empty else []
    calendar = exchange_sessions(start - REVIEW_LOOKBACK, period_end(QUARTERLY, end),
                                 market.calendar)
    rows, pages = [], []
    for kind in REVIEW_KINDS:
        for period in closed_periods(kind, calendar, account_days, start, end):
            markdown = review(ledger, period)
            path = report_path(folder, period.last, kind)
            rows.append({"as_of": period.last, "kind": kind, "path": str(path),
                         "markdown": markdown})
            pages.append((path, markdown, period))
    frame = pd.DataFrame(rows, columns=REPORT_COLUMNS)
    store.replace_days({"reports": frame}, start, end, kinds={"reports": REVIEW_KINDS})
    for path, markdown, period in progress(pages, "reviews", len(pages), unit="review"):
        write_report_file(path, markdown)  # only once the rows are committed
        write_report_file(html_path(path), period_html(
            markdown, f"{REVIEW_TITLES[period.horizon]} {period.label}", ledger.accounts,
            ledger.trades, period.first, period.last, market.currency))
    latest = {kind: MetadataValue.md(frame[frame["kind"] == kind]["markdown"].iloc[-1])
              for kind in REVIEW_KINDS if (frame["kind"] == kind).any()}
    return MaterializeResult(metadata={
        **{f"{kind}_reviews": int((frame["kind"] == kind).sum()) for kind in REVIEW_KINDS},
        **{f"latest_{kind}": value for kind, value in latest.items()},
        "folder": MetadataValue.path(str(folder)), "market": market.name})


def read_ledger(store: Warehouse, start: date, end: date, market: MarketRules) -> Ledger:
    """The tables the reviews of [start, end] are written from, to ``end``; the debate's
    texts only of the decisions behind the window's closed trades."""
    early = start - REVIEW_LOOKBACK
    accounts = to_dates(store.query("SELECT * FROM accounts WHERE as_of <= ? "
                                    "ORDER BY as_of, account", [end]), "as_of")
    trades = to_dates(store.query("SELECT * FROM trades WHERE as_of <= ? "
                                  "ORDER BY as_of, trade_id", [end]),
                      "as_of", "opened_as_of")
    in_window = "SELECT DISTINCT decision_id FROM trades WHERE as_of BETWEEN ? AND ?"
    texts = ", ".join(f"CASE WHEN k.decision_id IS NULL THEN NULL ELSE d.{c} END AS {c}"
                      for c in ("summary", "transcript", "memories_used", "changes_applied"))
    decisions = to_dates(store.query(
        "SELECT d.as_of, d.decision_id, d.symbol, d.side, d.strategy_id, d.verdict, "
        "d.confidence, d.raw_confidence, d.weight_aggressive, d.weight_combined, "
        f"d.proposed_weight, {texts} FROM decisions d "
        f"LEFT JOIN ({in_window}) k USING (decision_id) WHERE d.as_of <= ? "
        "ORDER BY d.as_of, d.decision_id", [start, end, end]), "as_of")
    orders = to_dates(store.query(
        f"SELECT * FROM orders WHERE decision_id IN ({in_window}) AND as_of <= ? "
        "ORDER BY as_of, sequence, order_id", [start, end, end]), "as_of")
    fills = to_dates(store.query(
        "SELECT * FROM fills WHERE order_id IN (SELECT order_id FROM orders WHERE "
        f"decision_id IN ({in_window})) AND as_of <= ? ORDER BY as_of, fill_id",
        [start, end, end]), "as_of")
    memories = to_dates(store.query("SELECT as_of, memory_id, text FROM memories "
                                    "WHERE as_of <= ? ORDER BY as_of, memory_id", [end]),
                        "as_of")
    replayed = "SELECT DISTINCT symbol FROM decisions WHERE as_of BETWEEN ? AND ? " \
        "AND verdict IN ('drop', 'adjust')"
    bars = to_dates(store.query(
        f"SELECT symbol, as_of, open, high, low, close FROM bars WHERE symbol IN ({replayed}) "
        "AND as_of BETWEEN ? AND ? ORDER BY symbol, as_of", [early, end, early, end]), "as_of")
    genomes = known_genomes(store, end)
    return Ledger(
        accounts=accounts, trades=trades, decisions=decisions, orders=orders, fills=fills,
        memories=memories,
        changes=to_dates(store.query("SELECT * FROM changes WHERE as_of <= ? "
                                     "ORDER BY as_of, change_id", [end]),
                         "as_of", "effective_from"),
        plans=to_dates(store.query("SELECT * FROM horizon_plans WHERE as_of <= ? "
                                   "ORDER BY as_of, plan_id", [end]), "as_of"),
        proposals=to_dates(store.query("SELECT * FROM framework_proposals WHERE as_of <= ? "
                                       "ORDER BY as_of, proposal_id", [end]),
                           "as_of", "expires_on"),
        human_decisions=to_dates(store.query(
            "SELECT * FROM change_decisions ORDER BY recorded_at, decision_id"),
            "as_of", "effective_from"),
        bars=bars, names={k: g.name for k, g in genomes.items()},
        stop_losses={k: g.stop_loss for k, g in genomes.items()}, market=market)
