"""The agent's knowledge graph: symbols, sectors, strategy families, indicators, market
regimes and kinds of market event, joined by edges that say what the agent has seen
("NVDA traded well with trend", "earnings moved AAPL", "bear regimes disfavour trend"),
and the principles it learned where the evidence kept pointing the same way.

Every edge carries a relation, a weight (the mean return of its trades, or the mean move
of its events), an evidence count and the first and last day of its evidence. The graph
grows as trades close and as the moves around events become known; each edge keeps its
state after every day of evidence (an append-only log, what the warehouse stores), so a
query as of D reads the last state dated strictly before D and nothing later.

A node is ``kind:name`` (``symbol:NVDA``, ``family:trend``, ``regime:bear``,
``event:earnings``, ``indicator:sma_20``, ``sector:Energy``, ``principle:...``); two
nodes are joined by at most one edge, whose relation may change as evidence comes in
(``traded_well_with`` becomes ``traded_badly_with`` when the mean turns negative).
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

import networkx as nx
import numpy as np
import pandas as pd

from trade_pipelines.agent.days import day_of
from trade_pipelines.agent.evolution.genomes import StrategyGenome, missing_indicators
from trade_pipelines.agent.memory.trade_memory import distinct_trades, trade_key

NODE_KINDS = ("symbol", "sector", "family", "indicator", "regime", "event", "principle")
NODE_COLUMNS = ["node_id", "kind", "name", "first_seen", "last_seen", "as_of"]
EDGE_COLUMNS = ["source", "relation", "target", "weight", "evidence_count", "first_seen",
                "last_seen", "as_of", "evidence"]
# A principle needs this many observations, this share of them on one side of zero, and a
# mean on that side too.
PRINCIPLE_MIN_EVIDENCE = 5
PRINCIPLE_AGREEMENT = 0.75
GENERALISES, WITHDRAWN, BELONGS_TO = "generalises", "withdrawn", "belongs_to"
MOVED = "moved"


def node_id(kind: str, name: str) -> str:
    if kind not in NODE_KINDS:
        raise ValueError(f"unknown node kind {kind!r}; one of {', '.join(NODE_KINDS)}")
    return f"{kind}:{name}"


def split_node(node: str) -> tuple[str, str]:
    """(kind, name) of a node id."""
    kind, _, name = node.partition(":")
    return kind, name


def genome_indicators(genome: StrategyGenome) -> list[str]:
    """The indicator columns the genome's entry rule reads (none is in an empty frame)."""
    return sorted(missing_indicators(pd.DataFrame(), [genome]))


@dataclass(frozen=True)
class _Kind:
    """An edge between two kinds of node: its relation when the mean is above zero and
    when it is not, the word for its evidence, and the principle its evidence can teach."""

    up: str
    down: str
    unit: str
    principle: Callable[[str, str, bool], str] | None = None


_TRADED = _Kind("traded_well_with", "traded_badly_with", "trades")
_EDGE_KINDS: dict[tuple[str, str], _Kind] = {
    ("symbol", "family"): _Kind(
        "traded_well_with", "traded_badly_with", "trades",
        lambda symbol, family, up: f"{family} trades on {symbol} {'win' if up else 'lose'}"),
    ("symbol", "indicator"): _TRADED,
    ("sector", "family"): _Kind(
        "traded_well_with", "traded_badly_with", "trades",
        lambda sector, family, up: f"{family} trades in {sector} {'win' if up else 'lose'}"),
    ("regime", "family"): _Kind(
        "favours", "disfavours", "trades",
        lambda regime, family, up:
            f"{family} trades {'win' if up else 'lose'} in {regime} regimes"),
    ("event", "symbol"): _Kind(
        MOVED, MOVED, "events",
        lambda event, symbol, up: f"{symbol} {'rises' if up else 'falls'} around {event} "
                                  "events"),
    ("symbol", "sector"): _Kind(BELONGS_TO, BELONGS_TO, "classification"),
}


@dataclass(frozen=True)
class _State:
    """An edge after the evidence of ``day`` (cumulative)."""

    day: date
    relation: str
    count: int
    positive: int
    total: float
    first_seen: date
    about: tuple[str, str] | None = None


