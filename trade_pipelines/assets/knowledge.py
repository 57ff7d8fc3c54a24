"""Memory: the knowledge graph, grown from closed trades, regimes and market events."""

from datetime import date, timedelta

from dagster import AssetExecutionContext, MaterializeResult, asset

from trade_pipelines.agent.evolution.genomes import genome_from_json
from trade_pipelines.agent.memory.knowledge_graph import (
    GENERALISES,
    KnowledgeGraph,
    strongest_edges,
)
from trade_pipelines.agent.perception.sentiment import US_SECTORS
from trade_pipelines.assets.common import (
    WAREHOUSE_POOL,
    markdown_preview,
    partition_window,
    to_dates,
)
from trade_pipelines.partitions import single_run, trading_years
from trade_pipelines.resources import WarehouseResource
from trade_pipelines.warehouse import Warehouse

# Closes read before the first event: its session and the one before it.
EVENT_CLOSES_MARGIN = timedelta(days=10)


def knowledge_through(store: Warehouse, end: date, events: bool = True) -> KnowledgeGraph:
    """The graph of every closed trade, regime and (with ``events``) event move known by
    ``end``'s close.

    The symbols' sectors are the GICS sectors of the built-in US universe (the only
    sector mapping the project has); other symbols have none."""
    graph = KnowledgeGraph(US_SECTORS)
    graph.add_regimes(store.query("SELECT as_of, regime FROM regimes WHERE as_of <= ? "
                                  "ORDER BY as_of", [end]))
    trades = to_dates(store.query("SELECT * FROM trades WHERE as_of <= ? ORDER BY as_of, "
                                  "trade_id", [end]), "as_of", "opened_as_of")
    if not trades.empty:
        strategies = store.query("SELECT strategy_id, genome FROM strategies")
        genomes = {row.strategy_id: genome_from_json(row.genome)
                   for row in strategies.itertuples()}
        graph.add_trades(trades, genomes)
    if not events:
        return graph
    moves = to_dates(store.query(
        "SELECT event_id, as_of, kind, symbol FROM market_events WHERE as_of <= ? "
        "ORDER BY as_of, event_id", [end]), "as_of")
    if not moves.empty:
        closes = to_dates(store.query(
            "SELECT symbol, as_of, close FROM bars WHERE as_of BETWEEN ? AND ? "
            "ORDER BY symbol, as_of", [min(moves["as_of"]) - EVENT_CLOSES_MARGIN, end]),
            "as_of")
        graph.add_events(moves, closes)
    return graph


@asset(partitions_def=trading_years, backfill_policy=single_run, group_name="memory",
       deps=["closed_trades", "trade_memories", "market_events", "market_regime"],
       pool=WAREHOUSE_POOL)
def knowledge_graph(context: AssetExecutionContext,
                    warehouse: WarehouseResource) -> MaterializeResult:
    """The knowledge graph's nodes and edges (``knowledge_nodes``, ``knowledge_edges``):
    each edge's state after each day of evidence in the window, computed from all the
    evidence before it, so every window can be rebuilt on its own."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    graph = knowledge_through(store, end)
    counts = store.replace_days(graph.frames(start, end), start, end)
    after = end + timedelta(days=1)
    edges = graph.edges(after)
    return MaterializeResult(metadata={
        "node_rows": counts["knowledge_nodes"], "edge_rows": counts["knowledge_edges"],
        "nodes": len(graph.nodes(after)), "edges": len(edges),
        "principles_held": len({e.source for e in edges if e.relation == GENERALISES}),
        "strongest_edges": markdown_preview(strongest_edges(graph, after)),
    })
