"""``trade-pipelines accept-jump``: a reviewed move recorded as real, with its reason,
and passed from then on by every check that runs the split/bad-print detector."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from trade_pipelines.cli import main
from trade_pipelines.market_data.accepted_jumps import (
    AcceptedJumpsError,
    accept_jump,
    accepted_jumps,
    read_accepted_jumps,
)
from trade_pipelines.settings import paths
from trade_pipelines.warehouse import Warehouse

DAYS = [date(2024, 3, d) for d in (4, 5, 6, 7, 8, 11, 12, 13, 14, 15)]


def stored_bars(symbol: str, closes: list[float]) -> pd.DataFrame:
    return pd.DataFrame({
        "symbol": symbol, "as_of": DAYS[:len(closes)], "open": closes, "high": closes,
        "low": closes, "close": closes, "volume": 1000.0, "source": "manual",
        "available_at": [datetime.combine(d, datetime.min.time()).replace(hour=7)
                         for d in DAYS[:len(closes)]]})


def test_a_flagged_bar_passes_the_blocking_check_once_accepted(
        project_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from trade_pipelines.assets.market import bar_quality
    from trade_pipelines.resources import MarketDataResource

    store = Warehouse(paths().warehouse)
    store.migrate()
    # -23% on the 13th: beyond the 10% limit (here a real move, say a resumption after
    # a restructuring the reviewer checked); past a new listing's five free sessions.
    store.append("bars", stored_bars("600036.SH", [26.0, 26.1, 26.0, 26.2, 26.1, 26.0,
                                                   26.2, 20.2, 20.3, 20.4]))
    resource = MarketDataResource(source="warehouse", symbols="600036.SH")
    before = bar_quality(store, resource, DAYS[0], DAYS[-1], "quality", "run")
    assert not before.passed
    assert "| 600036.SH | 2024-03-13 |" in before.metadata["failing_rows"].value

    assert main(["accept-jump", "600036.sh", "2024-03-13", "--reason",
                 "resumed after a restructuring, checked against the exchange notice"]) == 0
    assert "Accepted 600036.SH 2024-03-13 as a real move" in capsys.readouterr().out
    table = read_accepted_jumps(paths().accepted_jumps)
    assert table.to_dict("records") == [{
        "symbol": "600036.SH", "as_of": date(2024, 3, 13),
        "reason": "resumed after a restructuring, checked against the exchange notice"}]
    after = bar_quality(store, resource, DAYS[0], DAYS[-1], "quality", "run")
    assert after.passed, after.description


def test_bars_an_import_held_back_come_in_once_the_jump_is_accepted(
        project_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bars = stored_bars("600036.SH", [26.0, 26.1, 26.0, 26.2, 26.1, 26.0, 26.2, 20.2, 20.3,
                                     20.4]).drop(columns=["source", "available_at"])
    path = tmp_path / "cmb.csv"
    bars.rename(columns={"as_of": "date"}).to_csv(path, index=False)

    assert main(["import-bars", str(path)]) == 3
    out = capsys.readouterr().out
    assert "held back by the split/bad-print check, which flagged 600036.SH 2024-03-13" in out
    assert "accept-jump" in out
    store = Warehouse(paths().warehouse)
    assert store.query("SELECT count(*) AS n FROM bars")["n"].iloc[0] == 3  # newest basis

    assert main(["accept-jump", "600036.SH", "2024-03-13", "--reason", "checked"]) == 0
    assert main(["import-bars", str(path)]) == 0
    assert store.query("SELECT count(*) AS n FROM bars")["n"].iloc[0] == 10


def test_an_import_with_a_broken_table_of_accepted_jumps_says_so(
        project_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths().accepted_jumps.write_text("symbol,as_of,reason\n600036.SH,2024-03-13,\n")
    path = tmp_path / "cmb.csv"
    stored_bars("600036.SH", [26.0, 26.1]).drop(columns=["source", "available_at"]).rename(
        columns={"as_of": "date"}).to_csv(path, index=False)
    assert main(["import-bars", str(path)]) == 2
    assert "line 2: 600036.SH 2024-03-13 has no reason" in capsys.readouterr().err


def test_a_reason_is_required(project_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["accept-jump", "600036.SH", "2024-03-13"])
    assert exit_.value.code == 2
    assert "--reason" in capsys.readouterr().err
    assert main(["accept-jump", "600036.SH", "2024-03-13", "--reason", "  "]) == 2
    assert "a reason is required" in capsys.readouterr().err
    assert not paths().accepted_jumps.exists()


def test_accepting_again_replaces_the_reason_and_builtins_stay(tmp_path: Path) -> None:
    table = tmp_path / "accepted_jumps.csv"
    assert accept_jump(table, "aapl", date(2020, 8, 31), "4-for-1 split, bars unadjusted?")
    assert not accept_jump(table, "AAPL", date(2020, 8, 31), "checked: a real 4-for-1")
    assert read_accepted_jumps(table)["reason"].tolist() == ["checked: a real 4-for-1"]
    merged = accepted_jumps(tmp_path)
    assert ("AAPL", date(2020, 8, 31)) in merged
    assert ("AAPL", date(2000, 9, 29)) in merged  # BUILTIN_KNOWN_JUMPS
    assert ("AMD", date(2002, 10, 3)) in merged   # BUILTIN_SPLIT_LIKE_MOVES


@pytest.mark.parametrize(("line", "problem"), [
    ("AAPL,2020-08-31,", "line 2: AAPL 2020-08-31 has no reason"),
    ("AAPL,31/08/2020,a split", "line 2: '31/08/2020' is not a day"),
    (",2020-08-31,a split", "line 2: no symbol"),
])
def test_an_incomplete_row_is_an_error_never_skipped(tmp_path: Path, line: str,
                                                      problem: str) -> None:
    table = tmp_path / "accepted_jumps.csv"
    table.write_text(f"symbol,as_of,reason\n{line}\n")
    with pytest.raises(AcceptedJumpsError, match=problem):
        accepted_jumps(tmp_path)
