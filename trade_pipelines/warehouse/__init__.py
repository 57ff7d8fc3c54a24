"""The DuckDB warehouse: schema, the single writer and short-lived readers."""

from trade_pipelines.warehouse.connection import Warehouse, WarehouseLockedError

__all__ = ["Warehouse", "WarehouseLockedError"]
