"""Each change's effect: its metric over the sessions before it took effect against as
many sessions from then on, from the combined account alone."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.reflection.change_effects import change_effects, windows
from trade_pipelines.agent.reflection.changes import PARAMETER, PRINCIPLE, Change

DAYS = [d.date() for d in pd.bdate_range("2016-01-04", periods=50)]
FAMILIES = {"S-mom": "momentum", "S-rev": "mean_reversion"}


def _change(kind: str, target: str, effective_from: date, new_value: object,
            old_value: object = None) -> dict[str, object]:
    return Change(DAYS[0], kind, target, old_value, new_value, "evidence", "weekly review",
                  effective_from, "metric").row()


def _accounts(returns: list[float]) -> pd.DataFrame:
    combined = pd.DataFrame({"as_of": DAYS[:len(returns)], "account": "combined",
                             "daily_return": returns})
    # another account's wild returns must not count
    other = combined.assign(account="aggressive", daily_return=0.5)
    return pd.concat([other, combined], ignore_index=True)


def _sharpe(values: np.ndarray) -> float:
    return float(values.mean() / values.std(ddof=1) * math.sqrt(252))


def test_windows_take_as_many_sessions_each_side_of_the_first_one() -> None:
    span = windows(DAYS, DAYS[25], 20)
    assert span.before == tuple(DAYS[5:25]) and span.after == tuple(DAYS[25:45])
    assert span.complete and span.counts() == "20 sessions each"
    short = windows(DAYS, DAYS[10], 20)
    assert len(short.before) == 10 and short.counts() == "10 sessions before, 20 after"
    assert not windows(DAYS, DAYS[40], 20).complete
    rolled = windows(DAYS, DAYS[25], 20, until=DAYS[30])
    assert rolled.after == tuple(DAYS[25:30]) and rolled.complete
    assert rolled.counts() == f"20 sessions before, 5 after, up to its rollback from {DAYS[30]}"
    # a rollback from a session not reached yet: still measuring
    assert not windows(DAYS, DAYS[40], 20, until=date(2017, 1, 3)).complete


def test_a_parameter_is_judged_by_the_combined_accounts_daily_returns() -> None:
    rng = np.random.default_rng(7)
    returns = list(np.round(rng.normal(0.0, 0.01, 50), 6))
    changes = pd.DataFrame([_change(PARAMETER, "min_confidence", DAYS[25], 0.5, 0.45)])
    (effect,) = change_effects(changes, _accounts(returns), pd.DataFrame(), FAMILIES, {})
    before, after = np.array(returns[5:25]), np.array(returns[25:45])
    assert effect == (
        f"before: mean daily return {before.mean():+.2%}, Sharpe {_sharpe(before):+.2f}; "
        f"after: mean daily return {after.mean():+.2%}, Sharpe {_sharpe(after):+.2f} "
        "(20 sessions each; before and after, not a controlled comparison)")


def test_an_incomplete_after_window_is_pending() -> None:
    returns = [0.01, -0.01] * 25
    changes = pd.DataFrame([_change(PARAMETER, "exposure_scale", DAYS[40], 0.8, 1.0),
                            _change(PARAMETER, "exposure_scale", date(2016, 6, 1), 0.9,
                                    0.8)])
    effects = change_effects(changes, _accounts(returns), pd.DataFrame(), FAMILIES, {},
                             sessions=20)
    assert effects[0].startswith("pending: 10 of 20 sessions after; before: mean daily "
                                 "return +0.00%")
    assert effects[0].endswith("(20 sessions)")
    assert effects[1].startswith("pending: 0 of 20 sessions after")


def _trade(opened: date, strategy: str, return_pct: float,
           account: str = "combined") -> dict[str, object]:
    return {"as_of": opened, "account": account, "strategy_id": strategy,
            "opened_as_of": pd.Timestamp(opened), "return_pct": return_pct}


def test_a_principle_is_judged_by_the_trades_of_its_family_opened_in_its_regime() -> None:
    first = DAYS[25]
    regime_by_day = {d: ("bear" if i % 2 == 0 else "bull") for i, d in enumerate(DAYS)}
    bear_before = [d for d in DAYS[5:25] if regime_by_day[d] == "bear"]
    bear_after = [d for d in DAYS[25:45] if regime_by_day[d] == "bear"]
    bull_after = next(d for d in DAYS[25:45] if regime_by_day[d] == "bull")
    trades = pd.DataFrame([
        _trade(bear_before[0], "S-mom", -0.02), _trade(bear_before[1], "S-mom", 0.01),
        _trade(bear_before[2], "S-mom", -0.027),
        _trade(bear_after[0], "S-mom", 0.03), _trade(bear_after[1], "S-mom", -0.01),
        # none of these count: another family, another regime, another account, and
        # days outside both windows
        _trade(bear_after[2], "S-rev", 0.5), _trade(bull_after, "S-mom", 0.5),
        _trade(bear_after[3], "S-mom", 0.5, account="aggressive"),
        _trade(DAYS[0], "S-mom", 0.5), _trade(DAYS[46], "S-mom", 0.5),
    ])
    scope = {"text": "halve momentum in bear markets", "family": "momentum",
             "regime": "bear", "size_multiplier": 0.5}
    changes = pd.DataFrame([_change(PRINCIPLE, "momentum-bear", first, scope),
                            _change(PRINCIPLE, "momentum-bear", first, None, scope),
                            _change(PARAMETER, "min_confidence", first, 0.5, 0.45)])
    effects = change_effects(changes, _accounts([0.0] * 50), trades, FAMILIES,
                             regime_by_day)
    expected = ("before: 3 trades, win rate 33%, mean -1.23%; after: 2 trades, win rate "
                "50%, mean +1.00% (20 sessions each; before: inside the review's own "
                "evidence)")
    assert effects[0] == expected
    assert effects[1] == expected  # withdrawn: judged on the trades it governed
    assert effects[2].startswith("before: mean daily return +0.00%, Sharpe n/a")


def test_a_principle_for_any_family_or_regime_counts_them_all() -> None:
    trades = pd.DataFrame([_trade(DAYS[30], "S-rev", 0.02), _trade(DAYS[31], "S-mom", 0.04),
                           _trade(DAYS[10], "unknown", -0.01)])
    scope = {"text": "all", "family": "", "regime": "", "size_multiplier": 1.1}
    (effect,) = change_effects(pd.DataFrame([_change(PRINCIPLE, "all", DAYS[25], scope)]),
                               _accounts([0.0] * 50), trades, FAMILIES, {})
    assert effect == ("before: 1 trade, win rate 0%, mean -1.00%; after: 2 trades, win "
                      "rate 100%, mean +3.00% (20 sessions each; before: inside the "
                      "review's own evidence)")


def test_no_change_no_effect_and_sessions_must_be_positive() -> None:
    assert change_effects(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), {}, {}) == []
    with pytest.raises(ValueError, match="sessions"):
        change_effects(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), {}, {}, sessions=0)


def test_a_rolled_back_change_is_measured_only_while_it_applied() -> None:
    returns = [0.01] * 30 + [-0.02] * 20
    row = _change(PARAMETER, "exposure_scale", DAYS[25], 0.8, 1.0)
    changes = pd.DataFrame([row])
    accounts = _accounts(returns)
    (cut,) = change_effects(changes, accounts, pd.DataFrame(), FAMILIES, {},
                            rolled_back_from={str(row["change_id"]): DAYS[30]})
    assert cut == ("before: mean daily return +1.00%, Sharpe n/a; after: mean daily return "
                   "+1.00%, Sharpe n/a (20 sessions before, 5 after, up to its rollback "
                   f"from {DAYS[30]}; before and after, not a controlled comparison)")
    (whole,) = change_effects(changes, accounts, pd.DataFrame(), FAMILIES, {})
    assert "after: mean daily return -1.25%" in whole  # 5 x +1%, 15 x -2%
