"""The ``trade-pipelines`` command. Heavy imports happen inside the commands that need
them, so ``--help`` and ``export`` start fast."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from trade_pipelines.settings import PROJECT_ROOT, paths

# The console shows warnings and the progress bars; the full log is in the Dagster UI.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from error


def _dagster_env() -> None:
    home = paths()
    os.environ["DAGSTER_HOME"] = str(home.dagster_home)


def month_keys(start: date, end: date) -> tuple[str, str]:
    """The first and last monthly partition keys covering [start, end]."""
    return f"{start:%Y-%m}-01", f"{end:%Y-%m}-01"


@contextlib.contextmanager
def single_writer(home: Path) -> Iterator[None]:
    """One replay at a time per home: the warehouse has one writer, and a second replay
    would interleave its months with the first's."""
    import fcntl

    lock_path = home / "replay.lock"
    with open(lock_path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise SystemExit(f"another replay is writing {home} ({holder}); wait for it "
                             "to finish") from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()}")
        lock.flush()
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def run_replay(start: date, end: date, symbols: str = "", source: str = "builtin",
               progress: bool = True) -> bool:
    """Replay the trading days of [start, end] through the asset graph as one run over
    the monthly partitions that cover them."""
    with single_writer(paths().home):
        return _replay(start, end, symbols, source, progress)


def _replay(start: date, end: date, symbols: str, source: str, progress: bool) -> bool:
    if end < start:
        raise SystemExit(f"--end {end} is before --start {start}")
    from trade_pipelines.partitions import FIRST_MONTH

    first_day = date.fromisoformat(FIRST_MONTH)
    if start < first_day:
        raise SystemExit(f"--start {start} is before the first partition ({first_day}); "
                         "the built-in data begins on 1990-01-02")
    this_month = date.today().replace(day=1)
    if end.replace(day=1) > this_month:
        raise SystemExit(f"--end {end} is in a month that has not begun yet")
    _dagster_env()
    if progress:
        os.environ["TRADE_PIPELINES_PROGRESS"] = "1"
    from dagster import DagsterInstance, materialize
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    from trade_pipelines.assets import ALL_ASSETS, REPLAYABLE_ASSETS
    from trade_pipelines.assets.common import FIRST_DAY_TAG, LAST_DAY_TAG
    from trade_pipelines.assets.strategy import strategy_gene_pool
    from trade_pipelines.definitions import build_resources

    first, last = month_keys(start, end)
    instance = DagsterInstance.get()
    resources = build_resources(symbols=symbols, source=source)
    print(f"Replaying {start} .. {end} as one run over the monthly partitions "
          f"{first[:7]} .. {last[:7]} into {paths().home}", flush=True)
    began = time.perf_counter()
    seeded = materialize(ALL_ASSETS, instance=instance, resources=resources,
                         selection=[strategy_gene_pool], run_config=QUIET,
                         raise_on_error=False)
    if not seeded.success:
        print("Seeding the gene pool failed; see the Dagster UI for the run log.")
        return False
    result = materialize(
        ALL_ASSETS, instance=instance, resources=resources, selection=REPLAYABLE_ASSETS,
        tags={ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last,
              FIRST_DAY_TAG: start.isoformat(), LAST_DAY_TAG: end.isoformat()},
        run_config=QUIET, raise_on_error=False)
    elapsed = time.perf_counter() - began
    if not result.success:
        for evaluation in result.get_asset_check_evaluations():
            if not evaluation.passed:
                print(f"CHECK FAILED {evaluation.asset_key.to_user_string()}."
                      f"{evaluation.check_name}: {evaluation.description or ''}",
                      file=sys.stderr)
        for event in result.all_events:
            if event.is_failure and event.event_specific_data is not None:
                error = getattr(event.event_specific_data, "error", None)
                while error is not None and error.cause is not None:
                    error = error.cause  # the root cause says what went wrong
                if error is not None and event.step_key:
                    print(f"FAILED in {event.step_key}: {error.message.strip()}",
                          file=sys.stderr)
        print(f"Replay failed after {elapsed:.1f}s (run {result.run_id}).", file=sys.stderr)
        return False
    _print_summary(elapsed, result.run_id, start, end, symbols)
    return True


