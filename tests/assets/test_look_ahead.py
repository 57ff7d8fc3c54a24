"""One clock: perturbing every price after a day must not change any decision, order,
fill or account value up to that day."""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from replay_helpers import SYMBOLS, table, warehouse

from trade_pipelines.cli import run_replay
from trade_pipelines.market_data.builtin import BENCHMARK_SYMBOL, VIX_SYMBOL, load_builtin_bars

CUTOFF = date(2019, 3, 15)
TABLES_BEFORE_CUTOFF = ("features", "regimes", "market_sentiment", "anomalies",
                        "market_events", "plans", "strategy_evaluations", "proposals",
                        "decisions", "orders", "fills", "positions", "accounts", "trades")


def _seed_bars(home: Path, perturb_after: date | None) -> None:
    symbols = [*SYMBOLS.split(","), BENCHMARK_SYMBOL, VIX_SYMBOL]
    bars = load_builtin_bars()
    bars = bars[bars["symbol"].isin(symbols) & (bars["as_of"] >= date(2017, 6, 1))
                & (bars["as_of"] <= date(2019, 6, 30))].copy()
    if perturb_after is not None:
        later = bars["as_of"] > perturb_after
        rng = np.random.default_rng(7)
        # Large noise, but no overnight move at a split ratio (the most is 1.15 / 0.85,
        # a third): the bar checks would rightly stop a replay on an unadjusted split.
        bars.loc[later, "close"] *= rng.uniform(0.85, 1.15, size=int(later.sum()))
    bars["available_at"] = [datetime(d.year, d.month, d.day, 21) for d in bars["as_of"]]
    store = warehouse(home)
    store.migrate()
    store.append("bars", bars[["symbol", "as_of", "open", "high", "low", "close", "volume",
                               "source", "available_at"]])


def _as_known_at_cutoff(orders: pd.DataFrame) -> pd.DataFrame:
    later = ~(pd.to_datetime(orders["resolved_as_of"]).dt.date <= CUTOFF)
    outcome = ["status", "resolution", "filled_quantity", "unfilled_quantity",
               "resolved_as_of"]
    return orders.assign(**{c: orders[c].astype(object).where(~later, "later")
                            for c in outcome})


def _replay(home: Path) -> None:
    os.environ["TRADE_PIPELINES_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")
    assert run_replay(date(2019, 1, 1), date(2019, 4, 30), SYMBOLS, source="warehouse",
                      progress=False)


def test_perturbing_the_future_changes_no_past_decision(project_home: Path,
                                                        tmp_path: Path) -> None:
    original, perturbed = tmp_path / "original", tmp_path / "perturbed"
    _seed_bars(original, None)
    _seed_bars(perturbed, CUTOFF)
    _replay(original)
    _replay(perturbed)

    changed_after = False
    for name in TABLES_BEFORE_CUTOFF:
        a, b = table(original, name), table(perturbed, name)
        before_a = a[pd.to_datetime(a["as_of"]).dt.date <= CUTOFF].reset_index(drop=True)
        before_b = b[pd.to_datetime(b["as_of"]).dt.date <= CUTOFF].reset_index(drop=True)
        if name == "orders":  # an order's outcome is known when resolved, maybe later
            before_a, before_b = _as_known_at_cutoff(before_a), _as_known_at_cutoff(before_b)
        assert len(before_a) > 0 or name == "trades", f"{name} has no rows before the cutoff"
        pd.testing.assert_frame_equal(before_a, before_b, obj=f"{name} up to {CUTOFF}")
        after_a = a[pd.to_datetime(a["as_of"]).dt.date > CUTOFF]
        after_b = b[pd.to_datetime(b["as_of"]).dt.date > CUTOFF]
        changed_after |= not after_a.reset_index(drop=True).equals(after_b.reset_index(drop=True))
    # the perturbation was real: something after the cutoff did change
    assert changed_after
