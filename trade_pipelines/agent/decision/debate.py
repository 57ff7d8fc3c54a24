"""The multi-agent debate, argued by a deterministic reasoner from computed evidence.

Aggressive proposes, conservative raises five objections (an event ahead, such as the
name's earnings, displaces the weakest; the market's sentiment is cited with the
regime), quant brings the record of similar setups, and they argue 3-5 rounds; the
judge rules execute / adjust / drop with a confidence. Every sentence quotes a number
computed from data or memory, so the same evidence always yields the same transcript.
An LLM reasoner may replace the wording later; it can never replace the risk engine downstream.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date

from trade_pipelines.agent.days import day_of
from trade_pipelines.agent.ids import stable_id
from trade_pipelines.agent.perception.news import NewsSentiment
from trade_pipelines.agent.reflection.performance import wilson_interval

MIN_ROUNDS, MAX_ROUNDS = 3, 5
# News whose tone is at least this strong is argued: the aggressive agent cites good
# news, the conservative objects to a long entry against bad news.
NEWS_TONE = 0.3
# Market-wide news weighs this share of a name's own news: it is about every name at once.
MARKET_NEWS_SHARE = 0.5
LOW_CERTAINTY = 0.60
MIN_WEIGHT = 0.01


@dataclass(frozen=True)
class SetupRecord:
    """What similar setups did before the decision day."""

    n: int
    win_rate: float
    expectancy: float
    payoff: float
    symbol_n: int
    symbol_win_rate: float


@dataclass(frozen=True)
class MarketMood:
    """The day's market sentiment row (agent/perception/sentiment.py)."""

    fear_greed: float
    volatility_source: str
    volatility_level: float
    volatility_change_5d: float
    turning_point: str | None = None


@dataclass(frozen=True)
class EventContext:
    """The most impactful event known at the decision that falls on the name (or the
    whole market) in the days ahead (agent/perception/events.py)."""

    title: str
    as_of: object
    days_away: int
    impact: int
    response: str
    memory: str


@dataclass(frozen=True)
class Evidence:
    as_of: object
    proposal_id: str
    symbol: str
    side: str
    strategy_id: str
    strategy_name: str
    family: str
    strength: float
    close: float
    ret_20d: float
    vol_20: float
    rsi_14: float
    above_sma_200: bool
    regime: str
    defensive: bool
    exposure_target: float
    record: SetupRecord
    memories: list[dict] = field(default_factory=list)
    # The genome's sizing gene times its probation scale (a newborn trades small).
    size_scale: float = 1.0
    # The symbol's news up to the day's close (None: no headline).
    news: NewsSentiment | None = None
    # The day's market-wide news (headlines naming no symbol, such as a general feed's).
    market_news: NewsSentiment | None = None
    # The market's mood that day and the event ahead of the name (both optional).
    sentiment: MarketMood | None = None
    event: EventContext | None = None
    # What the knowledge graph holds on the name, its family and the regime, from
    # evidence dated before the day (agent/memory/knowledge_graph.py).
    graph_facts: list[str] = field(default_factory=list)


@dataclass
class Objection:
    topic: str
    severity: float
    text: str
    resolved: bool = False


