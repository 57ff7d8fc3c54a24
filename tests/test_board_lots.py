"""Board lots supplied as data: a home's board_lots.csv merged over the built-in Hong Kong
lots in the rules a run trades under, refused with its bad row, written by a command."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from trade_pipelines.agent.execution.broker import Bar
from trade_pipelines.agent.execution.ledger import DayMarket, Ledger, LedgerState
from trade_pipelines.agent.markets import HK, HK_BOARD_LOTS, US, UnknownBoardLot
from trade_pipelines.board_lots import BoardLotsError, read_board_lots, with_board_lots
from trade_pipelines.cli import main
from trade_pipelines.definitions import build_resources
from trade_pipelines.resources import MarketDataResource
from trade_pipelines.settings import Paths, paths


def lots_file(home: Path, text: str) -> Path:
    path = Paths(home).board_lots
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_homes_lots_are_merged_over_the_built_in_ones(tmp_path: Path) -> None:
    path = lots_file(tmp_path, "symbol,lot\n9988.hk, 100\n\n2318.HK,1000\n")
    assert path == tmp_path / "board_lots.csv"
    assert read_board_lots(path) == {"9988.HK": 100.0, "2318.HK": 1000.0}
    rules = with_board_lots(HK, path)
    assert rules.lot("9988.HK") == 100 and rules.lot("2318.HK") == 1000
    assert rules.lot("0700.HK") == HK_BOARD_LOTS["0700.HK"]
    assert rules.round_quantity("9988.HK", 1_234) == 1_200
    # the built-in rules are left as they are; a market with one lot never reads the file
    assert HK.lot("2318.HK") == 500 and "9988.HK" not in HK.lot_sizes
    assert with_board_lots(US, path) is US
    assert with_board_lots(HK, tmp_path / "none.csv") is HK


@pytest.mark.parametrize(("text", "message"), [
    ("symbol,lot\n9988.HK,abc\n", "line 2: 9988.HK: the lot 'abc' is not a whole number"),
    ("symbol,lot\n0700.HK,100\n9988.HK,1.5\n", "line 3: 9988.HK: the lot '1.5' is not"),
    ("symbol,lot\n9988.HK,0\n", "line 2: 9988.HK: the lot 0 is not positive"),
    ("symbol,lot\n9988.HK,-100\n", "line 2: 9988.HK: the lot -100 is not positive"),
    ("symbol,lot\n9988.HK,\n", "line 2: 9988.HK: the lot '' is not a whole number"),
    ("symbol,lot\n,100\n", "line 2: the symbol is empty"),
    ("symbol,lot\nAAPL,100\n", "line 2: AAPL is not a Hong Kong stock"),
    ("symbol,lot\n^HSI,100\n", "line 2: ^HSI is not a Hong Kong stock"),
    ("symbol,lot\n9988.HK,100\n9988.hk,500\n", "line 3: 9988.HK is listed twice (also on "
                                               "line 2)"),
    ("symbol,lot\n9988.HK,100,extra\n", "line 2: 3 values, expected 2"),
    ("symbol,lot,board\n9988.HK,100,x\n", "line 1: the header must be exactly the columns "
                                          "symbol,lot (got symbol,lot,board; unknown: board)"),
    ("ticker,lot\n9988.HK,100\n", "unknown: ticker; missing: symbol"),
    ("9988.HK,100\n", "line 1: the header must be exactly the columns symbol,lot"),
])
def test_a_bad_row_is_refused_naming_its_line(tmp_path: Path, text: str,
                                               message: str) -> None:
    path = lots_file(tmp_path, text)
    with pytest.raises(BoardLotsError, match="board_lots.csv") as error:
        with_board_lots(HK, path)
    assert message in str(error.value)


def test_the_rules_a_run_trades_under_take_the_homes_lots(tmp_path: Path) -> None:
    with pytest.raises(UnknownBoardLot, match="board_lots.csv in the project home \\("
                       "trade-pipelines set-board-lot 9988.HK LOT\\)"):
        HK.lot("9988.HK")
    lots_file(tmp_path, "symbol,lot\n9988.HK,100\n")
    chosen = build_resources(home=tmp_path, market="hk", source="builtin")["market_data"]
    assert chosen.rules().lot("9988.HK") == 100
    assert MarketDataResource(symbols="9988.HK,0700.HK", home=str(tmp_path)).rules() \
        .lot("9988.HK") == 100
    with pytest.raises(UnknownBoardLot):  # no home: the built-in lots only
        MarketDataResource(market="hk").rules().lot("9988.HK")
    # a decision to buy it is now an order in whole lots, not a rejected one
    ledger = Ledger(LedgerState(), {}, rules=chosen.rules())
    day = date(2015, 6, 1)
    ledger.run_day(DayMarket(day, {"9988.HK": Bar(80.0, 81.0, 1e9)}, {"9988.HK": 0.2},
                             4000.0, 0.0, False),
                   [{"as_of": day, "decision_id": "D-1", "symbol": "9988.HK",
                     "strategy_id": "H", "confidence": 0.7, "weight_aggressive": 0.05,
                     "weight_conservative": 0.05, "weight_combined": 0.05}])
    orders = ledger.result.frames()["orders"]
    assert set(orders["verdict"]) == {"accepted"} and (orders["quantity"] % 100 == 0).all()
    # a bad file stops the run with its row, rather than trading on the built-in lots
    lots_file(tmp_path, "symbol,lot\n9988.HK,lots\n")
    with pytest.raises(BoardLotsError, match="line 2"):
        chosen.rules()


def test_set_board_lot_writes_the_homes_file(project_home: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    path = paths().board_lots
    assert main(["set-board-lot", "9988.hk", "100"]) == 0
    assert f"9988.HK: board lot 100 recorded in {path}" in capsys.readouterr().out
    assert main(["set-board-lot", "2318.HK", "1000"]) == 0
    assert "(was 500)" in capsys.readouterr().out  # the built-in lot it replaces
    assert main(["set-board-lot", "9988.HK", "500"]) == 0
    assert "(was 100)" in capsys.readouterr().out
    assert path.read_text() == "symbol,lot\n2318.HK,1000\n9988.HK,500\n"
    assert main(["set-board-lot", "9988.HK", "0"]) == 2
    assert "the lot 0 is not positive" in capsys.readouterr().err
    assert main(["set-board-lot", "AAPL", "100"]) == 2
    assert "AAPL is not a Hong Kong stock" in capsys.readouterr().err
    assert read_board_lots(path) == {"2318.HK": 1000.0, "9988.HK": 500.0}
