"""The source chain: scores, failover, cross-checks and the cache, with the real akshare
and tushare adapters talking HTTP to a local server of recorded bodies (``china_http.py``),
whose answers a test edits (a stale series, a disagreeing one) or cuts (an outage)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from china_http import RECORDED_TOKEN, RecordedChinaServer, routed_to

from trade_pipelines.market_data.akshare_source import AkshareSource
from trade_pipelines.market_data.calendar import exchange_sessions
from trade_pipelines.market_data.errors import DataSourceUnavailable
from trade_pipelines.market_data.loading import check_source, load_bars
from trade_pipelines.market_data.source_chain import (
    CHAINS,
    BarCache,
    QualityPolicy,
    SourceChain,
    closed_sessions,
    compare_closes,
    market_chain,
    score_bars,
    unadjusted_jumps,
)
from trade_pipelines.market_data.tushare_source import TOKEN_ENV, TushareSource
from trade_pipelines.warehouse import Warehouse

FIRST, LAST = date(2017, 7, 3), date(2017, 7, 26)
# The next morning in Shanghai: every session of the window has closed.
NEXT_MORNING = datetime(2017, 7, 27, 1, 0)


def cn_chain(cache: Path | None, clock: datetime = NEXT_MORNING,
             policy: QualityPolicy | None = None) -> SourceChain:
    """A-shares: akshare, then tushare (at its usual address: ``routed_to`` reroutes)."""
    return SourceChain("cn", [
        ("akshare", AkshareSource(timeout_s=3, attempts=2, backoff_s=0.01)),
        ("tushare", TushareSource(token=RECORDED_TOKEN, timeout_s=3, attempts=2,
                                  backoff_s=0.01)),
    ], BarCache(cache) if cache is not None else None, policy, clock=lambda: clock)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    """A new warehouse, with the recorded tushare token set (the live chain's second
    source)."""
    monkeypatch.setenv(TOKEN_ENV, RECORDED_TOKEN)
    store = Warehouse(tmp_path / "warehouse.duckdb")
    store.migrate()
    return store


def cut_klines_after(day: str) -> Any:
    def edit(key: str, body: dict[str, Any]) -> None:
        if key == "1.600036":
            body["data"]["klines"] = [k for k in body["data"]["klines"] if k[:10] <= day]
    return edit


def by_source(result: Any, symbol: str) -> dict[str, Any]:
    return {q.source: q for q in result.qualities if q.symbol == symbol}


# -- scoring, pure ---------------------------------------------------------------------

def bars_on(days: list[date], close: float = 10.0) -> pd.DataFrame:
    return pd.DataFrame({"symbol": "X", "as_of": days, "open": close, "high": close,
                         "low": close, "close": close, "volume": 1.0, "source": "s"})


def test_a_complete_fresh_quick_answer_scores_one() -> None:
    sessions = exchange_sessions(FIRST, LAST, "XSHG")
    parts = score_bars(bars_on(sessions), sessions, sessions, 0.2, QualityPolicy())
    assert parts["score"] == 1.0 and parts["gaps"] == 0 and parts["stale_sessions"] == 0


def test_gaps_stale_sessions_off_calendar_days_and_latency_each_cost() -> None:
    policy = QualityPolicy()
    sessions = exchange_sessions(FIRST, LAST, "XSHG")  # 18 sessions
    holey = [d for i, d in enumerate(sessions) if i not in (3, 4)]
    assert score_bars(bars_on(holey), sessions, sessions, 0, policy)["score"] == \
        pytest.approx(1 - 2 / 18, abs=1e-4)
    stale = score_bars(bars_on(sessions[:-2]), sessions, sessions, 0, policy)
    assert (stale["stale_sessions"], stale["gaps"]) == (2, 0)
    assert stale["score"] == pytest.approx(0.7) and stale["score"] < policy.threshold
    one_late = score_bars(bars_on(sessions[:-1]), sessions, sessions, 0, policy)
    assert one_late["score"] >= policy.threshold  # one late session is tolerated
    weekend = score_bars(bars_on([*sessions, date(2017, 7, 8)]), sessions, sessions, 0,
                         policy)
    assert weekend["off_calendar"] == 1 and weekend["score"] < 1
    slow = score_bars(bars_on(sessions), sessions, sessions, 10.0, policy)
    assert slow["score"] == pytest.approx(0.8)


def test_only_sessions_closed_by_now_are_expected() -> None:
    # 2017-07-26 06:00 UTC is 14:00 in Shanghai: that day's session is still open.
    before_close = closed_sessions(FIRST, LAST, "cn", datetime(2017, 7, 26, 6, 0))
    after_close = closed_sessions(FIRST, LAST, "cn", datetime(2017, 7, 26, 7, 30))
    assert before_close[-1] == date(2017, 7, 25) and after_close[-1] == LAST


def test_the_vix_of_a_session_is_expected_and_served_only_after_16_15() -> None:
    """At 16:10 New York (20:10 UTC in March 2024) the S&P 500's bar is final, the
    VIX's is not: the chain neither serves the VIX's bar nor counts it stale."""
    from trade_pipelines.market_data.source_chain import SourceChain

    day, now = date(2024, 3, 14), datetime(2024, 3, 14, 20, 10)
    assert closed_sessions(date(2024, 3, 11), day, "us", now, "^GSPC")[-1] == day
    assert closed_sessions(date(2024, 3, 11), day, "us", now, "^VIX")[-1] == date(2024, 3, 13)

    class Today:
        def fetch(self, symbols: list[str], start: date, end: date) -> pd.DataFrame:
            days = exchange_sessions(start, end, "XNYS")
            return pd.concat([bars_on(days).assign(symbol=s, source="today")
                              for s in symbols], ignore_index=True)

    result = SourceChain("us", [("today", Today())], clock=lambda: now).fetch(
        ["^GSPC", "^VIX"], date(2024, 3, 11), day)
    last = result.bars.groupby("symbol")["as_of"].max()
    assert (last["^GSPC"], last["^VIX"]) == (day, date(2024, 3, 13))
    vix = by_source(result, "^VIX")["today"]
    assert (vix.stale_sessions, vix.score) == (0, 1.0)


def test_closes_compared_on_the_latest_common_days() -> None:
    sessions = exchange_sessions(FIRST, LAST, "XSHG")
    a, b = bars_on(sessions, 10.0), bars_on(sessions, 10.0)
    b.loc[b.index[-3:], "close"] = 10.5
    compared, differing, worst = compare_closes(a, b, QualityPolicy(compare_last=10))
    assert (compared, differing) == (10, 3) and worst == pytest.approx(0.5 / 10.5, abs=1e-6)


def test_each_market_has_its_chain() -> None:
    assert CHAINS == {"us": ("yfinance",), "cn": ("akshare", "tushare"),
                      "hk": ("akshare", "yfinance"), "crypto": ("yfinance",)}
    assert [name for name, _ in market_chain("hk", None).sources] == ["akshare", "yfinance"]
    assert check_source("live") == "live"


# -- the chain over recorded HTTP ------------------------------------------------------

def test_the_first_source_answers_and_the_second_cross_checks(tmp_path: Path) -> None:
    with RecordedChinaServer() as server, routed_to(server.url):
        result = cn_chain(tmp_path).fetch(["600036.SH", "000300.SH"], FIRST, LAST)
    assert not result.unavailable and not result.warnings
    assert len(result.bars) == 36 and set(result.bars["source"]) == {"akshare"}
    cmb = by_source(result, "600036.SH")
    assert (cmb["akshare"].outcome, cmb["akshare"].score) == ("active", 1.0)
    assert cmb["tushare"].outcome == "cross-check"
    assert (cmb["akshare"].compared, cmb["akshare"].disagreements) == (18, 0)
    assert result.metadata()["active_source"] == "akshare"
    assert result.metadata()["source_score"] == 1.0
    assert result.metadata()["served_from_cache"] == "no"


def test_failover_when_the_first_source_cannot_be_reached(tmp_path: Path) -> None:
    # The first two connections drop: akshare's two attempts. tushare then answers.
    with RecordedChinaServer(drop_first=2) as server, routed_to(server.url):
        result = cn_chain(tmp_path).fetch(["600036.SH", "000300.SH"], FIRST, LAST)
    assert set(result.bars["source"]) == {"tushare"} and len(result.bars) == 36
    cmb = by_source(result, "600036.SH")
    assert cmb["akshare"].outcome == "failed" and "unreachable" in cmb["akshare"].error
    assert cmb["tushare"].outcome == "active"
    # Down for one symbol, down for the fetch: akshare was not asked for the index.
    assert "akshare" not in by_source(result, "000300.SH")
    akshare_calls = [r for r in server.requests if "eastmoney" in r[1]]
    assert len(akshare_calls) == 2


def test_failover_when_the_first_source_is_stale(tmp_path: Path) -> None:
    with RecordedChinaServer(edit=cut_klines_after("2017-07-19")) as server, \
            routed_to(server.url):
        result = cn_chain(tmp_path).fetch(["600036.SH"], FIRST, LAST)
    cmb = by_source(result, "600036.SH")
    assert cmb["akshare"].stale_sessions == 5 and cmb["akshare"].score < 0.75
    assert cmb["akshare"].outcome == "standby"
    assert (cmb["tushare"].outcome, cmb["tushare"].score) == ("active", 1.0)
    assert result.bars["as_of"].max() == LAST and set(result.bars["source"]) == {"tushare"}


def test_failover_when_the_first_source_has_gaps(tmp_path: Path) -> None:
    def holes(key: str, body: dict[str, Any]) -> None:
        if key == "1.600036":
            body["data"]["klines"] = body["data"]["klines"][::3]

    with RecordedChinaServer(edit=holes) as server, routed_to(server.url):
        result = cn_chain(tmp_path).fetch(["600036.SH"], FIRST, LAST)
    cmb = by_source(result, "600036.SH")
    assert cmb["akshare"].gaps >= 10 and cmb["akshare"].outcome == "standby"
    assert cmb["tushare"].outcome == "active" and len(result.bars) == 18


def test_a_disagreement_between_sources_is_flagged(tmp_path: Path) -> None:
    def inflate(key: str, body: dict[str, Any]) -> None:
        if key == "daily:600036.SH":  # the three newest raw closes 5% too high
            fields = body["data"]["fields"]
            for row in body["data"]["items"][:3]:
                for column in ("high", "close"):
                    row[fields.index(column)] = round(row[fields.index(column)] * 1.05, 2)

    with RecordedChinaServer(edit=inflate) as server, routed_to(server.url):
        result = cn_chain(tmp_path).fetch(["600036.SH"], FIRST, LAST)
    cmb = by_source(result, "600036.SH")
    assert (cmb["akshare"].compared, cmb["akshare"].disagreements) == (18, 3)
    assert cmb["akshare"].max_deviation == pytest.approx(0.05 / 1.05, abs=0.002)
    assert cmb["akshare"].score == cmb["tushare"].score == pytest.approx(1 - 0.5 * 3 / 18,
                                                                         abs=1e-4)
    assert any("disagree on 3 of 18" in w for w in result.warnings)
    assert cmb["akshare"].outcome == "active"  # on a tie the chain's order decides


def test_the_cache_serves_when_every_source_is_down(tmp_path: Path) -> None:
    with RecordedChinaServer() as server, routed_to(server.url):
        fresh = cn_chain(tmp_path).fetch(["600036.SH"], FIRST, LAST)
        assert (tmp_path / "akshare" / "600036.SH.parquet").exists()
        server.down = True
        later = NEXT_MORNING + timedelta(days=3)
        served = cn_chain(tmp_path, clock=later).fetch(["600036.SH"], FIRST, LAST)
    pd.testing.assert_frame_equal(served.bars, fresh.bars)
    assert served.from_cache == {"600036.SH": "18 cached akshare bar(s) up to 2017-07-26"}
    assert served.metadata()["served_from_cache"].startswith("600036.SH: 18 cached")
    assert any("served from cache" in w for w in served.warnings)
    outcomes = {(q.source, q.outcome) for q in served.qualities}
    assert outcomes == {("akshare", "failed"), ("tushare", "failed"), ("akshare", "cache")}
    assert not served.unavailable


def test_with_no_source_and_no_cache_the_symbol_is_unavailable(tmp_path: Path) -> None:
    with RecordedChinaServer() as server, routed_to(server.url):
        server.down = True
        result = cn_chain(tmp_path).fetch(["600036.SH"], FIRST, LAST)
    assert result.bars.empty and list(result.unavailable) == ["600036.SH"]
    assert "akshare" in result.unavailable["600036.SH"]


def test_a_session_still_open_is_not_served_as_a_bar(tmp_path: Path) -> None:
    with RecordedChinaServer() as server, routed_to(server.url):
        result = cn_chain(None, clock=datetime(2017, 7, 26, 6, 0)).fetch(
            ["600036.SH"], FIRST, LAST)
    assert result.bars["as_of"].max() == date(2017, 7, 25)
    assert by_source(result, "600036.SH")["akshare"].score == 1.0


# -- loading: the warehouse, the history, the asset's metadata -------------------------

def test_live_loading_stores_bars_and_records_every_score(store: Warehouse, tmp_path: Path) -> None:
    with RecordedChinaServer() as server, routed_to(server.url):
        report = load_bars("live", store, ["600036.SH", "000300.SH"], FIRST, LAST,
                           timedelta(0))
    assert report.loaded == 36 and report.refused.empty
    assert report.source_metadata["active_source"] == "akshare"
    assert report.source_metadata["source_score"] == 1.0
    assert "| 600036.SH | akshare | active | 1.0 |" in report.source_quality
    bars = store.query("SELECT * FROM bars WHERE symbol = '600036.SH' ORDER BY as_of")
    assert len(bars) == 18 and set(bars["source"]) == {"akshare"}
    # Known at the Shanghai close, 15:00 (07:00 UTC), not New York's.
    assert bars["available_at"].iloc[0] == pd.Timestamp("2017-07-03 07:00")
    quality = store.query("SELECT * FROM source_quality ORDER BY symbol, rank")
    assert list(zip(quality["symbol"], quality["source"], quality["outcome"],
                    strict=True)) == [
        ("000300.SH", "akshare", "active"), ("000300.SH", "tushare", "cross-check"),
        ("600036.SH", "akshare", "active"), ("600036.SH", "tushare", "cross-check")]
    assert set(quality["market"]) == {"cn"} and set(quality["as_of"]) == {pd.Timestamp(LAST)}
    assert (tmp_path / "cache" / "akshare" / "000300.SH.parquet").exists()


def test_live_loading_with_everything_down_and_no_cache_raises_and_records(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    store = Warehouse(tmp_path / "warehouse.duckdb")
    store.migrate()
    with RecordedChinaServer() as server, routed_to(server.url):
        server.down = True
        with pytest.raises(DataSourceUnavailable, match="TUSHARE_TOKEN") as caught:
            load_bars("live", store, ["600036.SH"], FIRST, LAST, timedelta(0))
    assert caught.value.symbols == ("600036.SH",)
    assert store.query("SELECT count(*) AS n FROM bars")["n"].iloc[0] == 0
    recorded = store.query("SELECT source, outcome FROM source_quality ORDER BY rank")
    assert recorded.values.tolist() == [["akshare", "failed"], ["tushare", "failed"]]


def test_the_market_bars_asset_shows_the_active_source_and_its_score(
        project_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the asset: the recordings cover June-July 2017 only, while the asset asks
    for the year so far plus the features' look-back, so both sources score low for gaps:
    the chain serves the better one (akshare, first on a tie) and says so."""
    from dagster import AssetSelection, DagsterInstance, materialize

    from trade_pipelines.assets import ALL_ASSETS
    from trade_pipelines.assets.common import LAST_DAY_TAG
    from trade_pipelines.definitions import build_resources
    from trade_pipelines.settings import Paths

    monkeypatch.setenv(TOKEN_ENV, RECORDED_TOKEN)
    with RecordedChinaServer() as server, routed_to(server.url), \
            DagsterInstance.ephemeral() as instance:
        result = materialize(
            ALL_ASSETS, selection=AssetSelection.assets("market_bars"),
            partition_key="2017-01-01", tags={LAST_DAY_TAG: "2017-07-26"},
            instance=instance, raise_on_error=False,
            resources=build_resources(home=project_home, source="live", symbols="600036.SH"))
    assert result.success
    [materialization] = result.asset_materializations_for_node("market_bars")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["source"] == "live" and metadata["active_source"] == "akshare"
    assert 0 < metadata["source_score"] < QualityPolicy().threshold
    assert "below 0.75" in metadata["source_warnings"]
    assert metadata["served_from_cache"] == "no"
    assert "| 000300.SH | akshare | active |" in metadata["source_quality"]
    quality = Warehouse(Paths(project_home).warehouse).query(
        "SELECT symbol, source, outcome FROM source_quality ORDER BY symbol, rank")
    assert quality.values.tolist() == [["000300.SH", "akshare", "active"],
                                       ["000300.SH", "tushare", "standby"],
                                       ["600036.SH", "akshare", "active"],
                                       ["600036.SH", "tushare", "standby"]]


