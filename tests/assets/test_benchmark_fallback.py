"""With imported symbols and no S&P 500 bars, an equal-weighted index of the traded symbols
stands in as the benchmark. Its daily return must be the mean daily return of those
symbols on every day, across window boundaries too: a jump there could trip the circuit
breaker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trade_pipelines.cli import main
from trade_pipelines.settings import paths
from trade_pipelines.warehouse import Warehouse

SYMBOLS = ("ZZA", "ZZB", "ZZC")


def _bars() -> pd.DataFrame:
    days = pd.bdate_range("2022-01-03", "2023-04-28")
    rng = np.random.default_rng(5)
    frames = []
    for i, symbol in enumerate(SYMBOLS):
        close = 40 * (1 + i) * np.exp(np.cumsum(rng.normal(0.0, 0.02, len(days))))
        frames.append(pd.DataFrame({"symbol": symbol, "date": days.strftime("%Y-%m-%d"),
                                    "close": close}))
    return pd.concat(frames, ignore_index=True).assign(open="", high="", low="", volume="")


def test_fallback_benchmark_return_is_the_mean_symbol_return_every_day(
        project_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    _bars().to_csv(path, index=False)
    assert main(["import-bars", str(path)]) == 0
    symbols = ",".join(SYMBOLS)
    # Two runs, so one window boundary falls between them and one inside the second run.
    for start, end in (("2023-01-02", "2023-02-15"), ("2023-02-16", "2023-04-28")):
        assert main(["replay", "--start", start, "--end", end, "--symbols", symbols,
                     "--source", "warehouse", "--no-progress"]) == 0
    store = Warehouse(paths().warehouse)
    regimes = store.query("SELECT as_of, benchmark_close FROM regimes ORDER BY as_of")
    closes = store.query("SELECT symbol, as_of, close FROM bars").pivot(
        index="as_of", columns="symbol", values="close").sort_index()
    expected = closes.pct_change(fill_method=None).mean(axis=1)
    actual = regimes.set_index("as_of")["benchmark_close"].pct_change()
    compared = pd.concat([actual.rename("actual"), expected.rename("expected")],
                         axis=1, join="inner").dropna()
    assert len(compared) >= 75  # every replayed day but the very first
    np.testing.assert_allclose(compared["actual"], compared["expected"], rtol=0, atol=1e-12)
    # The accounts carry the same close, so the circuit breaker reads the same returns.
    accounts = store.query("SELECT DISTINCT as_of, benchmark_close FROM accounts ORDER BY as_of")
    joined = accounts.merge(regimes, on="as_of", suffixes=("_account", "_regime"))
    assert len(joined) == len(accounts) > 0
    assert (joined["benchmark_close_account"] == joined["benchmark_close_regime"]).all()
