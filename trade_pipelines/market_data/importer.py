"""Import a user's own daily bars from a CSV or Parquet file into the warehouse.

The file needs the columns ``symbol, date, open, high, low, close, volume`` (any case, any
order; extra columns are ignored). CSV cells are read as text, so nothing is guessed
before validation and a quarantined row keeps exactly what the file said.

One import is one warehouse transaction: the good bars are upserted into ``bars`` and the
bad rows recorded in ``quarantine`` together, or, if anything fails midway, neither. The
same file imported twice leaves the same warehouse: bars are keyed by (symbol, as_of)
and a quarantine record is only added once per (source, raw row, reason).

Validated bars then pass the split/bad-print detector (``split_suspects``, as the
blocking bar check runs it) together with the symbol's stored bars next to them, so a
jump where the file meets the stored history counts too. Flagged bars are quarantined
with the detector's reason, never stored: a bad print alone; at an unadjusted split or a
move beyond the day's price limit, the file's bars on the other share basis (those from
the jump on when stored bars precede it, else those before it, as the live source chain
keeps the newest basis). A real move is accepted with ``trade-pipelines accept-jump``
(:mod:`trade_pipelines.market_data.accepted_jumps`); importing the file again then
stores the bars.

A symbol has one source: a file whose days overlap stored bars of that symbol from
another source (the built-in data, yfinance, another file) is refused unless the caller
asks to replace, which deletes the symbol's bars from other sources in the same
transaction. The built-in loader never touches a symbol a user imported.

Imported bars get ``source = "import:<file name>"`` and ``available_at`` = the day's
16:00 New York close as naive UTC (see :mod:`trade_pipelines.market_data`), since a user's
end-of-day bar could not have been known before the close either.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trade_pipelines.agent.markets import market_of_symbol, market_rules
from trade_pipelines.agent.perception.validation import (
    CANONICAL_COLUMNS,
    IMPLAUSIBLE_FACTOR,
    REASON_IMPLAUSIBLE,
    UNDOING,
    BarSchemaError,
    BarValidation,
    split_suspects,
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
# Stored bars this many days either side of a file's bars are checked with them.
SEAM_DAYS = 20
# A file row's position, carried through validation to find its raw row again.
ROW = "file_row"
ACCEPT_HINT = ("a move that is real is accepted with `trade-pipelines accept-jump SYMBOL "
               "DATE --reason TEXT`; import the file again after accepting it or fixing "
               "the file")


@dataclass
class ImportReport:
    """What an import did, for the CLI and the run log."""

    imported: int
    quarantined: int
    reasons: Counter[str] = field(default_factory=Counter)
    message: str = ""
    source: str = ""
    replaced: int = 0
    held_back: int = 0  # of ``quarantined``: bars the split/bad-print detector flagged


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


def _flagged_list(flags: list[tuple[str, date, str]], limit: int = 10) -> str:
    text = "; ".join(f"{symbol} {day}: {why}" for symbol, day, why in flags[:limit])
    return text + (f"; and {len(flags) - limit} more" if len(flags) > limit else "")


def _message(name: str, bars: pd.DataFrame, validation: BarValidation,
             new_records: int, held_back: int = 0,
             flags: list[tuple[str, date, str]] | None = None) -> str:
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
    if held_back:
        text += (f"; {held_back} of the quarantined bar(s) were held back by the "
                 f"split/bad-print check, which flagged {_flagged_list(flags or [])}: "
                 f"{ACCEPT_HINT}")
    return text


def _stored_near(warehouse: Warehouse, bars: pd.DataFrame, source: str,
                 replaced: Collection[str]) -> tuple[pd.DataFrame, dict[str, date]]:
    """Stored bars of the file's symbols and their markets' benchmarks within
    ``SEAM_DAYS`` of the file's days, except those the import replaces, and where each
    symbol's history starts (its first bar, stored or in the file)."""
    symbols = sorted(set(bars["symbol"]) | {market_rules(market_of_symbol(s)).benchmark_symbol
                                            for s in bars["symbol"].unique()})
    kept = "(source = ? OR NOT list_contains(?, symbol))"
    near = warehouse.query(
        "SELECT symbol, as_of, open, high, low, close, volume FROM bars "
        f"WHERE list_contains(?, symbol) AND as_of BETWEEN ? AND ? AND {kept}",
        [symbols, min(bars["as_of"]) - timedelta(days=SEAM_DAYS),
         max(bars["as_of"]) + timedelta(days=SEAM_DAYS), source, list(replaced)])
    firsts = warehouse.query(
        f"SELECT symbol, min(as_of) AS first FROM bars WHERE list_contains(?, symbol) "
        f"AND {kept} GROUP BY symbol", [symbols, source, list(replaced)])
    starts = bars.groupby("symbol")["as_of"].min().to_dict()
    for symbol, first in zip(firsts["symbol"], firsts["first"], strict=True):
        day = pd.Timestamp(first).date()
        starts[symbol] = min(day, starts.get(symbol, day))
    if near.empty:
        return pd.DataFrame(columns=CANONICAL_COLUMNS), starts
    near["as_of"] = pd.to_datetime(near["as_of"]).dt.date
    in_file = pd.MultiIndex.from_frame(bars[["symbol", "as_of"]])
    near = near[~pd.MultiIndex.from_frame(near[["symbol", "as_of"]]).isin(in_file)]
    return near.reset_index(drop=True), starts