# -- unadjusted splits and dividends ---------------------------------------------------

def series(symbol: str, closes: list[float], first: date = FIRST) -> pd.DataFrame:
    days = exchange_sessions(first, first + timedelta(days=40), "XSHG")[:len(closes)]
    return pd.DataFrame({"symbol": symbol, "as_of": days, "open": closes, "high": closes,
                         "low": closes, "close": closes, "volume": 1.0})


def test_jumps_beyond_a_price_limit_or_at_a_split_ratio_are_suspected() -> None:
    assert unadjusted_jumps(series("600036.SH", [20, 20.5, 10.3, 10.4]), "cn")[
        ["symbol", "as_of"]].values.tolist() == [["600036.SH", date(2017, 7, 5)]]
    assert "beyond the 10% daily price limit" in unadjusted_jumps(
        series("600036.SH", [20, 15.4]), "cn")["reason"].iloc[0]  # a 3-for-10 bonus issue
    assert unadjusted_jumps(series("600036.SH", [20, 18.1, 16.4]), "cn").empty  # limit-down
    # ChiNext's limit is 20% since 2020-08-24, 10% before.
    assert unadjusted_jumps(series("300059.SZ", [20, 16.2], date(2021, 3, 1)), "cn").empty
    assert not unadjusted_jumps(series("300059.SZ", [20, 16.7]), "cn").empty  # 2 for 10
    assert unadjusted_jumps(series("300059.SZ", [20, 16.7], date(2021, 3, 1)), "cn").empty
    split = unadjusted_jumps(series("AAPL", [400, 402, 201.5]), "us")
    assert split["reason"].tolist() == [
        "unadjusted split suspected: close x0.501 looks like a 2-for-1 split"]
    assert not unadjusted_jumps(series("0700.HK", [300, 200.5]), "hk").empty  # 3-for-2
    assert unadjusted_jumps(series("0700.HK", [300, 180]), "hk").empty  # a crash, no ratio
    assert unadjusted_jumps(series("BTC-CNY", [40000, 20000]), "crypto").empty


