"""The tushare adapter: tushare's own ``DataApi`` over real HTTP to a local server that
answers from recorded bodies (``china_http.py``); the token; forward adjustment;
bounded hangs; offline, a quick clear error."""

from __future__ import annotations

import time
from datetime import date

import pandas as pd
import pytest
from china_http import RECORDED_TOKEN, RecordedChinaServer, routed_to, silent_server

from trade_pipelines.agent.perception.validation import CANONICAL_COLUMNS, validate_bars
from trade_pipelines.market_data.akshare_source import AkshareSource
from trade_pipelines.market_data.errors import DataSourceUnavailable, SourceUnreachable
from trade_pipelines.market_data.tushare_source import (
    TOKEN_ENV,
    TushareSource,
    bars_from_tushare_frames,
    is_index,
)

JULY_3, JULY_26 = date(2017, 7, 3), date(2017, 7, 26)
EX_DIVIDEND = date(2017, 7, 13)


def recorded_source(server: RecordedChinaServer, **kwargs: float) -> TushareSource:
    return TushareSource(token=RECORDED_TOKEN, base_url=f"{server.url}/api.waditu.com/dataapi",
                         **kwargs)


def test_without_a_token_it_says_which_variable_to_set(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(SourceUnreachable, match="set TUSHARE_TOKEN") as caught:
        TushareSource().fetch(["600036.SH"], JULY_3, JULY_26)
    assert caught.value.symbols == ("600036.SH",)


def test_the_token_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, RECORDED_TOKEN)
    with RecordedChinaServer() as server:
        bars = TushareSource(base_url=f"{server.url}/api.waditu.com/dataapi").fetch(
            ["600036.SH"], JULY_3, JULY_3)
    assert len(bars) == 1
    assert server.requests[0][3]["token"] == RECORDED_TOKEN


def test_daily_bars_forward_adjusted_from_recorded_tushare_bodies() -> None:
    with RecordedChinaServer() as server:
        bars = recorded_source(server, timeout_s=5).fetch(["600036.SH", "000300.SH"],
                                                          JULY_3, JULY_26)
    assert list(bars.columns) == [*CANONICAL_COLUMNS, "source"]
    assert set(bars["source"]) == {"tushare"}
    assert validate_bars(bars).rejected.empty
    cmb = bars[bars["symbol"] == "600036.SH"].set_index("as_of")
    assert len(cmb) == 18 and cmb.index.is_monotonic_increasing
    # The day before the ex-dividend day, recorded raw at 25.11 with a factor of 7.0
    # (7.2228 since): forward-adjusted to 25.11 * 7.0 / 7.2228 = 24.34, East Money's qfq.
    assert cmb.loc[date(2017, 7, 12), "close"] == pytest.approx(25.11 * 7.0 / 7.2228, abs=1e-4)
    assert cmb.loc[date(2017, 7, 12), "close"] == pytest.approx(24.34, abs=0.005)
    assert cmb.loc[EX_DIVIDEND, "close"] == 24.9  # from the ex-day on, raw = adjusted
    assert cmb.loc[JULY_26, "close"] == 25.56  # the latest day: factor / latest = 1
    assert cmb.loc[JULY_26, "volume"] == pytest.approx(233354.48 * 100)  # lots -> shares
    csi = bars[bars["symbol"] == "000300.SH"]
    assert len(csi) == 18 and csi["close"].iloc[0] == pytest.approx(3650.846)
    calls = [(path, body["params"]) for _, _, path, body in server.requests]
    assert [path for path, _ in calls] == ["/dataapi/daily", "/dataapi/adj_factor",
                                           "/dataapi/index_daily"]
    assert calls[0][1] == {"ts_code": "600036.SH", "start_date": "20170703",
                           "end_date": "20170726",
                           "ts_type_name": f"{server.url}/api.waditu.com/dataapi"}
    assert "end_date" not in calls[1][1]  # factors up to today: today's share basis


