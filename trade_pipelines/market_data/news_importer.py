"""Import a user's dated headlines (CSV, JSON or JSON lines) into the warehouse's ``news``.

Columns: ``published_at`` and ``headline`` are required, ``symbol``, ``source`` and
``body`` optional (any case, any order; others are ignored). JSON is a list of objects
(or ``{"news": [...]}``); JSON lines one object per line.

Timestamps: one with an offset (``2019-03-15T14:30:00-04:00``, ``...Z``) is converted to
UTC; one without a zone is read in ``timezone`` (UTC unless the caller says otherwise,
``--timezone America/New_York`` for instance); a date without a time of day is taken as
the last second of that day in that zone, which can only make it later than the truth,
never earlier. ISO 8601 is the format to use; other spellings are read as pandas reads
them (``03/04/2019`` is March 4th). The warehouse stores naive UTC. A headline is seen
only once published: ``available_at = published_at``.

Undated text is refused, never guessed: a row without a timestamp, with one that does
not parse (or does not exist in the zone, or lies in the future) or with an empty
headline goes to ``quarantine`` with the reason and the raw row, like a bad bar.

Deduplication: the same normalised headline (case, spacing and punctuation ignored) for
the same symbol on the same UTC day is one item: the copy known earliest is kept (earliest
``available_at``, then earliest ``published_at``), so a feed's copy fetched later never
replaces an imported one; the report says how many were dropped. Ids are stable
(normalised headline, symbol, published_at), so the same file imported twice adds nothing.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from trade_pipelines.agent.ids import stable_id
from trade_pipelines.agent.perception.news_scoring import detect_language
from trade_pipelines.market_data.loading import QUARANTINE_COLUMNS, QUARANTINE_KEYS, raw_json
from trade_pipelines.warehouse.connection import Warehouse

REQUIRED_COLUMNS = ("published_at", "headline")
OPTIONAL_COLUMNS = ("symbol", "source", "body")
NEWS_COLUMNS = ["news_id", "as_of", "symbol", "published_at", "available_at", "headline",
                "body", "source", "language", "generated", "dedupe_key", "imported_at"]
READERS = (".csv", ".json", ".jsonl")
_DATE_ONLY = re.compile(r"^\d{4}[-/]\d{1,2}[-/]\d{1,2}$")
_NOT_WORD = re.compile(r"[^\w]+")


class NewsFileError(ValueError):
    """The file cannot be read as headlines at all: nothing was imported."""


@dataclass
class NewsImportReport:
    imported: int
    quarantined: int
    duplicates: int
    already_stored: int
    reasons: Counter[str] = field(default_factory=Counter)
    day_only: int = 0
    message: str = ""


def normalise_headline(text: str) -> str:
    """Case, width, spacing and punctuation folded: what makes two headlines the same."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NOT_WORD.sub(" ", folded).split())


def _read_raw(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise NewsFileError(f"cannot import {path.name}: unsupported file type "
                            f"'{suffix or '(none)'}'; use {', '.join(READERS)}")
    if not path.is_file():
        raise NewsFileError(f"cannot read {path}: no such file")
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        text = path.read_text(encoding="utf-8-sig")
        if suffix == ".jsonl":
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            records = json.loads(text)
            if isinstance(records, dict) and isinstance(records.get("news"), list):
                records = records["news"]
    except pd.errors.EmptyDataError as error:
        raise NewsFileError(f"cannot read {path.name}: the file is empty") from error
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise NewsFileError(f"cannot read {path.name}: {error}") from error
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise NewsFileError(f"{path.name}: expected a list of objects with "
                            f"{', '.join(REQUIRED_COLUMNS)}")
    return pd.DataFrame.from_records(records)


def _canonical(raw: pd.DataFrame, name: str) -> pd.DataFrame:
    by_name: dict[str, object] = {}
    for column in raw.columns:
        key = str(column).strip().lower()
        if key in by_name and key in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS):
            raise NewsFileError(f"{name}: column '{key}' appears more than once")
        by_name.setdefault(key, column)
    missing = [c for c in REQUIRED_COLUMNS if c not in by_name]
    if missing:
        raise NewsFileError(f"{name} is missing required column(s): {', '.join(missing)} "
                            f"(expected {', '.join(REQUIRED_COLUMNS)}, optionally "
                            f"{', '.join(OPTIONAL_COLUMNS)})")

    def text(column: str) -> pd.Series:
        if column not in by_name:
            return pd.Series("", index=raw.index)
        values = raw[by_name[column]]
        return values.where(values.notna(), "").astype(str).str.strip()

    return pd.DataFrame({c: text(c) for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)},
                        index=raw.index)


