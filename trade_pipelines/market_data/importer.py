"""Import a user's own daily bars from a CSV or Parquet file into the warehouse.

The file needs the columns ``symbol, date, open, high, low, close, volume`` (any case, any
order; extra columns are ignored). CSV cells are read as text, so nothing is guessed
before validation and a quarantined row keeps exactly what the file said.

One import is one warehouse transaction: the good bars are upserted into ``bars`` and the
bad rows recorded in ``quarantine`` together, or, if anything fails midway, neither. The
same file imported twice leaves the same warehouse: bars are keyed by (symbol, as_of)
and a quarantine record is only added once per (source, raw row, reason).

Imported bars get ``source = "import:<file name>"`` and ``available_at`` = the day's
16:00 New York close as naive UTC (see :mod:`trade_pipelines.market_data`), since a user's
end-of-day bar could not have been known before the close either.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trade_pipelines.agent.perception.validation import (
    CANONICAL_COLUMNS,
    BarSchemaError,
    BarValidation,
    validate_bars,
)
from trade_pipelines.market_data import BAR_COLUMNS, bars_available_at
from trade_pipelines.market_data.errors import BarImportRejected
from trade_pipelines.warehouse.connection import Warehouse

FILE_COLUMNS = ["symbol", "date", "open", "high", "low", "close", "volume"]
READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
QUARANTINE_COLUMNS = ["source", "symbol", "as_of", "reason", "raw", "recorded_at"]


@dataclass
class ImportReport:
    """What an import did, for the CLI and the run log."""

    imported: int
    quarantined: int
    reasons: Counter[str] = field(default_factory=Counter)
    message: str = ""
    source: str = ""


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


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else (value if math.isfinite(value) else str(value))
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, str | int | bool):
        return value
    return str(value)


def _raw_json(raw: pd.DataFrame) -> list[str]:
    """Each row of the file as JSON with its own column names, for the quarantine record."""
    columns = [str(c) for c in raw.columns]
    return [
        json.dumps(dict(zip(columns, (_jsonable(v) for v in row), strict=True)))
        for row in raw.itertuples(index=False, name=None)
    ]


def _quarantine_rows(raw: pd.DataFrame, validation: BarValidation, source: str,
                     recorded_at: datetime) -> pd.DataFrame:
    rejected = validation.rejected
    symbol = rejected["symbol"].astype("string").str.strip().str.upper()
    symbol = symbol.where(symbol != "")
    day = pd.to_datetime(rejected["as_of"].astype("string").str.strip(), errors="coerce",
                         format="ISO8601")
    rows = pd.DataFrame({
        "source": source,
        "symbol": symbol.astype(object).where(symbol.notna(), None).to_numpy(),
        "as_of": day.to_numpy(),
        "reason": rejected["reason"].astype(str).to_numpy(),
        "raw": _raw_json(raw.loc[rejected.index]),
        "recorded_at": recorded_at,
    })
    return rows.drop_duplicates(["source", "raw", "reason"]).reset_index(drop=True)


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


def import_bars_file(path: Path | str, warehouse: Warehouse,
                     strict: bool = False, symbol: str | None = None) -> ImportReport:
    """Validate a bar file and store it: good rows into ``bars``, bad ones into ``quarantine``.

    With ``strict=True`` any bad row rejects the whole file: nothing is written and
    ``BarImportRejected`` carries the summary. Raises ``BarSchemaError`` if the file cannot
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
    bars["source"] = source
    bars["available_at"] = bars_available_at(bars["as_of"]).to_numpy()
    bars["as_of"] = pd.to_datetime(bars["as_of"])
    recorded_at = datetime.now(UTC).replace(tzinfo=None)
    quarantine = _quarantine_rows(raw, validation, source, recorded_at)

    # One transaction: the file's bars replace stored ones with the same key, and each
    # quarantine record (source, raw row, reason) is kept once however often it recurs.
    with warehouse.transaction() as connection:
        warehouse.upsert("bars", bars[BAR_COLUMNS], ["symbol", "as_of"], connection)
        recorded = warehouse.insert_missing("quarantine", quarantine[QUARANTINE_COLUMNS],
                                            ["source", "raw", "reason"], connection)

    return ImportReport(
        imported=len(bars),
        quarantined=len(validation.rejected),
        reasons=Counter(validation.reasons),
        message=_message(path.name, validation.clean, validation, recorded),
        source=source,
    )
