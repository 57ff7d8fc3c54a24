"""``trade-pipelines replay``: history through the asset graph in one run."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from datetime import date
from typing import TYPE_CHECKING

import pandas as pd

from trade_pipelines.agent.markets import market_of_symbols, market_rules
from trade_pipelines.cli.common import dagster_env, parse_date, print_step_failures
from trade_pipelines.settings import paths

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from trade_pipelines.resources import MarketDataResource

# The console shows warnings and the progress bars; the full log is in the Dagster UI.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# The run tags with which Dagster's single-run backfills (and `dagster asset materialize
# --partition-range`) launch one run over a range of partitions. Dagster exports no public
# constant for them, and `materialize` takes no range argument; the values are what the UI
# shows on every single-run backfill.
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


def partition_keys(start: date, end: date) -> tuple[str, str]:
    """The first and last partition keys covering [start, end]."""
    from trade_pipelines.partitions import year_partition

    return year_partition(start), year_partition(end)


def run_replay(start: date, end: date, symbols: str = "", source: str = "builtin",
               progress: bool = True, market: str = "") -> bool:
    """Replay the trading days of [start, end] of ``market`` (us, cn, hk, crypto; by
    default $TRADE_PIPELINES_MARKET, else the symbols' market, else the home's market,
    else US) through the asset graph as one run over the yearly partitions that cover
    them. A home holds one market: a replay of another market than the home's is refused
    (see ``home_market.py``).

    The run executes in this process against the project's Dagster instance, so its
    writing steps claim the instance's "warehouse" pool like the daemon's runs do: a
    replay started while another run writes waits for the slot instead of failing."""
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is threading.main_thread():
        # SIGTERM interrupts the run as Ctrl-C does, so the step fails cleanly and hands
        # its pool slot back (a killed process would keep the slot claimed).
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _replay(start, end, symbols, source, progress, market)
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, previous)


def _require_builtin_bars(market: str, universe: list[str], start: date, end: date
                          ) -> str | None:
    """A ValueError naming the built-in data's span when none of the universe's built-in
    or already stored (imported) bars fall in [start, end]: a replay would trade nothing.
    When the built-in bars miss the range's first or last exchange session (of the range
    overall, or of some symbols), a note saying which part it trades and naming them."""
    from trade_pipelines.market_data.builtin import load_builtin_bars
    from trade_pipelines.market_data.calendar import exchange_sessions
    from trade_pipelines.warehouse import Warehouse

    store = Warehouse(paths().warehouse)
    if store.table_exists("bars") and not store.query(
            "SELECT 1 FROM bars WHERE as_of BETWEEN ? AND ? AND list_contains(?, symbol) "
            "AND source NOT LIKE 'builtin%' LIMIT 1", [start, end, universe]).empty:
        return None
    rules = market_rules(market)
    bars = load_builtin_bars(market)
    mine = bars[bars["symbol"].isin(universe)].assign(
        as_of=lambda frame: pd.to_datetime(frame["as_of"]).dt.date)
    days = mine["as_of"]
    inside = days[(days >= start) & (days <= end)]
    span = f"{days.min()}..{days.max()}" if len(mine) else "no day"
    if inside.empty:
        raise ValueError(f"the built-in {rules.name} bars of "
                         f"{', '.join(universe)} cover {span}, none in {start}..{end}: pick "
                         "dates inside it, or import bars (`trade-pipelines import-bars`) "
                         "and replay with --source warehouse")
    # Compared with the range's first and last sessions, not its first and last days: a
    # range opening on a holiday (the Spring Festival) is covered from its first session.
    sessions = exchange_sessions(start, end, rules.calendar)
    if not sessions:
        return None
    first, last = sessions[0], sessions[-1]
    spans = mine.groupby("symbol")["as_of"].agg(["min", "max"])
    short = [f"{symbol} ({spans.loc[symbol, 'min']}..{spans.loc[symbol, 'max']})"
             if symbol in spans.index else f"{symbol} (none)"
             for symbol in universe
             if symbol not in spans.index or spans.loc[symbol, "min"] > first
             or spans.loc[symbol, "max"] < last]
    if not short:
        return None
    partial = (f"this replay trades only {inside.min()}..{inside.max()} of {start}..{end}; "
               if inside.min() > first or inside.max() < last else "")
    if len(short) == len(universe):  # all of them: the part traded says it
        return f"note: the built-in {rules.name} bars cover {span}; {partial.rstrip('; ')}"
    return (f"note: the built-in {rules.name} bars cover {span}; {partial}those of "
            f"{', '.join(short)} miss the range's first session {first} or its last {last}")


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _replay(start: date, end: date, symbols: str, source: str, progress: bool,
            market: str) -> bool:
    if end < start:
        raise SystemExit(f"--end {end} is before --start {start}")
    from trade_pipelines.partitions import FIRST_DAY

    first_day = date.fromisoformat(FIRST_DAY)
    if start < first_day:
        raise SystemExit(f"--start {start} is before the first partition ({first_day}); "
                         "the built-in data begins on 1990-01-02")
    this_month = date.today().replace(day=1)
    if end.replace(day=1) > this_month:
        raise SystemExit(f"--end {end} is in a month that has not begun yet")
    dagster_env()
    if progress:
        os.environ["TRADE_PIPELINES_PROGRESS"] = "1"
    from dagster import DagsterInstance, materialize

    from trade_pipelines.assets import ALL_ASSETS, REASONER_PROBES, REPLAYABLE_ASSETS
    from trade_pipelines.assets.common import FIRST_DAY_TAG, LAST_DAY_TAG
    from trade_pipelines.assets.strategy import strategy_gene_pool
    from trade_pipelines.definitions import build_resources
    from trade_pipelines.home_market import HomeMarketMismatch, claim_home_market

    first, last = partition_keys(start, end)
    try:
        resources = build_resources(symbols=symbols, source=source, market=market or None)
        rules = resources["market_data"].rules()
        universe = resources["market_data"].universe()
        chosen = market_of_symbols(universe)
        if chosen != rules.code:
            raise ValueError(f"the symbols are {market_rules(chosen).name}, not the market "
                             f"{rules.code} ({rules.name}) asked for")
        note = _require_builtin_bars(rules.code, universe, start, end) \
            if resources["market_data"].source == "builtin" else None
        claim_home_market(rules.code, paths())
    except (ValueError, HomeMarketMismatch) as error:
        raise SystemExit(f"replay refused: {error}") from None
    instance = DagsterInstance.get()
    _release_slots_of_dead_runs(instance)
    print(f"Replaying {start} .. {end} of {rules.name} ({rules.currency}, "
          f"{rules.calendar} calendar, benchmark {rules.benchmark_name}) as one run over the "
          f"yearly partitions {first[:4]} .. {last[:4]} into {paths().home}", flush=True)
    if note:
        print(note, flush=True)
    began = time.perf_counter()
    seeded = materialize(ALL_ASSETS, instance=instance, resources=resources,
                         selection=[strategy_gene_pool], run_config=QUIET,
                         raise_on_error=False)
    if not seeded.success:
        print("Seeding the gene pool failed; see the Dagster UI for the run log.")
        return False
    result = materialize(
        [*ALL_ASSETS, *REASONER_PROBES], instance=instance, resources=resources,
        selection=REPLAYABLE_ASSETS,
        tags={PARTITION_RANGE_START_TAG: first, PARTITION_RANGE_END_TAG: last,
              FIRST_DAY_TAG: start.isoformat(), LAST_DAY_TAG: end.isoformat()},
        run_config=QUIET, raise_on_error=False)
    elapsed = time.perf_counter() - began
    if not result.success:
        for evaluation in result.get_asset_check_evaluations():
            if not evaluation.passed:
                print(f"CHECK FAILED {evaluation.asset_key.to_user_string()}."
                      f"{evaluation.check_name}: {evaluation.description or ''}",
                      file=sys.stderr)
        print_step_failures(result)
        print(f"Replay failed after {elapsed:.1f}s (run {result.run_id}).", file=sys.stderr)
        return False
    _print_summary(elapsed, result.run_id, start, end, resources["market_data"])
    for evaluation in result.get_asset_check_evaluations():
        score = evaluation.metadata.get("score")
        if score is not None:  # an LLM's probe (agent/decision/probes.py)
            print(f"{evaluation.check_name}: {'passed' if evaluation.passed else 'FAILED'}, "
                  f"score {score.value}")
    return True


def _release_slots_of_dead_runs(instance: DagsterInstance) -> None:
    """A run whose process was killed (SIGKILL, power loss) never hands its warehouse slot
    back, and every later run would wait for it forever. So before a replay claims the
    slot, a holder whose process is gone is marked failed and its slot freed. A holder
    still running (the daemon's run, another replay) keeps it: this replay waits."""
    from dagster import DagsterEventType

    from trade_pipelines.assets.common import WAREHOUSE_POOL

    storage = instance.event_log_storage
    # Dagster creates a pool's slots at its first use; doing it here, before any step
    # claims one, keeps two runs that start together from both creating a slot.
    storage.initialize_concurrency_limit_to_default(WAREHOUSE_POOL)
    for run_id in {slot.run_id for slot in
                   storage.get_concurrency_info(WAREHOUSE_POOL).claimed_slots}:
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            started = instance.get_records_for_run(
                run_id, of_type=DagsterEventType.RUN_START, limit=1).records
            pid = started[0].event_log_entry.dagster_event.pid if started else None
            if pid is None or _process_alive(pid):
                continue
            instance.report_run_failed(run, f"its process {pid} ended without finishing "
                                            "the run; its warehouse slot was freed")
        storage.free_concurrency_slots_for_run(run_id)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _print_summary(elapsed: float, run_id: str, start: date, end: date,
                   market_data: MarketDataResource) -> None:
    from trade_pipelines.agent.execution.ledger import STARTING_CAPITAL
    from trade_pipelines.agent.reflection.daily_report import money
    from trade_pipelines.warehouse import Warehouse

    home = paths()
    store = Warehouse(home.warehouse)
    rules = market_data.rules()
    universe = market_data.universe()
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
    reports = store.query("SELECT kind, count(*) AS n, max(path) AS latest FROM reports "
                          "WHERE as_of BETWEEN ? AND ? GROUP BY kind", [start, end])
    reports = reports.set_index("kind") if not reports.empty else reports
    print(f"\nReplay finished in {elapsed:.1f}s (Dagster run {run_id}).")
    print(f"Market: {rules.name}, amounts in {rules.currency}; calendar {rules.calendar}; "
          f"benchmark {rules.benchmark_name} ({rules.benchmark_symbol})")
    if not accounts.empty:
        print(f"Accounts at {accounts['as_of'].iloc[0]:%Y-%m-%d} (each started with "
              f"{money(STARTING_CAPITAL, rules.currency)}):")
        for row in accounts.itertuples():
            print(f"  {row.account:<13} {money(row.equity, rules.currency):>19}  "
                  f"({row.equity / STARTING_CAPITAL - 1:+.2%})")
    for kind in ("daily", "weekly", "monthly", "quarterly"):
        if kind in reports.index:
            print(f"{kind.capitalize()} reports: {int(reports.loc[kind, 'n'])} in "
                  f"{home.reports} (Markdown and HTML); latest: {reports.loc[kind, 'latest']}")
    print(f"Warehouse: {home.warehouse}")
    print("Open the Dagster UI and the supervisor app with:  trade-pipelines up")
    print("  Dagster UI     http://127.0.0.1:3000")
    print("  Supervisor app http://127.0.0.1:8501")


def cmd_replay(args: argparse.Namespace) -> int:
    ok = run_replay(args.start, args.end, args.symbols or "", args.source,
                    progress=not args.no_progress, market=args.market or "")
    return 0 if ok else 1




def register(sub: argparse._SubParsersAction) -> None:
    replay = sub.add_parser("replay", help="replay history through the asset graph in one run")
    replay.add_argument("--start", type=parse_date, required=True)
    replay.add_argument("--end", type=parse_date, required=True)
    replay.add_argument("--symbols", default="",
                        help="comma-separated; default: the market's built-in universe")
    replay.add_argument("--market", default="", choices=["", "us", "cn", "hk", "crypto"],
                        help="US stocks, A-shares, Hong Kong or crypto: the built-in data, "
                             "calendar, rules and currency (default: "
                             "$TRADE_PIPELINES_MARKET, else the symbols' spelling, else "
                             "the home's market (recorded by its first replay), else US). "
                             "A home holds one market")
    replay.add_argument("--source", default="builtin",
                        choices=["builtin", "yfinance", "live", "warehouse"],
                        help="built-in data (offline), live Yahoo Finance bars, the "
                             "market's live source chain (with failover and a cache), or "
                             "only bars already in the warehouse (imported)")
    replay.add_argument("--no-progress", action="store_true")
    replay.set_defaults(func=cmd_replay)
