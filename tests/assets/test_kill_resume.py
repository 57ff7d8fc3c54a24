"""A replay killed with SIGKILL at random points, then run again, equals an uninterrupted
one: every table, the memory index's answers and the report files. The long steps commit
month by month, so the rerun resumes instead of starting over.

The kills are seeded: each targets one step (the trading loop, the longest and the
ledger's, and the memory index; the last step has a test of its own), waits for that
step to start in the real run's event log, then kills the process group after a random
share of the step's uninterrupted duration, so the kill lands inside the step, in its
computation or in one of its month transactions.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from dagster import DagsterEventType, DagsterInstance
from replay_helpers import SYMBOLS

from trade_pipelines.memory_index import MemoryIndex
from trade_pipelines.settings import Paths
from trade_pipelines.warehouse import Warehouse
from trade_pipelines.warehouse.checkpoints import CHECKPOINT_TABLE
from trade_pipelines.warehouse.schema import EXPORTABLE_TABLES

START, END = date(2019, 1, 2), date(2019, 12, 31)
# The reports are the cheapest step and usually the last: the last-step test kills there.
KILLS = [("daily_trading_loop", 1), ("memory_index", 3)]
QUERIES = ["trades stopped out with a loss", "a winning trend trade in a bull market",
           "mean reversion bounce", "AAPL", "time exit after holding"]
# Columns that record when a row was written, not what it says.
WALL_CLOCK_COLUMNS = {"recorded_at", "committed_at"}


def _replay_command() -> list[str]:
    return [sys.executable, "-m", "trade_pipelines.cli", "replay", "--start", str(START),
            "--end", str(END), "--symbols", SYMBOLS, "--no-progress"]


def _env(home: Path) -> dict[str, str]:
    return dict(os.environ, TRADE_PIPELINES_HOME=str(home),
                DAGSTER_HOME=str(home / "dagster_home"))


def _run(home: Path) -> float:
    began = time.perf_counter()
    subprocess.run(_replay_command(), env=_env(home), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - began


def _instance(home: Path) -> DagsterInstance:
    return DagsterInstance.from_config(str(home / "dagster_home"))


def _step_events(home: Path) -> list[tuple[str, str, float]]:
    """(step, event, timestamp) of every step start and success of the home's runs."""
    instance = _instance(home)
    events = []
    for run in instance.get_runs():
        for record in instance.all_logs(run.run_id, of_type={DagsterEventType.STEP_START,
                                                             DagsterEventType.STEP_SUCCESS}):
            events.append((record.step_key, record.dagster_event.event_type_value,
                           record.timestamp))
    return sorted(events, key=lambda e: e[2])


def _durations(home: Path) -> dict[str, float]:
    started: dict[str, float] = {}
    out: dict[str, float] = {}
    for step, kind, stamp in _step_events(home):
        if kind == DagsterEventType.STEP_START.value:
            started[step] = stamp
        elif step in started:
            out[step] = stamp - started[step]
    return out


def snapshot(home: Path) -> dict[str, object]:
    """Everything a replay leaves behind that a user reads, with wall-clock stamps and
    the home's own path taken out."""
    paths = Paths(home)
    store = Warehouse(paths.warehouse)
    tables: dict[str, object] = {}
    for name in (*EXPORTABLE_TABLES, CHECKPOINT_TABLE):
        frame = store.query(f"SELECT * FROM {name}")
        frame = frame.drop(columns=[c for c in frame.columns if c in WALL_CLOCK_COLUMNS])
        if "path" in frame.columns:
            frame["path"] = frame["path"].map(lambda p: str(Path(p).relative_to(home)))
        tables[name] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    with MemoryIndex(paths.memory_index) as index:
        tables["memory answers"] = {
            query: [(hit["memory_id"], round(hit["distance"], 5))
                    for hit in index.search(query, as_of=END, n=8)]
            for query in QUERIES}
    # Every file, not only *.md: a temp file a kill left behind is a difference too.
    tables["report files"] = {str(p.relative_to(paths.reports)): p.read_text()
                              for p in sorted(paths.reports.rglob("*")) if p.is_file()}
    return tables


