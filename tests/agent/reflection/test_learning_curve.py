"""The learning curve: rolling windows of the combined account, their slopes and what
the slopes say, on series built to improve, to stand still, or too short to tell."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.reflection.learning_curve import (
    DECLINING,
    IMPROVING,
    STALLED,
    TOO_LITTLE_DATA,
    WINDOW_SESSIONS,
    learning_curve,
    learning_curve_markdown,
    trend,
)
from trade_pipelines.agent.reflection.performance import daily_stats
from trade_pipelines.market_data.calendar import exchange_sessions

SESSIONS = exchange_sessions(date(2014, 1, 2), date(2016, 12, 30))


def ledger(skill: np.ndarray, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame,
                                                       pd.DataFrame]:
    """Accounts, trades and decisions of an agent whose skill (0..1) on each session is
    ``skill``: its mean return, its chance to win a trade and how sharp its confidence is
    all follow it. A copy of each trade in the aggressive account loses, always: a curve
    pooling the accounts would see it."""
    rng = np.random.default_rng(seed)
    n = len(SESSIONS)
    returns = rng.normal(0.002 * (skill - 0.5), 0.004, n)
    accounts = pd.DataFrame({"as_of": SESSIONS * 2,
                             "account": ["combined"] * n + ["aggressive"] * n,
                             "daily_return": np.r_[returns, -np.abs(returns)]})
    trades, decisions = [], []
    for i in range(0, n - 3, 2):
        won = rng.uniform() < 0.25 + 0.5 * skill[i]
        confidence = 0.5 + (0.45 * skill[i]) * (1 if won else -1)
        decision_id = f"D{i:05d}"
        decisions.append({"decision_id": decision_id, "as_of": SESSIONS[i],
                          "raw_confidence": confidence})
        for account, pnl in (("combined", 10.0 if won else -10.0), ("aggressive", -5.0)):
            trades.append({"as_of": SESSIONS[i + 3], "trade_id": f"T{i}{account}",
                           "account": account, "pnl": pnl, "decision_id": decision_id})
    return accounts, pd.DataFrame(trades), pd.DataFrame(decisions)


def test_an_improving_agent_is_called_improving() -> None:
    skill = np.linspace(0.0, 1.0, len(SESSIONS))
    accounts, trades, decisions = ledger(skill)
    curve = learning_curve(accounts, trades, decisions, SESSIONS[-1])
    for metric in ("win_rate", "sharpe", "brier"):
        assert curve.trends[metric].diagnosis == IMPROVING, metric
        assert curve.trends[metric].p_value < 0.10
    assert curve.trends["win_rate"].slope_per_year > 0
    assert curve.trends["brier"].slope_per_year < 0  # lower Brier is better

    # each window recomputed by hand: its last 63 sessions, the combined account only
    w = curve.windows.iloc[5]
    days = [d for d in SESSIONS if d <= w["end"]][-WINDOW_SESSIONS:]
    assert w["first"] == days[0]
    combined = accounts[accounts["account"] == "combined"]
    window_returns = combined[combined["as_of"].isin(days)]["daily_return"]
    assert w["sharpe"] == pytest.approx(daily_stats(window_returns).sharpe)
    closed = trades[(trades["account"] == "combined") & trades["as_of"].isin(days)]
    assert w["trades"] == len(closed)
    assert w["win_rate"] == pytest.approx((closed["pnl"] > 0).mean())
    outcome = (closed["pnl"] > 0).to_numpy(dtype=float)
    confidence = decisions.set_index("decision_id").loc[closed["decision_id"],
                                                        "raw_confidence"].to_numpy()
    assert w["brier"] == pytest.approx(np.mean((confidence - outcome) ** 2))

    # the slope, independently: least squares of the values against years
    x = pd.to_datetime(curve.windows["end"]).to_numpy().astype("datetime64[D]").astype(
        float) / 365.25
    slope = np.polyfit(x, curve.windows["win_rate"].to_numpy(dtype=float), 1)[0]
    assert curve.trends["win_rate"].slope_per_year == pytest.approx(slope)


def test_a_flat_agent_is_stalled_and_the_report_says_so_in_words() -> None:
    accounts, trades, decisions = ledger(np.full(len(SESSIONS), 0.5), seed=11)
    curve = learning_curve(accounts, trades, decisions, SESSIONS[-1])
    assert curve.trends["win_rate"].diagnosis == STALLED
    assert curve.trends["sharpe"].diagnosis == STALLED
    assert curve.trends["win_rate"].p_value >= 0.10
    text = "\n".join(learning_curve_markdown(curve))
    assert "stalled: the agent is not measurably learning here" in text


def test_a_declining_agent_and_too_little_data() -> None:
    skill = np.linspace(1.0, 0.0, len(SESSIONS))
    accounts, trades, decisions = ledger(skill)
    curve = learning_curve(accounts, trades, decisions, SESSIONS[-1])
    assert curve.trends["win_rate"].diagnosis == DECLINING
    short = learning_curve(accounts, trades, decisions, date(2014, 6, 30))
    assert len(short.windows) == 1  # one whole run of 63 sessions to the end of June
    assert {t.diagnosis for t in short.trends.values()} == {TOO_LITTLE_DATA}
    assert trend("x", [date(2016, 1, 29)] * 5, np.arange(5.0), True).diagnosis == \
        TOO_LITTLE_DATA


def test_rows_after_the_last_day_change_nothing() -> None:
    accounts, trades, decisions = ledger(np.linspace(0.0, 1.0, len(SESSIONS)))
    last = date(2015, 9, 30)
    curve = learning_curve(accounts, trades, decisions, last)
    later = trades["as_of"] > last
    trades.loc[later, "pnl"] *= -1
    accounts.loc[accounts["as_of"] > last, "daily_return"] = 0.5
    again = learning_curve(accounts, trades, decisions, last)
    pd.testing.assert_frame_equal(curve.windows, again.windows)
    assert curve.windows["end"].iloc[-1] <= last
    # the windows share no session
    assert (curve.windows["first"].iloc[1:].to_numpy()
            > curve.windows["end"].iloc[:-1].to_numpy()).all()
