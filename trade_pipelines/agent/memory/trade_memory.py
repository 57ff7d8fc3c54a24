"""Trade memories: each closed trade becomes a 5W1H entry whose importance comes from
its outcome and whose tier (``tiers``) from its importance and how extreme it was.

The canonical memory is a warehouse row; the semantic index is rebuilt from these rows,
and ``recall.MemoryBook`` recalls them by meaning and metadata.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import date
from types import SimpleNamespace

import pandas as pd

from trade_pipelines.agent.ids import stable_id
from trade_pipelines.agent.memory.recall import MemoryBook
from trade_pipelines.agent.memory.tiers import tier_for

__all__ = ["MEMORY_COLUMNS", "DecisionIndex", "MemoryBook", "distinct_trades",
           "importance_from_outcome", "tier_for", "trade_key", "trade_memories"]

MEMORY_COLUMNS = ["as_of", "memory_id", "kind", "tier", "symbol", "strategy_id", "regime",
                  "importance", "outcome_return", "text", "who", "what", "when", "where",
                  "why", "how", "source"]


def importance_from_outcome(return_pct: float, stop_loss: float, confidence: float) -> int:
    """1-10: large wins and losses relative to the planned risk matter most, and a loss
    the judge was confident about matters more (it is a lesson about overconfidence)."""
    magnitude = abs(return_pct) / max(stop_loss, 1e-6)
    score = 1 + 6 * min(magnitude, 1.5) / 1.5
    if return_pct < 0 and confidence >= 0.7:
        score += 2
    if return_pct > 0 and confidence < 0.5:
        score += 1  # a win the judge doubted: the doubt was wrong
    return int(min(10, max(1, round(score))))


class DecisionIndex:
    """The debates by decision_id; grows as a run decides, so a trade's memory can quote
    the debate that opened it (positions and trades carry its id)."""

    def __init__(self, decisions: pd.DataFrame | None = None) -> None:
        self._by_id: dict[str, dict] = {}
        if decisions is not None and not decisions.empty:
            self.add(decisions.to_dict("records"))

    def add(self, decisions: list[dict]) -> None:
        for d in decisions:
            self._by_id[d["decision_id"]] = {"confidence": d["confidence"],
                                             "summary": d["summary"]}

    def get(self, decision_id: str | None) -> dict | None:
        return self._by_id.get(decision_id) if decision_id else None


def trade_key(trade: Mapping[str, object]) -> tuple:
    """What makes a closed trade one experience: the same name, strategy and days."""
    return (trade["symbol"], trade["strategy_id"], trade["opened_as_of"], trade["as_of"])


def distinct_trades(records: Iterable[Mapping[str, object]]) -> list[dict]:
    """One row per experience: the same decision traded in several accounts is one trade,
    and the combined account's copy wins; in (symbol, strategy, opening day) order."""
    order = {"combined": 0, "aggressive": 1, "conservative": 2}
    ranked = sorted(records, key=lambda t: (t["symbol"], t["strategy_id"], t["opened_as_of"],
                                            order.get(t["account"], 3)))
    seen: set[tuple] = set()
    distinct = []
    for t in ranked:
        if trade_key(t) not in seen:
            seen.add(trade_key(t))
            distinct.append(dict(t))
    return distinct


def trade_memories(
    trades: pd.DataFrame | list[dict], decisions: pd.DataFrame | DecisionIndex,
    regimes: pd.DataFrame | dict, stop_losses: dict[str, float], names: dict[str, str],
    black_swans: Collection[tuple[str, date]] = (),
) -> pd.DataFrame:
    """One memory per distinct closed trade (the same decision traded in several accounts
    is one experience; the combined account's copy wins). A trade beyond twice its stop,
    or opened or closed on a black-swan day of its symbol (``black_swans``: (symbol,
    day) pairs), is an episodic memory."""
    records = trades.to_dict("records") if isinstance(trades, pd.DataFrame) else trades
    if not records:
        return pd.DataFrame(columns=MEMORY_COLUMNS)
    index = decisions if isinstance(decisions, DecisionIndex) else DecisionIndex(decisions)
    distinct = [SimpleNamespace(**t) for t in distinct_trades(records)]
    if isinstance(regimes, dict):
        regime_by_day = regimes
    else:
        regime_by_day = dict(zip(regimes["as_of"], regimes["regime"], strict=False)) \
            if not regimes.empty else {}
    rows = []
    for t in distinct:
        decision = index.get(getattr(t, "decision_id", None))
        confidence = float(decision["confidence"]) if decision is not None else 0.5
        why = str(decision["summary"]) if decision is not None else "exit of an open position"
        stop_loss = stop_losses.get(t.strategy_id, 0.08)
        importance = importance_from_outcome(t.return_pct, stop_loss, confidence)
        extreme_day = (t.symbol, t.opened_as_of) in black_swans \
            or (t.symbol, t.as_of) in black_swans
        regime = regime_by_day.get(t.opened_as_of, "unknown")
        name = names.get(t.strategy_id, t.strategy_id)
        verb = "won" if t.pnl > 0 else "lost"
        what = (f"Bought {t.quantity:.0f} {t.symbol} at {t.entry_price:.2f}, sold at "
                f"{t.exit_price:.2f}: {verb} {abs(t.pnl):,.0f} ({t.return_pct:+.2%}) "
                f"in {t.holding_days} days")
        # Short text: it is what the semantic index embeds; the debate's reasoning is in
        # ``why``.
        text = (f"{t.symbol} {name} trade in a {regime} market {verb} {t.return_pct:+.1%} "
                f"in {t.holding_days} days, exit by {t.exit_reason.replace('_', ' ')}, "
                f"judge confidence {confidence:.0%}.")
        rows.append({
            "as_of": t.as_of, "memory_id": stable_id("M", t.trade_id), "kind": "trade",
            "tier": tier_for(importance, t.return_pct, stop_loss, extreme_day),
            "symbol": t.symbol, "strategy_id": t.strategy_id,
            "regime": regime, "importance": importance,
            "outcome_return": round(float(t.return_pct), 6), "text": text,
            "who": f"{t.account} account, strategy {name}", "what": what,
            "when": f"{t.opened_as_of} to {t.as_of}", "where": f"US equities, {regime} regime",
            "why": why, "how": f"exit by {t.exit_reason}", "source": "agent",
        })
    return pd.DataFrame(rows, columns=MEMORY_COLUMNS)
