"""Bar validation: decide which daily bars are fit to trade on before anything reads them.

Every bar that enters the warehouse passes through :func:`validate_bars`, so the rules live
in one place. A bad row is never repaired or guessed at: it is set aside with the reason,
so a person can see exactly what was wrong with the original.

Canonical bar columns: ``symbol`` (str, stripped and upper-cased, as tickers are),
``as_of`` (``datetime.date``), ``open``, ``high``, ``low`` (float; all three NaN for an
honest close-only series), ``close`` (float) and ``volume`` (float, may be NaN). Other
columns are carried along untouched.

Rules, in the order they are checked (a rejected row carries the first one it breaks):

* missing symbol; missing or unparseable date (text dates must be year first:
  ``YYYY-MM-DD``, ``YYYY/MM/DD`` or ``YYYYMMDD``,
  optionally with a time and offset that do not move the day, so a day/month order is
  never guessed); a number that does not parse;
* missing or non-finite close; a non-finite open/high/low/volume;
* partial OHLC (some of open/high/low present but not all);
* a non-positive price; high < low; high below max(open, close) or low above
  min(open, close);
* negative volume;
* duplicate (symbol, as_of) rows: identical copies collapse to one, disagreeing copies are
  all rejected, since there is no way to know which one is right;
* rows out of date order within a symbol in the input's original order: the longest
  sequence of rows that is in date order is kept and the rest are rejected as "out of
  order", so one mistyped date costs one row rather than every row after it.

This module is pure pandas/numpy and must not import dagster.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

CANONICAL_COLUMNS = ["symbol", "as_of", "open", "high", "low", "close", "volume"]
NUMERIC_COLUMNS = ["open", "high", "low", "close", "volume"]
OHLC_RANGE_COLUMNS = ["open", "high", "low"]
PRICE_COLUMNS = ["open", "high", "low", "close"]

# Text that means "no value" in a numeric cell of a file.
MISSING_TOKENS = frozenset({"", "nan", "na", "n/a", "null", "none", "-"})
# An ISO day, optionally followed by a time and a UTC offset.
ISO_DAY = (r"^(\d{4}-\d{2}-\d{2})"
           r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")
# Relative slack for the high/low envelope checks, so float rounding in adjusted prices
# (OHLC multiplied by one ratio, the close rounded on its own) is not mistaken for a bad bar.
PRICE_TOLERANCE = 1e-6
# A close-to-close move larger than this on a stock is flagged by check_bars_frame.
JUMP_THRESHOLD = 0.5

REASON_MISSING_SYMBOL = "missing symbol"
REASON_MISSING_DATE = "missing date"
REASON_BAD_DATE = "unparseable date"
REASON_MISSING_CLOSE = "missing close"
REASON_PARTIAL_OHLC = "partial OHLC (open, high and low must be all present or all missing)"
REASON_NON_POSITIVE = "non-positive price"
REASON_HIGH_LOW = "high < low"
REASON_HIGH_BELOW = "high below open/close"
REASON_LOW_ABOVE = "low above open/close"
REASON_NEGATIVE_VOLUME = "negative volume"
REASON_DUPLICATE = "duplicate (symbol, as_of) with conflicting values"
REASON_OUT_OF_ORDER = "out of order"


class BarSchemaError(ValueError):
    """The bars cannot be validated at all: a required column or the file itself is wrong."""


@dataclass
class BarValidation:
    """The outcome of validating bars: what is fit to use and what was set aside, and why."""

    clean: pd.DataFrame
    rejected: pd.DataFrame
    duplicates_dropped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        """One line a person can read in a log or an error message."""
        text = f"{len(self.clean)} clean bar(s), {len(self.rejected)} rejected"
        if self.reasons:
            details = ", ".join(f"{count} {reason}" for reason, count in
                                self.reasons.most_common())
            text += f" ({details})"
        if self.duplicates_dropped:
            text += f"; {self.duplicates_dropped} identical duplicate row(s) collapsed"
        return text


def _is_missing_text(values: pd.Series) -> np.ndarray:
    """True where a cell holds nothing (null, or a textual 'no value' token)."""
    text = values.astype("string").str.strip().str.lower()
    return values.isna().to_numpy() | text.isin(MISSING_TOKENS).fillna(True).to_numpy()


def _parse_number(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Floats for a column, and a mask of cells that held something that is not a number."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64").to_numpy(), np.zeros(len(values), dtype=bool)
    missing = _is_missing_text(values)
    cleaned = values.astype(object).where(~missing, np.nan)
    if cleaned.map(lambda v: isinstance(v, str)).any():
        cleaned = cleaned.map(lambda v: v.strip() if isinstance(v, str) else v)
    parsed = pd.to_numeric(cleaned, errors="coerce").astype("float64").to_numpy()
    unparseable = ~missing & np.isnan(parsed)
    return parsed, unparseable


def _parse_dates(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Naive midnight timestamps for a date column, and a mask of cells that held nothing."""
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = pd.Series(values.to_numpy() if values.dt.tz is None
                           else values.dt.tz_localize(None).to_numpy())
        return stamps.dt.normalize(), stamps.isna().to_numpy()
    if pd.api.types.infer_dtype(values, skipna=True) == "date":
        # datetime.date objects (what the warehouse's dates become): no text round trip.
        stamps = pd.Series(pd.to_datetime(values, errors="coerce").to_numpy())
        return stamps, values.isna().to_numpy()
    missing = _is_missing_text(values)
    text = values.astype("string").str.strip().where(~missing)
    # Unambiguous year-first spellings: 2024/01/31 and 20240131 (day-first or month-first
    # forms such as 01/02/2024 stay rejected: they cannot be told apart).
    text = text.str.replace(r"^(\d{4})/(\d{2})/(\d{2})", r"\1-\2-\3", regex=True)
    text = text.str.replace(r"^(\d{4})(\d{2})(\d{2})$", r"\1-\2-\3", regex=True)
    # The calendar day as written; a time or UTC offset after it does not move the day.
    day = text.str.extract(ISO_DAY, expand=False)
    stamps = pd.to_datetime(day, errors="coerce", format="%Y-%m-%d")
    return pd.Series(stamps.to_numpy()), missing