def _detector_rows(frame: pd.DataFrame, accepted: Collection[tuple[str, date]],
                   starts: dict[str, date]) -> pd.DataFrame:
    """``split_suspects`` over ``frame`` (file and stored bars), market by market, each
    flag with whether its bar and the bar before it come from the file."""
    found = []
    for market, part in frame.groupby(frame["symbol"].map(market_of_symbol)):
        rules = market_rules(str(market))
        found.append(split_suspects(part, benchmark_symbol=rules.benchmark_symbol,
                                    accepted_jumps=accepted, market=rules.code,
                                    history_starts=starts))
    flags = pd.concat(found, ignore_index=True) if found else pd.DataFrame()
    if flags.empty:
        return flags
    ordered = frame.sort_values(["symbol", "as_of"], kind="stable").reset_index(drop=True)
    ordered["previous_row"] = ordered.groupby("symbol")[ROW].shift(1).fillna(-1).astype(int)
    return flags.merge(ordered[["symbol", "as_of", ROW, "previous_row"]],
                       on=["symbol", "as_of"]).sort_values(["symbol", "as_of"])


def _held_back(bars: pd.DataFrame, stored: pd.DataFrame,
               accepted: Collection[tuple[str, date]], starts: dict[str, date]
               ) -> tuple[dict[int, str], list[tuple[str, date, str]]]:
    """The file's bars (by ``ROW``) the split/bad-print detector holds back, with why,
    and the flags (symbol, day, reason) that held them back.

    Per symbol, the earliest flag that involves a file bar is settled, then the detector
    runs again on what is left, until nothing is flagged: a bad print costs its own bar;
    a split or a move beyond the limit costs the file's bars on the other share basis.
    """
    held: dict[int, str] = {}
    flagged: list[tuple[str, date, str]] = []
    stored = stored.assign(**{ROW: -1})
    benchmarks = {market_rules(market_of_symbol(s)).benchmark_symbol
                  for s in bars["symbol"].unique()}
    pending = set(bars["symbol"])
    while pending:
        left = bars[~bars[ROW].isin(held)]
        frame = pd.concat([stored, left], ignore_index=True) if len(stored) else left
        frame = frame[frame["symbol"].isin(pending | benchmarks)]
        flags = _detector_rows(frame, accepted, starts)
        acted: set[str] = set()
        for symbol, rows in (flags.groupby("symbol", sort=False) if len(flags) else []):
            if symbol not in pending:
                continue
            mine = left[left["symbol"] == symbol]
            for flag in rows.itertuples():
                settled = _settle(flag, mine, stored[stored["symbol"] == symbol])
                if settled:
                    held.update(settled)
                    flagged.append((str(symbol), flag.as_of, str(flag.reason)))
                    acted.add(str(symbol))
                    break
        # A benchmark bar held back changes which days were calm for every symbol.
        pending = set(bars["symbol"]) if acted & benchmarks else acted
    return held, sorted(flagged)


