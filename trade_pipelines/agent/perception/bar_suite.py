"""The great-expectations suite every bar table must pass before anything reads it.

One suite for every table of daily bars (a source's fetch, a user's file, the warehouse's
``bars``): schema and types, price and volume ranges, OHLC consistency, no duplicate
(symbol, as_of), time increasing within each symbol and, in live mode, freshness. Each
row expectation carries the quarantine reason its failing rows are given; the suite is
run with ``result_format="COMPLETE"`` so every failing row is named by its index.

Some columns are derived before the suite runs, because great-expectations compares a
column with a column or a constant, not with an expression: the number of open/high/low
present (all or none), the lowest of the four prices (one range expectation instead of
four, each of which costs a copy of the frame), the low and the body's top and bottom
with a relative tolerance (so float rounding in adjusted prices is not mistaken for a
bad bar), the days since the symbol's previous bar in the order given, and the day as a
number (days since 1970-01-01) to compare with the market's sessions.

great_expectations takes about 5 s to import, so it is imported only when a suite runs.
This module must not import dagster.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

CANONICAL_COLUMNS = ["symbol", "as_of", "open", "high", "low", "close", "volume"]
NUMERIC_COLUMNS = ["open", "high", "low", "close", "volume"]
PRICE_COLUMNS = ["open", "high", "low", "close"]
RANGE_COLUMNS = ["open", "high", "low"]
# Relative slack for the high/low envelope checks, so float rounding in adjusted prices
# (OHLC multiplied by one ratio, the close rounded on its own) is not mistaken for a bad bar.
PRICE_TOLERANCE = 1e-6

# Derived columns (see the module docstring).
RANGE_FIELDS_PRESENT = "range_fields_present"
LOWEST_PRICE = "lowest_price"
LOW_WITH_TOLERANCE = "low_with_tolerance"
BODY_TOP = "body_top_with_tolerance"
BODY_BOTTOM = "body_bottom_with_tolerance"
DAYS_SINCE_PREVIOUS = "days_since_previous_bar"
EPOCH_DAY = "epoch_day"

REASON_MISSING_CLOSE = "missing close"
REASON_PARTIAL_OHLC = "partial OHLC (open, high and low must be all present or all missing)"
REASON_NON_POSITIVE = "non-positive price"
REASON_HIGH_LOW = "high < low"
REASON_HIGH_BELOW = "high below open/close"
REASON_LOW_ABOVE = "low above open/close"
REASON_NEGATIVE_VOLUME = "negative volume"
REASON_DUPLICATE = "duplicate (symbol, as_of) with conflicting values"
REASON_OUT_OF_ORDER = "out of order"
REASON_OFF_CALENDAR = "not a session of the market's calendar"
REASON_SCHEMA = "schema"
REASON_STALE = "stale bars"


@dataclass(frozen=True)
class BarExpectation:
    """One expectation of the suite: what it is called and the reason its rows get."""

    reason: str
    kind: str
    kwargs: dict[str, Any]
    per_row: bool = True

    def describe(self) -> str:
        arguments = ", ".join(
            f"{k}=[{len(v)} values]" if isinstance(v, list) and len(v) > 8 else f"{k}={v!r}"
            for k, v in self.kwargs.items())
        return f"{self.kind}({arguments})"


# Row expectations in priority order: a row failing several carries the first one's reason.
ROW_EXPECTATIONS: tuple[BarExpectation, ...] = (
    BarExpectation(REASON_MISSING_CLOSE, "ExpectColumnValuesToNotBeNull", {"column": "close"}),
    BarExpectation(REASON_PARTIAL_OHLC, "ExpectColumnValuesToBeInSet",
                   {"column": RANGE_FIELDS_PRESENT, "value_set": [0, 3]}),
    BarExpectation(REASON_NON_POSITIVE, "ExpectColumnValuesToBeBetween",
                   {"column": LOWEST_PRICE, "min_value": 0, "strict_min": True}),
    BarExpectation(REASON_HIGH_LOW, "ExpectColumnPairValuesAToBeGreaterThanB",
                   {"column_A": "high", "column_B": LOW_WITH_TOLERANCE, "or_equal": True,
                    "ignore_row_if": "either_value_is_missing"}),
    BarExpectation(REASON_HIGH_BELOW, "ExpectColumnPairValuesAToBeGreaterThanB",
                   {"column_A": "high", "column_B": BODY_TOP, "or_equal": True,
                    "ignore_row_if": "either_value_is_missing"}),
    BarExpectation(REASON_LOW_ABOVE, "ExpectColumnPairValuesAToBeGreaterThanB",
                   {"column_A": BODY_BOTTOM, "column_B": "low", "or_equal": True,
                    "ignore_row_if": "either_value_is_missing"}),
    BarExpectation(REASON_NEGATIVE_VOLUME, "ExpectColumnValuesToBeBetween",
                   {"column": "volume", "min_value": 0}),
    BarExpectation(REASON_DUPLICATE, "ExpectCompoundColumnsToBeUnique",
                   {"column_list": ["symbol", "as_of"]}),
    BarExpectation(REASON_OUT_OF_ORDER, "ExpectColumnValuesToBeBetween",
                   {"column": DAYS_SINCE_PREVIOUS, "min_value": 1}),
)

# Table expectations: they fail the whole table, not rows.
TABLE_EXPECTATIONS: tuple[BarExpectation, ...] = (
    BarExpectation(REASON_SCHEMA, "ExpectTableColumnsToMatchSet",
                   {"column_set": [*CANONICAL_COLUMNS, RANGE_FIELDS_PRESENT, LOWEST_PRICE,
                                   LOW_WITH_TOLERANCE, BODY_TOP, BODY_BOTTOM,
                                   DAYS_SINCE_PREVIOUS, EPOCH_DAY], "exact_match": False},
                   False),
    *(BarExpectation(REASON_SCHEMA, "ExpectColumnValuesToBeOfType",
                     {"column": c, "type_": "float64"}, False) for c in NUMERIC_COLUMNS),
    BarExpectation(REASON_SCHEMA, "ExpectColumnValuesToBeOfType",
                   {"column": "as_of", "type_": "datetime64"}, False),
    BarExpectation(REASON_SCHEMA, "ExpectColumnValuesToNotBeNull", {"column": "symbol"},
                   False),
    BarExpectation(REASON_SCHEMA, "ExpectColumnValuesToNotBeNull", {"column": "as_of"},
                   False),
)


def freshness_expectation(fresh_since: date) -> BarExpectation:
    """The newest bar must be on or after ``fresh_since`` (live mode only)."""
    return BarExpectation(REASON_STALE, "ExpectColumnMaxToBeBetween",
                          {"column": "as_of", "min_value": pd.Timestamp(fresh_since)}, False)


def session_expectation(sessions: Collection[date]) -> BarExpectation:
    """Every bar is on a session of the market's calendar (no weekend or holiday bars)."""
    days = np.array(sorted(sessions), dtype="datetime64[D]").astype("int64")
    return BarExpectation(REASON_OFF_CALENDAR, "ExpectColumnValuesToBeInSet",
                          {"column": EPOCH_DAY, "value_set": days.tolist()})