def test_tushare_and_akshare_agree_on_the_forward_adjusted_closes() -> None:
    with RecordedChinaServer() as server:
        ours = recorded_source(server).fetch(["600036.SH"], JULY_3, JULY_26)
        with routed_to(server.url):
            theirs = AkshareSource().fetch(["600036.SH"], JULY_3, JULY_26)
    both = ours.merge(theirs, on=["symbol", "as_of"], suffixes=("_ts", "_ak"))
    assert len(both) == 18
    assert (both["close_ts"] - both["close_ak"]).abs().max() < 0.011


def test_a_wrong_token_is_refused_with_tushare_s_message() -> None:
    with RecordedChinaServer() as server, pytest.raises(SourceUnreachable,
                                                        match="token不对") as caught:
        TushareSource(token="wrong", base_url=f"{server.url}/api.waditu.com/dataapi").fetch(
            ["600036.SH", "000002.SZ"], JULY_3, JULY_26)
    assert set(caught.value.symbols) == {"600036.SH", "000002.SZ"}
    assert len(server.requests) == 1  # a refusal is not retried


def test_unknown_and_foreign_symbols_are_named() -> None:
    with RecordedChinaServer() as server, pytest.raises(DataSourceUnavailable) as caught:
        recorded_source(server).fetch(["600036.SH", "601398.SH", "0700.HK"], JULY_3, JULY_26)
    assert set(caught.value.symbols) == {"601398.SH", "0700.HK"}
    assert "0700.HK: not an A-share" in str(caught.value)


def test_a_day_without_a_factor_is_dropped_not_left_unadjusted() -> None:
    daily = pd.DataFrame({"ts_code": "600036.SH", "trade_date": ["20170712", "20170713"],
                          "open": [24.7, 24.0], "high": [24.9, 24.2], "low": [24.5, 23.9],
                          "close": [24.72, 24.0], "vol": [1000.0, 2000.0]})
    factors = pd.DataFrame({"ts_code": "600036.SH", "trade_date": ["20170713"],
                            "adj_factor": [7.2228]})
    bars = bars_from_tushare_frames(daily, factors, "600036.SH")
    assert bars["as_of"].tolist() == [date(2017, 7, 13)]
    assert bars["volume"].tolist() == [200_000.0]


def test_indices_are_recognised() -> None:
    assert is_index("000300.SH") and is_index("399001.SZ")
    assert not is_index("000002.SZ") and not is_index("600036.SH")


def test_a_hang_is_bounded_by_the_time_out_times_the_attempts() -> None:
    timeout, attempts, backoff = 0.4, 2, 0.1
    with silent_server() as url:
        started = time.perf_counter()
        with pytest.raises(SourceUnreachable, match="timed out"):
            TushareSource(token=RECORDED_TOKEN, base_url=f"{url}/dataapi", timeout_s=timeout,
                          attempts=attempts, backoff_s=backoff).fetch(
                ["600036.SH"], JULY_3, JULY_26)
        elapsed = time.perf_counter() - started
    assert timeout * attempts <= elapsed < timeout * attempts + backoff + 1.5


def test_offline_the_real_tushare_raises_quickly_and_clearly() -> None:
    """No local server: this calls tushare's API (with a token that is not real).
    Offline (DNS fails at once) the adapter raises within seconds."""
    import tushare  # noqa: F401  (import time is not network time)

    started = time.perf_counter()
    with pytest.raises(DataSourceUnavailable, match="tushare") as caught:
        TushareSource(token="not-a-real-token", timeout_s=3, attempts=2,
                      backoff_s=0.2).fetch(["600036.SH"], date(2024, 1, 2), date(2024, 1, 8))
    # Offline: unreachable; online: tushare refuses the made-up token. Either way, clear.
    assert caught.value.symbols == ("600036.SH",)
    assert time.perf_counter() - started < 10
