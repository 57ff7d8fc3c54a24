"""Jobs: the daily cycle (also the replay job) and the weekly gene-pool evaluation."""

from dagster import AssetSelection, define_asset_job

from trade_pipelines.partitions import trading_months

DAILY_CYCLE = AssetSelection.groups(
    "perception", "planning", "decision", "trading", "memory", "reflection")
PLAN_BEFORE_OPEN = AssetSelection.assets(
    "market_bars", "market_features", "market_regime", "daily_plans")

daily_cycle_job = define_asset_job(
    "daily_cycle", selection=DAILY_CYCLE | AssetSelection.assets("strategy_evaluations"),
    partitions_def=trading_months,
    description="Bars to report for one month (the live cycle re-runs the month in "
                "progress; a replay runs a range of months in one run).")
morning_plan_job = define_asset_job(
    "morning_plan", selection=PLAN_BEFORE_OPEN, partitions_def=trading_months,
    description="Before the open: refresh bars, features, regime and the day's plan.")
weekly_evolution_job = define_asset_job(
    "weekly_gene_pool_evaluation",
    selection=AssetSelection.assets("strategy_evaluations"), partitions_def=trading_months,
    description="Score every genome on its last year of signals; flag and eliminate.")
gene_pool_seed_job = define_asset_job(
    "seed_gene_pool", selection=AssetSelection.assets("strategy_gene_pool"))
