"""Bars from a configured source into the warehouse, every source by the same rules.

Whatever the source (the built-in datasets, yfinance, a user's file), rows pass
``validate_bars`` before anything is written: clean rows go to ``bars``, the others to
``quarantine`` with the reason and the raw values, in one transaction. Bars a user
imported are never overwritten by a source loader: an import is a deliberate choice. A
live source does not rewrite a stored bar either: the bar keeps the values and the
``available_at`` a run saw, so a later revision cannot reach back into decided days (a
source's revision of a stored day is not applied; the asset's warnings name it). The one
exception is a stored bar the blocking split/bad-print check flags (judged as that check
judges it, with the benchmark): the source's corrected bar replaces it, keeping its
session's ``available_at``, and the flagged one is quarantined (see ``on_stored_basis``).

:func:`session_gap` answers the schedules' question "can the source give me this
session's bar?" without writing anything, so a tick can skip with a reason instead of
launching a run that is bound to fail.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from trade_pipelines.agent.markets import market_of_symbols, market_rules
from trade_pipelines.agent.perception.validation import BarValidation, validate_bars
from trade_pipelines.market_data import BAR_COLUMNS, bars_available_at
from trade_pipelines.market_data.errors import DataSourceUnavailable
from trade_pipelines.warehouse.connection import Warehouse

# ``live``: the market's chain of live sources (market_data/source_chain.py).
SOURCES = ("builtin", "yfinance", "live", "warehouse")
QUARANTINE_COLUMNS = ["source", "symbol", "as_of", "reason", "raw", "recorded_at"]
# A quarantine record is kept once per (source, raw row, reason), however often it recurs.
QUARANTINE_KEYS = ["source", "raw", "reason"]
BASIS_FACTOR_COLUMNS = ["symbol", "source", "first_day", "last_day", "factor",
                        "overlap_days", "recorded_at"]
IMPORTED = "import:%"
CONFIGURE = ("set TRADE_PIPELINES_SOURCE=yfinance for live bars (needs a network), or "
             "import your own bars (`trade-pipelines import-bars FILE`, or drop the file "
             "into the home's inbox/) and set TRADE_PIPELINES_SOURCE=warehouse")


def check_source(source: str) -> str:
    """The source name, or a ValueError that lists the valid ones."""
    if source not in SOURCES:
        raise ValueError(f"unknown market data source {source!r}: use "
                         f"{', '.join(repr(s) for s in SOURCES)}")
    return source


@dataclass
class LoadReport:
    """What a load wrote, and what it refused (quarantine records, newest load only)."""

    loaded: int = 0
    refused: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=QUARANTINE_COLUMNS))
    # A live chain's active source, its score and cache use (asset metadata), and its
    # per-source quality table as Markdown.
    source_metadata: dict[str, Any] = field(default_factory=dict)
    source_quality: str = ""

    def refused_lines(self, limit: int = 50) -> list[str]:
        """One line per refused row, for the asset check's metadata."""
        return [f"{r.symbol} {pd.Timestamp(r.as_of).date() if pd.notna(r.as_of) else '?'}: "
                f"{r.reason} ({r.source})"
                for r in self.refused.head(limit).itertuples()]


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


def raw_json(raw: pd.DataFrame) -> list[str]:
    """Each row as JSON under its own column names: what the quarantine keeps."""
    columns = [str(c) for c in raw.columns]
    return [
        json.dumps(dict(zip(columns, (_jsonable(v) for v in row), strict=True)))
        for row in raw.itertuples(index=False, name=None)
    ]


def _quarantined_bars(bars: pd.DataFrame, reason: str, now: datetime) -> pd.DataFrame:
    """Quarantine records of whole bars (stored or delivered), kept as they were."""
    return pd.DataFrame({
        "source": bars["source"].astype(str).to_numpy(),
        "symbol": bars["symbol"].astype(str).to_numpy(),
        "as_of": pd.to_datetime(bars["as_of"]).to_numpy(), "reason": reason,
        "raw": raw_json(bars.drop(columns=["available_at"])), "recorded_at": now},
        columns=QUARANTINE_COLUMNS)


