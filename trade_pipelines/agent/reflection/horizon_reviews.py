"""The weekly, monthly and quarterly reviews as reports a person reads, every figure
recomputed from the ledger tables as they stood at the review's close.

Statistics of trades read the combined account only (the three accounts trade the same
decisions); figures per account are labelled. A review reads no row dated after its last
session: the counterfactual replays of the week's dropped and halved decisions stop at
that close, and a replay still open then is marked at that close and said so."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd

from trade_pipelines.agent.markets import US, MarketRules
from trade_pipelines.agent.reflection.biases import diagnose_biases
from trade_pipelines.agent.reflection.changes import (
    MONTHLY,
    PRINCIPLE,
    QUARTERLY,
    WEEKLY,
    human_decisions_from_rows,
    period_of,
    proposal_status,
    proposals_from_rows,
    review_label,
)
from trade_pipelines.agent.reflection.daily_report import (
    ACCOUNT_TITLES,
    market_line,
    money,
)
from trade_pipelines.agent.reflection.learning_curve import (
    learning_curve,
    learning_curve_markdown,
)

HOLD_SESSIONS = 10            # a counterfactual is held this many sessions at most ...
DEFAULT_STOP = 0.08           # ... or until its genome's stop (this when unknown)
TOP_TRADES = 5
TRANSCRIPT_LINES = 40         # of a decision's debate shown in the monthly review


@dataclass(frozen=True)
class Period:
    horizon: str
    label: str                # "2016-W12", "2016-03", "2016-Q1"
    first: date               # its first session with an accounts row
    last: date                # its last session: the review's close


@dataclass(frozen=True)
class Ledger:
    """The tables a review is written from; rows after a review's close are ignored."""

    accounts: pd.DataFrame
    trades: pd.DataFrame
    decisions: pd.DataFrame
    orders: pd.DataFrame
    fills: pd.DataFrame
    memories: pd.DataFrame
    changes: pd.DataFrame
    plans: pd.DataFrame               # horizon_plans
    proposals: pd.DataFrame           # framework_proposals
    human_decisions: pd.DataFrame     # change_decisions
    bars: pd.DataFrame                # symbol, as_of, open, high, low, close
    names: Mapping[str, str] = field(default_factory=dict)
    stop_losses: Mapping[str, float] = field(default_factory=dict)
    market: MarketRules = US


def _pct(value: float) -> str:
    return f"{value:+.2%}" if math.isfinite(value) else "n/a"


def _up_to(frame: pd.DataFrame, last: date, column: str = "as_of") -> pd.DataFrame:
    return frame[frame[column] <= last] if not frame.empty else frame


def _between(frame: pd.DataFrame, first: date, last: date,
             column: str = "as_of") -> pd.DataFrame:
    return frame[(frame[column] >= first) & (frame[column] <= last)] \
        if not frame.empty else frame


def _json(text: Any, default: Any) -> Any:
    if text is None or (isinstance(text, float) and math.isnan(text)) or text == "":
        return default
    return json.loads(text)


def _value(text: Any) -> str:
    """A change's stored JSON value in a line: a principle by its text."""
    value = _json(text, None)
    if value is None:
        return "none"
    if isinstance(value, dict) and "text" in value:
        return f"\"{value['text']}\" (size x{value.get('size_multiplier', 1.0):g})"
    return json.dumps(value, sort_keys=True)


# -- periods ------------------------------------------------------------------------------

