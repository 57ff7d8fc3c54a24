"""Import a user's own daily bars from a CSV or Parquet file into the warehouse.

The file needs the columns ``symbol, date, open, high, low, close, volume`` (any case, any
order; extra columns are ignored). CSV cells are read as text, so nothing is guessed
before validation and a quarantined row keeps exactly what the file said.

One import is one warehouse transaction: the good bars are upserted into ``bars`` and the
bad rows recorded in ``quarantine`` together, or, if anything fails midway, neither. The
same file imported twice leaves the same warehouse: bars are keyed by (symbol, as_of)
and a quarantine record is only added once per (source, raw row, reason).

A symbol has one source: a file whose days overlap stored bars of that symbol from
another source (the built-in data, yfinance, another file) is refused unless the caller
asks to replace, which deletes the symbol's bars from other sources in the same
transaction. The built-in loader never touches a symbol a user imported.

Imported bars get ``source = "import:<file name>"`` and ``available_at`` = the day's
16:00 New York close as naive UTC (see :mod:`trade_pipelines.market_data`), since a user's
end-of-day bar could not have been known before the close either.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from trade_pipelines.agent.markets import market_of_symbol
from trade_pipelines.agent.perception.validation import (
    CANONICAL_COLUMNS,
    BarSchemaError,
    BarValidation,
    validate_bars,
)
from trade_pipelines.market_data import BAR_COLUMNS, bars_available_at
from trade_pipelines.market_data.errors import BarImportConflict, BarImportRejected
from trade_pipelines.market_data.loading import (
    QUARANTINE_COLUMNS,
    QUARANTINE_KEYS,
    quarantine_rows,
)
from trade_pipelines.warehouse.connection import Warehouse

FILE_COLUMNS = ["symbol", "date", "open", "high", "low", "close", "volume"]
READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class ImportReport:
    """What an import did, for the CLI and the run log."""

    imported: int
    quarantined: int
    reasons: Counter[str] = field(default_factory=Counter)
    message: str = ""
    source: str = ""
    replaced: int = 0


def _read_raw(path: Path) -> pd.DataFrame:
    """The file's rows and columns as stored (CSV cells as text)."""
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise BarSchemaError(
            f"cannot import {path.name}: unsupported file type "
            f"'{path.suffix or '(none)'}'; use {', '.join(READERS)}"
        )
    if not path.is_file():
        raise BarSchemaError(f"cannot read {path}: no such file")
    try:
        if kind == "csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        return pd.read_parquet(path)
    except pd.errors.EmptyDataError as error:
        raise BarSchemaError(f"cannot read {path.name}: the file is empty") from error
    except Exception as error:
        raise BarSchemaError(f"cannot read {path.name}: {error}") from error


def _canonical(raw: pd.DataFrame, name: str, symbol: str | None = None) -> pd.DataFrame:
    """The bar columns of ``raw`` under canonical names (``date`` becomes ``as_of``).

    ``symbol`` names the ticker of a one-symbol file that has no ``symbol`` column (as a
    chart export often has not).
    """
    if symbol is not None:
        if any(str(c).strip().lower() == "symbol" for c in raw.columns):
            raise BarSchemaError(f"{name} has a symbol column; do not pass a symbol as well")
        raw = raw.assign(symbol=symbol)
    by_name: dict[str, Any] = {}
    for column in raw.columns:
        key = str(column).strip().lower()
        if key in FILE_COLUMNS and key in by_name:
            raise BarSchemaError(f"{name}: column '{key}' appears more than once")
        by_name.setdefault(key, column)
    missing = [c for c in FILE_COLUMNS if c not in by_name]
    if missing:
        raise BarSchemaError(
            f"{name} is missing required column(s): {', '.join(missing)} "
            f"(expected {', '.join(FILE_COLUMNS)})"
        )
    frame = pd.DataFrame({c: raw[by_name[c]] for c in FILE_COLUMNS}, index=raw.index)
    return frame.rename(columns={"date": "as_of"})


def read_bars_file(path: Path | str) -> pd.DataFrame:
    """A bar file's rows as canonical columns, values exactly as stored (not yet validated).

    Raises ``BarSchemaError`` for an unknown extension, an unreadable file or a missing
    column.
    """
    path = Path(path)
    return _canonical(_read_raw(path), path.name)


def _message(name: str, bars: pd.DataFrame, validation: BarValidation,
             new_records: int) -> str:
    if bars.empty:
        text = f"{name}: imported no bars"
    else:
        text = (f"{name}: imported {len(bars)} bar(s) for {bars['symbol'].nunique()} "
                f"symbol(s), {bars['as_of'].min()} to {bars['as_of'].max()}")
    if len(validation.rejected):
        details = ", ".join(f"{n} {why}" for why, n in validation.reasons.most_common())
        text += (f"; quarantined {len(validation.rejected)} row(s) ({details}), "
                 f"{new_records} new quarantine record(s)")
    if validation.duplicates_dropped:
        text += f"; {validation.duplicates_dropped} identical duplicate row(s) collapsed"
    return text