def quarantine_rows(raw: pd.DataFrame, validation: BarValidation, source: str | pd.Series,
                    recorded_at: datetime) -> pd.DataFrame:
    """Quarantine records for the rejected rows; ``raw`` holds the rows as received,
    indexed like the frame that was validated."""
    rejected = validation.rejected
    symbol = rejected["symbol"].astype("string").str.strip().str.upper()
    symbol = symbol.where(symbol != "")
    day = pd.to_datetime(rejected["as_of"].astype("string").str.strip(), errors="coerce",
                         format="ISO8601")
    if isinstance(source, pd.Series):
        source = source.loc[rejected.index].astype(str).to_numpy()
    rows = pd.DataFrame({
        "source": source,
        "symbol": symbol.astype(object).where(symbol.notna(), None).to_numpy(),
        "as_of": day.to_numpy(),
        "reason": rejected["reason"].astype(str).to_numpy(),
        "raw": raw_json(raw.loc[rejected.index]),
        "recorded_at": recorded_at,
    }, columns=QUARANTINE_COLUMNS)
    return rows.drop_duplicates(QUARANTINE_KEYS).reset_index(drop=True)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def imported_symbols(store: Warehouse) -> set[str]:
    """Symbols with bars a user imported: no source loader touches them."""
    found = store.query("SELECT DISTINCT symbol FROM bars WHERE source LIKE ?", [IMPORTED])
    return set(found["symbol"]) if not found.empty else set()


def _stored(clean: pd.DataFrame, market: str = "us") -> pd.DataFrame:
    """``clean`` with each bar's ``available_at``: its market's close that day."""
    return clean.assign(
        available_at=bars_available_at(clean["as_of"], market,
                                       clean["symbol"]).to_numpy())[BAR_COLUMNS]


def load_builtin(store: Warehouse, symbols: list[str], start: date, end: date,
                 market: str | None = None) -> LoadReport:
    """Built-in bars of ``symbols`` up to ``end``: the window rewritten, the history before
    it only filled in where missing (features need a look-back, and setup records and the
    gene pool read the whole past, so a replay can start anywhere). ``market`` (us, cn,
    hk, crypto) names the built-in data and the close the bars are known at; by default
    the symbols' spelling decides."""
    from trade_pipelines.market_data.builtin import builtin_rejected, load_builtin_bars

    market = market_rules(market or market_of_symbols(symbols)).code
    imported = imported_symbols(store)

    def in_scope(frame: pd.DataFrame) -> pd.DataFrame:
        days = pd.to_datetime(frame["as_of"], errors="coerce")
        return frame[(days <= pd.Timestamp(end)) & frame["symbol"].isin(symbols)
                     & ~frame["symbol"].isin(imported)]

    clean = _stored(in_scope(load_builtin_bars(market)), market)
    rejected = in_scope(builtin_rejected(market))
    validation = BarValidation(clean=clean, rejected=rejected)
    records = quarantine_rows(rejected.drop(columns=["reason"]), validation,
                              rejected["source"], _now())
    in_window = clean["as_of"] >= start
    with store.transaction() as connection:
        store.upsert("bars", clean[in_window], ["symbol", "as_of"], connection)
        store.insert_missing("bars", clean[~in_window], ["symbol", "as_of"], connection)
        store.insert_missing("quarantine", records, QUARANTINE_KEYS, connection)
    days = pd.to_datetime(records["as_of"])
    refused = records[(days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end))]
    return LoadReport(loaded=len(clean), refused=refused.reset_index(drop=True))


