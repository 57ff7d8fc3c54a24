"""The judge's calibration: pure measures, the causal refit and its out-of-sample worth."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.decision.calibration import (
    ISOTONIC_OUTCOMES,
    MIN_OUTCOMES,
    JudgeCalibration,
    base_rate_forecasts,
    brier,
    calibration_scores,
    first_outcomes,
    reliability_markdown,
    reliability_table,
)
from trade_pipelines.agent.reflection.performance import wilson_interval

START = date(2021, 1, 4)


def test_brier_is_the_mean_squared_error() -> None:
    assert brier([0.9, 0.2], [True, False]) == pytest.approx((0.01 + 0.04) / 2)
    assert brier([0.5] * 4, [True, False, True, True]) == pytest.approx(0.25)
    assert math.isnan(brier([], []))


def test_wilson_interval_stays_in_the_unit_range() -> None:
    low, high = wilson_interval(0, 10)
    assert low == 0.0
    assert high == pytest.approx(1.959964 ** 2 / (10 + 1.959964 ** 2))  # 0.2775
    low, high = wilson_interval(5, 10)
    assert (low, high) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_reliability_table_bins_forecasts_and_counts_wins() -> None:
    table = reliability_table([0.12, 0.18, 0.55, 0.58, 0.59, 1.0],
                              [False, True, True, True, False, True], bins=5)
    assert list(table["bin"]) == ["0.00-0.20", "0.40-0.60", "0.80-1.00"]
    assert list(table["n"]) == [2, 3, 1]
    assert table["forecast"].tolist() == pytest.approx([0.15, 0.5733333, 1.0])
    assert table["observed"].tolist() == pytest.approx([0.5, 2 / 3, 1.0])
    assert (table["low"] <= table["observed"]).all() and (table["observed"] <= table["high"]).all()


def test_base_rate_uses_only_outcomes_known_before_the_decision_day() -> None:
    d = [START + timedelta(days=i) for i in range(6)]
    # decided, known, won
    forecasts = base_rate_forecasts([d[0], d[1], d[3], d[3]], [d[2], d[3], d[4], d[5]],
                                    [True, False, True, True])
    # nothing known before d0 and d1; at d3, only the outcome known at d2 (a win): the
    # one known at d3 itself is not known before the decisions of d3
    assert forecasts.tolist() == [0.5, 0.5, 1.0, 1.0]


def test_one_outcome_per_decision_the_combined_copy_first() -> None:
    trades = [
        {"decision_id": "D1", "as_of": START, "account": "aggressive", "pnl": -5.0},
        {"decision_id": "D1", "as_of": START, "account": "combined", "pnl": 3.0},
        {"decision_id": "D1", "as_of": START + timedelta(days=1), "account": "conservative",
         "pnl": 1.0},
        {"decision_id": "D2", "as_of": START + timedelta(days=2), "account": "combined",
         "pnl": 4.0},
        {"decision_id": "D2", "as_of": START + timedelta(days=1), "account": "aggressive",
         "pnl": -1.0},
        {"decision_id": None, "as_of": START, "account": "combined", "pnl": 9.0},
    ]
    chosen = {t["decision_id"]: (t["account"], t["pnl"]) for t in first_outcomes(trades)}
    # the first copy to close stands for the decision; on the same day, the combined one
    assert chosen == {"D1": ("combined", 3.0), "D2": ("aggressive", -1.0)}


def _stream(seed: int, decisions: int = 1200, per_day: int = 3,
            slope: float = 0.3) -> tuple[list, list]:
    """Miscalibrated raw confidence: the true chance of a win is 0.45 + slope (raw - 0.5)
    plus noise; each trade closes 2-15 days after its decision. The regime alternates
    every 20 days."""
    rng = np.random.default_rng(seed)
    rows, trades = [], []
    for i in range(decisions):
        day = START + timedelta(days=i // per_day)
        raw = float(rng.uniform(0.1, 0.95))
        p = float(np.clip(0.45 + slope * (raw - 0.5) + rng.normal(0, 0.05), 0.01, 0.99))
        decision_id = f"D{i:05d}"
        rows.append({"as_of": day, "decision_id": decision_id, "confidence": round(raw, 4),
                     "low_certainty": raw < 0.6, "regime": _regime(day)})
        won = bool(rng.random() < p)
        trades.append({"as_of": day + timedelta(days=int(rng.integers(2, 16))),
                       "decision_id": decision_id, "account": "combined",
                       "pnl": 10.0 if won else -10.0})
    return rows, trades


def _regime(day: date) -> str:
    return "bull" if (day - START).days // 20 % 2 == 0 else "bear"


def _run(rows: list, trades: list, calibration: JudgeCalibration | None = None
         ) -> tuple[pd.DataFrame, JudgeCalibration]:
    """The loop's order each day: calibrate the day's decisions, then learn the trades
    that closed at its close."""
    calibration = calibration or JudgeCalibration()
    by_day: dict[date, list] = {}
    for r in rows:
        by_day.setdefault(r["as_of"], []).append(r)
    closed: dict[date, list] = {}
    for t in trades:
        closed.setdefault(t["as_of"], []).append(t)
    out = []
    for day in sorted(set(by_day) | set(closed)):
        out += calibration.calibrate(day, by_day.get(day, []), _regime(day))
        calibration.observe_closed(day, closed.get(day, []))
    return pd.DataFrame(out), calibration


def _outcomes(trades: list) -> dict[str, tuple[date, bool]]:
    return {t["decision_id"]: (t["as_of"], t["pnl"] > 0) for t in trades}


@pytest.mark.parametrize("seed", [1, 7])
def test_calibration_beats_the_raw_confidence_out_of_sample(seed: int) -> None:
    # Win rates from 19% to 72% by raw confidence: information a calibration can use.
    # (At slope 0.3, win rates 33%-58%, the calibrated and base-rate Brier scores of the
    # second half differ by less than their noise: 5 of 8 seeds beat the base rate, by
    # 0.001 on average.)
    rows, trades = _stream(seed=seed, per_day=6, slope=0.6)
    calibrated, calibration = _run(rows, trades)
    outcomes = _outcomes(trades)
    calibrated = calibrated.sort_values("decision_id").reset_index(drop=True)
    second = calibrated.iloc[len(calibrated) // 2:]
    won = [outcomes[d][1] for d in second["decision_id"]]
    scores = calibration_scores(second["raw_confidence"], second["confidence"],
                                list(second["as_of"]),
                                [outcomes[d][0] for d in calibrated["decision_id"]][
                                    len(calibrated) // 2:], won)
    # the base rate as known before each day, from every outcome known then
    every = base_rate_forecasts(list(calibrated["as_of"]),
                                [outcomes[d][0] for d in calibrated["decision_id"]],
                                [outcomes[d][1] for d in calibrated["decision_id"]])
    base_rate = brier(every[len(calibrated) // 2:], won)
    assert scores["calibrated"] < scores["raw"] - 0.005
    assert scores["calibrated"] < base_rate - 0.005
    # the raw confidence carries information: the model proves itself and is reported
    last = max(t["as_of"] for t in trades) + timedelta(days=1)
    assert calibration.model_is_better(last)
    assert second["confidence"].tail(100).std() > 0.02


def test_until_the_model_has_proven_itself_the_base_rate_is_reported() -> None:
    rows, trades = _stream(seed=3, decisions=60, per_day=1)
    calibrated, calibration = _run(rows, trades)
    outcomes = _outcomes(trades)
    base = base_rate_forecasts(list(calibrated["as_of"]),
                               [outcomes[d][0] for d in calibrated["decision_id"]],
                               [outcomes[d][1] for d in calibrated["decision_id"]])
    known_before = [sum(t["as_of"] < day for t in trades) for day in calibrated["as_of"]]
    # Fewer than 30 outcomes scored with the model's own forecasts: the base rate known.
    early = [k < 2 * MIN_OUTCOMES for k in known_before]
    assert sum(early) > 10
    assert np.allclose(calibrated["confidence"][early], base[early], atol=1e-4)
    assert calibrated["confidence"][early].nunique() > 1  # it moves as outcomes arrive
    # the flag stays the debate's: it marks what the debate acted on
    assert (calibrated["low_certainty"] == (calibrated["raw_confidence"] < 0.6)).all()


def test_a_model_that_loses_to_the_base_rate_is_not_reported() -> None:
    # Raw confidence with no information: the model's forecasts score no better.
    rows, trades = _stream(seed=5, decisions=600, per_day=4)
    noise = np.random.default_rng(0).uniform(0.05, 0.95, len(rows))
    rows = [{**r, "confidence": float(x)} for r, x in zip(rows, noise, strict=True)]
    calibrated, calibration = _run(rows, trades)
    last = max(t["as_of"] for t in trades) + timedelta(days=1)
    scored = [o for o in calibration.outcomes if np.isfinite(o.model_forecast)]
    assert len(scored) > 300
    won = [o.won for o in scored]
    # The model's own forecasts do not beat the base rate's beyond chance: not reported.
    assert not calibration.model_is_better(last)
    outcomes = _outcomes(trades)
    base = base_rate_forecasts(list(calibrated["as_of"]),
                               [outcomes[d][0] for d in calibrated["decision_id"]],
                               [outcomes[d][1] for d in calibrated["decision_id"]])
    won = [outcomes[d][1] for d in calibrated["decision_id"]]
    # Reported forecasts never fall far behind the base rate's.
    assert brier(calibrated["confidence"], won) <= brier(base, won) + 0.005


def test_outcomes_closing_after_a_day_do_not_change_its_calibration() -> None:
    rows, trades = _stream(seed=11, decisions=600)
    cutoff = START + timedelta(days=120)
    flipped = [{**t, "pnl": -t["pnl"]} if t["as_of"] >= cutoff else t for t in trades]
    base, _ = _run(rows, trades)
    perturbed, _ = _run(rows, flipped)
    upto = base["as_of"] <= cutoff
    pd.testing.assert_frame_equal(base[upto], perturbed[upto])
    # and the perturbation does reach the decisions after the cutoff
    assert not base[~upto]["confidence"].equals(perturbed[~upto]["confidence"])


def test_a_rebuilt_calibration_continues_as_the_uninterrupted_one() -> None:
    rows, trades = _stream(seed=5, decisions=450)
    cutoff = START + timedelta(days=80)
    whole, _ = _run(rows, trades)
    before = [r for r in rows if r["as_of"] < cutoff]
    closed_before = [t for t in trades if t["as_of"] < cutoff]
    # what the warehouse holds: the stored rows, with the debate's confidence as raw
    decisions = whole[whole["as_of"] < cutoff][["as_of", "decision_id", "raw_confidence"]]
    regime_by_day = {r["as_of"]: _regime(r["as_of"]) for r in before}
    rebuilt = JudgeCalibration.rebuild(decisions, pd.DataFrame(closed_before), regime_by_day)
    after = [r for r in rows if r["as_of"] >= cutoff]
    resumed, _ = _run(after, [t for t in trades if t["as_of"] >= cutoff], rebuilt)
    expected = whole[whole["as_of"] >= cutoff].reset_index(drop=True)
    pd.testing.assert_frame_equal(resumed.reset_index(drop=True), expected)
    assert (expected["confidence"] != expected["raw_confidence"]).any()


def test_the_model_is_refit_only_on_days_new_outcomes_arrived() -> None:
    rows, trades = _stream(seed=2, decisions=200, per_day=2)
    _, calibration = _run(rows, trades)
    last_close = max(t["as_of"] for t in trades)
    fit = calibration.fit_for(last_close + timedelta(days=1))
    assert fit is calibration.fit_for(last_close + timedelta(days=5))
    assert fit is not calibration.fit_for(last_close)


def test_reliability_markdown_compares_the_brier_scores() -> None:
    lines = reliability_markdown([0.3, 0.7, 0.75], [False, True, False],
                                 {"n": 3, "raw": 0.3, "calibrated": 0.2, "base_rate": 0.25})
    assert lines[0].startswith("| Confidence | n |")
    assert "| 0.20-0.40 | 1 | 30% | 0% | 0%-79% |" in lines
    assert lines[-1] == ("Brier over 3 closed decisions (0 best, 0.25 a coin flip): "
                         "calibrated 0.200, the debate's raw 0.300, the base rate known "
                         "before each day 0.250.")
    assert reliability_markdown([], []) == ["No debated trade has closed yet."]


def test_many_outcomes_switch_to_isotonic_which_follows_a_step() -> None:
    """A win rate that jumps from 20% to 80% at a raw confidence of 0.5: the logistic's
    S-curve blurs the jump, the isotonic fit (from ISOTONIC_OUTCOMES) keeps it."""
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.05, 0.95, ISOTONIC_OUTCOMES + 500).round(4)
    won = rng.random(len(raw)) < np.where(raw < 0.5, 0.2, 0.8)
    rows = [{"as_of": START, "decision_id": f"D{i:05d}", "confidence": float(r)}
            for i, r in enumerate(raw)]
    calibration = JudgeCalibration()
    calibration.calibrate(START, rows, "bull")
    calibration.observe_closed(START + timedelta(days=1), [
        {"as_of": START + timedelta(days=1), "decision_id": r["decision_id"],
         "account": "combined", "pnl": 1.0 if w else -1.0} for r, w in zip(rows, won,
                                                                          strict=True)])
    # The model as fitted for the day after (whether it is reported is scored apart).
    fit = calibration.fit_for(START + timedelta(days=2))
    assert fit is not None and fit.isotonic is not None
    p = list(fit([0.3, 0.45, 0.55, 0.7]))
    assert p[0] == pytest.approx(0.2, abs=0.06) and p[1] == pytest.approx(0.2, abs=0.08)
    assert p[2] == pytest.approx(0.8, abs=0.08) and p[3] == pytest.approx(0.8, abs=0.06)
