"""The debate argued by a language model, with the deterministic debate as its fallback.

The roles and rounds are the deterministic debate's: the aggressive proposes, the
conservative raises five objections, the quant reads the figures, 3-5 rounds of replies,
and the judge (the deep model) rules. The model argues; the code keeps the rules: the
judge's size is clipped to the proposer's size, defensive mode drops every long, and any
failure (time-out, HTTP error, invalid output after one repair, spent budget) hands the
decision to ``debate(e)`` with the reason recorded.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from trade_pipelines.agent.days import day_of
from trade_pipelines.agent.decision.debate import (
    MAX_ROUNDS,
    MIN_ROUNDS,
    MIN_WEIGHT,
    Decision,
    Evidence,
    debate,
    proposer_size,
)
from trade_pipelines.agent.decision.llm.budget import Allowance, DayLedger
from trade_pipelines.agent.decision.llm.calls import CallFailed, CallRecord, ChatCaller
from trade_pipelines.agent.decision.llm.config import LLMConfig
from trade_pipelines.agent.decision.llm.prompts import (
    Anonymiser,
    DatedInput,
    check_window,
    gather_inputs,
    messages,
)
from trade_pipelines.agent.decision.llm.schemas import (
    AggressiveCase,
    Answer,
    ConservativeObjections,
    InvalidAnswer,
    QuantReading,
    RecalledClose,
    RoundAssessment,
    RoundReplies,
    Verdict,
    schema_json,
)
from trade_pipelines.agent.markets import MarketRules
from trade_pipelines.warehouse import WarehouseLockedError
from trade_pipelines.warehouse.llm_cache import LLMCallCache

# An objection this severe still needs an answer in the rounds.
OPEN_SEVERITY = 0.3
RECALL_SYSTEM = ("You are asked what you remember of a market's history. Answer from "
                 "memory alone, with only a JSON object; if you do not know the exact "
                 "figure, answer null rather than estimate.")


def end_of_day(day: date) -> datetime:
    """The loosest close: the last instant of the day (naive UTC)."""
    return datetime.combine(day, time.max)


def market_close(market: MarketRules) -> Callable[[date], datetime]:
    """A market's session close of a day, in naive UTC (a 24/7 market's day D closes at
    D+1 00:00 local time)."""
    zone = ZoneInfo(market.timezone)

    def close(day: date) -> datetime:
        local_day = day + timedelta(days=1) if market.close_next_day else day
        local = datetime.combine(local_day, market.close_time, tzinfo=zone)
        return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    return close


@dataclass
class _Debate:
    """One decision's state while it is argued."""

    e: Evidence
    close: datetime
    inputs: list[DatedInput]
    refused: list[dict[str, str]]
    anonymiser: Anonymiser
    allowance: Allowance
    transcript: list[dict] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)

    def say(self, round_no: int, role: str, text: str) -> None:
        self.transcript.append({"round": round_no, "role": role,
                                "text": self.anonymiser.reveal(text)})


def _numbers(items: list, expected: list[int], what: str) -> None:
    got = sorted(item.objection for item in items)
    if got != expected:
        raise InvalidAnswer(f"{what} must cover objections {expected} exactly once each, "
                            f"got {got}")