def load_yfinance(store: Warehouse, symbols: list[str], start: date, end: date,
                  timeout_s: float = 10) -> LoadReport:
    """Live bars for [start, end]; raises ``DataSourceUnavailable`` (nothing written) when
    yfinance cannot deliver every symbol. Imported symbols are not fetched."""
    from trade_pipelines.market_data.yfinance_source import YFinanceSource

    wanted = [s for s in symbols if s not in imported_symbols(store)]
    if not wanted:
        return LoadReport()
    fetched = YFinanceSource(timeout_s=timeout_s).fetch(wanted, start, end)
    validation = validate_bars(fetched)
    clean = _stored(validation.clean, market_of_symbols(wanted))
    # A session not closed yet (Yahoo serves the day's bar while it trades) is left for
    # the fetch after its close: its values are not final.
    clean = clean[clean["available_at"] <= pd.Timestamp(_now())].reset_index(drop=True)
    records = quarantine_rows(validation.rejected.drop(columns=["reason"]), validation,
                              fetched["source"], _now())
    ready = on_stored_basis(store, clean, market_of_symbols(wanted))
    loaded = _store_live(store, ready, records)
    return LoadReport(loaded=loaded, refused=records,
                      source_metadata={"source_warnings": " | ".join(ready.notes)}
                      if ready.notes else {})


def load_live(store: Warehouse, symbols: list[str], start: date, end: date,
              timeout_s: float = 10) -> LoadReport:
    """Live bars for [start, end] from the market's source chain: each symbol from the
    best source that answers, or from the cache when none does (with a warning). Every
    source's score goes to ``source_quality``. Raises ``DataSourceUnavailable`` (bars
    untouched) naming the symbols neither a source nor the cache could serve."""
    from trade_pipelines.agent.markets import market_of_symbols
    from trade_pipelines.market_data.accepted_jumps import accepted_jumps
    from trade_pipelines.market_data.source_chain import market_chain
    from trade_pipelines.settings import Paths

    wanted = [s for s in symbols if s not in imported_symbols(store)]
    if not wanted:
        return LoadReport()
    market = market_of_symbols(wanted)
    chain = market_chain(market, Paths(store.path.parent).cache, timeout_s=timeout_s,
                         accepted_jumps=accepted_jumps(store.path.parent))
    result = chain.fetch(wanted, start, end)
    quality = result.quality_rows(_now(), end)
    if result.unavailable:
        store.append("source_quality", quality)
        raise DataSourceUnavailable(
            "no live source and no cache has bars for " + "; ".join(
                f"{s} ({why})" for s, why in result.unavailable.items()),
            list(result.unavailable))
    fetched = result.bars
    validation = validate_bars(fetched)
    clean = _stored(validation.clean, market)
    records = quarantine_rows(validation.rejected.drop(columns=["reason"]), validation,
                              fetched["source"], _now())
    aside = result.set_aside  # bars on the share basis before an unadjusted jump
    if not aside.empty:
        records = pd.concat([records, quarantine_rows(
            aside.drop(columns=["reason"]), BarValidation(clean=aside.iloc[0:0], rejected=aside),
            aside["source"], _now())], ignore_index=True)
    ready = on_stored_basis(store, clean, market)
    metadata = result.metadata()
    if ready.notes:
        metadata["source_warnings"] = " | ".join(
            [w for w in [metadata.get("source_warnings", "none")] if w != "none"]
            + ready.notes)
    loaded = _store_live(store, ready, records, quality)
    return LoadReport(loaded=loaded, refused=records, source_metadata=metadata,
                      source_quality=result.quality_markdown())


@dataclass
class OnStoredBasis:
    """A live delivery made ready to store: its ``bars`` on the stored share basis, the
    ``factors`` newly seen (``basis_factors`` rows), ``corrections`` (stored bars the
    blocking checks flag, replaced by the source's revised bar) with the ``replaced``
    versions as quarantine records, and ``notes`` for the asset's warnings."""

    bars: pd.DataFrame
    factors: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=BASIS_FACTOR_COLUMNS))
    corrections: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=BAR_COLUMNS))
    replaced: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=QUARANTINE_COLUMNS))
    notes: list[str] = field(default_factory=list)