def expectation_list(fresh_since: date | None = None,
                     sessions: Collection[date] | None = None) -> list[BarExpectation]:
    """Every expectation of the suite, rows first, in priority order."""
    rows = [session_expectation(sessions)] if sessions is not None else []
    table = [freshness_expectation(fresh_since)] if fresh_since is not None else []
    return [*ROW_EXPECTATIONS, *rows, *TABLE_EXPECTATIONS, *table]


@dataclass
class SuiteOutcome:
    """The suite's verdict: the reason per failing row position, and table failures."""

    row_reasons: dict[int, str] = field(default_factory=dict)
    row_expectations: dict[int, str] = field(default_factory=dict)
    table_failures: list[str] = field(default_factory=list)
    evaluated: int = 0

    @property
    def success(self) -> bool:
        return not self.row_reasons and not self.table_failures


def suite_frame(bars: pd.DataFrame, *, order_ignored: Sequence[bool] | None = None
                ) -> pd.DataFrame:
    """Canonical bars plus the derived columns the suite reads, index kept.

    ``bars`` holds canonical types (``as_of`` datetime64 or dates, floats).
    ``order_ignored`` marks rows left out of the previous-bar chain (rows the caller has
    already set aside as out of order), so one misplaced row does not taint its
    neighbours.
    """
    frame = bars[CANONICAL_COLUMNS].copy()
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    for column in NUMERIC_COLUMNS:
        frame[column] = frame[column].astype("float64")
    ranges = frame[RANGE_COLUMNS].to_numpy()
    frame[RANGE_FIELDS_PRESENT] = (~np.isnan(ranges)).sum(axis=1)
    open_, close = frame["open"].to_numpy(), frame["close"].to_numpy()
    frame[LOWEST_PRICE] = np.fmin(np.fmin(open_, frame["high"].to_numpy()),
                                  np.fmin(frame["low"].to_numpy(), close))
    frame[LOW_WITH_TOLERANCE] = frame["low"] * (1 - PRICE_TOLERANCE)
    frame[BODY_TOP] = np.fmax(open_, close) * (1 - PRICE_TOLERANCE)
    frame[BODY_BOTTOM] = np.fmin(open_, close) * (1 + PRICE_TOLERANCE)
    ignored = (np.zeros(len(frame), dtype=bool) if order_ignored is None
               else np.asarray(order_ignored, dtype=bool))
    # Days since the latest earlier bar of the same symbol in the chain (rows given in
    # their order): >= 1 when time increases, NaN for a symbol's first bar.
    epoch_days = frame["as_of"].to_numpy(dtype="datetime64[D]").astype("int64")
    frame[EPOCH_DAY] = epoch_days
    days = epoch_days.astype("float64")
    chained = pd.Series(np.where(ignored, np.nan, days), index=frame.index)
    symbols = frame["symbol"].to_numpy()
    # A row outside the chain compares with the chain's latest bar before it.
    latest = chained.groupby(symbols).cummax().groupby(symbols).ffill()
    previous = latest.groupby(symbols).shift(1)
    frame[DAYS_SINCE_PREVIOUS] = days - previous.to_numpy()
    return frame


