"""Which debating role has been right, per market regime.

A debated trade that won proves the aggressive agent right (it argued for it); one that
lost proves the conservative right (it objected). Each role's weight in a regime is its
share of right calls, smoothed by a Beta prior so that a regime with three outcomes does
not swing to 0 or 1. The quant brings numbers, not a side, and has no weight here.

Weights move only when a trade closes: an outcome becomes known on its close day and
counts for decisions made after it. They report and feed the judge's calibration
(``calibration.py``); they never change a verdict or a size (see ``JudgeCalibration``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

AGGRESSIVE, CONSERVATIVE = "aggressive", "conservative"
# Beta(2, 2): two imagined right calls for each side, so a regime starts at 0.5 and a
# handful of outcomes moves it only part of the way.
PRIOR_RIGHT = 2.0
ROLE_WEIGHT_COLUMNS = ["as_of", "regime", "role", "weight", "right", "n"]


class RoleWeights:
    """Right calls per regime, and the history of every change (one row per role, regime
    and close day that moved it)."""

    def __init__(self, prior_right: float = PRIOR_RIGHT) -> None:
        self.prior_right = prior_right
        self._won: dict[str, int] = {}
        self._n: dict[str, int] = {}
        self.history: list[dict[str, object]] = []

    def weight(self, regime: str, role: str = AGGRESSIVE) -> float:
        """The role's smoothed share of right calls in ``regime`` so far."""
        n = self._n.get(regime, 0)
        right = self._won.get(regime, 0) if role == AGGRESSIVE else n - self._won.get(regime, 0)
        return (right + self.prior_right) / (n + 2 * self.prior_right)

    def outcomes(self, regime: str) -> int:
        """How many closed trades of ``regime`` the weights have counted."""
        return self._n.get(regime, 0)

    def record(self, day: date, results: Iterable[tuple[str, bool]]) -> list[dict[str, object]]:
        """Count the outcomes known at ``day``'s close (regime of the decision, won);
        returns the history rows they add, both roles of each regime they moved."""
        moved: set[str] = set()
        for regime, won in results:
            self._n[regime] = self._n.get(regime, 0) + 1
            self._won[regime] = self._won.get(regime, 0) + int(won)
            moved.add(regime)
        rows: list[dict[str, object]] = []
        for regime in sorted(moved):
            n, won = self._n[regime], self._won[regime]
            for role, right in ((AGGRESSIVE, won), (CONSERVATIVE, n - won)):
                rows.append({"as_of": day, "regime": regime, "role": role,
                             "weight": round(self.weight(regime, role), 6),
                             "right": right, "n": n})
        self.history.extend(rows)
        return rows
