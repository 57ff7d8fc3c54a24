"""The daily report, in the shape of the design's daily report: performance against the
benchmark, the three accounts compared, best and worst trade with their reasons, lessons,
the next session's plan and the gene pool's news."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

ACCOUNT_TITLES = {"combined": "AI combined", "aggressive": "Aggressive",
                  "conservative": "Conservative"}


@dataclass(frozen=True)
class ReportInputs:
    as_of: object
    accounts: pd.DataFrame        # account history up to as_of (all accounts)
    trades_today: pd.DataFrame    # round trips closed today
    trades_to_date: pd.DataFrame  # round trips closed up to today
    fills_today: pd.DataFrame
    decisions_today: pd.DataFrame
    plan: pd.Series | None        # plan made at today's close for the next session
    evaluations: pd.DataFrame     # latest gene-pool evaluation known today
    names: dict[str, str]


def _pct(value: float, signed: bool = True) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:+.2%}" if signed else f"{value:.1%}"


def account_metrics(history: pd.DataFrame, trades: pd.DataFrame) -> dict[str, float]:
    """Today's return, total return, max drawdown, Sharpe and win rate of one account."""
    history = history.sort_values("as_of")
    returns = history["daily_return"].to_numpy(dtype=float)
    std = returns.std(ddof=1) if len(returns) > 1 else 0.0
    wins = (trades["pnl"] > 0).sum() if not trades.empty else 0
    return {
        "today": float(returns[-1]) if len(returns) else 0.0,
        "total": float(history["equity"].iloc[-1] / 1_000_000 - 1) if len(history) else 0.0,
        "max_drawdown": float(history["drawdown"].min()) if len(history) else 0.0,
        "sharpe": float(returns.mean() / std * np.sqrt(252)) if std > 0 else float("nan"),
        "win_rate": float(wins / len(trades)) if len(trades) else float("nan"),
        "trades": float(len(trades)),
    }


def _trade_line(trade: pd.Series, names: dict[str, str], why: str) -> list[str]:
    return [
        f"**{trade['symbol']}** ({names.get(trade['strategy_id'], trade['strategy_id'])}, "
        f"{trade['account']} account)  ",
        f"Bought {trade['quantity']:.0f} @ {trade['entry_price']:.2f} on "
        f"{trade['opened_as_of']} -> sold @ {trade['exit_price']:.2f}  ",
        f"Result: {trade['pnl']:+,.0f} ({trade['return_pct']:+.2%}) after "
        f"{trade['holding_days']} days, exit by {trade['exit_reason'].replace('_', ' ')}  ",
        f"Why it was taken: {why}",
    ]


