"""``trade-pipelines evaluate`` as a user runs it on their own imported bars: the files,
their published columns, and the run in Dagster's log with its metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance

from trade_pipelines.agent.reflection.walk_forward import SCOREBOARD_COLUMNS, SYSTEMS
from trade_pipelines.cli import main

SYMBOLS = ("ZZA", "ZZB", "ZZC", "ZZD")


def _own_bars() -> pd.DataFrame:
    """Random-walk OHLCV bars with drift and a crash, business days of 2015-2019."""
    days = pd.bdate_range("2015-01-02", "2019-12-31")
    rng = np.random.default_rng(5)
    drift = np.where((days >= "2018-02-01") & (days < "2018-04-01"), -0.006, 0.0005)
    frames = []
    for i, symbol in enumerate(SYMBOLS):
        close = 40 * (1 + i) * np.exp(np.cumsum(drift + rng.normal(0, 0.014, len(days))))
        open_ = close * (1 + rng.normal(0, 0.003, len(days)))
        high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, len(days)))
        low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, len(days)))
        frames.append(pd.DataFrame({"symbol": symbol, "date": days.strftime("%Y-%m-%d"),
                                    "open": open_, "high": high, "low": low, "close": close,
                                    "volume": rng.integers(300_000, 3_000_000, len(days))}))
    return pd.concat(frames, ignore_index=True)


def test_evaluate_writes_the_scoreboard_of_imported_bars(project_home: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    source = tmp_path / "own.csv"
    _own_bars().to_csv(source, index=False)
    assert main(["import-bars", str(source)]) == 0
    news = tmp_path / "news.csv"
    pd.DataFrame({"published_at": ["2017-03-01T15:00:00Z", "2018-06-01T15:00:00Z"],
                  "headline": [f"{SYMBOLS[0]} posts strong gains", "Stocks slump"],
                  "symbol": [SYMBOLS[0], ""]}).to_csv(news, index=False)
    assert main(["import-news", str(news)]) == 0
    out = tmp_path / "scoreboard"
    assert main(["evaluate", "--start", "2015-01-02", "--end", "2019-12-31",
                 "--symbols", ",".join(SYMBOLS), "--source", "warehouse",
                 "--train-years", "2", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "Evaluation finished" in printed and "combined" in printed

    board = pd.read_csv(out / "scoreboard.csv")
    assert list(board.columns) == SCOREBOARD_COLUMNS
    assert len(board) == 3 * len(SYSTEMS)  # 2017, 2018, 2019
    assert set(board["system"]) == set(SYSTEMS)
    assert board["window_start"].min() >= "2017-01-02"
    # no S&P 500 among the imported bars: the benchmark is the symbols' equal-weight index
    hold = board[board["system"] == "buy_and_hold"]
    assert hold["beta"].between(0.8, 1.2).all()
    summary = pd.read_csv(out / "summary.csv")
    assert {"system", "deflated_sharpe", "pbo", "n_trials"} <= set(summary.columns)
    assert set(summary["system"]) == set(SYSTEMS)
    markdown = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    assert "## Verdict" in markdown and "equal-weight index" in markdown
    assert "Plotly.newPlot" in html and "Verdict" in html
    svg = (out / "equity.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<polyline") == len(SYSTEMS)

    instance = DagsterInstance.get()
    event = instance.get_latest_materialization_event(AssetKey("walk_forward_scoreboard"))
    assert event is not None
    run = instance.get_run_by_id(event.run_id)
    assert run is not None and run.is_success
    metadata = event.asset_materialization.metadata
    assert metadata["windows"].value == 3
    assert metadata["headlines_read"].value == 2  # the agent traded with the stored news
    assert "## Verdict" in metadata["report"].value


def test_evaluate_takes_a_market_and_refuses_another_than_the_homes(
        project_home: Path) -> None:
    from datetime import date

    from trade_pipelines.cli import build_parser
    from trade_pipelines.cli.evaluate import run_evaluate
    from trade_pipelines.home_market import claim_home_market
    from trade_pipelines.settings import Paths

    args = build_parser().parse_args(["evaluate", "--start", "2012-01-01", "--end",
                                      "2016-12-31", "--market", "cn"])
    assert args.market == "cn"
    claim_home_market("hk", Paths(project_home).ensure())
    with pytest.raises(SystemExit, match="evaluation refused: the home .* holds the Hong "
                                         "Kong stocks"):
        run_evaluate(date(2012, 1, 1), date(2016, 12, 31), None, market="cn",
                     progress=False)


def test_evaluate_refuses_bars_with_an_unadjusted_split(project_home: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    """The scoreboard reads stored bars directly, so it runs the bar checks itself: a
    2-for-1 split left unadjusted in one symbol of the warehouse (written there by
    another hand: ``import-bars`` would have held it back) stops it before any system
    trades."""
    from trade_pipelines.settings import paths
    from trade_pipelines.warehouse import Warehouse

    source = tmp_path / "own.csv"
    _own_bars().to_csv(source, index=False)
    assert main(["import-bars", str(source)]) == 0
    with Warehouse(paths().warehouse).transaction() as connection:
        connection.execute("UPDATE bars SET open = open / 2, high = high / 2, low = low / 2, "
                           "close = close / 2 WHERE symbol = 'ZZB' AND as_of >= '2018-06-01'")
    out = tmp_path / "scoreboard"
    assert main(["evaluate", "--start", "2015-01-02", "--end", "2019-12-31",
                 "--symbols", ",".join(SYMBOLS), "--source", "warehouse",
                 "--train-years", "2", "--out", str(out), "--no-progress"]) != 0
    assert not (out / "scoreboard.csv").exists()
    printed = capsys.readouterr()
    assert "fail the bar checks" in printed.out + printed.err