@dataclass(frozen=True)
class Decision:
    evidence: Evidence
    verdict: str
    confidence: float
    weight_aggressive: float
    weight_conservative: float
    weight_combined: float
    rounds: int
    summary: str
    transcript: list[dict]
    # Who answered: "deterministic", or "llm" (agent/decision/llm/); a failed LLM call
    # leaves "deterministic" with the model that was tried and the reason it fell back.
    reasoner: str = "deterministic"
    model: str | None = None
    fallback_reason: str | None = None
    llm_calls: int = 0  # HTTP calls made (cache hits excluded)
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_cost: float = 0.0  # USD
    knowledge_cutoff: date | None = None
    prompt_log: str = "[]"  # JSON: per call, its role, model, tokens and the inputs it saw

    def row(self) -> dict[str, object]:
        e = self.evidence
        return {
            "as_of": e.as_of, "decision_id": stable_id("D", e.proposal_id),
            "proposal_id": e.proposal_id, "symbol": e.symbol, "side": e.side,
            "strategy_id": e.strategy_id, "verdict": self.verdict,
            "confidence": round(self.confidence, 4),
            "low_certainty": self.confidence < LOW_CERTAINTY,
            "weight_aggressive": round(self.weight_aggressive, 4),
            "weight_conservative": round(self.weight_conservative, 4),
            "weight_combined": round(self.weight_combined, 4),
            # what the proposer asked for, before the debate, the checklist and defence
            "proposed_weight": round(proposer_size(e), 4),
            "rounds": self.rounds, "summary": self.summary,
            "transcript": json.dumps(self.transcript),
            "memories_used": json.dumps([{"memory_id": m["memory_id"], "score": m.get("score")}
                                         for m in e.memories]),
            "reasoner": self.reasoner, "model": self.model,
            "fallback_reason": self.fallback_reason, "llm_calls": self.llm_calls,
            "cache_hits": self.cache_hits, "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "llm_cost": round(self.llm_cost, 6), "knowledge_cutoff": self.knowledge_cutoff,
            "prompt_log": self.prompt_log,
            "cleanliness": "replay_hindsight" if _backdated(e) else
            cleanliness(self.reasoner, self.knowledge_cutoff, e.as_of),
        }


def cleanliness(reasoner: str, knowledge_cutoff: date | None, as_of: date) -> str:
    """How clean a replayed decision is of hindsight: a deterministic one is a plain
    replay; an LLM's is clean only on days after its training cut-off (an unknown cut-off
    counts as after every replayed day, i.e. possibly tainted)."""
    if reasoner != "llm":
        return "replay"
    if knowledge_cutoff is None or as_of <= knowledge_cutoff:
        return "replay_llm_precutoff"
    return "replay_llm_postcutoff"


def _backdated(e: Evidence) -> bool:
    """A recalled lesson a person wrote down after the decision's day (``memory add
    --backdate``): the decision may use hindsight."""
    return any(m.get("recorded_on") is not None and m["recorded_on"] > day_of(e.as_of)
               for m in e.memories)


def _clip(value: float, low: float = 0.0, high: float = 1.0) -> float:
    if not math.isfinite(value):
        return low
    return max(low, min(high, value))


def _interval(n: int, win_rate: float) -> str:
    """The win rate's 95% Wilson interval: 6 wins in 10 and 600 in 1,000 are not the same
    evidence."""
    if n <= 0 or not math.isfinite(win_rate):
        return ""
    low, high = wilson_interval(round(win_rate * n), n)
    return f" (95% interval {low:.0%}-{high:.0%})"


def _pct(value: float) -> str:
    return f"{value:.0%}" if math.isfinite(value) else "n/a"


