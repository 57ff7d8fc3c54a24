"""Genome books: the compiled kernel against the plain reference, costs charged exactly,
trade days as setup_outcomes has them, and the pivot of entry_signal onto matrices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.evolution.books import (
    DEFAULT_SLOT_WEIGHT,
    _simulate_books_reference,
    cost_matrix,
    genome_books,
    signal_matrices,
    simulate_books,
)
from trade_pipelines.agent.evolution.evaluation import setup_outcomes
from trade_pipelines.agent.evolution.genomes import StrategyGenome
from trade_pipelines.agent.execution.broker import round_trip_cost
from trade_pipelines.agent.perception.features import compute_features

NEVER = 1e9  # an exit threshold that never triggers


def random_case(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Random closes with scattered gaps, a symbol listed late and one with a long halt;
    genomes 0..3 can each leave by one exit kind only (stop, target, trailing, time)."""
    rng = np.random.default_rng(seed)
    n_genomes, n_days, n_symbols = 10, 240, 5
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.025, (n_days, n_symbols)), axis=0))
    close[rng.random(close.shape) < 0.06] = np.nan
    close[:40, 3] = np.nan
    close[100:130, 4] = np.nan
    entries = rng.random((n_genomes, n_days, n_symbols)) < rng.uniform(0.02, 0.2)
    cost = rng.uniform(0.0, 0.004, close.shape)
    exits = {
        "stop_loss": rng.uniform(0.02, 0.12, n_genomes),
        "take_profit": rng.uniform(0.03, 0.25, n_genomes),
        "trailing_stop": np.where(rng.random(n_genomes) < 0.5, 0.0,
                                  rng.uniform(0.02, 0.1, n_genomes)),
        "max_holding_days": rng.integers(1, 40, n_genomes),
        # 1.0 and 0.45 leave room for one and two positions of five: cash binds
        "slot_weight": np.array([0.3, 0.3, 0.3, 0.3, 1.0, 0.45, 0.2, 0.1, 0.25, 0.5]),
    }
    for g, kind in enumerate(["stop_loss", "take_profit", "trailing_stop", "max_holding_days"]):
        exits["stop_loss"][g], exits["take_profit"][g] = NEVER, NEVER
        exits["trailing_stop"][g], exits["max_holding_days"][g] = 0.0, 10**9
        exits[kind][g] = {"stop_loss": 0.04, "take_profit": 0.05, "trailing_stop": 0.04,
                          "max_holding_days": 7}[kind]
    return entries, close, cost, exits


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_the_kernel_equals_the_reference_on_random_books(seed: int) -> None:
    entries, close, cost, exits = random_case(seed)
    got = simulate_books(entries, close, cost, **exits)
    want = _simulate_books_reference(entries, close, cost, **exits)
    # every single-exit genome did trade: each exit kind was exercised
    assert (got.n_trades[:4] > 0).all()
    np.testing.assert_array_equal(got.n_trades, want.n_trades)
    np.testing.assert_array_equal(got.n_wins, want.n_wins)
    np.testing.assert_allclose(got.daily_returns, want.daily_returns, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.exposure, want.exposure, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.turnover, want.turnover, rtol=1e-12)
    assert (got.exposure >= 0).all() and (got.exposure <= 1 + 1e-12).all()


def test_threads_do_not_change_the_books() -> None:
    entries, close, cost, exits = random_case(7)
    one = simulate_books(entries, close, cost, **exits, workers=1)
    three = simulate_books(entries, close, cost, **exits, workers=3)
    np.testing.assert_array_equal(one.daily_returns, three.daily_returns)
    np.testing.assert_array_equal(one.n_trades, three.n_trades)


def test_a_genome_that_never_signals_has_a_flat_book() -> None:
    entries, close, cost, exits = random_case(5)
    entries[2] = False
    out = simulate_books(entries, close, cost, **exits)
    assert out.n_trades[1] > 0
    assert not out.daily_returns[2].any() and not out.exposure[2].any()
    assert out.n_trades[2] == 0 and out.n_wins[2] == 0 and out.turnover[2] == 0


