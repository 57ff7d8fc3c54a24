"""The debate over a window of proposals: gathers each proposal's evidence (features,
regime, plan, the setup's record, recalled memories) and runs the debate."""

from __future__ import annotations

import pandas as pd

from trade_pipelines.agent.debate import Evidence, debate
from trade_pipelines.agent.memory import recall
from trade_pipelines.agent.setups import SetupBook
from trade_pipelines.agent.strategies import StrategyGenome

DEFAULT_EXPOSURE = 0.6


def decide_for_window(
    proposals: pd.DataFrame, features: pd.DataFrame, regimes: pd.DataFrame,
    exposure_by_day: dict, memories: pd.DataFrame, book: SetupBook,
    genomes: dict[str, StrategyGenome],
) -> pd.DataFrame:
    """One decision row per proposal. ``features`` must hold each proposal's (symbol, day)
    row; ``regimes`` one row per day; ``memories`` those the debate may recall (recall
    itself keeps only memories formed before the day)."""
    feature_rows = features.set_index(["symbol", "as_of"])[
        ["close", "ret_20d", "vol_20", "rsi_14", "sma_200"]].to_dict("index")
    regime_rows = regimes.set_index("as_of")[["regime", "defensive"]].to_dict("index")
    rows = []
    for p in proposals.itertuples():
        f = feature_rows[(p.symbol, p.as_of)]
        regime = regime_rows[p.as_of]
        genome = genomes[p.strategy_id]
        evidence = Evidence(
            as_of=p.as_of, proposal_id=p.proposal_id, symbol=p.symbol, side=p.side,
            strategy_id=p.strategy_id, strategy_name=genome.name, family=genome.family,
            strength=float(p.strength), close=float(f["close"]), ret_20d=float(f["ret_20d"]),
            vol_20=float(f["vol_20"]), rsi_14=float(f["rsi_14"]),
            above_sma_200=bool(f["close"] > f["sma_200"]) if pd.notna(f["sma_200"]) else False,
            regime=str(regime["regime"]), defensive=bool(regime["defensive"]),
            exposure_target=float(exposure_by_day.get(p.as_of, DEFAULT_EXPOSURE)),
            record=book.record(p.strategy_id, p.symbol, p.as_of),
            memories=recall(memories, p.as_of, p.symbol, p.strategy_id, str(regime["regime"])),
        )
        rows.append(debate(evidence).row())
    return pd.DataFrame(rows)
