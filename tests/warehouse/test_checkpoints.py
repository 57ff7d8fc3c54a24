"""Month-by-month commits: fingerprints, the resume rule and overlapping slices."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from trade_pipelines.warehouse import Warehouse
from trade_pipelines.warehouse.checkpoints import (
    MonthSlice,
    StepCheckpoints,
    fingerprint,
    month_slices,
    split_by_month,
)


@pytest.fixture
def store(tmp_path: Path) -> Warehouse:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    warehouse.migrate()
    return warehouse


def _plans(first: date, last: date, exposure: float) -> pd.DataFrame:
    days = pd.bdate_range(first, last).date
    return pd.DataFrame({"as_of": days, "regime": "bull", "stance": "offensive",
                         "exposure_target": exposure, "watchlist": "[]", "key_levels": "{}",
                         "tasks": "[]"})


def test_month_slices_cut_a_range_at_month_ends() -> None:
    assert month_slices(date(2019, 1, 15), date(2019, 3, 3)) == [
        MonthSlice(date(2019, 1, 15), date(2019, 1, 31)),
        MonthSlice(date(2019, 2, 1), date(2019, 2, 28)),
        MonthSlice(date(2019, 3, 1), date(2019, 3, 3))]
    frame = pd.DataFrame({"as_of": [date(2019, 1, 10), date(2019, 1, 20), date(2019, 2, 5),
                                    date(2019, 3, 4)]})
    parts = split_by_month(frame, month_slices(date(2019, 1, 15), date(2019, 3, 3)))
    assert [len(p) for p in parts] == [1, 1, 0]  # days outside the range belong to none


def test_fingerprints_follow_content_not_identity() -> None:
    a = _plans(date(2019, 1, 1), date(2019, 1, 31), 0.9)
    assert fingerprint(a) == fingerprint(a.copy())
    changed = a.copy()
    changed.loc[3, "exposure_target"] = 0.6
    assert fingerprint(changed) != fingerprint(a)
    assert fingerprint(a, "x") != fingerprint(a, "y")


def test_a_rerun_skips_the_committed_prefix_and_computes_from_the_first_change(
        store: Warehouse) -> None:
    months = month_slices(date(2019, 1, 1), date(2019, 3, 31))
    first = StepCheckpoints(store, "plans_step")
    digests = []
    previous = ""
    for month in months:
        previous = first.chain(month, previous, month.first)
        digests.append(previous)
        assert not first.can_skip(month, previous)
        first.stage(month, previous, {"plans": _plans(month.first, month.last, 0.9)})
    first.flush()
    again = StepCheckpoints(store, "plans_step")
    assert again.can_skip(months[0], digests[0])
    assert not again.can_skip(months[1], "another input")
    # once a month is computed, later months are computed too, even if they match
    again.stage(months[1], digests[1], {"plans": _plans(months[1].first, months[1].last, 0.5)})
    assert not again.can_skip(months[2], digests[2])
    assert again.summary() == {"months_computed": 1, "months_resumed": 1}


def test_uncommitted_months_are_not_stored_and_a_commit_is_all_or_nothing(
        store: Warehouse) -> None:
    month = MonthSlice(date(2019, 1, 1), date(2019, 1, 31))
    steps = StepCheckpoints(store, "plans_step", commit_every_s=3600)
    steps.stage(month, "d1", {"plans": _plans(month.first, month.last, 0.9)})
    assert store.query("SELECT count(*) AS n FROM plans")["n"].iloc[0] == 0  # staged only
    assert not StepCheckpoints(store, "plans_step").can_skip(month, "d1")
    broken = _plans(month.first, month.last, 0.9).drop(columns=["regime"])  # NOT NULL fails
    steps._staged[0] = (month, "d1", {"plans": broken})
    with pytest.raises(Exception):  # noqa: B017 (DuckDB's constraint error)
        steps.flush()
    assert store.query("SELECT count(*) AS n FROM step_checkpoints")["n"].iloc[0] == 0


def test_a_run_over_part_of_a_month_invalidates_that_months_checkpoint(
        store: Warehouse) -> None:
    march = MonthSlice(date(2019, 3, 1), date(2019, 3, 31))
    whole = StepCheckpoints(store, "plans_step")
    whole.stage(march, "whole", {"plans": _plans(march.first, march.last, 0.9)})
    whole.flush()
    part = MonthSlice(date(2019, 3, 15), date(2019, 3, 31))
    other = StepCheckpoints(store, "plans_step")
    other.stage(part, "part", {"plans": _plans(part.first, part.last, 0.2)})
    other.flush()
    # The whole month's checkpoint no longer describes its rows: it must not be reused.
    assert not StepCheckpoints(store, "plans_step").can_skip(march, "whole")
    assert StepCheckpoints(store, "plans_step").can_skip(part, "part")