def test_a_listing_inside_the_window_is_free_of_the_limit_one_cut_by_it_is_not() -> None:
    listing = series("688981.SH", [60, 82, 80], date(2020, 7, 16))  # +37% on session 2
    assert unadjusted_jumps(listing, "cn").empty
    assert unadjusted_jumps(listing, "cn", window_start=date(2020, 7, 1)).empty
    # The window began on its first bar: its history goes back further, no listing here.
    cut = unadjusted_jumps(listing, "cn", window_start=date(2020, 7, 16))
    assert cut["as_of"].tolist() == [date(2020, 7, 17)]


def halve_before(day: str) -> Any:
    """Both sources' bars before ``day`` on a share basis twice as high: an unadjusted
    2-for-1 split (East Money's qfq body, tushare's raw prices)."""
    def edit(key: str, body: dict[str, Any]) -> None:
        if key == "1.600036":
            lines = []
            for line in body["data"]["klines"]:
                fields = line.split(",")
                if fields[0] < day:
                    fields[1:5] = [f"{float(v) * 2:.2f}" for v in fields[1:5]]
                lines.append(",".join(fields))
            body["data"]["klines"] = lines
        if key == "daily:600036.SH":
            names = body["data"]["fields"]
            for row in body["data"]["items"]:
                if row[1] < day.replace("-", ""):
                    for column in ("open", "high", "low", "close"):
                        row[names.index(column)] *= 2
    return edit


