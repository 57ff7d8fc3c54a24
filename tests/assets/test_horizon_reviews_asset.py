"""The horizon_reviews asset on a real warehouse: one review per closed week, month and
quarter, rows and files (Markdown and HTML) that agree, a re-run that rewrites the same;
the daily reports beside them get their HTML pages, and neither step's window
replacement touches the other's rows."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
from agent.reflection.review_ledger import SESSIONS, build_ledger
from dagster import materialize

from trade_pipelines.assets.reports import daily_reports, horizon_reviews
from trade_pipelines.definitions import build_resources
from trade_pipelines.settings import Paths
from trade_pipelines.warehouse import Warehouse

DAILY_DAY = date(2016, 3, 11)


def seeded_warehouse(home: Path) -> Warehouse:
    store = Warehouse(Paths(home).warehouse)
    store.migrate()
    ledger = build_ledger()
    decisions = ledger.decisions.assign(
        proposal_id=ledger.decisions["decision_id"], low_certainty=False,
        weight_conservative=0.04, weight_combined=0.03, rounds=2)
    memories = ledger.memories.assign(kind="trade", tier="long", importance=5,
                                      source="test")
    bars = ledger.bars.assign(source="test", available_at=datetime(2016, 1, 1))
    for table, frame in (("accounts", ledger.accounts), ("trades", ledger.trades),
                         ("decisions", decisions), ("orders", ledger.orders),
                         ("fills", ledger.fills), ("memories", memories),
                         ("changes", ledger.changes), ("horizon_plans", ledger.plans),
                         ("framework_proposals", ledger.proposals),
                         ("change_decisions", ledger.human_decisions), ("bars", bars)):
        store.append(table, frame)
    store.append("reports", pd.DataFrame([{"as_of": DAILY_DAY, "kind": "daily",
                                           "path": "daily.md", "markdown": "# a day"}]))
    return store


def expected_periods() -> dict[str, int]:
    days = pd.Series(SESSIONS)
    weeks = days.groupby(days.map(lambda d: d.isocalendar()[:2])).max()
    # every period whose last session was traded (the ledger runs to 2016-04-15)
    return {"weekly": len(weeks), "monthly": 3, "quarterly": 1}


def run(home: Path, *assets) -> None:
    result = materialize(list(assets), partition_key="2016-01-01",
                         resources=build_resources(home=home))
    assert result.success


def test_reviews_are_written_once_per_closed_period(project_home: Path) -> None:
    store = seeded_warehouse(project_home)
    run(project_home, horizon_reviews)
    reports = store.query("SELECT * FROM reports ORDER BY as_of, kind")
    counts = reports["kind"].value_counts().to_dict()
    assert counts == {**expected_periods(), "daily": 1}  # the daily row left alone
    reviews = reports[reports["kind"] != "daily"]
    for row in reviews.itertuples():
        path = Path(row.path)
        day = pd.Timestamp(row.as_of).date()
        assert path == Paths(project_home).reports / f"{day:%Y}" / f"{day}-{row.kind}.md"
        assert path.read_text() == row.markdown
        html = path.with_suffix(".html").read_text()
        assert html.count("<svg") == 3
    monthly = reviews[reviews["kind"] == "monthly"]
    assert [pd.Timestamp(d).date() for d in monthly["as_of"]] == [
        date(2016, 1, 29), date(2016, 2, 29), date(2016, 3, 31)]
    assert (Paths(project_home).reports / "2016" / "2016-03-31-quarterly.md").exists()

    run(project_home, horizon_reviews)  # a re-run rewrites the same rows, no more
    again = store.query("SELECT * FROM reports ORDER BY as_of, kind")
    pd.testing.assert_frame_equal(again, reports)

    run(project_home, daily_reports)  # a page beside each daily report; reviews kept
    after = store.query("SELECT * FROM reports ORDER BY as_of, kind")
    pd.testing.assert_frame_equal(after[after["kind"] != "daily"].reset_index(drop=True),
                                  reviews.reset_index(drop=True))
    daily = after[after["kind"] == "daily"]
    assert len(daily) == len(SESSIONS)
    for path in daily["path"]:
        assert Path(path).with_suffix(".html").read_text().count("<svg") == 3

    # the daily reports replace only their own rows in the window
    store.replace_days({"reports": pd.DataFrame(columns=["as_of", "kind", "path",
                                                         "markdown"])},
                       date(2016, 1, 1), date(2016, 12, 31), kinds={"reports": ["daily"]})
    kept = store.query("SELECT kind, count(*) AS n FROM reports GROUP BY kind")
    assert dict(zip(kept["kind"], kept["n"], strict=True)) == expected_periods()
