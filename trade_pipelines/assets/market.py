"""Perception: market bars (with a blocking quality check), features and regime."""


from datetime import UTC, date, datetime

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

from trade_pipelines.agent.perception.features import compute_features, equal_weight_index
from trade_pipelines.agent.perception.regime import detect_regimes
from trade_pipelines.agent.perception.validation import broken_bar_rules, suspicious_jumps
from trade_pipelines.assets.common import (
    FEATURE_HISTORY,
    WAREHOUSE_POOL,
    markdown_preview,
    partition_window,
    to_dates,
)
from trade_pipelines.market_data import BAR_COLUMNS, bars_available_at
from trade_pipelines.partitions import single_run, trading_months
from trade_pipelines.resources import MarketDataResource, WarehouseResource


@asset(
    partitions_def=trading_months, backfill_policy=single_run, group_name="perception",
    check_specs=[
        AssetCheckSpec("bars_pass_quality_suite", asset="market_bars", blocking=True,
                       description="No NaN, non-positive, inverted or duplicate bar: "
                                   "trading on bad bars is refused."),
        AssetCheckSpec("no_suspicious_jumps", asset="market_bars",
                       description="Close-to-close moves over 50% on a stock, for review "
                                   "(real events such as earnings gaps pass with a warning)."),
    ],
    pool=WAREHOUSE_POOL,
)
def market_bars(context: AssetExecutionContext, warehouse: WarehouseResource,
                market_data: MarketDataResource) -> MaterializeResult:
    """Daily bars of the traded universe, the benchmark and the volatility index.

    Built-in bars are loaded from packaged data; bars a user imported stay as imported.
    Bad rows are quarantined, and the blocking check stops the graph if any bar in the
    warehouse for this window fails the quality suite.
    """
    start, end = partition_window(context)
    store = warehouse.warehouse()
    universe = market_data.universe()
    symbols = [*universe, market_data.benchmark_symbol, market_data.volatility_index_symbol]
    loaded = quarantined = 0
    if market_data.source == "builtin":
        from trade_pipelines.market_data.builtin import builtin_rejected, load_builtin_bars

        def in_scope(frame: pd.DataFrame) -> pd.DataFrame:
            # All history up to the window's end: features need a look-back, and setup
            # records and the gene pool read the whole past, so a replay can start
            # anywhere. Symbols the user imported keep their imported bars.
            days = pd.to_datetime(frame["as_of"], errors="coerce")
            return frame[(days <= pd.Timestamp(end))
                         & frame["symbol"].isin(symbols) & ~frame["symbol"].isin(imported)]

        existing = store.query("SELECT DISTINCT symbol FROM bars WHERE source LIKE 'import:%'")
        imported = set(existing["symbol"]) if not existing.empty else set()
        clean = in_scope(load_builtin_bars())
        clean = clean.assign(
            available_at=bars_available_at(clean["as_of"]).to_numpy())[BAR_COLUMNS]
        # The window is rewritten; the history before it is only filled in where missing,
        # so the evening run does not rewrite thirty years of unchanged bars.
        in_window = clean["as_of"] >= start
        with store.transaction() as connection:
            store.upsert("bars", clean[in_window], ["symbol", "as_of"], connection)
            store.insert_missing("bars", clean[~in_window], ["symbol", "as_of"], connection)
        rejected = in_scope(builtin_rejected())
        loaded, quarantined = len(clean), len(rejected)
        if quarantined:
            records = pd.DataFrame({
                "source": rejected["source"], "symbol": rejected["symbol"],
                "as_of": rejected["as_of"], "reason": rejected["reason"],
                "raw": rejected.drop(columns=["reason"]).astype(str).to_json(
                    orient="records", lines=True).splitlines(),
                "recorded_at": datetime.now(UTC).replace(tzinfo=None)})
            store.insert_missing("quarantine", records, ["source", "symbol", "as_of", "reason"])
    elif market_data.source == "yfinance":
        from trade_pipelines.market_data.yfinance_source import YFinanceSource

        # Live data: the window plus a year of look-back; any failure (offline, unknown
        # ticker) raises DataSourceUnavailable naming the symbols, and nothing is written.
        fetched = YFinanceSource().fetch(symbols, start - FEATURE_HISTORY, end)
        fetched = fetched.assign(available_at=bars_available_at(fetched["as_of"]).to_numpy())
        store.upsert("bars", fetched[BAR_COLUMNS], keys=["symbol", "as_of"])
        loaded = len(fetched)
    elif market_data.source != "warehouse":
        raise ValueError(f"unknown market data source {market_data.source!r}: "
                         "use 'builtin', 'yfinance' or 'warehouse'")
    bars = to_dates(store.query(
        "SELECT * FROM bars WHERE as_of BETWEEN ? AND ? AND list_contains(?, symbol) "
        "ORDER BY symbol, as_of", [start, end, symbols]), "as_of")
    from trade_pipelines.market_data.builtin import BUILTIN_KNOWN_JUMPS

    problems = broken_bar_rules(bars)
    jumps = suspicious_jumps(bars, accepted_jumps=BUILTIN_KNOWN_JUMPS)
    missing = sorted(set(universe) - set(bars["symbol"])) if not bars.empty else universe
    return MaterializeResult(
        metadata={"rows": len(bars), "loaded": loaded, "quarantined": quarantined,
                  "symbols": len(set(bars["symbol"])) if not bars.empty else 0,
                  "missing_symbols": ", ".join(missing) or "none",
                  "preview": markdown_preview(bars.tail(10))},
        check_results=[AssetCheckResult(
            check_name="bars_pass_quality_suite", passed=not problems,
            severity=AssetCheckSeverity.ERROR,
            description="; ".join(problems[:5]) or None,
            metadata={"problems": MetadataValue.md(
                "\n".join(f"- {p}" for p in problems[:50]) or "none")}),
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


@asset(partitions_def=trading_months, backfill_policy=single_run, group_name="perception",
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
    features = compute_features(_load_bars(store, universe, date.min, end))
    with store.transaction() as connection:
        connection.execute("DELETE FROM features WHERE as_of <= ? AND list_contains(?, symbol)",
                           [end, universe])
        store.insert_frame(connection, "features", features)
    window = features[(features["as_of"] >= start) & (features["as_of"] <= end)]
    return MaterializeResult(metadata={"rows": len(window), "history_rows": len(features),
                                       "preview": markdown_preview(window.tail(10))})


@asset(partitions_def=trading_months, backfill_policy=single_run, group_name="perception",
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
    features = to_dates(store.query(
        "SELECT symbol, as_of, close, sma_50 FROM features WHERE as_of BETWEEN ? AND ?",
        [start, end]), "as_of")
    window_has_benchmark = not benchmark.empty and (benchmark["as_of"] >= start).any()
    if not window_has_benchmark:
        # From the first stored bar, not from the window's look-back: an index rebased at
        # each window's start would jump across window boundaries. Its level is anchored at
        # the first bar; its daily return is the mean daily return of the universe.
        universe = _load_bars(store, market_data.universe(), date.min, end)
        if universe.empty:
            raise ValueError(f"no bars for the universe or the benchmark up to {end}: "
                             "import bars or pick another range")
        context.log.warning(
            f"no {market_data.benchmark_symbol} bars in {start}..{end}: using an "
            "equal-weighted index of the traded universe as the benchmark")
        benchmark = equal_weight_index(universe)
    regimes = detect_regimes(benchmark, features, vix)
    regimes = regimes[(regimes["as_of"] >= start) & (regimes["as_of"] <= end)]
    counts = store.replace_days({"regimes": regimes}, start, end)
    summary = regimes["regime"].value_counts().to_dict() if not regimes.empty else {}
    return MaterializeResult(metadata={
        "rows": counts["regimes"], "regime_days": MetadataValue.json(summary),
        "defensive_days": int(regimes["defensive"].sum()) if not regimes.empty else 0,
        "preview": markdown_preview(regimes.tail(10))})
