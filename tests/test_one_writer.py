"""One writer per store: two replays started at once on the same home, from two processes,
both succeed, and their writing steps never run at the same time (the instance's
"warehouse" pool has one slot; the second run waits for it instead of failing)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from trade_pipelines.assets import ALL_ASSETS, REPLAYABLE_ASSETS
from trade_pipelines.assets.common import WAREHOUSE_POOL
from trade_pipelines.settings import paths

STEP_EVENTS = {DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS,
               DagsterEventType.STEP_FAILURE}
RUN_EVENTS = {DagsterEventType.RUN_START, DagsterEventType.RUN_SUCCESS,
              DagsterEventType.RUN_FAILURE}


def _replay(start: str, end: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "trade_pipelines.cli", "replay", "--start", start, "--end", end,
         "--symbols", "AAPL,KO", "--no-progress"],
        env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _span(instance: DagsterInstance, run_id: str, types: set[DagsterEventType],
          ) -> dict[str, list[float]]:
    """Timestamps of the given events, per step key (runs' own events under "")."""
    spans: dict[str, list[float]] = {}
    for record in instance.get_records_for_run(run_id, of_type=types).records:
        spans.setdefault(record.event_log_entry.step_key or "", []).append(record.timestamp)
    return spans


def test_two_replays_at_once_take_turns_at_the_warehouse(project_home: Path) -> None:
    writing_ops = {a.op.name for a in ALL_ASSETS if a.op.pool == WAREHOUSE_POOL}
    # the memory index (ChromaDB) is serialised with the warehouse writers
    assert {a.op.name for a in REPLAYABLE_ASSETS} <= writing_ops

    paths()  # the home and its dagster.yaml, before two processes race to write them
    instance = DagsterInstance.get()  # and the instance's storage (its schema, likewise)
    # and the pool's one slot: two brand-new runs creating it at once could make two
    instance.event_log_storage.initialize_concurrency_limit_to_default(WAREHOUSE_POOL)
    first, second = _replay("2019-03-01", "2019-03-31"), _replay("2019-05-01", "2019-05-31")
    outputs = [p.communicate(timeout=600)[0] for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs

    runs = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.SUCCESS]))
    assert len(runs) == 4  # each replay: seed the gene pool, then the month
    intervals = []
    run_spans = []
    for run in runs:
        for step, times in _span(instance, run.run_id, STEP_EVENTS).items():
            assert len(times) == 2, (run.run_id, step)
            if step in writing_ops:
                intervals.append((min(times), max(times), run.run_id, step))
        run_times = _span(instance, run.run_id, RUN_EVENTS)[""]
        run_spans.append((min(run_times), max(run_times)))
    assert len(intervals) >= 2 * len(REPLAYABLE_ASSETS)

    # the two processes really ran at the same time (else this proves nothing) ...
    overlapping_runs = [(a, b) for i, a in enumerate(run_spans) for b in run_spans[i + 1:]
                        if a[0] < b[1] and b[0] < a[1]]
    assert overlapping_runs
    # ... yet no two writing steps did
    intervals.sort()
    for (_, end, run_a, step_a), (start, _, run_b, step_b) in zip(
            intervals, intervals[1:], strict=False):
        assert end <= start, f"{run_a}:{step_a} overlapped {run_b}:{step_b}"


def _holding_the_slot(instance: DagsterInstance, process: subprocess.Popen,
                      seconds: float = 120) -> bool:
    """Wait until a run of ``process`` holds the warehouse slot."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        if instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).claimed_slots:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["kill", "term"])
def test_a_replay_stopped_midway_does_not_block_the_next(project_home: Path,
                                                          signum: int) -> None:
    """SIGTERM: the replay's step fails and hands its slot back. SIGKILL: the slot stays
    claimed, and the next replay frees it, seeing its holder's process gone. Either way
    the next replay runs instead of waiting forever."""
    paths()
    instance = DagsterInstance.get()
    stopped = _replay("2019-03-01", "2019-03-31")
    try:
        assert _holding_the_slot(instance, stopped)
        stopped.send_signal(signum)
        stopped.communicate(timeout=60)
    finally:
        if stopped.poll() is None:
            stopped.kill()
    assert stopped.returncode != 0
    if signum == signal.SIGTERM:
        assert not instance.event_log_storage.get_concurrency_info(
            WAREHOUSE_POOL).claimed_slots

    again = _replay("2019-03-01", "2019-03-31")
    try:
        output = again.communicate(timeout=300)[0]
    finally:
        if again.poll() is None:
            again.kill()
    assert again.returncode == 0, output
    assert not instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).claimed_slots