def test_a_source_whose_bars_jump_loses_to_one_whose_do_not(tmp_path: Path) -> None:
    one_source = halve_before("2017-07-13")

    def akshare_only(key: str, body: dict[str, Any]) -> None:
        if key == "1.600036":
            one_source(key, body)

    with RecordedChinaServer(edit=akshare_only) as server, routed_to(server.url):
        result = cn_chain(tmp_path).fetch(["600036.SH"], FIRST, LAST)
    cmb = by_source(result, "600036.SH")
    assert cmb["akshare"].jumps == 1 and cmb["akshare"].score < 0.75
    assert cmb["tushare"].outcome == "active" and cmb["tushare"].jumps == 0
    assert result.set_aside.empty and len(result.bars) == 18


def test_a_jump_in_every_source_is_never_traded_on(store: Warehouse, tmp_path: Path) -> None:
    with RecordedChinaServer(edit=halve_before("2017-07-13")) as server, \
            routed_to(server.url):
        report = load_bars("live", store, ["600036.SH"], FIRST, LAST, timedelta(0))
    bars = store.query("SELECT as_of FROM bars ORDER BY as_of")
    assert pd.Timestamp(bars["as_of"].iloc[0]).date() == date(2017, 7, 13)  # new basis only
    assert len(bars) == 10 and report.loaded == 10
    quarantined = store.query("SELECT * FROM quarantine ORDER BY as_of")
    assert len(quarantined) == 8 and set(quarantined["source"]) == {"akshare"}
    assert quarantined["reason"].iloc[0].startswith(
        "before an unadjusted split or dividend on 2017-07-13 (unadjusted split suspected: "
        "close x0.512 (-48.8%) is beyond the 10% daily price limit)")
    assert "set aside, never traded on" in report.source_metadata["source_warnings"]


