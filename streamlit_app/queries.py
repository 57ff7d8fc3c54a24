"""Everything the supervisor page reads, as small functions of a ``Warehouse``.

Kept apart from the page so each read can be tested without Streamlit, and so the page
never touches DuckDB itself: every read goes through ``Warehouse.query``, which opens a
short read-only connection and closes it, leaving the replay free to write.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby

import duckdb
import pandas as pd

from trade_pipelines.agent.execution.ledger import ACCOUNTS, STARTING_CAPITAL
from trade_pipelines.agent.markets import MarketRules, market_rules
from trade_pipelines.agent.reflection.performance import daily_stats
from trade_pipelines.warehouse import Warehouse

STARTING_EQUITY = STARTING_CAPITAL
BENCHMARK = "benchmark"

HISTORY_COLUMNS = ["as_of", "account", "equity", "drawdown", "benchmark_close"]
DAY_COLUMNS = ["as_of", "n_decisions", "n_orders", "n_rejected", "n_cancelled"]
DECISION_COLUMNS = [
    "as_of", "decision_id", "symbol", "side", "strategy_id", "verdict", "confidence",
    "low_certainty", "weight_aggressive", "weight_conservative", "weight_combined", "rounds",
    "summary", "transcript", "memories_used",
]
ORDER_COLUMNS = [
    "as_of", "order_id", "sequence", "account", "decision_id", "strategy_id", "symbol", "side",
    "quantity", "order_type", "purpose", "verdict", "reason", "status", "resolution",
    "filled_quantity", "unfilled_quantity", "resolved_as_of",
]
CONTROL_COLUMNS = ["event_id", "action", "effective_from", "reason", "recorded_by",
                   "recorded_at"]
# How the ledger words a refusal or cancellation that a pause or halt caused.
CONTROL_MARKERS = ("entry refused: trading ", "cancelled before filling: trading ")
MEMORY_COLUMNS = ["memory_id", "as_of", "kind", "tier", "symbol", "importance", "text"]


def _read(warehouse: Warehouse, sql: str, columns: list[str],
          params: list | None = None) -> pd.DataFrame:
    """Query, reading a warehouse that is absent or not yet migrated as empty.

    ``WarehouseLockedError`` is left to the caller: only the page knows how to say
    "busy, retrying".
    """
    try:
        frame = warehouse.query(sql, params)
    except duckdb.CatalogException:
        frame = pd.DataFrame()
    if frame.empty:
        return pd.DataFrame(columns=columns)
    return frame


def _to_date(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.date


def latest_as_of(warehouse: Warehouse) -> date | None:
    """The last trading day the agent processed (bars may be loaded further ahead)."""
    frame = _read(warehouse, """
        SELECT max(d) AS latest FROM (
            SELECT max(as_of) AS d FROM accounts
            UNION ALL SELECT max(as_of) FROM decisions
            UNION ALL SELECT max(as_of) FROM orders)
        """, ["latest"])
    if frame.empty or pd.isna(frame["latest"].iloc[0]):
        return None
    return pd.Timestamp(frame["latest"].iloc[0]).date()


def account_history(warehouse: Warehouse) -> pd.DataFrame:
    """One row per (day, account): equity, drawdown and that day's benchmark close."""
    frame = _read(warehouse, """
        SELECT as_of, account, equity, drawdown, benchmark_close
        FROM accounts ORDER BY as_of, account
        """, HISTORY_COLUMNS)
    if not frame.empty:
        frame["as_of"] = _to_date(frame["as_of"])
    return frame


def activity_days(warehouse: Warehouse) -> pd.DataFrame:
    """Days with decisions or orders, newest first, with counts for the day picker."""
    frame = _read(warehouse, """
        WITH d AS (SELECT as_of, count(*) AS n_decisions FROM decisions GROUP BY as_of),
             o AS (SELECT as_of, count(*) AS n_orders,
                          count(*) FILTER (WHERE status = 'rejected') AS n_rejected,
                          count(*) FILTER (WHERE status = 'cancelled') AS n_cancelled
                   FROM orders GROUP BY as_of)
        SELECT coalesce(d.as_of, o.as_of) AS as_of,
               coalesce(d.n_decisions, 0) AS n_decisions,
               coalesce(o.n_orders, 0) AS n_orders,
               coalesce(o.n_rejected, 0) AS n_rejected,
               coalesce(o.n_cancelled, 0) AS n_cancelled
        FROM d FULL OUTER JOIN o ON d.as_of = o.as_of
        ORDER BY as_of DESC
        """, DAY_COLUMNS)
    if not frame.empty:
        frame["as_of"] = _to_date(frame["as_of"])
    return frame


