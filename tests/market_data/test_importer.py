"""Importing a user's bar file: good rows stored, bad rows quarantined, all or nothing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from trade_pipelines.market_data.errors import (
    BarImportConflict,
    BarImportRejected,
    BarSchemaError,
)
from trade_pipelines.market_data.importer import ImportReport, import_bars_file, read_bars_file
from trade_pipelines.warehouse.connection import Warehouse

HEADER = "symbol,date,open,high,low,close,volume"
GOOD = [
    "AAPL,2024-01-02,10,11,9,10.5,1000",
    "AAPL,2024-01-03,10.5,11.5,10,11,1200",
    "MSFT,2024-01-02,100,102,99,101,500",
    "MSFT,2024-01-03,101,103,100,102,",
]
BAD = [
    "AAPL,2024-01-04,11,12,10,,900",            # NaN close
    "MSFT,2024-01-04,102,104,101,0,300",        # non-positive price
    "MSFT,2024-01-05,102,99,101,100,300",       # high < low
    "KO,2024-01-02,50,51,49,50.5,10",            # duplicates that disagree
    "KO,2024-01-02,50,51,49,50.7,10",
    "AAPL,2023-01-05,10,11,9,10.5,1000",        # out of order: a mistyped year
]


def write_csv(folder: Path, lines: list[str], name: str = "bars.csv",
              header: str = HEADER) -> Path:
    path = folder / name
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    return Warehouse(tmp_path / "wh" / "warehouse.duckdb", lock_timeout_s=5)


def stored(warehouse: Warehouse, table: str) -> pd.DataFrame:
    return warehouse.query(f"SELECT * FROM {table} ORDER BY ALL")


def test_good_file_lands_in_bars(tmp_path: Path, warehouse: Warehouse) -> None:
    report = import_bars_file(write_csv(tmp_path, GOOD), warehouse)
    assert isinstance(report, ImportReport)
    assert (report.imported, report.quarantined) == (4, 0)
    assert report.reasons == {}
    assert report.source == "import:bars.csv"
    assert "imported 4 bar(s) for 2 symbol(s), 2024-01-02 to 2024-01-03" in report.message
    bars = stored(warehouse, "bars")
    assert len(bars) == 4
    assert set(bars["source"]) == {"import:bars.csv"}
    msft = bars[(bars["symbol"] == "MSFT") & (bars["as_of"] == pd.Timestamp("2024-01-03"))]
    assert pd.isna(msft["volume"].iloc[0]) and msft["close"].iloc[0] == 102
    # 16:00 New York as naive UTC: 21:00 in winter.
    assert set(bars["available_at"]) == {pd.Timestamp("2024-01-02 21:00"),
                                         pd.Timestamp("2024-01-03 21:00")}
    assert stored(warehouse, "quarantine").empty


def test_summer_bars_are_available_at_20_utc(tmp_path: Path, warehouse: Warehouse) -> None:
    import_bars_file(write_csv(tmp_path, ["AAPL,2024-07-01,10,11,9,10.5,1"]), warehouse)
    assert stored(warehouse, "bars")["available_at"].iloc[0] == pd.Timestamp("2024-07-01 20:00")


def test_each_bar_is_known_at_its_own_markets_close(tmp_path: Path,
                                                     warehouse: Warehouse) -> None:
    """An A-share bar is final at 15:00 Shanghai (07:00 UTC), a Hong Kong one at 16:10
    (08:10 UTC), a coin's at the next midnight in Shanghai, a US one at 16:00 New York and
    the VIX, computed until 16:15, at 16:15."""
    import_bars_file(write_csv(tmp_path, ["600036.SH,2024-07-01,10,11,9,10.5,100",
                                          "^VIX,2024-07-01,12,13,11,12.5,0",
                                          "0700.HK,2024-07-01,10,11,9,10.5,100",
                                          "BTC-CNY,2024-07-01,10,11,9,10.5,1",
                                          "AAPL,2024-07-01,10,11,9,10.5,1"]), warehouse)
    known = stored(warehouse, "bars").set_index("symbol")["available_at"]
    assert known["600036.SH"] == pd.Timestamp("2024-07-01 07:00")
    assert known["0700.HK"] == pd.Timestamp("2024-07-01 08:10")
    assert known["BTC-CNY"] == pd.Timestamp("2024-07-01 16:00")
    assert known["AAPL"] == pd.Timestamp("2024-07-01 20:00")
    assert known["^VIX"] == pd.Timestamp("2024-07-01 20:15")


def test_bad_rows_are_quarantined_with_reasons_and_raw_rows(
        tmp_path: Path, warehouse: Warehouse) -> None:
    report = import_bars_file(write_csv(tmp_path, GOOD + BAD), warehouse)
    assert (report.imported, report.quarantined) == (4, 6)
    assert report.reasons == {
        "missing close": 1, "non-positive price": 1, "high < low": 1,
        "duplicate (symbol, as_of) with conflicting values": 2, "out of order": 1,
    }
    assert "quarantined 6 row(s)" in report.message
    assert len(stored(warehouse, "bars")) == 4
    quarantine = stored(warehouse, "quarantine")
    assert len(quarantine) == 6
    assert set(quarantine["source"]) == {"import:bars.csv"}
    nan_close = quarantine[quarantine["reason"] == "missing close"].iloc[0]
    assert nan_close["symbol"] == "AAPL"
    assert nan_close["as_of"] == pd.Timestamp("2024-01-04")
    assert json.loads(nan_close["raw"]) == {
        "symbol": "AAPL", "date": "2024-01-04", "open": "11", "high": "12", "low": "10",
        "close": "", "volume": "900"}
    assert quarantine["recorded_at"].notna().all()


def test_identical_duplicate_rows_import_once(tmp_path: Path, warehouse: Warehouse) -> None:
    report = import_bars_file(write_csv(tmp_path, GOOD + [GOOD[0]]), warehouse)
    assert (report.imported, report.quarantined) == (4, 0)
    assert "1 identical duplicate row(s) collapsed" in report.message


def test_unparseable_dates_are_quarantined_without_a_day(
        tmp_path: Path, warehouse: Warehouse) -> None:
    import_bars_file(write_csv(tmp_path, ["AAPL,02/01/2024,10,11,9,10.5,1"]), warehouse)
    quarantine = stored(warehouse, "quarantine")
    assert quarantine["reason"].tolist() == ["unparseable date"]
    assert pd.isna(quarantine["as_of"].iloc[0])


def test_reimporting_the_same_file_changes_nothing(tmp_path: Path, warehouse: Warehouse) -> None:
    path = write_csv(tmp_path, GOOD + BAD)
    import_bars_file(path, warehouse)
    bars, quarantine = stored(warehouse, "bars"), stored(warehouse, "quarantine")
    report = import_bars_file(path, warehouse)
    assert (report.imported, report.quarantined) == (4, 6)
    assert "0 new quarantine record(s)" in report.message
    pd.testing.assert_frame_equal(stored(warehouse, "bars"), bars)
    pd.testing.assert_frame_equal(stored(warehouse, "quarantine"), quarantine)


def test_a_file_overlapping_another_sources_bars_is_refused_unless_replacing(
        tmp_path: Path, warehouse: Warehouse) -> None:
    import_bars_file(write_csv(tmp_path, GOOD, name="old.csv"), warehouse)
    before = stored(warehouse, "bars")
    fixed = ["AAPL,2024-01-02,10,11,9,10.75,1000"]
    with pytest.raises(BarImportConflict, match=(
            r"fix.csv not imported: its days overlap bars from another source \(AAPL: 1 "
            r"stored bar\(s\) from import:old.csv \(2024-01-02 to 2024-01-02\)\).*--replace")):
        import_bars_file(write_csv(tmp_path, fixed, name="fix.csv"), warehouse)
    pd.testing.assert_frame_equal(stored(warehouse, "bars"), before)

    report = import_bars_file(tmp_path / "fix.csv", warehouse, replace=True)
    assert report.replaced == 2  # both AAPL bars of old.csv: one source per symbol
    assert "replaced 2 bar(s) from other sources for AAPL" in report.message
    bars = stored(warehouse, "bars")
    assert bars.groupby("symbol")["source"].unique().map(list).to_dict() == {
        "AAPL": ["import:fix.csv"], "MSFT": ["import:old.csv"]}
    assert bars.loc[bars["symbol"] == "AAPL", "close"].tolist() == [10.75]


def test_a_file_reimported_or_extended_is_not_a_conflict(
        tmp_path: Path, warehouse: Warehouse) -> None:
    import_bars_file(write_csv(tmp_path, GOOD, name="a.csv"), warehouse)
    later = ["AAPL,2024-01-04,11,12,10,11.5,900"]  # no overlap with the stored days
    assert import_bars_file(write_csv(tmp_path, later, name="b.csv"), warehouse).imported == 1
    assert import_bars_file(tmp_path / "a.csv", warehouse).imported == 4


def test_strict_import_rejects_the_whole_file_and_writes_nothing(
        tmp_path: Path, warehouse: Warehouse) -> None:
    with pytest.raises(BarImportRejected, match=r"4 clean bar\(s\), 6 rejected"):
        import_bars_file(write_csv(tmp_path, GOOD + BAD), warehouse, strict=True)
    assert stored(warehouse, "bars").empty
    assert stored(warehouse, "quarantine").empty


def test_strict_import_of_a_clean_file_imports(tmp_path: Path, warehouse: Warehouse) -> None:
    report = import_bars_file(write_csv(tmp_path, GOOD), warehouse, strict=True)
    assert report.imported == 4 and len(stored(warehouse, "bars")) == 4


def daily(symbol: str, closes: list[float], first: str = "2024-01-02") -> list[str]:
    """One CSV line per weekday from ``first``, open = high = low = close."""
    days = pd.bdate_range(first, periods=len(closes))
    return [f"{symbol},{d:%Y-%m-%d},{c},{c},{c},{c},1000" for d, c in
            zip(days, closes, strict=True)]


def test_a_bad_print_in_a_file_is_quarantined_alone(tmp_path: Path,
                                                    warehouse: Warehouse) -> None:
    lines = daily("ZZF", [50, 46, 4600, 46.5, 47])  # x100 on the 4th, and back
    report = import_bars_file(write_csv(tmp_path, lines), warehouse)
    assert (report.imported, report.quarantined, report.held_back) == (4, 1, 1)
    assert "split/bad-print check" in report.message and "accept-jump" in report.message
    assert 4600 not in stored(warehouse, "bars")["close"].tolist()
    quarantine = stored(warehouse, "quarantine")
    assert quarantine["reason"].iloc[0].startswith("implausible price: close x100.000")
    assert json.loads(quarantine["raw"].iloc[0])["close"] == "4600"


def test_an_a_share_print_ten_times_its_neighbours_costs_its_bar_only(
        tmp_path: Path, warehouse: Warehouse) -> None:
    # x10 is a split ratio and beyond the 10% limit, but the next bar undoes it.
    lines = daily("600036.SH", [26.0, 26.1, 26.0, 26.2, 26.1, 26.0, 260.2, 26.1, 26.3],
                  "2022-03-01")
    report = import_bars_file(write_csv(tmp_path, lines), warehouse)
    assert (report.imported, report.quarantined) == (8, 1)
    assert stored(warehouse, "quarantine")["as_of"].tolist() == [pd.Timestamp("2022-03-09")]


def test_an_unadjusted_split_in_a_file_sets_the_other_basis_aside(
        tmp_path: Path, warehouse: Warehouse) -> None:
    # 2-for-1 on the 4th, not adjusted: the bars before it are on another basis; the
    # newest basis is kept, as the live source chain keeps it.
    lines = daily("ZZS", [100, 101, 50.4, 50.9, 51])
    report = import_bars_file(write_csv(tmp_path, lines), warehouse)
    assert (report.imported, report.quarantined) == (3, 2)
    bars = stored(warehouse, "bars")
    assert bars["close"].tolist() == [50.4, 50.9, 51.0]
    reasons = stored(warehouse, "quarantine")["reason"]
    assert reasons.str.startswith(
        "before an unadjusted split or dividend on 2024-01-04 (unadjusted split suspected: "
        "close x0.499 looks like a 2-for-1 split)").all()


def test_bars_that_continue_stored_ones_on_another_basis_are_quarantined(
        tmp_path: Path, warehouse: Warehouse) -> None:
    import_bars_file(write_csv(tmp_path, daily("ZZS", [100, 101, 102]), name="old.csv"),
                     warehouse)
    # The next file is unadjusted against what is stored: held back from the jump on.
    report = import_bars_file(
        write_csv(tmp_path, daily("ZZS", [51, 51.5], "2024-01-05"), name="new.csv"),
        warehouse)
    assert (report.imported, report.quarantined) == (0, 2)
    assert stored(warehouse, "bars")["close"].tolist() == [100.0, 101.0, 102.0]
    reasons = stored(warehouse, "quarantine")["reason"].tolist()
    assert reasons[0].startswith("unadjusted split suspected: close x0.500")
    assert reasons[1].startswith("after an unadjusted split or dividend on 2024-01-05")


def test_an_a_share_move_beyond_its_limit_is_quarantined_or_refused_under_strict(
        tmp_path: Path, warehouse: Warehouse) -> None:
    lines = daily("600036.SH", [26.0, 26.1, 26.0, 26.2, 26.1, 26.0, 20.0, 20.1],
                  "2022-03-01")  # -23% on 2022-03-09: beyond 10%, a 3-for-10 bonus
    path = write_csv(tmp_path, lines)
    with pytest.raises(BarImportRejected, match=(
            r"the split/bad-print check flagged 600036.SH 2022-03-09: unadjusted split "
            r"suspected: close x0.769 \(-23.1%\) is beyond the 10% daily price limit \(6 "
            r"bar\(s\) held back\)")) as refused:
        import_bars_file(path, warehouse, strict=True)
    assert "accept-jump" in str(refused.value)
    assert stored(warehouse, "bars").empty
    report = import_bars_file(path, warehouse)
    assert (report.imported, report.quarantined) == (2, 6)
    accepted = import_bars_file(path, warehouse,
                                accepted_jumps={("600036.SH", date(2022, 3, 9))})
    assert (accepted.imported, accepted.quarantined) == (8, 0)


def test_a_crash_midway_leaves_nothing_behind(
        tmp_path: Path, warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    import_bars_file(write_csv(tmp_path, GOOD, name="first.csv"), warehouse)
    before = stored(warehouse, "bars")
    real_insert = Warehouse.insert_frame
    deleted: list[int] = []

    def crash_on_bars(connection: duckdb.DuckDBPyConnection, table: str,
                      frame: pd.DataFrame) -> None:
        if table == "bars":
            # The replaced bars are already deleted inside the transaction at this point.
            deleted.append(connection.execute("SELECT count(*) FROM bars").fetchone()[0])
            raise RuntimeError("disk full")
        real_insert(connection, table, frame)

    monkeypatch.setattr(Warehouse, "insert_frame", staticmethod(crash_on_bars))
    second = write_csv(tmp_path, [*GOOD, *BAD], name="second.csv")
    with pytest.raises(RuntimeError, match="disk full"):
        import_bars_file(second, warehouse, replace=True)
    assert deleted == [0]
    pd.testing.assert_frame_equal(stored(warehouse, "bars"), before)
    assert stored(warehouse, "quarantine").empty


def test_a_crash_writing_quarantine_rolls_back_the_bars(
        tmp_path: Path, warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    real_insert = Warehouse.insert_frame

    def crash_on_quarantine(connection: duckdb.DuckDBPyConnection, table: str,
                            frame: pd.DataFrame) -> None:
        real_insert(connection, table, frame)
        if table == "quarantine":
            raise RuntimeError("killed")

    monkeypatch.setattr(Warehouse, "insert_frame", staticmethod(crash_on_quarantine))
    with pytest.raises(RuntimeError, match="killed"):
        import_bars_file(write_csv(tmp_path, GOOD + BAD), warehouse)
    assert stored(warehouse, "bars").empty
    assert stored(warehouse, "quarantine").empty


def test_missing_columns_are_named(tmp_path: Path, warehouse: Warehouse) -> None:
    path = write_csv(tmp_path, ["AAPL,2024-01-02,10.5"], header="symbol,date,close")
    with pytest.raises(BarSchemaError, match="open, high, low, volume"):
        import_bars_file(path, warehouse)
    assert stored(warehouse, "bars").empty


def test_unknown_extension_is_refused(tmp_path: Path, warehouse: Warehouse) -> None:
    path = tmp_path / "bars.xlsx"
    path.write_text("whatever")
    with pytest.raises(BarSchemaError, match=r"unsupported file type '\.xlsx'"):
        import_bars_file(path, warehouse)
    with pytest.raises(BarSchemaError, match="unsupported"):
        read_bars_file(tmp_path / "bars")


@pytest.mark.parametrize(("name", "content", "match"), [
    ("missing.csv", None, "no such file"),
    ("empty.csv", b"", "empty"),
    ("broken.parquet", b"not a parquet file", "cannot read broken.parquet"),
    ("binary.csv", b"\xff\xfe\x00\x81\x00", "cannot read binary.csv"),
])
def test_unreadable_files_are_schema_errors(tmp_path: Path, name: str,
                                            content: bytes | None, match: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(BarSchemaError, match=match):
        read_bars_file(path)


def test_extra_columns_are_ignored_but_kept_in_the_raw_row(
        tmp_path: Path, warehouse: Warehouse) -> None:
    header = "Date,Symbol,Open,High,Low,Close,Adj Close,Volume,Note"
    lines = ["2024-01-02,AAPL,10,11,9,10.5,10.4,1000,ok",
             "2024-01-03,AAPL,10,11,9,,10.4,1000,halted"]
    path = write_csv(tmp_path, lines, header=header)
    frame = read_bars_file(path)
    assert list(frame.columns) == ["symbol", "as_of", "open", "high", "low", "close", "volume"]
    assert frame["as_of"].tolist() == ["2024-01-02", "2024-01-03"]
    report = import_bars_file(path, warehouse)
    assert (report.imported, report.quarantined) == (1, 1)
    assert list(stored(warehouse, "bars")["close"]) == [10.5]
    raw = json.loads(stored(warehouse, "quarantine")["raw"].iloc[0])
    assert raw["Note"] == "halted" and raw["Adj Close"] == "10.4"


def test_parquet_files_import_like_csv(tmp_path: Path, warehouse: Warehouse) -> None:
    frame = pd.DataFrame({
        "symbol": ["AAPL", "AAPL", "MSFT"],
        "date": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-02"]),
        "open": [10.0, 10.5, 100.0], "high": [11.0, 11.5, 102.0], "low": [9.0, 10.0, 99.0],
        "close": [10.5, float("nan"), 101.0], "volume": [1000, 1200, 500],
        "exchange": ["XNAS", "XNAS", "XNAS"],
    })
    path = tmp_path / "bars.parquet"
    frame.to_parquet(path)
    report = import_bars_file(path, warehouse)
    assert (report.imported, report.quarantined) == (2, 1)
    bars = stored(warehouse, "bars")
    assert list(bars["symbol"]) == ["AAPL", "MSFT"]
    assert set(bars["source"]) == {"import:bars.parquet"}
    raw: dict[str, Any] = json.loads(stored(warehouse, "quarantine")["raw"].iloc[0])
    assert raw == {"symbol": "AAPL", "date": "2024-01-03T00:00:00", "open": 10.5,
                   "high": 11.5, "low": 10.0, "close": None, "volume": 1200,
                   "exchange": "XNAS"}


def test_a_header_only_file_imports_nothing(tmp_path: Path, warehouse: Warehouse) -> None:
    report = import_bars_file(write_csv(tmp_path, []), warehouse)
    assert (report.imported, report.quarantined) == (0, 0)
    assert "imported no bars" in report.message
    assert warehouse.table_exists("bars")


def test_read_bars_file_accepts_a_string_path(tmp_path: Path) -> None:
    frame = read_bars_file(str(write_csv(tmp_path, GOOD)))
    assert len(frame) == 4
    assert frame["symbol"].tolist() == ["AAPL", "AAPL", "MSFT", "MSFT"]


def test_recorded_at_is_recent_naive_utc(tmp_path: Path, warehouse: Warehouse) -> None:
    import_bars_file(write_csv(tmp_path, BAD[:1]), warehouse)
    recorded = stored(warehouse, "quarantine")["recorded_at"].iloc[0]
    now = pd.Timestamp(datetime.now(UTC).replace(tzinfo=None))
    assert abs((now - recorded).total_seconds()) < 60


def test_a_stored_bad_print_costs_the_file_none_of_its_bars(
        tmp_path: Path, warehouse: Warehouse) -> None:
    """The stored bar before the file is the bad one: the file's first bar undoing it is
    good, and so is every one after it."""
    first = import_bars_file(write_csv(tmp_path, daily("ZZS", [50, 50.5, 51]), "a.csv"),
                             warehouse)
    assert first.imported == 3
    with warehouse.transaction() as connection:  # a bad print written by another hand
        connection.execute("UPDATE bars SET open = 510, high = 510, low = 510, close = 510 "
                           "WHERE symbol = 'ZZS' AND as_of = '2024-01-04'")
    lines = daily("ZZS", [51.2, 51.5, 51.8, 52.0, 52.1, 52.3], "2024-01-05")
    report = import_bars_file(write_csv(tmp_path, lines, "b.csv"), warehouse)
    assert (report.imported, report.quarantined) == (6, 0)


def test_an_accepted_jump_that_reverts_costs_no_bar_after_it(
        tmp_path: Path, warehouse: Warehouse) -> None:
    lines = daily("ZZT", [50, 50.5, 505, 51, 51.2, 51.4, 51.6, 51.8])
    # Accepted as real (spelled as a person might), the jump and its reversal import
    # whole; before, every bar after the accepted day was held back as "undoing" it.
    report = import_bars_file(write_csv(tmp_path, lines), warehouse,
                              accepted_jumps={("zzt", pd.Timestamp("2024-01-04")),
                                              ("ZZT", date(2024, 1, 5))})
    assert (report.imported, report.quarantined) == (8, 0)
