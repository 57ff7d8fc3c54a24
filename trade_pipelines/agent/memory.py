"""Trade memories: each closed trade becomes a 5W1H entry whose importance comes from
its outcome, and recall by metadata (same symbol, same strategy, same regime).

The canonical memory is a warehouse row; the semantic index is rebuilt from these rows.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd

from trade_pipelines.agent.ids import stable_id

LONG_TERM_IMPORTANCE = 8
FORGET_IMPORTANCE = 3
FORGET_AFTER = timedelta(days=90)
SHORT_TERM_SPAN = timedelta(days=92)

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


def trade_memories(
    trades: pd.DataFrame, decisions: pd.DataFrame, regimes: pd.DataFrame,
    stop_losses: dict[str, float], names: dict[str, str],
) -> pd.DataFrame:
    """One memory per distinct closed trade (the same decision traded in several accounts
    is one experience; the combined account's copy wins)."""
    if trades.empty:
        return pd.DataFrame(columns=MEMORY_COLUMNS)
    order = {"combined": 0, "aggressive": 1, "conservative": 2}
    distinct = (trades.assign(_rank=trades["account"].map(order))
                .sort_values(["symbol", "strategy_id", "opened_as_of", "_rank"], kind="mergesort")
                .drop_duplicates(["symbol", "strategy_id", "opened_as_of", "as_of"]))
    regime_by_day = dict(zip(regimes["as_of"], regimes["regime"], strict=False)) \
        if not regimes.empty else {}
    rows = []
    for t in distinct.itertuples():
        match = decisions[(decisions["symbol"] == t.symbol)
                          & (decisions["strategy_id"] == t.strategy_id)
                          & (decisions["as_of"] < t.opened_as_of)] if not decisions.empty \
            else decisions
        decision = match.sort_values("as_of").iloc[-1] if len(match) else None
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


def recall(
    memories: pd.DataFrame, as_of: date, symbol: str, strategy_id: str, regime: str,
    n: int = 3,
) -> list[dict]:
    """The ``n`` most relevant memories formed strictly before ``as_of``.

    Relevance: same symbol, same strategy, same regime, importance, and recency; forgotten
    memories (low importance and old) are not recalled.
    """
    if memories.empty:
        return []
    known = memories[memories["as_of"] < as_of]
    if known.empty:
        return []
    age = np.array([(as_of - d).days for d in known["as_of"]], dtype=float)
    forgotten = (known["importance"].to_numpy() <= FORGET_IMPORTANCE) & (
        age > FORGET_AFTER.days)
    relevance = (
        2.0 * (known["symbol"].to_numpy() == symbol)
        + 2.0 * (known["strategy_id"].to_numpy() == strategy_id)
        + 1.0 * (known["regime"].to_numpy() == regime)
        + known["importance"].to_numpy() / 10
        + np.exp(-age / 365)
    )
    relevant = (relevance >= 3.0) & ~forgotten
    if not relevant.any():
        return []
    picked = known[relevant].assign(relevance=relevance[relevant]).sort_values(
        ["relevance", "memory_id"], ascending=[False, True], kind="mergesort").head(n)
    return [
        {"memory_id": r.memory_id, "text": r.text, "importance": int(r.importance),
         "outcome_return": None if r.outcome_return is None or (
             isinstance(r.outcome_return, float) and math.isnan(r.outcome_return))
         else float(r.outcome_return)}
        for r in picked.itertuples()
    ]
