"""The akshare adapter: akshare's own functions, over real HTTP, against recorded East
Money bodies (``china_http.py``); time-outs that bound a hang; offline, a quick clear
error."""

from __future__ import annotations

import time
from datetime import date

import pandas as pd
import pytest
from china_http import RecordedChinaServer, routed_to, silent_server

from trade_pipelines.agent.perception.validation import CANONICAL_COLUMNS, validate_bars
from trade_pipelines.market_data.akshare_source import AkshareSource, akshare_request
from trade_pipelines.market_data.builtin_markets import raw_market_bars
from trade_pipelines.market_data.errors import DataSourceUnavailable, SourceUnreachable

JULY_3, JULY_7 = date(2017, 7, 3), date(2017, 7, 7)


def test_our_tickers_become_akshare_codes() -> None:
    cases = {"600036.SH": ("a_share", "600036"), "000002.sz": ("a_share", "000002"),
             "000300.SH": ("cn_index", "sh000300"), "000001.SH": ("cn_index", "sh000001"),
             "399001.SZ": ("cn_index", "sz399001"), "0700.HK": ("hk", "00700"),
             "600036.SS": ("a_share", "600036")}
    for ours, (kind, code) in cases.items():
        request = akshare_request(ours)
        assert request is not None and (request.kind, request.code) == (kind, code), ours
    for other in ("^HSI", "AAPL", "BTC-CNY", "60036.SH", "ABC.HK"):
        assert akshare_request(other) is None, other


def test_a_shares_an_index_and_hong_kong_from_recorded_east_money_bodies() -> None:
    with RecordedChinaServer() as server, routed_to(server.url):
        bars = AkshareSource(timeout_s=5).fetch(["600036.SH", "000300.SH", "0700.HK"],
                                                JULY_3, JULY_7)
    assert list(bars.columns) == [*CANONICAL_COLUMNS, "source"]
    assert set(bars["source"]) == {"akshare"}
    assert bars.groupby("symbol").size().to_dict() == {"000300.SH": 5, "0700.HK": 5,
                                                       "600036.SH": 5}
    first = bars[bars["symbol"] == "600036.SH"].iloc[0]
    # The recorded kline "2017-07-03,23.80,23.52,23.80,23.33,416239,...": volume in lots.
    assert (first["as_of"], first["open"], first["close"], first["high"], first["low"]) == (
        JULY_3, 23.80, 23.52, 23.80, 23.33)
    assert first["volume"] == 416239 * 100
    assert validate_bars(bars).rejected.empty
    # The requests akshare made: East Money's k-line API, forward-adjusted for stocks.
    asked = {q["secid"]: q for _, host, _, q in server.requests}
    assert asked["1.600036"]["fqt"] == "1" and asked["116.00700"]["fqt"] == "1"
    assert (asked["1.600036"]["beg"], asked["1.600036"]["end"]) == ("20170703", "20170707")
    assert asked["1.000300"]["klt"] == "101"
    # The recordings hold real history: the closes are the built-in bars' closes.
    builtin = pd.concat([raw_market_bars("cn"), raw_market_bars("hk")])
    builtin["as_of"] = pd.to_datetime(builtin["as_of"]).dt.date
    merged = bars.merge(builtin, on=["symbol", "as_of"], suffixes=("", "_builtin"))
    assert len(merged) == 15
    assert (merged["close"] - merged["close_builtin"]).abs().max() < 0.01


def test_hong_kong_volume_is_in_shares_and_a_share_volume_converted_from_lots() -> None:
    with RecordedChinaServer() as server, routed_to(server.url):
        bars = AkshareSource(timeout_s=5).fetch(["0700.HK", "600036.SH"], JULY_3, JULY_3)
    builtin = pd.concat([raw_market_bars("cn"), raw_market_bars("hk")])
    builtin = builtin[pd.to_datetime(builtin["as_of"]).dt.date == JULY_3].set_index("symbol")
    ours = bars.set_index("symbol")["volume"]
    assert ours["0700.HK"] == builtin.loc["0700.HK", "volume"]
    assert abs(ours["600036.SH"] - builtin.loc["600036.SH", "volume"]) <= 50  # lot rounding