def test_a_jump_a_person_accepted_is_served_with_the_bars_before_it(
        store: Warehouse, tmp_path: Path) -> None:
    from trade_pipelines.market_data.accepted_jumps import accept_jump
    from trade_pipelines.settings import Paths

    accept_jump(Paths(store.path.parent).accepted_jumps, "600036.SH", date(2017, 7, 13),
                "reviewed: a real move")
    with RecordedChinaServer(edit=halve_before("2017-07-13")) as server, \
            routed_to(server.url):
        report = load_bars("live", store, ["600036.SH"], FIRST, LAST, timedelta(0))
    assert report.loaded == 18
    assert store.query("SELECT count(*) AS n FROM quarantine")["n"].iloc[0] == 0
    assert unadjusted_jumps(series("600036.SH", [20, 15.4]), "cn", accepted_jumps={
        ("600036.sh", date(2017, 7, 4))}).empty


# -- the schedules' question, and the real network -------------------------------------

def test_session_gap_asks_the_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trade_pipelines.market_data.loading import session_gap

    monkeypatch.delenv(TOKEN_ENV, raising=False)
    store = Warehouse(tmp_path / "warehouse.duckdb")
    symbols = ["600036.SH", "000300.SH"]
    with RecordedChinaServer() as server, routed_to(server.url):
        assert session_gap("live", store, ["600036.SH"], symbols, LAST, timeout_s=3) is None
        gap = session_gap("live", store, ["600036.SH"], symbols, date(2017, 7, 27),
                          timeout_s=3)
        assert gap is not None and "no bar for the 2017-07-27 session" in gap
    # Asked before the session's close (15:00 Shanghai, 07:00 UTC), it says so and asks
    # no source.
    from trade_pipelines.market_data import loading

    monkeypatch.setattr(loading, "_now", lambda: datetime(2017, 7, 26, 6, 30))
    with RecordedChinaServer() as server, routed_to(server.url):
        early = session_gap("live", store, ["600036.SH"], symbols, LAST, timeout_s=3)
        assert server.requests == []
    assert early == ("the 2017-07-26 session has not closed yet: its last bar is final at "
                     "2017-07-26 07:00 UTC")


def test_offline_the_real_chain_gives_up_within_one_outage(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """No local server: akshare calls East Money, tushare has no token. Offline, an
    outage costs akshare's retries once, not once per symbol."""
    import time

    import akshare.stock_feature.stock_hist_em  # noqa: F401  (import time is not network time)

    monkeypatch.delenv(TOKEN_ENV, raising=False)
    chain = market_chain("cn", tmp_path / "cache", timeout_s=3)
    started = time.perf_counter()
    result = chain.fetch(["600036.SH", "000002.SZ", "000300.SH"], date(2024, 1, 2),
                         date(2024, 1, 8))
    elapsed = time.perf_counter() - started
    if result.unavailable:  # offline
        assert set(result.unavailable) == {"600036.SH", "000002.SZ", "000300.SH"}
        assert "TUSHARE_TOKEN" in result.unavailable["000002.SZ"]
        assert sum(q.source == "akshare" for q in result.qualities) == 1
    else:  # the network is reachable: real bars
        assert set(result.bars["symbol"]) == {"600036.SH", "000002.SZ", "000300.SH"}
    assert elapsed < 20


# -- Hong Kong: akshare, then yfinance (Yahoo's chart API recorded, yahoo_http.py) --------

def tencent_chart() -> dict[str, Any]:
    """Yahoo's chart body for 0700.HK, June-July 2017, from the built-in bars (the same
    history East Money's recording holds), sessions at 09:30 Hong Kong time."""
    from trade_pipelines.market_data.builtin_markets import raw_market_bars

    bars = raw_market_bars("hk")
    bars = bars[(bars["symbol"] == "0700.HK") & (bars["as_of"] >= "2017-06-01")
                & (bars["as_of"] <= "2017-07-26")]
    opens = (pd.DatetimeIndex(pd.to_datetime(bars["as_of"])).tz_localize("Asia/Hong_Kong")
             + pd.Timedelta(hours=9, minutes=30))
    stamps = [int(t.timestamp()) for t in opens]
    prices = {c: [round(float(v), 3) for v in bars[c]] for c in ("open", "high", "low",
                                                                 "close")}
    return {"chart": {"result": [{
        "meta": {"currency": "HKD", "symbol": "0700.HK", "exchangeName": "HKG",
                 "instrumentType": "EQUITY", "firstTradeDate": stamps[0],
                 "regularMarketTime": stamps[-1] + 23400, "gmtoffset": 28800,
                 "timezone": "HKT", "exchangeTimezoneName": "Asia/Hong_Kong",
                 "regularMarketPrice": prices["close"][-1],
                 "chartPreviousClose": prices["close"][0], "priceHint": 2,
                 "dataGranularity": "1d", "range": "",
                 "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y",
                                 "ytd", "max"]},
        "timestamp": stamps,
        "indicators": {"quote": [{**prices, "volume": [int(v) for v in bars["volume"]]}],
                       "adjclose": [{"adjclose": prices["close"]}]},
    }], "error": None}}


