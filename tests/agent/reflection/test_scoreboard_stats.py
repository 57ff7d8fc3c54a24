"""Scoreboard statistics against independent references: Lo's (2002) standard error for
the bootstrap interval, the probabilistic Sharpe formula written out with scipy, a slow
direct CSCV loop, exact synthetic alphas and betas, hand-computed turnover, and the
properties the tests are meant to have (noise gives PBO near one half, a draw from the
random portfolios' own distribution lands anywhere from 0 to 100, an oracle at 100)."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from arch.bootstrap import optimal_block_length
from scipy import stats

from trade_pipelines.agent.reflection.performance import daily_stats
from trade_pipelines.agent.reflection.scoreboard_stats import (
    REGIME_COLUMNS,
    alpha_beta,
    bootstrap_block_length,
    deflated_sharpe_ratio,
    portfolio_returns,
    probability_of_backtest_overfitting,
    random_portfolio_percentile,
    random_portfolio_weights,
    regime_split,
    sharpe_confidence_interval,
    turnover_and_exposure,
)

Z95 = stats.norm.ppf(0.975)


def normal_returns(n: int, seed: int, mean: float = 0.0005, sd: float = 0.01) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, sd, n)


def lo_iid_width(returns: np.ndarray) -> float:
    """Width of the 95% interval from Lo (2002) for i.i.d. returns, annualised:
    se(SR) = sqrt((1 + SR^2 / 2) / T) per period."""
    sr = returns.mean() / returns.std(ddof=1)
    return 2 * Z95 * math.sqrt((1 + sr * sr / 2) / returns.size) * math.sqrt(252)


# --- Sharpe confidence interval ---------------------------------------------------------

def test_interval_contains_the_point_sharpe_and_narrows_with_more_data() -> None:
    short, long = normal_returns(250, 1), normal_returns(2500, 2)
    widths = []
    for r in (short, long):
        low, high = sharpe_confidence_interval(r)
        assert low < daily_stats(r).sharpe < high
        widths.append(high - low)
    # ten times the data: about a third of the width
    assert widths[1] < 0.5 * widths[0]


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_iid_interval_agrees_with_lo_standard_error(seed: int) -> None:
    r = normal_returns(1000, seed)
    low, high = sharpe_confidence_interval(r)
    assert 0.8 < (high - low) / lo_iid_width(r) < 1.25
    # and sits around the point estimate
    assert abs((low + high) / 2 - daily_stats(r).sharpe) < 0.15 * (high - low)


def test_serial_correlation_widens_the_interval() -> None:
    # AR(1) with phi = 0.5: the mean's variance is (1 + phi) / (1 - phi) = 3 times the
    # i.i.d. one, so an interval that ignored it would be sqrt(3) too narrow
    rng = np.random.default_rng(6)
    shocks, r = rng.normal(0, 0.01, 2000), np.zeros(2000)
    for t in range(1, r.size):
        r[t] = 0.5 * r[t - 1] + shocks[t]
    r += 0.0005
    assert bootstrap_block_length(r) > 3
    low, high = sharpe_confidence_interval(r)
    assert (high - low) > 1.3 * lo_iid_width(r)


def test_block_length_is_kept_between_one_and_a_tenth_of_the_sample() -> None:
    trend = np.linspace(0.001, 0.02, 40) + normal_returns(40, 7, 0, 0.0001)
    noise = normal_returns(500, 8)
    # the raw estimates fall outside the bounds, so the bounds are what is tested
    assert optimal_block_length(trend)["stationary"].iloc[0] > 4
    assert optimal_block_length(noise)["stationary"].iloc[0] < 1
    assert bootstrap_block_length(trend) == 4.0
    assert bootstrap_block_length(noise) == 1.0


def test_higher_level_gives_a_wider_interval_and_seeds_repeat() -> None:
    r = normal_returns(300, 9)
    low90, high90 = sharpe_confidence_interval(r, level=0.90, seed=1)
    low99, high99 = sharpe_confidence_interval(r, level=0.99, seed=1)
    assert low99 < low90 < high90 < high99
    assert sharpe_confidence_interval(r, seed=1) == sharpe_confidence_interval(r, seed=1)
    assert sharpe_confidence_interval(r, seed=1) != sharpe_confidence_interval(r, seed=2)


@pytest.mark.parametrize("returns", [
    [], [np.nan] * 30, normal_returns(19, 10).tolist(), [0.001] * 50, [0.0] * 50,
    normal_returns(19, 11).tolist() + [np.nan] * 10,
])
def test_too_little_data_or_no_variance_gives_nan(returns: list[float]) -> None:
    low, high = sharpe_confidence_interval(returns)
    assert math.isnan(low) and math.isnan(high)
    assert math.isnan(deflated_sharpe_ratio(returns, 10, 0.001))


def test_missing_returns_are_dropped() -> None:
    r = normal_returns(200, 12)
    gappy = np.insert(r, [5, 50, 150], np.nan)
    assert sharpe_confidence_interval(gappy) == sharpe_confidence_interval(r)


# --- deflated Sharpe ratio --------------------------------------------------------------

def skewed_returns(n: int = 750, seed: int = 13) -> np.ndarray:
    """Fat-tailed, left-skewed daily returns, so the skew and kurtosis terms matter."""
    rng = np.random.default_rng(seed)
    return 0.003 + 0.01 * rng.standard_t(4, n) - 0.04 * rng.exponential(1, n) * (
        rng.random(n) < 0.03)


def psr_by_hand(r: np.ndarray, benchmark: float) -> float:
    """Bailey & Lopez de Prado's probabilistic Sharpe ratio, written out."""
    sr = r.mean() / r.std(ddof=1)
    skew = stats.skew(r)
    kurt = stats.kurtosis(r, fisher=False)
    z = (sr - benchmark) * math.sqrt(r.size - 1) / math.sqrt(
        1 - skew * sr + (kurt - 1) / 4 * sr * sr)
    return float(stats.norm.cdf(z))