def on_stored_basis(store: Warehouse, fresh: pd.DataFrame, market: str) -> OnStoredBasis:
    """``fresh`` (a live delivery of ``market``) divided onto the share basis of each
    symbol's stored bars. A forward-adjusted source re-bases its whole history at each
    dividend or bonus issue; the warehouse keeps the basis its bars were stored on
    instead, so nothing committed is rewritten, a replay of a past month sees the prices
    it saw then, and a held quantity keeps its value without a position adjustment
    (volumes are scaled the other way, so a share's liquidity stays what it was).

    The factor is measured on the last common days (``basis_change``), without the
    stored days the blocking check flags; a delivery with no day in common gets the last
    factor recorded for its symbol and source, with a warning. A factor is recorded (and
    warned of) only when it differs from that last one by more than ``BASIS_AGREEMENT``:
    each dividend is one row. A stored day the delivery revises is kept as it was seen,
    its revision quarantined as not applied, unless the blocking check flags the stored
    bar on its own day (then its partition could never pass, and no run traded on it):
    the revised bar replaces it, keeping its session's ``available_at``, and the stored
    one is quarantined. (A run that read the flagged bar only as look-back before its
    window would read the corrected one on a rerun.)
    """
    from trade_pipelines.agent.perception.validation import split_suspects
    from trade_pipelines.market_data.accepted_jumps import accepted_jumps
    from trade_pipelines.market_data.source_chain import BASIS_AGREEMENT, basis_change, rebased

    out = OnStoredBasis(bars=fresh)
    if fresh.empty or not store.table_exists("bars"):
        return out
    symbols = sorted(fresh["symbol"].unique())
    benchmark = market_rules(market).benchmark_symbol
    stored = store.query(
        f"SELECT {', '.join(BAR_COLUMNS)} FROM bars WHERE list_contains(?, symbol) "
        "ORDER BY symbol, as_of", [sorted({*symbols, benchmark})])
    if stored.empty:
        return out
    stored["as_of"] = pd.to_datetime(stored["as_of"]).dt.date
    index = stored[stored["symbol"] == benchmark]
    recorded = _last_factors(store, symbols)
    accepted = accepted_jumps(store.path.parent)
    parts, rows, corrections, replaced = [], [], [], []
    now = _now()
    for symbol, delivered in fresh.groupby("symbol", sort=False):
        days = pd.to_datetime(delivered["as_of"]).dt.date
        delivered = delivered.assign(as_of=days.to_numpy())
        mine = stored[stored["symbol"] == symbol]
        if mine.empty:
            parts.append(delivered)
            continue
        # The stored bars the blocking check flags, judged as it judges them (with the
        # benchmark's moves); they neither measure the factor nor stay once corrected.
        flagged = set(split_suspects(
            pd.concat([mine, index], ignore_index=True) if symbol != benchmark else mine,
            benchmark_symbol=benchmark, market=market, accepted_jumps=accepted,
            history_starts={str(symbol): min(mine["as_of"])})["as_of"])
        overlap = set(days) & set(mine["as_of"])
        last = recorded.get((str(symbol), str(delivered["source"].iloc[0])))
        factor = basis_change(mine[~mine["as_of"].isin(flagged)], delivered) \
            if overlap - flagged else last
        if not overlap:
            out.notes.append(
                f"{symbol}: the bars delivered {days.min()}..{days.max()} have no day in "
                "common with the stored ones, so their share basis cannot be checked; "
                + (f"the last recorded factor x{last:.6g} is applied" if last is not None
                   else "stored as delivered (no factor on record)"))
        on_basis = delivered if factor is None else rebased(delivered, 1 / factor,
                                                            volumes=True)
        parts.append(on_basis)
        if overlap and factor is not None and (
                last is None or abs(factor / last - 1) > BASIS_AGREEMENT):
            rows.append({"symbol": symbol, "source": str(delivered["source"].iloc[0]),
                         "first_day": days.min(), "last_day": days.max(),
                         "factor": factor, "overlap_days": len(overlap),
                         "recorded_at": now})
            out.notes.append(
                f"{symbol}: the bars delivered {days.min()}..{days.max()} are on another "
                f"share basis (x{factor:.6g} of the stored ones on their last common days: "
                "a dividend or bonus issue re-based the forward-adjusted history); stored "
                "divided by it, on the stored basis")
        revised = _revised_days(mine, on_basis)
        if not revised:
            continue
        # Only a bar its own day's check would have blocked: one flagged later (undone
        # by the next bar) passed that day and was traded on, so it stays as it was seen.
        fixed = [d for d in revised if d in flagged and d in set(split_suspects(
            pd.concat([mine[mine["as_of"] <= d], index[index["as_of"] <= d]],
                      ignore_index=True) if symbol != benchmark else mine[mine["as_of"] <= d],
            benchmark_symbol=benchmark, market=market, accepted_jumps=accepted,
            history_starts={str(symbol): min(mine["as_of"])})["as_of"])]
        kept = [d for d in revised if d not in fixed]
        if fixed:
            corrections.append(on_basis[on_basis["as_of"].isin(fixed)])
            old = mine[mine["as_of"].isin(fixed)]
            replaced.append(_quarantined_bars(
                old, "flagged by the split/bad-print check; replaced by the source's "
                     "revised bar", now))
            out.notes.append(f"{symbol}: the source corrected the stored bar(s) of "
                             f"{', '.join(str(d) for d in fixed[:5])}, which the checks "
                             "flag; replaced, the stored versions quarantined")
        if kept:
            unapplied = on_basis[on_basis["as_of"].isin(kept)]
            replaced.append(_quarantined_bars(
                unapplied, "source revision of a stored bar, not applied (the stored bar "
                           "stays as it was seen)", now))
            out.notes.append(f"{symbol}: the source revised the stored close of "
                             f"{', '.join(str(d) for d in kept[:5])}"
                             f"{' ...' if len(kept) > 5 else ''}; the stored bars are kept")
    out.bars = pd.concat(parts, ignore_index=True)
    if rows:
        out.factors = pd.DataFrame(rows, columns=BASIS_FACTOR_COLUMNS)
    if corrections:
        out.corrections = pd.concat(corrections, ignore_index=True)[BAR_COLUMNS]
    if replaced:
        out.replaced = pd.concat(replaced, ignore_index=True)
    return out


