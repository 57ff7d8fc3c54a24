"""The whole agent in memory on the built-in A-share bars under the A-share rules: the
debate's orders in lots of 100, no fill at a limit-locked open, no sale on the day of
purchase, the stamp duty on every sale; the gene pool priced at A-share costs."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from trade_pipelines.agent.evolution.evaluation import setup_outcomes
from trade_pipelines.agent.evolution.genomes import SEEDED_GENOMES
from trade_pipelines.agent.execution.broker import one_side_cost
from trade_pipelines.agent.loop.simulation import run_agent_loop
from trade_pipelines.agent.markets import CN
from trade_pipelines.agent.perception.features import compute_features
from trade_pipelines.market_data.builtin_markets import builtin_universe, raw_market_bars

START, END = date(2015, 3, 2), date(2015, 6, 30)


@pytest.fixture(scope="module")
def cn_bars() -> pd.DataFrame:
    bars = raw_market_bars("cn")
    bars = bars.assign(as_of=pd.to_datetime(bars["as_of"]).dt.date)
    return bars[(bars["as_of"] >= date(2013, 1, 1)) & (bars["as_of"] <= END)]


def test_the_agent_trades_a_shares_under_their_rules(cn_bars: pd.DataFrame) -> None:
    frames = run_agent_loop(cn_bars, START, END, list(builtin_universe("cn")),
                            CN.benchmark_symbol, "", rules=CN)["frames"]
    orders, fills, trades = frames["orders"], frames["fills"], frames["trades"]
    assert len(fills) > 50 and len(trades) > 20
    assert (orders["quantity"] % 100 == 0).all() and (fills["quantity"] % 100 == 0).all()
    locked = orders[orders["resolution"].fillna("").str.startswith("limit-locked")]
    assert len(locked) > 0 and (locked["status"] == "expired").all()
    assert (trades["as_of"] > trades["opened_as_of"]).all()
    for fill in fills.itertuples():
        duty = 0.001 * fill.quantity * fill.price if fill.side == "sell" else 0.0
        assert fill.fee == pytest.approx(CN.commission.on(fill.quantity, fill.price) + duty,
                                         abs=1e-6)


def test_the_gene_pool_prices_a_share_trades_at_their_commission_and_duty(
        cn_bars: pd.DataFrame) -> None:
    features = compute_features(cn_bars[cn_bars["symbol"].isin(builtin_universe("cn"))])
    genome = next(iter(SEEDED_GENOMES.values()))
    outcomes = setup_outcomes(genome, features)
    assert len(outcomes) > 10
    known = features.set_index(["symbol", "as_of"])
    for row in outcomes.itertuples():
        signal = known.loc[(row.symbol, row.signal_as_of)]
        expected = 2 * one_side_cost(float(signal["vol_20"]), float(signal["close"]), CN,
                                     row.signal_as_of)
        assert row.cost == pytest.approx(expected, rel=1e-12)
        # 0.025% commission a side and 0.1% stamp duty on the sale, beside the slippage
        assert row.cost - 2 * one_side_cost(float(signal["vol_20"])) == pytest.approx(
            2 * 0.00025 + 0.001 - 2 * 0.0005, abs=1e-12)
