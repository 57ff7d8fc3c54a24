"""Memory: closed trades become 5W1H memories; the semantic index mirrors them."""


from datetime import timedelta

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from trade_pipelines.agent.gene_pool import GENOMES
from trade_pipelines.agent.memory import trade_memories as memories_from_trades
from trade_pipelines.assets.common import markdown_preview, partition_window, to_dates
from trade_pipelines.assets.market import WRITER_TAGS
from trade_pipelines.partitions import single_run, trading_months
from trade_pipelines.resources import MemoryIndexResource, WarehouseResource

# How far back a trade's opening decision and regime are looked up.
CONTEXT = timedelta(days=400)


@asset(partitions_def=trading_months, backfill_policy=single_run, group_name="memory",
       deps=["closed_trades", "debate_decisions", "market_regime"], op_tags=WRITER_TAGS)
def trade_memories(context: AssetExecutionContext, warehouse: WarehouseResource,
                   memory_index: MemoryIndexResource) -> MaterializeResult:
    """One memory per closed trade: who, what, when, where, why, how, with an importance
    scored from the outcome; 8 or more is long-term, 3 or less decays. The rows are the
    canonical memory; the semantic index is updated from them."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    trades = to_dates(store.query("SELECT * FROM trades WHERE as_of BETWEEN ? AND ?",
                                  [start, end]), "as_of", "opened_as_of")
    decisions = to_dates(store.query(
        "SELECT as_of, symbol, strategy_id, confidence, summary FROM decisions "
        "WHERE as_of BETWEEN ? AND ?", [start - CONTEXT, end]), "as_of")
    regimes = to_dates(store.query("SELECT as_of, regime FROM regimes "
                                   "WHERE as_of BETWEEN ? AND ?",
                                   [start - CONTEXT, end]),
                       "as_of")
    memories = memories_from_trades(
        trades, decisions, regimes, {k: g.stop_loss for k, g in GENOMES.items()},
        {k: g.name for k, g in GENOMES.items()})
    with store.transaction() as connection:
        store.replace_days({"memories": memories}, start, end, connection=connection)
    # Mirror the canonical rows: drop the index from this window on, then re-add every
    # memory from the window on (later windows may have been replayed before).
    current = to_dates(store.query("SELECT * FROM memories WHERE as_of >= ?", [start]),
                       "as_of")
    with memory_index.index() as index:
        index.delete_from(start)
        indexed = index.upsert(current) if not current.empty else 0
    return MaterializeResult(metadata={
        "rows": len(memories), "indexed": indexed,
        "tiers": MetadataValue.json(memories["tier"].value_counts().to_dict()
                                    if not memories.empty else {}),
        "preview": markdown_preview(memories[["as_of", "symbol", "importance", "tier", "text"]]
                                    if not memories.empty else memories)})