def default_day(days: pd.DataFrame) -> date | None:
    """The latest day with decisions; failing that, the latest day with orders."""
    if days.empty:
        return None
    with_decisions = days[days["n_decisions"] > 0]
    chosen = with_decisions if not with_decisions.empty else days
    return max(chosen["as_of"])


def _with_columns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``SELECT *`` then pick columns here: a warehouse created before a column was added
    still renders (the missing column reads as empty) instead of failing to bind."""
    return frame.reindex(columns=list(dict.fromkeys([*columns, *frame.columns])))


def decisions_on(warehouse: Warehouse, day: date) -> pd.DataFrame:
    """That day's debated proposals, executed first, most confident first."""
    return _with_columns(_read(warehouse, """
        SELECT * FROM decisions WHERE as_of = ?
        ORDER BY CASE verdict WHEN 'execute' THEN 0 WHEN 'adjust' THEN 1 ELSE 2 END,
                 confidence DESC, symbol, decision_id
        """, DECISION_COLUMNS, [day]), DECISION_COLUMNS)


def control_log(warehouse: Warehouse) -> pd.DataFrame:
    """Every recorded control event (pause, resume, halt), oldest session first."""
    frame = _read(warehouse, "SELECT * FROM control_events "
                             "ORDER BY effective_from, recorded_at, event_id",
                  CONTROL_COLUMNS)
    return frame[CONTROL_COLUMNS] if not frame.empty else frame


def stopped_by_controls(orders: pd.DataFrame) -> int:
    """How many of these orders a pause or halt refused or cancelled."""
    if orders.empty or "resolution" not in orders:
        return 0
    text = orders["resolution"].fillna("").astype(str)
    return int(text.map(lambda t: t.startswith(CONTROL_MARKERS)).sum())


def orders_on(warehouse: Warehouse, day: date) -> pd.DataFrame:
    """That day's orders in every state (their outcome may be known only a session
    later), in the order the ledger submitted them."""
    frame = _with_columns(_read(warehouse, "SELECT * FROM orders WHERE as_of = ?",
                                ORDER_COLUMNS, [day]), ORDER_COLUMNS)
    rank = frame["account"].map({a: i for i, a in enumerate(ACCOUNTS)})
    return (frame.assign(_rank=rank)
            .sort_values(["sequence", "_rank", "symbol", "order_id"], kind="mergesort")
            .drop(columns="_rank").reset_index(drop=True))


def memories_by_id(warehouse: Warehouse, memory_ids: list[str]) -> pd.DataFrame:
    """The memories a debate recalled, so the page can show their text, not just ids."""
    if not memory_ids:
        return pd.DataFrame(columns=MEMORY_COLUMNS)
    frame = _read(warehouse, f"""
        SELECT {", ".join(MEMORY_COLUMNS)} FROM memories
        WHERE list_contains(?::VARCHAR[], memory_id)
        """, MEMORY_COLUMNS, [list(memory_ids)])
    if not frame.empty:
        frame["as_of"] = _to_date(frame["as_of"])
    return frame


# -- pure transformations ------------------------------------------------------------------

def equity_curves(history: pd.DataFrame) -> pd.DataFrame:
    """Wide frame indexed by day: one column per account, plus the benchmark rebased to
    the starting equity at the first day shown, so all lines share one dollar axis."""
    if history.empty:
        return pd.DataFrame(columns=[*ACCOUNTS, BENCHMARK])
    wide = history.pivot_table(index="as_of", columns="account", values="equity",
                               aggfunc="last").sort_index()
    ordered = [a for a in ACCOUNTS if a in wide.columns]
    wide = wide[ordered + sorted(set(wide.columns) - set(ordered))]
    wide.columns.name = None
    closes = history.groupby("as_of")["benchmark_close"].first().reindex(wide.index)
    closes = pd.to_numeric(closes, errors="coerce")
    first = closes.first_valid_index()
    if first is not None and closes[first] > 0:
        wide[BENCHMARK] = closes / closes[first] * STARTING_EQUITY
    else:
        wide[BENCHMARK] = float("nan")
    return wide