def one_symbol_book(costs: list[float]):
    """Signal on day 0, in at day 1's close (10), out after 2 bars at day 3's (12)."""
    close = np.array([[10.0], [10.0], [11.0], [12.0], [12.5]])
    entries = np.zeros((1, 5, 1), dtype=bool)
    entries[0, 0, 0] = True
    return simulate_books(entries, close, np.array(costs).reshape(5, 1),
                          stop_loss=np.array([0.5]), take_profit=np.array([0.5]),
                          trailing_stop=np.array([0.0]), max_holding_days=np.array([2]),
                          slot_weight=np.array([1.0]))


def test_costs_reduce_the_book_by_exactly_what_was_charged() -> None:
    buy, sell = 0.002, 0.003
    free = one_symbol_book([0.0] * 5)
    paid = one_symbol_book([0.9, buy, 0.9, sell, 0.9])  # costs on days without trades unused
    assert np.prod(1 + free.daily_returns[0]) == pytest.approx(1.2, rel=1e-14)
    # the whole account goes in, entry cost included: 1 = notional + notional * buy
    notional = 1 / (1 + buy)
    entry_fee, exit_fee = notional * buy, notional * 1.2 * sell
    equity = np.cumprod(1 + paid.daily_returns[0])
    out = 1 - entry_fee + notional * 0.2 - exit_fee
    expected = [1.0, 1 - entry_fee, 1 - entry_fee + notional * 0.1, out, out]
    np.testing.assert_allclose(equity, expected, rtol=1e-14)
    np.testing.assert_allclose(paid.exposure[0], [0, notional / (1 - entry_fee), 1, 0, 0],
                               rtol=1e-14)
    assert paid.n_trades[0] == 1 and paid.n_wins[0] == 1
    # bought notional at equity 1, sold everything held: (notional + 1) over 5 days
    assert paid.turnover[0] == pytest.approx((notional + 1) / 5, rel=1e-14)


def test_a_losing_trade_after_costs_is_not_a_win() -> None:
    # up 0.1% gross, but 0.2% of costs on each side
    close = np.array([[10.0], [10.0], [10.01], [10.01]])
    entries = np.zeros((1, 4, 1), dtype=bool)
    entries[0, 0, 0] = True
    out = simulate_books(entries, close, np.full((4, 1), 0.002), stop_loss=np.array([0.5]),
                         take_profit=np.array([0.5]), trailing_stop=np.array([0.0]),
                         max_holding_days=np.array([1]), slot_weight=np.array([1.0]))
    assert out.n_trades[0] == 1 and out.n_wins[0] == 0


def flat_exits(n: int = 1, slot: float = 1.0) -> dict[str, np.ndarray]:
    return {"stop_loss": np.full(n, 0.5), "take_profit": np.full(n, 0.5),
            "trailing_stop": np.zeros(n), "max_holding_days": np.full(n, 3),
            "slot_weight": np.full(n, slot)}


def test_free_cash_caps_the_positions() -> None:
    # both symbols signal on day 0; 60% of equity fits once, the second order lapses
    close = np.full((6, 2), 10.0)
    entries = np.zeros((1, 6, 2), dtype=bool)
    entries[0, 0, :] = True
    out = simulate_books(entries, close, np.zeros((6, 2)), **flat_exits(slot=0.6))
    np.testing.assert_allclose(out.exposure[0], [0, 0.6, 0.6, 0.6, 0, 0])
    assert out.n_trades[0] == 1


