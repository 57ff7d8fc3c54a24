"""Perception: market bars (with a blocking quality check), features and regime."""


from datetime import UTC, date, datetime, timedelta

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from trade_pipelines.agent.loop.wiring import market_regimes
from trade_pipelines.agent.perception.features import compute_features
from trade_pipelines.agent.perception.validation import (
    failed_rows_markdown,
    split_suspects,
    suspicious_jumps,
    validate_bars,
)
from trade_pipelines.assets.common import (
    FEATURE_HISTORY,
    WAREHOUSE_POOL,
    kept_rows,
    markdown_preview,
    partition_window,
    to_dates,
)
from trade_pipelines.market_data.calendar import allowed_days, exchange_sessions
from trade_pipelines.partitions import single_run, trading_years
from trade_pipelines.resources import MarketDataResource, WarehouseResource
from trade_pipelines.warehouse.checkpoints import MonthSlice, WindowCheckpoint
from trade_pipelines.warehouse.connection import Warehouse

# The start of every features checkpoint: they cover all history up to a run's end.
HISTORY_START = date(1900, 1, 1)
# Live mode: the newest stored bar may be at most this many sessions of the market's
# calendar older than the window's end (or today, for the year in progress).
FRESH_SESSIONS = 3
# Sources whose bars are as of a past dataset, to which freshness does not apply.
OFFLINE_SOURCES = ("builtin", "warehouse")
# Bars before the window read to see a split on the window's first day.
SPLIT_LOOK_BACK = timedelta(days=14)


def freshness_floor(end: date, calendar: str, sessions: int = FRESH_SESSIONS,
                    today: date | None = None) -> date:
    """The oldest acceptable newest bar: ``sessions`` sessions before ``end`` (capped at
    today) on ``calendar``, counting the last session itself as the first."""
    last = min(end, today or date.today())
    days = exchange_sessions(last - timedelta(days=10 * sessions + 10), last, calendar)
    return days[-sessions] if len(days) >= sessions else last


def history_starts(store: Warehouse, symbols: list[str]) -> dict[str, date]:
    """The first stored bar of each of ``symbols``: where its history starts (a new
    listing's first sessions trade without a daily price limit)."""
    firsts = to_dates(store.query(
        "SELECT symbol, min(as_of) AS first FROM bars WHERE list_contains(?, symbol) "
        "GROUP BY symbol", [symbols]), "first")
    return dict(zip(firsts["symbol"], firsts["first"], strict=True)) if len(firsts) else {}


def bar_quality(store: Warehouse, market_data: MarketDataResource, start: date, end: date,
                check_name: str, run_id: str, refused: list[str] | None = None,
                refused_rows: int = 0) -> AssetCheckResult:
    """The great-expectations suite and the split detector on the window's stored bars:
    failed, with the failing rows and the expectation each broke, when any bar is bad,
    a split looks unadjusted or (live mode) the bars are stale. Each evaluation is also
    recorded in ``bar_check_results``, which the supervisor app reads."""
    symbols = market_data.all_symbols()
    rules = market_data.rules()
    bars = to_dates(store.query(
        "SELECT * FROM bars WHERE as_of BETWEEN ? AND ? AND list_contains(?, symbol) "
        "ORDER BY symbol, as_of", [start - SPLIT_LOOK_BACK, end, symbols]), "as_of")
    window = bars[bars["as_of"] >= start] if not bars.empty else bars
    fresh_since = (freshness_floor(end, rules.calendar)
                   if market_data.source not in OFFLINE_SOURCES else None)
    if window.empty:
        verdict_rows, table_failures = window, (
            [f"stale bars: no bars at all in {start}..{end}"] if fresh_since else [])
    else:
        # Live bars must fall on the market's sessions; a user's own files and the
        # offline datasets are not held to a calendar they may not follow.
        sessions = (allowed_days(window["as_of"], rules.calendar)
                    if fresh_since is not None else None)
        verdict = validate_bars(window, check_order=False, fresh_since=fresh_since,
                                sessions=sessions)
        verdict_rows, table_failures = verdict.rejected, verdict.table_failures
    from trade_pipelines.market_data.accepted_jumps import accepted_jumps

    splits = split_suspects(bars, benchmark_symbol=market_data.benchmark_symbol,
                            accepted_jumps=accepted_jumps(store.path.parent),
                            market=rules.code, history_starts=history_starts(store, symbols))
    splits = splits[splits["as_of"] >= start] if not splits.empty else splits
    failing = pd.concat([verdict_rows, splits], ignore_index=True) if len(splits) \
        else verdict_rows
    reasons = failing["reason"].value_counts().to_dict() if len(failing) else {}
    lines = [f"{count} bar(s): {why}" for why, count in reasons.items()] + table_failures
    refused = refused or []
    description = "; ".join(lines[:5]) or (
        f"{refused_rows} row(s) refused into the quarantine, none stored" if refused_rows
        else None)
    failing_rows = failed_rows_markdown(failing)
    store.append("bar_check_results", pd.DataFrame([{
        "evaluated_at": datetime.now(UTC).replace(tzinfo=None), "check_name": check_name,
        "window_start": start, "window_end": end, "passed": not lines,
        "description": description, "failed_rows": len(failing),
        "failing_rows": failing_rows, "run_id": run_id}]))
    return AssetCheckResult(
        check_name=check_name, asset_key="market_bars", passed=not lines,
        severity=AssetCheckSeverity.ERROR, description=description,
        metadata={"failing_rows": MetadataValue.md(failing_rows),
                  "failed_rows": len(failing),
                  "table_failures": MetadataValue.md(
                      "\n".join(f"- {line}" for line in table_failures) or "none"),
                  "rows_checked": len(window),
                  "window": f"{start}..{end}",
                  "fresh_since": str(fresh_since) if fresh_since else "not checked",
                  "refused": MetadataValue.md(
                      "\n".join(f"- {line}" for line in refused) or "none"),
                  "refused_rows": refused_rows})