def assert_same(actual: dict[str, object], expected: dict[str, object]) -> None:
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        if isinstance(value, pd.DataFrame):
            # (this replay imports no headlines: its news tables stay empty)
            # no bad bar, no headline and no live source (the source chain's scores) here;
            # no quarterly meta-review proposal and no person's decision on one either
            assert len(value) > 0 or name in ("quarantine", "news", "news_sentiment",
                                              "source_quality", "framework_proposals",
                                              "change_decisions"), \
                f"{name} is empty"
            pd.testing.assert_frame_equal(actual[name], value, obj=name)
        else:
            assert actual[name] == value, name


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    home = tmp_path_factory.mktemp("uninterrupted") / "home"
    seconds = _run(home)
    return home, seconds


def _kill_inside(home: Path, step: str, share: float, typical: float) -> str:
    """Start a replay, wait for ``step`` to start, kill the process group ``share`` of
    ``typical`` seconds later; returns the step that was running when it died."""
    process = subprocess.Popen(_replay_command(), env=_env(home), start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        started_at = None
        while time.monotonic() < deadline and process.poll() is None and started_at is None:
            if (home / "dagster_home").exists():
                started_at = next((stamp for s, k, stamp in _step_events(home)
                                   if s == step and k == DagsterEventType.STEP_START.value),
                                  None)
            time.sleep(0.02)
        assert started_at is not None, f"{step} never started"
        # Counted from the step's own start event, so the time spent noticing it is not
        # added on top (on a fast day that would push the kill past the step).
        time.sleep(max(0.0, started_at + share * typical - time.time()))
        assert process.poll() is None, f"the replay ended before it could be killed in {step}"
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    running = {}
    for s, kind, _ in _step_events(home):
        running[s] = kind
    unfinished = [s for s, kind in running.items() if kind == DagsterEventType.STEP_START.value]
    assert len(unfinished) == 1, running
    return unfinished[0]


@pytest.mark.parametrize(("step", "seed"), KILLS)
def test_a_replay_killed_at_a_random_point_and_run_again_equals_an_uninterrupted_one(
        tmp_path: Path, uninterrupted: tuple[Path, float], step: str, seed: int) -> None:
    baseline, _ = uninterrupted
    # Within the first 60% of the step's uninterrupted duration, so the kill lands in it.
    share = random.Random(seed).uniform(0.05, 0.6)
    # A step can run faster than it did in the uninterrupted run (a warm cache, a less
    # busy machine): then the kill lands in a later step, and it is tried again in a
    # fresh home, earlier in the step.
    for attempt in range(3):
        home = tmp_path / f"home-{attempt}"
        killed_in = _kill_inside(home, step, share, _durations(baseline)[step])
        if killed_in == step:
            break
        share /= 3
    assert killed_in == step
    _run(home)
    assert_same(snapshot(home), snapshot(baseline))


def test_a_run_killed_in_its_last_step_resumes_rather_than_starting_over(
        tmp_path: Path, uninterrupted: tuple[Path, float]) -> None:
    """Killed once its last step has started (most of the work done, however fast this
    machine runs today), the rerun keeps every month already committed."""
    baseline, full_seconds = uninterrupted
    last_step = _step_events(baseline)[-1][0]
    home = tmp_path / "home"
    killed_in = _kill_inside(home, last_step, 0.05, _durations(baseline)[last_step])
    assert killed_in == last_step
    rerun_seconds = _run(home)
    print(f"\nfull run {full_seconds:.1f}s; rerun after a kill in {last_step} {rerun_seconds:.1f}s "
          f"= {rerun_seconds / full_seconds:.0%} of the full run")
    checkpoints = Warehouse(Paths(home).warehouse).query(
        f"SELECT step, count(*) AS months FROM {CHECKPOINT_TABLE} GROUP BY step")
    assert set(checkpoints["step"]) >= {"daily_trading_loop", "daily_reports", "memory_index"}
    resumed = _resumed_months(home)
    assert resumed.get("daily_trading_loop", 0) >= 11, resumed  # kept, not recomputed
    assert_same(snapshot(home), snapshot(baseline))


def _resumed_months(home: Path) -> dict[str, int]:
    """How many months each step of the home's last run kept from before (its metadata)."""
    instance = _instance(home)
    run = instance.get_runs(limit=1)[0]
    out: dict[str, int] = {}
    for record in instance.all_logs(run.run_id,
                                    of_type=DagsterEventType.ASSET_MATERIALIZATION):
        materialization = record.asset_materialization
        value = materialization.metadata.get("months_resumed")
        if value is not None:
            key = materialization.asset_key.to_user_string()
            step = {"debate_decisions": "daily_trading_loop"}.get(key, key)
            out[step] = max(out.get(step, 0), int(value.value))
    return out
