"""Market regime: bull / bear / range, breadth and the defensive flag."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.perception.regime import detect_regimes

N = 260


def days(n: int = N, start: date = date(2022, 1, 3)) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


def benchmark(closes: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"as_of": days(len(closes)), "close": closes})


NO_FEATURES = pd.DataFrame({"symbol": pd.Series(dtype=object), "as_of": pd.Series(dtype=object),
                            "close": pd.Series(dtype=float), "sma_50": pd.Series(dtype=float)})


def test_steady_uptrend_is_bull() -> None:
    regimes = detect_regimes(benchmark(100 * 1.002 ** np.arange(N)), NO_FEATURES)
    assert len(regimes) == N
    assert regimes["regime"].iloc[:199].eq("range").all()  # no 200-day average yet
    assert regimes["regime"].iloc[199:].eq("bull").all()
    assert (regimes["trend"].iloc[199:] > 0).all()
    assert not regimes["defensive"].any()


def test_steady_downtrend_is_bear() -> None:
    regimes = detect_regimes(benchmark(100 * 0.998 ** np.arange(N)), NO_FEATURES)
    assert regimes["regime"].iloc[199:].eq("bear").all()
    assert (regimes["trend"].iloc[199:] < 0).all()
    assert not regimes["defensive"].any()


def test_flat_market_is_range() -> None:
    regimes = detect_regimes(benchmark(np.full(N, 100.0)), NO_FEATURES)
    assert regimes["regime"].eq("range").all()


def test_price_above_average_but_50_day_below_200_day_is_range() -> None:
    closes = 100 * 0.998 ** np.arange(N)
    closes[-1] = closes[-201:-1].mean() * 1.03  # one jump above the 200-day average
    regimes = detect_regimes(benchmark(closes), NO_FEATURES)
    assert regimes["trend"].iloc[-1] > 0
    assert regimes["regime"].iloc[-1] == "range"


def test_input_order_does_not_matter() -> None:
    frame = benchmark(100 * 1.002 ** np.arange(N))
    shuffled = frame.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(detect_regimes(frame, NO_FEATURES),
                                  detect_regimes(shuffled, NO_FEATURES))


def test_vix_above_40_makes_that_day_defensive() -> None:
    vix = pd.DataFrame({"as_of": days(), "close": 18.0})
    vix.loc[230, "close"] = 45.0
    vix.loc[231, "close"] = 40.0  # at the threshold, not above it
    regimes = detect_regimes(benchmark(100 * 1.001 ** np.arange(N)), NO_FEATURES, vix)
    assert regimes["defensive"].tolist() == [i == 230 for i in range(N)]
    assert regimes["vix"].iloc[230] == 45.0
    # the trend itself stays bull; defensive is a separate flag
    assert regimes["regime"].iloc[230] == "bull"


@pytest.mark.parametrize("with_vix", [False, True])
def test_a_minus_8_percent_day_is_defensive(with_vix: bool) -> None:
    closes = np.full(N, 100.0)
    closes[240:] = 92.0      # -8% on day 240
    closes[250:] = 92.0 * 0.95  # -5% on day 250: not a -7% crash, but ...
    vix = pd.DataFrame({"as_of": days(), "close": 20.0}) if with_vix else None
    regimes = detect_regimes(benchmark(closes), NO_FEATURES, vix)
    assert bool(regimes["defensive"].iloc[240])
    assert not bool(regimes["defensive"].iloc[239])
    assert not bool(regimes["defensive"].iloc[241])
    # ... after sixty calm days (one -8% move among them: a trailing deviation of 1.1%)
    # it is a 4.7-deviation fall of more than 3%: a black swan, defensive the same day.
    assert bool(regimes["defensive"].iloc[250])
    assert not bool(regimes["defensive"].iloc[251])


def test_a_minus_5_percent_day_in_a_volatile_market_is_not_a_black_swan() -> None:
    rng = np.random.default_rng(1)
    returns = rng.normal(0, 0.02, N)  # 2% a day: -5% is 2.5 deviations
    returns[250] = np.log(0.95)
    regimes = detect_regimes(benchmark(100 * np.exp(np.cumsum(returns))), NO_FEATURES)
    assert regimes["volatility"].iloc[250] < 0.40
    assert not bool(regimes["defensive"].iloc[250])


def test_high_realised_volatility_is_defensive() -> None:
    rng = np.random.default_rng(0)
    calm = rng.normal(0, 0.005, 200)
    wild = np.tile([0.045, -0.045], 30)  # about 70% a year, no single -7% day
    closes = 100 * np.exp(np.cumsum(np.concatenate([calm, wild])))
    regimes = detect_regimes(benchmark(closes), NO_FEATURES)
    assert not regimes["defensive"].iloc[:200].any()
    assert regimes["defensive"].iloc[-1]
    assert regimes["volatility"].iloc[-1] > 0.40


def test_breadth_is_the_share_of_stocks_above_their_50_day_average() -> None:
    d = days(3)
    features = pd.DataFrame([
        {"symbol": "A", "as_of": d[0], "close": 11.0, "sma_50": 10.0},
        {"symbol": "B", "as_of": d[0], "close": 12.0, "sma_50": 10.0},
        {"symbol": "C", "as_of": d[0], "close": 13.0, "sma_50": 10.0},
        {"symbol": "D", "as_of": d[0], "close": 9.0, "sma_50": 10.0},
        {"symbol": "E", "as_of": d[0], "close": 50.0, "sma_50": np.nan},  # not counted
        {"symbol": "A", "as_of": d[1], "close": 9.0, "sma_50": 10.0},
        {"symbol": "B", "as_of": d[1], "close": 10.0, "sma_50": 10.0},  # equal: not above
    ])
    regimes = detect_regimes(benchmark(np.array([100.0, 101.0, 102.0])), features)
    assert regimes["breadth"].iloc[0] == pytest.approx(0.75)
    assert regimes["breadth"].iloc[1] == pytest.approx(0.0)
    assert np.isnan(regimes["breadth"].iloc[2])  # no stock data that day


def test_regime_up_to_t_ignores_later_benchmark_days() -> None:
    rng = np.random.default_rng(5)
    closes = 100 * np.exp(np.cumsum(rng.normal(0.0005, 0.015, N)))
    base = detect_regimes(benchmark(closes), NO_FEATURES)
    changed_closes = closes.copy()
    changed_closes[230:] *= 0.5
    changed = detect_regimes(benchmark(changed_closes), NO_FEATURES)
    pd.testing.assert_frame_equal(base.iloc[:230], changed.iloc[:230])
    assert changed["defensive"].iloc[230]


def crypto_benchmark(log_returns: np.ndarray) -> pd.DataFrame:
    closes = 20_000 * np.exp(np.cumsum(log_returns))
    return pd.DataFrame({"symbol": "BTC-CNY", "as_of": days(len(closes)), "close": closes})


def test_a_market_trading_every_day_judges_volatility_against_its_own_past() -> None:
    from trade_pipelines.agent.perception.regime import benchmark_always_open

    # Bitcoin-like: about 57% a year (365 days) for a year is its normal, not a crash...
    usual = np.tile([0.03, -0.03], 200)
    # ...then a month twice as wild, still without a -7% day.
    wild = np.tile([0.065, -0.065], 15)
    bench = crypto_benchmark(np.concatenate([usual, wild]))
    assert benchmark_always_open(bench)
    regimes = detect_regimes(bench, NO_FEATURES)
    assert regimes["vix"].isna().all()
    assert regimes["volatility"].iloc[300] == pytest.approx(0.03 * np.sqrt(20 / 19) * np.sqrt(365),
                                                            rel=1e-6)
    # (no volatility trigger until 60 days of volatility are known; the stock market's
    # fixed 40% never applies to its usual 57%)
    assert not regimes["defensive"].iloc[:400].any()
    assert regimes["defensive"].iloc[-1]
    # The same series as an exchange's index (fixed level, 252 days): defensive all year.
    as_exchange = detect_regimes(bench.drop(columns="symbol"), NO_FEATURES)
    assert not benchmark_always_open(bench.drop(columns="symbol"))
    assert as_exchange["defensive"].iloc[200:400].all()
    assert detect_regimes(bench, NO_FEATURES, always_open=False)["defensive"].iloc[
        200:400].all()


def test_a_crypto_regime_up_to_t_ignores_later_days() -> None:
    rng = np.random.default_rng(7)
    returns = rng.normal(0, 0.035, 420)
    bench = crypto_benchmark(returns)
    perturbed = returns.copy()
    perturbed[300:] = rng.normal(0, 0.2, 120)  # a wild future
    before = detect_regimes(bench, NO_FEATURES).iloc[:300]
    after = detect_regimes(crypto_benchmark(perturbed), NO_FEATURES).iloc[:300]
    pd.testing.assert_frame_equal(before, after)
    assert detect_regimes(crypto_benchmark(perturbed), NO_FEATURES)["defensive"].iloc[
        320:].any()


def test_the_black_swan_rule_reads_breadth_only_of_five_names_or_more() -> None:
    from trade_pipelines.agent.perception.regime import collapse_breadth

    d = days(2)
    rows = [{"symbol": s, "as_of": d[0], "close": 11.0, "sma_50": 10.0} for s in "ABCDE"]
    rows += [{"symbol": s, "as_of": d[1], "close": 9.0, "sma_50": 10.0} for s in "AB"]
    rows += [{"symbol": s, "as_of": d[1], "close": 9.0, "sma_50": np.nan} for s in "CDE"]
    breadth = collapse_breadth(pd.DataFrame(rows))
    assert breadth.iloc[0] == pytest.approx(1.0)
    assert np.isnan(breadth.iloc[1])  # two names with an average: no market's breadth


@pytest.mark.parametrize(("market", "black_swans", "defensive", "days"), [
    ("crypto", 12, 163, 1425), ("hk", 1, 20, 1472), ("cn", 30, 458, 4857)])
def test_the_readmes_black_swan_and_defensive_counts_on_the_builtin_data(
        market: str, black_swans: int, defensive: int, days: int) -> None:
    """The figures the README gives, computed as the graph does (the universe's breadth
    through ``collapse_breadth``, the market's always-open rule)."""
    from trade_pipelines.agent.loop import wiring
    from trade_pipelines.agent.markets import market_rules
    from trade_pipelines.agent.perception.anomalies import benchmark_black_swans
    from trade_pipelines.agent.perception.features import compute_features
    from trade_pipelines.agent.perception.regime import collapse_breadth
    from trade_pipelines.market_data.builtin import load_builtin_bars
    from trade_pipelines.market_data.builtin_markets import builtin_universe

    rules = market_rules(market)
    bars = load_builtin_bars(market)
    universe = bars[bars["symbol"].isin(builtin_universe(market))]
    features = wiring.with_breadth(compute_features(universe))
    benchmark = bars[bars["symbol"] == rules.benchmark_symbol]
    regimes = wiring.market_regimes(benchmark, features, bars.iloc[0:0], universe,
                                    rules.always_open)
    swans = benchmark_black_swans(benchmark, collapse_breadth(features), rules.always_open)
    assert (int(swans["black_swan"].sum()), int(regimes["defensive"].sum()),
            len(regimes)) == (black_swans, defensive, days)
    readme = " ".join((Path(__file__).parents[3] / "README.md").read_text().split())
    said = {"crypto": f"{black_swans} black-swan and {defensive} defensive days of {days:,} "
                      "for BTC",
            "hk": f"{black_swans} and {defensive} of {days:,} for the Hang Seng",
            "cn": f"{black_swans} and {defensive} of {days:,} for the CSI 300"}[market]
    assert said in readme
    if market == "crypto":  # "BTC fell 7% or more in a day 48 times"
        falls = int((benchmark.sort_values("as_of")["close"].pct_change() <= -0.07).sum())
        assert f"BTC fell 7% or more in a day {falls} times in 2013-09..2017-07" in readme
        assert falls == 48
