"""The weekly, monthly and quarterly reviews: every figure they print is recomputed here
from the ledger's frames, independently; nothing dated after a review's close changes a
word of it."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest
from review_ledger import NAMES, SESSIONS, STOPS, build_ledger

from trade_pipelines.agent.reflection.biases import diagnose_biases
from trade_pipelines.agent.reflection.changes import MONTHLY, QUARTERLY, WEEKLY
from trade_pipelines.agent.reflection.daily_report import ACCOUNT_TITLES
from trade_pipelines.agent.reflection.horizon_reviews import (
    HOLD_SESSIONS,
    Ledger,
    Period,
    closed_periods,
    monthly_review,
    quarterly_review,
    weekly_review,
)

WEEK = closed_periods(WEEKLY, SESSIONS, SESSIONS, date(2016, 3, 7), date(2016, 3, 11))[0]
MONTH = closed_periods(MONTHLY, SESSIONS, SESSIONS, date(2016, 3, 1), date(2016, 3, 31))[0]
QUARTER = closed_periods(QUARTERLY, SESSIONS, SESSIONS, date(2016, 3, 1),
                         date(2016, 3, 31))[0]


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return build_ledger()


def money(text: str) -> float:
    return float(text.replace("USD", "").replace(",", "").replace("+", "").strip())


def pct(text: str) -> float:
    return float(text.strip().rstrip("%")) / 100


def table_rows(markdown: str, header: str) -> list[list[str]]:
    """The cells of the Markdown table whose header line starts with ``header``."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def section(markdown: str, title: str) -> str:
    after = markdown.split(f"## {title}", 1)[1]
    return after.split("\n## ", 1)[0]


def assert_account_table(markdown: str, ledger: Ledger, period: Period) -> None:
    accounts = ledger.accounts
    bench_rows = accounts[accounts["account"] == "combined"].sort_values("as_of")
    before = bench_rows[bench_rows["as_of"] < period.first]
    inside = bench_rows[(bench_rows["as_of"] >= period.first)
                        & (bench_rows["as_of"] <= period.last)]
    bench = inside["benchmark_close"].iloc[-1] / before["benchmark_close"].iloc[-1] - 1 \
        if not before.empty else float("nan")
    rows = {r[0]: r[1:] for r in table_rows(markdown, "| Account |")}
    assert set(rows) == set(ACCOUNT_TITLES.values())
    for account, title in ACCOUNT_TITLES.items():
        history = accounts[accounts["account"] == account].sort_values("as_of")
        prior = history[history["as_of"] < period.first]
        days = history[(history["as_of"] >= period.first) & (history["as_of"] <= period.last)]
        start = prior["equity"].iloc[-1] if not prior.empty else \
            days["equity"].iloc[0] / (1 + days["daily_return"].iloc[0])
        end = days["equity"].iloc[-1]
        curve = np.r_[start, days["equity"].to_numpy()]
        drawdown = (curve / np.maximum.accumulate(curve) - 1).min()
        start_text, end_text, pnl, ret, bench_text, excess, dd = rows[title]
        assert money(start_text) == pytest.approx(start, abs=0.006)
        assert money(end_text) == pytest.approx(end, abs=0.006)
        assert money(pnl) == pytest.approx(end - start, abs=0.006)
        assert pct(ret) == pytest.approx(end / start - 1, abs=5.1e-5)
        assert pct(dd) == pytest.approx(drawdown, abs=5.1e-5)
        if before.empty:
            assert bench_text == "n/a"
        else:
            assert pct(bench_text) == pytest.approx(bench, abs=5.1e-5)
            assert pct(excess) == pytest.approx(end / start - 1 - bench, abs=1.1e-4)


def replayed(ledger: Ledger, period: Period) -> list[tuple[str, float, str]]:
    """The counterfactuals worked out by hand: (symbol, P&L, how it ended)."""
    d = ledger.decisions
    combined = ledger.accounts[ledger.accounts["account"] == "combined"]
    days = sorted(combined["as_of"])
    # a decision's replay ends HOLD_SESSIONS sessions after it: the week holding that end
    ends_in = {day: days[i + HOLD_SESSIONS] for i, day in enumerate(days)
               if i + HOLD_SESSIONS < len(days)}
    chosen = d[[period.first <= ends_in.get(day, date.max) <= period.last
                for day in d["as_of"]] & d["verdict"].isin(["drop", "adjust"])
               ].sort_values(["as_of", "decision_id"])
    assert len(chosen) > 0
    out = []
    for row in chosen.itertuples():
        equity = combined[combined["as_of"] == row.as_of]["equity"].iloc[0]
        size = (row.proposed_weight - row.weight_combined) * equity
        bars = ledger.bars[(ledger.bars["symbol"] == row.symbol)
                           & (ledger.bars["as_of"] > row.as_of)
                           & (ledger.bars["as_of"] <= period.last)].sort_values("as_of")
        if bars.empty:
            out.append((row.symbol, 0.0, "not entered"))
            continue
        entry = bars["open"].iloc[0]
        stop = entry * (1 - STOPS[row.strategy_id])
        exit_price, how = None, "still open"
        for k in range(min(HOLD_SESSIONS, len(bars))):
            if bars["low"].iloc[k] <= stop:
                exit_price = stop if k == 0 else min(bars["open"].iloc[k], stop)
                how = "stop"
                break
            if k == HOLD_SESSIONS - 1:
                exit_price, how = bars["close"].iloc[k], "time"
        if exit_price is None:
            exit_price = bars["close"].iloc[-1]
        out.append((row.symbol, size * (exit_price / entry - 1), how))
    return out