def _settle(flag: Any, mine: pd.DataFrame, stored: pd.DataFrame) -> dict[int, str]:
    """The file's bars of one symbol one flag holds back (none when it involves none)."""
    row, previous = int(getattr(flag, ROW)), int(flag.previous_row)
    day, reason = flag.as_of, str(flag.reason)
    if row < 0 and previous < 0:
        return {}  # stored bars only: not this file's business
    if reason.startswith(REASON_IMPLAUSIBLE):
        if row >= 0 and previous < 0 and UNDOING in reason:
            return {}  # the stored bar before it is the bad print, not this file's bar
        if row >= 0:
            return {row: reason}
        ratio = float(flag.ratio)
        if math.isfinite(ratio) and abs(math.log(ratio)) > math.log(IMPLAUSIBLE_FACTOR):
            return {previous: (f"{REASON_IMPLAUSIBLE}: the stored close of {day} is "
                               f"x{ratio:.3f} of this one, which no split explains")}
        return {}
    days = np.array(list(mine["as_of"]), dtype=object)
    if row >= 0 and (stored["as_of"] < day).any():
        after = mine[days >= day]
        return {int(r): reason if r == row else
                (f"after an unadjusted split or dividend on {day} ({reason}): another "
                 "share basis than the stored bars before it")
                for r in after[ROW]}
    last_stored = max((d for d in stored["as_of"] if d < day), default=None)
    before = mine[(days < day) & ((days > last_stored) if last_stored is not None else True)]
    return {int(r): (f"before an unadjusted split or dividend on {day} ({reason}): another "
                     "share basis") for r in before[ROW]}


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
                     symbol: str | None = None, replace: bool = False,
                     accepted_jumps: Collection[tuple[str, date]] | None = None
                     ) -> ImportReport:
    """Validate a bar file and store it: good rows into ``bars``, bad ones into ``quarantine``.

    With ``strict=True`` any bad row rejects the whole file: nothing is written and
    ``BarImportRejected`` carries the summary. A symbol whose stored bars inside the
    file's days come from another source (the built-in data, yfinance, another file) is
    refused with ``BarImportConflict`` unless ``replace=True``, which deletes that
    symbol's bars from other sources first. Bars the split/bad-print detector flags are
    quarantined (see the module's docstring; refused with the rest under ``strict``);
    ``accepted_jumps`` are the moves accepted as real (by default the built-in ones and
    the home's ``accepted_jumps.csv``, the home being the warehouse's folder). Raises
    ``BarSchemaError`` if the file cannot be read as bars at all.
    """
    path = Path(path)
    warehouse.migrate()
    raw = _read_raw(path)
    canonical = _canonical(raw, path.name, symbol)
    validation = validate_bars(canonical.assign(**{ROW: np.arange(len(canonical))}))
    validation.rejected = validation.rejected.drop(columns=[ROW])
    source = f"import:{path.name}"
    if strict and len(validation.rejected):
        raise BarImportRejected(
            f"{path.name} rejected, nothing imported (strict): {validation.summary()}"
        )
    conflicts = _conflicts(warehouse, validation.clean, source)
    if len(conflicts) and not replace:
        raise BarImportConflict(_conflict_message(path.name, conflicts))
    replaced_symbols = sorted(set(conflicts["symbol"])) if len(conflicts) else []
    held: dict[int, str] = {}
    flags: list[tuple[str, date, str]] = []
    if len(validation.clean):
        if accepted_jumps is None:
            from trade_pipelines.market_data.accepted_jumps import accepted_jumps as accepted

            accepted_jumps = accepted(warehouse.path.parent)
        stored, starts = _stored_near(warehouse, validation.clean, source, replaced_symbols)
        held, flags = _held_back(validation.clean, stored, accepted_jumps, starts)
    if held:
        positions = sorted(held)
        flagged = canonical.iloc[positions].assign(reason=[held[p] for p in positions])
        if strict:
            raise BarImportRejected(
                f"{path.name} rejected, nothing imported (strict): the split/bad-print "
                f"check flagged {_flagged_list(flags)} ({len(flagged)} bar(s) held back); "
                f"{ACCEPT_HINT}")
        validation = BarValidation(
            clean=validation.clean[~validation.clean[ROW].isin(held)].reset_index(drop=True),
            rejected=pd.concat([validation.rejected, flagged]),
            duplicates_dropped=validation.duplicates_dropped,
            reasons=validation.reasons + Counter(held.values()),
            table_failures=validation.table_failures)
    bars = validation.clean[CANONICAL_COLUMNS].copy()
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

    message = _message(path.name, validation.clean, validation, recorded, len(held),
                       flags)
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
        held_back=len(held),
    )