@asset(
    partitions_def=trading_years, backfill_policy=single_run, group_name="perception",
    check_specs=[
        AssetCheckSpec("bars_pass_quality_suite", asset="market_bars", blocking=True,
                       description="Every bar is validated before it is stored: bad rows "
                                   "are refused into the quarantine (listed here) and the "
                                   "window's stored bars must pass the great-expectations "
                                   "suite (schema, ranges, OHLC, volume, duplicates, time "
                                   "order, freshness in live mode) and show no unadjusted "
                                   "split, or nothing downstream runs; the failing rows "
                                   "and the expectation each broke are listed."),
        AssetCheckSpec("no_suspicious_jumps", asset="market_bars",
                       description="Close-to-close moves over 50% on a stock, for review "
                                   "(real events such as earnings gaps pass with a warning)."),
    ],
    pool=WAREHOUSE_POOL,
)
def market_bars(context: AssetExecutionContext, warehouse: WarehouseResource,
                market_data: MarketDataResource) -> MaterializeResult:
    """Daily bars of the traded universe, the benchmark and the volatility index, from
    the configured source (a live source also fetches the features' look-back).

    Rows that fail validation never reach ``bars``: they go to ``quarantine`` with the
    reason, and the blocking check lists them. Bars a user imported stay as imported.
    """
    from trade_pipelines.home_market import HomeMarketMismatch, claim_home_market
    from trade_pipelines.market_data.accepted_jumps import accepted_jumps
    from trade_pipelines.market_data.loading import load_bars
    from trade_pipelines.settings import Paths

    start, end = partition_window(context)
    store = warehouse.warehouse()
    try:  # a run launched from the UI is held to the home's market like the CLI's
        claim_home_market(market_data.rules().code, Paths(store.path.parent))
    except HomeMarketMismatch as error:
        raise Failure(description=str(error)) from error
    universe = market_data.universe()
    symbols = market_data.all_symbols()
    report = load_bars(market_data.source, store, symbols, start, end, FEATURE_HISTORY)
    bars = to_dates(store.query(
        "SELECT * FROM bars WHERE as_of BETWEEN ? AND ? AND list_contains(?, symbol) "
        "ORDER BY symbol, as_of", [start, end, symbols]), "as_of")
    quality = bar_quality(store, market_data, start, end, "bars_pass_quality_suite",
                          context.run.run_id, refused=report.refused_lines(),
                          refused_rows=len(report.refused))
    jumps = suspicious_jumps(bars, accepted_jumps=accepted_jumps(store.path.parent))
    missing = sorted(set(universe) - set(bars["symbol"])) if not bars.empty else universe
    return MaterializeResult(
        metadata={"source": market_data.source, "rows": len(bars), "loaded": report.loaded,
                  "quarantined": len(report.refused),
                  "symbols": len(set(bars["symbol"])) if not bars.empty else 0,
                  "missing_symbols": ", ".join(missing) or "none",
                  "preview": markdown_preview(bars.tail(10)),
                  # the live chain's active source, its score and cache use
                  **report.source_metadata,
                  **({"source_quality": MetadataValue.md(report.source_quality)}
                     if report.source_quality else {})},
        check_results=[quality, AssetCheckResult(
            check_name="no_suspicious_jumps", passed=not jumps,
            severity=AssetCheckSeverity.WARN,
            metadata={"jumps": MetadataValue.md(
                "\n".join(f"- {p}" for p in jumps[:50]) or "none")})],
    )


@asset_check(asset=market_bars, name="stored_bars_self_check", pool=WAREHOUSE_POOL,
             description="The quality suite and the split detector on the stored bars of "
                         "the year in progress, without fetching (the hourly self-check "
                         "of live mode). An alarm, not a gate: it runs in its own job, "
                         "and the next cycle's blocking bars_pass_quality_suite stops "
                         "trading on the same bars.")