@dataclass(frozen=True)
class Edge:
    """An edge as of a day: ``weight`` is the mean of its ``evidence_count`` observations,
    ``positive`` how many were above zero; a principle's edges say which edge it
    generalises (``about``)."""

    source: str
    relation: str
    target: str
    weight: float
    evidence_count: int
    positive: int
    first_seen: date
    last_seen: date
    about: tuple[str, str] | None = None

    def describe(self) -> str:
        """One line: source -[relation mean, evidence n, first..last]-> target."""
        mean = "" if self.relation == BELONGS_TO else f" {self.weight:+.2%}"
        return (f"{self.source} -[{self.relation}{mean}, evidence {self.evidence_count}, "
                f"{self.first_seen}..{self.last_seen}]-> {self.target}")


@dataclass(frozen=True)
class Node:
    node_id: str
    kind: str
    name: str
    first_seen: date
    last_seen: date


def _records(rows: pd.DataFrame | Iterable[Mapping[str, object]]) -> list[dict]:
    if isinstance(rows, pd.DataFrame):
        return rows.to_dict("records")
    return [dict(r) for r in rows]


def _direction(state: _State) -> bool | None:
    """True or False when the evidence is long and one-sided enough to be a principle."""
    if state.count < PRINCIPLE_MIN_EVIDENCE:
        return None
    mean = state.total / state.count
    if state.positive >= PRINCIPLE_AGREEMENT * state.count and mean > 0:
        return True
    if state.count - state.positive >= PRINCIPLE_AGREEMENT * state.count and mean < 0:
        return False
    return None


def event_moves(events: pd.DataFrame, closes: pd.DataFrame) -> pd.DataFrame:
    """Each event's move per symbol: the close of the session after the event's over the
    close of the session before it (a report before the open or after the close is
    inside either way), known at that later close (``known_on``). An event without a
    symbol (a central-bank decision) moves every symbol of ``closes``; a symbol without a
    bar on the event's session, or without the bars around it yet, has no move.

    ``events``: market_events rows (event_id, as_of, kind, symbol); ``closes``: symbol,
    as_of, close."""
    columns = ["event_id", "kind", "symbol", "as_of", "move", "known_on"]
    if events.empty or closes.empty:
        return pd.DataFrame(columns=columns)
    series = {}
    for symbol, group in closes.sort_values("as_of", kind="mergesort").groupby("symbol"):
        series[symbol] = (pd.to_datetime(group["as_of"]).to_numpy(dtype="datetime64[D]"),
                          group["close"].to_numpy(dtype=float))
    rows = []
    for event in events.to_dict("records"):
        day = np.datetime64(day_of(event["as_of"]), "D")
        symbol = event.get("symbol")
        symbols = sorted(series) if symbol is None or pd.isna(symbol) else [symbol]
        for name in symbols:
            if name not in series:
                continue
            days, close = series[name]
            at = int(np.searchsorted(days, day))
            if at == 0 or at + 1 >= len(days) or days[at] != day:
                continue
            rows.append({"event_id": event["event_id"], "kind": event["kind"], "symbol": name,
                         "as_of": day_of(event["as_of"]),
                         "move": float(close[at + 1] / close[at - 1] - 1),
                         "known_on": pd.Timestamp(days[at + 1]).date()})
    return pd.DataFrame(rows, columns=columns)