def parse_published_at(text: str, zone: ZoneInfo, now: datetime) -> tuple[datetime | None,
                                                                          str | None, bool]:
    """(naive UTC timestamp, reason it was refused, whether only a day was given)."""
    if not text:
        return None, "no timestamp", False
    day_only = bool(_DATE_ONLY.match(text))
    if not any(c.isdigit() for c in text):  # "now", "today": never relative to the import
        return None, "unparseable timestamp", False
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, OverflowError):
        return None, "unparseable timestamp", False
    if stamp is pd.NaT:
        return None, "unparseable timestamp", False
    if day_only:
        stamp = stamp.normalize() + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
    if stamp.tzinfo is None:
        try:
            stamp = stamp.tz_localize(zone, ambiguous="raise", nonexistent="raise")
        except Exception:
            return None, f"ambiguous or non-existent local time in {zone.key}", False
    utc = stamp.tz_convert("UTC").tz_localize(None).to_pydatetime()
    if utc > now:
        return None, "timestamp in the future", False
    return utc, None, day_only


def news_rows(frame: pd.DataFrame, source: str, generated: bool,
              imported_at: datetime, available_from: datetime | None = None) -> pd.DataFrame:
    """Warehouse rows for parsed headlines (published_at naive UTC, headline, symbol,
    optional body and source). ``available_from``: when the headlines reached us (a
    feed's fetch), if later than their own timestamps."""
    symbol = frame["symbol"].where(frame["symbol"].notna(), "").astype(str).str.strip() \
        .str.upper()
    symbol = symbol.where(symbol != "", None)
    normalised = frame["headline"].map(normalise_headline)
    published = pd.to_datetime(frame["published_at"])
    day = published.dt.date
    sources = frame["source"].where(frame["source"].astype(bool), source) \
        if "source" in frame else pd.Series(source, index=frame.index)
    body = frame["body"].where(frame["body"].astype(bool), None) \
        if "body" in frame else pd.Series(None, index=frame.index, dtype=object)
    return pd.DataFrame({
        "news_id": [stable_id("N", n, s or "", p.isoformat())
                    for n, s, p in zip(normalised, symbol, published, strict=True)],
        "as_of": day,
        "symbol": symbol.astype(object),
        "published_at": published,
        "available_at": published if available_from is None
        else published.clip(lower=pd.Timestamp(available_from)),
        "headline": frame["headline"].astype(str),
        "body": body.astype(object),
        "source": sources.astype(str),
        "language": [detect_language(f"{h} {b or ''}")
                     for h, b in zip(frame["headline"], body, strict=True)],
        "generated": generated,
        "dedupe_key": [stable_id("K", n, s or "", d)
                       for n, s, d in zip(normalised, symbol, day, strict=True)],
        "imported_at": imported_at,
    }, columns=NEWS_COLUMNS).reset_index(drop=True)


@dataclass(frozen=True)
class StoredNews:
    inserted: int
    duplicates: int
    already_stored: int


