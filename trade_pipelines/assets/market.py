"""Perception: market bars (with a blocking quality check), features and regime."""


from datetime import date

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)

from trade_pipelines.agent.loop.wiring import market_regimes
from trade_pipelines.agent.perception.features import compute_features
from trade_pipelines.agent.perception.validation import broken_bar_rules, suspicious_jumps
from trade_pipelines.assets.common import (
    FEATURE_HISTORY,
    WAREHOUSE_POOL,
    kept_rows,
    markdown_preview,
    partition_window,
    to_dates,
)
from trade_pipelines.partitions import single_run, trading_years
from trade_pipelines.resources import MarketDataResource, WarehouseResource
from trade_pipelines.warehouse.checkpoints import MonthSlice, WindowCheckpoint

# The start of every features checkpoint: they cover all history up to a run's end.
HISTORY_START = date(1900, 1, 1)


@asset(
    partitions_def=trading_years, backfill_policy=single_run, group_name="perception",
    check_specs=[
        AssetCheckSpec("bars_pass_quality_suite", asset="market_bars", blocking=True,
                       description="Every bar is validated before it is stored: bad rows "
                                   "are refused into the quarantine (listed here) and the "
                                   "window's stored bars must pass the suite, or trading "
                                   "on them is refused."),
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
    from trade_pipelines.market_data.builtin import BUILTIN_KNOWN_JUMPS
    from trade_pipelines.market_data.loading import load_bars

    start, end = partition_window(context)
    store = warehouse.warehouse()
    universe = market_data.universe()
    symbols = market_data.all_symbols()
    report = load_bars(market_data.source, store, symbols, start, end, FEATURE_HISTORY)
    bars = to_dates(store.query(
        "SELECT * FROM bars WHERE as_of BETWEEN ? AND ? AND list_contains(?, symbol) "
        "ORDER BY symbol, as_of", [start, end, symbols]), "as_of")
    problems = broken_bar_rules(bars)
    jumps = suspicious_jumps(bars, accepted_jumps=BUILTIN_KNOWN_JUMPS)
    refused = report.refused_lines()
    missing = sorted(set(universe) - set(bars["symbol"])) if not bars.empty else universe
    description = "; ".join(problems[:5]) or (
        f"{len(report.refused)} row(s) refused into the quarantine, none stored"
        if len(report.refused) else None)
    return MaterializeResult(
        metadata={"source": market_data.source, "rows": len(bars), "loaded": report.loaded,
                  "quarantined": len(report.refused),
                  "symbols": len(set(bars["symbol"])) if not bars.empty else 0,
                  "missing_symbols": ", ".join(missing) or "none",
                  "preview": markdown_preview(bars.tail(10))},
        check_results=[AssetCheckResult(
            check_name="bars_pass_quality_suite", passed=not problems,
            severity=AssetCheckSeverity.ERROR, description=description,
            metadata={"problems": MetadataValue.md(
                "\n".join(f"- {p}" for p in problems[:50]) or "none"),
                "refused": MetadataValue.md(
                    "\n".join(f"- {line}" for line in refused) or "none"),
                "refused_rows": len(report.refused)}),
            AssetCheckResult(
                check_name="no_suspicious_jumps", passed=not jumps,
                severity=AssetCheckSeverity.WARN,
                metadata={"jumps": MetadataValue.md(
                    "\n".join(f"- {p}" for p in jumps[:50]) or "none")})],
    )


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
    vix = _load_bars(store, [market_data.volatility_index_symbol], history_start, end)
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
    regimes = market_regimes(benchmark, features, vix, universe)
    regimes = regimes[(regimes["as_of"] >= start) & (regimes["as_of"] <= end)]
    counts = store.replace_days({"regimes": regimes}, start, end)
    summary = regimes["regime"].value_counts().to_dict() if not regimes.empty else {}
    return MaterializeResult(metadata={
        "rows": counts["regimes"], "regime_days": MetadataValue.json(summary),
        "defensive_days": int(regimes["defensive"].sum()) if not regimes.empty else 0,
        "preview": markdown_preview(regimes.tail(10))})