def test_symbols_akshare_does_not_serve_are_named() -> None:
    with RecordedChinaServer() as server, routed_to(server.url), \
            pytest.raises(DataSourceUnavailable) as caught:
        AkshareSource(timeout_s=5).fetch(["600036.SH", "^HSI", "601398.SH"], JULY_3, JULY_7)
    assert set(caught.value.symbols) == {"^HSI", "601398.SH"}
    assert "^HSI: not an A-share" in str(caught.value)
    assert "601398.SH: no bar in range" in str(caught.value)
    assert not isinstance(caught.value, SourceUnreachable)
    assert all(q["secid"] != "^HSI" for *_, q in server.requests)


def test_an_answer_without_data_is_reported_not_raised_raw() -> None:
    """East Money answers ``"data": null`` for a Hong Kong code it does not know;
    akshare's stock_hk_hist then fails on it: that is a missing symbol, said plainly."""
    with RecordedChinaServer() as server, routed_to(server.url), \
            pytest.raises(DataSourceUnavailable, match="9999.HK: unreadable answer"):
        AkshareSource(timeout_s=5).fetch(["9999.HK"], JULY_3, JULY_7)


def test_connection_drops_are_retried_with_back_off() -> None:
    with RecordedChinaServer(drop_first=2) as server, routed_to(server.url):
        bars = AkshareSource(timeout_s=5, attempts=3, backoff_s=0.05).fetch(
            ["600036.SH"], JULY_3, JULY_7)
    assert len(bars) == 5 and len(server.requests) == 3


def test_too_many_drops_raise_source_unreachable_naming_what_is_left() -> None:
    with RecordedChinaServer(drop_first=10) as server, routed_to(server.url), \
            pytest.raises(SourceUnreachable, match="after 2 attempt") as caught:
        AkshareSource(timeout_s=5, attempts=2, backoff_s=0.01).fetch(
            ["600036.SH", "0700.HK"], JULY_3, JULY_7)
    assert set(caught.value.symbols) == {"600036.SH", "0700.HK"}
    assert len(server.requests) == 2  # the source is down: 0700.HK was not even tried


@pytest.mark.parametrize("symbol", ["600036.SH", "0700.HK", "000300.SH"])
def test_a_hang_is_bounded_by_the_time_out_times_the_attempts(symbol: str) -> None:
    """stock_hk_hist hard-codes a 15 s time-out and stock_zh_index_daily_em none: ours
    applies to every request all the same."""
    timeout, attempts, backoff = 0.4, 2, 0.1
    with silent_server() as url, routed_to(url):
        started = time.perf_counter()
        with pytest.raises(SourceUnreachable, match="timed out") as caught:
            AkshareSource(timeout_s=timeout, attempts=attempts, backoff_s=backoff).fetch(
                [symbol], JULY_3, JULY_7)
        elapsed = time.perf_counter() - started
    assert caught.value.symbols == (symbol,)
    assert timeout * attempts <= elapsed < timeout * attempts + backoff + 1.5


def test_loan_prime_rates_from_the_recorded_data_centre_body() -> None:
    with RecordedChinaServer() as server, routed_to(server.url):
        rates = AkshareSource(timeout_s=5).loan_prime_rates(date(2019, 1, 1),
                                                            date(2024, 1, 31))
    assert rates["as_of"].tolist() == [date(2019, 7, 22), date(2023, 12, 20),
                                       date(2024, 1, 22)]
    assert rates["lpr_1y"].tolist() == [4.31, 3.45, 3.45]
    assert pd.isna(rates["lpr_5y"].iloc[0]) and rates["lpr_5y"].iloc[-1] == 4.2
    assert server.requests[0][3]["reportName"] == "RPTA_WEB_RATE"


def test_offline_the_real_akshare_raises_quickly_and_clearly() -> None:
    """No local server: this calls East Money. Offline (DNS fails at once) the adapter
    raises within seconds, saying the source is unreachable."""
    import akshare.stock_feature.stock_hist_em  # noqa: F401  (import time is not network time)

    started = time.perf_counter()
    try:
        bars = AkshareSource(timeout_s=3, attempts=2, backoff_s=0.2).fetch(
            ["600036.SH"], date(2024, 1, 2), date(2024, 1, 8))
    except DataSourceUnavailable as error:
        assert "akshare" in str(error) and error.symbols == ("600036.SH",)
    else:  # the network is reachable: then the answer must be real bars
        assert set(bars["symbol"]) == {"600036.SH"}
        assert validate_bars(bars).rejected.empty
    assert time.perf_counter() - started < 10
