"""Memory tiers: what a memory is kept as, how fast it fades and when it is forgotten.

- working: the day's context (plan, positions, evidence); never stored as a memory.
- short_term: an ordinary trade; its importance halves every ``SHORT_TERM_HALF_LIFE``
  (three months), so an ordinary lesson fades within months.
- decaying: a memory of importance 3 or less at birth; it fades as a short-term one.
- long_term: importance 8 or more (promoted at birth); halves every
  ``LONG_TERM_HALF_LIFE`` (two years).
- episodic: the full record of an extreme day or major decision (a trade whose loss or
  gain exceeded ``EPISODIC_STOPS`` times its stop, or a trade on a black-swan day);
  it never fades.
- forgotten: once a memory's decayed importance,
  ``importance * 0.5 ** (age_days / half_life)``, falls below ``FORGET_BELOW``, no
  decision recalls it again.

Every promotion and forgetting is an audit row (``AUDIT_COLUMNS``), dated by the first
session on which it applies.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np

LONG_TERM_IMPORTANCE = 8
DECAYING_IMPORTANCE = 3
EPISODIC_STOPS = 2.0
SHORT_TERM_HALF_LIFE = timedelta(days=90)
LONG_TERM_HALF_LIFE = timedelta(days=730)
# Below this decayed importance a memory is forgotten: an importance-1 memory lasts 37
# days, an importance-5 one 246 days, a long-term importance-8 one about 6.8 years.
FORGET_BELOW = 0.75

TIERS = ("short_term", "decaying", "long_term", "episodic")
HALF_LIFE_DAYS = {"short_term": SHORT_TERM_HALF_LIFE.days,
                  "decaying": SHORT_TERM_HALF_LIFE.days,
                  "long_term": LONG_TERM_HALF_LIFE.days, "episodic": math.inf}

AUDIT_COLUMNS = ["as_of", "memory_id", "event", "tier_before", "tier_after", "importance",
                 "reason"]


def tier_for(importance: int, return_pct: float | None = None,
             stop_loss: float | None = None, black_swan: bool = False) -> str:
    """The tier a memory is born in: an extreme outcome or day is episodic whatever its
    importance; otherwise importance decides."""
    extreme = (return_pct is not None and stop_loss is not None and stop_loss > 0
               and math.isfinite(return_pct) and abs(return_pct) > EPISODIC_STOPS * stop_loss)
    if extreme or black_swan:
        return "episodic"
    if importance >= LONG_TERM_IMPORTANCE:
        return "long_term"
    if importance <= DECAYING_IMPORTANCE:
        return "decaying"
    return "short_term"


def half_lives(tiers: np.ndarray) -> np.ndarray:
    """Each tier's half-life in days (inf: never fades); an unknown tier fades as
    short-term."""
    return np.array([HALF_LIFE_DAYS.get(t, SHORT_TERM_HALF_LIFE.days) for t in tiers],
                    dtype=float)


def decayed_importance(importance: np.ndarray, half_life: np.ndarray,
                       age_days: np.ndarray) -> np.ndarray:
    """``importance * 0.5 ** (age / half_life)``; ages below zero count as zero."""
    age = np.clip(np.asarray(age_days, dtype=float), 0, None)
    return np.asarray(importance, dtype=float) * np.exp2(-age / half_life)


def lifetimes(importance: np.ndarray, half_life: np.ndarray) -> np.ndarray:
    """Days a memory is remembered: it is forgotten at any age beyond this (inf: never).

    Solves ``importance * 0.5 ** (age / half_life) = FORGET_BELOW``; recall and the audit
    both compare ages with it, so the two agree to the day."""
    importance = np.asarray(importance, dtype=float)
    with np.errstate(divide="ignore"):
        ratio = np.log2(np.maximum(importance, 1e-9) / FORGET_BELOW)
    return np.where(np.isinf(half_life), np.inf, half_life * ratio)


def forget_day(as_of: date, lifetime: float) -> date | None:
    """The first day the memory is no longer recalled (None: never): the first whole
    age beyond its lifetime, and never before the day after it was formed."""
    if not math.isfinite(lifetime):
        return None
    return as_of + timedelta(days=max(1, math.floor(lifetime) + 1))


def promotion_reason(tier: str, importance: int, source: str,
                     outcome_return: float | None) -> str | None:
    """Why a memory was born above short-term (None: it was not)."""
    taught = " (taught by a person)" if source == "human" else ""
    if tier == "long_term":
        return (f"importance {importance} >= {LONG_TERM_IMPORTANCE}{taught}: kept as a "
                f"long-term lesson, half-life {LONG_TERM_HALF_LIFE.days} days")
    if tier == "episodic":
        outcome = (f"outcome {outcome_return:+.1%} beyond {EPISODIC_STOPS:g}x its stop or "
                   "on a black-swan day" if outcome_return is not None
                   and math.isfinite(outcome_return) else "an extreme day")
        return f"{outcome}{taught}: its full record is kept and never fades"
    return None


def forget_reason(importance: int, tier: str, age_days: int, decayed: float) -> str:
    half_life = HALF_LIFE_DAYS.get(tier, SHORT_TERM_HALF_LIFE.days)
    return (f"importance {importance} decayed to {decayed:.2f} < {FORGET_BELOW} after "
            f"{age_days} days (half-life {half_life:g} days)")
