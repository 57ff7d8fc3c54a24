"""The knowledge graph: edges from trades and event moves, principles learned and
withdrawn, queries as of a day that never see later evidence, and its stored log."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.evolution.genomes import SEEDED_GENOMES
from trade_pipelines.agent.execution.ledger import TRADE_COLUMNS
from trade_pipelines.agent.memory.knowledge_graph import (
    PRINCIPLE_MIN_EVIDENCE,
    KnowledgeGraph,
    event_moves,
    genome_indicators,
)
from trade_pipelines.agent.perception.sentiment import US_SECTORS

DAY = date(2021, 1, 4)


def day(n: int) -> date:
    return DAY + timedelta(days=n)


def trade(closed: date, symbol: str, strategy_id: str, return_pct: float,
          opened: date | None = None, account: str = "combined") -> dict:
    opened = opened or closed - timedelta(days=5)
    return {"as_of": closed, "trade_id": f"T{symbol}{strategy_id}{closed}{account}",
            "account": account, "symbol": symbol, "strategy_id": strategy_id,
            "opened_as_of": opened, "quantity": 10.0, "entry_price": 100.0,
            "exit_price": 100.0 * (1 + return_pct), "pnl": 1000.0 * return_pct,
            "return_pct": return_pct, "holding_days": (closed - opened).days,
            "exit_reason": "take_profit" if return_pct > 0 else "stop_loss",
            "decision_id": None}


def regimes(regime: str, first: date, days: int) -> list[dict]:
    return [{"as_of": first + timedelta(days=i), "regime": regime} for i in range(days)]


def graph_of(trades: list[dict], regime_rows: list[dict] | None = None) -> KnowledgeGraph:
    graph = KnowledgeGraph(US_SECTORS)
    graph.add_regimes(regime_rows or regimes("bull", day(-30), 400))
    graph.add_trades(trades, SEEDED_GENOMES)
    return graph


# -- edges from trades --------------------------------------------------------------------

def test_a_trade_joins_its_symbol_family_indicators_regime_and_sector() -> None:
    graph = graph_of([trade(day(10), "AAPL", "S01", 0.04), trade(day(12), "AAPL", "S01", -0.01)])
    edge = graph.edge("symbol:AAPL", "family:trend", day(13))
    assert (edge.relation, edge.evidence_count, edge.positive) == ("traded_well_with", 2, 1)
    assert edge.weight == pytest.approx(0.015)
    assert (edge.first_seen, edge.last_seen) == (day(10), day(12))
    assert genome_indicators(SEEDED_GENOMES["S01"]) == ["sma_20", "sma_50"]
    targets = {e.target: e.relation for e in graph.neighbours("AAPL", day(13))}
    assert targets == {"family:trend": "traded_well_with", "indicator:sma_20": "traded_well_with",
                       "indicator:sma_50": "traded_well_with",
                       "sector:Information Technology": "belongs_to"}
    assert graph.edge("regime:bull", "family:trend", day(13)).relation == "favours"
    sector = graph.edge("sector:Information Technology", "family:trend", day(13))
    assert sector.evidence_count == 2


def test_the_relation_turns_when_the_mean_does_and_the_past_keeps_the_old_one() -> None:
    graph = graph_of([trade(day(10), "KO", "S05", 0.02), trade(day(20), "KO", "S05", -0.05)])
    assert graph.edge("KO", "family:mean_reversion", day(15)).relation == "traded_well_with"
    later = graph.edge("KO", "family:mean_reversion", day(21))
    assert later.relation == "traded_badly_with" and later.weight == pytest.approx(-0.015)
    assert graph.edge("regime:bull", "family:mean_reversion", day(21)).relation == "disfavours"


def test_evidence_of_a_day_is_seen_only_after_it() -> None:
    graph = graph_of([trade(day(10), "AAPL", "S01", 0.04)])
    assert graph.neighbours("AAPL", day(10)) == []
    assert graph.edge("AAPL", "family:trend", day(10)) is None
    assert graph.edge("AAPL", "family:trend", day(11)).evidence_count == 1
    assert [n.node_id for n in graph.nodes(day(10))] == []


def test_the_same_trade_in_several_accounts_and_added_twice_counts_once() -> None:
    rows = [trade(day(10), "JPM", "S04", 0.03, account=a)
            for a in ("aggressive", "combined", "conservative")]
    graph = graph_of(rows)
    assert graph.add_trades(rows, SEEDED_GENOMES) == 0
    assert graph.edge("JPM", "family:breakout", day(11)).evidence_count == 1


def test_trades_of_unknown_strategies_and_evidence_out_of_order_are_refused() -> None:
    graph = graph_of([trade(day(10), "JPM", "S04", 0.03)])
    with pytest.raises(ValueError, match="unknown strategies: G123"):
        graph.add_trades([trade(day(11), "JPM", "G123", 0.03)], SEEDED_GENOMES)
    with pytest.raises(ValueError, match="date order"):
        graph.add_trades([trade(day(5), "JPM", "S04", 0.01)], SEEDED_GENOMES)


# -- principles -------------------------------------------------------------------------

def test_a_principle_is_learned_from_repeated_one_sided_evidence_and_withdrawn() -> None:
    bear = regimes("bear", day(-30), 400)
    losses = [trade(day(10 + i), "XOM", "S03", -0.03) for i in range(PRINCIPLE_MIN_EVIDENCE)]
    graph = graph_of(losses[:-1], bear)
    assert graph.neighbours("family:trend", day(40), relation="generalises") == []
    graph.add_trades(losses[-1:], SEEDED_GENOMES)
    learned = day(10 + PRINCIPLE_MIN_EVIDENCE - 1)
    principle = "principle:trend trades lose in bear regimes"
    held = graph.neighbours("regime:bear", learned + timedelta(days=1), relation="generalises")
    assert [(e.source, e.first_seen, e.evidence_count) for e in held] == [
        (principle, learned, PRINCIPLE_MIN_EVIDENCE)]
    assert held[0].about == ("regime:bear", "family:trend")
    assert graph.neighbours("regime:bear", learned, relation="generalises") == []
    # A win leaves 5 losses of 6 (it holds); a second, 5 of 7, under the agreement needed:
    # withdrawn on that day.
    graph.add_trades([trade(day(30 + i), "XOM", "S03", 0.01) for i in range(3)],
                     SEEDED_GENOMES)
    after = day(40)
    assert graph.neighbours("regime:bear", after, relation="generalises") == []
    withdrawn = graph.neighbours("regime:bear", after, relation="withdrawn")
    assert [(e.source, e.last_seen) for e in withdrawn] == [(principle, day(31))]
    assert principle not in {e.source for e in graph.neighbours("regime:bear", after)}


# -- events -----------------------------------------------------------------------------

def closes_frame(symbols: dict[str, list[float]], first: date = DAY) -> pd.DataFrame:
    return pd.DataFrame([{"symbol": s, "as_of": first + timedelta(days=i), "close": c}
                         for s, series in symbols.items() for i, c in enumerate(series)])


def event(event_id: str, as_of: date, kind: str, symbol: str | None) -> dict:
    return {"event_id": event_id, "as_of": as_of, "kind": kind, "symbol": symbol}


def test_an_event_moves_its_symbol_over_the_sessions_around_it() -> None:
    closes = closes_frame({"AAPL": [100, 102, 96, 99], "KO": [50, 50, 55, 55]})
    events = pd.DataFrame([event("E1", day(1), "earnings", "AAPL"),
                           event("E2", day(2), "central_bank", None)])
    moves = event_moves(events, closes)
    got = {(m.event_id, m.symbol): (round(m.move, 6), m.known_on) for m in moves.itertuples()}
    assert got == {("E1", "AAPL"): (round(96 / 100 - 1, 6), day(2)),
                   ("E2", "AAPL"): (round(99 / 102 - 1, 6), day(3)),
                   ("E2", "KO"): (round(55 / 50 - 1, 6), day(3))}


def test_a_move_joins_the_graph_when_its_later_close_arrives() -> None:
    graph = KnowledgeGraph(US_SECTORS)
    events = pd.DataFrame([event("E1", day(1), "earnings", "AAPL")])
    full = closes_frame({"AAPL": [100, 102, 96, 99]})
    assert graph.add_events(events, full[full["as_of"] <= day(1)]) == 0
    assert graph.add_events(events, full[full["as_of"] <= day(2)]) == 1
    assert graph.add_events(events, full) == 0
    moved = graph.edge("event:earnings", "AAPL", day(3))
    assert (moved.relation, moved.evidence_count, moved.positive) == ("moved", 1, 0)
    assert moved.weight == pytest.approx(-0.04) and moved.first_seen == day(2)
    assert graph.edge("event:earnings", "AAPL", day(2)) is None


# -- queries ----------------------------------------------------------------------------

def test_facts_are_short_sentences_with_figures_principles_first() -> None:
    rows = [trade(day(10), "AAPL", "S01", 0.04), trade(day(12), "AAPL", "S02", -0.01)]
    rows += [trade(day(20 + i), "MSFT", "S03", -0.02) for i in range(PRINCIPLE_MIN_EVIDENCE)]
    graph = graph_of(rows, regimes("bear", day(-30), 400))
    graph.add_events(pd.DataFrame([event("E1", day(1), "earnings", "AAPL")]),
                     closes_frame({"AAPL": [100, 102, 96, 99]}))
    facts = graph.facts("AAPL", "trend", "bear", day(40), n=5)
    assert facts == [
        "Principle: trend trades in Information Technology lose (Information Technology: "
        "trend trades won 1 of 7 (-1.0% mean), evidence 7 trades to 2021-01-28)",
        "Principle: trend trades lose in bear regimes (In bear regimes trend trades won 1 of "
        "7 (-1.0% mean), evidence 7 trades to 2021-01-28)",
        "AAPL: trend trades won 1 of 2 (+1.5% mean), evidence 2 trades to 2021-01-16",
        "AAPL around earnings events: rose 0 of 1 (-4.0% mean move over two sessions), "
        "evidence 1 event to 2021-01-06",
    ]
    assert graph.facts("AAPL", "trend", "bear", day(40)) == facts[:3]
    # Before the losses: no principle yet, the single trade and the event.
    assert graph.facts("AAPL", "trend", "bear", day(11)) == [
        "AAPL around earnings events: rose 0 of 1 (-4.0% mean move over two sessions), "
        "evidence 1 event to 2021-01-06",
        "AAPL: trend trades won 1 of 1 (+4.0% mean), evidence 1 trade to 2021-01-14",
        "In bear regimes trend trades won 1 of 1 (+4.0% mean), evidence 1 trade to "
        "2021-01-14"]
    assert graph.facts("ZZZ", "trend", "bull", day(40)) == []


def test_a_path_runs_through_shared_nodes_within_its_hops() -> None:
    graph = graph_of([trade(day(10), "AAPL", "S01", 0.04), trade(day(11), "KO", "S02", 0.02)])
    steps = graph.path("AAPL", "KO", day(20))
    assert [(e.source, e.target) for e in steps] == [("symbol:AAPL", "family:trend"),
                                                      ("symbol:KO", "family:trend")]
    assert graph.path("AAPL", "KO", day(11)) == []  # KO's trade is not known yet
    assert graph.path("AAPL", "KO", day(20), max_hops=1) == []
    # KO's trade joined its sector to the family too: two edges, not three
    sector = graph.path("AAPL", "sector:Consumer Staples", day(20))
    assert [e.describe() for e in sector] == [
        "symbol:AAPL -[traded_well_with +4.00%, evidence 1, 2021-01-14..2021-01-14]-> "
        "family:trend",
        "sector:Consumer Staples -[traded_well_with +2.00%, evidence 1, "
        "2021-01-15..2021-01-15]-> family:trend"]
    assert len(graph.path("AAPL", "indicator:sma_200", day(20))) == 3  # via KO's S02


# -- the look-ahead rule ----------------------------------------------------------------

SYMBOLS = ("AAPL", "KO", "XOM", "JPM")
CUT = date(2021, 7, 1)


def history(seed: int, perturb_from: date | None = None
            ) -> tuple[list[dict], list[dict], pd.DataFrame, pd.DataFrame]:
    """A year of trades, regimes, events and closes; from ``perturb_from`` on, different
    returns, more trades and other closes."""
    rng = np.random.default_rng(seed)
    sessions = [d.date() for d in pd.bdate_range("2021-01-01", "2021-12-31")]
    regime_rows = [{"as_of": d, "regime": ("bull", "bear", "sideways")[(i // 40) % 3]}
                   for i, d in enumerate(sessions)]
    trades, ids = [], sorted(SEEDED_GENOMES)
    for i, closed in enumerate(sessions[10::3]):
        trades.append(trade(closed, SYMBOLS[i % 4], ids[i % len(ids)],
                            float(rng.normal(0.002, 0.03)), opened=sessions[i * 3]))
    closes = closes_frame({s: list(100 * np.exp(np.cumsum(rng.normal(0, 0.02, 400))))
                           for s in SYMBOLS}, date(2021, 1, 1))
    closes = closes[closes["as_of"].isin(set(sessions))]
    events = pd.DataFrame(
        [event(f"E{i}", d, "earnings", SYMBOLS[i % 4]) for i, d in enumerate(sessions[5::20])]
        + [event(f"F{i}", d, "central_bank", None) for i, d in enumerate(sessions[8::30])])
    if perturb_from is not None:
        noise = np.random.default_rng(seed + 1)
        for t in trades:
            if t["as_of"] >= perturb_from:
                t["return_pct"] = float(noise.normal(-0.05, 0.05))
        trades += [trade(d, "AAPL", "S03", -0.09) for d in sessions if d >= perturb_from][:30]
        later = closes["as_of"] >= perturb_from
        closes.loc[later, "close"] *= noise.uniform(0.5, 1.5, int(later.sum()))
    return trades, regime_rows, events, closes


def grown(trades: list[dict], regime_rows: list[dict], events: pd.DataFrame,
          closes: pd.DataFrame) -> KnowledgeGraph:
    graph = KnowledgeGraph(US_SECTORS)
    graph.add_regimes(regime_rows)
    graph.add_trades(trades, SEEDED_GENOMES)
    graph.add_events(events, closes)
    return graph


def answers(graph: KnowledgeGraph, as_of: date) -> dict[str, object]:
    return {
        "edges": graph.edges(as_of, include_withdrawn=True), "nodes": graph.nodes(as_of),
        "neighbours": {s: graph.neighbours(s, as_of, n=50) for s in SYMBOLS},
        "regime": graph.neighbours("regime:bear", as_of, n=50),
        "path": graph.path("AAPL", "regime:bear", as_of),
        "facts": {s: graph.facts(s, f, r, as_of, n=10) for s in SYMBOLS
                  for f in ("trend", "mean_reversion") for r in ("bull", "bear")},
        "rows": {k: v.to_dict("records") for k, v in
                 graph.frames(end=as_of - timedelta(days=1)).items()},
    }


def test_changing_evidence_from_a_day_on_changes_no_answer_as_of_that_day() -> None:
    plain = grown(*history(3))
    perturbed = grown(*history(3, perturb_from=CUT))
    assert answers(plain, CUT) == answers(perturbed, CUT)
    assert answers(plain, CUT)["edges"]  # the comparison compares something
    # ... while later answers do change (the perturbation reached the graph)
    later = CUT + timedelta(days=60)
    assert answers(plain, later)["edges"] != answers(perturbed, later)["edges"]


def test_growing_day_by_day_gives_the_graph_built_at_once() -> None:
    trades, regime_rows, events, closes = history(5)
    at_once = grown(trades, regime_rows, events, closes)
    daily = KnowledgeGraph(US_SECTORS)
    daily.add_regimes(regime_rows)
    for session in sorted(set(closes["as_of"])):
        daily.add_trades([t for t in trades if t["as_of"] == session], SEEDED_GENOMES)
        # as a run would: the last fortnight's events and closes
        recent = session - timedelta(days=14)
        daily.add_events(events[events["as_of"].between(recent, session)],
                         closes[closes["as_of"].between(recent, session)])
    for name, frame in at_once.frames().items():
        pd.testing.assert_frame_equal(daily.frames()[name], frame, obj=name)


# -- persistence ------------------------------------------------------------------------

def test_the_stored_log_gives_back_the_same_graph_and_it_grows_on() -> None:
    trades, regime_rows, events, closes = history(7)
    whole = grown(trades, regime_rows, events, closes)
    early = grown([t for t in trades if t["as_of"] < CUT], regime_rows,
                  events, closes[closes["as_of"] < CUT])
    frames = early.frames()
    assert (frames["knowledge_edges"]["as_of"] == frames["knowledge_edges"]["last_seen"]).all()
    loaded = KnowledgeGraph.from_frames(frames["knowledge_nodes"], frames["knowledge_edges"],
                                        US_SECTORS)
    assert answers(loaded, CUT) == answers(early, CUT)
    loaded.add_regimes(regime_rows)
    loaded.add_trades(trades, SEEDED_GENOMES)  # those before the cut are in already
    loaded.add_events(events, closes)
    for name, frame in whole.frames().items():
        pd.testing.assert_frame_equal(loaded.frames()[name], frame, obj=name)


def test_frames_of_a_window_hold_only_its_days() -> None:
    graph = grown(*history(9))
    window = graph.frames(date(2021, 3, 1), date(2021, 3, 31))
    for frame in window.values():
        assert not frame.empty
        assert frame["as_of"].between(date(2021, 3, 1), date(2021, 3, 31)).all()
    nodes = window["knowledge_nodes"]
    assert (nodes["first_seen"] <= nodes["as_of"]).all()
    assert list(window["knowledge_edges"].columns) == [
        "source", "relation", "target", "weight", "evidence_count", "first_seen", "last_seen",
        "as_of", "evidence"]


def test_the_test_trades_carry_every_column_of_the_trades_table() -> None:
    assert list(trade(DAY, "AAPL", "S01", 0.01)) == TRADE_COLUMNS
