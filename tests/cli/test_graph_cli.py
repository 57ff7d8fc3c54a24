"""``trade-pipelines graph``: neighbours and paths read from the stored graph, as of a
day."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from trade_pipelines.agent.evolution.genomes import SEEDED_GENOMES
from trade_pipelines.agent.memory.knowledge_graph import KnowledgeGraph
from trade_pipelines.agent.perception.sentiment import US_SECTORS
from trade_pipelines.cli import main
from trade_pipelines.settings import paths
from trade_pipelines.warehouse import Warehouse

DAY = date(2021, 3, 1)


def trade(closed: date, symbol: str, strategy_id: str, return_pct: float) -> dict:
    return {"as_of": closed, "trade_id": f"{symbol}{closed}", "account": "combined",
            "symbol": symbol, "strategy_id": strategy_id,
            "opened_as_of": closed - timedelta(days=5), "return_pct": return_pct}


@pytest.fixture
def stored(project_home: Path) -> Warehouse:
    graph = KnowledgeGraph(US_SECTORS)
    graph.add_regimes([{"as_of": DAY - timedelta(days=i), "regime": "bull"}
                       for i in range(30)])
    graph.add_trades([trade(DAY, "AAPL", "S01", 0.04),
                      trade(DAY + timedelta(days=2), "AAPL", "S01", -0.01),
                      trade(DAY + timedelta(days=3), "KO", "S05", 0.02)], SEEDED_GENOMES)
    store = Warehouse(paths().warehouse)
    store.migrate()
    frames = graph.frames()
    store.replace_days(frames, DAY, DAY + timedelta(days=10))
    return store


def test_neighbours_as_of_a_day_and_of_everything_stored(stored: Warehouse,
                                                         capsys: pytest.CaptureFixture) -> None:
    assert main(["graph", "neighbours", "AAPL", "--as-of", "2021-03-02"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "symbol:AAPL, from evidence before 2021-03-02:"
    assert "symbol:AAPL -[traded_well_with +4.00%, evidence 1, 2021-03-01..2021-03-01]-> " \
           "family:trend" in out
    assert "sector:Information Technology" in out and "evidence 2" not in out

    assert main(["graph", "neighbours", "AAPL", "--relation", "traded_well_with"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "symbol:AAPL, from evidence before 2021-03-05:"
    assert "-[traded_well_with +1.50%, evidence 2, 2021-03-01..2021-03-03]-> family:trend" in out
    assert "belongs_to" not in out

    assert main(["graph", "neighbours", "AAPL", "--as-of", "2021-03-01"]) == 0
    assert "No edges of symbol:AAPL from evidence before 2021-03-01." in capsys.readouterr().out


def test_a_path_between_two_nodes_or_none(stored: Warehouse,
                                          capsys: pytest.CaptureFixture) -> None:
    assert main(["graph", "path", "AAPL", "regime:bull"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "symbol:AAPL to regime:bull in 2 edges, from evidence before 2021-03-05:"
    assert [line.split()[0] for line in lines[1:]] == ["symbol:AAPL", "regime:bull"]
    assert main(["graph", "path", "AAPL", "KO", "--as-of", "2021-03-04"]) == 1
    assert "No path of at most 3 edges from symbol:AAPL to symbol:KO" in \
        capsys.readouterr().out
    # trend <- bull -> mean_reversion: four edges apart
    assert main(["graph", "path", "AAPL", "KO"]) == 1
    capsys.readouterr()
    assert main(["graph", "path", "AAPL", "KO", "--max-hops", "4"]) == 0
    assert "symbol:AAPL to symbol:KO in 4 edges" in capsys.readouterr().out


def test_without_a_stored_graph_the_command_says_so(project_home: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    assert main(["graph", "neighbours", "AAPL"]) == 2
    assert "no knowledge graph yet" in capsys.readouterr().err