@pytest.fixture
def recorded_yahoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    import json

    import yahoo_http

    charts = tmp_path / "charts"
    charts.mkdir()
    (charts / "0700.HK.json").write_text(json.dumps(tencent_chart()))
    monkeypatch.setattr(yahoo_http, "CHARTS", charts)
    with yahoo_http.yahoo_session(yahoo_http.RecordedYahoo(), tmp_path / "tz") as adapter:
        yield adapter


def hk_chain(cache: Path) -> SourceChain:
    from trade_pipelines.market_data.yfinance_source import YFinanceSource

    return SourceChain("hk", [
        ("akshare", AkshareSource(timeout_s=3, attempts=2, backoff_s=0.01)),
        ("yfinance", YFinanceSource(timeout_s=3)),
    ], BarCache(cache), clock=lambda: datetime(2017, 7, 27, 1, 0))


def test_hong_kong_akshare_answers_and_yahoo_agrees(tmp_path: Path,
                                                    recorded_yahoo: Any) -> None:
    with RecordedChinaServer() as server, routed_to(server.url):
        result = hk_chain(tmp_path).fetch(["0700.HK"], FIRST, LAST)
    tencent = by_source(result, "0700.HK")
    assert (tencent["akshare"].outcome, tencent["yfinance"].outcome) == ("active",
                                                                          "cross-check")
    assert (tencent["yfinance"].compared, tencent["yfinance"].disagreements) == (18, 0)
    assert any("/v8/finance/chart/0700.HK" in url for url in recorded_yahoo.requests)


def test_hong_kong_fails_over_from_akshare_to_yahoo(tmp_path: Path,
                                                    recorded_yahoo: Any) -> None:
    with RecordedChinaServer() as server, routed_to(server.url):
        server.down = True
        result = hk_chain(tmp_path).fetch(["0700.HK"], FIRST, LAST)
    tencent = by_source(result, "0700.HK")
    assert tencent["akshare"].outcome == "failed"
    assert (tencent["yfinance"].outcome, tencent["yfinance"].score) == ("active", 1.0)
    assert set(result.bars["source"]) == {"yfinance"} and len(result.bars) == 18
    assert result.metadata()["active_source"] == "yfinance"


# -- forward adjustment re-bases history -------------------------------------------------

def scale_all(factor: float) -> Any:
    """Every price of both sources times ``factor``: the forward-adjusted history after
    a dividend re-based it."""
    def edit(key: str, body: dict[str, Any]) -> None:
        if key == "1.600036":
            body["data"]["klines"] = [
                ",".join([f[0], *(f"{float(v) * factor:.4f}" for v in f[1:5]), *f[5:]])
                for f in (line.split(",") for line in body["data"]["klines"])]
        if key == "daily:600036.SH":
            names = body["data"]["fields"]
            for row in body["data"]["items"]:
                for column in ("open", "high", "low", "close"):
                    row[names.index(column)] *= factor
    return edit


def one_basis_history(tmp_path: Path) -> pd.DataFrame:
    """The recorded history loaded in one delivery, into a warehouse of its own."""
    other = Warehouse(tmp_path / "one_basis.duckdb")
    other.migrate()
    with RecordedChinaServer() as server, routed_to(server.url):
        assert load_bars("live", other, ["600036.SH"], FIRST, LAST, timedelta(0)).loaded == 18
    return other.query("SELECT as_of, close, volume FROM bars ORDER BY as_of")


def test_a_re_based_delivery_is_stored_on_the_stored_basis_and_history_is_untouched(
        store: Warehouse, tmp_path: Path) -> None:
    with RecordedChinaServer() as server, routed_to(server.url):
        load_bars("live", store, ["600036.SH"], FIRST, date(2017, 7, 14), timedelta(0))
    before = store.query("SELECT as_of, close, available_at FROM bars ORDER BY as_of")
    truth = one_basis_history(tmp_path)
    with RecordedChinaServer(edit=scale_all(0.97)) as server, routed_to(server.url):
        report = load_bars("live", store, ["600036.SH"], date(2017, 7, 12), LAST,
                           timedelta(0))
    after = store.query("SELECT as_of, close, available_at FROM bars ORDER BY as_of")
    assert len(after) == 18
    # Nothing committed is rewritten: the days stored before the delivery keep their
    # prices and the moment they became known.
    early = pd.to_datetime(before["as_of"]) < pd.Timestamp("2017-07-12")
    kept = after.set_index("as_of").loc[before.loc[early, "as_of"]]
    assert kept["close"].to_numpy() == pytest.approx(before.loc[early, "close"].to_numpy())
    assert (kept["available_at"].to_numpy() == before.loc[early, "available_at"].to_numpy()
            ).all()
    # The delivery was divided by the factor: the whole series is the one a source on one
    # basis gives, with no jump where the deliveries meet.
    assert after["close"].to_numpy() == pytest.approx(truth["close"].to_numpy(), rel=1e-3)
    # Volumes go the other way, so a day's turnover (price times volume) is the traded one.
    volumes = store.query("SELECT as_of, volume FROM bars WHERE as_of > '2017-07-14' "
                          "ORDER BY as_of")["volume"].to_numpy()
    assert volumes == pytest.approx(truth.loc[pd.to_datetime(truth["as_of"])
                                              > pd.Timestamp("2017-07-14"),
                                              "volume"].to_numpy() * 0.97, rel=1e-6)
    # The factor is on record, once, and the asset says what happened.
    factors = store.query("SELECT symbol, factor, overlap_days, first_day FROM basis_factors")
    assert len(factors) == 1 and factors["factor"].iloc[0] == pytest.approx(0.97, rel=1e-3)
    assert factors["overlap_days"].iloc[0] == 3
    assert "another share basis (x0.97" in report.source_metadata["source_warnings"]
    assert store.query("SELECT count(*) AS n FROM quarantine")["n"].iloc[0] == 0
    # The cache mirrors its source: it holds the source's newest basis.
    cached = BarCache(tmp_path / "cache").read("akshare", "600036.SH")
    first = cached.set_index("as_of")["close"].loc[FIRST]
    assert first == pytest.approx(before["close"].iloc[0] * 0.97, rel=1e-3)


