"""Trade memories: each closed trade becomes a 5W1H entry whose importance comes from
its outcome, and recall by metadata (same symbol, same strategy, same regime).

The canonical memory is a warehouse row; the semantic index is rebuilt from these rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from types import SimpleNamespace

import numpy as np
import pandas as pd

from trade_pipelines.agent.ids import stable_id

LONG_TERM_IMPORTANCE = 8
FORGET_IMPORTANCE = 3
FORGET_AFTER = timedelta(days=90)

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


def tier_for(importance: int) -> str:
    if importance >= LONG_TERM_IMPORTANCE:
        return "long_term"
    if importance <= FORGET_IMPORTANCE:
        return "decaying"
    return "short_term"


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
) -> pd.DataFrame:
    """One memory per distinct closed trade (the same decision traded in several accounts
    is one experience; the combined account's copy wins)."""
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
        importance = importance_from_outcome(t.return_pct, stop_losses.get(t.strategy_id, 0.08),
                                             confidence)
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
            "tier": tier_for(importance), "symbol": t.symbol, "strategy_id": t.strategy_id,
            "regime": regime, "importance": importance,
            "outcome_return": round(float(t.return_pct), 6), "text": text,
            "who": f"{t.account} account, strategy {name}", "what": what,
            "when": f"{t.opened_as_of} to {t.as_of}", "where": f"US equities, {regime} regime",
            "why": why, "how": f"exit by {t.exit_reason}", "source": "agent",
        })
    return pd.DataFrame(rows, columns=MEMORY_COLUMNS)


class MemoryBook:
    """Memories the debate can recall, as arrays that grow during a run: recall is a few
    vectorised comparisons instead of a DataFrame filter per proposal."""

    TEXT_COLUMNS = ("memory_id", "symbol", "strategy_id", "regime", "text")

    def __init__(self, memories: pd.DataFrame | None = None) -> None:
        self._c: dict[str, np.ndarray] = {
            "day": np.array([], dtype="datetime64[D]"),
            **{k: np.array([], dtype=object) for k in self.TEXT_COLUMNS},
            "importance": np.array([], dtype=float), "outcome": np.array([], dtype=float),
        }
        if memories is not None and not memories.empty:
            self.add(memories)

    def add(self, memories: pd.DataFrame) -> None:
        if memories.empty:
            return
        new = {
            "day": pd.to_datetime(memories["as_of"]).to_numpy(dtype="datetime64[D]"),
            **{k: memories[k].to_numpy(dtype=object) for k in self.TEXT_COLUMNS},
            "importance": memories["importance"].to_numpy(dtype=float),
            "outcome": pd.to_numeric(memories["outcome_return"], errors="coerce")
            .to_numpy(dtype=float),
        }
        self._c = {k: np.concatenate([self._c[k], new[k]]) for k in self._c}

    def __len__(self) -> int:
        return len(self._c["day"])

    def recall(self, as_of: date, symbol: str, strategy_id: str, regime: str,
               n: int = 3) -> list[dict]:
        """The ``n`` most relevant memories formed strictly before ``as_of``.

        Relevance: same symbol, same strategy, same regime, importance, and recency;
        forgotten memories (low importance and old) are not recalled.
        """
        if not len(self):
            return []
        c = self._c
        age = (np.datetime64(as_of, "D") - c["day"]).astype(float)
        known = age > 0
        forgotten = (c["importance"] <= FORGET_IMPORTANCE) & (age > FORGET_AFTER.days)
        relevance = (2.0 * (c["symbol"] == symbol) + 2.0 * (c["strategy_id"] == strategy_id)
                     + 1.0 * (c["regime"] == regime) + c["importance"] / 10
                     + np.exp(-np.clip(age, 0, None) / 365))
        chosen = np.flatnonzero(known & ~forgotten & (relevance >= 3.0))
        if chosen.size == 0:
            return []
        # most relevant first; ties by memory id, so recall is deterministic
        order = sorted(chosen, key=lambda i: (-relevance[i], c["memory_id"][i]))[:n]
        return [{"memory_id": c["memory_id"][i], "text": c["text"][i],
                 "importance": int(c["importance"][i]),
                 "outcome_return": None if math.isnan(c["outcome"][i])
                 else float(c["outcome"][i])} for i in order]

