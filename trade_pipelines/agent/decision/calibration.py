"""The judge's confidence turned into a calibrated probability that the trade wins.

The debate's confidence is a score built from evidence, not a probability: over the
2021-2022 demo's 218 closed decisions it scores a Brier of 0.284 where the base rate
known before each day scores 0.256. ``JudgeCalibration`` maps it to the win rate
observed for similar confidences, refitted as trades close and only from outcomes known
before the decision day (an outcome is known at its trade's close, and a day's decisions
are made before its trades close).

Two forecasters are kept side by side, each as it stood before each decision day:
- the base rate: the win rate of the outcomes known (0.5 before any), the no-skill
  forecast a calibration must beat;
- the model, from ``MIN_OUTCOMES`` (30) outcomes: Platt scaling, a logistic regression on
  logit(raw confidence), L2-regularised (``LOGISTIC_C``); from ``ISOTONIC_OUTCOMES``
  (2000) isotonic regression of the outcome on the logistic's score, which also bends
  where the S-curve does not fit (starting it at 400 lost to the Platt fit on all four
  synthetic seeds tried).
Each decision records both forecasts; once its trade closes they are scored. The
calibrated confidence is the model's only when, over at least ``MIN_OUTCOMES`` outcomes
known before the day, the model's recorded forecasts scored a lower Brier than the base
rate's beyond chance (a one-sided paired test at 5%): a prequential choice, out of
sample by construction. A fit on a few hundred noisy outcomes can lose to the base rate
(on the demo, a Platt fit reported from its 30th outcome on scored 0.271 against the base
rate's 0.256; the test keeps it out, so the calibrated score equals the base rate's).
The regime's role weight (``role_weights.py``) is recorded with each outcome and
reported, not fitted: as a second feature it let the fit extrapolate a regime's early
losing streak into forecasts of 18% for trades that then won (the demo, October 2022).
Probabilities stay within ``PROBABILITY_BOUNDS``, the debate's own.

A deliberate choice: the calibration reports, the debate decides. Verdicts, sizes, the
order the ledger acts on a day's decisions (by the debate's confidence) and the
confidence a trade's memory quotes stay the debate's; only the reported ``confidence``
is calibrated, with the debate's kept as ``raw_confidence`` (``low_certainty`` stays the
debate's flag).
Calibrating the money path would change every pinned replay and let a fit on a few
hundred outcomes move real sizes.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from trade_pipelines.agent.decision.role_weights import AGGRESSIVE, RoleWeights
from trade_pipelines.agent.reflection.performance import wilson_interval

MIN_OUTCOMES = 30
ISOTONIC_OUTCOMES = 2000
LOGISTIC_C = 1.0
# The model is reported only when its Brier beats the base rate's at 5% (one-sided). The
# test is re-run every day (optional stopping) on outcomes that are not independent
# (trades of one day and regime move together): its real false-alarm rate is higher.
MODEL_EVIDENCE_Z = 1.645
PROBABILITY_BOUNDS = (0.02, 0.98)
# The copy of a decision traded in several accounts that stands for it: the combined
# account's first (as for trade memories).
ACCOUNT_PREFERENCE = {"combined": 0, "aggressive": 1, "conservative": 2}
# z for a 95% interval.
RELIABILITY_COLUMNS = ["bin", "n", "forecast", "observed", "low", "high"]


@dataclass(frozen=True)
class Outcome:
    """A debated decision whose trade closed: the features it was decided with and
    whether it won."""

    decision_id: str
    decided_on: date
    known_on: date
    raw_confidence: float
    role_weight: float
    regime: str
    won: bool
    # What each forecaster said on the decision day (the model's NaN before it existed).
    base_forecast: float = 0.5
    model_forecast: float = math.nan


def logit(p: np.ndarray | float) -> np.ndarray:
    low, high = PROBABILITY_BOUNDS
    q = np.clip(np.asarray(p, dtype=float), low, high)
    return np.log(q / (1 - q))


def first_outcomes(trades: Iterable[Mapping[str, object]]) -> list[Mapping[str, object]]:
    """One closed trade per decision: its first to close, the combined account's copy
    first on the same day; by decision_id. Trades with no decision are left out."""
    ranked = sorted((t for t in trades if t.get("decision_id")),
                    key=lambda t: (t["decision_id"], t["as_of"],
                                   ACCOUNT_PREFERENCE.get(str(t["account"]), 3),
                                   str(t.get("trade_id", ""))))
    first: dict[object, Mapping[str, object]] = {}
    for t in ranked:
        first.setdefault(t["decision_id"], t)
    return list(first.values())


class _Fit:
    """A fitted map from the raw confidence to a probability of winning."""

    def __init__(self, outcomes: Sequence[Outcome]) -> None:
        self.x = _features([o.raw_confidence for o in outcomes])
        y = np.array([o.won for o in outcomes], dtype=int)
        self.constant: float | None = None
        self.isotonic: IsotonicRegression | None = None
        if y.min() == y.max():  # one class only: its smoothed rate
            self.constant = (y.sum() + 1) / (len(y) + 2)
            return
        self.logistic = LogisticRegression(C=LOGISTIC_C).fit(self.x, y)
        if len(y) >= ISOTONIC_OUTCOMES:
            low, high = PROBABILITY_BOUNDS
            self.isotonic = IsotonicRegression(y_min=low, y_max=high, out_of_bounds="clip")
            self.isotonic.fit(self.logistic.decision_function(self.x), y)

    def __call__(self, raw: Sequence[float]) -> np.ndarray:
        if self.constant is not None:
            p = np.full(len(raw), self.constant)
        else:
            x = _features(raw)
            p = self.isotonic.predict(self.logistic.decision_function(x)) \
                if self.isotonic is not None else self.logistic.predict_proba(x)[:, 1]
        return np.clip(p, *PROBABILITY_BOUNDS)


def _features(raw: Sequence[float]) -> np.ndarray:
    return logit(np.asarray(raw, dtype=float)).reshape(-1, 1)


class JudgeCalibration:
    """The judge's confidence calibrated on the outcomes known before each decision day.

    ``calibrate`` a day's decisions before its trades close, then ``observe_closed`` the
    trades that closed that day: the loop's order, which ``rebuild`` replays from stored
    rows so a resumed run calibrates exactly as an uninterrupted one. The model is refit
    lazily, at most once a day and only when outcomes arrived since the last fit; a fit
    depends only on the outcomes (in their order of arrival), so it is deterministic."""

    def __init__(self, min_outcomes: int = MIN_OUTCOMES,
                 role_weights: RoleWeights | None = None) -> None:
        self.min_outcomes = min_outcomes
        self.role_weights = role_weights or RoleWeights()
        self.outcomes: list[Outcome] = []
        self._known_on: list[date] = []
        # decision_id -> (day, raw confidence, role weight, regime, base rate forecast,
        # model forecast) until its trade closes
        self._open: dict[str, tuple[date, float, float, str, float, float]] = {}
        self._fit: _Fit | None = None
        self._fitted_count = 0
        # wins among the first k outcomes known, for the base rate at any day
        self._wins: list[int] = [0]

    def _register(self, day: date, decisions: Iterable[Mapping[str, object]], regime: str,
                  raw_key: str = "confidence") -> list[tuple[float, float, float]]:
        """Each decision's raw confidence, the base rate and the model's forecast as known
        before ``day`` (recorded until its trade closes, to score both forecasters)."""
        weight = self.role_weights.weight(regime, AGGRESSIVE)
        decisions = list(decisions)
        raw = [float(d[raw_key]) for d in decisions]
        base = self.base_rate(day)
        fit = self.fit_for(day) if decisions else None
        model = fit(raw) if fit is not None else \
            np.full(len(raw), math.nan)
        forecasts = []
        for d, r, m in zip(decisions, raw, model, strict=True):
            self._open.setdefault(str(d["decision_id"]),
                                  (day, r, weight, regime, base, float(m)))
            forecasts.append((r, base, float(m)))
        return forecasts

    def base_rate(self, day: date) -> float:
        """The win rate of the outcomes known before ``day`` (0.5 before any)."""
        known = bisect.bisect_left(self._known_on, day)
        return self._wins[known] / known if known else 0.5

    def model_is_better(self, day: date) -> bool:
        """Whether, over the outcomes known before ``day`` that the model forecast (at
        least ``min_outcomes``), its forecasts scored a lower Brier than the base rate's by
        more than chance: a one-sided paired test of the squared errors (Diebold-Mariano
        style, ``MODEL_EVIDENCE_Z``), since a model that merely edged ahead on a few dozen
        noisy outcomes is as likely to fall behind on the next ones."""
        known = bisect.bisect_left(self._known_on, day)
        scored = [o for o in self.outcomes[:known] if math.isfinite(o.model_forecast)]
        if len(scored) < self.min_outcomes:
            return False
        won = np.array([o.won for o in scored], dtype=float)
        gain = ((np.array([o.base_forecast for o in scored]) - won) ** 2
                - (np.array([o.model_forecast for o in scored]) - won) ** 2)
        spread = float(gain.std(ddof=1))
        if spread == 0.0:
            return bool(gain.mean() > 0)
        return float(gain.mean()) / (spread / math.sqrt(len(gain))) > MODEL_EVIDENCE_Z

    def fit_for(self, day: date) -> _Fit | None:
        """The model for decisions on ``day``: fitted on outcomes closed before it."""
        known = bisect.bisect_left(self._known_on, day)
        if known < self.min_outcomes:
            return None
        if known != self._fitted_count or self._fit is None:
            self._fit = _Fit(self.outcomes[:known])
            self._fitted_count = known
        return self._fit

    def calibrate(self, day: date, decisions: Sequence[Mapping[str, object]],
                  regime: str) -> list[dict[str, object]]:
        """The day's decision rows with the debate's confidence as ``raw_confidence`` and
        the calibrated probability of winning as ``confidence`` (``low_certainty`` stays
        the debate's). New rows: the debate's stay as they are, for the ledger and the
        memories."""
        forecasts = self._register(day, decisions, regime)
        if not decisions:
            return []
        use_model = self.model_is_better(day)
        rows = []
        for d, (raw, base, model) in zip(decisions, forecasts, strict=True):
            p = round(float(model if use_model else base), 4)
            # low_certainty stays the debate's: it flags what the debate acted on
            rows.append({**d, "raw_confidence": raw, "confidence": p})
        return rows

    def observe_closed(self, day: date, trades: Iterable[Mapping[str, object]]
                       ) -> list[dict[str, object]]:
        """Learn the outcomes of trades closed at ``day``'s close (one per decision, its
        first copy to close); returns the role weights' history rows they add."""
        new = []
        for t in first_outcomes(trades):
            opened = self._open.pop(str(t["decision_id"]), None)
            if opened is None:  # not debated in this run's history, or already counted
                continue
            decided_on, raw, weight, regime, base, model = opened
            new.append(Outcome(str(t["decision_id"]), decided_on, day, raw, weight, regime,
                               float(t["pnl"]) > 0, base, model))
        self.outcomes.extend(new)
        self._known_on.extend(day for _ in new)
        for o in new:
            self._wins.append(self._wins[-1] + int(o.won))
        return self.role_weights.record(day, ((o.regime, o.won) for o in new))

    @classmethod
    def rebuild(cls, decisions: pd.DataFrame, trades: pd.DataFrame,
                regime_by_day: Mapping[date, str], min_outcomes: int = MIN_OUTCOMES
                ) -> JudgeCalibration:
        """The calibration as a run that made ``decisions`` (as_of, decision_id,
        raw_confidence) and closed ``trades`` (as_of, decision_id, account, pnl; every
        one before the day it resumes at) left it. Raw confidence is what was fitted."""
        calibration = cls(min_outcomes)
        decided = _by_day(decisions)
        closed = _by_day(trades)
        for day in sorted(set(decided) | set(closed)):
            calibration._register(day, decided.get(day, []),
                                  str(regime_by_day.get(day, "unknown")),
                                  raw_key="raw_confidence")
            calibration.observe_closed(day, closed.get(day, []))
        return calibration