def test_the_weekly_review_recomputes_from_the_ledger(ledger: Ledger) -> None:
    text = weekly_review(ledger, WEEK)
    assert "# Weekly review 2016-W10" in text
    assert "2016-03-07 to 2016-03-11 (5 sessions)" in text
    assert "the close of 2016-03-11" in text and "only data known by that close" in text
    assert_account_table(text, ledger, WEEK)

    trades = ledger.trades
    week = trades[(trades["account"] == "combined") & (trades["as_of"] >= WEEK.first)
                  & (trades["as_of"] <= WEEK.last)]
    expected = {NAMES[s]: (g["pnl"].sum(), len(g), int((g["pnl"] > 0).sum()))
                for s, g in week.groupby("strategy_id")}
    rows = table_rows(text, "| Strategy |")
    assert {r[0]: (money(r[1]), int(r[2]), int(r[3])) for r in rows} == {
        k: (pytest.approx(v[0], abs=0.006), v[1], v[2]) for k, v in expected.items()}
    assert [money(r[1]) for r in rows] == sorted((money(r[1]) for r in rows), reverse=True)
    best = max(expected, key=lambda k: expected[k][0])
    assert f"**Best**: {best}" in text

    by_hand = replayed(ledger, WEEK)
    rows = table_rows(text, "| Decided |")
    assert len(rows) == len(by_hand) > 2
    for (symbol, pnl, how), row in zip(by_hand, rows, strict=True):
        assert row[1] == symbol
        assert money(row[8]) == pytest.approx(pnl, abs=0.006)
        assert row[7].startswith({"stop": "stop", "time": "time", "still open": "still open",
                                  "not entered": "not entered"}[how])
    # each replay ends within the week it is reported in: none is still open
    assert {how for _, _, how in by_hand} <= {"stop", "time"}
    assert "still open at the review's close" not in text

    principles = section(text, "Principles made by the weekly review 2016-W10")
    assert "Halve bounces in a bear market" in principles
    assert "S02 won 2 of 9 trades in bear markets" in principles
    plan = section(text, "Next week's plan")
    assert "Plan for 2016-W11" in plan and "Favour S01 next week." in plan


def perturbed_after(ledger: Ledger, close: date) -> Ledger:
    """Every row dated after ``close`` changed beyond recognition."""
    def later(frame: pd.DataFrame, column: str = "as_of") -> pd.Series:
        return frame[column] > close

    bars = ledger.bars.copy()
    for column in ("open", "high", "low", "close"):
        bars.loc[later(bars), column] *= 3.0
    bars.loc[later(bars), "low"] = 0.01
    accounts = ledger.accounts.copy()
    accounts.loc[later(accounts), ["equity", "benchmark_close"]] *= 0.5
    trades = ledger.trades.copy()
    trades.loc[later(trades), "pnl"] *= -7
    decisions = ledger.decisions.copy()
    decisions.loc[later(decisions), "verdict"] = "drop"
    plans = ledger.plans.copy()
    plans.loc[len(plans)] = {**plans.iloc[0].to_dict(), "plan_id": "HP-late",
                             "as_of": date(2016, 4, 12), "period": "2016-W11"}
    return replace(ledger, bars=bars, accounts=accounts, trades=trades, decisions=decisions,
                   plans=plans)


@pytest.mark.parametrize("period, render", [(WEEK, weekly_review), (MONTH, monthly_review),
                                            (QUARTER, quarterly_review)])
def test_a_review_reads_nothing_after_its_close(ledger: Ledger, period: Period,
                                                render) -> None:
    assert render(perturbed_after(ledger, period.last), period) == render(ledger, period)


