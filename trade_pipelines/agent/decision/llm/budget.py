"""A trading day's token and USD budget.

The day is the decisions' ``as_of``, never the wall clock, so a replay spends the same
budget as the run it replays. Proposals run in batches: every decision of a batch sees
the ledger as the previous batches left it, and the batch's spending is booked in
proposal order; which call is refused therefore depends on the evidence alone.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DayLedger:
    """What one day's decisions spent (cached calls count their recorded tokens)."""

    tokens: int = 0
    usd: float = 0.0
    http_calls: int = 0
    cache_hits: int = 0
    exhausted_at: str | None = None  # the first proposal refused for the budget

    def book(self, allowance: Allowance) -> None:
        self.tokens += allowance.tokens
        self.usd += allowance.usd


@dataclass
class Allowance:
    """One decision's share: the day's limits less what earlier batches spent, and what
    this decision spent so far."""

    limit_tokens: int | None
    limit_usd: float | None
    spent_tokens: int = 0
    spent_usd: float = 0.0
    tokens: int = 0
    usd: float = 0.0

    @classmethod
    def of(cls, ledger: DayLedger, limit_tokens: int | None,
           limit_usd: float | None) -> Allowance:
        return cls(limit_tokens, limit_usd, ledger.tokens, ledger.usd)

    @property
    def exhausted(self) -> bool:
        return ((self.limit_tokens is not None
                 and self.spent_tokens + self.tokens >= self.limit_tokens)
                or (self.limit_usd is not None
                    and self.spent_usd + self.usd >= self.limit_usd))

    def spend(self, tokens: int, usd: float) -> None:
        self.tokens += tokens
        self.usd += usd