def performance(curves: pd.DataFrame) -> pd.DataFrame:
    """Latest equity, total return, drawdown and Sharpe per line, from its daily returns
    compounded from the same starting capital (the performance module's figures, as the
    daily report and the gene pool read them), so accounts and benchmark compare directly."""
    rows = []
    for name in curves.columns:
        series = curves[name].dropna()
        if series.empty:
            continue
        stats = daily_stats(series / series.shift(1, fill_value=STARTING_EQUITY) - 1)
        rows.append({
            "series": name,
            "equity": float(series.iloc[-1]),
            "total_return": stats.total_return,
            "drawdown": stats.drawdown,
            "max_drawdown": stats.max_drawdown,
            "sharpe": stats.sharpe,
        })
    table = pd.DataFrame(rows, columns=["series", "equity", "total_return", "drawdown",
                                        "max_drawdown", "sharpe"])
    bench = table.loc[table["series"] == BENCHMARK, "total_return"]
    table["excess_return"] = (table["total_return"] - bench.iloc[0]) if not bench.empty \
        else float("nan")
    table.loc[table["series"] == BENCHMARK, "excess_return"] = float("nan")
    return table


@dataclass(frozen=True)
class Utterance:
    role: str
    texts: list[str]


@dataclass(frozen=True)
class Round:
    number: int
    turns: list[Utterance] = field(default_factory=list)


def parse_transcript(raw: object) -> list[Round]:
    """Group a stored transcript by round, then by speaker.

    Consecutive lines by one role form one turn (the conservative's five opening
    objections read as one block) while the order of the argument is kept.
    """
    entries = _json_list(raw)
    cleaned = []
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            entry = {"text": str(entry)}
        try:
            number = int(entry.get("round", 0))
        except (TypeError, ValueError):
            number = 0
        cleaned.append((number, position, str(entry.get("role", "unknown")),
                        str(entry.get("text", ""))))
    cleaned.sort(key=lambda item: (item[0], item[1]))
    rounds = []
    for number, in_round in groupby(cleaned, key=lambda item: item[0]):
        turns = [Utterance(role, [item[3] for item in lines])
                 for role, lines in groupby(in_round, key=lambda item: item[2])]
        rounds.append(Round(number, turns))
    return rounds


def parse_memory_ids(raw: object) -> list[str]:
    # Each recalled memory is {"memory_id", "score"} (a bare id in older decisions).
    return [str(item["memory_id"] if isinstance(item, dict) and "memory_id" in item else item)
            for item in _json_list(raw)]


def _json_list(raw: object) -> list:
    if raw is None or (isinstance(raw, float) and pd.isna(raw)):
        return []
    if isinstance(raw, list):
        return raw
    try:
        value = json.loads(str(raw))
    except (TypeError, ValueError):
        return [str(raw)]
    return value if isinstance(value, list) else [value]


# -- what one page render needs ------------------------------------------------------------

@dataclass(frozen=True)
class Overview:
    """Reads that do not depend on the selected day."""

    latest: date | None
    history: pd.DataFrame
    days: pd.DataFrame
    market_code: str = "us"       # the home's market (a code: st.cache_data pickles this)

    @property
    def market(self) -> MarketRules:
        """The home's market: its name, currency, calendar and benchmark."""
        return market_rules(self.market_code)

    @property
    def empty(self) -> bool:
        return self.history.empty and self.days.empty


@dataclass(frozen=True)
class DayDetail:
    """One day's decisions, orders and the memories its debates recalled."""

    decisions: pd.DataFrame
    orders: pd.DataFrame
    memories: pd.DataFrame
    report: str = ""


def load_overview(warehouse: Warehouse) -> Overview:
    from trade_pipelines.home_market import home_market

    return Overview(latest_as_of(warehouse), account_history(warehouse),
                    activity_days(warehouse), home_market(warehouse) or "us")


def report_on(warehouse: Warehouse, day: date) -> str:
    """That day's Markdown report ("" when the day has none yet)."""
    frame = _read(warehouse, "SELECT markdown FROM reports WHERE as_of = ? AND kind = 'daily'",
                  ["markdown"], [day])
    return str(frame["markdown"].iloc[0]) if not frame.empty else ""


def load_day(warehouse: Warehouse, day: date) -> DayDetail:
    decisions = decisions_on(warehouse, day)
    ids = sorted({m for raw in decisions["memories_used"] for m in parse_memory_ids(raw)})
    return DayDetail(decisions, orders_on(warehouse, day), memories_by_id(warehouse, ids),
                     report_on(warehouse, day))