class LLMReasoner:
    """``decide_day`` argues one day's proposals; build one per run (or per day)."""

    def __init__(self, config: LLMConfig, cache_path: Path | str,
                 session_close: Callable[[date], datetime] = end_of_day) -> None:
        self.config = config
        self.cache = LLMCallCache(cache_path)
        self.caller = ChatCaller(config, self.cache)
        self.session_close = session_close
        # the latest decide_day's spending per day (a second call for a day starts afresh)
        self.ledgers: dict[date, DayLedger] = {}

    def knowledge_cutoff(self) -> date | None:
        """The later cut-off of the two models (unknown if either is)."""
        cutoffs = {self.config.cutoff(self.config.model),
                   self.config.cutoff(self.config.deep_model)}
        return None if None in cutoffs else max(cutoffs)

    def decide_day(self, evidences: list[Evidence]) -> list[Decision]:
        """The decisions in the evidences' order. Up to ``concurrency`` debates are in
        flight; each batch sees the budget the batches before it left, and is booked in
        proposal order, so the outcome never depends on thread timing."""
        decisions: list[Decision | None] = [None] * len(evidences)
        days: dict[date, list[int]] = {}
        for i, e in enumerate(evidences):
            days.setdefault(day_of(e.as_of), []).append(i)
        size = self.config.concurrency
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self.cache.session())
            except WarehouseLockedError:
                # another process holds the cache file: the day is argued without the model
                return [replace(debate(e), model=self.config.model,
                                fallback_reason="error: call cache locked",
                                knowledge_cutoff=self.knowledge_cutoff()) for e in evidences]
            return self._decide_days(evidences, days, decisions, size)

    def _decide_days(self, evidences: list[Evidence], days: dict[date, list[int]],
                     decisions: list[Decision | None], size: int) -> list[Decision]:
        with ThreadPoolExecutor(max_workers=size) as pool:
            for day, indices in days.items():
                ledger = self.ledgers[day] = DayLedger()
                for start in range(0, len(indices), size):
                    batch = indices[start:start + size]
                    allowances = [Allowance.of(ledger, self.config.daily_tokens,
                                               self.config.daily_usd) for _ in batch]
                    done = list(pool.map(self._decide, [evidences[i] for i in batch],
                                         allowances))
                    for i, allowance, decision in zip(batch, allowances, done, strict=True):
                        ledger.book(allowance)
                        ledger.http_calls += decision.llm_calls
                        ledger.cache_hits += decision.cache_hits
                        if (decision.fallback_reason == "budget exhausted"
                                and ledger.exhausted_at is None):
                            ledger.exhausted_at = evidences[i].proposal_id
                        decisions[i] = decision
        return decisions  # type: ignore[return-value]

    def _decide(self, e: Evidence, allowance: Allowance) -> Decision:
        close = self.session_close(day_of(e.as_of))
        inputs, refused = gather_inputs(e, close, self.session_close)
        check_window(inputs, close)
        state = _Debate(e, close, inputs, refused,
                        Anonymiser(e.symbol, self.config.anonymise), allowance)
        try:
            decision = self._argue(state)
        except CallFailed as failure:
            decision = replace(debate(e), reasoner="deterministic",
                               fallback_reason=failure.reason)
        return replace(
            decision, model=self.config.model,
            llm_calls=sum(c.http_calls for c in state.calls),
            cache_hits=sum(c.cache_hit for c in state.calls),
            prompt_tokens=sum(c.prompt_tokens for c in state.calls),
            completion_tokens=sum(c.completion_tokens for c in state.calls),
            llm_cost=sum(c.cost for c in state.calls),
            knowledge_cutoff=self.knowledge_cutoff(),
            prompt_log=self._prompt_log(state))

    def recall_close(self, symbol: str, day: date) -> float | None:
        """The recall probe's question (agent/decision/probes.py): the close of
        ``symbol`` on ``day``, from the model's memory alone; None when it declines or
        fails. Cached like every call; outside any day's budget."""
        sent = [{"role": "system", "content": f"{RECALL_SYSTEM}\nTASK: recall"},
                {"role": "user", "content": f"SYMBOL: {symbol}\nDATE: "
                                            f"{day.isoformat()}\nAnswer with JSON matching "
                                            f"this schema: {schema_json(RecalledClose)}"}]
        record = CallRecord(role="probe", model=self.config.model)
        try:
            with self.cache.session():
                answer = self.caller.call(record, sent, RecalledClose,
                                          Allowance(None, None))
        except (CallFailed, WarehouseLockedError):
            return None
        return answer.close  # type: ignore[attr-defined]

    def _prompt_log(self, state: _Debate) -> str:
        window = [i.log() for i in state.inputs]
        latest = max(i.known_at for i in state.inputs)
        assert latest <= state.close, "an input after the close reached a prompt"
        return json.dumps([{**asdict(c), "cost": round(c.cost, 8), "inputs": window,
                            "refused": state.refused, "close": state.close.isoformat()}
                           for c in state.calls])

    def _ask(self, state: _Debate, role: str, task: str, schema: type[Answer],
             request: str = "", check: Callable[[Answer], None] | None = None,
             deep: bool = False) -> Answer:
        model = self.config.deep_model if deep else self.config.model
        record = CallRecord(role=role, model=model)
        state.calls.append(record)
        sent = messages(role, task, schema, state.inputs, state.transcript, state.close,
                        proposer_size(state.e), state.anonymiser,
                        state.anonymiser.hide(request))
        return self.caller.call(record, sent, schema, state.allowance, check)

    def _argue(self, s: _Debate) -> Decision:
        e = s.e
        max_size = proposer_size(e)

        def clip(size: float) -> float:
            return max(0.0, min(max_size, size)) if math.isfinite(size) else 0.0

        case = self._ask(s, "aggressive", "case", AggressiveCase)
        weight = initial = clip(case.size)
        s.say(1, "aggressive", f"Proposal: {e.side} {e.symbol}. {case.thesis} Expected return "
              f"{case.expected_return:+.1%}; I want {weight:.1%} of equity.")
        raised = self._ask(s, "conservative", "objections", ConservativeObjections).objections
        topics = [s.anonymiser.reveal(o.topic) for o in raised]
        severity = [o.severity for o in raised]
        resolved = [False] * len(raised)
        for i, o in enumerate(raised, 1):
            s.say(1, "conservative",
                  f"Objection {i} ({o.topic}, severity {o.severity:.2f}): {o.text}")
        reading = self._ask(s, "quant", "reading", QuantReading)
        s.say(1, "quant", f"{reading.reading} (assessment: {reading.assessment})")

        rounds, abandoned = 1, False
        while rounds < MAX_ROUNDS:
            open_ = [i + 1 for i in range(len(raised))
                     if not resolved[i] and severity[i] >= OPEN_SEVERITY]
            if rounds >= MIN_ROUNDS and not open_:
                break
            rounds += 1
            if not open_:
                s.say(rounds, "conservative", "No objection left standing; I accept the size.")
                continue
            request = (f"OPEN OBJECTIONS: {','.join(map(str, open_))}\n"
                       f"CURRENT SIZE: {weight}")
            replies = self._ask(s, "aggressive", "replies", RoundReplies, request,
                                lambda a, o=open_: _numbers(a.replies, o, "replies"))
            for reply in sorted(replies.replies, key=lambda r: r.objection):
                if reply.action == "concede":
                    weight = min(weight, clip(reply.size))
                label = "Conceded" if reply.action == "concede" else "Rebuttal"
                s.say(rounds, "aggressive", f"On objection {reply.objection} "
                      f"({topics[reply.objection - 1]}): {label}. {reply.text} "
                      f"Size {weight:.1%} of equity.")
            assessment = self._ask(s, "conservative", "assessment", RoundAssessment, request,
                                   lambda a, o=open_: _numbers(a.objections, o, "assessment"))
            for standing in assessment.objections:
                severity[standing.objection - 1] = standing.severity
                resolved[standing.objection - 1] = standing.resolved
            s.say(rounds, "conservative", f"{assessment.text} Residual concern "
                  f"{sum(v for v, r in zip(severity, resolved, strict=True) if not r):.2f}.")
            if weight < MIN_WEIGHT:
                abandoned = True
                s.say(rounds, "aggressive",
                      "At this size the trade is not worth its costs: I withdraw.")
                break

        ruling = self._ask(s, "judge", "verdict", Verdict,
                           f"NEGOTIATED SIZE: {weight}", deep=True)
        verdict, size = ruling.verdict, clip(ruling.size)
        overruled = ""
        if abandoned or e.defensive:
            overruled = " (withdrawn by the proposer)" if abandoned else \
                " (defensive mode forbids new longs)"
            verdict, size = "drop", 0.0
        elif verdict == "drop" or size < MIN_WEIGHT:
            verdict, size = "drop", 0.0
        if ruling.size > max_size and not overruled:
            overruled = f" (size clipped to the proposer's {max_size:.1%})"
        confidence = max(0.0, min(1.0, ruling.confidence))
        combined = size * e.exposure_target
        aggressive = 0.0 if e.defensive else initial
        conservative = (min(0.04, weight) if max(severity) < 0.5 and not e.defensive
                        else 0.0)
        s.say(rounds, "judge",
              f"Verdict: {verdict.upper()} with confidence {confidence:.0%} "
              f"({ruling.reason}){overruled}. Combined account weight {combined:.1%} "
              f"(exposure target {e.exposure_target:.0%}); aggressive {aggressive:.1%}, "
              f"conservative {conservative:.1%}.")
        strongest = topics[max(range(len(topics)), key=lambda i: (severity[i], -i))]
        reason = s.anonymiser.reveal(ruling.reason)
        summary = (f"{verdict} {e.side} {e.symbol} ({e.strategy_name}) at {confidence:.0%}: "
                   f"{reason[:200]}{overruled}; strongest objection: {strongest}.")
        return Decision(e, verdict, confidence, aggressive, conservative, combined, rounds,
                        summary, s.transcript, reasoner="llm")