def _objections(e: Evidence) -> list[Objection]:
    r = e.record
    regime_severity = 1.0 if e.defensive else {"bear": 0.7, "range": 0.3}.get(e.regime, 0.0)
    if e.family in ("mean_reversion", "sentiment"):
        stretch = _clip((-e.ret_20d - 0.10) / 0.15)
        stretch_text = (f"It fell {e.ret_20d:+.1%} in 20 days: catching a falling knife? "
                        "Reversion needs a floor we have not seen.")
    else:
        stretch = _clip((e.rsi_14 - 65) / 20)
        stretch_text = (f"RSI is {e.rsi_14:.0f} after a {e.ret_20d:+.1%} run: we may be "
                        "buying the top of the move.")
    edge = _clip((0.55 - r.win_rate) / 0.15) if r.n else 0.8
    edge += 0.3 if r.n < 20 else 0.0
    recalled = [m["outcome_return"] for m in e.memories if m.get("outcome_return") is not None]
    memory_avg = sum(recalled) / len(recalled) if recalled else float("nan")
    if recalled:
        memory = _clip(-memory_avg / 0.05)
        memory_text = (f"Our own {len(recalled)} similar past trades averaged "
                       f"{memory_avg:+.1%}: memory does not back this.")
    else:
        memory = 0.3
        memory_text = "We have no trade of our own like this in memory: no precedent."
    news = []
    if e.news is not None and e.side == "buy" and e.news.score <= -NEWS_TONE:
        news = [Objection("news", _clip(-e.news.score / 0.6),
                          f"The news is against it: {e.news.headlines} headline(s) to "
                          f"today's close score {e.news.score:+.2f}, led by "
                          f"{e.news.quote()}.")]
    if (e.market_news is not None and e.side == "buy"
            and e.market_news.score <= -NEWS_TONE):
        news.append(Objection(
            "market news", MARKET_NEWS_SHARE * _clip(-e.market_news.score / 0.6),
            f"The market's news is against longs: {e.market_news.headlines} market-wide "
            f"headline(s) to today's close score {e.market_news.score:+.2f}, led by "
            f"{e.market_news.quote()}."))
    objections = [
        Objection("volatility", _clip((e.vol_20 - 0.25) / 0.35),
                  f"Volatility is {_pct(e.vol_20)} a year: a normal day moves "
                  f"{e.vol_20 / math.sqrt(252):.1%}, enough to hit the stop on noise."),
        Objection("regime", _clip(regime_severity + _mood_severity(e)),
                  f"The market is in a {e.regime} regime"
                  + (" and defensive mode is on." if e.defensive else "; longs swim against it."
                     if regime_severity >= 0.5 else "; no tailwind is guaranteed.")
                  + _mood_text(e)),
        Objection("stretched", stretch, stretch_text),
        Objection("edge", _clip(edge),
                  f"Similar setups won {_pct(r.win_rate)} of {r.n} times: "
                  + ("not significant." if r.n < 20 else "a thin edge after costs.")),
        Objection("memory", memory, memory_text),
        *news,
    ]
    if e.event is not None:
        # An event ahead takes the place of the weakest objection: still five, the
        # sharpest ones.
        weakest = min(objections, key=lambda o: (o.severity, o.topic))
        objections = [o for o in objections if o is not weakest] + [
            _event_objection(e.event)]
    return objections


def _cited(memory: dict) -> str:
    """A recalled memory by id and recall score, with its outcome or taught lesson."""
    score = memory.get("score")
    said = [f"score {score:.2f}" if score is not None else "unscored"]
    if memory.get("source") == "human":
        said.append(f'taught: "{memory["text"]}"')
    elif memory.get("outcome_return") is not None:
        said.append(f"outcome {memory['outcome_return']:+.1%}")
    return f"{memory['memory_id']} ({', '.join(said)})"


def _mood_severity(e: Evidence) -> float:
    """Sentiment against the trade: a turn toward fear, or a crowd in extreme greed
    chasing a trend; extreme fear is what a reversion trade lives on."""
    mood = e.sentiment
    if mood is None or not math.isfinite(mood.fear_greed):
        return 0.0
    if mood.turning_point == "toward_fear":
        return 0.2
    if mood.fear_greed >= 80 and e.family in ("trend", "breakout"):
        return 0.1
    return 0.0


def _mood_text(e: Evidence) -> str:
    mood = e.sentiment
    if mood is None or not math.isfinite(mood.fear_greed):
        return ""
    change = (f", {mood.volatility_change_5d:+.1f} in 5 days"
              if math.isfinite(mood.volatility_change_5d) else "")
    turn = {"toward_fear": " Sentiment just turned toward fear.",
            "toward_greed": " Sentiment just turned toward greed."}.get(
        mood.turning_point or "", "")
    return (f" Fear/greed stands at {mood.fear_greed:.0f} ({mood.volatility_source} "
            f"{mood.volatility_level:.1f}{change}).{turn}")