def _conflicts(warehouse: Warehouse, bars: pd.DataFrame, source: str) -> pd.DataFrame:
    """Per symbol of ``bars``: stored bars from another source inside the file's days."""
    if bars.empty:
        return pd.DataFrame()
    spans = bars.groupby("symbol")["as_of"].agg(first="min", last="max").reset_index()
    return warehouse.query(
        "WITH spans AS (SELECT unnest(?) AS symbol, unnest(?::DATE[]) AS first, "
        "unnest(?::DATE[]) AS last) "
        "SELECT b.symbol, b.source, count(*) AS bars, min(b.as_of) AS first, "
        "max(b.as_of) AS last FROM bars b JOIN spans s USING (symbol) "
        "WHERE b.source <> ? AND b.as_of BETWEEN s.first AND s.last "
        "GROUP BY b.symbol, b.source ORDER BY b.symbol, b.source",
        [spans["symbol"].tolist(), spans["first"].tolist(), spans["last"].tolist(), source])


def _conflict_message(name: str, conflicts: pd.DataFrame) -> str:
    found = "; ".join(
        f"{r.symbol}: {r.bars} stored bar(s) from {r.source} "
        f"({pd.Timestamp(r.first).date()} to {pd.Timestamp(r.last).date()})"
        for r in conflicts.itertuples())
    return (f"{name} not imported: its days overlap bars from another source ({found}). "
            "Mixing two sources in one price series would splice them silently. Re-run "
            "with --replace to make this file the only source of those symbols (their "
            "bars from other sources are deleted), or import a file without those days.")


def import_bars_file(path: Path | str, warehouse: Warehouse, strict: bool = False,
                     symbol: str | None = None, replace: bool = False) -> ImportReport:
    """Validate a bar file and store it: good rows into ``bars``, bad ones into ``quarantine``.

    With ``strict=True`` any bad row rejects the whole file: nothing is written and
    ``BarImportRejected`` carries the summary. A symbol whose stored bars inside the
    file's days come from another source (the built-in data, yfinance, another file) is
    refused with ``BarImportConflict`` unless ``replace=True``, which deletes that
    symbol's bars from other sources first. Raises ``BarSchemaError`` if the file cannot
    be read as bars at all.
    """
    path = Path(path)
    warehouse.migrate()
    raw = _read_raw(path)
    validation = validate_bars(_canonical(raw, path.name, symbol))
    source = f"import:{path.name}"
    if strict and len(validation.rejected):
        raise BarImportRejected(
            f"{path.name} rejected, nothing imported (strict): {validation.summary()}"
        )
    bars = validation.clean[CANONICAL_COLUMNS].copy()
    conflicts = _conflicts(warehouse, bars, source)
    if len(conflicts) and not replace:
        raise BarImportConflict(_conflict_message(path.name, conflicts))
    bars["source"] = source
    # Each bar is known at its own market's close (a Shanghai bar at 15:00 Shanghai).
    markets = bars["symbol"].map(market_of_symbol)
    bars["available_at"] = pd.NaT
    for market, rows in bars.groupby(markets).groups.items():
        bars.loc[rows, "available_at"] = bars_available_at(
            bars.loc[rows, "as_of"], market, bars.loc[rows, "symbol"]).to_numpy()
    bars["available_at"] = pd.to_datetime(bars["available_at"])
    bars["as_of"] = pd.to_datetime(bars["as_of"])
    recorded_at = datetime.now(UTC).replace(tzinfo=None)
    quarantine = quarantine_rows(raw, validation, source, recorded_at)
    replaced_symbols = sorted(set(conflicts["symbol"])) if len(conflicts) else []

    # One transaction: a replaced symbol's bars from other sources go, the file's bars
    # replace stored ones with the same key, and each quarantine record is kept once.
    with warehouse.transaction() as connection:
        replaced = 0
        if replaced_symbols:
            replaced = connection.execute(
                "DELETE FROM bars WHERE list_contains(?, symbol) AND source <> ?",
                [replaced_symbols, source]).fetchone()[0]
        warehouse.upsert("bars", bars[BAR_COLUMNS], ["symbol", "as_of"], connection)
        recorded = warehouse.insert_missing("quarantine", quarantine[QUARANTINE_COLUMNS],
                                            QUARANTINE_KEYS, connection)

    message = _message(path.name, validation.clean, validation, recorded)
    if replaced:
        message += (f"; replaced {replaced} bar(s) from other sources for "
                    f"{', '.join(replaced_symbols)}")
    return ImportReport(
        imported=len(bars),
        quarantined=len(validation.rejected),
        reasons=Counter(validation.reasons),
        message=message,
        source=source,
        replaced=int(replaced),
    )