def _context() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.enable_analytics(False)  # no network, ever
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def run_bar_suite(frame: pd.DataFrame, *, fresh_since: date | None = None,
                  sessions: Collection[date] | None = None,
                  context_factory: Callable[[], Any] = _context) -> SuiteOutcome:
    """Run the suite on a frame made by :func:`suite_frame`; failing rows by index label.

    ``fresh_since`` adds the freshness expectation (live mode), ``sessions`` the market
    calendar's one."""
    outcome = SuiteOutcome(evaluated=len(frame))
    if frame.empty:
        return outcome
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = context_factory()
    batch = (context.data_sources.add_pandas("bars").add_dataframe_asset("bars")
             .add_batch_definition_whole_dataframe("bars"))
    suite = gx.ExpectationSuite(name="bars")
    expectations = expectation_list(fresh_since, sessions)
    for number, spec in enumerate(expectations):
        suite.add_expectation(getattr(gxe, spec.kind)(**spec.kwargs, meta={"number": number}))
    suite = context.suites.add(suite)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="bars", data=batch, suite=suite))
    result = definition.run(batch_parameters={"dataframe": frame},
                            result_format={"result_format": "COMPLETE"})
    failures: dict[int, Any] = {}
    for item in result.results:
        if item.exception_info and item.exception_info.get("raised_exception"):
            raise RuntimeError(f"bar suite expectation {item.expectation_config.type} "
                               f"could not run: {item.exception_info['exception_message']}")
        if not item.success:
            failures[int(item.expectation_config.meta["number"])] = item.result
    for number in sorted(failures):
        spec = expectations[number]
        found = failures[number]
        if spec.per_row:
            described = spec.describe()
            for label in found.get("unexpected_index_list") or []:
                if label not in outcome.row_reasons:
                    outcome.row_reasons[label] = spec.reason
                    outcome.row_expectations[label] = described
        else:
            observed = found.get("observed_value")
            outcome.table_failures.append(
                f"{spec.reason}: {spec.describe()} failed (observed {observed!r})")
    return outcome