def _normalise_symbols(values: pd.Series) -> pd.Series:
    """Stripped upper-case tickers (nullable strings), normalising each distinct value once."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
    normal = pd.Series(uniques, dtype=object).astype("string").str.strip().str.upper()
    picked = normal.to_numpy(dtype=object)[np.maximum(codes, 0)] if len(normal) else \
        np.full(len(codes), None, dtype=object)
    picked = np.where(codes >= 0, picked, None)
    return pd.Series(picked, dtype="string")


def _out_of_order(ordinals: np.ndarray) -> np.ndarray:
    """Mask of positions outside one longest non-decreasing subsequence of ``ordinals``."""
    tails: list[int] = []
    tail_at: list[int] = []
    parent = np.full(len(ordinals), -1)
    for i, value in enumerate(ordinals):
        slot = bisect.bisect_right(tails, value)
        if slot > 0:
            parent[i] = tail_at[slot - 1]
        if slot == len(tails):
            tails.append(value)
            tail_at.append(i)
        else:
            tails[slot] = value
            tail_at[slot] = i
    keep = np.zeros(len(ordinals), dtype=bool)
    i = tail_at[-1] if tail_at else -1
    while i >= 0:
        keep[i] = True
        i = parent[i]
    return ~keep


def validate_bars(frame: pd.DataFrame, *, check_order: bool = True) -> BarValidation:
    """Split bars into clean rows (canonical types, sorted) and rejected rows with reasons.

    ``rejected`` keeps the original values and index labels of each bad row, plus
    ``reason``. ``check_order=False`` skips the "out of order" rule, for frames whose row
    order means nothing (a table read back from the warehouse).
    """
    missing_columns = [c for c in CANONICAL_COLUMNS if c not in frame.columns]
    if missing_columns:
        raise BarSchemaError(
            f"bars are missing required column(s): {', '.join(missing_columns)} "
            f"(expected {', '.join(CANONICAL_COLUMNS)})"
        )
    n = len(frame)
    reason = np.full(n, None, dtype=object)

    def flag(mask: np.ndarray, why: str) -> None:
        reason[np.asarray(mask, dtype=bool) & pd.isna(reason)] = why

    symbol = _normalise_symbols(frame["symbol"])
    flag(symbol.isna().to_numpy() | (symbol == "").fillna(True).to_numpy(),
         REASON_MISSING_SYMBOL)

    stamps, date_missing = _parse_dates(frame["as_of"].reset_index(drop=True))
    flag(date_missing, REASON_MISSING_DATE)
    flag(stamps.isna().to_numpy(), REASON_BAD_DATE)

    numbers: dict[str, np.ndarray] = {}
    for column in NUMERIC_COLUMNS:
        numbers[column], unparseable = _parse_number(frame[column].reset_index(drop=True))
        flag(unparseable, f"unparseable {column}")

    close = numbers["close"]
    flag(np.isnan(close), REASON_MISSING_CLOSE)
    flag(np.isinf(close), "non-finite close")
    for column in ("open", "high", "low", "volume"):
        flag(np.isinf(numbers[column]), f"non-finite {column}")

    present = np.column_stack([~np.isnan(numbers[c]) for c in OHLC_RANGE_COLUMNS])
    n_present = present.sum(axis=1)
    flag((n_present > 0) & (n_present < len(OHLC_RANGE_COLUMNS)), REASON_PARTIAL_OHLC)

    with np.errstate(invalid="ignore"):
        prices = np.column_stack([numbers[c] for c in PRICE_COLUMNS])
        flag((prices <= 0).any(axis=1), REASON_NON_POSITIVE)
        high, low, open_ = numbers["high"], numbers["low"], numbers["open"]
        upper = np.fmax(open_, close)
        lower = np.fmin(open_, close)
        flag(high < low * (1 - PRICE_TOLERANCE), REASON_HIGH_LOW)
        flag(high < upper * (1 - PRICE_TOLERANCE), REASON_HIGH_BELOW)
        flag(low > lower * (1 + PRICE_TOLERANCE), REASON_LOW_ABOVE)
        flag(numbers["volume"] < 0, REASON_NEGATIVE_VOLUME)

    keyed = symbol.notna().to_numpy() & (symbol != "").fillna(False).to_numpy() \
        & stamps.notna().to_numpy()
    dropped = np.zeros(n, dtype=bool)
    work = pd.DataFrame({
        "symbol": symbol.to_numpy(dtype=object),
        "stamp": stamps.to_numpy(),
        **{c: numbers[c] for c in NUMERIC_COLUMNS},
        "row_reason": pd.Series(reason, dtype=object).fillna("").to_numpy(),
    })

    key_columns = ["symbol", "stamp"]
    duplicated = np.zeros(n, dtype=bool)
    duplicated[keyed] = work.loc[keyed].duplicated(key_columns, keep=False).to_numpy()
    if duplicated.any():
        copies = work.loc[duplicated]
        value_columns = NUMERIC_COLUMNS + ["row_reason"]
        distinct = copies.groupby(key_columns)[value_columns].nunique(dropna=False)
        conflicting = distinct.gt(1).any(axis=1).rename("conflicting")
        marks = copies.join(conflicting, on=key_columns)["conflicting"]
        conflict_positions = marks.index[marks.to_numpy(dtype=bool)]
        identical = copies.loc[~marks.to_numpy(dtype=bool)]
        extra_positions = identical.index[identical.duplicated(key_columns, keep="first")]
        dropped[extra_positions] = True
        conflict_mask = np.zeros(n, dtype=bool)
        conflict_mask[conflict_positions] = True
        flag(conflict_mask, REASON_DUPLICATE)

    if check_order:
        ordered = keyed & ~dropped
        ordinals = work["stamp"].to_numpy(dtype="datetime64[D]").astype("int64")
        positions = np.flatnonzero(ordered)
        if len(positions):
            sub = pd.DataFrame({"symbol": work["symbol"].to_numpy()[positions],
                                "ordinal": ordinals[positions]}, index=positions)
            previous_max = sub.groupby("symbol")["ordinal"].cummax().groupby(
                sub["symbol"]).shift(1)
            disordered = sub["symbol"][(sub["ordinal"] < previous_max).to_numpy()].unique()
            out_of_order = np.zeros(n, dtype=bool)
            for name in disordered:
                rows = sub.index[(sub["symbol"] == name).to_numpy()]
                out_of_order[rows[_out_of_order(sub.loc[rows, "ordinal"].to_numpy())]] = True
            flag(out_of_order, REASON_OUT_OF_ORDER)

    bad = pd.notna(reason) & ~dropped
    good = pd.isna(reason) & ~dropped
    rejected = frame.iloc[np.flatnonzero(bad)].copy()
    rejected["reason"] = pd.Series(reason[bad], index=rejected.index, dtype=object)

    extras = [c for c in frame.columns if c not in CANONICAL_COLUMNS]
    good_positions = np.flatnonzero(good)
    clean = pd.DataFrame({
        "symbol": symbol.to_numpy(dtype=object)[good_positions],
        "as_of": stamps.iloc[good_positions].dt.date.to_numpy(dtype=object),
        **{c: numbers[c][good_positions] for c in NUMERIC_COLUMNS},
    })
    for column in extras:
        clean[column] = frame[column].to_numpy()[good_positions]
    if len(clean):
        clean = clean.sort_values(["symbol", "as_of"], kind="stable").reset_index(drop=True)
    return BarValidation(
        clean=clean,
        rejected=rejected,
        duplicates_dropped=int(dropped.sum()),
        reasons=Counter(reason[bad].tolist()),
    )


def _examples(rows: pd.DataFrame, limit: int = 3) -> str:
    picked = [f"{s} {d}" for s, d in zip(rows["symbol"].head(limit), rows["as_of"].head(limit),
                                         strict=True)]
    more = len(rows) - len(picked)
    return ", ".join(picked) + (f" and {more} more" if more > 0 else "")


def check_bars_frame(
    frame: pd.DataFrame,
    *,
    jump_threshold: float = JUMP_THRESHOLD,
    accepted_jumps: Collection[tuple[str, date]] = (),
) -> list[str]:
    """Every problem with bars already stored: the broken rules, then suspicious jumps."""
    rules, clean = _rule_problems(frame)
    return [*rules, *_jumps(clean, jump_threshold, accepted_jumps)]


def broken_bar_rules(frame: pd.DataFrame) -> list[str]:
    """Bars already stored that break the rules of :func:`validate_bars` (row order
    excepted: a table has none): the blocking data-quality check."""
    return _rule_problems(frame)[0]


def suspicious_jumps(
    frame: pd.DataFrame,
    *,
    jump_threshold: float = JUMP_THRESHOLD,
    accepted_jumps: Collection[tuple[str, date]] = (),
) -> list[str]:
    """Close-to-close moves above ``jump_threshold`` on a stock, for review.

    Indices (symbols starting with ``^``, like the VIX) are exempt, as are
    ``accepted_jumps`` (symbol, day) pairs a person has already checked. A price repeated
    for days is not a problem: thin or halted names really do that. Moves are measured
    between consecutive bars present in ``frame``, so include the bar before the range to
    check its first day.
    """
    return _jumps(_rule_problems(frame)[1], jump_threshold, accepted_jumps)


def _rule_problems(frame: pd.DataFrame) -> tuple[list[str], pd.DataFrame]:
    if frame.empty:
        return [], frame
    validation = validate_bars(frame, check_order=False)
    problems: list[str] = []
    if len(validation.rejected):
        rejected = validation.rejected
        for why, count in validation.reasons.most_common():
            rows = rejected[rejected["reason"] == why]
            problems.append(f"{count} bar(s) with {why}: {_examples(rows)}")
    if validation.duplicates_dropped:
        problems.append(
            f"{validation.duplicates_dropped} duplicate (symbol, as_of) row(s) with identical "
            "values"
        )
    return problems, validation.clean


def _jumps(clean: pd.DataFrame, jump_threshold: float,
           accepted_jumps: Collection[tuple[str, date]]) -> list[str]:
    if len(clean) <= 1:
        return []
    previous_close = clean.groupby("symbol")["close"].shift(1)
    previous_day = clean.groupby("symbol")["as_of"].shift(1)
    move = clean["close"] / previous_close - 1
    accepted = {(s.upper(), d) for s, d in accepted_jumps}
    is_stock = ~clean["symbol"].str.startswith("^")
    return [
        f"suspicious jump: {row['symbol']} {row['as_of']} close moved "
        f"{move[i]:+.1%} from {previous_close[i]:g} ({previous_day[i]}) to {row['close']:g}"
        for i, row in clean[(move.abs() > jump_threshold) & is_stock].iterrows()
        if (row["symbol"], row["as_of"]) not in accepted
    ]
