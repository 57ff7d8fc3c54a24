"""``trade-pipelines graph``: ask the stored knowledge graph what it knew on a day."""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from typing import TYPE_CHECKING

from trade_pipelines.cli.common import parse_date
from trade_pipelines.settings import paths

if TYPE_CHECKING:
    from trade_pipelines.agent.memory.knowledge_graph import KnowledgeGraph

TABLES = ("knowledge_nodes", "knowledge_edges")


def _stored_graph(as_of: date | None) -> tuple[KnowledgeGraph, date] | None:
    """The graph read from the warehouse (read-only) with the rows dated before
    ``as_of`` (by default all of them), and that day; None without the tables."""
    import pandas as pd

    from trade_pipelines.agent.memory.knowledge_graph import KnowledgeGraph
    from trade_pipelines.agent.perception.sentiment import US_SECTORS
    from trade_pipelines.warehouse import Warehouse

    store = Warehouse(paths().warehouse)
    if not all(store.table_exists(t) for t in TABLES):
        print(f"graph: the warehouse {store.path} has no knowledge graph yet; run "
              "`trade-pipelines replay` first", file=sys.stderr)
        return None
    if as_of is None:
        last = store.query("SELECT max(as_of) AS day FROM knowledge_edges")["day"].iloc[0]
        as_of = date.today() if pd.isna(last) else pd.Timestamp(last).date() + timedelta(days=1)
    frames = [store.query(f"SELECT * FROM {t} WHERE as_of < ?", [as_of]) for t in TABLES]
    return KnowledgeGraph.from_frames(*frames, sectors=US_SECTORS), as_of


def cmd_neighbours(args: argparse.Namespace) -> int:
    stored = _stored_graph(args.as_of)
    if stored is None:
        return 2
    graph, as_of = stored
    node = graph.resolve(args.node)
    edges = graph.neighbours(node, as_of, relation=args.relation, n=args.n)
    if not edges:
        print(f"No edges of {node} from evidence before {as_of}.")
        return 0
    _print_edges(f"{node}, from evidence before {as_of}:", edges)
    return 0


def cmd_path(args: argparse.Namespace) -> int:
    stored = _stored_graph(args.as_of)
    if stored is None:
        return 2
    graph, as_of = stored
    source, target = graph.resolve(args.a), graph.resolve(args.b)
    steps = graph.path(source, target, as_of, max_hops=args.max_hops)
    if not steps:
        print(f"No path of at most {args.max_hops} edges from {source} to {target} "
              f"from evidence before {as_of}.")
        return 1
    _print_edges(f"{source} to {target} in {len(steps)} edges, from evidence before "
                 f"{as_of}:", steps)
    return 0


def _print_edges(header: str, edges: list) -> None:
    print(header)
    for edge in edges:
        print(f"  {edge.describe()}")


def register(sub: argparse._SubParsersAction) -> None:
    graph = sub.add_parser("graph", help="query the agent's knowledge graph as of a day")
    commands = graph.add_subparsers(dest="graph_command", required=True)
    as_of_help = ("use only evidence dated before this day (default: all that is stored)")
    neighbours = commands.add_parser("neighbours", help="the best evidenced edges of a node")
    neighbours.add_argument("node", help="a node id (symbol:NVDA, family:trend, regime:bear,"
                                         " event:earnings, ...) or a bare name")
    neighbours.add_argument("--as-of", type=parse_date, default=None, help=as_of_help)
    neighbours.add_argument("--relation", default=None,
                            help="only this relation (traded_well_with, moved, ...)")
    neighbours.add_argument("--n", type=int, default=10)
    neighbours.set_defaults(func=cmd_neighbours)
    path = commands.add_parser("path", help="the shortest chain of edges between two nodes")
    path.add_argument("a")
    path.add_argument("b")
    path.add_argument("--as-of", type=parse_date, default=None, help=as_of_help)
    path.add_argument("--max-hops", type=int, default=3)
    path.set_defaults(func=cmd_path)