def test_an_order_waits_for_the_symbols_next_bar() -> None:
    # signal on day 0, no bar on day 1: in at day 2's close, out 3 bars later (day 6,
    # as day 4 has no bar either); a signal on a day without a bar is ignored
    close = np.array([[10.0], [np.nan], [10.0], [11.0], [np.nan], [12.0], [13.0], [np.nan]])
    entries = np.zeros((1, 8, 1), dtype=bool)
    entries[0, [0, 7], 0] = True
    out = simulate_books(entries, close, np.zeros((8, 1)), **flat_exits())
    np.testing.assert_allclose(out.exposure[0], [0, 0, 1, 1, 1, 1, 0, 0])
    np.testing.assert_allclose(np.prod(1 + out.daily_returns[0]), 1.3)
    assert out.n_trades[0] == 1


def test_cost_matrix_is_one_side_of_the_brokers_round_trip() -> None:
    vol = np.array([[0.1, 0.35], [np.nan, 0.0]])
    np.testing.assert_allclose(2 * cost_matrix(vol),
                               [[round_trip_cost(v) for v in row] for row in vol], rtol=1e-15)
    # cheap shares pay the per-share commission, as at the broker
    close = np.array([[2.0, 100.0], [0.5, np.nan]])
    np.testing.assert_allclose(2 * cost_matrix(vol, close),
                               [[round_trip_cost(v, c) for v, c in zip(rv, rc, strict=True)]
                                for rv, rc in zip(vol, close, strict=True)], rtol=1e-15)
    assert cost_matrix(vol, close)[0, 0] > cost_matrix(vol)[0, 0]


def bars(symbol: str, days: list[date], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.02, len(days))))
    return pd.DataFrame({"symbol": symbol, "as_of": days, "open": np.nan, "high": np.nan,
                         "low": np.nan, "close": close, "volume": np.nan})


DAYS = [date(2020, 1, 1) + timedelta(days=i) for i in range(500)]


def entry_exit_days(exposure: np.ndarray, days: list[date]) -> list[tuple[date, date]]:
    """(entry, exit) of each closed trade in a one-symbol book: invested from the entry
    close up to the close before the exit, out at the exit close."""
    invested = np.concatenate([[False], exposure > 0, [False]]).astype(int)
    starts = np.flatnonzero(np.diff(invested) == 1)
    ends = np.flatnonzero(np.diff(invested) == -1)
    return [(days[s], days[e]) for s, e in zip(starts, ends, strict=True) if e < len(days)]


@pytest.mark.parametrize("genome", [
    StrategyGenome("Z", "z", "mean_reversion", "zscore_reversion", {"z_max": -1.0},
                   stop_loss=0.04, take_profit=0.06, max_holding_days=7),
    StrategyGenome("M", "m", "trend", "momentum", {"min_return": 0.02},
                   stop_loss=0.03, take_profit=0.2, max_holding_days=12),
])
def test_trade_days_agree_with_setup_outcomes(genome: StrategyGenome) -> None:
    features = compute_features(bars("AAA", DAYS, seed=11))
    book, days, symbols = genome_books([genome], features, slot_weight=1.0)
    outcomes = setup_outcomes(genome, features)
    assert symbols == ["AAA"] and days == DAYS
    assert len(outcomes) > 5
    assert book.n_trades[0] == len(outcomes)
    assert entry_exit_days(book.exposure[0], days) == list(
        zip(outcomes["entry_as_of"], outcomes["known_as_of"], strict=True))


@dataclass(frozen=True)
class SizedGenome(StrategyGenome):
    """A genome with the exit and sizing fields StrategyGenome does not have yet."""

    trailing_stop: float = 0.0
    slot_weight: float = 0.1


def two_symbol_features() -> pd.DataFrame:
    # BBB is listed 60 days late and misses one day
    late = [d for d in DAYS[60:] if d != DAYS[200]]
    return compute_features(pd.concat([bars("BBB", late, seed=3), bars("AAA", DAYS, seed=4)],
                                      ignore_index=True))


