"""Headlines naming no symbol (a general feed's) reach every proposal's debate that
session, and only from the session in which they became known."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from trade_pipelines.agent.decision.deliberation import Deliberation
from trade_pipelines.agent.decision.setups import SetupBook
from trade_pipelines.agent.evolution.genomes import SEEDED_GENOMES as GENOMES
from trade_pipelines.agent.loop import wiring
from trade_pipelines.agent.memory.trade_memory import MemoryBook
from trade_pipelines.agent.perception.features import compute_features
from trade_pipelines.agent.perception.news import news_by_symbol_day
from trade_pipelines.agent.perception.regime import detect_regimes
from trade_pipelines.market_data.builtin import load_builtin_bars

DAY, NEXT = date(2019, 4, 29), date(2019, 4, 30)


def test_market_wide_headlines_reach_each_proposal_from_their_session_on() -> None:
    bars = load_builtin_bars()
    bars = bars[(bars["as_of"] >= date(2018, 1, 1)) & (bars["as_of"] <= NEXT)]
    stocks = bars[bars["symbol"].isin(["AAPL", "KO"])]
    features = wiring.with_breadth(compute_features(stocks))
    regimes = detect_regimes(bars[bars["symbol"] == "^GSPC"], features,
                             bars[bars["symbol"] == "^VIX"])
    # Known at 20:00 UTC on the 29th: 16:00 New York, the close of that session.
    news = pd.DataFrame({
        "news_id": ["N1"], "symbol": [None],
        "headline": ["Stocks plunge as recession fears and losses mount"], "body": [""],
        "language": ["en"], "published_at": [datetime(2019, 4, 29, 19, 30)],
        "available_at": [datetime(2019, 4, 29, 19, 30)], "generated": [False]})
    rows = wiring.news_sentiment_rows("us", news, DAY, NEXT)
    deliberation = Deliberation(features, regimes, {}, SetupBook(pd.DataFrame()), GENOMES,
                                news=news_by_symbol_day(rows))
    proposals = [{"as_of": day, "proposal_id": f"P-{symbol}-{day}", "symbol": symbol,
                  "side": "buy", "strategy_id": "S03", "strength": 0.9}
                 for day in (DAY, NEXT) for symbol in ("AAPL", "KO")]
    decisions = deliberation.decide(proposals, MemoryBook())
    said = {(d["symbol"], d["as_of"]): d["transcript"] for d in decisions}
    for symbol in ("AAPL", "KO"):
        assert "Stocks plunge as recession fears" in said[(symbol, DAY)]
        assert "Market-wide news" not in said[(symbol, NEXT)]