def revise_close(day: str, factor: float) -> Any:
    """Both sources revise one day's close (the price only; the high is raised to hold)."""
    def edit(key: str, body: dict[str, Any]) -> None:
        if key == "1.600036":
            lines = []
            for line in body["data"]["klines"]:
                f = line.split(",")
                if f[0] == day:
                    f[2] = f"{float(f[2]) * factor:.4f}"
                    f[3] = f"{max(float(f[3]), float(f[2])):.4f}"
                lines.append(",".join(f))
            body["data"]["klines"] = lines
    return edit


def test_a_revised_stored_day_is_kept_as_it_was_seen_and_named(store: Warehouse) -> None:
    with RecordedChinaServer() as server, routed_to(server.url):
        first = load_bars("live", store, ["600036.SH"], FIRST, date(2017, 7, 14),
                          timedelta(0))
    seen = store.query("SELECT close, available_at FROM bars WHERE as_of = '2017-07-13'")
    with RecordedChinaServer(edit=revise_close("2017-07-13", 1.05)) as server, \
            routed_to(server.url):
        report = load_bars("live", store, ["600036.SH"], date(2017, 7, 12), LAST,
                           timedelta(0))
    kept = store.query("SELECT close, available_at FROM bars WHERE as_of = '2017-07-13'")
    assert kept.equals(seen)
    assert "revised the stored close of 2017-07-13" in report.source_metadata[
        "source_warnings"]
    assert report.loaded == 18 - first.loaded  # only the days not stored yet


def test_the_same_dividend_is_recorded_once_and_a_delivery_with_no_common_day_gets_it(
        store: Warehouse, tmp_path: Path) -> None:
    truth = one_basis_history(tmp_path)
    with RecordedChinaServer() as server, routed_to(server.url):
        load_bars("live", store, ["600036.SH"], FIRST, date(2017, 7, 12), timedelta(0))
    with RecordedChinaServer(edit=scale_all(0.97)) as server, routed_to(server.url):
        load_bars("live", store, ["600036.SH"], date(2017, 7, 10), date(2017, 7, 14),
                  timedelta(0))
        again = load_bars("live", store, ["600036.SH"], date(2017, 7, 11),
                          date(2017, 7, 18), timedelta(0))
        apart = load_bars("live", store, ["600036.SH"], date(2017, 7, 21), LAST,
                          timedelta(0))
    factors = store.query("SELECT factor FROM basis_factors")
    assert len(factors) == 1  # one dividend, one row, however often it is seen again
    assert "another share basis" not in again.source_metadata.get("source_warnings", "")
    assert "no day in common with the stored ones" in apart.source_metadata[
        "source_warnings"]
    assert "the last recorded factor x0.97 is applied" in apart.source_metadata[
        "source_warnings"]
    stored = store.query("SELECT as_of, close FROM bars ORDER BY as_of")
    expected = truth[pd.to_datetime(truth["as_of"]).isin(pd.to_datetime(stored["as_of"]))]
    assert stored["close"].to_numpy() == pytest.approx(expected["close"].to_numpy(),
                                                       rel=1e-3)


def test_a_dividend_subtracted_over_a_long_overlap_is_still_one_factor() -> None:
    """East Money subtracts a dividend: over a long overlap the ratio drifts with the
    price, so the factor is read from the last common days."""
    from trade_pipelines.market_data.source_chain import basis_change

    days = exchange_sessions(date(2015, 1, 5), date(2016, 12, 30), "XSHG")
    older = bars_on(days).assign(close=np.linspace(20.0, 30.0, len(days)))
    fresh = older.assign(close=older["close"] - 1.0)
    factor = basis_change(older, fresh)
    assert factor == pytest.approx(29.0 / 30.0, rel=2e-3)


