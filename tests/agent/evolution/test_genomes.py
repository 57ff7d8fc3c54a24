"""Strategy genomes: entry rules on hand-made features, and honest setup outcomes."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.evolution.evaluation import OUTCOME_COLUMNS, setup_outcomes
from trade_pipelines.agent.evolution.genomes import SEEDED_STRATEGIES, StrategyGenome, entry_signal
from trade_pipelines.agent.execution.broker import round_trip_cost
from trade_pipelines.agent.perception.features import compute_features

SEEDED = {g.strategy_id: g for g in SEEDED_STRATEGIES}

# A quiet row on which no seeded genome fires.
NEUTRAL = {"symbol": "AAA", "as_of": date(2024, 1, 2), "close": 100.0, "ret_20d": 0.0,
           "sma_20": 100.0, "sma_50": 100.0, "sma_200": 100.0, "vol_20": 0.30, "rsi_14": 50.0,
           "zscore_20": 0.0, "high_55": 110.0, "breadth": 0.5}

# strategy id -> (a row that fires, a near miss that does not)
CASES = {
    "S01": ({"sma_20": 105.0, "close": 110.0}, {"sma_20": 105.0, "close": 104.0}),
    "S02": ({"sma_50": 105.0, "close": 110.0}, {"sma_50": 99.0, "close": 110.0}),
    "S03": ({"ret_20d": 0.10, "close": 110.0}, {"ret_20d": 0.08, "close": 110.0}),
    "S04": ({"close": 111.0}, {"close": 110.0}),
    "S05": ({"rsi_14": 29.0}, {"rsi_14": 30.0}),
    "S06": ({"zscore_20": -2.5}, {"zscore_20": -2.0}),
    "S07": ({"close": 110.0, "rsi_14": 35.0}, {"close": 95.0, "rsi_14": 35.0}),
    "S08": ({"vol_20": 0.15, "close": 101.0}, {"vol_20": 0.15, "close": 99.0}),
    "S09": ({"vol_20": 0.20, "close": 110.0, "sma_50": 105.0},
            {"vol_20": 0.20, "close": 110.0, "sma_50": 99.0}),
    "S10": ({"breadth": 0.20, "rsi_14": 30.0}, {"breadth": 0.20, "rsi_14": 40.0}),
}


def frame(*overrides: dict) -> pd.DataFrame:
    return pd.DataFrame([{**NEUTRAL, **o} for o in overrides])


def test_every_seeded_genome_has_a_case() -> None:
    assert set(CASES) == set(SEEDED)


@pytest.mark.parametrize("strategy_id", sorted(CASES))
def test_seeded_entry_signal_on_hand_made_rows(strategy_id: str) -> None:
    fire, miss = CASES[strategy_id]
    signal = entry_signal(SEEDED[strategy_id], frame({}, fire, miss))
    assert signal.dtype == bool
    assert signal.tolist() == [False, True, False]


@pytest.mark.parametrize("strategy_id", sorted(CASES))
def test_missing_features_never_signal(strategy_id: str) -> None:
    fire, _ = CASES[strategy_id]
    rows = frame(fire)
    rows.loc[:, [c for c in rows.columns if c not in ("symbol", "as_of", "close")]] = np.nan
    assert entry_signal(SEEDED[strategy_id], rows).tolist() == [False]


def test_fear_reversal_needs_breadth() -> None:
    rows = frame(CASES["S10"][0]).drop(columns=["breadth"])
    assert entry_signal(SEEDED["S10"], rows).tolist() == [False]


def test_fear_reversal_reads_the_market_sentiment_where_it_is_known() -> None:
    # Breadth 50% is not fearful, but a fear/greed of 15 (a volatility index in panic)
    # is; 25 is not; an unknown score leaves the breadth rule as it was.
    rows = frame({"rsi_14": 30.0, "fear_greed": 15.0}, {"rsi_14": 30.0, "fear_greed": 25.0},
                 {"rsi_14": 30.0, "fear_greed": np.nan},
                 {"rsi_14": 30.0, "breadth": 0.2, "fear_greed": np.nan},
                 {"rsi_14": 40.0, "fear_greed": 15.0})
    assert entry_signal(SEEDED["S10"], rows).tolist() == [True, False, False, True, False]
    # Without the column the genome behaves exactly as before.
    assert entry_signal(SEEDED["S10"], rows.drop(columns=["fear_greed"])).tolist() == \
        [False, False, False, True, False]


def test_unknown_entry_rule_is_an_error() -> None:
    genome = StrategyGenome("X", "x", "trend", "astrology")
    with pytest.raises(ValueError, match="astrology"):
        entry_signal(genome, frame({}))


# -- setup outcomes ---------------------------------------------------------------------

TEST_GENOME = StrategyGenome("T", "test breakout", "breakout", "breakout", {"window": 55},
                             stop_loss=0.05, take_profit=0.10, max_holding_days=5)
VOL = 0.20
COST = round_trip_cost(VOL)
DAYS = [date(2024, 3, 1) + timedelta(days=i) for i in range(40)]


def path_features(closes: list[float], signal_rows: list[int],
                  symbol: str = "AAA", vol: float = VOL) -> pd.DataFrame:
    """Features whose breakout rule fires exactly on ``signal_rows``."""
    high = [0.0 if i in signal_rows else np.inf for i in range(len(closes))]
    return pd.DataFrame({"symbol": symbol, "as_of": DAYS[: len(closes)],
                         "close": closes, "high_55": high, "vol_20": vol})


def test_stop_hit_exits_on_the_stop_day() -> None:
    closes = [100, 100, 99, 94, 120, 125, 130, 131]
    out = setup_outcomes(TEST_GENOME, path_features(closes, [0]))
    assert len(out) == 1
    row = out.iloc[0]
    assert row["signal_as_of"] == DAYS[0]
    assert row["known_as_of"] == DAYS[3]
    assert row["return"] == pytest.approx(0.94 - 1 - COST)


def test_take_profit_exits_on_the_target_day() -> None:
    closes = [100, 100, 105, 111, 50, 50, 50, 50]
    out = setup_outcomes(TEST_GENOME, path_features(closes, [0]))
    assert len(out) == 1
    assert out.iloc[0]["known_as_of"] == DAYS[3]
    assert out.iloc[0]["return"] == pytest.approx(0.11 - COST)


def test_a_trailing_stop_exits_when_the_close_falls_that_far_below_the_peak() -> None:
    trailed = StrategyGenome("TT", "trailed", "breakout", "breakout", {"window": 55},
                             stop_loss=0.30, take_profit=0.50, max_holding_days=10,
                             trailing_stop=0.05)
    # entry 100 on day 1; peak 108 on day 3; 104 is 3.7% under it, 102 is 5.6% under it
    closes = [100, 100, 104, 108, 104, 102, 90, 90, 90, 90, 90, 90, 90]
    out = setup_outcomes(trailed, path_features(closes, [0]))
    assert out["known_as_of"].tolist() == [DAYS[5]]
    assert out.iloc[0]["return"] == pytest.approx(0.02 - COST)
    # without the trail the same path runs into the 10-day time exit at 90
    plain = setup_outcomes(TEST_GENOME.__class__(**{**trailed.__dict__, "trailing_stop": 0.0}),
                           path_features(closes, [0]))
    assert plain.iloc[0]["known_as_of"] == DAYS[11]


def test_entry_is_the_next_bar_close_not_the_signal_close() -> None:
    # measured from the signal close this would be a +20% target hit on day 2
    closes = [80, 100, 96, 101, 102, 103, 104, 105]
    out = setup_outcomes(TEST_GENOME, path_features(closes, [0]))
    assert out.iloc[0]["known_as_of"] == DAYS[6]
    assert out.iloc[0]["return"] == pytest.approx(0.04 - COST)


def test_time_exit_after_max_holding_days() -> None:
    closes = [100, 100, 101, 102, 101, 103, 102, 200, 200]
    out = setup_outcomes(TEST_GENOME, path_features(closes, [0]))
    assert len(out) == 1
    # entered on day 1, held 5 bars: out on day 6, before the jump on day 7
    assert out.iloc[0]["known_as_of"] == DAYS[1 + TEST_GENOME.max_holding_days]
    assert out.iloc[0]["return"] == pytest.approx(0.02 - COST)


def test_open_trades_at_the_end_are_excluded() -> None:
    # signal on 0 completes (out on day 6); signal on 6, its exit day, opens a trade still
    # open when the data ends; a signal on the last bar has no entry bar at all
    closes = [100, 100, 101, 102, 101, 103, 102, 104, 103]
    out = setup_outcomes(TEST_GENOME, path_features(closes, [0, 6, 8]))
    assert out["signal_as_of"].tolist() == [DAYS[0]]


def test_a_signal_while_the_symbol_is_held_is_not_a_new_trade() -> None:
    # held from the signal on 0 to the time exit on 6: the signals on 1..5 repeat it; the
    # one on the exit day opens the next trade, which enters after the exit
    closes = [100, 100, 101, 102, 101, 103, 102, 104, 103, 105, 104, 106, 107]
    out = setup_outcomes(TEST_GENOME, path_features(closes, [0, 1, 2, 3, 4, 5, 6, 7]))
    assert out["signal_as_of"].tolist() == [DAYS[0], DAYS[6]]
    assert out["entry_as_of"].tolist() == [DAYS[1], DAYS[7]]
    assert out["known_as_of"].tolist() == [DAYS[6], DAYS[12]]
    assert out["return"].tolist() == pytest.approx([0.02 - COST, 107 / 104 - 1 - COST])


def test_after_an_early_stop_the_next_signal_trades() -> None:
    # stopped out on day 3; the signal on 2 overlaps, the one on 3 does not
    closes = [100, 100, 99, 94, 94, 95, 96, 97, 98, 99, 100]
    out = setup_outcomes(TEST_GENOME, path_features(closes, [0, 2, 3]))
    assert out["signal_as_of"].tolist() == [DAYS[0], DAYS[3]]


def test_cost_is_the_brokers_round_trip_at_the_signal_days_volatility() -> None:
    closes = [100, 100, 101, 102, 101, 103, 102, 104, 103]
    calm = path_features(closes, [0], vol=0.10)
    wild = calm.assign(vol_20=[0.10] + [0.80] * 8)  # volatile only after the signal
    out = setup_outcomes(TEST_GENOME, wild)
    assert out["cost"].tolist() == pytest.approx([round_trip_cost(0.10)])
    assert out["return"].tolist() == pytest.approx([0.02 - round_trip_cost(0.10)])
    assert setup_outcomes(TEST_GENOME, path_features(closes, [0], vol=0.80))["cost"].iloc[0] \
        > round_trip_cost(0.10)
    # about 36 bp a round trip for a typical 25% volatility name, not a flat 10 bp
    assert 0.0033 < round_trip_cost(0.25) < 0.0040
    # unknown volatility (the first weeks of a history) is charged as the broker does
    missing = setup_outcomes(TEST_GENOME, path_features(closes, [0], vol=np.nan))
    assert missing["cost"].iloc[0] == pytest.approx(round_trip_cost(float("nan")))


def test_an_open_window_that_already_hit_its_stop_is_included() -> None:
    closes = [100, 100, 101, 102, 101, 103, 90]
    out = setup_outcomes(TEST_GENOME, path_features(closes, [3]))
    assert out["signal_as_of"].tolist() == [DAYS[3]]
    assert out["known_as_of"].tolist() == [DAYS[6]]


def test_trades_follow_one_another_without_overlap() -> None:
    rng = np.random.default_rng(4)
    closes = list(100 * np.exp(np.cumsum(rng.normal(0, 0.03, 40))))
    out = setup_outcomes(TEST_GENOME, path_features(closes, list(range(0, 40, 2))))
    assert len(out) > 4
    assert (out["known_as_of"] > out["entry_as_of"]).all()
    assert (out["entry_as_of"] > out["signal_as_of"]).all()
    assert (out["signal_as_of"].iloc[1:].to_numpy() >= out["known_as_of"].iloc[:-1].to_numpy()
            ).all()
    held = [(DAYS.index(k) - DAYS.index(s) - 1) for s, k in
            zip(out["signal_as_of"], out["known_as_of"], strict=True)]
    assert all(1 <= h <= TEST_GENOME.max_holding_days for h in held)


def test_symbols_do_not_share_paths() -> None:
    a = path_features([100, 100, 94, 94, 94, 94, 94, 94], [0], symbol="AAA")
    b = path_features([50, 50, 56, 56, 56, 56, 56, 56], [0], symbol="BBB")
    out = setup_outcomes(TEST_GENOME, pd.concat([b, a], ignore_index=True))
    assert out["symbol"].tolist() == ["AAA", "BBB"]
    assert out["return"].tolist() == pytest.approx([-0.06 - COST, 0.12 - COST])


def test_no_signal_gives_an_empty_frame_with_columns() -> None:
    out = setup_outcomes(TEST_GENOME, path_features([100.0] * 10, []))
    assert out.empty
    assert list(out.columns) == OUTCOME_COLUMNS


def _bars(closes: np.ndarray, symbol: str) -> pd.DataFrame:
    start = date(2021, 1, 4)
    return pd.DataFrame({"symbol": symbol, "as_of": [start + timedelta(days=i)
                                                     for i in range(len(closes))],
                         "close": closes})


def test_outcomes_known_by_t_ignore_prices_after_t() -> None:
    n, t = 420, 330
    rng = np.random.default_rng(11)
    symbols = ["AAA", "BBB", "CCC"]
    walks = {s: 100 * np.exp(np.cumsum(rng.normal(0.0004, 0.025, n))) for s in symbols}
    bars = pd.concat([_bars(walks[s], s) for s in symbols], ignore_index=True)
    later = bars.copy()
    cutoff = bars["as_of"].iloc[t]
    after = later["as_of"] > cutoff
    later.loc[after, "close"] *= rng.uniform(0.6, 1.4, after.sum())

    def outcomes(b: pd.DataFrame, genome: StrategyGenome) -> pd.DataFrame:
        features = compute_features(b).assign(breadth=0.25)
        out = setup_outcomes(genome, features)
        return out[out["known_as_of"] <= cutoff].reset_index(drop=True)

    known = 0
    for genome in SEEDED_STRATEGIES:
        base = outcomes(bars, genome)
        changed = outcomes(later, genome)
        pd.testing.assert_frame_equal(base, changed, obj=genome.strategy_id)
        known += len(base)
    assert known > 50


def test_outcomes_known_by_t_are_the_same_when_the_history_ends_at_t() -> None:
    """A replay month by month sees history up to each month's end; the trades it knows
    must be those a run over the whole history knows by then."""
    rng = np.random.default_rng(12)
    bars = pd.concat([_bars(100 * np.exp(np.cumsum(rng.normal(0.0003, 0.02, 400))), s)
                      for s in ("AAA", "BBB")], ignore_index=True)
    whole = compute_features(bars).assign(breadth=0.25)
    known = 0
    for cutoff in (bars["as_of"].iloc[250], bars["as_of"].iloc[330]):
        part = compute_features(bars[bars["as_of"] <= cutoff]).assign(breadth=0.25)
        for genome in SEEDED_STRATEGIES:
            full = setup_outcomes(genome, whole)
            pd.testing.assert_frame_equal(
                full[full["known_as_of"] <= cutoff].reset_index(drop=True),
                setup_outcomes(genome, part), obj=genome.strategy_id)
            known += int((full["known_as_of"] <= cutoff).sum())
    assert known > 40