def store_news(warehouse: Warehouse, rows: pd.DataFrame,
               quarantine: pd.DataFrame | None = None) -> StoredNews:
    """Store headlines, one of each (headline, symbol, day), in one transaction with their
    quarantine records. The copy kept is the one known earliest: the earliest
    ``available_at``, then the earliest ``published_at``, then the one already stored. A
    feed's copy (known from its fetch) therefore never replaces an imported copy known
    before it, and an earlier-known copy replaces a stored one known later; the replaced
    row is kept in ``quarantine`` (the reason names when its replacement was known)."""
    warehouse.migrate()
    ordered = rows.sort_values(["available_at", "published_at", "news_id"], kind="mergesort")
    with warehouse.transaction() as connection:
        keys = ordered["dedupe_key"].drop_duplicates().tolist()
        stored = connection.execute(
            "SELECT news_id, dedupe_key, published_at, available_at FROM news "
            "WHERE list_contains(?, dedupe_key)", [keys]).df()
        combined = pd.concat([stored.assign(stored=True),
                              ordered.assign(stored=False)], ignore_index=True)
        combined = combined.sort_values(["dedupe_key", "available_at", "published_at",
                                         "stored"], ascending=[True, True, True, False],
                                        kind="mergesort")
        kept = combined.drop_duplicates("dedupe_key")
        fresh_ids = set(kept.loc[~kept["stored"].astype(bool), "news_id"])
        # A stored row not kept is replaced; so is one whose id comes again known earlier.
        superseded = sorted(set(stored["news_id"])
                            - set(kept.loc[kept["stored"].astype(bool), "news_id"]))
        if superseded:
            replaced = connection.execute(
                f"SELECT {', '.join(NEWS_COLUMNS)} FROM news "
                "WHERE list_contains(?, news_id) ORDER BY news_id", [superseded]).df()
            connection.execute("DELETE FROM news WHERE list_contains(?, news_id)",
                               [superseded])
            audit = _superseded_records(replaced, kept.set_index("dedupe_key"),
                                        pd.Timestamp(ordered["imported_at"].max()))
            warehouse.insert_missing("quarantine", audit, QUARANTINE_KEYS, connection)
        fresh = ordered[ordered["news_id"].isin(fresh_ids)].drop_duplicates("news_id")
        warehouse.insert_frame(connection, "news", fresh[NEWS_COLUMNS])
        if quarantine is not None and not quarantine.empty:
            warehouse.insert_missing("quarantine", quarantine[QUARANTINE_COLUMNS],
                                     QUARANTINE_KEYS, connection)
    already = int((ordered["news_id"].isin(set(stored["news_id"]))
                   & ~ordered["news_id"].isin(fresh_ids)).sum())
    return StoredNews(inserted=len(fresh), duplicates=len(rows) - len(fresh) - already,
                      already_stored=already)


def _superseded_records(replaced: pd.DataFrame, kept: pd.DataFrame,
                        recorded_at: pd.Timestamp) -> pd.DataFrame:
    """Quarantine records for stored headlines replaced by a copy known earlier (``kept``:
    the copy kept of each dedupe key): the stored row as JSON, under its own source."""
    known = [pd.Timestamp(t).isoformat(sep=" ")
             for t in kept.loc[replaced["dedupe_key"], "available_at"]]
    symbols = replaced["symbol"].astype(object)
    return pd.DataFrame({
        "source": replaced["source"].to_numpy(),
        "symbol": symbols.where(symbols.notna() & (symbols != ""), None).to_numpy(),
        "as_of": pd.to_datetime(replaced["as_of"]).to_numpy(),
        "reason": [f"superseded by a copy known earlier ({t})" for t in known],
        "raw": raw_json(replaced),
        "recorded_at": recorded_at,
    }, columns=QUARANTINE_COLUMNS).drop_duplicates(QUARANTINE_KEYS)


@dataclass
class CheckedNews:
    """Headlines split into warehouse rows and quarantine records, with the reasons."""

    rows: pd.DataFrame
    quarantine: pd.DataFrame
    reasons: pd.Series  # per input row: why it was refused, or None
    bad: pd.Series
    parsed: list[tuple[datetime | None, str | None, bool]]