def _print_summary(elapsed: float, run_id: str, start: date, end: date, symbols: str) -> None:
    from trade_pipelines.agent.ledger import STARTING_CAPITAL
    from trade_pipelines.resources import MarketDataResource
    from trade_pipelines.warehouse import Warehouse

    home = paths()
    store = Warehouse(home.warehouse)
    universe = MarketDataResource(symbols=symbols).universe()
    traded = store.query("SELECT DISTINCT symbol FROM bars WHERE as_of BETWEEN ? AND ?",
                         [start, end])
    missing = sorted(set(universe) - set(traded["symbol"] if not traded.empty else []))
    if missing:
        print(f"WARNING: no bars between {start} and {end} for {', '.join(missing)}: "
              "they were not traded (import them with `trade-pipelines import-bars`)",
              file=sys.stderr)
    accounts = store.query(
        "SELECT account, equity, as_of FROM accounts WHERE as_of = (SELECT max(as_of) FROM "
        "accounts WHERE as_of BETWEEN ? AND ?) ORDER BY account", [start, end])
    reports = store.query("SELECT count(*) AS n, max(path) AS latest FROM reports "
                          "WHERE as_of BETWEEN ? AND ?", [start, end])
    print(f"\nReplay finished in {elapsed:.1f}s (Dagster run {run_id}).")
    if not accounts.empty:
        print(f"Accounts at {accounts['as_of'].iloc[0]:%Y-%m-%d}:")
        for row in accounts.itertuples():
            print(f"  {row.account:<13} {row.equity:>15,.2f}  "
                  f"({row.equity / STARTING_CAPITAL - 1:+.2%})")
    if not reports.empty and reports["n"].iloc[0]:
        print(f"Daily reports: {int(reports['n'].iloc[0])} in {home.reports}")
        print(f"  latest: {reports['latest'].iloc[0]}")
    print(f"Warehouse: {home.warehouse}")
    print("Open the Dagster UI and the supervisor app with:  trade-pipelines up")
    print("  Dagster UI     http://127.0.0.1:3000")
    print("  Supervisor app http://127.0.0.1:8501")


def cmd_replay(args: argparse.Namespace) -> int:
    ok = run_replay(args.start, args.end, args.symbols or "", args.source,
                    progress=not args.no_progress)
    return 0 if ok else 1


def cmd_import_bars(args: argparse.Namespace) -> int:
    from trade_pipelines.market_data.errors import BarImportRejected, BarSchemaError
    from trade_pipelines.market_data.importer import import_bars_file
    from trade_pipelines.warehouse import Warehouse

    try:
        report = import_bars_file(Path(args.path), Warehouse(paths().warehouse),
                                  strict=args.strict, symbol=args.symbol)
    except (BarSchemaError, BarImportRejected) as error:
        print(f"import-bars: {error}", file=sys.stderr)
        return 2
    print(report.message)
    return 3 if report.quarantined else 0


def cmd_export(args: argparse.Namespace) -> int:
    from trade_pipelines.warehouse import Warehouse
    from trade_pipelines.warehouse.schema import EXPORTABLE_TABLES

    if args.table not in EXPORTABLE_TABLES:
        print(f"export: unknown table {args.table!r}; choose one of: "
              f"{', '.join(EXPORTABLE_TABLES)}", file=sys.stderr)
        return 2
    store = Warehouse(paths().warehouse)
    if not store.table_exists(args.table):
        print(f"export: the warehouse {store.path} has no {args.table} yet; run "
              "`trade-pipelines replay` first", file=sys.stderr)
        return 2
    frame = store.query(f"SELECT * FROM {args.table} ORDER BY ALL")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    print(f"Exported {len(frame)} rows of {args.table} to {out}")
    return 0


