"""Trade proposals: the aggressive agent's candidates, from the tradeable genomes' signals."""

from __future__ import annotations

import pandas as pd

from trade_pipelines.agent.ids import stable_id
from trade_pipelines.agent.strategies import StrategyGenome, entry_signal, signal_strength

MAX_PROPOSALS_PER_DAY = 6


def propose(
    day_features: pd.DataFrame,
    genomes: list[StrategyGenome],
    scores: dict[str, float],
    held_symbols: set[str] | None = None,
) -> pd.DataFrame:
    """At most one proposal per symbol (its best genome), strongest first.

    ``day_features`` holds one day's feature rows (with ``breadth``); ``scores`` the
    genomes' latest gene-pool scores known before that day.
    """
    columns = ["as_of", "proposal_id", "symbol", "side", "strategy_id", "strength",
               "rationale"]
    candidates = []
    for genome in genomes:
        hits = day_features[entry_signal(genome, day_features)]
        if hits.empty:
            continue
        strength = signal_strength(genome, hits)
        for row, s in zip(hits.itertuples(), strength, strict=True):
            if held_symbols and row.symbol in held_symbols:
                continue
            rank = (scores.get(genome.strategy_id, 0.0) / 100) * 0.6 + float(s) * 0.4
            candidates.append({
                "as_of": row.as_of, "symbol": row.symbol, "side": "buy",
                "strategy_id": genome.strategy_id, "strength": round(float(s), 4),
                "rank": rank,
                "rationale": (f"{genome.name} ({genome.family}) fired on {row.symbol}: "
                              f"close {row.close:.2f}, 20d return {row.ret_20d:+.1%}, "
                              f"RSI {row.rsi_14:.0f}, volatility {row.vol_20:.0%}."),
            })
    if not candidates:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(candidates).sort_values(
        ["rank", "symbol", "strategy_id"], ascending=[False, True, True], kind="mergesort")
    frame = frame.drop_duplicates("symbol").head(MAX_PROPOSALS_PER_DAY)
    frame["proposal_id"] = [stable_id("P", r.as_of, r.symbol, r.strategy_id)
                            for r in frame.itertuples()]
    return frame[columns].reset_index(drop=True)
