"""Memory: the semantic index mirrors the canonical memory rows (the agent's and the
taught ones)."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from trade_pipelines.assets.common import WAREHOUSE_POOL, partition_window, progress
from trade_pipelines.memory_index.stored import stored_memories
from trade_pipelines.partitions import single_run, trading_years
from trade_pipelines.resources import MemoryIndexResource, WarehouseResource
from trade_pipelines.warehouse.checkpoints import StepCheckpoints, month_slices


@asset(partitions_def=trading_years, backfill_policy=single_run, group_name="memory",
       deps=["trade_memories"], pool=WAREHOUSE_POOL)
def memory_index(context: AssetExecutionContext, warehouse: WarehouseResource,
                 memory_index: MemoryIndexResource) -> MaterializeResult:
    """The ChromaDB index (offline embeddings) of the memories, the agent's and those a
    person taught, for search by meaning; it can be rebuilt from the warehouse at any time.

    Month by month, each month's entries are replaced by that month's memory rows. A month
    whose rows are unchanged since it was indexed, and whose entries are all in the index,
    is skipped, so a run killed midway resumes where it stopped."""
    start, end = partition_window(context)
    store = warehouse.warehouse()
    memories = stored_memories(store, start, end)
    checkpoints = StepCheckpoints(store, "memory_index")
    indexed = removed = 0
    months = month_slices(start, end)
    with memory_index.index() as index:
        for month in progress(months, "memory index", len(months), unit="month"):
            rows = memories[(memories["as_of"] >= month.first)
                            & (memories["as_of"] <= month.last)] if not memories.empty \
                else memories
            # Each month's entries depend on its own rows only: no chain to the month before.
            digest = checkpoints.chain(month, "", rows)
            present = index.ids_between(month.first, month.last)
            if set(rows.get("memory_id", [])) == present and checkpoints.can_skip(month,
                                                                                 digest):
                continue
            removed += index.delete_between(month.first, month.last)
            indexed += index.upsert(rows) if not rows.empty else 0
            checkpoints.stage(month, digest)
        checkpoints.flush()
        total = index.count()
    return MaterializeResult(metadata={"indexed": indexed, "removed": removed,
                                       "index_size": total, **checkpoints.summary()})