def cmd_recall(args: argparse.Namespace) -> int:
    """Search the memory index by meaning, as the agent knew it on a day."""
    from trade_pipelines.memory.index import MemoryIndex

    home = paths()
    with MemoryIndex(home.memory_index) as index:
        if index.count() == 0:
            print("recall: the memory index is empty; run `trade-pipelines replay` first",
                  file=sys.stderr)
            return 2
        hits = index.search(args.query, as_of=args.as_of, n=args.n, symbol=args.symbol)
    if not hits:
        print(f"No memory formed on or before {args.as_of} matches.")
        return 0
    for hit in hits:
        meta = hit["metadata"]
        print(f"{hit['as_of']}  {hit['memory_id']}  distance {max(hit['distance'], 0.0):.3f}  "
              f"importance {meta.get('importance', '-')}  {meta.get('tier', '')}\n"
              f"    {hit['text']}")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """Dagster webserver + daemon (``dagster dev``) and the supervisor app, on loopback."""
    _dagster_env()
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ)
    dagster = subprocess.Popen(
        [str(bin_dir / "dagster"), "dev", "-m", "trade_pipelines.definitions",
         "--host", "127.0.0.1", "--port", str(args.dagster_port)], env=env, cwd=PROJECT_ROOT)
    app = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "streamlit_app" / "app.py"),
         "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.address", "127.0.0.1", "--server.port", str(args.app_port)], env=env,
        cwd=PROJECT_ROOT)
    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops the children as Ctrl-C does

    signal.signal(signal.SIGTERM, stop)
    print(f"Dagster UI      http://127.0.0.1:{args.dagster_port}\n"
          f"Supervisor app  http://127.0.0.1:{args.app_port}\nCtrl-C stops both.", flush=True)
    try:
        while dagster.poll() is None and app.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in (app, dagster):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in (app, dagster):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trade-pipelines", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    replay = sub.add_parser("replay", help="replay history through the asset graph in one run")
    replay.add_argument("--start", type=_date, required=True)
    replay.add_argument("--end", type=_date, required=True)
    replay.add_argument("--symbols", default="", help="comma-separated; default: built-in 20")
    replay.add_argument("--source", default="builtin",
                        choices=["builtin", "yfinance", "warehouse"],
                        help="built-in data (offline), live Yahoo Finance bars, or only "
                             "bars already in the warehouse (imported)")
    replay.add_argument("--no-progress", action="store_true")
    replay.set_defaults(func=cmd_replay)
    imp = sub.add_parser("import-bars", help="import daily bars from a CSV or Parquet file")
    imp.add_argument("path")
    imp.add_argument("--symbol", default=None,
                     help="the ticker of a one-symbol file that has no symbol column")
    imp.add_argument("--strict", action="store_true",
                     help="reject the whole file if any row is bad (default: quarantine them)")
    imp.set_defaults(func=cmd_import_bars)
    export = sub.add_parser("export", help="export a warehouse table to CSV")
    export.add_argument("table")
    export.add_argument("--out", required=True)
    export.set_defaults(func=cmd_export)
    recall = sub.add_parser("recall", help="search the agent's memories by meaning")
    recall.add_argument("query")
    recall.add_argument("--as-of", type=_date, default=date.today(),
                        help="only memories formed on or before this day (default: today)")
    recall.add_argument("--n", type=int, default=5)
    recall.add_argument("--symbol", default=None)
    recall.set_defaults(func=cmd_recall)
    up = sub.add_parser("up", help="start the Dagster UI + daemon and the supervisor app")
    up.add_argument("--dagster-port", type=int, default=3000)
    up.add_argument("--app-port", type=int, default=8501)
    up.set_defaults(func=cmd_up)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
