"""The yfinance adapter: parsing yf.download's frame, and refusing to go quiet offline.

``fixtures/yfinance_download_aapl_msft.csv`` is ``yf.download(["AAPL", "MSFT"],
start="2024-01-02", end="2024-01-09", group_by="ticker", auto_adjust=True)`` written with
``DataFrame.to_csv``: columns are a (Ticker, Price) MultiIndex, the index is a naive
``Date``, Volume is int64. The layout is checked below against yfinance's own assembly
code (``yfinance.multi``) fed with per-ticker history frames, so a yfinance upgrade that
changes the shape fails here. The prices are typical values for those days, written by
hand: no network is available to record a live response.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yfinance as yf
import yfinance.multi

from trade_pipelines.agent.perception.validation import CANONICAL_COLUMNS, validate_bars
from trade_pipelines.market_data.errors import DataSourceUnavailable
from trade_pipelines.market_data.yfinance_source import (
    YFinanceSource,
    bars_from_yfinance_frame,
)

FIXTURE = Path(__file__).parent / "fixtures" / "yfinance_download_aapl_msft.csv"


def recorded() -> pd.DataFrame:
    return pd.read_csv(FIXTURE, header=[0, 1], index_col=0, parse_dates=True)


class _HistoryFromFixture:
    """Stands in for ``yfinance.Ticker``: ``history()`` returns what Yahoo's chart gives,
    a New York-time index and Open/High/Low/Close/Volume columns."""

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self._price_history = None

    def history(self, **_: Any) -> pd.DataFrame:
        frame = recorded()[self.ticker.upper()].copy()
        frame.columns.name = None
        frame.index = frame.index.tz_localize("America/New_York")
        return frame


def test_fixture_has_the_layout_yfinance_download_builds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yfinance.multi, "Ticker", _HistoryFromFixture)
    built = yf.download(["AAPL", "MSFT"], start="2024-01-02", end="2024-01-09",
                        group_by="ticker", auto_adjust=True, progress=False, threads=False)
    fixture = recorded()
    assert built.columns.names == ["Ticker", "Price"] == fixture.columns.names
    assert built.index.name == "Date" and built.index.tz is None
    pd.testing.assert_frame_equal(built[fixture.columns], fixture, check_freq=False)


def test_parses_the_recorded_two_ticker_frame() -> None:
    bars = bars_from_yfinance_frame(recorded(), ["msft", "AAPL"])
    assert list(bars.columns) == [*CANONICAL_COLUMNS, "source"]
    assert len(bars) == 10
    assert bars["symbol"].tolist() == ["AAPL"] * 5 + ["MSFT"] * 5
    assert bars["as_of"].iloc[0] == date(2024, 1, 2)
    assert bars["as_of"].iloc[4] == date(2024, 1, 8)
    first = bars.iloc[0]
    assert (first["open"], first["high"], first["low"], first["close"], first["volume"]) == (
        186.11, 187.55, 182.98, 184.93, 82_488_700.0)
    assert set(bars["source"]) == {"yfinance"}
    assert validate_bars(bars).rejected.empty


def test_parses_the_column_grouped_layout_the_same() -> None:
    by_column = recorded().swaplevel(0, 1, axis=1).sort_index(axis=1, level=0)
    by_column.columns.names = ["Price", "Ticker"]
    pd.testing.assert_frame_equal(bars_from_yfinance_frame(by_column, ["AAPL", "MSFT"]),
                                  bars_from_yfinance_frame(recorded(), ["AAPL", "MSFT"]))


def test_parses_a_flat_single_ticker_frame() -> None:
    flat = recorded()["MSFT"]
    bars = bars_from_yfinance_frame(flat, ["MSFT"])
    assert len(bars) == 5 and set(bars["symbol"]) == {"MSFT"}
    with pytest.raises(ValueError, match="one ticker"):
        bars_from_yfinance_frame(flat, ["MSFT", "AAPL"])


def test_a_ticker_absent_from_the_frame_has_no_rows() -> None:
    bars = bars_from_yfinance_frame(recorded(), ["AAPL", "NVDA"])
    assert set(bars["symbol"]) == {"AAPL"}


def test_a_failed_ticker_and_alignment_padding_leave_no_rows() -> None:
    frame = recorded()
    # yfinance gives a failed ticker an empty frame with an Adj Close column, and aligns
    # every ticker on the union of dates, so its columns come back all NaN.
    failed = pd.DataFrame(np.nan, index=frame.index, columns=pd.MultiIndex.from_product(
        [["FAIL"], ["Open", "High", "Low", "Close", "Adj Close", "Volume"]],
        names=["Ticker", "Price"]))
    frame = pd.concat([frame, failed], axis=1)
    frame.loc[pd.Timestamp("2024-01-05"), "MSFT"] = np.nan  # a day MSFT did not trade
    bars = bars_from_yfinance_frame(frame, ["AAPL", "MSFT", "FAIL"])
    assert (bars["symbol"] == "AAPL").sum() == 5
    assert (bars["symbol"] == "MSFT").sum() == 4
    assert "FAIL" not in set(bars["symbol"])


def test_empty_and_none_frames_parse_to_empty_bars() -> None:
    for frame in (None, pd.DataFrame()):
        bars = bars_from_yfinance_frame(frame, ["AAPL"])
        assert bars.empty and list(bars.columns) == [*CANONICAL_COLUMNS, "source"]


@pytest.fixture
def download_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []

    def fake_download(tickers: list[str], **kwargs: Any) -> pd.DataFrame:
        calls.append({"tickers": tickers, **kwargs})
        frame = recorded()
        return frame[[t for t in tickers if t in frame.columns.get_level_values(0)]]

    monkeypatch.setattr(yf, "download", fake_download)
    yield calls


def test_fetch_asks_for_adjusted_ticker_grouped_bars_with_an_inclusive_end(
        download_calls: list[dict[str, Any]]) -> None:
    bars = YFinanceSource(timeout_s=3).fetch(["aapl", "MSFT", "AAPL"], date(2024, 1, 3),
                                              date(2024, 1, 5))
    call = download_calls[0]
    assert call["tickers"] == ["AAPL", "MSFT"]
    assert (call["start"], call["end"]) == ("2024-01-03", "2024-01-06")
    assert call["group_by"] == "ticker" and call["auto_adjust"] is True
    assert call["progress"] is False and call["threads"] is False and call["timeout"] == 3
    assert sorted(set(bars["as_of"])) == [date(2024, 1, 3), date(2024, 1, 4),
                                          date(2024, 1, 5)]
    assert len(bars) == 6


def test_fetch_raises_naming_the_missing_tickers(
        download_calls: list[dict[str, Any]]) -> None:
    with pytest.raises(DataSourceUnavailable, match="missing NVDA") as caught:
        YFinanceSource().fetch(["AAPL", "NVDA"], date(2024, 1, 2), date(2024, 1, 8))
    assert caught.value.symbols == ("NVDA",)
    assert "data for AAPL only" in str(caught.value)


def test_fetch_raises_on_an_empty_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yf, "download", lambda *a, **k: pd.DataFrame())
    with pytest.raises(DataSourceUnavailable, match="no data at all; missing AAPL, MSFT"):
        YFinanceSource().fetch(["AAPL", "MSFT"], date(2024, 1, 2), date(2024, 1, 8))


def test_fetch_raises_when_yfinance_itself_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any, **__: Any) -> pd.DataFrame:
        raise ConnectionError("rate limited")

    monkeypatch.setattr(yf, "download", broken)
    with pytest.raises(DataSourceUnavailable, match="rate limited") as caught:
        YFinanceSource().fetch(["AAPL"], date(2024, 1, 2), date(2024, 1, 8))
    assert caught.value.symbols == ("AAPL",)


def test_fetch_rejects_nonsense_arguments() -> None:
    with pytest.raises(ValueError, match="no symbols"):
        YFinanceSource().fetch([" "], date(2024, 1, 2), date(2024, 1, 8))
    with pytest.raises(ValueError, match="before start"):
        YFinanceSource().fetch(["AAPL"], date(2024, 1, 8), date(2024, 1, 2))


def test_the_real_yfinance_download_offline_raises_quickly() -> None:
    """No mock: this calls Yahoo. Offline, yf.download returns an empty frame instead of
    raising, and the adapter must turn that into DataSourceUnavailable within seconds."""
    started = time.perf_counter()
    try:
        bars = YFinanceSource(timeout_s=3).fetch(["AAPL", "MSFT"], date(2024, 1, 2),
                                                 date(2024, 1, 8))
    except DataSourceUnavailable as error:
        assert "AAPL" in str(error) and "MSFT" in str(error)
        assert set(error.symbols) == {"AAPL", "MSFT"}
    else:  # the network is reachable: then the answer must be real bars
        assert set(bars["symbol"]) == {"AAPL", "MSFT"}
        assert validate_bars(bars).rejected.empty
    assert time.perf_counter() - started < 30
