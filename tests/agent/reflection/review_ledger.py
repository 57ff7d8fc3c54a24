"""A small, fully known ledger for the review tests: three accounts over the first
quarter of 2016 and a little after it, decisions with their debates, trades, orders,
fills, memories, changes, plans, proposals, human decisions and bars."""

from __future__ import annotations

import json
from datetime import date, datetime

import numpy as np
import pandas as pd

from trade_pipelines.agent.reflection.changes import Change, FrameworkProposal, HumanDecision
from trade_pipelines.agent.reflection.daily_report import ACCOUNT_TITLES
from trade_pipelines.agent.reflection.horizon_reviews import Ledger
from trade_pipelines.market_data.calendar import exchange_sessions

SESSIONS = exchange_sessions(date(2016, 1, 4), date(2016, 4, 15))
SYMBOLS = ["AAA", "BBB", "CCC"]
STRATEGIES = ["S01", "S02", "S03"]
NAMES = {"S01": "Trend", "S02": "Bounce", "S03": "Breakout"}
STOPS = {"S01": 0.05, "S02": 0.08, "S03": 0.10}
VERDICTS = ["execute", "adjust", "drop"]


def _accounts(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    bench = 100.0 * np.cumprod(1 + rng.normal(0.0003, 0.01, len(SESSIONS)))
    for account in ACCOUNT_TITLES:
        returns = rng.normal(0.0004, 0.008, len(SESSIONS))
        equity = 1_000_000 * np.cumprod(1 + returns)
        peak = np.maximum.accumulate(equity)
        for i, day in enumerate(SESSIONS):
            rows.append({"as_of": day, "account": account, "cash": equity[i] * 0.6,
                         "equity": equity[i], "gross_exposure": equity[i] * 0.4,
                         "daily_return": returns[i], "drawdown": equity[i] / peak[i] - 1,
                         "benchmark_close": bench[i]})
    return pd.DataFrame(rows)


def _bars(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for symbol in SYMBOLS:
        close = 50 * np.cumprod(1 + rng.normal(0, 0.03, len(SESSIONS)))
        for i, day in enumerate(SESSIONS):
            opened = close[i] * (1 + rng.normal(0, 0.01))
            rows.append({"symbol": symbol, "as_of": day, "open": opened,
                         "high": max(opened, close[i]) * 1.01,
                         "low": min(opened, close[i]) * (1 - abs(rng.normal(0, 0.03))),
                         "close": close[i]})
    return pd.DataFrame(rows)


def build_ledger(seed: int = 7) -> Ledger:
    rng = np.random.default_rng(seed)
    accounts = _accounts(rng)
    decisions, trades, orders, fills = [], [], [], []
    for i, day in enumerate(SESSIONS[:-12]):
        for k in range(2):
            n = 2 * i + k
            decision_id = f"D-{n:04d}"
            symbol, strategy = SYMBOLS[n % 3], STRATEGIES[(n // 3) % 3]
            verdict = VERDICTS[n % 3] if n % 4 else VERDICTS[(n + 1) % 3]
            transcript = [{"round": 1, "role": "aggressive", "text": f"Buy {symbol} ({n})."},
                          {"round": 1, "role": "conservative", "text": "Too stretched."},
                          {"round": 2, "role": "judge", "text": f"Verdict {verdict}."}]
            decisions.append({
                "as_of": day, "decision_id": decision_id, "symbol": symbol, "side": "buy",
                "strategy_id": strategy, "verdict": verdict,
                "confidence": 0.55, "raw_confidence": float(rng.uniform(0.3, 0.9)),
                "weight_aggressive": 0.0 if n % 7 == 0 else 0.05 + 0.01 * (n % 3),
                # what the proposer asked (a defensive drop leaves the aggressive 0)
                "proposed_weight": 0.05 + 0.01 * (n % 3),
                "weight_combined": {"execute": 0.04, "adjust": 0.015, "drop": 0.0}[verdict],
                "summary": f"{verdict} buy {symbol}: summary {n}",
                "transcript": json.dumps(transcript),
                "memories_used": json.dumps([{"memory_id": "M-1", "score": 0.7}]),
                "changes_applied": json.dumps(["C-known"] if n % 5 == 0 else [])})
            if verdict == "drop":
                continue
            hold = 2 + n % 6
            closed = SESSIONS[i + 1 + hold]
            ret = float(rng.normal(0.002, 0.04))
            for account in ("combined", "aggressive"):
                quantity = 100.0 if account == "combined" else 250.0
                entry = 50.0 + n % 7
                order_id = f"O-{n:04d}-{account}"
                orders.append({"as_of": day, "order_id": order_id, "sequence": 0,
                               "account": account, "decision_id": decision_id,
                               "strategy_id": strategy, "symbol": symbol, "side": "buy",
                               "quantity": quantity, "order_type": "market",
                               "purpose": "entry", "status": "filled", "reason": ""})
                fills.append({"as_of": SESSIONS[i + 1], "fill_id": f"F-{n:04d}-{account}",
                              "order_id": order_id, "account": account, "symbol": symbol,
                              "side": "buy", "quantity": quantity, "price": entry,
                              "fee": 1.5, "slippage_bps": 5.0})
                trades.append({"as_of": closed, "trade_id": f"T-{n:04d}-{account}",
                               "account": account, "symbol": symbol, "strategy_id": strategy,
                               "opened_as_of": SESSIONS[i + 1], "quantity": quantity,
                               "entry_price": entry, "exit_price": entry * (1 + ret),
                               "pnl": quantity * entry * ret, "return_pct": ret,
                               "holding_days": hold, "exit_reason": "time_exit",
                               "decision_id": decision_id})
    memories = pd.DataFrame([{"as_of": date(2016, 1, 4), "memory_id": "M-1",
                              "text": "AAA bounced after a washout last year."}])
    principle = Change(date(2016, 3, 11), "principle", "S02@bear",
                       None, {"text": "Halve bounces in a bear market", "family": "S02",
                              "regime": "bear", "size_multiplier": 0.5},
                       "S02 won 2 of 9 trades in bear markets", "weekly review 2016-W10",
                       date(2016, 3, 14), "win rate")
    parameter = Change(date(2016, 3, 31), "parameter", "min_confidence", 0.45, 0.5,
                       "Over-trading ratio 1.8", "monthly review 2016-03", date(2016, 4, 1),
                       "mean daily return")
    later = Change(date(2016, 4, 8), "principle", "S01@bull", None,
                   {"text": "A later principle", "family": "S01", "regime": "bull",
                    "size_multiplier": 1.25}, "after the close", "weekly review 2016-W14",
                   date(2016, 4, 11), "win rate")
    changes = pd.DataFrame([c.row() for c in (principle, parameter, later)])
    changes.loc[len(changes)] = {**changes.iloc[0].to_dict(), "change_id": "C-known",
                                 "as_of": date(2016, 1, 8), "review": "weekly review 2016-W01",
                                 "target": "S03@range"}
    plans = pd.DataFrame([
        {"plan_id": "HP-w11", "as_of": date(2016, 3, 11), "horizon": "weekly",
         "period": "2016-W11", "reason": "scheduled", "regime": "bear",
         "targets": json.dumps({"candidates": ["S01"]}),
         "tasks": json.dumps(["Favour S01 next week."])},
        {"plan_id": "HP-m04", "as_of": date(2016, 3, 31), "horizon": "monthly",
         "period": "2016-04", "reason": "scheduled", "regime": "range",
         "targets": json.dumps({"exposure": 0.35, "allocation": {"S01": 1.2}}),
         "tasks": json.dumps(["Hold gross exposure near 35% of equity."])},
        {"plan_id": "HP-q1", "as_of": date(2015, 12, 31), "horizon": "quarterly",
         "period": "2016-Q1", "reason": "scheduled", "regime": "range",
         "targets": json.dumps({"return_target": 0.02, "drawdown_tolerance": 0.06}),
         "tasks": json.dumps(["Aim for 2.0%."])},
        {"plan_id": "HP-q1r", "as_of": date(2016, 2, 10), "horizon": "quarterly",
         "period": "2016-Q1", "reason": "replan: drawdown", "regime": "bear",
         "targets": json.dumps({"return_target": 0.01, "drawdown_tolerance": 0.05}),
         "tasks": json.dumps(["Aim for 1.0%."])},
    ])

    def proposal(title: str, target: str, as_of: date, expires: date) -> FrameworkProposal:
        return FrameworkProposal(as_of, "quarterly review 2016-Q1", title, "evidence",
                                 "framework", target, False, expires)

    approved = proposal("Approve me", "principles_enabled", date(2016, 1, 29),
                        date(2016, 2, 26))
    rejected = proposal("Reject me", "parameter_reviews_enabled", date(2016, 2, 1),
                        date(2016, 3, 1))
    expired = proposal("Forget me", "x_expired", date(2016, 1, 8), date(2016, 2, 5))
    pending = proposal("Wait for me", "y_pending", date(2016, 3, 24), date(2016, 4, 21))
    humans = [HumanDecision(approved.proposal_id, "approve", date(2016, 2, 8), "fine",
                            "ann", datetime(2016, 2, 5, 9)),
              HumanDecision(rejected.proposal_id, "reject", date(2016, 2, 15), "no",
                            "bob", datetime(2016, 2, 12, 9)),
              # recorded after the quarter's close: the review must not know it
              HumanDecision(pending.proposal_id, "approve", date(2016, 4, 11), "late",
                            "cy", datetime(2016, 4, 5, 9))]
    return Ledger(
        accounts=accounts, trades=pd.DataFrame(trades), decisions=pd.DataFrame(decisions),
        orders=pd.DataFrame(orders), fills=pd.DataFrame(fills), memories=memories,
        changes=changes, plans=plans,
        proposals=pd.DataFrame([p.row() for p in (approved, rejected, expired, pending)]),
        human_decisions=pd.DataFrame([h.row() for h in humans]), bars=_bars(rng),
        names=NAMES, stop_losses=STOPS)