def test_a_bad_print_stored_from_a_live_source_is_replaced_when_the_source_corrects_it(
        store: Warehouse, tmp_path: Path) -> None:
    from trade_pipelines.agent.perception.validation import split_suspects

    truth = one_basis_history(tmp_path)
    with RecordedChinaServer(edit=revise_close("2017-07-13", 5.0)) as server, \
            routed_to(server.url):
        load_bars("live", store, ["600036.SH"], FIRST, date(2017, 7, 14), timedelta(0))
    stored = store.query("SELECT * FROM bars ORDER BY as_of")
    stored["as_of"] = pd.to_datetime(stored["as_of"]).dt.date
    assert date(2017, 7, 13) in set(split_suspects(stored, market="cn")["as_of"])
    with RecordedChinaServer() as server, routed_to(server.url):
        report = load_bars("live", store, ["600036.SH"], date(2017, 7, 10), LAST,
                           timedelta(0))
    after = store.query("SELECT * FROM bars ORDER BY as_of")
    assert after["close"].to_numpy() == pytest.approx(truth["close"].to_numpy(), rel=1e-6)
    after["as_of"] = pd.to_datetime(after["as_of"]).dt.date
    assert split_suspects(after, market="cn").empty
    kept = store.query("SELECT as_of, reason, raw FROM quarantine")
    assert len(kept) == 1 and kept["reason"].iloc[0].startswith("flagged by the split")
    assert "corrected the stored bar(s) of 2017-07-13" in report.source_metadata[
        "source_warnings"]


def test_rounding_and_disagreement_are_not_a_new_basis() -> None:
    from trade_pipelines.market_data.source_chain import basis_change

    days = exchange_sessions(FIRST, LAST, "XSHG")
    bars = bars_on(days, 10.0)
    assert basis_change(bars, bars.assign(close=10.01)) is None      # 0.1%: rounding
    assert basis_change(bars, bars.assign(close=9.7)) == pytest.approx(0.97)
    assert basis_change(bars.iloc[:3], bars.iloc[5:]) is None        # no common day
    # Ratios that do not agree on one factor are a disagreement, not a re-basing.
    scattered = bars.assign(close=[9.7 if i % 2 else 9.0 for i in range(len(bars))])
    assert basis_change(bars, scattered) is None


def test_a_backfill_on_a_new_basis_is_stored_on_the_stored_basis(
        store: Warehouse, tmp_path: Path) -> None:
    with RecordedChinaServer() as server, routed_to(server.url):
        load_bars("live", store, ["600036.SH"], date(2017, 7, 12), LAST, timedelta(0))
    later = store.query("SELECT as_of, close FROM bars ORDER BY as_of")
    truth = one_basis_history(tmp_path)
    with RecordedChinaServer(edit=scale_all(1.05)) as server, routed_to(server.url):
        load_bars("live", store, ["600036.SH"], FIRST, date(2017, 7, 14), timedelta(0))
    after = store.query("SELECT as_of, close FROM bars ORDER BY as_of").set_index("as_of")
    untouched = later[pd.to_datetime(later["as_of"]) > pd.Timestamp("2017-07-14")]
    assert after.loc[untouched["as_of"], "close"].to_numpy() == pytest.approx(
        untouched["close"].to_numpy())
    assert after["close"].to_numpy() == pytest.approx(truth["close"].to_numpy(), rel=1e-3)


def test_a_stored_bad_print_does_not_hide_a_new_share_basis(
        store: Warehouse, tmp_path: Path) -> None:
    """A re-based delivery meeting a stored bad print: the factor is measured without the
    flagged day, so the correction and the new days land on the stored basis."""
    truth = one_basis_history(tmp_path)
    with RecordedChinaServer(edit=revise_close("2017-07-13", 5.0)) as server, \
            routed_to(server.url):
        load_bars("live", store, ["600036.SH"], FIRST, date(2017, 7, 14), timedelta(0))
    with RecordedChinaServer(edit=scale_all(0.95)) as server, routed_to(server.url):
        load_bars("live", store, ["600036.SH"], date(2017, 7, 10), LAST, timedelta(0))
    after = store.query("SELECT as_of, close FROM bars ORDER BY as_of")
    assert after["close"].to_numpy() == pytest.approx(truth["close"].to_numpy(), rel=1e-3)
    factor = store.query("SELECT factor FROM basis_factors")["factor"]
    assert len(factor) == 1 and factor.iloc[0] == pytest.approx(0.95, rel=1e-3)


def test_a_re_based_delivery_with_a_revised_day_keeps_one_basis_and_records_the_revision(
        store: Warehouse, tmp_path: Path) -> None:
    truth = one_basis_history(tmp_path)
    with RecordedChinaServer() as server, routed_to(server.url):
        load_bars("live", store, ["600036.SH"], FIRST, date(2017, 7, 14), timedelta(0))

    def rebased_and_revised(key: str, body: dict[str, Any]) -> None:
        scale_all(0.95)(key, body)
        revise_close("2017-07-13", 1.03)(key, body)

    with RecordedChinaServer(edit=rebased_and_revised) as server, routed_to(server.url):
        load_bars("live", store, ["600036.SH"], date(2017, 7, 5), LAST, timedelta(0))
    after = store.query("SELECT as_of, close FROM bars ORDER BY as_of")
    assert after["close"].to_numpy() == pytest.approx(truth["close"].to_numpy(), rel=1e-3)
    assert store.query("SELECT factor FROM basis_factors")["factor"].iloc[0] == \
        pytest.approx(0.95, rel=1e-3)
    kept = store.query("SELECT as_of, reason FROM quarantine")
    assert kept["reason"].str.startswith("source revision of a stored bar").all()
    assert kept["as_of"].tolist() == [pd.Timestamp("2017-07-13")]