def _by_day(frame: pd.DataFrame) -> dict[date, list[dict[str, object]]]:
    grouped: dict[date, list[dict[str, object]]] = {}
    if frame is not None and not frame.empty:
        for record in frame.to_dict("records"):
            grouped.setdefault(record["as_of"], []).append(record)
    return grouped


# -- measures ---------------------------------------------------------------------------

def brier(forecasts: Sequence[float] | np.ndarray, outcomes: Sequence[bool] | np.ndarray
          ) -> float:
    """Mean squared error of probability forecasts (0 perfect, 0.25 a coin flip); NaN
    with no forecast."""
    f = np.asarray(forecasts, dtype=float)
    y = np.asarray(outcomes, dtype=float)
    return float(np.mean((f - y) ** 2)) if len(f) else math.nan


def reliability_table(confidences: Sequence[float] | np.ndarray,
                      outcomes: Sequence[bool] | np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Forecasts in ``bins`` equal-width bins of [0, 1]: how many, their mean, the win
    rate observed and its 95% Wilson interval. Empty bins are left out."""
    f = np.asarray(confidences, dtype=float)
    y = np.asarray(outcomes, dtype=bool)
    index = np.minimum((f * bins).astype(int), bins - 1)
    rows = []
    for b in np.unique(index):
        chosen = index == b
        n, wins = int(chosen.sum()), int(y[chosen].sum())
        low, high = wilson_interval(wins, n)
        rows.append({"bin": f"{b / bins:.2f}-{(b + 1) / bins:.2f}", "n": n,
                     "forecast": float(f[chosen].mean()), "observed": wins / n,
                     "low": low, "high": high})
    return pd.DataFrame(rows, columns=RELIABILITY_COLUMNS)


def base_rate_forecasts(decided_on: Sequence[date], known_on: Sequence[date],
                        outcomes: Sequence[bool]) -> np.ndarray:
    """For each outcome, the win rate of the outcomes known before its decision day (0.5
    before any): the no-skill forecast, out of sample, a calibration must beat."""
    known = np.array(known_on, dtype="datetime64[D]")
    won = np.asarray(outcomes, dtype=float)
    order = np.argsort(known, kind="stable")
    wins = np.concatenate([[0.0], np.cumsum(won[order])])
    counts = np.searchsorted(known[order], np.array(decided_on, dtype="datetime64[D]"),
                             side="left")
    return np.where(counts > 0, wins[counts] / np.maximum(counts, 1), 0.5)


def calibration_scores(raw: Sequence[float], calibrated: Sequence[float],
                       decided_on: Sequence[date], known_on: Sequence[date],
                       outcomes: Sequence[bool]) -> dict[str, float]:
    """Brier of the debate's confidence, the calibrated one and the base rate known
    before each decision, over the same outcomes."""
    return {"n": len(outcomes), "raw": brier(raw, outcomes),
            "calibrated": brier(calibrated, outcomes),
            "base_rate": brier(base_rate_forecasts(decided_on, known_on, outcomes), outcomes)}


def reliability_markdown(calibrated: Sequence[float], outcomes: Sequence[bool],
                         scores: Mapping[str, float] | None = None, bins: int = 5
                         ) -> list[str]:
    """The reliability table of the calibrated confidence and, given ``scores``
    (``calibration_scores``), the Brier scores compared, as Markdown lines."""
    if not len(outcomes):
        return ["No debated trade has closed yet."]
    lines = ["| Confidence | n | Forecast | Observed | 95% interval |", "|---|---|---|---|---|"]
    for r in reliability_table(calibrated, outcomes, bins).itertuples():
        lines.append(f"| {r.bin} | {r.n} | {r.forecast:.0%} | {r.observed:.0%} | "
                     f"{r.low:.0%}-{r.high:.0%} |")
    if scores is not None:
        def score(key: str) -> str:
            value = scores.get(key, math.nan)
            return f"{value:.3f}" if math.isfinite(value) else "n/a"

        lines += ["", f"Brier over {int(scores['n'])} closed decisions (0 best, 0.25 a coin "
                  f"flip): calibrated {score('calibrated')}, the debate's raw "
                  f"{score('raw')}, the base rate known before each day "
                  f"{score('base_rate')}."]
    return lines