def test_the_monthly_review_recomputes_from_the_ledger(ledger: Ledger) -> None:
    text = monthly_review(ledger, MONTH)
    assert "# Monthly review 2016-03" in text and "the close of 2016-03-31" in text
    assert_account_table(text, ledger, MONTH)
    t = ledger.trades
    month = t[(t["account"] == "combined") & (t["as_of"] >= MONTH.first)
              & (t["as_of"] <= MONTH.last)]
    for title, chosen in (
            ("Top wins", month[month["pnl"] > 0].sort_values("pnl", ascending=False)),
            ("Top losses", month[month["pnl"] < 0].sort_values("pnl"))):
        body = section(text, f"{title} (combined account)")
        headings = re.findall(r"^### (\w+) (USD [-+][\d,.]+) ", body, flags=re.M)
        expected = chosen.head(5)
        assert [(s, round(money(p), 2)) for s, p in headings] == [
            (s, round(p, 2)) for s, p in zip(expected["symbol"], expected["pnl"], strict=True)]
        for chain, trade in zip(body.split("### ")[1:], expected.itertuples(), strict=True):
            decision = ledger.decisions.set_index("decision_id").loc[trade.decision_id]
            assert f"`{trade.decision_id}`" in chain and decision["summary"] in chain
            for line in json.loads(decision["transcript"]):
                assert f"round {line['round']}, {line['role']}: {line['text']}" in chain
            assert "AAA bounced after a washout last year." in chain
            for order in ledger.orders[ledger.orders["decision_id"]
                                       == trade.decision_id].itertuples():
                assert f"{order.as_of} {order.account} buy {order.quantity:g}" in chain
            assert chain.count("    - filled ") == 2  # the combined and aggressive fills
            if json.loads(decision["changes_applied"]):
                assert "`C-known` (principle S03@range, weekly review 2016-W01)" in chain
            else:
                assert "**Changes applied**: none" in chain
    biases = section(text, "Bias diagnosis (combined account)")
    known = ledger.trades[ledger.trades["as_of"] <= MONTH.last]
    findings = diagnose_biases(known, date(2016, 3, 1), MONTH.last)
    for finding in findings:
        line = next(x for x in biases.splitlines()
                    if x.startswith(f"- **{finding.name.replace('_', ' ')}**"))
        assert ("**present**" in line) == finding.present
        assert finding.definition in line and finding.evidence in line
    changes = section(text, "Changes made this month (the monthly review 2016-03, the "
                              "weekly reviews, any replan)")
    assert "**parameter `min_confidence`** (monthly review 2016-03): 0.45 -> 0.5" in changes
    assert "Over-trading ratio 1.8" in changes
    plan = section(text, "Next month's plan")
    assert "Plan for 2016-04" in plan and '**exposure**: 0.35' in plan
    assert '**allocation**: {"S01": 1.2}' in plan
    assert "## Learning curve" in text


def test_the_quarterly_review_against_its_plan_proposals_and_changes(ledger: Ledger) -> None:
    text = quarterly_review(ledger, QUARTER)
    assert "# Quarterly review 2016-Q1" in text
    assert_account_table(text, ledger, QUARTER)
    combined = ledger.accounts[(ledger.accounts["account"] == "combined")
                               & (ledger.accounts["as_of"] <= QUARTER.last)]
    start = combined["equity"].iloc[0] / (1 + combined["daily_return"].iloc[0])
    achieved = combined["equity"].iloc[-1] / start - 1
    rows = {r[0]: r[1:] for r in table_rows(text, "| Measure |")}
    target, got, verdict = rows["Return (combined)"]
    assert pct(target) == pytest.approx(0.01)  # the replan's target, the latest plan
    assert pct(got) == pytest.approx(achieved, abs=5.1e-5)
    assert verdict == ("met" if achieved >= 0.01 else "missed")
    assert rows["Max drawdown (combined)"][0] == "within 5.00%"

    proposals = section(text, "Meta-review proposals (waiting for a human)")
    status = dict(re.findall(r"\*\*([\w ]+? me)\*\* .*?\*\*(\w+)\*\*", proposals))
    assert status == {"Approve me": "approved", "Reject me": "rejected",
                      "Forget me": "expired", "Wait for me": "pending"}
    assert "by ann on 2016-02-05" in proposals
    changes = section(text, "Every change made in the quarter")
    assert "(weekly review 2016-W10)" in changes and "(monthly review 2016-03)" in changes
    assert "(weekly review 2016-W01)" in changes
    assert "A later principle" not in changes
    assert "## Learning curve" in text


def test_periods_close_only_at_their_last_session_with_an_accounts_row() -> None:
    # the week of 2016-03-21 ends on Thursday the 24th (Good Friday)
    weeks = closed_periods(WEEKLY, SESSIONS, SESSIONS, date(2016, 3, 21), date(2016, 3, 25))
    assert [(p.label, p.first, p.last) for p in weeks] == [
        ("2016-W12", date(2016, 3, 21), date(2016, 3, 24))]
    traded = [d for d in SESSIONS if d != date(2016, 3, 31)]
    assert closed_periods(MONTHLY, SESSIONS, traded, date(2016, 3, 1),
                          date(2016, 3, 31)) == []