def test_signal_matrices_place_each_rows_signal_on_its_day_and_symbol() -> None:
    features = two_symbol_features()
    crossing = StrategyGenome("X", "x", "trend", "sma_cross", {"fast": 10, "slow": 30})
    reverting = StrategyGenome("R", "r", "mean_reversion", "rsi_oversold", {"rsi_max": 45})
    m = signal_matrices([crossing, reverting, reverting], features)
    assert m.days == DAYS and m.symbols == ["AAA", "BBB"]
    assert np.isnan(m.close[:60, 1]).all() and np.isnan(m.close[200, 1])
    for s, symbol in enumerate(m.symbols):
        rows = features[features["symbol"] == symbol]
        at = [DAYS.index(d) for d in rows["as_of"]]
        close = rows["close"]
        fast, slow = close.rolling(10).mean(), close.rolling(30).mean()
        want = ((fast > slow) & (close > fast)).to_numpy()
        assert want.any()
        np.testing.assert_array_equal(m.entries[0, at, s], want)
        np.testing.assert_array_equal(m.entries[1, at, s], (rows["rsi_14"] < 45).to_numpy())
        np.testing.assert_array_equal(m.close[at, s], close.to_numpy())
        assert not m.entries[:, np.setdiff1d(np.arange(len(DAYS)), at), s].any()
    np.testing.assert_array_equal(m.entries[1], m.entries[2])
    last_aaa = features.loc[features["symbol"] == "AAA", "vol_20"].iloc[-1]
    np.testing.assert_allclose(2 * m.cost[-1, 0], round_trip_cost(last_aaa), rtol=1e-15)


def test_genome_books_take_trailing_stop_and_slot_weight_from_the_genome() -> None:
    features = two_symbol_features()
    genome = SizedGenome("S", "s", "mean_reversion", "rsi_oversold", {"rsi_max": 45},
                         stop_loss=0.2, take_profit=0.3, max_holding_days=30,
                         trailing_stop=0.03, slot_weight=0.35)
    plain = StrategyGenome("P", "p", "mean_reversion", "rsi_oversold", {"rsi_max": 45},
                           stop_loss=0.2, take_profit=0.3, max_holding_days=30)
    book, _, _ = genome_books([genome, plain], features)
    m = signal_matrices([plain], features)
    want = simulate_books(np.repeat(m.entries, 2, axis=0), m.close, m.cost,
                          stop_loss=np.array([0.2, 0.2]), take_profit=np.array([0.3, 0.3]),
                          trailing_stop=np.array([0.03, 0.0]),
                          max_holding_days=np.array([30, 30]),
                          slot_weight=np.array([0.35, DEFAULT_SLOT_WEIGHT]))
    np.testing.assert_array_equal(book.daily_returns, want.daily_returns)
    # the trailing stop shortened the sized genome's trades
    assert book.n_trades[0] > book.n_trades[1]


def test_a_book_up_to_a_day_does_not_depend_on_symbols_listed_after_it() -> None:
    features = two_symbol_features()
    genome = StrategyGenome("P", "p", "mean_reversion", "rsi_oversold", {"rsi_max": 45},
                            stop_loss=0.2, take_profit=0.3, max_holding_days=30)
    aaa_only = features[features["symbol"] == "AAA"]
    # BBB's first bar is on day 60; eleven more names list with it (an equal share of
    # the universe would shrink AAA's earlier positions from 10% to 1/12)
    bbb = features[features["symbol"] == "BBB"]
    first_bbb = bbb["as_of"].min()
    late = pd.concat([aaa_only, *[bbb.assign(symbol=f"B{k:02d}") for k in range(12)]])
    before = aaa_only[aaa_only["as_of"] < first_bbb]
    alone, days_alone, _ = genome_books([genome], before)
    both, days_both, _ = genome_books([genome], late)
    assert days_both[: len(days_alone)] == days_alone and alone.n_trades[0] > 0
    np.testing.assert_array_equal(both.daily_returns[0, : len(days_alone)],
                                  alone.daily_returns[0])
