"""The judge's calibration inside the day loop: a run split in two, the second half
rebuilt from the first half's stored rows, decides and reports exactly as one
uninterrupted run."""

from __future__ import annotations

import copy
from datetime import date, timedelta

import numpy as np
import pandas as pd

from trade_pipelines.agent.decision.calibration import JudgeCalibration
from trade_pipelines.agent.decision.deliberation import Deliberation
from trade_pipelines.agent.decision.setups import SetupBook
from trade_pipelines.agent.evolution.genomes import SEEDED_GENOMES as GENOMES
from trade_pipelines.agent.execution.broker import Bar
from trade_pipelines.agent.execution.ledger import DayMarket, Ledger, LedgerState
from trade_pipelines.agent.memory.trade_memory import DecisionIndex, MemoryBook

from trade_pipelines.agent.loop.trading_loop import TradingLoop  # isort: skip

SYMBOLS = [f"S{i}" for i in range(8)]
DAYS = [date(2023, 1, 2) + timedelta(days=i) for i in range(150)]
SPLIT = 90
# Few outcomes suffice here, so the calibration is fitted well before the split.
MIN_OUTCOMES = 10


def _market_data() -> tuple[pd.DataFrame, pd.DataFrame, list[dict], dict[date, str]]:
    rng = np.random.default_rng(4)
    closes = 100 * np.exp(np.cumsum(rng.normal(0.0005, 0.025, (len(DAYS), len(SYMBOLS))),
                                    axis=0))
    features = pd.DataFrame([
        {"symbol": s, "as_of": d, "close": closes[i, j],
         "ret_20d": float(rng.normal(0.05, 0.08)), "vol_20": 0.3,
         "rsi_14": float(rng.uniform(35, 80)), "sma_200": closes[i, j] * 0.9}
        for i, d in enumerate(DAYS) for j, s in enumerate(SYMBOLS)])
    regime_by_day = {d: ("bull" if i // 30 % 2 == 0 else "range") for i, d in enumerate(DAYS)}
    regimes = pd.DataFrame({"as_of": DAYS, "regime": [regime_by_day[d] for d in DAYS],
                            "defensive": False})
    proposals = [{"as_of": d, "proposal_id": f"P-{s}-{d}", "symbol": s, "side": "buy",
                  "strategy_id": "S03", "strength": float(rng.uniform(0.2, 1.0)),
                  "rationale": "test"}
                 for d in DAYS for s in SYMBOLS if rng.random() < 0.25]
    return features, regimes, proposals, regime_by_day


def _loop(features: pd.DataFrame, regimes: pd.DataFrame, regime_by_day: dict,
          state: LedgerState, memory: MemoryBook, index: DecisionIndex,
          calibration: JudgeCalibration) -> TradingLoop:
    deliberation = Deliberation(features, regimes, {}, SetupBook(pd.DataFrame()), GENOMES)
    return TradingLoop(deliberation, Ledger(state, GENOMES), memory, index, regime_by_day,
                       GENOMES, calibration)


def _run(loop: TradingLoop, days: list[date], features: pd.DataFrame,
         proposals: list[dict]) -> None:
    closes = features.set_index(["as_of", "symbol"])["close"]
    for day in days:
        bars = {s: Bar(float(closes[(day, s)]), float(closes[(day, s)]), 1e7) for s in SYMBOLS}
        loop.run_day(DayMarket(day, bars, dict.fromkeys(SYMBOLS, 0.3), 4000.0, 0.0, False),
                     [p for p in proposals if p["as_of"] == day])


def test_a_resumed_loop_calibrates_as_an_uninterrupted_one() -> None:
    features, regimes, proposals, regime_by_day = _market_data()

    def fresh_loop() -> TradingLoop:
        return _loop(features, regimes, regime_by_day, LedgerState(), MemoryBook(),
                     DecisionIndex(), JudgeCalibration(MIN_OUTCOMES))

    whole = fresh_loop()
    _run(whole, DAYS, features, proposals)

    first = fresh_loop()
    _run(first, DAYS[:SPLIT], features, proposals)
    # What the warehouse holds after the first half, read back as the asset reads it.
    decisions = first.output.decisions_frame()
    trades = first.ledger.result.frames()["trades"]
    resumed = _loop(features, regimes, regime_by_day, copy.deepcopy(first.ledger.state),
                    MemoryBook(first.output.memories_frame()),
                    DecisionIndex(decisions.assign(confidence=decisions["raw_confidence"])),
                    JudgeCalibration.rebuild(decisions, trades, regime_by_day, MIN_OUTCOMES))
    _run(resumed, DAYS[SPLIT:], features, proposals)

    expected = whole.output.decisions_frame()
    expected = expected[expected["as_of"] >= DAYS[SPLIT]].reset_index(drop=True)
    pd.testing.assert_frame_equal(resumed.output.decisions_frame(), expected)
    weights = whole.output.role_weights_frame()
    pd.testing.assert_frame_equal(
        resumed.output.role_weights_frame(),
        weights[weights["as_of"] >= DAYS[SPLIT]].reset_index(drop=True))
    # the comparison means something: calibrated confidences, weights in both regimes
    assert (expected["confidence"] != expected["raw_confidence"]).mean() > 0.5
    assert set(weights["regime"]) == {"bull", "range"}
    assert len(whole.calibration.outcomes) > 3 * MIN_OUTCOMES


def test_the_ledger_acts_on_the_debate_s_rows_whatever_the_calibration() -> None:
    """Calibration reports, the debate decides: a calibration fitted on other outcomes
    changes the reported confidence but not one order, fill or trade."""
    features, regimes, proposals, regime_by_day = _market_data()
    runs = []
    for min_outcomes in (MIN_OUTCOMES, 10_000):
        loop = _loop(features, regimes, regime_by_day, LedgerState(), MemoryBook(),
                     DecisionIndex(), JudgeCalibration(min_outcomes))
        _run(loop, DAYS, features, proposals)
        runs.append(loop)
    calibrated, raw = (r.output.decisions_frame() for r in runs)
    assert not calibrated["confidence"].equals(raw["raw_confidence"])
    pd.testing.assert_frame_equal(calibrated.drop(columns=["confidence", "low_certainty"]),
                                  raw.drop(columns=["confidence", "low_certainty"]))
    for table in ("orders", "fills", "trades"):
        pd.testing.assert_frame_equal(runs[0].ledger.result.frames()[table],
                                      runs[1].ledger.result.frames()[table])
    pd.testing.assert_frame_equal(runs[0].output.memories_frame(),
                                  runs[1].output.memories_frame())
