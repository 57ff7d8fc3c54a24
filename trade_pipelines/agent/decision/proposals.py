"""Trade proposals: the aggressive agent's candidates, from the tradeable genomes' signals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trade_pipelines.agent.evolution.genomes import StrategyGenome, entry_signal, signal_strength
from trade_pipelines.agent.evolution.lifecycle import Probation
from trade_pipelines.agent.ids import stable_id

MAX_PROPOSALS_PER_DAY = 6
# Which genomes' candidates come first: those passing the gene pool's bar, then those on
# watch, then newborns on probation, whose score is mostly in-sample (their book before
# birth): it must not crowd out genomes whose record is out of sample. Within a tier, the
# rank decides.
STATUS_TIER = {"active": 0, "watch": 1, "reinstated": 1, "probation": 2}
COLUMNS = ["as_of", "proposal_id", "symbol", "side", "strategy_id", "strength", "rationale"]


Signals = dict[str, tuple[np.ndarray, np.ndarray]]


def propose(
    day_features: pd.DataFrame,
    genomes: list[StrategyGenome],
    scores: dict[str, float],
    signals: Signals | None = None,
    statuses: dict[str, str] | None = None,
) -> pd.DataFrame:
    """At most one proposal per symbol and day (its best genome), strongest first, and at
    most ``MAX_PROPOSALS_PER_DAY`` a day; genomes in a lower ``STATUS_TIER`` of their
    latest ``statuses`` first (all equal without them).

    ``day_features`` holds feature rows (with ``breadth``) of one day, or of several days
    that share the same ``genomes`` and ``scores``: the genomes' latest gene-pool scores
    known before those days. Each day is ranked on its own rows only. ``signals``: each
    genome's entry signal and strength for these rows, when already computed (both are
    row by row, so a window's can be sliced).
    """
    if day_features.empty:
        return pd.DataFrame(columns=COLUMNS)
    as_of = day_features["as_of"].to_numpy()
    symbols = day_features["symbol"].to_numpy()
    candidates = []
    for genome in genomes:
        if signals is not None and genome.strategy_id in signals:
            fired, strengths = signals[genome.strategy_id]
        else:
            fired = entry_signal(genome, day_features).to_numpy(dtype=bool)
            strengths = None
        rows = np.flatnonzero(fired)
        if rows.size == 0:
            continue
        strength = (strengths if strengths is not None else signal_strength(
            genome, day_features).to_numpy(dtype=float))[rows]
        rank = (scores.get(genome.strategy_id, 0.0) / 100) * 0.6 + strength * 0.4
        tier = STATUS_TIER.get((statuses or {}).get(genome.strategy_id, "active"), 0)
        candidates += [(as_of[r], tier, -k, symbols[r], genome.strategy_id, r, genome, s)
                       for r, k, s in zip(rows.tolist(), rank.tolist(), strength.tolist(),
                                          strict=True)]
    # Lowest tier, then highest rank first; ties by symbol, then genome.
    candidates.sort(key=lambda c: c[:5])
    chosen = []
    seen: set[tuple[object, str]] = set()
    per_day: dict[object, int] = {}
    for candidate in candidates:
        day, _, _, symbol = candidate[:4]
        if (day, symbol) in seen:
            continue
        seen.add((day, symbol))
        if per_day.get(day, 0) < MAX_PROPOSALS_PER_DAY:
            per_day[day] = per_day.get(day, 0) + 1
            chosen.append(candidate)
    if not chosen:
        return pd.DataFrame(columns=COLUMNS)
    facts = day_features[["close", "ret_20d", "rsi_14", "vol_20"]].to_numpy(dtype=float)
    rows = []
    for day, _, _, symbol, strategy_id, r, genome, strength in chosen:
        close, ret_20d, rsi_14, vol_20 = facts[r].tolist()
        rows.append({
            "as_of": day, "proposal_id": stable_id("P", day, symbol, strategy_id),
            "symbol": symbol, "side": "buy", "strategy_id": strategy_id,
            "strength": round(strength, 4),
            "rationale": (f"{genome.name} ({genome.family}) fired on {symbol}: "
                          f"close {close:.2f}, 20d return {ret_20d:+.1%}, "
                          f"RSI {rsi_14:.0f}, volatility {vol_20:.0%}."),
        })
    return pd.DataFrame(rows, columns=COLUMNS)


def propose_for_window(
    features: pd.DataFrame, evaluations: pd.DataFrame,
    genomes: dict[str, StrategyGenome], tradeable: tuple[str, ...],
    initial: list[str] | None = None, probation: Probation | None = None,
) -> pd.DataFrame:
    """Proposals for every day in ``features``, each day using the gene pool's latest
    evaluation strictly before it (before any evaluation, the ``initial`` genomes may
    trade: every genome by default).

    Days that see the same latest evaluation share genomes and scores, so they are
    proposed for together; each day is still ranked on its own rows. ``probation`` says
    which genomes are newborns not yet promoted (they rank last whatever their label).
    """
    if features.empty:
        return pd.DataFrame(columns=COLUMNS)
    evaluations = evaluations.assign(as_of=pd.to_datetime(evaluations["as_of"]))
    known = pd.Series(np.sort(evaluations["as_of"].unique()))
    features = features.reset_index(drop=True)
    span = known.searchsorted(pd.to_datetime(features["as_of"]), side="left")
    # Each genome's signal and strength over the whole window, computed once and sliced
    # for each span (a genome tradeable for years would otherwise be computed weekly).
    whole: Signals = {}

    def signals_of(chosen: list[StrategyGenome], rows: np.ndarray) -> Signals:
        for genome in chosen:
            if genome.strategy_id not in whole:
                whole[genome.strategy_id] = (
                    entry_signal(genome, features).to_numpy(dtype=bool),
                    signal_strength(genome, features).to_numpy(dtype=float))
        return {g.strategy_id: (whole[g.strategy_id][0][rows], whole[g.strategy_id][1][rows])
                for g in chosen}

    frames = []
    for position, span_features in features.groupby(span, sort=True):
        if position == 0:
            chosen = [g for k, g in genomes.items() if initial is None or k in initial]
            scores, statuses = {}, {}
        else:
            latest = evaluations[evaluations["as_of"] == known.iloc[position - 1]]
            usable = latest[latest["status"].isin(tradeable)]
            chosen = [genomes[s] for s in usable["strategy_id"] if s in genomes]
            scores = dict(zip(latest["strategy_id"], latest["score"], strict=True))
            statuses = dict(zip(latest["strategy_id"], latest["status"], strict=True))
            if probation is not None:  # a newborn not yet promoted, whatever its label
                first_day = pd.Timestamp(span_features["as_of"].iloc[0]).date()
                statuses.update({s: "probation" for s in statuses
                                 if probation.scale(s, first_day) < 1.0})
        frames.append(propose(span_features, chosen, scores,
                              signals_of(chosen, span_features.index.to_numpy()), statuses))
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
