"""The walk-forward scoreboard as an asset, so an evaluation shows in the Dagster UI with
its figures and verdict; ``trade-pipelines evaluate`` materializes it."""

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
from dagster import (
    AssetExecutionContext,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from trade_pipelines.assets.common import (
    WAREHOUSE_POOL,
    markdown_preview,
    progress,
    stored_headlines,
    to_dates,
)
from trade_pipelines.assets.market import bar_quality
from trade_pipelines.resources import MarketDataResource, WarehouseResource
from trade_pipelines.settings import include_drills_setting


class ScoreboardConfig(Config):
    start: str = Field(description="First day of history (YYYY-MM-DD); the first test "
                                   "window begins train_years later.")
    end: str = Field(description="Last day of the last test window (YYYY-MM-DD).")
    out: str = Field(default="", description="Folder for the files; default "
                                             "<home>/scoreboard.")
    train_years: int = Field(default=3, description="Warm-up history before the first "
                                                    "test window.")
    test_months: int = Field(default=12, description="Length of each test window.")


def first_test_day(start: date, train_years: int) -> date:
    return (pd.Timestamp(start) + pd.DateOffset(years=train_years)).date()


@asset(group_name="evaluation", pool=WAREHOUSE_POOL)
def walk_forward_scoreboard(context: AssetExecutionContext, config: ScoreboardConfig,
                            warehouse: WarehouseResource,
                            market_data: MarketDataResource) -> MaterializeResult:
    """The agent, its ablations and the baselines scored out of sample, window by window
    (scoreboard.csv, summary.csv, report.md, report.html)."""
    from trade_pipelines.agent.reflection.scoreboard_report import write_scoreboard
    from trade_pipelines.agent.reflection.walk_forward import SYSTEMS, evaluate_walk_forward
    from trade_pipelines.market_data.loading import load_bars

    start, end = date.fromisoformat(config.start), date.fromisoformat(config.end)
    first = first_test_day(start, config.train_years)
    if first > end:
        raise ValueError(f"the first test window would begin on {first}, after --end {end}: "
                         f"give at least {config.train_years} years of history")
    store = warehouse.warehouse()
    symbols = market_data.all_symbols()
    # History is from --start (the warm-up): nothing is fetched before it.
    load_bars(market_data.source, store, symbols, start, end, pd.Timedelta(0))
    bars = to_dates(store.query(
        "SELECT symbol, as_of, open, high, low, close, volume FROM bars "
        "WHERE as_of BETWEEN ? AND ? AND list_contains(?, symbol) ORDER BY symbol, as_of",
        [start, end, symbols]), "as_of")
    # The scoreboard reads the stored bars directly (not through market_bars and its
    # blocking check): the same suite and split detector must pass on them first.
    quality = bar_quality(store, market_data, start, end, "walk_forward_bars",
                          context.run.run_id)
    if not quality.passed:
        raise Failure(description=f"the bars of {start}..{end} fail the bar checks, no "
                                  f"scoreboard is computed on them: {quality.description}",
                      metadata=quality.metadata)
    universe = [s for s in market_data.universe() if s in set(bars["symbol"])]
    if not universe:
        raise ValueError(f"no bars of the universe between {start} and {end} "
                         f"(source {market_data.source}): import them or pick another range")
    steps: Iterator[int] | None = None

    def tell(step: str, total: int) -> None:
        nonlocal steps
        if steps is None:  # the bar counts the agent runs and the windows
            steps = iter(progress(range(total + 1), "walk-forward", total=total, unit="step"))
            next(steps)
        next(steps, None)
        context.log.info(step)

    evaluation = evaluate_walk_forward(
        bars, universe, market_data.benchmark_symbol, market_data.volatility_index_symbol,
        first, end, test_months=config.test_months, systems=SYSTEMS, progress=tell,
        rules=market_data.rules(), headlines=stored_headlines(store, start, end),
        include_generated=include_drills_setting())
    out = Path(config.out) if config.out else warehouse.paths().home / "scoreboard"
    rules = market_data.rules()
    meta = {"data": f"{market_data.source}, {start} .. {end}",
            "market": f"{rules.name}, amounts in {rules.currency}",
            "warm-up": f"{config.train_years} years before {first}",
            "test windows": f"{config.test_months} months each"}
    files = write_scoreboard(evaluation, out, meta)
    summary = evaluation.summary
    return MaterializeResult(metadata={
        "out": MetadataValue.path(str(out)),
        "files": ", ".join(f.name for f in files),
        "windows": len(evaluation.windows),
        "systems": len(summary),
        "genomes_evaluated": evaluation.n_trials,
        "headlines_read": evaluation.headlines_read,
        "summary": markdown_preview(summary, rows=len(summary)),
        "report": MetadataValue.md((out / "report.md").read_text(encoding="utf-8")),
    })
