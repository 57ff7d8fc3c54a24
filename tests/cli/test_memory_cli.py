"""``trade-pipelines memory``: taught lessons are found by meaning, dated, listed, and the
index rebuilt from the warehouse answers as before (real DuckDB, ChromaDB, WordLlama)."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from trade_pipelines.cli import main
from trade_pipelines.memory_index.index import MemoryIndex
from trade_pipelines.settings import paths
from trade_pipelines.warehouse import Warehouse

LESSONS = [
    ("chip makers fall after weak guidance", "NVDA", "2024-02-01"),
    ("banks rally when interest rates rise", "JPM", "2024-02-02"),
    ("oil producers gain when crude prices spike", "XOM", "2024-02-03"),
    ("retailers slump after holiday sales disappoint", "WMT", "2024-02-04"),
    ("airlines drop when fuel costs climb", "DAL", "2024-02-05"),
    ("utilities hold up in a market sell-off", "DUK", "2024-02-06"),
    ("gold miners rise when the dollar weakens", "NEM", "2024-02-07"),
]
PARAPHRASE = "semiconductor shares drop when the outlook disappoints"


def _ids(out: str) -> list[str]:
    """The memory ids of a search's answer, best first."""
    return re.findall(r"^\d+\. score [-\d.]+  (\S+)", out, flags=re.MULTILINE)


def _scores(out: str) -> list[float]:
    return [float(s) for s in re.findall(r"^\d+\. score ([-\d.]+)", out, flags=re.MULTILINE)]


@pytest.fixture
def taught(project_home: Path, capsys: pytest.CaptureFixture) -> dict[str, str]:
    """The lessons taught through the command line: text -> memory id."""
    for text, symbol, day in LESSONS:
        assert main(["memory", "add", text, "--symbol", symbol, "--tags", "lesson,test",
                     "--as-of", day, "--backdate"]) == 0
    out = capsys.readouterr().out
    assert out.count("Taught K-") == len(LESSONS)
    rows = Warehouse(paths().warehouse).query("SELECT * FROM taught_memories")
    return dict(zip(rows["text"], rows["memory_id"], strict=True))


def test_a_paraphrase_finds_the_taught_lesson_first(taught: dict[str, str],
                                                    capsys: pytest.CaptureFixture) -> None:
    assert main(["memory", "search", PARAPHRASE, "-n", "7"]) == 0
    out = capsys.readouterr().out
    ids = _ids(out)
    assert len(ids) == len(LESSONS)
    assert ids[0] == taught["chip makers fall after weak guidance"]
    scores = _scores(out)
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > 0.4 and scores[0] - scores[1] > 0.1  # a clear first, not a tie
    assert "human/taught" in out and "importance 8" in out


def test_a_search_sees_only_lessons_taught_by_its_day_and_of_its_symbol(
        taught: dict[str, str], capsys: pytest.CaptureFixture) -> None:
    assert main(["memory", "search", PARAPHRASE, "--as-of", "2024-01-31"]) == 0
    assert "No memory formed on or before 2024-01-31" in capsys.readouterr().out
    assert main(["memory", "search", PARAPHRASE, "--as-of", "2024-02-03", "-n", "9"]) == 0
    assert len(_ids(capsys.readouterr().out)) == 3
    assert main(["memory", "search", PARAPHRASE, "--symbol", "JPM"]) == 0
    assert _ids(capsys.readouterr().out) == [taught["banks rally when interest rates rise"]]


def test_teaching_again_replaces_and_bad_lessons_are_refused(
        taught: dict[str, str], capsys: pytest.CaptureFixture) -> None:
    text, symbol, day = LESSONS[0]
    assert main(["memory", "add", text, "--symbol", symbol, "--as-of", day,
                 "--importance", "9", "--backdate"]) == 0
    stored = Warehouse(paths().warehouse).query("SELECT * FROM taught_memories")
    assert len(stored) == len(LESSONS)
    assert stored.set_index("text").loc[text, "importance"] == 9
    assert main(["memory", "add", "   "]) == 2
    assert main(["memory", "add", "a lesson", "--importance", "0"]) == 2
    assert "importance" in capsys.readouterr().err
    with MemoryIndex(paths().memory_index) as index:
        assert index.count() == len(LESSONS)


def test_list_shows_each_taught_memory(taught: dict[str, str],
                                       capsys: pytest.CaptureFixture) -> None:
    assert main(["memory", "list"]) == 0
    out = capsys.readouterr().out
    for text, memory_id in taught.items():
        assert text in out and memory_id in out
    assert out.splitlines()[0].startswith("2024-02-01")


def test_added_memories_default_to_today(project_home: Path,
                                         capsys: pytest.CaptureFixture) -> None:
    assert main(["memory", "list"]) == 0
    assert "No taught memory yet" in capsys.readouterr().out
    assert main(["memory", "add", "breadth thrusts start new bull markets"]) == 0
    (day,) = Warehouse(paths().warehouse).query("SELECT as_of FROM taught_memories")["as_of"]
    assert pd.Timestamp(day).date() == date.today()


def test_reindex_rebuilds_both_tables_and_answers_the_same(
        taught: dict[str, str], capsys: pytest.CaptureFixture) -> None:
    store = Warehouse(paths().warehouse)
    agent = pd.DataFrame([{
        "as_of": date(2024, 2, 1 + i), "memory_id": f"M-{i}", "kind": "trade",
        "tier": "short_term", "symbol": symbol, "strategy_id": "S03", "regime": "bull",
        "importance": 5, "outcome_return": 0.02 * (i - 1), "text": text,
        "source": "agent"} for i, (symbol, text) in enumerate([
            ("NVDA", "NVDA SMA 20/50 trend trade in a bull market won +4.0% in 9 days."),
            ("AMD", "AMD RSI reversion trade in a bear market lost -6.0% in 3 days."),
            ("KO", "KO breakout trade in a range market won +0.5% in 20 days.")])])
    store.append("memories", agent)
    with MemoryIndex(paths().memory_index) as index:  # as the memory_index asset would
        index.upsert(agent)
    queries = [[PARAPHRASE, "-n", "10"], ["chip stock trend trade won", "-n", "4"],
               ["energy", "--symbol", "XOM"], [PARAPHRASE, "--as-of", "2024-02-02"]]

    def answers() -> list[str]:
        said = []
        for query in queries:
            assert main(["memory", "search", *query]) == 0
            said.append(capsys.readouterr().out)
        return said

    before = answers()
    assert main(["memory", "reindex"]) == 0
    assert "10 memories (3 the agent's, 7 taught)" in capsys.readouterr().out
    assert answers() == before
    # from the warehouse alone: the index folder lost, rebuilt
    shutil.rmtree(paths().memory_index)
    assert main(["memory", "reindex"]) == 0
    capsys.readouterr()
    assert answers() == before
    assert "M-0" in before[1] and taught[LESSONS[0][0]] in before[0]


def test_a_lesson_dated_before_today_needs_backdate(project_home: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    assert main(["memory", "add", "chip makers fall after weak guidance",
                 "--as-of", "2020-01-02"]) == 2
    assert "--backdate" in capsys.readouterr().err
    store = Warehouse(paths().warehouse)
    assert not store.table_exists("taught_memories") or store.query(
        "SELECT count(*) AS n FROM taught_memories")["n"].iloc[0] == 0