def stored_bars_self_check(context: AssetCheckExecutionContext,
                           warehouse: WarehouseResource,
                           market_data: MarketDataResource) -> AssetCheckResult:
    today = date.today()
    return bar_quality(warehouse.warehouse(), market_data, date(today.year, 1, 1), today,
                       "stored_bars_self_check", context.run.run_id)


def _load_bars(store, symbols: list[str], start, end) -> pd.DataFrame:
    return to_dates(store.query(
        "SELECT symbol, as_of, open, high, low, close, volume FROM bars "
        "WHERE as_of BETWEEN ? AND ? AND list_contains(?, symbol) ORDER BY symbol, as_of",
        [start, end, symbols]), "as_of")


@asset(partitions_def=trading_years, backfill_policy=single_run, group_name="perception",
       deps=[market_bars], pool=WAREHOUSE_POOL)
def market_features(context: AssetExecutionContext, warehouse: WarehouseResource,
                    market_data: MarketDataResource) -> MaterializeResult:
    """Per symbol and day: returns, moving averages, volatility, RSI, ranges, volume.

    Computed once per run for the universe's whole history up to the window's end (well
    under a second for thirty years of twenty symbols) and stored, so the gene pool, the
    quant's records and the trading loop read these rows instead of computing them again,
    and a re-imported bar anywhere in history is reflected everywhere."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    universe = market_data.universe()
    bars = _load_bars(store, universe, date.min, end)
    # Keyed by everything up to ``end``: a run that rewrote any of these rows since (from
    # other bars, say) overlaps this slice, which forgets this checkpoint.
    checkpoint = WindowCheckpoint(store, "market_features", MonthSlice(HISTORY_START, end),
                                  bars, universe)
    if checkpoint.kept:
        return MaterializeResult(metadata=kept_rows(store, "features", start, end))
    features = compute_features(bars)
    with store.transaction() as connection:
        connection.execute("DELETE FROM features WHERE as_of <= ? AND list_contains(?, symbol)",
                           [end, universe])
        store.insert_frame(connection, "features", features)
    checkpoint.commit()
    window = features[(features["as_of"] >= start) & (features["as_of"] <= end)]
    return MaterializeResult(metadata={"rows": len(window), "history_rows": len(features),
                                       "preview": markdown_preview(window.tail(10))})


@asset(partitions_def=trading_years, backfill_policy=single_run, group_name="perception",
       deps=[market_bars, market_features], pool=WAREHOUSE_POOL)
def market_regime(context: AssetExecutionContext, warehouse: WarehouseResource,
                  market_data: MarketDataResource) -> MaterializeResult:
    """Per day: bull / bear / range from the benchmark's trend, breadth, volatility index
    and the defensive (black-swan) flag."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    history_start = start - FEATURE_HISTORY
    benchmark = _load_bars(store, [market_data.benchmark_symbol], history_start, end)
    # Outside the US there is no volatility index: the benchmark's realised volatility
    # stands in (``detect_regimes``), and the regimes' vix column stays empty.
    vix_symbol = market_data.volatility_index_symbol
    vix = _load_bars(store, [vix_symbol], history_start, end) if vix_symbol \
        else benchmark.iloc[0:0]
    # From the history's start too: the black swan's breadth collapse looks 5 days back.
    features = to_dates(store.query(
        "SELECT symbol, as_of, close, sma_50 FROM features WHERE as_of BETWEEN ? AND ? "
        "AND list_contains(?, symbol)", [history_start, end, market_data.universe()]),
        "as_of")
    universe = None
    if benchmark.empty or not (benchmark["as_of"] >= start).any():
        context.log.warning(
            f"no {market_data.benchmark_symbol} bars in {start}..{end}: using an "
            "equal-weighted index of the traded universe as the benchmark")
        benchmark = benchmark.iloc[0:0]
        universe = _load_bars(store, market_data.universe(), date.min, end)
    regimes = market_regimes(benchmark, features, vix, universe,
                             market_data.rules().always_open)
    regimes = regimes[(regimes["as_of"] >= start) & (regimes["as_of"] <= end)]
    counts = store.replace_days({"regimes": regimes}, start, end)
    summary = regimes["regime"].value_counts().to_dict() if not regimes.empty else {}
    return MaterializeResult(metadata={
        "rows": counts["regimes"], "regime_days": MetadataValue.json(summary),
        "market": market_data.rules().name,
        "volatility": vix_symbol or f"realised volatility of {market_data.benchmark_symbol}",
        "defensive_days": int(regimes["defensive"].sum()) if not regimes.empty else 0,
        "preview": markdown_preview(regimes.tail(10))})
