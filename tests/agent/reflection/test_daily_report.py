"""The daily report: its sections, the best and worst trade, the figures to date; and the
many-days path, which must write exactly what the one-day report writes and never read a
later day."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.reflection.daily_report import (
    ACCOUNT_TITLES,
    DATA_CAVEAT,
    ReportInputs,
    account_metrics,
    daily_report,
    reports_for_days,
)

NAMES = {"S01": "SMA trend", "S05": "RSI bounce", "S09": "Low-vol trend"}
SECTIONS = ["## Performance today", "## Accounts compared",
            "## Best trade (a case to learn from)", "## Worst trade (lessons)",
            "## Today's decisions", "## New knowledge today", "## Plan for the next session",
            "## Strategy gene pool", "## About the data"]
D1, D2 = date(2024, 6, 3), date(2024, 6, 4)


def account_rows(day: date, returns: dict[str, float], equity: dict[str, float],
                 drawdown: dict[str, float], bench: float) -> list[dict[str, object]]:
    return [{"as_of": day, "account": a, "cash": 0.0, "equity": equity[a],
             "gross_exposure": 0.0, "daily_return": returns[a], "drawdown": drawdown[a],
             "benchmark_close": bench} for a in ACCOUNT_TITLES]


def trade(trade_id: str, day: date, symbol: str, strategy_id: str, pnl: float,
          account: str = "combined", return_pct: float = 0.0,
          why: str | None = None) -> dict[str, object]:
    return {"as_of": day, "trade_id": trade_id, "account": account, "symbol": symbol,
            "strategy_id": strategy_id, "opened_as_of": day - timedelta(days=7),
            "quantity": 100.0, "entry_price": 50.0, "exit_price": 50.0 + pnl / 100,
            "pnl": pnl, "return_pct": return_pct, "holding_days": 5,
            "exit_reason": "take_profit" if pnl > 0 else "stop_loss",
            "decision_summary": why}


def one_day(trades_today: list[dict[str, object]], decisions_today: pd.DataFrame | None = None,
            plan: pd.Series | None = None, evaluations: pd.DataFrame | None = None,
            fills: pd.DataFrame | None = None) -> ReportInputs:
    flat = dict.fromkeys(ACCOUNT_TITLES, 0.0)
    accounts = pd.DataFrame(
        account_rows(D1, flat, dict.fromkeys(ACCOUNT_TITLES, 1_000_000.0), flat, 100.0)
        + account_rows(D2, {"combined": 0.01, "aggressive": -0.02, "conservative": 0.0},
                       {"combined": 1_010_000.0, "aggressive": 980_000.0,
                        "conservative": 1_000_000.0},
                       {"combined": 0.0, "aggressive": -0.02, "conservative": 0.0}, 102.0))
    trades = pd.DataFrame(trades_today, columns=list(trade("x", D2, "X", "S01", 0.0)))
    return ReportInputs(
        as_of=D2, accounts=accounts, trades_today=trades, trades_to_date=trades,
        fills_today=fills if fills is not None else pd.DataFrame(columns=["as_of", "side"]),
        decisions_today=decisions_today if decisions_today is not None else pd.DataFrame(
            columns=["as_of", "symbol", "strategy_id", "verdict", "confidence",
                     "low_certainty", "summary"]),
        plan=plan, evaluations=evaluations if evaluations is not None else pd.DataFrame(
            columns=["as_of", "strategy_id", "score", "win_rate", "sharpe", "status"]),
        names=NAMES)


def section(markdown: str, title: str) -> list[str]:
    lines = markdown.splitlines()
    start = lines.index(title) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return [line for line in lines[start:end] if line]


def test_the_report_has_every_section_in_order() -> None:
    markdown = daily_report(one_day([]))
    positions = [markdown.index(title + "\n") for title in SECTIONS]
    assert positions == sorted(positions)
    assert markdown.startswith(f"# Daily trading report, {D2}\n")
    assert markdown.endswith("\n")


def test_best_and_worst_trade_with_their_reasons() -> None:
    trades = [trade("T1", D2, "CCC", "S09", 100.0, return_pct=0.02, why="quiet uptrend"),
              trade("T2", D2, "AAA", "S01", 500.0, return_pct=0.10, why="bought the breakout"),
              trade("T3", D2, "BBB", "S05", -300.0, account="aggressive", return_pct=-0.06,
                    why="oversold bounce")]
    markdown = daily_report(one_day(trades))
    best = section(markdown, "## Best trade (a case to learn from)")
    assert best[0] == "**AAA** (SMA trend, combined account)  "
    assert best[-1] == "Why it was taken: bought the breakout"
    assert "Result: USD +500 (+10.00%) after 5 days, exit by take profit  " in best
    worst = section(markdown, "## Worst trade (lessons)")
    assert worst[0] == "**BBB** (RSI bounce, aggressive account)  "
    assert worst[-1] == "Why it was taken: oversold bounce"
    lessons = section(markdown, "## New knowledge today")
    assert lessons[0].startswith("1. BBB under RSI bounce lost -6.0% by stop loss")
    assert lessons[1] == "2. AAA SMA trend paid +10.0% in 5 days (take profit)."
    assert "- **Trades closed**: 3 (2 won)" in markdown


def test_no_losing_trade_and_no_trade_at_all() -> None:
    winners = [trade("T1", D2, "AAA", "S01", 10.0), trade("T2", D2, "BBB", "S01", 20.0)]
    markdown = daily_report(one_day(winners))
    assert section(markdown, "## Best trade (a case to learn from)")[-1] == \
        "Why it was taken: no debate record"
    assert section(markdown, "## Best trade (a case to learn from)")[0].startswith("**BBB**")
    assert section(markdown, "## Worst trade (lessons)") == ["No losing trade closed today."]
    markdown = daily_report(one_day([]))
    assert section(markdown, "## Best trade (a case to learn from)") == [
        "No trade closed today."]
    assert section(markdown, "## Worst trade (lessons)") == ["No trade closed today."]
    assert section(markdown, "## New knowledge today") == ["Nothing new."]


def test_equal_pnl_goes_to_the_lower_trade_id() -> None:
    trades = [trade("T9", D2, "ZZZ", "S01", -50.0), trade("T1", D2, "AAA", "S01", -50.0)]
    markdown = daily_report(one_day(trades))
    assert section(markdown, "## Best trade (a case to learn from)")[0].startswith("**AAA**")
    assert section(markdown, "## Worst trade (lessons)")[0].startswith("**AAA**")


def test_performance_accounts_decisions_plan_and_gene_pool() -> None:
    decisions = pd.DataFrame([
        {"as_of": D2, "symbol": "BBB", "strategy_id": "S01", "verdict": "enter",
         "confidence": 0.6, "low_certainty": True, "summary": "BBB: enter"},
        {"as_of": D2, "symbol": "AAA", "strategy_id": "S05", "verdict": "drop",
         "confidence": 0.9, "low_certainty": False, "summary": "AAA: drop"}])
    plan = pd.Series({"as_of": D2, "regime": "bear", "stance": "defensive",
                      "exposure_target": 0.2, "watchlist": json.dumps(["AAA", "BBB"]),
                      "key_levels": "{}", "tasks": json.dumps(["Task one.", "Task two."])})
    evaluations = pd.DataFrame([
        {"as_of": D1, "strategy_id": "S05", "score": 40.0, "win_rate": 0.4,
         "sharpe": np.nan, "status": "watch"},
        {"as_of": D1, "strategy_id": "S01", "score": 75.4, "win_rate": 0.55, "sharpe": 1.234,
         "status": "active"}])
    fills = pd.DataFrame({"as_of": [D2] * 3, "side": ["buy", "buy", "sell"]})
    markdown = daily_report(one_day([], decisions, plan, evaluations, fills))
    performance = section(markdown, "## Performance today")
    assert performance[0] == ("- **AI combined return**: +1.00% (benchmark +2.00%, "
                              "excess -1.00%)")
    assert performance[1] == "- **Fills**: 3 (2 buys, 1 sells)"
    # combined returns 0% then +1%: mean / sample std * sqrt(252)
    assert performance[-2] == "- **Sharpe to date**: 11.22"
    assert performance[-1] == "- **Judge calibration (Brier score)**: no scored trade yet"
    table = section(markdown, "## Accounts compared")
    assert table[2].startswith("| AI combined | +1.00% | +1.00% | n/a | +0.00% |")
    assert table[3].startswith("| Aggressive | -2.00% | -2.00% | n/a | -2.00% |")
    assert table[5] == "| Benchmark | +2.00% | +2.00% | - | - | - |"
    assert section(markdown, "## Today's decisions") == [
        "- AAA: drop", "- BBB: enter (low certainty)",
        "Argued by the deterministic reasoner (cleanliness `replay`)."]
    assert section(markdown, "## New knowledge today") == [
        "1. 1 of 2 proposals were dropped in debate."]
    assert section(markdown, "## Plan for the next session") == [
        "- **Stance**: defensive (bear regime), exposure target 20%",
        "- **Watchlist**: AAA, BBB", "- Task one.", "- Task two."]
    assert section(markdown, "## Strategy gene pool")[2:] == [
        "| SMA trend | 75 | 55.0% | 1.23 | active |",
        "| RSI bounce | 40 | 40.0% | n/a | watch |"]


def test_account_metrics() -> None:
    history = pd.DataFrame({
        "as_of": [D2, D1, D1 + timedelta(days=2)], "daily_return": [0.01, 0.0, -0.02],
        "equity": [1_010_000.0, 1_000_000.0, 989_800.0], "drawdown": [0.0, 0.0, -0.02]})
    trades = pd.DataFrame({"pnl": [10.0, -5.0, 0.0]})
    m = account_metrics(history, trades)
    returns = np.array([0.0, 0.01, -0.02])
    assert m["today"] == -0.02
    assert m["total"] == pytest.approx(-0.0102)
    assert m["max_drawdown"] == pytest.approx(-0.02)
    assert m["sharpe"] == pytest.approx(returns.mean() / returns.std(ddof=1) * np.sqrt(252))
    assert m["win_rate"] == pytest.approx(1 / 3)
    assert m["trades"] == 3.0
    empty = account_metrics(history.iloc[:1], trades.iloc[:0])
    assert math.isnan(empty["sharpe"]) and math.isnan(empty["win_rate"])


def test_figures_come_from_the_returns_not_the_stored_equity() -> None:
    history = pd.DataFrame({
        "as_of": [D1, D2], "daily_return": [-0.02, 0.01],
        "equity": [np.nan, np.nan], "drawdown": [0.0, 0.0]})
    m = account_metrics(history, pd.DataFrame({"pnl": []}))
    # measured from the starting capital: day one's loss is already a drawdown
    assert m["total"] == pytest.approx(0.98 * 1.01 - 1)
    assert m["max_drawdown"] == pytest.approx(-0.02)


def test_every_report_ends_with_the_caveat_about_the_data() -> None:
    for markdown in (daily_report(one_day([])),
                     daily_report(one_day([trade("t1", D2, "AAA", "S01", 50.0)]))):
        assert markdown.rstrip().endswith(DATA_CAVEAT)
        assert section(markdown, "## About the data") == [DATA_CAVEAT]
    assert "survivorship bias" in DATA_CAVEAT and "back-adjusted" in DATA_CAVEAT
    assert "20 large US stocks" in DATA_CAVEAT and "skfolio" in DATA_CAVEAT
    reports = many_days(simulated(6, n_days=10), simulated(6, n_days=10)["days"])
    assert all(r.rstrip().endswith(DATA_CAVEAT) for r in reports)


# -- many days at once -------------------------------------------------------------------

def simulated(seed: int, n_days: int = 60) -> dict[str, object]:
    """A replay's worth of tables with gaps: days without trades, plans, fills or
    decisions, and evaluations that start a few weeks in."""
    rng = np.random.default_rng(seed)
    days = [date(2023, 1, 2) + timedelta(days=i) for i in range(n_days)]
    equity = dict.fromkeys(ACCOUNT_TITLES, 1_000_000.0)
    peak = dict(equity)
    bench = 100.0
    accounts, trades, fills, decisions, plans, evaluations = [], [], [], [], [], []
    for i, day in enumerate(days):
        bench *= 1 + rng.normal(0, 0.01)
        returns = {a: float(rng.normal(0.0005, 0.01)) if i else 0.0 for a in ACCOUNT_TITLES}
        for a in ACCOUNT_TITLES:
            equity[a] *= 1 + returns[a]
            peak[a] = max(peak[a], equity[a])
        accounts += account_rows(day, returns, dict(equity),
                                 {a: equity[a] / peak[a] - 1 for a in ACCOUNT_TITLES}, bench)
        for k in range(int(rng.integers(0, 4))):
            pnl = float(rng.choice([-200.0, -50.0, 0.0, 75.0, 300.0]))
            trades.append(trade(f"T{i:03d}{k}", day, str(rng.choice(["AAA", "BBB", "CCC"])),
                                str(rng.choice(list(NAMES))), pnl,
                                account=str(rng.choice(list(ACCOUNT_TITLES))),
                                return_pct=pnl / 5000,
                                why=f"debate {i}.{k}" if rng.random() < 0.7 else None))
        fills += [{"as_of": day, "side": str(rng.choice(["buy", "sell"]))}
                  for _ in range(int(rng.integers(0, 4)))]
        for symbol in rng.choice(["AAA", "BBB", "CCC", "DDD"], int(rng.integers(0, 4)),
                                 replace=False):
            decisions.append({"as_of": day, "symbol": str(symbol),
                              "strategy_id": str(rng.choice(list(NAMES))),
                              "verdict": str(rng.choice(["enter", "drop"])),
                              "confidence": float(rng.choice([0.5, 0.7, 0.9])),
                              "low_certainty": bool(rng.random() < 0.3),
                              "summary": f"{symbol} on {day}: case {i}"})
        if rng.random() < 0.9:
            plans.append({"as_of": day, "regime": "bull", "stance": "offensive",
                          "exposure_target": 0.9, "watchlist": json.dumps(["AAA"]),
                          "key_levels": "{}", "tasks": json.dumps([f"task {i}"])})
        if i >= 10 and i % 5 == 0:
            evaluations += [{"as_of": day, "strategy_id": s,
                             "score": float(rng.choice([50.0, 60.0, 70.0])),
                             "win_rate": float(rng.uniform(0.3, 0.7)),
                             "sharpe": float(rng.choice([np.nan, 0.8, 1.6])),
                             "status": "active"} for s in NAMES]
    columns = {
        "trades": list(trade("x", days[0], "X", "S01", 0.0)), "fills": ["as_of", "side"],
        "decisions": ["as_of", "symbol", "strategy_id", "verdict", "confidence",
                      "low_certainty", "summary"],
        "plans": ["as_of", "regime", "stance", "exposure_target", "watchlist", "key_levels",
                  "tasks"],
        "evaluations": ["as_of", "strategy_id", "score", "win_rate", "sharpe", "status"]}
    tables = {"trades": trades, "fills": fills, "decisions": decisions, "plans": plans,
              "evaluations": evaluations}
    return {"days": days, "accounts": pd.DataFrame(accounts),
            **{name: pd.DataFrame(rows, columns=columns[name]) for name, rows in tables.items()}}


def one_day_at_a_time(data: dict[str, object], days: list[date]) -> list[str]:
    """The plain definition: slice every table to what is known on the day."""
    accounts, trades, fills = data["accounts"], data["trades"], data["fills"]
    decisions, evaluations = data["decisions"], data["evaluations"]
    plans = data["plans"].set_index("as_of", drop=False)
    out = []
    for day in days:
        known = evaluations[evaluations["as_of"] <= day]
        latest = known[known["as_of"] == known["as_of"].max()] if not known.empty else known
        inputs = ReportInputs(
            as_of=day, accounts=accounts[accounts["as_of"] <= day],
            trades_today=trades[trades["as_of"] == day],
            trades_to_date=trades[trades["as_of"] <= day],
            fills_today=fills[fills["as_of"] == day],
            decisions_today=decisions[decisions["as_of"] == day],
            plan=plans.loc[day] if day in plans.index else None, evaluations=latest,
            names=NAMES)
        out.append(daily_report(inputs))
    return out


def many_days(data: dict[str, object], days: list[date]) -> list[str]:
    reports = list(reports_for_days(days, data["accounts"], data["trades"], data["fills"],
                                    data["decisions"], data["plans"], data["evaluations"],
                                    NAMES))
    assert [day for day, _ in reports] == days
    return [markdown for _, markdown in reports]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_many_days_write_exactly_the_one_day_reports(seed: int) -> None:
    data = simulated(seed)
    days = data["days"][5:]  # history before the first reported day counts too
    assert many_days(data, days) == one_day_at_a_time(data, days)


def test_many_days_with_empty_tables() -> None:
    data = simulated(4, n_days=8)
    for table in ("trades", "fills", "decisions", "plans", "evaluations"):
        data[table] = data[table].iloc[:0]
    days = data["days"]
    reports = many_days(data, days)
    assert reports == one_day_at_a_time(data, days)
    assert "Not evaluated yet." in reports[-1] and "No plan was made." in reports[-1]


def test_a_report_never_reads_a_later_day() -> None:
    data = simulated(5)
    days = data["days"]
    cut = days[30]
    before = many_days(data, days)
    perturbed = dict(data)
    for table in ("accounts", "trades", "fills", "decisions", "plans", "evaluations"):
        frame = data[table].copy()
        later = frame["as_of"] > cut
        assert later.any()
        for column, value in (("daily_return", 0.5), ("equity", 1.0), ("drawdown", -0.9),
                              ("benchmark_close", 1.0), ("pnl", -1e6), ("summary", "LATER"),
                              ("score", 99.0), ("side", "buy")):
            if column in frame:
                frame.loc[later, column] = value
        perturbed[table] = frame
    after = many_days(perturbed, days)
    upto = days.index(cut) + 1
    assert after[:upto] == before[:upto]
    assert all(a != b for a, b in zip(after[upto:], before[upto:], strict=True))



def test_judge_calibration_is_the_brier_score_of_the_opening_confidence() -> None:
    from trade_pipelines.agent.reflection.daily_report import _AccountTrack

    day = pd.Timestamp("2024-03-05")
    history = pd.DataFrame({"as_of": [day], "daily_return": [0.0], "equity": [1e6],
                            "drawdown": [0.0], "benchmark_close": [100.0]})
    # D1 traded in two accounts counts once (its combined copy); the last has no debate
    trades = pd.DataFrame({"as_of": [day] * 4, "pnl": [10.0, 12.0, -5.0, 3.0],
                           "decision_id": ["D1", "D1", "D2", None],
                           "account": ["aggressive", "combined", "combined", "combined"],
                           "decision_confidence": [0.9, 0.9, 0.8, None],
                           "decision_raw_confidence": [0.7, 0.7, 0.4, None]})
    metrics = _AccountTrack(history, trades).metrics(day.to_datetime64().astype("datetime64[D]"))
    # (0.9 - 1)^2 and (0.8 - 0)^2 over the two decisions whose debate is known
    assert metrics["scored"] == 2
    assert metrics["brier"] == pytest.approx((0.01 + 0.64) / 2)
    # the debate's own confidence beside it: (0.7 - 1)^2 and (0.4 - 0)^2
    assert metrics["raw_brier"] == pytest.approx((0.09 + 0.16) / 2)


def test_the_report_names_its_market_and_shows_amounts_in_its_currency() -> None:
    from dataclasses import replace

    from trade_pipelines.agent.markets import CN, HK
    from trade_pipelines.agent.reflection.daily_report import DATA_CAVEATS, money

    us = daily_report(one_day([trade("t1", D2, "AAA", "S01", 500.0, return_pct=0.1)]))
    assert "**Market**: US stocks (NYSE/Nasdaq); amounts in USD; benchmark S&P 500" in us
    assert "**AI combined equity**: USD 1,010,000.00" in us
    inputs = replace(one_day([trade("t1", D2, "600036.SH", "S01", -300.0,
                                    return_pct=-0.03)]), market=CN)
    cn = daily_report(inputs)
    assert "**Market**: China A-shares (Shanghai/Shenzhen); amounts in CNY; benchmark " \
           "CSI 300 (000300.SH); calendar XSHG" in cn
    assert "**AI combined equity**: CNY 1,010,000.00" in cn
    assert "Result: CNY -300 (-3.00%)" in cn
    assert section(cn, "## About the data") == [DATA_CAVEATS["cn"]]
    many = dict(reports_for_days([D2], inputs.accounts, inputs.trades_to_date,
                                 inputs.fills_today, inputs.decisions_today,
                                 pd.DataFrame(columns=["as_of"]), inputs.evaluations, NAMES,
                                 HK))
    assert "amounts in HKD" in many[D2] and "Hang Seng Index (^HSI)" in many[D2]
    assert money(-1234.5, "HKD", decimals=0) == "HKD -1,234"
    assert money(1234.5, "CNY", signed=True) == "CNY +1,234.50"
    assert money(float("nan"), "USD") == "n/a"


def test_the_judge_s_reliability_counts_each_decision_once_up_to_the_day() -> None:
    def scored(trade_id: str, day: date, decision: str, pnl: float, account: str,
               calibrated: float, raw: float, decided: date) -> dict[str, object]:
        return {**trade(trade_id, day, "AAA", "S01", pnl, account),
                "decision_id": decision, "decision_confidence": calibrated,
                "decision_raw_confidence": raw, "decision_as_of": decided}

    early = D1 - timedelta(days=10)
    trades = pd.DataFrame([
        scored("T1", D1 - timedelta(days=3), "D1", 50.0, "combined", 0.7, 0.9, early),
        # the same decision in another account
        scored("T2", D1 - timedelta(days=3), "D1", -20.0, "aggressive", 0.7, 0.9, early),
        scored("T3", D2, "D2", -30.0, "aggressive", 0.3, 0.8, D1),
        scored("T4", D2 + timedelta(days=1), "D3", 10.0, "combined", 0.6, 0.6, D2)])
    inputs = one_day(trades[trades["as_of"] == D2].to_dict("records"))
    report = daily_report(replace_trades_to_date(inputs, trades[trades["as_of"] <= D2]))
    section = report.split("## Judge reliability (closed debated trades to date)\n")[1]
    section = section.split("\n\n## ")[0]
    assert "| 0.20-0.40 | 1 | 30% | 0% | 0%-79% |" in section
    assert "| 0.60-0.80 | 1 | 70% | 100% | 21%-100% |" in section
    # D1 won (its combined copy), D2 lost; D3 closes after the report's day. Raw: (0.9-1)^2
    # and 0.8^2; the base rate: 0.5 before anything was known, then D1's win for D2
    assert section.endswith(
        "Brier over 2 closed decisions (0 best, 0.25 a coin flip): calibrated 0.090, the "
        f"debate's raw {(0.01 + 0.64) / 2:.3f}, the base rate known before each day "
        f"{(0.25 + 1.0) / 2:.3f}.")
    assert "No debated trade has closed yet." in daily_report(one_day([]))


def replace_trades_to_date(inputs: ReportInputs, trades: pd.DataFrame) -> ReportInputs:
    from dataclasses import replace

    return replace(inputs, trades_to_date=trades)


def test_the_report_says_who_argued_and_labels_llm_results_before_the_cutoff() -> None:
    from trade_pipelines.agent.reflection.daily_report import reasoner_line

    plain = [{"model": None, "cleanliness": "replay", "llm_cost": 0.0}]
    assert "deterministic reasoner" in reasoner_line(plain)
    llm = [{"model": "gpt-4o-mini", "cleanliness": "replay_llm_precutoff", "llm_cost": 0.012,
            "fallback_reason": None},
           {"model": "gpt-4o-mini", "cleanliness": "replay", "llm_cost": 0.003,
            "fallback_reason": "timeout"}]
    line = reasoner_line(llm)
    assert "gpt-4o-mini in 1 of 2 debates" in line and "timeout" in line
    assert "US$0.0150" in line and "not evidence" in line
    after = [{**llm[0], "cleanliness": "replay_llm_postcutoff"}]
    assert "not evidence" not in reasoner_line(after)