class KnowledgeGraph:
    """The graph, in memory; it grows like the memory book as a run goes on. Evidence of
    one edge must come in date order (pass each day's closed trades together)."""

    def __init__(self, sectors: Mapping[str, str] | None = None) -> None:
        self._sectors = dict(sectors or {})
        self._edges: dict[tuple[str, str], list[_State]] = {}
        self._adjacent: dict[str, set[tuple[str, str]]] = {}
        self._regimes: dict[date, str] = {}
        # underlying edge -> the principle it teaches now (None: none holds)
        self._principle_of: dict[tuple[str, str], str | None] = {}
        self._seen_trades: set[tuple] = set()
        self._seen_moves: set[tuple[str, str]] = set()
        # A graph read back from its stored log holds every piece of evidence dated on or
        # before its last day: such evidence offered again is already in.
        self._through: date | None = None

    # -- growing ----------------------------------------------------------------------
    def add_regimes(self, rows: pd.DataFrame | Iterable[Mapping[str, object]]) -> None:
        """Each day's market regime (``regimes`` rows): a trade learns the regime of the
        day it opened."""
        for row in _records(rows):
            self._regimes[day_of(row["as_of"])] = str(row["regime"])

    def add_trades(self, rows: pd.DataFrame | Iterable[Mapping[str, object]],
                   genomes: Mapping[str, StrategyGenome]) -> int:
        """Closed trades (``trades`` rows; a row may carry its ``regime``), each dated on
        its closing day; the same trade in several accounts counts once, and a trade
        added before is ignored. Returns how many were new."""
        records = [{**t, "as_of": day_of(t["as_of"]), "opened_as_of": day_of(t["opened_as_of"])}
                   for t in _records(rows)]
        fresh = [t for t in distinct_trades(records) if trade_key(t) not in self._seen_trades
                 and not self._holds(t["as_of"])]
        unknown = sorted({str(t["strategy_id"]) for t in fresh} - set(genomes))
        if unknown:
            raise ValueError(f"trades of unknown strategies: {', '.join(unknown)}")
        fresh.sort(key=lambda t: (t["as_of"], t["symbol"], t["strategy_id"],
                                  t["opened_as_of"]))
        for trade in fresh:
            self._seen_trades.add(trade_key(trade))
            day, value = trade["as_of"], float(trade["return_pct"])
            genome = genomes[str(trade["strategy_id"])]
            symbol = node_id("symbol", str(trade["symbol"]))
            family = node_id("family", genome.family)
            self._observe(symbol, family, day, value)
            for column in genome_indicators(genome):
                self._observe(symbol, node_id("indicator", column), day, value)
            regime = trade.get("regime")
            if regime is None or pd.isna(regime):
                regime = self._regimes.get(trade["opened_as_of"])
            if regime is not None:
                self._observe(node_id("regime", str(regime)), family, day, value)
            sector = self._sectors.get(str(trade["symbol"]))
            if sector:
                self._observe(node_id("sector", sector), family, day, value)
            self._classify(str(trade["symbol"]), day)
        return len(fresh)

    def add_events(self, events: pd.DataFrame, closes: pd.DataFrame) -> int:
        """Market events (``market_events`` rows) with the closes around them: each
        (event, symbol) move once it is known (see ``event_moves``), dated on the close
        that made it known. An event whose later close is not in ``closes`` yet is left
        for a later call. Returns how many moves were new."""
        moves = event_moves(events, closes)
        fresh = [m for m in moves.to_dict("records")
                 if (m["event_id"], m["symbol"]) not in self._seen_moves
                 and not self._holds(m["known_on"])]
        fresh.sort(key=lambda m: (m["known_on"], m["kind"], m["symbol"], m["event_id"]))
        for move in fresh:
            self._seen_moves.add((move["event_id"], move["symbol"]))
            self._observe(node_id("event", str(move["kind"])),
                          node_id("symbol", str(move["symbol"])), move["known_on"],
                          float(move["move"]))
            self._classify(str(move["symbol"]), move["known_on"])
        return len(fresh)

    def _holds(self, day: date) -> bool:
        return self._through is not None and day <= self._through

    def _put(self, key: tuple[str, str], state: _State) -> None:
        states = self._edges.setdefault(key, [])
        if states and state.day < states[-1].day:
            raise ValueError(f"evidence of {key[0]} -> {key[1]} dated {state.day} came after "
                             f"evidence dated {states[-1].day}: add evidence in date order")
        if states and states[-1].day == state.day:
            states[-1] = state
        else:
            states.append(state)
        for node in key:
            self._adjacent.setdefault(node, set()).add(key)

    def _observe(self, source: str, target: str, day: date, value: float) -> None:
        key = (source, target)
        kind = _EDGE_KINDS[(split_node(source)[0], split_node(target)[0])]
        states = self._edges.get(key)
        last = states[-1] if states else None
        count = (last.count if last else 0) + 1
        total = (last.total if last else 0.0) + value
        positive = (last.positive if last else 0) + (value > 0)
        state = _State(day, kind.up if total > 0 else kind.down, count, positive, total,
                       last.first_seen if last else day)
        self._put(key, state)
        if kind.principle is not None:
            self._learn(key, kind, state)

    def _classify(self, symbol: str, day: date) -> None:
        """A symbol belongs to its sector from its first evidence on (re-dated if earlier
        evidence comes later, so the order of the calls does not matter)."""
        sector = self._sectors.get(symbol)
        if not sector:
            return
        key = (node_id("symbol", symbol), node_id("sector", sector))
        states = self._edges.get(key)
        if states and states[0].day <= day:
            return
        self._edges[key] = [_State(day, BELONGS_TO, 1, 1, 1.0, day)]
        for node in key:
            self._adjacent.setdefault(node, set()).add(key)

    def _learn(self, key: tuple[str, str], kind: _Kind, state: _State) -> None:
        """Hold, start or withdraw the principle this edge's evidence teaches."""
        up = _direction(state)
        names = [split_node(node)[1] for node in key]
        principle = None if up is None or kind.principle is None else \
            node_id("principle", kind.principle(names[0], names[1], up))
        current = self._principle_of.get(key)
        if current is not None and current != principle:
            for node in key:
                self._put((current, node), self._principle_state(
                    (current, node), state, WITHDRAWN, key))
        if principle is not None:
            for node in key:
                self._put((principle, node), self._principle_state(
                    (principle, node), state, GENERALISES, key))
        self._principle_of[key] = principle

    def _principle_state(self, edge: tuple[str, str], evidence: _State, relation: str,
                         about: tuple[str, str]) -> _State:
        states = self._edges.get(edge)
        first = states[0].first_seen if states else evidence.day
        return _State(evidence.day, relation, evidence.count, evidence.positive,
                      evidence.total, first, about)

    # -- reading ----------------------------------------------------------------------
    def _before(self, key: tuple[str, str], as_of: date) -> _State | None:
        states = self._edges.get(key)
        if not states:
            return None
        at = bisect_left(states, as_of, key=lambda s: s.day)
        return states[at - 1] if at else None

    def edge(self, source: str, target: str, as_of: date) -> Edge | None:
        """The edge from ``source`` to ``target`` with the evidence dated before
        ``as_of``."""
        state = self._before((self.resolve(source), self.resolve(target)), as_of)
        return None if state is None else \
            _edge(self.resolve(source), self.resolve(target), state)

    def resolve(self, node: str) -> str:
        """A node id from an id or a bare name (a symbol first, then the other kinds)."""
        kind, _ = split_node(node)
        if kind in NODE_KINDS and ":" in node:
            return node
        for kind in NODE_KINDS:
            candidate = node_id(kind, node)
            if candidate in self._adjacent:
                return candidate
        lowered = node.lower()
        for kind in NODE_KINDS:
            for candidate in sorted(self._adjacent):
                if candidate.lower() == f"{kind}:{lowered}":
                    return candidate
        return node_id("symbol", node)

    def edges(self, as_of: date, include_withdrawn: bool = False) -> list[Edge]:
        """Every edge as of the day, the best evidenced first."""
        found = []
        for key in self._edges:
            state = self._before(key, as_of)
            if state is not None and (include_withdrawn or state.relation != WITHDRAWN):
                found.append(_edge(*key, state))
        return sorted(found, key=_strength)

    def nodes(self, as_of: date) -> list[Node]:
        """Every node with evidence before the day, by id."""
        days: dict[str, list[date]] = {}
        for key, states in self._edges.items():
            at = bisect_left(states, as_of, key=lambda s: s.day)
            if at:
                for node in key:
                    days.setdefault(node, []).extend((states[0].day, states[at - 1].day))
        return [Node(node, *split_node(node), min(seen), max(seen))
                for node, seen in sorted(days.items())]

    def neighbours(self, node: str, as_of: date, relation: str | None = None,
                   n: int = 10) -> list[Edge]:
        """The ``n`` best evidenced edges touching ``node`` as of the day (either
        direction), optionally of one relation; withdrawn principles only when asked for
        (``relation="withdrawn"``)."""
        found = []
        for key in self._adjacent.get(self.resolve(node), ()):
            state = self._before(key, as_of)
            if state is None or (relation is None and state.relation == WITHDRAWN) or \
                    (relation is not None and state.relation != relation):
                continue
            found.append(_edge(*key, state))
        return sorted(found, key=_strength)[:n]

    def path(self, a: str, b: str, as_of: date, max_hops: int = 3) -> list[Edge]:
        """The shortest chain of edges (either direction) from ``a`` to ``b`` as of the
        day, at most ``max_hops`` long; among equally short ones, the one whose weakest
        edge has the most evidence. Empty when there is none."""
        source, target = self.resolve(a), self.resolve(b)
        graph = nx.Graph()
        for edge in self.edges(as_of):
            graph.add_edge(edge.source, edge.target, edge=edge)
        if source == target or source not in graph or target not in graph or \
                not nx.has_path(graph, source, target):
            return []
        if nx.shortest_path_length(graph, source, target) > max_hops:
            return []

        def steps(nodes: list[str]) -> list[Edge]:
            return [graph.edges[u, v]["edge"] for u, v in zip(nodes, nodes[1:], strict=False)]

        best = min(nx.all_shortest_paths(graph, source, target),
                   key=lambda nodes: (-min(e.evidence_count for e in steps(nodes)), nodes))
        return steps(best)

    def facts(self, symbol: str, family: str, regime: str, as_of: date,
              n: int = 3) -> list[str]:
        """Up to ``n`` short sentences with figures and evidence counts about this
        symbol, strategy family and regime, from evidence before the day: the principles
        that hold first, then the best evidenced edges."""
        nodes = {"symbol": node_id("symbol", symbol), "family": node_id("family", family),
                 "regime": node_id("regime", regime)}
        keys = [(nodes["symbol"], nodes["family"]), (nodes["regime"], nodes["family"])]
        sector = self._sectors.get(symbol)
        if sector:
            keys.append((node_id("sector", sector), nodes["family"]))
        keys += sorted(k for k in self._adjacent.get(nodes["symbol"], ())
                       if split_node(k[0])[0] == "event" and k[1] == nodes["symbol"])
        ranked: list[tuple[int, int, str]] = []
        for key in keys:
            state = self._before(key, as_of)
            if state is None:
                continue
            edge = _edge(*key, state)
            principle = self._principle_before(key, as_of)
            if principle is None:
                ranked.append((1, -edge.evidence_count, _sentence(edge)))
            else:
                ranked.append((0, -edge.evidence_count,
                               f"Principle: {split_node(principle)[1]} ({_sentence(edge)})"))
        return [text for *_, text in sorted(ranked)[:n]]

    def _principle_before(self, key: tuple[str, str], as_of: date) -> str | None:
        """The principle that held about this edge as of the day."""
        for edge_key in self._adjacent.get(key[0], ()):
            if split_node(edge_key[0])[0] != "principle":
                continue
            state = self._before(edge_key, as_of)
            if state is not None and state.about == key and state.relation == GENERALISES:
                return edge_key[0]
        return None

    # -- persistence ------------------------------------------------------------------
    def frames(self, start: date | None = None,
               end: date | None = None) -> dict[str, pd.DataFrame]:
        """The ``knowledge_nodes`` and ``knowledge_edges`` rows dated in [start, end]:
        each edge's state after each day of its evidence, and each node on each day one
        of its edges changed."""
        def inside(day: date) -> bool:
            return (start is None or day >= start) and (end is None or day <= end)

        edge_rows, node_days = [], {}
        for (source, target), states in sorted(self._edges.items()):
            for state in states:
                for node in (source, target):
                    node_days.setdefault(node, set()).add(state.day)
                if not inside(state.day):
                    continue
                evidence = {"positive": state.positive, "total": state.total}
                if state.about is not None:
                    evidence["about"] = list(state.about)
                edge_rows.append({
                    "source": source, "relation": state.relation, "target": target,
                    "weight": state.total / state.count, "evidence_count": state.count,
                    "first_seen": state.first_seen, "last_seen": state.day,
                    "as_of": state.day, "evidence": json.dumps(evidence, sort_keys=True)})
        node_rows = []
        for node, days in sorted(node_days.items()):
            kind, name = split_node(node)
            first = min(days)
            node_rows += [{"node_id": node, "kind": kind, "name": name, "first_seen": first,
                           "last_seen": day, "as_of": day} for day in sorted(days)
                          if inside(day)]
        return {"knowledge_nodes": pd.DataFrame(node_rows, columns=NODE_COLUMNS),
                "knowledge_edges": pd.DataFrame(edge_rows, columns=EDGE_COLUMNS)}

    @classmethod
    def from_frames(cls, nodes: pd.DataFrame, edges: pd.DataFrame,
                    sectors: Mapping[str, str] | None = None) -> KnowledgeGraph:
        """The graph stored as ``frames`` wrote it, from its first day to a day after
        which the rows were cut (all of them, or those dated before a day): for queries,
        or to grow on with evidence dated after its last day (earlier evidence offered
        again is ignored: it is in)."""
        graph = cls(sectors)
        unknown = {split_node(n)[0] for n in nodes.get("node_id", [])} - set(NODE_KINDS)
        if unknown:
            raise ValueError(f"unknown node kinds in knowledge_nodes: {sorted(unknown)}")
        if edges.empty:
            return graph
        ordered = edges.assign(_day=[day_of(d) for d in edges["as_of"]]).sort_values(
            ["source", "target", "_day"], kind="mergesort")
        for row in ordered.to_dict("records"):
            evidence = json.loads(row["evidence"])
            about = tuple(evidence["about"]) if "about" in evidence else None
            state = _State(row["_day"], str(row["relation"]), int(row["evidence_count"]),
                           int(evidence["positive"]), float(evidence["total"]),
                           day_of(row["first_seen"]), about)
            graph._put((row["source"], row["target"]), state)
        for (source, _), states in graph._edges.items():
            about = states[-1].about
            if about is not None and states[-1].relation == GENERALISES:
                graph._principle_of[about] = source
        graph._through = max(states[-1].day for states in graph._edges.values())
        return graph


