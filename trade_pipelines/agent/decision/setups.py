"""The quant's record book: how past trades of each genome turned out, as of any day,
counting only outcomes known before that day.

The outcomes are ``all_outcomes``: one trade at a time per symbol, net of costs, so the
record counts trades a position could have made, not every day a signal repeated.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from trade_pipelines.agent.decision.debate import SetupRecord
from trade_pipelines.agent.reflection.performance import TradeStats, trade_stats


class _Record:
    """One genome's (or one genome-symbol's) returns in exit order."""

    def __init__(self, frame: pd.DataFrame) -> None:
        frame = frame.sort_values("known_as_of", kind="mergesort")
        self.known = frame["known_as_of"].to_numpy(dtype="datetime64[D]")
        self.returns = frame["return"].to_numpy(dtype=float)

    def before(self, day: date) -> TradeStats:
        i = int(np.searchsorted(self.known, np.datetime64(day, "D"), side="left"))
        return trade_stats(self.returns[:i])


_NO_TRADES = trade_stats([])


class SetupBook:
    def __init__(self, outcomes: pd.DataFrame) -> None:
        self._by_strategy = {k: _Record(g) for k, g in outcomes.groupby("strategy_id")} \
            if not outcomes.empty else {}
        self._by_symbol = {k: _Record(g) for k, g in outcomes.groupby(["strategy_id", "symbol"])} \
            if not outcomes.empty else {}

    def record(self, strategy_id: str, symbol: str, day: date) -> SetupRecord:
        whole = self._by_strategy[strategy_id].before(day) \
            if strategy_id in self._by_strategy else _NO_TRADES
        mine = self._by_symbol[(strategy_id, symbol)].before(day) \
            if (strategy_id, symbol) in self._by_symbol else _NO_TRADES
        return SetupRecord(
            n=whole.n_trades, win_rate=whole.win_rate, expectancy=whole.expectancy,
            payoff=whole.payoff, symbol_n=mine.n_trades, symbol_win_rate=mine.win_rate)