def daily_report(inputs: ReportInputs, decision_summaries: dict[tuple[str, str], str]) -> str:
    day = inputs.as_of
    history = inputs.accounts
    bench = history[history["account"] == "combined"].sort_values("as_of")
    bench_close = bench["benchmark_close"].astype(float)
    bench_today = float(bench_close.iloc[-1] / bench_close.iloc[-2] - 1) \
        if len(bench_close) > 1 and bench_close.iloc[-2] else float("nan")
    lines = [f"# Daily trading report, {day}", ""]
    metrics = {}
    for account in ("combined", "aggressive", "conservative"):
        trades = inputs.trades_to_date[inputs.trades_to_date["account"] == account] \
            if not inputs.trades_to_date.empty else inputs.trades_to_date
        metrics[account] = account_metrics(history[history["account"] == account], trades)
    m = metrics["combined"]
    buys = int((inputs.fills_today["side"] == "buy").sum()) if not inputs.fills_today.empty else 0
    sells = len(inputs.fills_today) - buys
    today_trades = inputs.trades_today
    today_wins = int((today_trades["pnl"] > 0).sum()) if not today_trades.empty else 0
    lines += [
        "## Performance today",
        f"- **AI combined return**: {_pct(m['today'])} (benchmark {_pct(bench_today)}, "
        f"excess {_pct(m['today'] - bench_today)})",
        f"- **Fills**: {len(inputs.fills_today)} ({buys} buys, {sells} sells)",
        f"- **Trades closed**: {len(today_trades)} ({today_wins} won)",
        f"- **Win rate to date**: {_pct(m['win_rate'], signed=False)} over "
        f"{int(m['trades'])} trades",
        f"- **Max drawdown to date**: {_pct(m['max_drawdown'])}",
        f"- **Sharpe to date**: {m['sharpe']:.2f}" if math.isfinite(m["sharpe"])
        else "- **Sharpe to date**: n/a",
        "",
        "## Accounts compared",
        "| Account | Today | Total | Win rate | Max drawdown | Sharpe |",
        "|---|---|---|---|---|---|",
    ]
    for account, am in metrics.items():
        sharpe = f"{am['sharpe']:.2f}" if math.isfinite(am["sharpe"]) else "n/a"
        lines.append(f"| {ACCOUNT_TITLES[account]} | {_pct(am['today'])} | {_pct(am['total'])} "
                     f"| {_pct(am['win_rate'], signed=False)} | {_pct(am['max_drawdown'])} "
                     f"| {sharpe} |")
    bench_total = float(bench_close.iloc[-1] / bench_close.iloc[0] - 1) \
        if len(bench_close) > 1 else float("nan")
    lines += [f"| Benchmark | {_pct(bench_today)} | {_pct(bench_total)} | - | - | - |", ""]

    lines.append("## Best trade (a case to learn from)")
    lessons: list[str] = []
    if not today_trades.empty:
        best = today_trades.sort_values(["pnl", "trade_id"], ascending=[False, True]).iloc[0]
        why = decision_summaries.get((best["symbol"], best["strategy_id"]), "no debate record")
        lines += _trade_line(best, inputs.names, why)
        worst = today_trades.sort_values(["pnl", "trade_id"]).iloc[0]
        lines += ["", "## Worst trade (lessons)"]
        if worst["pnl"] < 0:
            why = decision_summaries.get((worst["symbol"], worst["strategy_id"]),
                                         "no debate record")
            lines += _trade_line(worst, inputs.names, why)
            lessons.append(
                f"{worst['symbol']} under {inputs.names.get(worst['strategy_id'], '?')} lost "
                f"{worst['return_pct']:+.1%} by {worst['exit_reason'].replace('_', ' ')}: weigh "
                "this setup's record on this name before the next entry.")
        else:
            lines.append("No losing trade closed today.")
        if best["pnl"] > 0:
            lessons.append(
                f"{best['symbol']} {inputs.names.get(best['strategy_id'], '?')} paid "
                f"{best['return_pct']:+.1%} in {best['holding_days']} days "
                f"({best['exit_reason'].replace('_', ' ')}).")
    else:
        lines += ["No trade closed today.", "", "## Worst trade (lessons)",
                  "No trade closed today."]
    lines += ["", "## Today's decisions"]
    if inputs.decisions_today.empty:
        lines.append("No proposal reached the debate today.")
    else:
        for d in inputs.decisions_today.sort_values(["confidence", "symbol"],
                                                    ascending=[False, True]).itertuples():
            flag = " (low certainty)" if d.low_certainty else ""
            lines.append(f"- {d.summary}{flag}")
        dropped = int((inputs.decisions_today["verdict"] == "drop").sum())
        if dropped:
            lessons.append(f"{dropped} of {len(inputs.decisions_today)} proposals were dropped "
                           "in debate.")
    lines += ["", "## New knowledge today"]
    lines += [f"{i}. {lesson}" for i, lesson in enumerate(lessons, 1)] or ["Nothing new."]
    lines += ["", "## Plan for the next session"]
    if inputs.plan is not None:
        p = inputs.plan
        lines.append(f"- **Stance**: {p['stance']} ({p['regime']} regime), exposure target "
                     f"{p['exposure_target']:.0%}")
        lines.append(f"- **Watchlist**: {', '.join(json.loads(p['watchlist']))}")
        lines += [f"- {task}" for task in json.loads(p["tasks"])]
    else:
        lines.append("No plan was made.")
    lines += ["", "## Strategy gene pool"]
    if inputs.evaluations.empty:
        lines.append("Not evaluated yet.")
    else:
        ev = inputs.evaluations.sort_values(["score", "strategy_id"], ascending=[False, True])
        lines += ["| Strategy | Score | Win rate | Sharpe | Status |", "|---|---|---|---|---|"]
        for e in ev.itertuples():
            sharpe = f"{e.sharpe:.2f}" if e.sharpe is not None and math.isfinite(e.sharpe) \
                else "n/a"
            lines.append(f"| {inputs.names.get(e.strategy_id, e.strategy_id)} | {e.score:.0f} | "
                         f"{_pct(e.win_rate, signed=False)} | {sharpe} | {e.status} |")
    return "\n".join(lines) + "\n"