def _edge(source: str, target: str, state: _State) -> Edge:
    return Edge(source, state.relation, target, state.total / state.count, state.count,
                state.positive, state.first_seen, state.day, state.about)


def _strength(edge: Edge) -> tuple:
    return (-edge.evidence_count, -abs(edge.weight), edge.source, edge.target)


def _sentence(edge: Edge) -> str:
    """An edge in words, with its figures: what the debate cites."""
    source_kind, source = split_node(edge.source)
    target_kind, target = split_node(edge.target)
    kind = _EDGE_KINDS[(source_kind, target_kind)]
    unit = kind.unit if edge.evidence_count != 1 else kind.unit[:-1]
    evidence = f"evidence {edge.evidence_count} {unit} to {edge.last_seen}"
    mean = f"{edge.weight:+.1%} mean"
    if (source_kind, target_kind) == ("event", "symbol"):
        return (f"{target} around {source} events: rose {edge.positive} of "
                f"{edge.evidence_count} ({mean} move over two sessions), {evidence}")
    won = f"won {edge.positive} of {edge.evidence_count} ({mean})"
    if source_kind == "regime":
        return f"In {source} regimes {target} trades {won}, {evidence}"
    return f"{source}: {target} trades {won}, {evidence}"


def strongest_edges(graph: KnowledgeGraph, as_of: date, n: int = 10) -> pd.DataFrame:
    """The best evidenced edges as of the day, as a table (for previews)."""
    rows = [{"source": e.source, "relation": e.relation, "target": e.target,
             "weight": round(e.weight, 4), "evidence": e.evidence_count,
             "first_seen": e.first_seen, "last_seen": e.last_seen}
            for e in graph.edges(as_of)[:n]]
    return pd.DataFrame(rows, columns=["source", "relation", "target", "weight", "evidence",
                                       "first_seen", "last_seen"])