def _event_objection(event: EventContext) -> Objection:
    """High-impact events ahead: holding through them is a gamble on the outcome."""
    when = "today" if event.days_away == 0 else f"in {event.days_away} day(s)"
    severity = (0.9 if event.impact >= 8 and event.days_away <= 1 else
                0.6 if event.impact >= 8 else 0.3)
    plan = f" Response plan: {event.response}." if event.response else ""
    return Objection("event", severity,
                     f"{event.title} {when} ({event.as_of}, impact {event.impact}/10): "
                     f"{event.memory}.{plan}")


def _rebut(o: Objection, e: Evidence, weight: float) -> tuple[str, float]:
    """The aggressive agent's answer to one objection: a rebuttal or a size concession."""
    r = e.record
    if o.topic == "regime" and e.above_sma_200 and not e.defensive:
        o.severity /= 2
        return (f"{e.symbol} trades above its 200-day average: its own trend is intact "
                "whatever the index does.", weight)
    if o.topic == "stretched" and e.family in ("trend", "breakout") and r.win_rate > 0.55:
        o.severity /= 2
        return (f"Momentum persists: this setup still won {_pct(r.win_rate)} of the time.",
                weight)
    if o.topic == "edge" and r.symbol_n >= 5 and r.symbol_win_rate > 0.6:
        o.severity /= 2
        return (f"On {e.symbol} itself the setup won {_pct(r.symbol_win_rate)} of "
                f"{r.symbol_n} times.", weight)
    if o.topic == "memory" and len(e.memories) < 2:
        o.severity /= 2
        return (("No trade of ours to learn from is no evidence against it; the setup's "
                 f"record of {r.n} trades stands in." if not e.memories else
                 "One memory is an anecdote, not a pattern."), weight)
    cut = weight * (1 - 0.5 * o.severity)
    o.severity /= 2  # the smaller size answers half the concern
    return (f"Conceded. I cut the size from {weight:.1%} to {cut:.1%} of equity.", cut)


def proposer_size(e: Evidence) -> float:
    """The aggressive agent's size: 5-10% of equity by signal strength, scaled by the
    genome's sizing and probation."""
    return round((0.05 + 0.05 * _clip(e.strength)) * e.size_scale, 4)


def no_debate(e: Evidence) -> Decision:
    """The ablation without a debate: every account takes the proposal at the proposer's
    size (defensive mode still forbids new longs); the risk engine alone judges it."""
    weight = 0.0 if e.defensive else proposer_size(e)
    verdict = "drop" if e.defensive else "execute"
    summary = f"{verdict} {e.side} {e.symbol} ({e.strategy_name}) without a debate"
    return Decision(e, verdict, 0.5, weight, weight, weight, 0, summary, [])