def expected_max_by_hand(n_trials: int, variance: float) -> float:
    """E[max] of n_trials N(0, variance) Sharpe ratios, Bailey & Lopez de Prado (2014)."""
    gamma = 0.5772156649015329
    return math.sqrt(variance) * (
        (1 - gamma) * stats.norm.ppf(1 - 1 / n_trials)
        + gamma * stats.norm.ppf(1 - 1 / (n_trials * math.e)))


def test_one_trial_is_the_plain_probabilistic_sharpe_ratio() -> None:
    r = skewed_returns()
    assert stats.skew(r) < -0.5 and stats.kurtosis(r) > 1  # the corrections are exercised
    assert deflated_sharpe_ratio(r, 1, 0.002) == pytest.approx(psr_by_hand(r, 0.0), rel=1e-9)
    # no dispersion among the trials: nothing to deflate for
    assert deflated_sharpe_ratio(r, 50, 0.0) == pytest.approx(psr_by_hand(r, 0.0), rel=1e-9)


@pytest.mark.parametrize("n_trials", [2, 10, 250])
def test_many_trials_against_the_formula(n_trials: int) -> None:
    r = skewed_returns(seed=14)
    expected = psr_by_hand(r, expected_max_by_hand(n_trials, 0.0004))
    assert deflated_sharpe_ratio(r, n_trials, 0.0004) == pytest.approx(expected, rel=1e-9)


def test_deflated_sharpe_falls_as_trials_rise() -> None:
    r = normal_returns(1000, 15, mean=0.0008)
    values = [deflated_sharpe_ratio(r, n, 0.002) for n in (1, 2, 5, 10, 100, 1000)]
    assert all(0 <= v <= 1 for v in values)
    assert all(a > b for a, b in zip(values, values[1:], strict=False))
    # a real edge survives one trial but not a thousand
    assert values[0] > 0.95 and values[-1] < 0.5


