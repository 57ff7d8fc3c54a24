"""The evolving gene pool through the real asset graph: statuses and lineage survive
yearly partitions, and re-running an earlier year rolls no status back."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from replay_helpers import table

from trade_pipelines.cli import run_replay


def test_rerunning_an_earlier_year_changes_no_strategy_row(project_home: Path) -> None:
    assert run_replay(date(2016, 1, 4), date(2017, 12, 29), "", progress=False)
    strategies = table(project_home, "strategies")
    history = table(project_home, "strategy_history")
    assert set(strategies["origin"]) >= {"seed", "mutation"}
    assert (history["event"] == "birth").any() and (history["event"] == "elimination").any()
    # every status is the genome's latest evaluation's
    evaluations = table(project_home, "strategy_evaluations").sort_values("as_of")
    latest = evaluations.groupby("strategy_id")["status"].last()
    assert dict(zip(strategies["strategy_id"], strategies["status"], strict=True)) == \
        latest.reindex(strategies["strategy_id"]).to_dict()

    assert run_replay(date(2016, 1, 4), date(2016, 12, 30), "", progress=False)
    again = table(project_home, "strategies")
    assert again.equals(strategies)
    assert table(project_home, "strategy_history").equals(history)

