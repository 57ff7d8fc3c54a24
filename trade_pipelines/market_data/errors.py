"""Errors raised by market data sources and the bar importer."""

from __future__ import annotations


class DataSourceUnavailable(RuntimeError):
    """A market data source could not deliver the bars asked for (offline, or no data)."""


class BarImportRejected(ValueError):
    """A strict import found bad rows, so nothing was written."""
