"""``trade-pipelines changes list | rollback``, ``proposals list | approve | reject`` and
``export changes``: the reviews' changes with status and effect, and the humans'
decisions on them recorded as data."""

from __future__ import annotations

import getpass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from trade_pipelines.agent.reflection.changes import (
    PARAMETER,
    PRINCIPLE,
    Change,
    FrameworkProposal,
)
from trade_pipelines.change_control import load_change_decisions
from trade_pipelines.cli import main
from trade_pipelines.settings import paths
from trade_pipelines.warehouse import Warehouse

DAYS = [d.date() for d in pd.bdate_range("2019-01-02", periods=60)]
SCOPE = {"text": "halve momentum in bear markets", "family": "momentum", "regime": "bear",
         "size_multiplier": 0.5}
PRINCIPLE_CHANGE = Change(DAYS[19], PRINCIPLE, "momentum-bear", None, SCOPE,
                          "momentum lost in bear markets", "weekly review 2019-W05",
                          DAYS[20], "momentum trades in bear markets")
PARAMETER_CHANGE = Change(DAYS[49], PARAMETER, "min_confidence", 0.45, 0.55,
                          "over-trading", "monthly review 2019-03", DAYS[50],
                          "combined account's mean daily return")
TODAY = datetime.now(UTC).date()
PENDING = FrameworkProposal(date(2019, 3, 29), "quarterly review", "Stop parameter "
                            "reviews", "nothing they moved helped", "framework",
                            "parameter_reviews_enabled", False, TODAY + timedelta(days=40))
EXPIRED = FrameworkProposal(date(2019, 3, 29), "quarterly review 2019-Q1", "Stop principles",
                            "too few trades", "framework", "principles_enabled", False,
                            date(2019, 4, 30))


def _store() -> Warehouse:
    return Warehouse(paths().warehouse)


@pytest.fixture
def stored(project_home: Path) -> Warehouse:
    store = _store()
    store.migrate()
    store.append("changes", pd.DataFrame([PRINCIPLE_CHANGE.row(), PARAMETER_CHANGE.row()]))
    store.append("framework_proposals", pd.DataFrame([PENDING.row(), EXPIRED.row()]))
    store.append("accounts", pd.DataFrame({
        "as_of": DAYS, "account": "combined", "cash": 1.0, "equity": 1.0,
        "gross_exposure": 0.0, "daily_return": [0.01, -0.005] * 30, "drawdown": 0.0,
        "benchmark_close": 1.0}))
    store.append("strategies", pd.DataFrame([
        {"strategy_id": "S-mom", "name": "momentum", "family": "momentum", "genome": "{}",
         "parents": "[]", "origin": "seed", "status": "active"},
        {"strategy_id": "S-rev", "name": "reversion", "family": "mean_reversion",
         "genome": "{}", "parents": "[]", "origin": "seed", "status": "active"}]))
    store.append("regimes", pd.DataFrame({"as_of": DAYS, "regime": "bear",
                                          "defensive": False}))
    trades = [("T1", DAYS[5], "S-mom", -0.02), ("T2", DAYS[10], "S-mom", -0.01),
              ("T3", DAYS[25], "S-mom", 0.04), ("T4", DAYS[26], "S-rev", 0.09)]
    store.append("trades", pd.DataFrame([{
        "as_of": opened + timedelta(days=3), "trade_id": trade_id, "account": "combined",
        "symbol": "AAA", "strategy_id": strategy, "opened_as_of": opened, "quantity": 1.0,
        "entry_price": 1.0, "exit_price": 1.0 + ret, "pnl": ret, "return_pct": ret,
        "holding_days": 3, "exit_reason": "time"} for trade_id, opened, strategy, ret
        in trades]))
    return store