def period_end(horizon: str, day: date) -> date:
    """The last calendar day of the period of ``horizon`` holding ``day``."""
    if horizon == WEEKLY:
        return day + timedelta(days=6 - day.weekday())
    if horizon == MONTHLY:
        return (date(day.year + day.month // 12, day.month % 12 + 1, 1) - timedelta(days=1))
    if horizon == QUARTERLY:
        month = 3 * ((day.month - 1) // 3) + 3
        return date(day.year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    raise ValueError(f"unknown horizon {horizon!r}")


def next_period(horizon: str, last: date) -> str:
    """The label of the period after the one holding ``last``."""
    return period_of(horizon, period_end(horizon, last) + timedelta(days=1))


def closed_periods(horizon: str, calendar_sessions: list[date], account_days: list[date],
                   start: date, end: date) -> list[Period]:
    """The periods whose last exchange session lies in [start, end] and has an accounts
    row; ``calendar_sessions`` must run to the end of the period holding ``end``."""
    have = set(account_days)
    last_of: dict[str, date] = {}
    for day in calendar_sessions:
        last_of[period_of(horizon, day)] = day
    periods = []
    for label, last in sorted(last_of.items(), key=lambda item: item[1]):
        if not start <= last <= end or last not in have:
            continue
        first = min(d for d in have if period_of(horizon, d) == label)
        periods.append(Period(horizon, label, first, last))
    return periods


# -- the figures --------------------------------------------------------------------------

@dataclass(frozen=True)
class AccountResult:
    account: str
    start_equity: float       # at the close before the period
    end_equity: float
    pnl: float
    period_return: float
    max_drawdown: float       # within the period, from the starting equity


def account_result(history: pd.DataFrame, first: date, last: date) -> AccountResult:
    """One account over [first, last]: from the equity at the close before ``first``
    (or the first day's equity before its return) to the equity at ``last``."""
    history = history.sort_values("as_of", kind="mergesort")
    before = history[history["as_of"] < first]
    inside = _between(history, first, last)
    account = str(history["account"].iloc[0]) if not history.empty else ""
    if inside.empty:
        return AccountResult(account, math.nan, math.nan, math.nan, math.nan, math.nan)
    start = float(before["equity"].iloc[-1]) if not before.empty else \
        float(inside["equity"].iloc[0]) / (1 + float(inside["daily_return"].iloc[0]))
    curve = np.concatenate([[start], inside["equity"].to_numpy(dtype=float)])
    peaks = np.maximum.accumulate(curve)
    end = float(curve[-1])
    return AccountResult(account, start, end, end - start, end / start - 1,
                         float(np.min(curve / peaks - 1)))


def benchmark_return(accounts: pd.DataFrame, first: date, last: date) -> float:
    """The benchmark over the period, from the combined account's benchmark closes."""
    rows = accounts[(accounts["account"] == "combined")].sort_values("as_of")
    rows = rows[rows["benchmark_close"].notna()]
    before = rows[rows["as_of"] < first]
    inside = _between(rows, first, last)
    if inside.empty or before.empty:
        return math.nan
    return float(inside["benchmark_close"].iloc[-1]) / float(before["benchmark_close"].iloc[-1]) - 1


def _period_table(ledger: Ledger, period: Period) -> list[str]:
    currency = ledger.market.currency
    bench = benchmark_return(_up_to(ledger.accounts, period.last), period.first, period.last)
    lines = ["| Account | Start equity | End equity | P&L | Return | Benchmark | Excess "
             "| Max drawdown |", "|---|---|---|---|---|---|---|---|"]
    for account, title in ACCOUNT_TITLES.items():
        history = _up_to(ledger.accounts[ledger.accounts["account"] == account], period.last)
        r = account_result(history, period.first, period.last)
        lines.append(f"| {title} | {money(r.start_equity, currency)} "
                     f"| {money(r.end_equity, currency)} "
                     f"| {money(r.pnl, currency, signed=True)} | {_pct(r.period_return)} "
                     f"| {_pct(bench)} | {_pct(r.period_return - bench)} "
                     f"| {_pct(r.max_drawdown)} |")
    return lines


def combined_trades(trades: pd.DataFrame, first: date, last: date) -> pd.DataFrame:
    """The combined account's round trips closed in [first, last]."""
    if trades.empty:
        return trades
    chosen = _between(trades[trades["account"] == "combined"], first, last)
    return chosen.sort_values(["as_of", "trade_id"], kind="mergesort")


def strategy_results(trades: pd.DataFrame) -> pd.DataFrame:
    """P&L, trades and wins by strategy, best first (ties by strategy id)."""
    if trades.empty:
        return pd.DataFrame(columns=["strategy_id", "pnl", "trades", "wins"])
    grouped = trades.groupby("strategy_id").agg(
        pnl=("pnl", "sum"), trades=("pnl", "size"),
        wins=("pnl", lambda p: int((p > 0).sum()))).reset_index()
    return grouped.sort_values(["pnl", "strategy_id"], ascending=[False, True],
                               kind="mergesort").reset_index(drop=True)


def _header(kind: str, ledger: Ledger, period: Period, sessions: int) -> list[str]:
    return [f"# {kind} review {period.label}", "",
            f"{market_line(ledger.market)}  ",
            f"**Period**: {period.label}, {period.first} to {period.last} ({sessions} "
            "sessions)  ",
            f"**As of**: the close of {period.last}, the period's last session. Every figure "
            f"is recomputed from the ledger and uses only data known by that close.", ""]


def _sessions(ledger: Ledger, period: Period) -> int:
    rows = ledger.accounts[ledger.accounts["account"] == "combined"]
    return int(len(_between(rows, period.first, period.last)))


# -- counterfactuals ----------------------------------------------------------------------

@dataclass(frozen=True)
class Counterfactual:
    decision_id: str
    as_of: date
    symbol: str
    strategy_id: str
    verdict: str
    notional: float           # the size not taken
    entry_day: date | None
    entry_price: float
    exit_day: date | None
    exit_price: float
    exit: str                 # stop, time, open at the review's close, not entered
    pnl: float
    return_pct: float


def replay(decision: Mapping[str, Any], equity: float, bars: pd.DataFrame, close: date,
           stop_loss: float, hold: int = HOLD_SESSIONS) -> Counterfactual:
    """What the size a decision did not take would have earned: the proposer's size less
    what the combined account took, bought at the next session's open after its day,
    sold at the genome's stop or after ``hold`` sessions at the close; only bars up to
    ``close`` are read, a position still open then is marked at that close. Before
    costs."""
    proposed = decision.get("proposed_weight")
    proposed = float(proposed) if proposed is not None and pd.notna(proposed) \
        else float(decision["weight_aggressive"])  # a row stored before it was kept
    taken = float(decision.get("weight_combined") or 0.0)
    notional = max(proposed - taken, 0.0) * equity if math.isfinite(equity) else math.nan
    day = decision["as_of"]
    path = bars[(bars["symbol"] == decision["symbol"]) & (bars["as_of"] > day)
                & (bars["as_of"] <= close)].sort_values("as_of")
    base = dict(decision_id=str(decision["decision_id"]), as_of=day,
                symbol=str(decision["symbol"]), strategy_id=str(decision["strategy_id"]),
                verdict=str(decision["verdict"]), notional=notional)
    if path.empty:
        return Counterfactual(**base, entry_day=None, entry_price=math.nan, exit_day=None,
                              exit_price=math.nan, exit="not entered by the review's close",
                              pnl=0.0, return_pct=math.nan)
    first = path.iloc[0]
    entry = float(first["open"]) if pd.notna(first["open"]) else float(first["close"])
    stop = entry * (1 - stop_loss)
    exit_day, exit_price, how = None, math.nan, ""
    for n, bar in enumerate(path.head(hold).itertuples(), start=1):
        low = float(bar.low) if pd.notna(bar.low) else float(bar.close)
        if low <= stop:
            opened = float(bar.open) if pd.notna(bar.open) else stop
            exit_day, exit_price, how = bar.as_of, min(opened, stop) if n > 1 else stop, \
                f"stop {stop_loss:.0%}"
            break
        if n == hold:
            exit_day, exit_price, how = bar.as_of, float(bar.close), f"time ({hold} sessions)"
    if exit_day is None:
        last = path.iloc[-1]
        exit_day, exit_price = last["as_of"], float(last["close"])
        how = f"still open at the review's close, marked at the close of {exit_day}"
    ret = exit_price / entry - 1
    return Counterfactual(**base, entry_day=first["as_of"], entry_price=entry,
                          exit_day=exit_day, exit_price=exit_price, exit=how,
                          pnl=notional * ret, return_pct=ret)


def counterfactuals(ledger: Ledger, period: Period) -> list[Counterfactual]:
    """The dropped and adjusted buy decisions whose replay ends in the period: those made
    ``HOLD_SESSIONS`` + 1 sessions before one of its sessions (entered the next session,
    held ``HOLD_SESSIONS``), so each is replayed whole, once, by the week it ends in."""
    combined = ledger.accounts[ledger.accounts["account"] == "combined"].sort_values("as_of")
    sessions = list(combined["as_of"])
    ends = {d: sessions[i + HOLD_SESSIONS] for i, d in enumerate(sessions[:-HOLD_SESSIONS])}
    decisions = ledger.decisions[[period.first <= ends.get(d, date.max) <= period.last
                                  for d in ledger.decisions["as_of"]]] \
        if not ledger.decisions.empty else ledger.decisions
    if decisions.empty:
        return []
    chosen = decisions[decisions["verdict"].isin(["drop", "adjust"])
                       & (decisions["side"] == "buy")]
    bars = _up_to(ledger.bars, period.last)
    out = []
    for decision in chosen.sort_values(["as_of", "decision_id"]).to_dict("records"):
        known = combined[combined["as_of"] <= decision["as_of"]]
        equity = float(known["equity"].iloc[-1]) if not known.empty else math.nan
        stop = ledger.stop_losses.get(decision["strategy_id"], DEFAULT_STOP)
        out.append(replay(decision, equity, bars, period.last, stop))
    return out


def _counterfactual_lines(ledger: Ledger, replays: list[Counterfactual]) -> list[str]:
    currency = ledger.market.currency
    lines = ["## Counterfactuals: the sizes not taken",
             f"The dropped and adjusted decisions whose {HOLD_SESSIONS} sessions ended this "
             "week: the proposer's size less what the combined account took, bought at the "
             f"next session's open and sold at its genome's stop ({DEFAULT_STOP:.0%} when "
             f"unknown) or after {HOLD_SESSIONS} sessions; sized on the combined account's "
             "equity on the decision day; before costs; no bar after the review's close is "
             "read.", ""]
    if not replays:
        return [*lines, "No dropped or adjusted buy decision's replay ended this week."]
    lines += ["| Decided | Symbol | Strategy | Verdict | Size not taken | Entry | Exit | "
              "How | P&L | Return |", "|---|---|---|---|---|---|---|---|---|---|"]
    for c in replays:
        entry = f"{c.entry_price:.2f} on {c.entry_day}" if c.entry_day else "-"
        exit_ = f"{c.exit_price:.2f} on {c.exit_day}" if c.exit_day else "-"
        lines.append(f"| {c.as_of} | {c.symbol} | {ledger.names.get(c.strategy_id, c.strategy_id)}"
                     f" | {c.verdict} | {money(c.notional, currency)} | {entry} | {exit_} "
                     f"| {c.exit} | {money(c.pnl, currency, signed=True)} "
                     f"| {_pct(c.return_pct)} |")
    by_verdict = {v: [c for c in replays if c.verdict == v] for v in ("drop", "adjust")}
    lines.append("")
    for verdict, title in (("drop", "dropped decisions"),
                           ("adjust", "parts the adjusted ones did not take")):
        chosen = by_verdict[verdict]
        lines.append(f"- **The {title}** ({len(chosen)}) would have earned "
                     f"{money(sum(c.pnl for c in chosen), currency, signed=True)}.")
    still_open = sum(1 for c in replays if c.exit.startswith("still open"))
    if still_open:
        lines.append(f"- {still_open} of them still open at the review's close, marked at "
                     "that close.")
    return lines


# -- changes and plans --------------------------------------------------------------------

def _changes_of(ledger: Ledger, first: date, last: date) -> pd.DataFrame:
    """Every change made at a close in [first, last]: the period's review's, the
    weeklies' within it and any replan's."""
    changes = _between(ledger.changes, first, last)
    return changes.sort_values(["as_of", "kind", "target"]) if not changes.empty \
        else changes


def _change_lines(changes: pd.DataFrame, with_review: bool = False) -> list[str]:
    lines = []
    for c in changes.to_dict("records"):
        review = f" ({c['review']})" if with_review else ""
        lines.append(f"- **{c['kind']} `{c['target']}`**{review}: {_value(c['old_value'])} -> "
                     f"{_value(c['new_value'])}, effective from {c['effective_from']}. "
                     f"Evidence: {c['evidence']}")
    return lines


def _plan_lines(ledger: Ledger, horizon: str, label: str, last: date, title: str) -> list[str]:
    lines = [f"## {title}"]
    plans = _up_to(ledger.plans, last)
    plans = plans[(plans["horizon"] == horizon) & (plans["period"] == label)] \
        if not plans.empty else plans
    if plans.empty:
        return [*lines, f"No {horizon} plan for {label} was made by this close."]
    plan = plans.sort_values(["as_of", "plan_id"]).iloc[-1]
    lines += [f"Plan for {label}, made at the close of {plan['as_of']} ({plan['reason']}; "
              f"{plan['regime']} regime).", ""]
    for key, value in sorted(_json(plan["targets"], {}).items()):
        lines.append(f"- **{key}**: {json.dumps(value, sort_keys=True)}")
    tasks = _json(plan["tasks"], [])
    if tasks:
        lines += ["", "Tasks:", *[f"{n}. {task}" for n, task in enumerate(tasks, start=1)]]
    return lines


def _period_plan(ledger: Ledger, horizon: str, label: str, last: date) -> pd.Series | None:
    plans = _up_to(ledger.plans, last)
    plans = plans[(plans["horizon"] == horizon) & (plans["period"] == label)] \
        if not plans.empty else plans
    return None if plans.empty else plans.sort_values(["as_of", "plan_id"]).iloc[-1]


# -- the reviews --------------------------------------------------------------------------

def weekly_review(ledger: Ledger, period: Period) -> str:
    """The week: P&L against the benchmark, strategies ranked, counterfactual replays, the
    principles the review made and next week's plan."""
    currency = ledger.market.currency
    lines = _header("Weekly", ledger, period, _sessions(ledger, period))
    lines += ["## P&L against the benchmark", *_period_table(ledger, period), ""]
    trades = combined_trades(_up_to(ledger.trades, period.last), period.first, period.last)
    ranked = strategy_results(trades)
    lines += ["## Strategies (combined account's trades closed this week)"]
    if ranked.empty:
        lines.append("No trade closed this week.")
    else:
        lines += ["| Strategy | P&L | Trades | Wins |", "|---|---|---|---|"]
        for r in ranked.itertuples():
            lines.append(f"| {ledger.names.get(r.strategy_id, r.strategy_id)} "
                         f"| {money(r.pnl, currency, signed=True)} | {r.trades} | {r.wins} |")
        best, worst = ranked.iloc[0], ranked.iloc[-1]
        lines += ["", f"- **Best**: {ledger.names.get(best['strategy_id'], best['strategy_id'])}"
                  f" {money(best['pnl'], currency, signed=True)} over {best['trades']} trades"]
        if len(ranked) > 1:
            lines.append(f"- **Worst**: "
                         f"{ledger.names.get(worst['strategy_id'], worst['strategy_id'])}"
                         f" {money(worst['pnl'], currency, signed=True)} over "
                         f"{worst['trades']} trades")
    lines += ["", *_counterfactual_lines(ledger, counterfactuals(ledger, period)), ""]
    label = review_label(WEEKLY, period.last)
    made = _changes_of(ledger, period.first, period.last)
    principles = made[made["kind"] == PRINCIPLE] if not made.empty else made
    others = made[made["kind"] != PRINCIPLE] if not made.empty else made
    lines += [f"## Principles made by the {label}"]
    lines += _change_lines(principles) or ["No new principle this week."]
    if not others.empty:
        lines += ["", "## Other changes made this week", *_change_lines(others, True)]
    lines += ["", *_plan_lines(ledger, WEEKLY, next_period(WEEKLY, period.last), period.last,
                                "Next week's plan")]
    return "\n".join(lines) + "\n"


def _by_id(frame: pd.DataFrame, column: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in frame.to_dict("records") if not frame.empty else []:
        out.setdefault(str(row[column]), []).append(row)
    return out


def _decision_chain(ledger: Ledger, trade: Mapping[str, Any], last: date,
                    orders: dict[str, list[dict[str, Any]]],
                    fills: dict[str, list[dict[str, Any]]]) -> list[str]:
    """A trade and the chain of what made it: debate, memories, orders, fills, changes."""
    currency = ledger.market.currency
    lines = [f"### {trade['symbol']} {money(trade['pnl'], currency, signed=True)} "
             f"({trade['return_pct']:+.2%})",
             f"{ledger.names.get(trade['strategy_id'], trade['strategy_id'])}; bought "
             f"{trade['quantity']:g} @ {trade['entry_price']:.2f} on {trade['opened_as_of']}, "
             f"sold @ {trade['exit_price']:.2f} on {trade['as_of']} by "
             f"{str(trade['exit_reason']).replace('_', ' ')} after {trade['holding_days']} "
             "days.", ""]
    decision_id = trade.get("decision_id")
    decisions = _up_to(ledger.decisions, last)
    chosen = decisions[decisions["decision_id"] == decision_id] if decision_id and \
        not decisions.empty else decisions.iloc[:0]
    if chosen.empty:
        return [*lines, "No debate record (a trade no decision opened)."]
    d = chosen.iloc[0]
    raw = d.get("raw_confidence")
    debated = f"the debate's confidence {float(raw):.0%}, " if raw is not None \
        and pd.notna(raw) else ""
    lines += [f"- **Decision** `{decision_id}` of {d['as_of']}: {d['verdict']} ({debated}"
              f"reported {float(d['confidence']):.0%}). {d['summary']}"]
    transcript = _json(d.get("transcript"), [])
    if transcript:
        lines.append("- **Debate**:")
        for entry in transcript[:TRANSCRIPT_LINES]:
            lines.append(f"  - round {entry.get('round')}, {entry.get('role')}: "
                         f"{entry.get('text')}")
        if len(transcript) > TRANSCRIPT_LINES:
            lines.append(f"  - ... {len(transcript) - TRANSCRIPT_LINES} more lines")
    used = _json(d.get("memories_used"), [])
    memories = _up_to(ledger.memories, last)
    texts = dict(zip(memories["memory_id"], memories["text"], strict=True)) \
        if not memories.empty else {}
    if used:
        lines.append("- **Memories used**:")
        for m in used:
            lines.append(f"  - `{m.get('memory_id')}` (score {float(m.get('score', 0)):.2f}): "
                         f"{texts.get(m.get('memory_id'), 'not in the memory table')}")
    else:
        lines.append("- **Memories used**: none")
    own_orders = orders.get(str(decision_id), [])
    if own_orders:
        lines.append("- **Orders and fills**:")
        for o in own_orders:
            lines.append(f"  - {o['as_of']} {o['account']} {o['side']} {o['quantity']:g} "
                         f"{o['symbol']} ({o['order_type']}, {o['purpose']}): {o['status']}")
            for f in fills.get(str(o["order_id"]), []):
                lines.append(f"    - filled {f['as_of']}: {f['quantity']:g} @ "
                             f"{f['price']:.2f}, fee {f['fee']:.2f}")
    applied = _json(d.get("changes_applied"), [])
    changes = _up_to(ledger.changes, last)
    known = {c["change_id"]: c for c in changes.to_dict("records")} if not changes.empty else {}
    if applied:
        lines.append("- **Changes applied**: " + "; ".join(
            f"`{cid}` ({known[cid]['kind']} {known[cid]['target']}, {known[cid]['review']})"
            if cid in known else f"`{cid}`" for cid in applied))
    else:
        lines.append("- **Changes applied**: none")
    return lines


def _bias_lines(trades: pd.DataFrame, first: date, last: date) -> list[str]:
    lines = ["## Bias diagnosis (combined account)"]
    for b in diagnose_biases(trades, first, last):
        measure = f"{b.measure:.2f}" if math.isfinite(b.measure) else "not assessable"
        state = "**present**" if b.present else "absent"
        lines += [f"- **{b.name.replace('_', ' ')}**: {state}; measure {measure} against a "
                  f"threshold of {b.threshold:g}. {b.definition} Evidence: {b.evidence}."]
    return lines


def monthly_review(ledger: Ledger, period: Period) -> str:
    """The month: P&L, the five best and worst trades with their decision chains, the
    bias diagnosis, what the review changed, next month's plan and the learning curve."""
    lines = _header("Monthly", ledger, period, _sessions(ledger, period))
    lines += ["## P&L against the benchmark", *_period_table(ledger, period), ""]
    known_trades = _up_to(ledger.trades, period.last)
    trades = combined_trades(known_trades, period.first, period.last)
    orders = _by_id(_up_to(ledger.orders, period.last), "decision_id")
    fills = _by_id(_up_to(ledger.fills, period.last), "order_id")
    records = trades.to_dict("records") if not trades.empty else []
    wins = sorted((t for t in records if t["pnl"] > 0),
                  key=lambda t: (-t["pnl"], t["trade_id"]))[:TOP_TRADES]
    losses = sorted((t for t in records if t["pnl"] < 0),
                    key=lambda t: (t["pnl"], t["trade_id"]))[:TOP_TRADES]
    for title, chosen in (("Top wins", wins), ("Top losses", losses)):
        lines += [f"## {title} (combined account)"]
        if not chosen:
            lines += ["None this month.", ""]
        for t in chosen:
            lines += [*_decision_chain(ledger, t, period.last, orders, fills), ""]
    month_start = date(period.last.year, period.last.month, 1)
    lines += [*_bias_lines(known_trades, month_start, period.last), ""]
    label = review_label(MONTHLY, period.last)
    lines += [f"## Changes made this month (the {label}, the weekly reviews, any replan)"]
    lines += _change_lines(_changes_of(ledger, period.first, period.last), True) \
        or ["No principle, parameter, weight or allocation changed."]
    lines += ["", *_plan_lines(ledger, MONTHLY, next_period(MONTHLY, period.last), period.last,
                                "Next month's plan"), ""]
    lines += _learning_lines(ledger, period.last)
    return "\n".join(lines) + "\n"


def _learning_lines(ledger: Ledger, last: date) -> list[str]:
    return learning_curve_markdown(learning_curve(
        ledger.accounts, ledger.trades, _up_to(ledger.decisions, last), last))


def quarterly_review(ledger: Ledger, period: Period) -> str:
    """The quarter against its plan's targets, the meta-review's proposals and their
    status, every change made in the quarter, and the learning curve."""
    lines = _header("Quarterly", ledger, period, _sessions(ledger, period))
    lines += ["## P&L against the benchmark", *_period_table(ledger, period), ""]
    combined = _up_to(ledger.accounts[ledger.accounts["account"] == "combined"], period.last)
    result = account_result(combined, period.first, period.last)
    plan = _period_plan(ledger, QUARTERLY, period.label, period.last)
    lines.append("## Against the quarter's plan")
    if plan is None:
        lines.append(f"No quarterly plan for {period.label} was made.")
    else:
        targets = _json(plan["targets"], {})
        target = float(targets.get("return_target", math.nan))
        tolerance = float(targets.get("drawdown_tolerance", math.nan))
        met_return = result.period_return >= target
        within = -result.max_drawdown <= tolerance
        lines += [f"Plan made at the close of {plan['as_of']} ({plan['reason']}).", "",
                  "| Measure | Target | Achieved | Verdict |", "|---|---|---|---|",
                  f"| Return (combined) | {_pct(target)} | {_pct(result.period_return)} "
                  f"| {'met' if met_return else 'missed'} |",
                  f"| Max drawdown (combined) | within {tolerance:.2%} "
                  f"| {_pct(result.max_drawdown)} | {'within' if within else 'breached'} |"]
    lines.append("")
    proposals = _between(ledger.proposals, period.first, period.last)
    humans = ledger.human_decisions
    if not humans.empty:
        cutoff = pd.Timestamp(datetime.combine(period.last, time.max))
        humans = humans[pd.to_datetime(humans["recorded_at"]) <= cutoff]
    decided = human_decisions_from_rows(humans) if not humans.empty else []
    lines.append("## Meta-review proposals (waiting for a human)")
    if proposals.empty:
        lines.append("No framework proposal this quarter.")
    for p in proposals_from_rows(proposals.sort_values(["as_of", "proposal_id"])):
        status, by = proposal_status(p, decided, period.last)
        who = f" by {by.recorded_by} on {by.recorded_at:%Y-%m-%d}" if by is not None else ""
        lines.append(f"- **{p.title}** (`{p.proposal_id}`, {p.kind} `{p.target}` -> "
                     f"{json.dumps(p.new_value, sort_keys=True)}): **{status}**{who}; "
                     f"expires {p.expires_on}. Evidence: {p.evidence}")
    lines += ["", "## Every change made in the quarter"]
    changes = _between(ledger.changes, period.first, period.last)
    lines += _change_lines(changes.sort_values(["as_of", "review", "kind", "target"])
                           if not changes.empty else changes, with_review=True) \
        or ["No change was made this quarter."]
    lines += ["", *_learning_lines(ledger, period.last)]
    return "\n".join(lines) + "\n"


RENDERERS = {WEEKLY: weekly_review, MONTHLY: monthly_review, QUARTERLY: quarterly_review}


def review(ledger: Ledger, period: Period) -> str:
    """The review of ``period`` at its horizon."""
    return RENDERERS[period.horizon](ledger, period)