@pytest.mark.parametrize(("n_trials", "variance"), [(0, 0.001), (5, -0.001), (5, math.nan)])
def test_undefined_deflated_sharpe_is_nan(n_trials: int, variance: float) -> None:
    assert math.isnan(deflated_sharpe_ratio(normal_returns(300, 16), n_trials, variance))


# --- probability of backtest overfitting ------------------------------------------------

def pbo_slow(performance: np.ndarray, n_splits: int) -> float:
    """CSCV as the paper lays it out: a loop over every half/half split; a configuration
    without dispersion in a half has no Sharpe there and ranks last."""
    block = performance.shape[0] // n_splits
    blocks = np.split(performance[performance.shape[0] - block * n_splits:], n_splits)
    n, logits = performance.shape[1], []

    def sharpe(rows: np.ndarray) -> np.ndarray:
        return np.array([col.mean() / col.std(ddof=1) if col.std(ddof=1) > 0 else -np.inf
                         for col in rows.T])

    for chosen in combinations(range(n_splits), n_splits // 2):
        train = sharpe(np.vstack([blocks[i] for i in chosen]))
        test = sharpe(np.vstack([blocks[i] for i in range(n_splits) if i not in chosen]))
        omega = stats.rankdata(test)[int(np.argmax(train))] / (n + 1)
        logits.append(math.log(omega / (1 - omega)))
    return float(np.mean(np.array(logits) <= 0))


@pytest.mark.parametrize(("n_splits", "n_configs", "seed"), [(4, 3, 0), (6, 5, 1), (8, 7, 2)])
def test_pbo_matches_the_direct_loop(n_splits: int, n_configs: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.01, (83, n_configs)) + rng.normal(0, 0.0005, n_configs)
    assert probability_of_backtest_overfitting(x, n_splits) == pbo_slow(x, n_splits)


def test_pbo_of_pure_noise_is_near_one_half() -> None:
    values = [probability_of_backtest_overfitting(
        np.random.default_rng(seed).normal(0, 0.01, (640, 10))) for seed in range(20)]
    # the in-sample winner's out-of-sample rank is uniform: below the median half the time
    assert 0.4 < np.mean(values) < 0.6


def test_pbo_of_a_persistent_edge_is_near_zero() -> None:
    x = np.random.default_rng(17).normal(0, 0.01, (640, 10))
    x[:, 3] += 0.004
    assert probability_of_backtest_overfitting(x) < 0.05


def test_pbo_of_a_reversing_edge_is_near_one() -> None:
    # each configuration's edge flips sign between alternating blocks: what wins in-sample
    # loses out-of-sample whenever the halves take opposite blocks
    rng = np.random.default_rng(18)
    x = rng.normal(0, 0.01, (640, 10))
    sign = np.where((np.arange(640) // 40) % 2 == 0, 1.0, -1.0)[:, None]
    x += sign * np.linspace(-0.004, 0.004, 10)
    assert probability_of_backtest_overfitting(x) > 0.5


def test_pbo_needs_two_configurations_and_enough_rows() -> None:
    rng = np.random.default_rng(19)
    assert math.isnan(probability_of_backtest_overfitting(rng.normal(size=(200, 1))))
    assert math.isnan(probability_of_backtest_overfitting(rng.normal(size=(31, 5))))
    assert not math.isnan(probability_of_backtest_overfitting(rng.normal(size=(32, 5))))
    with pytest.raises(ValueError):
        probability_of_backtest_overfitting(rng.normal(size=(200, 5)), n_splits=5)


def test_pbo_drops_rows_with_missing_values_and_ranks_flat_configurations_last() -> None:
    rng = np.random.default_rng(20)
    x = rng.normal(0, 0.01, (96, 4))
    gappy = np.insert(x, [10, 40], np.nan, axis=0)
    assert probability_of_backtest_overfitting(gappy, 8) == \
        probability_of_backtest_overfitting(x, 8)
    flat = np.hstack([x, np.zeros((96, 1))])
    assert probability_of_backtest_overfitting(flat, 8) == pbo_slow(flat, 8)


# --- turnover, exposure and random portfolios -------------------------------------------

def test_turnover_and_exposure_by_hand() -> None:
    weights = pd.DataFrame({"A": [0.5, 0.5, 0.0, np.nan], "B": [0.0, 0.3, 0.3, 0.3]})
    turnover, exposure = turnover_and_exposure(weights)
    # buy 0.5 from cash; buy 0.3; sell 0.5; nothing
    assert turnover == pytest.approx((0.5 + 0.3 + 0.5 + 0.0) / 4)
    assert exposure == pytest.approx((0.5 + 0.8 + 0.3 + 0.3) / 4)
    assert all(math.isnan(v) for v in turnover_and_exposure(pd.DataFrame(columns=["A"])))


def asset_panel(n_days: int = 252, n_assets: int = 20, seed: int = 21) -> np.ndarray:
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0003, 0.008, (n_days, 1))
    return market + rng.normal(0.0002, 0.015, (n_days, n_assets))


@pytest.mark.parametrize(("turnover", "exposure", "holdings"), [
    (0.05, 0.9, None), (0.3, 1.0, None), (0.01, 0.5, 3), (0.8, 1.0, 2), (0.004, 1.0, None),
])
def test_random_portfolios_meet_the_turnover_and_exposure(
        turnover: float, exposure: float, holdings: int | None) -> None:
    weights = random_portfolio_weights(asset_panel(), turnover, exposure, 60, seed=1,
                                       holdings=holdings)
    assert weights.shape == (60, 252, 20)
    assert (weights >= 0).all()
    for w in weights:
        assert turnover_and_exposure(pd.DataFrame(w)) == pytest.approx((turnover, exposure))
    if holdings is not None:
        # a blend of two allocations of ``holdings`` names each
        assert ((weights > 0).sum(axis=2) <= 2 * holdings).all()


def test_random_portfolios_hold_nothing_into_a_day_without_a_return() -> None:
    r = asset_panel(120, 6)
    r[:40, 2] = np.nan     # listed on day 40
    r[90:, 4] = np.nan     # gone after day 89
    r[60, :] = np.nan      # a day with no prices at all
    weights = random_portfolio_weights(r, 0.1, 0.8, 50, seed=2)
    assert (weights[:, :39, 2] == 0).all()
    assert (weights[:, 89:, 4] == 0).all()
    assert (weights[:, 59] == 0).all()
    # full exposure on every other day, and the turnover still as asked
    held = np.delete(weights.sum(axis=2), 59, axis=1)
    assert held == pytest.approx(0.8)
    for w in weights[:10]:
        assert turnover_and_exposure(pd.DataFrame(w))[0] == pytest.approx(0.1)


def test_portfolio_returns_by_hand() -> None:
    r = np.array([[0.01, 0.02], [0.10, -0.05], [np.nan, 0.04]])
    weights = np.array([[[0.5, 0.5], [1.0, 0.0], [1.0, 0.0]]])
    out = portfolio_returns(weights, r, cost_per_turnover=0.001)
    # day 0: buy 1.0 from cash; day 1: yesterday's 50/50, then sell B and buy A (1.0)
    assert out[:, 0] == pytest.approx([-0.001, 0.5 * 0.10 - 0.5 * 0.05 - 0.001, 0.0])


def oracle_weights(r: np.ndarray) -> np.ndarray:
    """Holds, at each close, the asset with the best return the next day."""
    best = np.argmax(np.vstack([r[1:], r[-1:]]), axis=1)
    return np.eye(r.shape[1])[best]


def test_an_oracle_scores_about_one_hundred_and_its_opposite_about_zero() -> None:
    r = asset_panel()
    for pick, low, high in ((oracle_weights(r), 99.0, 100.0),
                            (oracle_weights(-r), 0.0, 1.0)):
        turnover, exposure = turnover_and_exposure(pd.DataFrame(pick))
        strategy = portfolio_returns(pick[None], r, 0.001)[:, 0]
        for metric in ("sharpe", "total_return"):
            score = random_portfolio_percentile(strategy, r, turnover, exposure, 500, 3,
                                                0.001, metric, holdings=1)
            assert low <= score <= high


def test_a_draw_from_the_random_portfolios_lands_anywhere() -> None:
    r = asset_panel(seed=22)
    strategies = portfolio_returns(random_portfolio_weights(r, 0.1, 0.9, 30, seed=99), r,
                                   0.002)
    scores = [random_portfolio_percentile(strategies[:, i], r, 0.1, 0.9, 400, seed=4,
                                          cost_per_turnover=0.002) for i in range(30)]
    # the same distribution: uniform percentiles
    assert 40 < np.mean(scores) < 60
    assert stats.kstest(np.array(scores) / 100, "uniform").pvalue > 0.01


def test_costs_on_the_random_portfolios_raise_the_strategy_percentile() -> None:
    r = asset_panel(seed=23)
    # a middling random portfolio as the strategy, its returns fixed
    candidates = portfolio_returns(random_portfolio_weights(r, 0.5, 1.0, 51, seed=5), r)
    totals = np.prod(1 + candidates, axis=0)
    strategy = candidates[:, np.argsort(totals)[25]]
    scores = [random_portfolio_percentile(strategy, r, 0.5, 1.0, 300, 6, cost,
                                          "total_return") for cost in (0.0, 0.0002, 0.001)]
    assert 10 < scores[0] < scores[1] < scores[2]


def test_random_portfolios_repeat_for_a_seed() -> None:
    r = asset_panel(60, 5)
    a = random_portfolio_weights(r, 0.2, 0.7, 300, seed=7)
    assert np.array_equal(a, random_portfolio_weights(r, 0.2, 0.7, 300, seed=7))
    assert not np.array_equal(a, random_portfolio_weights(r, 0.2, 0.7, 300, seed=8))
    s = normal_returns(60, 24)
    assert random_portfolio_percentile(s, r, 0.2, 0.7, 300, 7) == \
        random_portfolio_percentile(s, r, 0.2, 0.7, 300, 7)


def test_days_without_a_strategy_return_are_left_out_for_all() -> None:
    r = asset_panel(80, 4)
    s = normal_returns(80, 25)
    gappy = s.copy()
    gappy[[3, 30]] = np.nan
    kept = np.ones(80, bool)
    kept[[3, 30]] = False
    randoms = portfolio_returns(random_portfolio_weights(r, 0.2, 0.7, 200, seed=9), r)[kept]
    sharpes = np.array([daily_stats(randoms[:, i]).sharpe for i in range(200)])
    expected = stats.percentileofscore(sharpes, daily_stats(s[kept]).sharpe, kind="mean")
    assert random_portfolio_percentile(gappy, r, 0.2, 0.7, 200, 9) == pytest.approx(expected)


def test_percentile_arguments() -> None:
    r = asset_panel(30, 3)
    assert math.isnan(random_portfolio_percentile([0.0] * 30, r, 0.1, 0.5, 50))
    with pytest.raises(ValueError):
        random_portfolio_percentile(normal_returns(30, 26), r, 0.1, 0.5, metric="hit_rate")
    with pytest.raises(ValueError):
        random_portfolio_percentile(normal_returns(29, 26), r, 0.1, 0.5)


# --- alpha and beta ---------------------------------------------------------------------

def test_alpha_beta_recover_a_known_line() -> None:
    rng = np.random.default_rng(27)
    bench = rng.normal(0.0004, 0.01, 750)
    # noise with no mean and no correlation with the benchmark, so OLS returns the line
    noise = rng.normal(0, 0.004, 750)
    design = np.column_stack([np.ones(750), bench])
    noise -= design @ np.linalg.lstsq(design, noise, rcond=None)[0]
    strategy = 0.0002 + 1.5 * bench + noise
    alpha, beta = alpha_beta(strategy, bench)
    assert beta == pytest.approx(1.5)
    assert alpha == pytest.approx(1.0002 ** 252 - 1)


def test_alpha_beta_align_series_and_drop_missing_pairs() -> None:
    rng = np.random.default_rng(28)
    dates = pd.bdate_range("2025-01-01", periods=300)
    bench = pd.Series(rng.normal(0, 0.01, 300), index=dates)
    strategy = 0.0001 + 0.8 * bench + rng.normal(0, 0.003, 300)
    strategy.iloc[[60, 61, 200]] = np.nan
    bench.iloc[[100, 250]] = np.nan
    complete = np.r_[50:60, 62:100, 101:200, 201:250, 251:290]
    expected = alpha_beta(strategy.to_numpy()[complete], bench.to_numpy()[complete])
    # overlapping on dates 50..289 only, and shuffled: the index pairs them, not position
    shuffled = strategy.iloc[50:].sample(frac=1.0, random_state=0)
    assert alpha_beta(shuffled, bench.iloc[:290]) == pytest.approx(expected)
    assert not math.isnan(expected[0]) and expected[1] == pytest.approx(0.8, abs=0.05)


def test_alpha_beta_undefined() -> None:
    assert all(math.isnan(v) for v in alpha_beta([0.01], [0.02]))
    assert all(math.isnan(v) for v in alpha_beta([0.01, 0.02, 0.0], [0.01] * 3))
    with pytest.raises(ValueError):
        alpha_beta([0.01, 0.02], [0.01])


# --- regimes ----------------------------------------------------------------------------

def test_regime_split_by_hand() -> None:
    dates = pd.bdate_range("2025-03-03", periods=7)
    returns = pd.Series([0.01, 0.02, -0.01, 0.03, np.nan, -0.02, 0.01], index=dates)
    labels = pd.Series(["bear", "bull", "bull", "bear", "bull", "range", None], index=dates)
    table = regime_split(returns, labels.iloc[::-1])  # order of the labels' index is no matter
    assert list(table.columns) == REGIME_COLUMNS
    assert list(table.index) == ["bear", "bull", "range"]
    assert table.loc["bear", "days"] == 2
    assert table.loc["bear", "total_return"] == pytest.approx(1.01 * 1.03 - 1)
    assert table.loc["bull", "days"] == 2  # the missing return is not a day
    assert table.loc["bull", "total_return"] == pytest.approx(1.02 * 0.99 - 1)
    assert table.loc["bull", "max_drawdown"] == pytest.approx(-0.01)
    assert table.loc["range", "max_drawdown"] == pytest.approx(-0.02)
    assert math.isnan(table.loc["range", "sharpe"])  # one day has no dispersion
    two = np.array([0.02, -0.01])
    assert table.loc["bull", "sharpe"] == pytest.approx(
        two.mean() / two.std(ddof=1) * math.sqrt(252))


def test_regime_split_covers_every_labelled_day() -> None:
    rng = np.random.default_rng(29)
    dates = pd.bdate_range("2024-01-01", periods=500)
    returns = pd.Series(rng.normal(0.0003, 0.01, 500), index=dates)
    labels = pd.Series(rng.choice(["bull", "bear", "range"], 500), index=dates)
    table = regime_split(returns, labels)
    assert table["days"].sum() == 500
    # the regimes' curves multiply back to the whole
    assert np.prod(1 + table["total_return"]) == pytest.approx(
        daily_stats(returns).total_return + 1)
    assert regime_split(returns, labels.iloc[:0]).empty
