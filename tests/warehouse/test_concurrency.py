"""One writer process and one reader process on the same warehouse file, at once.

This is the supervisor app's situation during a replay: DuckDB allows one writing
process and no reader while it writes, so both sides rely on ``Warehouse`` opening short
connections and retrying on the lock error. Neither may fail, and the reader must never
see a partial or rolled-back state.
"""

from __future__ import annotations

import multiprocessing as mp
import time
import traceback
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from trade_pipelines.warehouse import Warehouse

TRANSACTIONS = 150
ACCOUNTS = ("aggressive", "conservative", "combined")
TIMEOUT_S = 60
# A beat between reads: still far more often than the page reads, but the writer is not
# starved by a reader that holds the file every moment it can.
READ_PAUSE_S = 0.01


def _day_rows(day: date, n: int) -> pd.DataFrame:
    return pd.DataFrame([{
        "as_of": day, "account": account, "cash": 500_000.0, "equity": 1_000_000.0 + n,
        "gross_exposure": 0.5, "daily_return": 0.0, "drawdown": 0.0,
        "benchmark_close": 5000.0 + n} for account in ACCOUNTS])


def write_loop(path: str, start: mp.synchronize.Barrier, results: mp.Queue) -> None:
    """Each iteration is one transaction: a day's three account rows land together,
    alternating between ``append`` and an explicit ``transaction`` block."""
    try:
        warehouse = Warehouse(path)
        start.wait(TIMEOUT_S)
        began = time.monotonic()
        for n in range(TRANSACTIONS):
            day = date(2020, 1, 1) + timedelta(days=n)
            if n % 2:
                warehouse.append("accounts", _day_rows(day, n))
            else:
                with warehouse.transaction() as connection:
                    connection.register("rows", _day_rows(day, n))
                    connection.execute("INSERT INTO accounts SELECT * FROM rows")
                    connection.unregister("rows")
        results.put(("writer", "ok", time.monotonic() - began))
    except BaseException:
        results.put(("writer", "error", traceback.format_exc()))
        raise


def read_loop(path: str, start: mp.synchronize.Barrier, writer_done: mp.Event,
              results: mp.Queue) -> None:
    """Count rows until the writer is done, then once more."""
    try:
        warehouse = Warehouse(path)
        counts: list[int] = []
        start.wait(TIMEOUT_S)
        while True:
            finished = writer_done.is_set()
            frame = warehouse.query(
                "SELECT count(*) AS n, count(DISTINCT as_of) AS days FROM accounts")
            n, days = int(frame["n"].iloc[0]), int(frame["days"].iloc[0])
            if n != days * len(ACCOUNTS):
                raise AssertionError(f"saw a partial transaction: {n} rows over {days} days")
            counts.append(n)
            if finished:
                break
            time.sleep(READ_PAUSE_S)
        results.put(("reader", "ok", counts))
    except BaseException:
        results.put(("reader", "error", traceback.format_exc()))
        raise


def test_writer_and_reader_processes_share_the_warehouse(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    Warehouse(path).migrate()
    context = mp.get_context("spawn")
    start = context.Barrier(2)
    writer_done = context.Event()
    results = context.Queue()
    writer = context.Process(target=write_loop, args=(str(path), start, results))
    reader = context.Process(target=read_loop, args=(str(path), start, writer_done, results))
    began = time.monotonic()
    writer.start()
    reader.start()
    try:
        outcome: dict[str, tuple[str, object]] = {}
        while len(outcome) < 2:
            role, status, payload = results.get(timeout=TIMEOUT_S)
            outcome[role] = (status, payload)
            if role == "writer":
                writer_done.set()
        writer.join(TIMEOUT_S)
        reader.join(TIMEOUT_S)
    finally:
        for process in (writer, reader):
            if process.is_alive():
                process.kill()
                process.join()
    elapsed = time.monotonic() - began

    assert outcome["writer"][0] == "ok", outcome["writer"][1]
    assert outcome["reader"][0] == "ok", outcome["reader"][1]
    assert writer.exitcode == 0 and reader.exitcode == 0
    counts: list[int] = outcome["reader"][1]  # type: ignore[assignment]
    assert all(a <= b for a, b in zip(counts, counts[1:], strict=False)), counts
    assert counts[-1] == TRANSACTIONS * len(ACCOUNTS)
    # The reads really interleaved with the writes rather than running before or after.
    assert len(set(counts)) > 2, counts
    assert elapsed < 30, f"took {elapsed:.1f}s"
    final = Warehouse(path).query("SELECT count(*) AS n FROM accounts")
    assert int(final["n"].iloc[0]) == TRANSACTIONS * len(ACCOUNTS)
