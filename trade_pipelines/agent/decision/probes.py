"""Two probes of a reasoner's honesty on a replay.

A model trained on the internet may remember what happened after a replayed day: it
then "predicts" with hindsight, and a replay before its knowledge cut-off flatters it.
The recall probe asks it for closes of the replayed window it should not know; a model
that names them within a tolerance remembers them. The counterfactual probe gives it
the same proposal twice, once with the evidence turned against the trade: a reasoner
that reads the evidence must grow less confident; one that answers from memory (or
ignores what it is shown) does not move.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from trade_pipelines.agent.decision.debate import Decision, Evidence, SetupRecord
from trade_pipelines.agent.perception.news import NewsSentiment

# The model names two closes 20 sessions apart; their ratio within this of the true one is
# remembered, not guessed (a 20-session move is typically 5-10%). The ratio, not the
# price: stored closes are adjusted for later splits and dividends, so a model that
# remembers the printed price would miss the stored one by the adjustment factor.
RECALL_TOLERANCE = 0.01
# More than this share of closes remembered: the replay's decisions may use hindsight.
RECALL_ALARM = 0.2
# The counterfactual must lower the confidence by at least this much (or the verdict).
COUNTERFACTUAL_MOVE = 0.05
VERDICT_RANK = {"drop": 0, "adjust": 1, "execute": 2}


@dataclass(frozen=True)
class ProbeResult:
    """A probe's score (share of trials that showed the trait probed), its trials, and
    whether the replay passes (no remembered prices; confidence moved by evidence)."""

    name: str
    score: float
    trials: int
    passed: bool
    details: list[dict]


@dataclass(frozen=True)
class KnownMove:
    """A symbol's stored closes on two days (the second some sessions after the first)."""

    symbol: str
    first_day: date
    first_close: float
    last_day: date
    last_close: float


def recall_probe(ask_close: Callable[[str, date], float | None],
                 moves: Sequence[KnownMove]) -> ProbeResult:
    """``ask_close(symbol, day)``: the model's answer for that close (None: it declined).
    Score: the share of moves whose ratio of named closes is within ``RECALL_TOLERANCE``
    of the stored one."""
    details = []
    for move in moves:
        first = ask_close(move.symbol, move.first_day)
        last = ask_close(move.symbol, move.last_day)
        named = (first is not None and last is not None and math.isfinite(first)
                 and math.isfinite(last) and first > 0)
        error = (abs((last / first) / (move.last_close / move.first_close) - 1)
                 if named and move.first_close > 0 else math.inf)
        details.append({"symbol": move.symbol, "first_day": str(move.first_day),
                        "last_day": str(move.last_day),
                        "stored_move": round(move.last_close / move.first_close - 1, 6),
                        "first_answer": first, "last_answer": last,
                        "error": round(error, 6) if math.isfinite(error) else None,
                        "recalled": error <= RECALL_TOLERANCE})
    recalled = sum(d["recalled"] for d in details)
    score = recalled / len(details) if details else 0.0
    return ProbeResult("recall", score, len(details), score <= RECALL_ALARM, details)


def against_the_trade(e: Evidence) -> Evidence:
    """The same proposal with the evidence turned against it: a losing record for the
    setup and the name, bad news, doubled volatility, stretched, under its trend."""
    # At the day's first instant (UTC): before the close of every market's session.
    published = datetime(e.as_of.year, e.as_of.month, e.as_of.day) \
        if isinstance(e.as_of, date) else datetime(2000, 1, 1)
    return replace(
        e, record=SetupRecord(n=max(e.record.n, 60), win_rate=0.3, expectancy=-0.02,
                              payoff=0.6, symbol_n=10, symbol_win_rate=0.2),
        vol_20=2 * (max(e.vol_20, 0.2) if math.isfinite(e.vol_20) else 0.2), rsi_14=85.0,
        ret_20d=(abs(e.ret_20d) if math.isfinite(e.ret_20d) else 0.0) + 0.25,
        above_sma_200=False, memories=[],
        news=NewsSentiment(headlines=3, score=-0.8, positive=0, negative=3,
                           top_headline=f"{e.symbol} cuts its outlook; regulators open a "
                                        "probe", top_published_at=published))


def counterfactual_probe(judge: Callable[[Sequence[Evidence]], list[Decision]],
                         evidences: Sequence[Evidence],
                         reasoner: str | None = None) -> ProbeResult:
    """``judge``: the reasoner's ``decide_day``. Score: the share of proposals whose
    verdict or confidence fell (by ``COUNTERFACTUAL_MOVE``) when the evidence turned.
    ``reasoner``: count only pairs both argued by it (an LLM's fallback to the
    deterministic debate, which always moves, proves nothing about the model); with no
    such pair the probe fails."""
    if not evidences:
        return ProbeResult("counterfactual", 0.0, 0, True, [])
    as_given = judge(list(evidences))
    turned = judge([against_the_trade(e) for e in evidences])
    details = []
    for e, before, after in zip(evidences, as_given, turned, strict=True):
        if reasoner is not None and (before.reasoner != reasoner
                                     or after.reasoner != reasoner):
            continue
        moved = (VERDICT_RANK[after.verdict] < VERDICT_RANK[before.verdict]
                 or after.confidence <= before.confidence - COUNTERFACTUAL_MOVE)
        details.append({"proposal_id": e.proposal_id, "symbol": e.symbol,
                        "verdict": before.verdict, "confidence": round(before.confidence, 4),
                        "turned_verdict": after.verdict,
                        "turned_confidence": round(after.confidence, 4), "moved": moved})
    if not details:
        return ProbeResult("counterfactual", 0.0, 0, False, [])
    score = sum(d["moved"] for d in details) / len(details)
    return ProbeResult("counterfactual", score, len(details), score >= 0.8, details)