def _last_factors(store: Warehouse, symbols: list[str]) -> dict[tuple[str, str], float]:
    """Each (symbol, source)'s last recorded share-basis factor: another source's basis
    says nothing of this one's."""
    if not store.table_exists("basis_factors"):
        return {}
    last = store.query(
        "SELECT symbol, source, arg_max(factor, recorded_at) AS factor FROM basis_factors "
        "WHERE list_contains(?, symbol) GROUP BY symbol, source", [symbols])
    return {(str(s), str(src)): float(f) for s, src, f in
            zip(last["symbol"], last["source"], last["factor"], strict=True)}


def _store_live(store: Warehouse, ready: OnStoredBasis, records: pd.DataFrame,
                quality: pd.DataFrame | None = None) -> int:
    """A live delivery in one transaction: new days added (a stored day is never
    rewritten, but for the flagged ones the source corrected), the corrected bars'
    stored versions and the refused rows quarantined, new factors and the source scores
    recorded. Returns how many bars were added."""
    with store.transaction() as connection:
        store.insert_missing("quarantine", _joined(records, ready.replaced),
                             QUARANTINE_KEYS, connection)
        store.upsert("bars", ready.corrections, ["symbol", "as_of"], connection)
        loaded = store.insert_missing("bars", ready.bars, ["symbol", "as_of"], connection)
        store.append("basis_factors", ready.factors, connection)
        if quality is not None:
            store.append("source_quality", quality, connection)
    return loaded


