"""A few trading days of warehouse rows shaped like the replay's output.

Shared by the AppTest and the browser test so both look at the same page. Values are
seeded, so a test can name the exact symbol, transcript line or order it expects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from trade_pipelines.warehouse import Warehouse

ACCOUNTS = ("aggressive", "conservative", "combined")
SYMBOLS = ("AAPL", "MSFT", "NVDA", "XOM", "JPM", "KO")
PAUSE_REASON = "supervisor review of NVDA earnings risk"
# Opening line of the first debate on every day; tests look for it in the transcript.
OPENING_LINE = "Proposal: {side} {symbol} at {close:.2f} on 'Donchian breakout 55'."


@dataclass(frozen=True)
class SampleSummary:
    """What the fixture wrote, so assertions need not hard-code it."""

    days: list[date]
    decisions: pd.DataFrame
    orders: pd.DataFrame
    accounts: pd.DataFrame

    @property
    def latest(self) -> date:
        return self.days[-1]


def _transcript(symbol: str, side: str, close: float, verdict: str,
                confidence: float) -> list[dict]:
    lines = [
        (1, "aggressive", OPENING_LINE.format(side=side, symbol=symbol, close=close)
         + " 20-day return +6.1%, RSI 63, signal strength 0.71. I want 8.6% of equity."),
        (1, "conservative", "Objection 1 (stretch, severity 0.00): RSI is 63 after a +6.1% "
         "run: we may be buying the top of the move."),
        (1, "conservative", "Objection 2 (edge, severity 0.35): the setup wins only 52% of "
         "the time."),
        (1, "quant", "Record of this setup before today: 41 trades, win rate 52%, "
         "expectancy +0.41% a trade, payoff 1.38."),
        (2, "aggressive", "On edge: payoff 1.38 carries a 52% win rate; I keep the size."),
        (2, "conservative", "Residual concern 0.00 across 0 open objections."),
        (3, "conservative", "No objection left standing; I accept the size."),
        (3, "judge", f"Verdict: {verdict.upper()} with confidence {confidence:.0%} "
         f"({side} {symbol})."),
    ]
    return [{"round": r, "role": role, "text": text} for r, role, text in lines]


def _order(day: date, order_id: str, sequence: int, account: str, decision_id: str | None,
           symbol: str, side: str, quantity: float, purpose: str, paused: bool,
           too_big: bool) -> dict[str, object]:
    next_day = (pd.Timestamp(day) + pd.offsets.BDay(1)).date()
    if paused:
        verdict = f"entry refused: trading paused from {day} by supervisor app: {PAUSE_REASON}"
        outcome = ("rejected", verdict, 0.0, day)
    elif too_big:
        verdict = "position would exceed 10% of equity"
        outcome = ("rejected", verdict, 0.0, day)
    else:
        verdict = "passed risk checks"
        outcome = ("filled", f"filled {quantity:g} at 101.2500", quantity, next_day)
    status, resolution, filled, resolved = outcome
    return {"as_of": day, "order_id": order_id, "sequence": sequence + 1, "account": account,
            "decision_id": decision_id, "strategy_id": "S-donchian-55", "symbol": symbol,
            "side": side, "quantity": quantity, "order_type": "market", "purpose": purpose,
            "verdict": "accepted" if status == "filled" else "rejected",
            "reason": f"{purpose}; {verdict}", "status": status, "resolution": resolution,
            "filled_quantity": filled, "unfilled_quantity": quantity - filled,
            "resolved_as_of": resolved}


def build_frames(start: date = date(2024, 3, 4), n_days: int = 5,
                 seed: int = 7, paused_last_day: bool = True) -> dict[str, pd.DataFrame]:
    """Rows for accounts, decisions, orders and memories over ``n_days`` business days."""
    rng = np.random.default_rng(seed)
    days = [d.date() for d in pd.bdate_range(start, periods=n_days)]
    drift = {"aggressive": (0.0015, 0.012), "conservative": (0.0006, 0.005),
             "combined": (0.0010, 0.008)}
    equity = dict.fromkeys(ACCOUNTS, 1_000_000.0)
    peak = dict(equity)
    benchmark = 5130.0
    closes = {s: float(rng.uniform(40, 900)) for s in SYMBOLS}

    accounts, decisions, orders = [], [], []
    memories = [
        {"as_of": start, "memory_id": f"M-{i:04d}", "kind": "trade", "tier": "short_term",
         "symbol": symbol, "strategy_id": "S-donchian-55", "regime": "bull",
         "importance": 6, "outcome_return": 0.031 - 0.02 * i,
         "text": f"{symbol} breakout after earnings returned {0.031 - 0.02 * i:+.1%} "
                 "in 12 days.",
         "who": "aggressive", "what": "breakout", "when": str(start), "where": symbol,
         "why": "trend", "how": "market order", "source": "trades"}
        for i, symbol in enumerate(SYMBOLS[:3])
    ]
    for n, day in enumerate(days):
        benchmark *= 1 + rng.normal(0.0005, 0.008)
        for account in ACCOUNTS:
            mu, sigma = drift[account]
            daily = float(rng.normal(mu, sigma))
            equity[account] *= 1 + daily
            peak[account] = max(peak[account], equity[account])
            exposure = {"aggressive": 0.9, "conservative": 0.35, "combined": 0.6}[account]
            accounts.append({
                "as_of": day, "account": account,
                "cash": equity[account] * (1 - exposure), "equity": equity[account],
                "gross_exposure": exposure, "daily_return": daily,
                "drawdown": equity[account] / peak[account] - 1,
                "benchmark_close": round(benchmark, 2)})
        for k, verdict in enumerate(("execute", "adjust", "drop")):
            symbol = SYMBOLS[(n + k) % len(SYMBOLS)]
            side = "buy"  # the agent only opens longs; exits come from the ledger
            closes[symbol] *= 1 + rng.normal(0.0, 0.015)
            confidence = round({"execute": 0.74, "adjust": 0.52, "drop": 0.31}[verdict]
                               + 0.02 * n, 4)
            weights = {"execute": (0.086, 0.04, 0.0516), "adjust": (0.07, 0.0, 0.021),
                       "drop": (0.06, 0.0, 0.0)}[verdict]
            decision_id = f"D-{day:%Y%m%d}-{k}"
            reason = {"execute": "edge outweighs the open risks",
                      "adjust": "some edge, but the open risks halve the size",
                      "drop": "the evidence does not carry the trade"}[verdict]
            decisions.append({
                "as_of": day, "decision_id": decision_id, "proposal_id": f"P-{day:%Y%m%d}-{k}",
                "symbol": symbol, "side": side, "strategy_id": "S-donchian-55",
                "verdict": verdict, "confidence": confidence, "low_certainty": confidence < 0.6,
                "weight_aggressive": weights[0], "weight_conservative": weights[1],
                "weight_combined": weights[2], "rounds": 3,
                "summary": f"{verdict} {side} {symbol} (Donchian breakout 55) at "
                           f"{confidence:.0%}: {reason}; strongest objection: edge.",
                "transcript": json.dumps(_transcript(symbol, side, closes[symbol], verdict,
                                                     confidence)),
                "memories_used": json.dumps([m["memory_id"] for m in memories[: 3 - k]]),
            })
            for account, weight in zip(ACCOUNTS, weights, strict=True):
                if weight <= 0:
                    continue
                quantity = float(int(weight * equity[account] / closes[symbol]))
                orders.append(_order(day, f"O-{decision_id}-{account}", len(orders), account,
                                     decision_id, symbol, side, quantity, "entry",
                                     paused_last_day and n == len(days) - 1,
                                     account == "aggressive" and verdict == "adjust"))
        if n == 1:  # a stop-loss exit, which no debate produced
            orders.append(_order(day, f"O-{day:%Y%m%d}-exit", len(orders), "aggressive", None,
                                 "XOM", "sell", 120.0, "stop_loss", False, False))
    return {"accounts": pd.DataFrame(accounts), "decisions": pd.DataFrame(decisions),
            "orders": pd.DataFrame(orders), "memories": pd.DataFrame(memories)}


def _complete(warehouse: Warehouse, table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Give any required column the page does not read a neutral value, so the sample
    keeps loading when the schema grows a column."""
    columns = warehouse.query(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = ? AND is_nullable = 'NO'", [table])
    frame = frame.copy()
    for name, data_type in columns.itertuples(index=False):
        if name in frame.columns:
            continue
        if data_type in ("DATE", "TIMESTAMP"):
            frame[name] = frame["as_of"]
        elif data_type == "BOOLEAN":
            frame[name] = False
        elif data_type in ("VARCHAR", "TEXT"):
            frame[name] = "sample"
        else:
            frame[name] = 0
    return frame


def fill_warehouse(warehouse: Warehouse, **kwargs: object) -> SampleSummary:
    """Migrate ``warehouse`` and write the sample rows, one transaction per table."""
    warehouse.migrate()
    frames = build_frames(**kwargs)  # type: ignore[arg-type]
    for table, frame in frames.items():
        warehouse.append(table, _complete(warehouse, table, frame))
    days = sorted(set(frames["accounts"]["as_of"]))
    return SampleSummary(days, frames["decisions"], frames["orders"], frames["accounts"])