def debate(e: Evidence) -> Decision:
    r = e.record
    transcript: list[dict] = []

    def say(round_no: int, role: str, text: str) -> None:
        transcript.append({"round": round_no, "role": role, "text": text})

    weight = proposer_size(e)
    initial_weight = weight
    say(1, "aggressive",
        f"Proposal: {e.side} {e.symbol} at {e.close:.2f} on '{e.strategy_name}'. "
        f"20-day return {e.ret_20d:+.1%}, RSI {e.rsi_14:.0f}, signal strength "
        f"{e.strength:.2f}. I want {weight:.1%} of equity.")
    if e.news is not None:
        say(1, "aggressive" if e.news.score >= NEWS_TONE else "quant",
            (f"The news backs it: {e.news.headlines} headline(s) to today's close score "
             f"{e.news.score:+.2f}, led by {e.news.quote()}." if e.news.score >= NEWS_TONE
             else f"News to today's close: {e.news.headlines} headline(s), score "
                  f"{e.news.score:+.2f}, led by {e.news.quote()}."))
    if e.market_news is not None:
        say(1, "quant",
            f"Market-wide news to today's close: {e.market_news.headlines} headline(s), "
            f"score {e.market_news.score:+.2f}, led by {e.market_news.quote()}.")
    objections = _objections(e)
    for i, o in enumerate(objections, 1):
        minor = ", minor" if o.severity < 0.15 else ""
        say(1, "conservative",
            f"Objection {i} ({o.topic}, severity {o.severity:.2f}{minor}): {o.text}")
    recalled = (" Memories recalled: " + "; ".join(_cited(m) for m in e.memories) + "."
                if e.memories else "")
    say(1, "quant",
        (f"Record of this setup before today: {r.n} trades (one at a time per symbol), win rate "
         f"{_pct(r.win_rate)}{_interval(r.n, r.win_rate)}, expectancy {r.expectancy:+.2%} "
         f"a trade, payoff {r.payoff:.2f}. On {e.symbol}: {r.symbol_n} trades, win rate "
         f"{_pct(r.symbol_win_rate)}{_interval(r.symbol_n, r.symbol_win_rate)}."
         if r.n else "No completed trade of this setup before today: no statistics.")
        + recalled)
    if e.graph_facts:
        say(1, "quant", "The knowledge graph: " + "; ".join(e.graph_facts) + ".")

    rounds = 1
    abandoned = False
    while rounds < MAX_ROUNDS:
        open_objections = sorted((o for o in objections if not o.resolved),
                                 key=lambda o: (-o.severity, o.topic))
        if rounds >= MIN_ROUNDS and (not open_objections or open_objections[0].severity < 0.3):
            break
        rounds += 1
        if not open_objections:
            say(rounds, "conservative", "No objection left standing; I accept the size.")
            continue
        target = open_objections[0]
        reply, weight = _rebut(target, e, weight)
        target.resolved = True
        say(rounds, "aggressive", f"On {target.topic}: {reply}")
        remaining = sum(o.severity for o in objections if not o.resolved)
        say(rounds, "conservative",
            f"Residual concern {remaining:.2f} across {sum(not o.resolved for o in objections)} "
            "open objections." if remaining else "My objections are answered.")
        if weight < MIN_WEIGHT:
            abandoned = True
            say(rounds, "aggressive", "At this size the trade is not worth its costs: I withdraw.")
            break

    residual = [o.severity for o in objections]
    mean_severity = sum(residual) / len(residual)
    win = r.win_rate if r.n else 0.5
    expectancy = r.expectancy if r.n else 0.0
    confidence = _clip(0.5 + 0.25 * math.tanh((win - 0.5) * 6)
                       + 0.15 * math.tanh(expectancy / 0.02)
                       - 0.35 * mean_severity + 0.1 * _clip(e.strength)
                       + (0.05 * _clip(e.news.score) if e.news is not None else 0.0)
                       + (0.05 * MARKET_NEWS_SHARE * _clip(e.market_news.score)
                          if e.market_news is not None else 0.0),
                       0.02, 0.98)
    if abandoned or e.defensive:
        verdict, combined = "drop", 0.0
    elif confidence >= LOW_CERTAINTY and max(residual) < 0.6:
        verdict, combined = "execute", weight
    elif confidence >= 0.45:
        verdict, combined = "adjust", weight / 2
    else:
        verdict, combined = "drop", 0.0
    combined *= e.exposure_target
    conservative = min(0.04, weight) if max(residual) < 0.5 and not e.defensive else 0.0
    aggressive = 0.0 if e.defensive else initial_weight
    reason = {"execute": "edge outweighs the open risks",
              "adjust": "some edge, but the open risks halve the size",
              "drop": "withdrawn by the proposer" if abandoned else
              ("defensive mode forbids new longs" if e.defensive else
               "the evidence does not carry the trade")}[verdict]
    say(rounds, "judge",
        f"Verdict: {verdict.upper()} with confidence {confidence:.0%} ({reason}). Combined "
        f"account weight {combined:.1%} (exposure target {e.exposure_target:.0%}); "
        f"aggressive {aggressive:.1%}, conservative {conservative:.1%}.")
    summary = (f"{verdict} {e.side} {e.symbol} ({e.strategy_name}) at {confidence:.0%}: "
               f"{reason}; strongest objection: "
               f"{max(objections, key=lambda o: o.severity).topic}.")
    return Decision(e, verdict, confidence, aggressive, conservative, combined, rounds,
                    summary, transcript)
