"""Errors raised by market data sources and the bar importer.

``BarSchemaError`` lives with the validation rules in ``agent.data_quality`` and is
re-exported here so callers of the importer find every error in one place.
"""

from __future__ import annotations

from collections.abc import Iterable

from trade_pipelines.agent.perception.validation import BarSchemaError

__all__ = ["BarImportConflict", "BarImportRejected", "BarSchemaError", "DataSourceUnavailable",
           "SourceUnreachable"]


class DataSourceUnavailable(RuntimeError):
    """A market data source could not deliver the bars asked for (offline, or no data).

    ``symbols`` names the ones that did not arrive, so a caller can fall back for just those.
    """

    def __init__(self, message: str, symbols: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.symbols: tuple[str, ...] = tuple(symbols)


class SourceUnreachable(DataSourceUnavailable):
    """The source as a whole cannot answer (no network, a time-out, no token), as opposed
    to having no data for one symbol: a source chain stops asking it for other symbols."""


class BarImportRejected(ValueError):
    """An import was refused as a whole (a strict import found bad rows, or the file
    conflicts with stored bars), so nothing was written."""


class BarImportConflict(BarImportRejected):
    """An import would mix two sources in one symbol's price series, so nothing was written."""