def test_changes_list_shows_status_and_effect(stored: Warehouse,
                                              capsys: pytest.CaptureFixture) -> None:
    assert main(["changes", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("change_id  as_of  kind")
    assert out[1].startswith(f"{PRINCIPLE_CHANGE.change_id}  2019-01-29  principle  "
                             "momentum-bear  - -> momentum in bear regime x0.5  weekly "
                             "review 2019-W05  from 2019-01-30  in effect")
    assert out[2] == ("    effect on momentum trades in bear markets: before: 2 trades, "
                      "win rate 0%, mean -1.50%; after: 1 trade, win rate 100%, mean "
                      "+4.00% (20 sessions each; before: inside the review's own "
                      "evidence)")
    assert out[3].startswith(f"{PARAMETER_CHANGE.change_id}  2019-03-12  parameter  "
                             "min_confidence  0.45 -> 0.55")
    assert "pending: 10 of 20 sessions after" in out[4]
    assert main(["changes", "list", "--kind", "parameter"]) == 0
    only = capsys.readouterr().out.splitlines()
    assert len(only) == 3 and PARAMETER_CHANGE.change_id in only[1]
    assert main(["changes", "list", "--limit", "1"]) == 0
    limited = capsys.readouterr().out.splitlines()
    assert limited[0] == "The last 1 of 2 changes (--limit 0 lists all):"
    assert PARAMETER_CHANGE.change_id in limited[2]


def test_changes_list_refuses_an_unknown_kind_and_says_when_there_is_none(
        project_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["changes", "list"]) == 0
    assert "No change recorded" in capsys.readouterr().out
    _store().migrate()
    assert main(["export", "changes", "--out", str(tmp_path / "none.csv")]) == 0
    assert list(pd.read_csv(tmp_path / "none.csv").columns) == [
        "change_id", "as_of", "kind", "target", "old_value", "new_value", "evidence",
        "review", "effective_from", "metric", "status", "effect"]
    assert main(["changes", "list", "--kind", "mood"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown kind 'mood'" in err


def test_a_rollback_is_recorded_and_listed(stored: Warehouse,
                                           capsys: pytest.CaptureFixture) -> None:
    assert main(["changes", "rollback", PRINCIPLE_CHANGE.change_id, "--reason",
                 "too few trades", "--from", "2019-02-04"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"Recorded rollback of {PRINCIPLE_CHANGE.change_id} "
                             f"effective from 2019-02-04 by {getpass.getuser()} at ")
    assert out[0].endswith("UTC: too few trades.")
    assert out[1] == ("From 2019-02-04 on, the policy is folded without this change: the "
                      "next trading cycle applies the decision, or a replay from "
                      "2019-02-04.")
    assert out[2].startswith(f"The ledger already stored up to {DAYS[-1]}")
    (decision,) = load_change_decisions(stored)
    assert (decision.subject_id, decision.effective_from) == (PRINCIPLE_CHANGE.change_id,
                                                              date(2019, 2, 4))
    assert main(["changes", "list", "--kind", "principle"]) == 0
    assert capsys.readouterr().out.splitlines()[1].endswith("rolled back from 2019-02-04")


@pytest.mark.parametrize(("argv", "message"), [
    (["changes", "rollback", "C-nope", "--reason", "x"], "no change 'C-nope'"),
    (["changes", "rollback", PRINCIPLE_CHANGE.change_id, "--reason", "x", "--from",
      "2019-01-02"], "took effect on 2019-01-30"),
    (["changes", "rollback", PRINCIPLE_CHANGE.change_id, "--reason", " "], "needs a reason"),
    (["proposals", "approve", EXPIRED.proposal_id], "expired on 2019-04-30"),
    (["proposals", "reject", PENDING.proposal_id, "--reason", ""], "needs a reason"),
    (["proposals", "list", "--status", "maybe"], "unknown status 'maybe'"),
])
def test_refused_input_exits_2_with_one_line(stored: Warehouse,
                                             capsys: pytest.CaptureFixture,
                                             argv: list[str], message: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert load_change_decisions(stored) == []


def test_proposals_are_listed_approved_and_then_no_longer_pending(
        stored: Warehouse, capsys: pytest.CaptureFixture) -> None:
    assert main(["proposals", "list"]) == 0
    pending = capsys.readouterr().out.splitlines()
    assert len(pending) == 2 and pending[0].startswith(PENDING.proposal_id)
    assert pending[0].endswith(f"framework parameter_reviews_enabled -> false  pending, "
                               f"expires {PENDING.expires_on}")
    assert main(["proposals", "list", "--status", "expired"]) == 0
    assert capsys.readouterr().out.startswith(EXPIRED.proposal_id)
    assert main(["proposals", "approve", PENDING.proposal_id, "--reason", "agreed",
                 "--from", "2019-04-01"]) == 0
    out = capsys.readouterr().out
    assert f"Recorded approve of {PENDING.proposal_id} effective from 2019-04-01" in out
    assert "the proposal's change applies" in out
    assert main(["proposals", "list"]) == 0
    assert capsys.readouterr().out == "No pending framework proposal.\n"
    assert main(["proposals", "list", "--status", "approved"]) == 0
    assert f"approved by {getpass.getuser()} from 2019-04-01" in capsys.readouterr().out
    assert main(["proposals", "reject", PENDING.proposal_id, "--reason", "late"]) == 2
    assert "no longer pending: approved" in capsys.readouterr().err


def test_a_rejection_is_recorded_and_never_applies(stored: Warehouse,
                                                   capsys: pytest.CaptureFixture) -> None:
    assert main(["proposals", "reject", PENDING.proposal_id, "--reason", "too soon"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("UTC: too soon.")
    assert out[1] == "The proposal's change will never apply."
    (decision,) = load_change_decisions(stored)
    assert decision.action == "reject" and decision.effective_from > TODAY - timedelta(1)
    assert main(["proposals", "list", "--status", "rejected"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].endswith(f"rejected by {getpass.getuser()}: too soon")


def test_export_changes_adds_status_and_the_same_effect_as_the_list(
        stored: Warehouse, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["changes", "rollback", PARAMETER_CHANGE.change_id, "--reason", "why",
                 "--from", str(DAYS[55])]) == 0
    assert main(["changes", "list"]) == 0
    listed = [line.split(": ", 1)[1] for line in capsys.readouterr().out.splitlines()
              if line.startswith("    effect on")]
    target = tmp_path / "changes.csv"
    assert main(["export", "changes", "--out", str(target)]) == 0
    exported = pd.read_csv(target)
    assert {"change_id", "as_of", "kind", "target", "old_value", "new_value", "evidence",
            "review", "effective_from", "effect", "metric", "status"} <= set(exported)
    assert exported["change_id"].tolist() == [PRINCIPLE_CHANGE.change_id,
                                              PARAMETER_CHANGE.change_id]
    assert exported["effect"].tolist() == listed
    assert exported["status"].tolist() == ["in effect", f"rolled back from {DAYS[55]}"]
    assert exported["effect"].iloc[1].endswith(
        f"(20 sessions before, 5 after, up to its rollback from {DAYS[55]}; before and "
        "after, not a controlled comparison)")
