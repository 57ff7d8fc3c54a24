"""Errors raised by market data sources and the bar importer.

``BarSchemaError`` lives with the validation rules in ``agent.data_quality`` and is
re-exported here so callers of the importer find every error in one place.
"""

from __future__ import annotations

from collections.abc import Iterable

from trade_pipelines.agent.perception.validation import BarSchemaError

__all__ = ["BarImportRejected", "BarSchemaError", "DataSourceUnavailable"]


class DataSourceUnavailable(RuntimeError):
    """A market data source could not deliver the bars asked for (offline, or no data).

    ``symbols`` names the ones that did not arrive, so a caller can fall back for just those.
    """

    def __init__(self, message: str, symbols: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.symbols: tuple[str, ...] = tuple(symbols)


class BarImportRejected(ValueError):
    """A strict import found bad rows, so nothing was written."""