def check_headlines(frame: pd.DataFrame, raw: pd.DataFrame, zone: ZoneInfo, now: datetime,
                    source: str, quarantine_source: str,
                    available_from: datetime | None = None,
                    parsed: list[tuple[datetime | None, str | None, bool]] | None = None,
                    ) -> CheckedNews:
    """``frame`` (the canonical text columns; ``raw``: the rows as read, kept in the
    quarantine) checked: dated, titled and not in the future, or quarantined.
    ``parsed``: the dates already read and checked by the caller, as
    ``parse_published_at`` gives them (a feed's, read with the feed's own zone rules)."""
    if parsed is None:
        parsed = [parse_published_at(t, zone, now) for t in frame["published_at"]]
    frame = frame.assign(published_at=[p[0] for p in parsed])
    reasons = pd.Series([p[1] for p in parsed], index=frame.index, dtype=object)
    reasons = reasons.where(reasons.notna() | (frame["headline"] != ""), "empty headline")
    bad = reasons.notna()
    quarantine = pd.DataFrame({
        "source": quarantine_source,
        "symbol": frame.loc[bad, "symbol"].str.upper().where(frame.loc[bad, "symbol"] != "",
                                                             None).astype(object),
        "as_of": pd.to_datetime(frame.loc[bad, "published_at"]).dt.normalize(),
        "reason": reasons[bad].astype(str),
        "raw": raw_json(raw.loc[bad]),
        "recorded_at": now,
    }, columns=QUARANTINE_COLUMNS).drop_duplicates(QUARANTINE_KEYS)
    rows = news_rows(frame[~bad], source, generated=False, imported_at=now,
                     available_from=available_from)
    return CheckedNews(rows, quarantine, reasons, bad, parsed)


def import_news_file(path: Path | str, warehouse: Warehouse, timezone: str = "UTC",
                     source: str | None = None,
                     now: datetime | None = None) -> NewsImportReport:
    """Read, check and store a file of dated headlines; bad rows are quarantined.

    Raises ``NewsFileError`` when the file cannot be read as headlines (nothing written).
    """
    path = Path(path)
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise NewsFileError(f"unknown time zone {timezone!r} (use an IANA name such as "
                            "UTC or America/New_York)") from error
    raw = _read_raw(path)
    frame = _canonical(raw, path.name)
    now = now or datetime.now(UTC).replace(tzinfo=None)
    checked = check_headlines(frame, raw, zone, now, source or f"import:{path.name}",
                              f"news:{path.name}")
    rows, reasons, bad, parsed = checked.rows, checked.reasons, checked.bad, checked.parsed
    stored = store_news(warehouse, rows, checked.quarantine) \
        if len(rows) or len(checked.quarantine) else StoredNews(0, 0, 0)
    counted = Counter(reasons[bad].astype(str))
    day_only = sum(p[2] for p, b in zip(parsed, bad, strict=True) if not b)
    message = f"{path.name}: imported {stored.inserted} headline(s)"
    if len(rows):
        message += (f" ({rows['symbol'].nunique()} symbol(s), "
                    f"{int(rows['symbol'].isna().sum())} market-wide), "
                    f"{rows['published_at'].min():%Y-%m-%d %H:%M} to "
                    f"{rows['published_at'].max():%Y-%m-%d %H:%M} UTC")
    if stored.duplicates:
        message += f"; {stored.duplicates} duplicate(s) dropped (same headline, symbol, day)"
    if stored.already_stored:
        message += f"; {stored.already_stored} already stored"
    if day_only:
        message += (f"; {day_only} dated without a time of day, taken as 23:59:59 "
                    f"{zone.key}")
    if bad.any():
        details = ", ".join(f"{n} {why}" for why, n in counted.most_common())
        message += f"; quarantined {int(bad.sum())} row(s) ({details})"
    return NewsImportReport(imported=stored.inserted, quarantined=int(bad.sum()),
                            duplicates=stored.duplicates,
                            already_stored=stored.already_stored, reasons=counted,
                            day_only=day_only, message=message)


def write_drill(warehouse: Warehouse, kind: str, symbol: str | None, local_time: datetime,
                market: str | None = None) -> pd.DataFrame:
    """Store a drill's generated headlines (``generated = true``), published at
    ``local_time`` on the exchange of ``market`` (the symbol's by default); returns them."""
    from trade_pipelines.agent.markets import market_of_symbol, market_rules
    from trade_pipelines.agent.perception.news import drill_headlines

    symbol = symbol.strip().upper() if symbol and symbol.strip() else None
    rules = market_rules(market or (market_of_symbol(symbol) if symbol else "us"))
    published = pd.Timestamp(local_time).tz_localize(rules.timezone).tz_convert("UTC") \
        .tz_localize(None).to_pydatetime()
    drafted = drill_headlines(kind, symbol, published).assign(body="")
    rows = news_rows(drafted, f"drill:{kind}", generated=True,
                     imported_at=datetime.now(UTC).replace(tzinfo=None))
    store_news(warehouse, rows)
    return rows