def _joined(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """Both frames' rows (an empty one adds nothing, and no dtype warning)."""
    parts = [f for f in (first, second) if len(f)]
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else (
        parts[0] if parts else first)


def _revised_days(stored: pd.DataFrame, delivered: pd.DataFrame) -> list[date]:
    """Days both have whose closes differ by more than the sources' disagreement
    tolerance."""
    from trade_pipelines.market_data.source_chain import QualityPolicy

    both = stored.merge(delivered[["as_of", "close"]], on="as_of", suffixes=("", "_new"))
    moved = (both["close_new"] / both["close"] - 1).abs() \
        > QualityPolicy().disagreement_tolerance
    return sorted(both.loc[moved, "as_of"])


def load_bars(source: str, store: Warehouse, symbols: list[str], start: date, end: date,
              look_back: timedelta, market: str | None = None) -> LoadReport:
    """Load the window of ``source`` into the warehouse (``warehouse``: nothing to load,
    the bars are already there). ``look_back`` is the history a live source fetches
    before ``start`` so features are complete. ``market``: whose built-in data (by
    default the symbols' market)."""
    if check_source(source) == "builtin":
        return load_builtin(store, symbols, start, end, market)
    if source == "yfinance":
        return load_yfinance(store, symbols, start - look_back, end)
    if source == "live":
        return load_live(store, symbols, start - look_back, end)
    return LoadReport()


def session_gap(source: str, store: Warehouse, universe: list[str], symbols: list[str],
                session: date, timeout_s: float = 10, market: str | None = None) -> str | None:
    """Why ``source`` has no bar for ``session`` for the traded ``universe`` (with the
    setting to change), or None when it has. ``symbols`` is everything a run loads
    (universe, benchmark, volatility index): a live source must deliver them all."""
    if check_source(source) in ("yfinance", "live"):
        from trade_pipelines.agent.markets import market_of_symbols

        closes = bars_available_at(pd.Series([session] * len(symbols)),
                                   market or market_of_symbols(symbols), pd.Series(symbols))
        if closes.max() > pd.Timestamp(_now()):
            return (f"the {session} session has not closed yet: its last bar is final at "
                    f"{closes.max():%Y-%m-%d %H:%M} UTC")
    if source == "yfinance":
        from trade_pipelines.market_data.yfinance_source import YFinanceSource

        try:
            YFinanceSource(timeout_s=timeout_s).fetch(symbols, session, session)
        except DataSourceUnavailable as error:
            return (f"yfinance has no bar for the {session} session yet: {error}. "
                    "The cycle runs once Yahoo Finance answers (check the network); "
                    "or import bars and set TRADE_PIPELINES_SOURCE=warehouse")
        return None
    if source == "live":
        from trade_pipelines.agent.markets import market_of_symbols
        from trade_pipelines.market_data.accepted_jumps import accepted_jumps
        from trade_pipelines.market_data.source_chain import market_chain
        from trade_pipelines.settings import Paths

        chain = market_chain(market_of_symbols(symbols), Paths(store.path.parent).cache,
                             timeout_s=timeout_s,
                             accepted_jumps=accepted_jumps(store.path.parent))
        result = chain.fetch(symbols, session, session)
        delivered = set(result.bars["symbol"]) if not result.bars.empty else set()
        lacking = [s for s in symbols if s not in delivered]
        if lacking:
            why = "; ".join(f"{s}: {result.unavailable.get(s, 'no bar')}" for s in lacking)
            return (f"the live sources have no bar for the {session} session yet ({why}). "
                    "The cycle runs once a source answers (check the network, and "
                    "TUSHARE_TOKEN for A-shares); or import bars and set "
                    "TRADE_PIPELINES_SOURCE=warehouse")
        return None
    stored = store.query("SELECT count(*) AS n FROM bars WHERE as_of = ? "
                         "AND list_contains(?, symbol)", [session, universe]) \
        if store.table_exists("bars") else pd.DataFrame()
    if not stored.empty and stored["n"].iloc[0] > 0:
        return None
    if source == "builtin":
        from trade_pipelines.market_data.builtin import load_builtin_bars

        bars = load_builtin_bars(market or market_of_symbols(universe))
        ours = bars[bars["symbol"].isin(universe)]
        if (ours["as_of"] == session).any():
            return None
        last = ours["as_of"].max() if not ours.empty else None
        return (f"the built-in data has no bar for the {session} session (it ends {last}); "
                f"to trade live, {CONFIGURE}")
    return (f"the warehouse has no bar for the {session} session for "
            f"{', '.join(universe)}: import them (`trade-pipelines import-bars FILE` or the "
            "inbox/ folder), or set TRADE_PIPELINES_SOURCE=yfinance for live bars")
