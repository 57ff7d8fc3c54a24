"""The quant's record book: how past signals of each genome turned out, queryable as of
any day in O(log n) with prefix sums, counting only outcomes known before that day."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from trade_pipelines.agent.decision.debate import SetupRecord


class _Prefix:
    def __init__(self, frame: pd.DataFrame) -> None:
        frame = frame.sort_values("known_as_of", kind="mergesort")
        self.known = frame["known_as_of"].to_numpy(dtype="datetime64[D]")
        returns = frame["return"].to_numpy(dtype=float)
        wins = returns > 0
        self.count = np.concatenate([[0], np.arange(1, len(returns) + 1)])
        self.wins = np.concatenate([[0], np.cumsum(wins)])
        self.win_sum = np.concatenate([[0.0], np.cumsum(np.where(wins, returns, 0.0))])
        self.loss_sum = np.concatenate([[0.0], np.cumsum(np.where(wins, 0.0, returns))])

    def upto(self, day: date) -> tuple[int, int, float, float]:
        i = int(np.searchsorted(self.known, np.datetime64(day, "D"), side="left"))
        return int(self.count[i]), int(self.wins[i]), float(self.win_sum[i]), \
            float(self.loss_sum[i])


class SetupBook:
    def __init__(self, outcomes: pd.DataFrame) -> None:
        self._by_strategy = {k: _Prefix(g) for k, g in outcomes.groupby("strategy_id")} \
            if not outcomes.empty else {}
        self._by_symbol = {k: _Prefix(g) for k, g in outcomes.groupby(["strategy_id", "symbol"])} \
            if not outcomes.empty else {}

    def record(self, strategy_id: str, symbol: str, day: date) -> SetupRecord:
        n, wins, win_sum, loss_sum = self._by_strategy[strategy_id].upto(day) \
            if strategy_id in self._by_strategy else (0, 0, 0.0, 0.0)
        sn, swins, _, _ = self._by_symbol[(strategy_id, symbol)].upto(day) \
            if (strategy_id, symbol) in self._by_symbol else (0, 0, 0.0, 0.0)
        losses = n - wins
        avg_win = win_sum / wins if wins else 0.0
        avg_loss = -loss_sum / losses if losses else 0.0
        return SetupRecord(
            n=n, win_rate=wins / n if n else float("nan"),
            expectancy=(win_sum + loss_sum) / n if n else float("nan"),
            payoff=avg_win / avg_loss if avg_loss > 0 else float("nan"),
            symbol_n=sn, symbol_win_rate=swins / sn if sn else float("nan"))
