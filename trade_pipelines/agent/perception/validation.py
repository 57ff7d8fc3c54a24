"""Bar validation: decide which daily bars are fit to trade on before anything reads them.

Every bar that enters the warehouse passes through :func:`validate_bars`, so the rules live
in one place. A bad row is never repaired or guessed at: it is set aside with the reason,
so a person can see exactly what was wrong with the original.

Canonical bar columns: ``symbol`` (str, stripped and upper-cased, as tickers are),
``as_of`` (``datetime.date``), ``open``, ``high``, ``low`` (float; all three NaN for an
honest close-only series), ``close`` (float) and ``volume`` (float, may be NaN). Other
columns are carried along untouched.

Two stages. This module reads what a file or a source gave into canonical columns, which
great-expectations cannot do: missing symbol; missing or unparseable date (text dates must
be year first: ``YYYY-MM-DD``, ``YYYY/MM/DD`` or ``YYYYMMDD``, optionally with a time and
offset that do not move the day, so a day/month order is never guessed); a number that
does not parse; a non-finite number; identical duplicate rows collapse to one; and, in a
file's own row order, the longest sequence of a symbol's rows in date order is kept and
the rest are "out of order", so one mistyped date costs one row rather than every row
after it. Then the great-expectations suite of :mod:`bar_suite` gives every other row
verdict (missing close, partial OHLC, non-positive price, the high/low envelope, negative
volume, conflicting duplicates, time not increasing), each failing row by its index with
the reason of the first expectation it fails.

This module is pure pandas/numpy (great_expectations is imported when a suite runs) and
must not import dagster.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from trade_pipelines.agent.markets import market_rules
from trade_pipelines.agent.perception.bar_suite import (
    CANONICAL_COLUMNS,
    NUMERIC_COLUMNS,
    PRICE_COLUMNS,
    PRICE_TOLERANCE,
    REASON_DUPLICATE,
    REASON_HIGH_BELOW,
    REASON_HIGH_LOW,
    REASON_LOW_ABOVE,
    REASON_MISSING_CLOSE,
    REASON_NEGATIVE_VOLUME,
    REASON_NON_POSITIVE,
    REASON_OFF_CALENDAR,
    REASON_OUT_OF_ORDER,
    REASON_PARTIAL_OHLC,
    ROW_EXPECTATIONS,
    run_bar_suite,
    suite_frame,
)

__all__ = [
    "CANONICAL_COLUMNS", "NUMERIC_COLUMNS", "PRICE_COLUMNS", "PRICE_TOLERANCE",
    "REASON_DUPLICATE", "REASON_HIGH_BELOW", "REASON_HIGH_LOW", "REASON_LOW_ABOVE",
    "REASON_MISSING_CLOSE", "REASON_NEGATIVE_VOLUME", "REASON_NON_POSITIVE",
    "REASON_OFF_CALENDAR", "REASON_OUT_OF_ORDER", "REASON_PARTIAL_OHLC", "BarSchemaError",
    "BarValidation", "broken_bar_rules", "check_bars_frame", "decided_by",
    "failed_rows_markdown", "split_suspects", "suspicious_jumps", "validate_bars",
]

# Text that means "no value" in a numeric cell of a file.
MISSING_TOKENS = frozenset({"", "nan", "na", "n/a", "null", "none", "-"})
# An ISO day, optionally followed by a time and a UTC offset.
ISO_DAY = (r"^(\d{4}-\d{2}-\d{2})"
           r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")
# A close-to-close move larger than this on a stock is flagged by check_bars_frame.
JUMP_THRESHOLD = 0.5

REASON_MISSING_SYMBOL = "missing symbol"
REASON_MISSING_DATE = "missing date"
REASON_BAD_DATE = "unparseable date"
# What decided each reason: an expectation of the suite, or reading the file.
READING = "reading the file into canonical columns"
LONGEST_IN_ORDER = "the longest run of a symbol's rows in date order is kept"


def decided_by(reason: str) -> str:
    """The expectation (or reading step) that gives rows this reason."""
    if reason.startswith(REASON_IMPLAUSIBLE):
        return (f"split_suspects (a close {IMPLAUSIBLE_FACTOR:g} times the previous one or "
                f"a fifth of it, or a high/low that far from the open and close)")
    if reason.startswith(REASON_SPLIT):
        return (f"split_suspects (overnight close ratio within {SPLIT_TOLERANCE:.0%} of a "
                f"split factor while the benchmark moved less than {CALM_MARKET_MOVE:.0%}, "
                "or a move beyond the daily price limit)")
    if reason == REASON_OFF_CALENDAR:
        return ("ExpectColumnValuesToBeInSet(column='epoch_day', "
                "value_set=<the market's sessions>)")
    kinds = [spec.describe() for spec in ROW_EXPECTATIONS if spec.reason == reason]
    if reason == REASON_OUT_OF_ORDER:
        kinds.append(LONGEST_IN_ORDER)
    return " or ".join(kinds) or READING


class BarSchemaError(ValueError):
    """The bars cannot be validated at all: a required column or the file itself is wrong."""


@dataclass
class BarValidation:
    """The outcome of validating bars: what is fit to use and what was set aside, and why.

    ``table_failures`` are the suite's table expectations that failed (freshness, in
    live mode): they condemn the table, not a row.
    """

    clean: pd.DataFrame
    rejected: pd.DataFrame
    duplicates_dropped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    table_failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line a person can read in a log or an error message."""
        text = f"{len(self.clean)} clean bar(s), {len(self.rejected)} rejected"
        if self.reasons:
            details = ", ".join(f"{count} {reason}" for reason, count in
                                self.reasons.most_common())
            text += f" ({details})"
        if self.duplicates_dropped:
            text += f"; {self.duplicates_dropped} identical duplicate row(s) collapsed"
        if self.table_failures:
            text += "; " + "; ".join(self.table_failures)
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


