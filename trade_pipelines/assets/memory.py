"""Memory: the semantic index mirrors the canonical memory rows."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from trade_pipelines.assets.common import WAREHOUSE_POOL, partition_window, to_dates
from trade_pipelines.partitions import single_run, trading_months
from trade_pipelines.resources import MemoryIndexResource, WarehouseResource


@asset(partitions_def=trading_months, backfill_policy=single_run, group_name="memory",
       deps=["trade_memories"], pool=WAREHOUSE_POOL)
def memory_index(context: AssetExecutionContext, warehouse: WarehouseResource,
                 memory_index: MemoryIndexResource) -> MaterializeResult:
    """The ChromaDB index (offline MiniLM embeddings) of the memories, for search by
    meaning. Drops the index from this window on, then re-adds every memory from the
    window on (later windows may have been replayed before); it can be rebuilt from the
    warehouse at any time."""
    start, _ = partition_window(context)
    store = warehouse.warehouse()
    current = to_dates(store.query("SELECT * FROM memories WHERE as_of >= ?", [start]),
                       "as_of")
    with memory_index.index() as index:
        removed = index.delete_from(start)
        indexed = index.upsert(current) if not current.empty else 0
        total = index.count()
    return MaterializeResult(metadata={"indexed": indexed, "removed": removed,
                                       "index_size": total})
