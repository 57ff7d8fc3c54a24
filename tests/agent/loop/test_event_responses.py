"""Perception reaching the orders on real built-in bars: an earnings blackout refuses an
entry the session before a real AAPL report, and a black-swan day is defensive in the
same bar."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from trade_pipelines.agent.decision.deliberation import Deliberation
from trade_pipelines.agent.decision.setups import SetupBook
from trade_pipelines.agent.evolution.genomes import SEEDED_GENOMES as GENOMES
from trade_pipelines.agent.execution.broker import Bar
from trade_pipelines.agent.execution.ledger import DayMarket, Ledger, LedgerState
from trade_pipelines.agent.loop import wiring
from trade_pipelines.agent.loop.trading_loop import TradingLoop
from trade_pipelines.agent.memory.trade_memory import DecisionIndex, MemoryBook
from trade_pipelines.agent.perception.anomalies import BLACK_SWAN_DROP, anomaly_scores
from trade_pipelines.agent.perception.events import EventResponses
from trade_pipelines.agent.perception.features import compute_features
from trade_pipelines.agent.perception.regime import (
    DEFENSIVE_VIX,
    DEFENSIVE_VOLATILITY,
    detect_regimes,
    market_breadth,
)
from trade_pipelines.market_data.builtin import BUILTIN_UNIVERSE, load_builtin_bars

SYMBOLS = ["AAPL", "JPM", "KO", "XOM", "MSFT"]
BEFORE_REPORT, REPORT = date(2019, 4, 29), date(2019, 4, 30)  # AAPL reported 2019-04-30


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    bars = load_builtin_bars()
    return bars[bars["as_of"] >= date(2017, 1, 1)]


def _loop(features: pd.DataFrame, regimes: pd.DataFrame, events: pd.DataFrame
          ) -> TradingLoop:
    deliberation = Deliberation(features, regimes, {}, SetupBook(pd.DataFrame()), GENOMES,
                                events=events)
    return TradingLoop(deliberation, Ledger(LedgerState(), GENOMES), MemoryBook(),
                       DecisionIndex(), dict(zip(regimes["as_of"], regimes["regime"],
                                                 strict=True)), GENOMES)


def test_no_entry_into_aapl_the_session_before_its_real_report(bars) -> None:
    stocks = bars[bars["symbol"].isin(SYMBOLS)]
    features = wiring.with_breadth(compute_features(stocks))
    regimes = detect_regimes(bars[bars["symbol"] == "^GSPC"], features,
                             bars[bars["symbol"] == "^VIX"])
    events = wiring.event_rows("us", SYMBOLS, bars[bars["symbol"].isin([*SYMBOLS, "^GSPC"])],
                               "^GSPC", date(2019, 4, 1), date(2019, 4, 30))
    responses = EventResponses.of(events)
    assert responses.names_barred(BEFORE_REPORT) == {"AAPL"}
    fill_bars = wiring.trading_bars(stocks, features)

    def orders_on(day: date) -> tuple[pd.DataFrame, list[dict]]:
        loop = _loop(features, regimes, events)
        proposal = {"as_of": day, "proposal_id": f"P-{day}", "symbol": "AAPL", "side": "buy",
                    "strategy_id": "S03", "strength": 0.9, "rationale": "test"}
        loop.run_days([day], fill_bars[fill_bars["as_of"] == day], regimes,
                      pd.DataFrame([proposal]), responses=responses)
        return loop.ledger.result.frames()["orders"], loop.output.decisions

    orders, decisions = orders_on(BEFORE_REPORT)
    # The aggressive account still wants its size; the risk engine refuses it.
    assert len(orders) >= 1
    assert (orders["verdict"] == "rejected").all()
    assert orders["reason"].str.contains("event blackout: no new entries into AAPL").all()
    # The debate saw the report coming and said so.
    assert "AAPL earnings in 1 day(s) (2019-04-30, impact 9/10)" in decisions[0]["transcript"]
    # Decided on the 26th it would fill on the 29th, the session before the report:
    # refused too.
    two_before, _ = orders_on(date(2019, 4, 26))
    assert len(two_before) >= 1
    assert two_before["reason"].str.contains("event blackout").all()
    # Decided on the 25th (filling on the 26th) or on the report day (filling after it),
    # the same entry passes the event rule.
    for day in (date(2019, 4, 25), date(2019, 4, 30)):
        allowed, _ = orders_on(day)
        assert not allowed["reason"].str.contains("event blackout").any(), day
        assert (allowed["verdict"] == "accepted").any(), day


@pytest.mark.parametrize("day", [date(2020, 3, 16), date(2018, 2, 5)])
def test_a_black_swan_day_is_defensive_in_the_same_bar(bars, day) -> None:
    stocks = bars[bars["symbol"].isin(BUILTIN_UNIVERSE)]
    features = compute_features(stocks)
    benchmark = bars[bars["symbol"] == "^GSPC"]
    regimes = detect_regimes(benchmark, features, bars[bars["symbol"] == "^VIX"])
    scores = anomaly_scores(benchmark, "^GSPC", market_breadth(features))
    swan = scores[scores["as_of"] == day].iloc[0]
    regime = regimes[regimes["as_of"] == day].iloc[0]
    assert swan["black_swan"] and "BLACK SWAN" in swan["reason"]
    assert regime["defensive"]
    if day == date(2018, 2, 5):
        # -4.1% (7.7 trailing deviations): none of the older defensive rules fires, the
        # black swan alone makes the day defensive.
        change = benchmark.set_index("as_of")["close"].pct_change()[day]
        assert change > BLACK_SWAN_DROP and regime["vix"] < DEFENSIVE_VIX
        assert regime["volatility"] < DEFENSIVE_VOLATILITY
    else:
        assert benchmark.set_index("as_of")["close"].pct_change()[day] < -0.10
    # The decisions made at that close meet the defensive risk engine in the same bar.
    close = float(stocks[(stocks["symbol"] == "AAPL") & (stocks["as_of"] == day)]["close"]
                  .iloc[0])
    ledger = Ledger(LedgerState(), GENOMES)
    ledger.run_day(DayMarket(day, {"AAPL": Bar(math.nan, close, math.nan)}, {"AAPL": 0.3},
                             float(regime["benchmark_close"]), 0.0, bool(regime["defensive"])),
                   [{"as_of": day, "decision_id": "D-1", "symbol": "AAPL",
                     "strategy_id": "S05", "confidence": 0.7, "weight_aggressive": 0.05,
                     "weight_conservative": 0.02, "weight_combined": 0.03}])
    orders = ledger.result.frames()["orders"]
    assert len(orders) == 3 and (orders["verdict"] == "rejected").all()
    assert orders["reason"].str.contains("defensive mode: no new long entries").all()
