"""Bar validation rules: every kind of bad bar is set aside with its reason."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from trade_pipelines.agent.perception.validation import (
    CANONICAL_COLUMNS,
    REASON_DUPLICATE,
    REASON_OUT_OF_ORDER,
    REASON_PARTIAL_OHLC,
    BarSchemaError,
    check_bars_frame,
    validate_bars,
)

NAN = float("nan")


def bar(symbol: str = "AAPL", as_of: object = "2024-01-02", open_: float = 10.0,
        high: float = 11.0, low: float = 9.0, close: float = 10.5,
        volume: float = 1000.0, **extra: object) -> dict[str, object]:
    return {"symbol": symbol, "as_of": as_of, "open": open_, "high": high, "low": low,
            "close": close, "volume": volume, **extra}


def days(n: int, start: date = date(2024, 1, 1)) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


def reasons(frame: pd.DataFrame) -> dict[object, str]:
    return dict(zip(frame.index, frame["reason"], strict=True))


def test_good_bars_come_out_clean_with_canonical_types() -> None:
    frame = pd.DataFrame([
        bar("msft", "2024-01-03", note="b"),
        bar(" aapl ", "2024-01-02", note="a"),
        bar("AAPL", "2024-01-03", volume=NAN, note="c"),
    ])
    result = validate_bars(frame)
    assert result.rejected.empty
    assert list(result.clean.columns) == [*CANONICAL_COLUMNS, "note"]
    assert result.clean["symbol"].tolist() == ["AAPL", "AAPL", "MSFT"]
    assert result.clean["as_of"].tolist() == [date(2024, 1, 2), date(2024, 1, 3),
                                              date(2024, 1, 3)]
    assert all(type(d) is date for d in result.clean["as_of"])
    assert result.clean["note"].tolist() == ["a", "c", "b"]
    assert result.clean["close"].dtype == np.float64
    assert math.isnan(result.clean["volume"].iloc[1])
    assert result.summary().startswith("3 clean bar(s), 0 rejected")


def test_close_only_bars_are_honest_and_clean() -> None:
    frame = pd.DataFrame([bar(open_=NAN, high=NAN, low=NAN, volume=NAN)])
    result = validate_bars(frame)
    assert len(result.clean) == 1 and result.rejected.empty


def test_missing_columns_raise_naming_them() -> None:
    frame = pd.DataFrame([bar()]).drop(columns=["high", "volume"])
    with pytest.raises(BarSchemaError, match="high, volume"):
        validate_bars(frame)


@pytest.mark.parametrize(("row", "reason"), [
    (bar(close=NAN), "missing close"),
    (bar(close=math.inf), "non-finite close"),
    (bar(close=-math.inf), "non-finite close"),
    (bar(close=0.0, open_=NAN, high=NAN, low=NAN), "non-positive price"),
    (bar(open_=-1.0), "non-positive price"),
    (bar(low=0.0), "non-positive price"),
    (bar(high=8.0, low=9.0), "high < low"),
    (bar(high=10.2, close=10.5), "high below open/close"),
    (bar(open_=12.0), "high below open/close"),
    (bar(low=10.2, open_=10.0), "low above open/close"),
    (bar(volume=-5.0), "negative volume"),
    (bar(volume=math.inf), "non-finite volume"),
    (bar(high=NAN), REASON_PARTIAL_OHLC),
    (bar(open_=NAN, low=NAN), REASON_PARTIAL_OHLC),
    (bar(as_of="2024-13-45"), "unparseable date"),
    (bar(as_of="01/02/2024"), "unparseable date"),
    (bar(as_of=None), "missing date"),
    (bar(as_of=""), "missing date"),
    (bar(symbol=None), "missing symbol"),
    (bar(symbol="  "), "missing symbol"),
    (bar(close="ten"), "unparseable close"),
    (bar(volume="1,000"), "unparseable volume"),
])
def test_each_rule_rejects_with_its_reason(row: dict[str, object], reason: str) -> None:
    frame = pd.DataFrame([bar("MSFT"), row])
    result = validate_bars(frame)
    assert reasons(result.rejected) == {1: reason}
    assert result.clean["symbol"].tolist() == ["MSFT"]


def test_text_cells_parse_like_a_csv() -> None:
    frame = pd.DataFrame([bar(open_="10", high=" 11.5", low="9", close="10.25",
                              volume="", as_of="2024-01-02T00:00:00")])
    result = validate_bars(frame)
    assert result.rejected.empty
    row = result.clean.iloc[0]
    assert (row["open"], row["high"], row["close"]) == (10.0, 11.5, 10.25)
    assert math.isnan(row["volume"])
    assert row["as_of"] == date(2024, 1, 2)


def test_rounding_noise_in_adjusted_prices_is_not_an_inverted_bar() -> None:
    frame = pd.DataFrame([bar(high=10.5, close=10.5 * (1 + 1e-9))])
    assert validate_bars(frame).rejected.empty


def test_a_row_gets_the_first_rule_it_breaks_and_keeps_its_original_values() -> None:
    frame = pd.DataFrame([bar(), bar("MSFT", "2024-01-02", close="abc", volume=-1)],
                         index=["first", "second"])
    result = validate_bars(frame)
    assert reasons(result.rejected) == {"second": "unparseable close"}
    rejected = result.rejected.loc["second"]
    assert rejected["close"] == "abc" and rejected["volume"] == -1
    assert result.reasons == {"unparseable close": 1}
    assert "1 rejected (1 unparseable close)" in result.summary()


def test_identical_duplicates_collapse_to_one() -> None:
    frame = pd.DataFrame([bar(), bar("MSFT"), bar()])
    result = validate_bars(frame)
    assert result.rejected.empty
    assert result.duplicates_dropped == 1
    assert result.clean["symbol"].tolist() == ["AAPL", "MSFT"]
    assert "1 identical duplicate" in result.summary()


def test_disagreeing_duplicates_are_all_rejected() -> None:
    frame = pd.DataFrame([bar(close=10.5), bar("MSFT"), bar(close=10.6), bar(close=10.5)])
    result = validate_bars(frame)
    assert reasons(result.rejected) == {0: REASON_DUPLICATE, 2: REASON_DUPLICATE,
                                        3: REASON_DUPLICATE}
    assert result.clean["symbol"].tolist() == ["MSFT"]


def test_a_bad_copy_makes_duplicates_disagree() -> None:
    frame = pd.DataFrame([bar(close=NAN), bar()])
    result = validate_bars(frame)
    assert reasons(result.rejected) == {0: "missing close", 1: REASON_DUPLICATE}


def test_identical_bad_duplicates_are_rejected_once() -> None:
    frame = pd.DataFrame([bar(close=NAN), bar(close=NAN)])
    result = validate_bars(frame)
    assert reasons(result.rejected) == {0: "missing close"}
    assert result.duplicates_dropped == 1


def test_a_mistyped_date_costs_only_its_own_row() -> None:
    dates = [str(d) for d in days(6)]
    dates[2] = "2025-01-03"  # a typo far in the future, in the middle of the file
    rows = [bar("AAPL", d) for d in dates]
    # Another symbol's rows interleaved and in their own order are fine.
    rows.insert(1, bar("MSFT", "2024-01-05"))
    rows.insert(4, bar("MSFT", "2024-01-06"))
    result = validate_bars(pd.DataFrame(rows))
    assert reasons(result.rejected) == {3: REASON_OUT_OF_ORDER}
    assert len(result.clean) == 7


def test_a_row_moved_back_is_out_of_order() -> None:
    dates = ["2024-01-02", "2024-01-03", "2024-01-05", "2024-01-04", "2024-01-08"]
    result = validate_bars(pd.DataFrame([bar("AAPL", d) for d in dates]))
    assert list(result.rejected["reason"]) == [REASON_OUT_OF_ORDER]
    assert result.rejected["as_of"].iloc[0] in {"2024-01-05", "2024-01-04"}
    assert result.clean["as_of"].is_monotonic_increasing


def test_order_is_not_checked_when_the_frame_has_no_meaningful_order() -> None:
    frame = pd.DataFrame([bar("AAPL", "2024-01-03"), bar("AAPL", "2024-01-02")])
    assert len(validate_bars(frame).rejected) == 1
    unordered = validate_bars(frame, check_order=False)
    assert unordered.rejected.empty
    assert unordered.clean["as_of"].tolist() == [date(2024, 1, 2), date(2024, 1, 3)]


def test_datetime_columns_and_timezones_keep_the_calendar_day() -> None:
    stamps = pd.Series(pd.to_datetime(["2024-01-02 16:00", "2024-01-03 16:00"]))
    frame = pd.DataFrame([bar(), bar(as_of="x")])
    frame["as_of"] = stamps.dt.tz_localize("America/New_York")
    result = validate_bars(frame)
    assert result.clean["as_of"].tolist() == [date(2024, 1, 2), date(2024, 1, 3)]


def test_text_dates_keep_the_day_as_written_whatever_the_offset() -> None:
    frame = pd.DataFrame([bar(as_of="2024-01-02T16:00:00-05:00"),
                          bar(as_of="2024-07-02 16:00:00+02:00"),
                          bar(as_of=" 2024-07-03 "),
                          bar(as_of="2024-07-04T23:59:59.5Z")])
    result = validate_bars(frame)
    assert result.rejected.empty
    assert result.clean["as_of"].tolist() == [date(2024, 1, 2), date(2024, 7, 2),
                                              date(2024, 7, 3), date(2024, 7, 4)]


@pytest.mark.parametrize("text", ["2024/01/02", "20240102", "2024-01-02"])
def test_year_first_days_parse(text: str) -> None:
    result = validate_bars(pd.DataFrame([bar(as_of=text)]))
    assert result.clean["as_of"].tolist() == [date(2024, 1, 2)]


@pytest.mark.parametrize("text", ["01/02/2024", "2024-1-2", "2024-02-30", "2024-01-02 x",
                                  "Jan 2 2024", "2024013"])
def test_anything_but_a_year_first_day_is_unparseable(text: str) -> None:
    result = validate_bars(pd.DataFrame([bar(as_of=text)]))
    assert result.rejected["reason"].tolist() == ["unparseable date"]


def test_date_objects_parse_directly() -> None:
    frame = pd.DataFrame([bar(as_of=date(2024, 1, 2)), bar(as_of=date(2024, 1, 3))])
    result = validate_bars(frame)
    assert result.clean["as_of"].tolist() == [date(2024, 1, 2), date(2024, 1, 3)]


def test_empty_frame_validates_to_empty() -> None:
    result = validate_bars(pd.DataFrame(columns=CANONICAL_COLUMNS))
    assert result.clean.empty and result.rejected.empty
    assert "reason" in result.rejected.columns


# -- check_bars_frame -------------------------------------------------------------------


def series(symbol: str, closes: list[float]) -> list[dict[str, object]]:
    return [bar(symbol, d, open_=NAN, high=NAN, low=NAN, close=c, volume=NAN)
            for d, c in zip(days(len(closes)), closes, strict=True)]


def test_clean_bars_have_no_problems() -> None:
    assert check_bars_frame(pd.DataFrame(series("AAPL", [10, 11, 10.5, 12]))) == []
    assert check_bars_frame(pd.DataFrame()) == []


def test_a_stale_price_is_not_a_problem() -> None:
    closes = [10.0] * 12 + [10.1]
    assert check_bars_frame(pd.DataFrame(series("RRC", closes))) == []


def test_a_big_move_on_a_stock_is_a_suspicious_jump() -> None:
    frame = pd.DataFrame(series("AAPL", [10, 10.2, 4.9, 5.0]) + series("KO", [10, 16, 15]))
    problems = check_bars_frame(frame)
    assert len(problems) == 2
    assert problems[0].startswith("suspicious jump: AAPL 2024-01-03")
    assert "-52.0%" in problems[0]
    assert problems[1].startswith("suspicious jump: KO 2024-01-02")
    accepted = {("AAPL", date(2024, 1, 3))}
    assert len(check_bars_frame(frame, accepted_jumps=accepted)) == 1


def test_an_index_may_jump() -> None:
    frame = pd.DataFrame(series("^VIX", [17, 37, 29]))
    assert check_bars_frame(frame) == []


def test_rule_breaks_are_problems_and_row_order_is_ignored() -> None:
    rows = series("AAPL", [10, 11, 12])
    rows.reverse()
    rows.append(bar("MSFT", "2024-01-02", high=8.0, low=9.0))
    rows.append(bar("MSFT", "2024-01-03", close=NAN))
    problems = check_bars_frame(pd.DataFrame(rows))
    assert len(problems) == 2
    assert any("high < low: MSFT 2024-01-02" in p for p in problems)
    assert any("missing close: MSFT 2024-01-03" in p for p in problems)


def test_duplicates_are_problems_even_when_identical() -> None:
    frame = pd.DataFrame(series("AAPL", [10, 11]) * 2)
    problems = check_bars_frame(frame)
    assert problems == ["2 duplicate (symbol, as_of) row(s) with identical values"]


def test_data_quality_never_imports_dagster() -> None:
    code = ("import sys, trade_pipelines.agent.perception.validation, trade_pipelines.market_data; "
            "assert 'dagster' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_broken_rules_block_and_jumps_only_warn() -> None:
    from trade_pipelines.agent.perception.validation import broken_bar_rules, suspicious_jumps

    jumpy = series("AAPL", [10, 10.2, 4.9, 5.0])
    broken = series("KO", [10, 11])
    broken[1]["close"] = -1.0
    frame = pd.DataFrame(jumpy + broken)
    rules = [p.split(":")[0] for p in broken_bar_rules(frame)]
    assert rules == ["1 bar(s) with non-positive price"]
    assert [p[:36] for p in suspicious_jumps(frame)] == ["suspicious jump: AAPL 2024-01-03 clo"]
    assert check_bars_frame(frame) == [*broken_bar_rules(frame), *suspicious_jumps(frame)]


# -- the suite and the split detector ----------------------------------------------------


def test_the_suite_lists_its_expectations_in_priority_order() -> None:
    from trade_pipelines.agent.perception.bar_suite import (
        ROW_EXPECTATIONS,
        TABLE_EXPECTATIONS,
        expectation_list,
    )

    kinds = [spec.kind for spec in ROW_EXPECTATIONS]
    assert kinds[0] == "ExpectColumnValuesToNotBeNull"
    assert "ExpectCompoundColumnsToBeUnique" in kinds
    assert [spec.kind for spec in TABLE_EXPECTATIONS][0] == "ExpectTableColumnsToMatchSet"
    assert len(expectation_list(date(2024, 1, 2))) == len(expectation_list()) + 1
    assert expectation_list(date(2024, 1, 2))[-1].kind == "ExpectColumnMaxToBeBetween"


def test_a_row_breaking_several_expectations_gets_the_first_ones_reason() -> None:
    frame = pd.DataFrame([bar(open_=-1.0, high=8.0, low=9.0, volume=-5.0)])
    assert validate_bars(frame).rejected["reason"].tolist() == ["non-positive price"]


def test_time_must_increase_within_a_symbol_of_a_stored_table() -> None:
    from trade_pipelines.agent.perception.bar_suite import (
        DAYS_SINCE_PREVIOUS,
        run_bar_suite,
        suite_frame,
    )

    frame = pd.DataFrame([bar("AAPL", date(2024, 1, 3)), bar("MSFT", date(2024, 1, 1)),
                          bar("AAPL", date(2024, 1, 2)), bar("AAPL", date(2024, 1, 4))])
    derived = suite_frame(frame)
    # Each symbol's first bar has no previous one; AAPL's 4th compares with the 3rd.
    assert derived[DAYS_SINCE_PREVIOUS].fillna(0).tolist() == [0.0, 0.0, -1.0, 1.0]
    outcome = run_bar_suite(derived)
    assert outcome.row_reasons == {2: REASON_OUT_OF_ORDER}
    # A row already set aside does not taint the next one.
    ignored = run_bar_suite(suite_frame(frame, order_ignored=[False, False, True, False]))
    assert ignored.row_reasons == {2: REASON_OUT_OF_ORDER}
    assert ignored.success is False


def test_freshness_fails_the_table_not_rows() -> None:
    frame = pd.DataFrame([bar(as_of=date(2024, 1, 2))])
    stale = validate_bars(frame, fresh_since=date(2024, 1, 5))
    assert len(stale.clean) == 1 and stale.rejected.empty
    assert stale.table_failures[0].startswith("stale bars: ExpectColumnMaxToBeBetween")
    assert "stale bars" in stale.summary()
    assert validate_bars(frame, fresh_since=date(2024, 1, 2)).table_failures == []
    from trade_pipelines.agent.perception.validation import broken_bar_rules

    assert broken_bar_rules(frame, fresh_since=date(2024, 1, 5))[0].startswith("stale bars")


def test_failing_rows_as_a_markdown_table_name_the_expectation() -> None:
    from trade_pipelines.agent.perception.validation import failed_rows_markdown

    frame = pd.DataFrame([bar(), bar("MSFT", volume=-5.0), bar("KO", close="x|y")])
    table = failed_rows_markdown(validate_bars(frame).rejected)
    lines = table.splitlines()
    assert lines[0] == ("| symbol | as_of | open | high | low | close | volume | reason "
                        "| expectation |")
    assert lines[2].startswith("| MSFT | 2024-01-02 | 10.0 | 11.0 | 9.0 | 10.5 | -5.0 | "
                               "negative volume | ExpectColumnValuesToBeBetween(column='volume'")
    assert lines[3].endswith("| unparseable close | reading the file into canonical columns |")
    assert "x\\|y" in lines[3]
    assert failed_rows_markdown(validate_bars(frame.iloc[:1]).rejected) == "none"


def closes(symbol: str, values: list[float]) -> list[dict[str, object]]:
    return [bar(symbol, d, open_=NAN, high=NAN, low=NAN, close=c, volume=NAN)
            for d, c in zip(days(len(values)), values, strict=True)]


def test_an_unadjusted_split_is_suspected_on_a_calm_day_only() -> None:
    from trade_pipelines.agent.perception.validation import split_suspects

    index = closes("^GSPC", [100, 100.5, 100.2, 80.0, 80.5])
    stock = closes("ZZS", [60, 61, 30.4, 30.0, 30.1])      # 2-for-1 on day 3, market calm
    crash = closes("ZZC", [60, 61, 61.5, 30.6, 30.1])      # halves on day 4 with the market
    reverse = closes("ZZR", [1.0, 1.01, 10.2, 10.1, 10.0])  # 1-for-10 reverse split
    frame = pd.DataFrame(index + stock + crash + reverse)
    frame["as_of"] = [date.fromisoformat(str(d)) for d in frame["as_of"]]
    suspects = split_suspects(frame, benchmark_symbol="^GSPC")
    assert list(zip(suspects["symbol"], suspects["as_of"], strict=True)) == [
        ("ZZR", date(2024, 1, 3)), ("ZZS", date(2024, 1, 3))]
    assert suspects["reason"].iloc[1] == ("unadjusted split suspected: close x0.498 looks "
                                          "like a 2-for-1 split, ^GSPC -0.3%")
    assert "1-for-10 reverse split" in suspects["reason"].iloc[0]
    accepted = split_suspects(frame, benchmark_symbol="^GSPC",
                              accepted_jumps={("zzs", date(2024, 1, 3))})
    assert accepted["symbol"].tolist() == ["ZZR"]
    # Without a benchmark the crash day is suspect too: nothing says the market moved.
    assert len(split_suspects(frame)) == 3


def test_an_a_share_move_beyond_its_price_limit_is_suspected_whatever_the_market_did() -> None:
    from trade_pipelines.agent.perception.validation import split_suspects

    index = closes("000300.SH", [4000, 4010, 3700, 3690])                 # -7.7% on day 3
    bonus = closes("600036.SH", [26.0, 26.2, 20.2, 20.3])                 # 3-for-10 bonus
    locked = closes("000002.SZ", [20.0, 20.1, 18.09, 16.28])              # two limit-downs
    chinext = closes("300059.SZ", [30.0, 30.2, 25.2, 25.0])               # -16.6%: 20% limit
    frame = pd.DataFrame(index + bonus + locked + chinext)
    frame["as_of"] = [date(2021, 3, 1) + pd.Timedelta(days=i) for i in range(4)] * 4
    suspects = split_suspects(frame, benchmark_symbol="000300.SH", market="cn")
    assert suspects["symbol"].tolist() == ["600036.SH"]
    assert "(-22.9%) is beyond the 10% daily price limit" in suspects["reason"].iloc[0]
    # The calm-market split rule alone would not see it: the market fell 7.7% that day.
    assert split_suspects(frame, benchmark_symbol="000300.SH").empty
    # Crypto has neither splits nor limits.
    btc = pd.DataFrame(closes("BTC-USD", [40000, 20000, 20100]))
    assert split_suspects(btc, market="crypto").empty


def a_share(symbol: str, values: list[float], first: date) -> pd.DataFrame:
    frame = pd.DataFrame(closes(symbol, values))
    frame["as_of"] = days(len(values), first)
    return frame


def suspected_days(frame: pd.DataFrame, **kwargs: object) -> list[str]:
    from trade_pipelines.agent.perception.validation import split_suspects

    found = split_suspects(frame, market="cn", **kwargs)
    return [str(d) for d in found["as_of"]]


def test_a_jump_the_next_bar_undoes_is_a_bad_print_not_a_new_share_basis() -> None:
    from trade_pipelines.agent.perception.validation import REASON_IMPLAUSIBLE, split_suspects

    spike = a_share("600036.SH", [26.0, 26.1, 260.5, 26.2, 26.3], date(2022, 3, 1))  # x10
    found = split_suspects(spike, market="cn")
    assert [str(d) for d in found["as_of"]] == ["2022-03-03", "2022-03-04"]
    assert found["reason"].str.startswith(REASON_IMPLAUSIBLE).all()
    assert "undone by the next bar" in found["reason"].iloc[0]
    assert "undoing the jump of the bar before" in found["reason"].iloc[1]
    halved = pd.DataFrame(closes("ZZH", [60, 61, 30.4, 61.2, 61.0]))  # x0.5 and back
    assert split_suspects(halved)["reason"].str.startswith(REASON_IMPLAUSIBLE).all()
    # A bonus issue the next bar does not undo stays a change of share basis.
    bonus = a_share("600036.SH", [26.0, 26.1, 20.1, 20.2, 20.3], date(2022, 3, 1))
    assert split_suspects(bonus, market="cn")["reason"].str.startswith(
        "unadjusted split suspected").tolist() == [True]


def test_no_a_share_limit_before_1996_12_16() -> None:
    # Shanghai had no daily limit in 1995: a -30% day was a trade, not an adjustment.
    assert suspected_days(a_share("600601.SH", [10.0, 7.0, 7.1], date(1995, 5, 2))) == []
    assert suspected_days(a_share("600601.SH", [10.0, 10.1, 7.0], date(1996, 12, 14))) == \
        ["1996-12-16"]


def test_a_new_listings_first_sessions_are_not_held_to_the_limit() -> None:
    # A STAR listing's first five sessions have no limit; the sixth has 20%.
    star = a_share("688981.SH", [60.0, 82.0, 64.0, 70.0, 72.0, 50.0], date(2020, 7, 16))
    assert suspected_days(star) == ["2020-07-21"]
    # Whose history starts before the frame is no new listing there.
    assert suspected_days(star, history_starts={"688981.SH": date(2020, 7, 1)}) == [
        "2020-07-17", "2020-07-21"]
    # ChiNext from 2020-08-24 and the main boards from 2023-04-10 likewise.
    assert suspected_days(a_share("301001.SZ", [30.0, 45.0, 31.0, 30.0],
                                  date(2021, 3, 1))) == []
    assert suspected_days(a_share("603011.SH", [30.0, 45.0, 31.0, 30.0],
                                  date(2023, 6, 1))) == []
    # Before, a main-board listing day (44% against the offer price) is the first bar,
    # which has no previous close; the next session has 10%.
    assert suspected_days(a_share("603011.SH", [30.0, 45.0, 46.0], date(2019, 6, 3))) == [
        "2019-06-04"]


def test_beijing_stock_exchange_limits_are_30_percent_from_its_opening() -> None:
    from trade_pipelines.agent.markets import CN, market_of_symbol

    assert market_of_symbol("830799.BJ") == "cn"
    assert CN.price_limit("830799.BJ", date(2022, 3, 1)) == 0.30
    assert CN.price_limit("920002.BJ", date(2024, 3, 1)) == 0.30
    assert CN.price_limit("430047.BJ", date(2021, 6, 1)) is None  # NEEQ: not modelled
    history = {"830799.BJ": date(2021, 11, 15)}
    assert suspected_days(a_share("830799.BJ", [10.0, 7.5, 7.6], date(2022, 3, 1)),
                          history_starts=history) == []                     # -25%
    assert suspected_days(a_share("830799.BJ", [10.0, 6.0, 6.1], date(2022, 3, 1)),
                          history_starts=history) == ["2022-03-02"]         # -40%
    assert CN.price_limit("688981.SH", date(2019, 7, 22)) == 0.20


def test_a_bad_print_is_suspected_on_any_market_whatever_the_market_did() -> None:
    from trade_pipelines.agent.perception.validation import REASON_IMPLAUSIBLE, split_suspects

    index = closes("^GSPC", [100, 92, 91, 92])                    # a crash day: not calm
    fat_finger = closes("ZZF", [50, 46, 4600, 46.5])               # x100 and back
    ruin = closes("ZZR", [50, 9.5, 9.4, 9.3])                      # -81%: no split ratio
    frame = pd.DataFrame(index + fat_finger + ruin)
    wick = frame["symbol"] == "ZZW"
    spiky = closes("ZZW", [20, 19, 19.5, 19.2])
    frame = pd.concat([frame[~wick], pd.DataFrame(spiky)], ignore_index=True)
    frame.loc[(frame["symbol"] == "ZZW") & (frame["as_of"] == frame["as_of"].max()),
              "high"] = 250.0
    found = split_suspects(frame, benchmark_symbol="^GSPC")
    assert found["reason"].str.startswith(REASON_IMPLAUSIBLE).all()
    assert sorted(zip(found["symbol"], found["as_of"].astype(str), strict=True)) == [
        ("ZZF", "2024-01-03"), ("ZZF", "2024-01-04"), ("ZZR", "2024-01-02"),
        ("ZZW", "2024-01-04")]
    assert "the day's range" in found[found["symbol"] == "ZZW"]["reason"].iloc[0]
    coin = pd.DataFrame(closes("BTC-USD", [40000, 41000, 400, 40500]))
    assert len(split_suspects(coin, market="crypto")) == 2  # a bad print in crypto too


def test_a_bar_off_the_market_calendar_is_rejected_when_sessions_are_given() -> None:
    from trade_pipelines.agent.perception.validation import REASON_OFF_CALENDAR, decided_by

    frame = pd.DataFrame([bar(as_of="2024-01-05"), bar(as_of="2024-01-06"),  # a Saturday
                          bar(as_of="2024-01-08")])
    assert validate_bars(frame).rejected.empty
    sessions = [date(2024, 1, 5), date(2024, 1, 8)]
    result = validate_bars(frame, sessions=sessions)
    assert reasons(result.rejected) == {1: REASON_OFF_CALENDAR}
    assert decided_by(REASON_OFF_CALENDAR).startswith("ExpectColumnValuesToBeInSet")