def validate_bars(frame: pd.DataFrame, *, check_order: bool = True,
                  fresh_since: date | None = None,
                  sessions: Collection[date] | None = None) -> BarValidation:
    """Split bars into clean rows (canonical types, sorted) and rejected rows with reasons.

    ``rejected`` keeps the original values and index labels of each bad row, plus
    ``reason``. ``check_order=False`` skips the "out of order" rule, for frames whose row
    order means nothing (a table read back from the warehouse). ``fresh_since`` adds the
    suite's freshness expectation (live mode): the newest bar must be on or after it.
    ``sessions`` (the market calendar's sessions over the bars' span) rejects bars on any
    other day, as "not a session of the market's calendar".
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

    for column in ("close", "open", "high", "low", "volume"):
        flag(np.isinf(numbers[column]), f"non-finite {column}")

    keyed = symbol.notna().to_numpy() & (symbol != "").fillna(False).to_numpy() \
        & stamps.notna().to_numpy()
    dropped = np.zeros(n, dtype=bool)
    work = pd.DataFrame({
        "symbol": symbol.to_numpy(dtype=object),
        "as_of": stamps.to_numpy(),
        **{c: numbers[c] for c in NUMERIC_COLUMNS},
        "row_reason": pd.Series(reason, dtype=object).fillna("").to_numpy(),
    })

    # Identical copies of a row collapse to one (the suite then finds conflicting ones).
    key_columns = ["symbol", "as_of"]
    duplicated = np.zeros(n, dtype=bool)
    duplicated[keyed] = work.loc[keyed].duplicated(key_columns, keep=False).to_numpy()
    if duplicated.any():
        copies = work.loc[duplicated]
        distinct = copies.groupby(key_columns)[[*NUMERIC_COLUMNS, "row_reason"]].nunique(
            dropna=False)
        conflicting = distinct.gt(1).any(axis=1).rename("conflicting")
        marks = copies.join(conflicting, on=key_columns)["conflicting"].to_numpy(dtype=bool)
        identical = copies.loc[~marks]
        dropped[identical.index[identical.duplicated(key_columns, keep="first")]] = True

    out_of_order = np.zeros(n, dtype=bool)
    if check_order:
        ordered = keyed & ~dropped
        ordinals = work["as_of"].to_numpy(dtype="datetime64[D]").astype("int64")
        positions = np.flatnonzero(ordered)
        if len(positions):
            sub = pd.DataFrame({"symbol": work["symbol"].to_numpy()[positions],
                                "ordinal": ordinals[positions]}, index=positions)
            previous_max = sub.groupby("symbol")["ordinal"].cummax().groupby(
                sub["symbol"]).shift(1)
            disordered = sub["symbol"][(sub["ordinal"] < previous_max).to_numpy()].unique()
            for name in disordered:
                rows = sub.index[(sub["symbol"] == name).to_numpy()]
                out_of_order[rows[_out_of_order(sub.loc[rows, "ordinal"].to_numpy())]] = True

    judged = np.flatnonzero(keyed & ~dropped)
    suite_input = work.iloc[judged]
    ignored = out_of_order[judged]
    if not check_order:
        suite_input = suite_input.sort_values(["symbol", "as_of"], kind="stable")
        ignored = out_of_order[suite_input.index.to_numpy()]
    outcome = run_bar_suite(suite_frame(suite_input, order_ignored=ignored),
                            fresh_since=fresh_since, sessions=sessions)
    for position, why in outcome.row_reasons.items():
        if reason[position] is None:
            reason[position] = why
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
        table_failures=outcome.table_failures,
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


def broken_bar_rules(frame: pd.DataFrame, *, fresh_since: date | None = None) -> list[str]:
    """Bars already stored that break the rules of :func:`validate_bars` (row order
    excepted: a table has none): the blocking data-quality check."""
    return _rule_problems(frame, fresh_since)[0]


def failed_rows_markdown(rejected: pd.DataFrame, limit: int = 50) -> str:
    """The failing rows as a markdown table, each with its reason and the expectation
    that failed: what the blocking check shows in the UI."""
    if rejected.empty:
        return "none"
    columns = [c for c in CANONICAL_COLUMNS if c in rejected.columns]
    header = [*columns, "reason", "expectation"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in rejected.head(limit).iterrows():
        cells = [str(row[c]) for c in columns]
        cells += [str(row["reason"]), decided_by(str(row["reason"]))]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if len(rejected) > limit:
        lines.append(f"\n{len(rejected) - limit} more row(s) not shown")
    return "\n".join(lines)


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


def _rule_problems(frame: pd.DataFrame, fresh_since: date | None = None
                   ) -> tuple[list[str], pd.DataFrame]:
    if frame.empty:
        return ([f"no bars at all (the newest must be on or after {fresh_since})"]
                if fresh_since is not None else []), frame
    validation = validate_bars(frame, check_order=False, fresh_since=fresh_since)
    problems: list[str] = list(validation.table_failures)
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


# Overnight close ratios of common splits and reverse splits (2:1, 3:1, 3:2, 10:1, ...).
SPLIT_FACTORS = (1.5, 2.0, 3.0, 4.0, 5.0, 8.0, 10.0, 20.0)
# How close a move must come to a split ratio, relative, to look like one.
SPLIT_TOLERANCE = 0.03
# A split is suspected only when the market (the benchmark) moved less than this.
CALM_MARKET_MOVE = 0.05
REASON_SPLIT = "unadjusted split suspected"
# A close this many times the previous one (or a fraction as small), or a high (low) this
# far beyond the day's open and close, is a bad print, whatever the market did.
IMPLAUSIBLE_FACTOR = 5.0
REASON_IMPLAUSIBLE = "implausible price"
# The bad-print flag of the bar after a jump, when it undoes it (the jump is the bad one).
UNDOING = "undoing the jump of the bar before"
# Slack over a daily price limit before a move is called impossible. Forward adjustment
# subtracts later dividends from old prices, which stretches an old limit move: the
# built-in A-share bars show limit days of 10% as moves of up to 13%.
LIMIT_SLACK = 0.04


def split_suspects(
    frame: pd.DataFrame,
    *,
    benchmark_symbol: str | None = None,
    accepted_jumps: Collection[tuple[str, date]] = (),
    market: str | None = None,
    history_starts: Mapping[str, date] | None = None,
) -> pd.DataFrame:
    """Bars whose close moved by a split's ratio overnight while the market stayed calm,
    or (``market`` with daily price limits: A-shares) further than the limit allows.

    An unadjusted split (or reverse split) makes the close jump by 1/2, 1/3, 2, 3, 1/10,
    ... from one bar to the next although nothing happened: the features and the trading
    loop would read it as a crash or a rally. An A-share bonus issue (10 for 10, 3 for
    10, ...) has any ratio, but a move beyond the day's price limit cannot be a trade, so
    it betrays the unadjusted bonus or dividend whatever the market did. Such a bar is
    suspect until a person accepts it (``accepted_jumps``) or re-imports adjusted bars;
    no adjustment is applied, since the true factor cannot be known from prices alone.
    An unadjusted ordinary dividend (a gap of a few per cent) cannot be told from a
    normal move without a dividend calendar and is not detected here. A close five times
    the one before (or a fifth of it) that no split explains, a high five times the
    day's open and close (a low a fifth of them), and a jump at a split ratio or beyond
    the limit that the next bar undoes (and the bar undoing it) are bad prints on any
    market, not a new share basis. Indices (``^``) are exempt; crypto has no splits and
    no limits, so only bad prints count there.

    The limits are the market's (``MarketRules.price_limit``): none before a market had
    them, and none on a new listing's first sessions. ``history_starts`` gives the first
    day of a symbol's history where the caller knows it (its first stored bar): a symbol
    whose history starts before its first bar in ``frame`` is no new listing there. A
    symbol not in it starts at its first bar in ``frame``, which is taken as its listing
    (a listing cannot be told from the start of the data).

    Returns the suspect bars: symbol, as_of, previous_close, close, ratio, factor, reason.
    """
    columns = ["symbol", "as_of", "previous_close", "close", "ratio", "factor", "reason"]
    rules = market_rules(market) if market else None
    if frame.empty:
        return pd.DataFrame(columns=columns)
    no_splits = rules is not None and rules.always_open
    bars = frame.dropna(subset=["close"]).sort_values(["symbol", "as_of"], kind="stable")
    previous = bars.groupby("symbol")["close"].shift(1)
    ratio = (bars["close"] / previous).to_numpy()
    factors = np.array([*SPLIT_FACTORS, *(1 / f for f in SPLIT_FACTORS)])
    with np.errstate(invalid="ignore", divide="ignore"):
        distance = np.abs(ratio[:, None] / factors[None, :] - 1)
    nearest = np.nanargmin(np.where(np.isnan(distance), np.inf, distance), axis=1)
    near = (distance[np.arange(len(bars)), nearest] <= SPLIT_TOLERANCE) & (not no_splits)
    with np.errstate(invalid="ignore", divide="ignore"):
        wild = np.abs(np.log(ratio)) > np.log(IMPLAUSIBLE_FACTOR)
    body_high = bars[["open", "close"]].max(axis=1) if "open" in bars else bars["close"]
    body_low = bars[["open", "close"]].min(axis=1) if "open" in bars else bars["close"]
    wide = np.zeros(len(bars), dtype=bool)
    if {"high", "low"} <= set(bars.columns):
        wide = ((bars["high"] > IMPLAUSIBLE_FACTOR * body_high)
                | (bars["low"] * IMPLAUSIBLE_FACTOR < body_low)).to_numpy()
    limits = np.full(len(bars), np.nan)
    if rules is not None and (rules.price_limits or rules.default_price_limit is not None):
        days = pd.to_datetime(bars["as_of"]).dt.date
        sessions = _sessions_since_listing(bars["symbol"], days, history_starts or {})
        limits = np.array([
            np.nan if (limit := rules.price_limit(str(s), d, n)) is None else limit
            for s, d, n in zip(bars["symbol"], days, sessions, strict=True)])
        # A new listing's first sessions, free of the limit, see no split either.
        listing = np.array([n is not None and np.isnan(limit)
                            and rules.price_limit(str(s), d) is not None
                            for s, d, n, limit in zip(bars["symbol"], days, sessions, limits,
                                                      strict=True)], dtype=bool)
        near &= ~listing
    with np.errstate(invalid="ignore"):
        beyond = np.abs(ratio - 1) > limits + LIMIT_SLACK
    # A jump the next bar undoes (to within half of it, in log terms) is one bad bar, not
    # a new share basis; so is the bar that undoes it. A split or a bonus issue stays.
    with np.errstate(invalid="ignore", divide="ignore"):
        step = np.log(ratio)
    steps = pd.Series(step, index=bars.index).groupby(bars["symbol"])
    following, preceding = steps.shift(-1).to_numpy(), steps.shift(1).to_numpy()
    # Accepted moves are real: neither flagged nor a jump for the next bar to undo.
    accepted = {(str(s).upper(), pd.Timestamp(d).date()) for s, d in accepted_jumps}
    is_accepted = np.array([(str(s).upper(), d) in accepted for s, d in zip(
        bars["symbol"], pd.to_datetime(bars["as_of"]).dt.date, strict=True)], dtype=bool)
    jumped_before = pd.Series((near | beyond | wild) & ~is_accepted, index=bars.index).groupby(
        bars["symbol"]).shift(1, fill_value=False).to_numpy(dtype=bool)
    with np.errstate(invalid="ignore"):
        undone = (near | beyond) & (np.abs(step + following) < np.abs(step) / 2)
        undoing = (near | beyond) & jumped_before & (
            np.abs(preceding + step) < np.abs(preceding) / 2)
    is_stock = ~bars["symbol"].astype(str).str.startswith("^").to_numpy()
    suspect = bars.assign(previous_close=previous.to_numpy(), ratio=ratio,
                          factor=factors[nearest], limit=limits,
                          beyond=beyond, wild=wild & ~near, wide=wide,
                          spike=undone | undoing, undoing=undoing, accepted=is_accepted,
                          high=bars.get("high", np.nan), low=bars.get("low", np.nan),
                          )[(near | beyond | wild | wide) & is_stock]
    market_move = pd.Series(dtype="float64")
    if benchmark_symbol is not None:
        index = bars[bars["symbol"] == benchmark_symbol].set_index("as_of")["close"]
        market_move = (index / index.shift(1) - 1).dropna()
    rows = []
    for row in suspect.itertuples():
        if row.accepted:
            continue
        move = market_move.get(row.as_of)
        calm = move is None or abs(move) < CALM_MARKET_MOVE
        reason = REASON_SPLIT
        if row.spike and (row.beyond or calm):
            reason = REASON_IMPLAUSIBLE
            why = (f"close x{row.ratio:.3f} from {row.previous_close:g} to {row.close:g}, "
                   + (UNDOING if row.undoing
                      else "undone by the next bar")
                   + ": a bad print, not a new share basis")
        elif row.beyond:
            why = (f"close x{row.ratio:.3f} ({row.ratio - 1:+.1%}) is beyond the "
                   f"{row.limit:.0%} daily price limit")
        elif row.wild or row.wide:
            reason = REASON_IMPLAUSIBLE
            why = (f"close x{row.ratio:.3f} from {row.previous_close:g} to {row.close:g} in "
                   "one bar, which no split explains" if row.wild else
                   f"the day's range {row.low:g}..{row.high:g} against open/close "
                   f"{row.open:g}/{row.close:g}")
        elif not calm:
            continue
        else:
            split = (f"{1 / row.factor:g}-for-1 split" if row.factor < 1
                     else f"1-for-{row.factor:g} reverse split")
            why = (f"close x{row.ratio:.3f} looks like a {split}"
                   + (f", {benchmark_symbol} {move:+.1%}" if move is not None else ""))
        rows.append({"symbol": row.symbol, "as_of": row.as_of,
                     "previous_close": row.previous_close, "close": row.close,
                     "ratio": row.ratio, "factor": row.factor,
                     "reason": f"{reason}: {why}"})
    return pd.DataFrame(rows, columns=columns)


def _sessions_since_listing(symbols: pd.Series, days: pd.Series,
                            history_starts: Mapping[str, date]) -> list[int | None]:
    """Each bar's session count since its symbol's listing (0: the first bar), or None
    where the symbol's history starts before its first bar here (sorted by symbol, day)."""
    count = symbols.groupby(symbols).cumcount().to_numpy()
    first = days.groupby(symbols).transform("min")
    starts = {str(k).upper(): v for k, v in history_starts.items()}
    known = [None if (start := starts.get(str(s).upper())) is None
             else pd.Timestamp(start).date() for s in symbols]
    return [None if start is not None and start < begin else int(n)
            for n, begin, start in zip(count, first, known, strict=True)]
