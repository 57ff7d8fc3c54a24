"""One clock for news: a replay with imported headlines, then the same replay with every
headline after a day rewritten (and more added), must agree on every news sentiment row
and every decision up to that day, and differ after it. Drill headlines stay out of a
replay unless asked for."""

from __future__ import annotations

import os
from datetime import date, datetime, time
from pathlib import Path

import pandas as pd
from replay_helpers import SYMBOLS, seed_builtin_bars, table, warehouse

from trade_pipelines.cli import run_replay
from trade_pipelines.market_data import bar_available_at
from trade_pipelines.market_data.calendar import exchange_sessions
from trade_pipelines.market_data.news_importer import import_news_file

CUTOFF = date(2019, 3, 15)
FIRST, LAST = date(2019, 1, 2), date(2019, 4, 30)
GOOD = "{symbol} posts strong gains as profitability improves"
MIXED = "{symbol} announces quarterly results"
BAD = "{symbol} faces fraud investigation; losses and default fears mount"


def _news_file(path: Path, perturb_after: date | None) -> Path:
    """Two headlines per symbol and session, at 11:00 and 15:00 New York time (before the
    close), alternating in tone; after ``perturb_after`` every one turns bad, a third
    is added, and one lands a minute after the cutoff day's close."""
    rows = []
    for i, day in enumerate(exchange_sessions(FIRST, LAST)):
        for j, symbol in enumerate(SYMBOLS.split(",")):
            template = (GOOD, MIXED, BAD)[(i + j) % 3]
            times = [time(11), time(15)]
            if perturb_after is not None and day > perturb_after:
                template, times = BAD, [time(11), time(15), time(15, 30)]
            for at in times:
                stamp = pd.Timestamp(datetime.combine(day, at), tz="America/New_York")
                rows.append({"published_at": stamp.isoformat(),
                             "headline": template.format(symbol=symbol) + f" ({at:%H:%M})",
                             "symbol": symbol})
    if perturb_after is not None:
        just_after = pd.Timestamp(bar_available_at(perturb_after)) + pd.Timedelta(minutes=1)
        rows.append({"published_at": just_after.isoformat() + "Z",
                     "headline": "AAPL accused of fraud after the bell", "symbol": "AAPL"})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _replay(home: Path, news: Path) -> None:
    seed_builtin_bars(home, date(2017, 6, 1), date(2019, 6, 30))
    report = import_news_file(news, warehouse(home))
    assert report.quarantined == 0 and report.imported > 0
    os.environ["TRADE_PIPELINES_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")
    assert run_replay(FIRST, LAST, SYMBOLS, source="warehouse", progress=False)


def _split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    day = pd.to_datetime(frame["as_of"]).dt.date
    return (frame[day <= CUTOFF].reset_index(drop=True),
            frame[day > CUTOFF].reset_index(drop=True))


def test_future_headlines_change_no_past_sentiment_or_decision(project_home: Path,
                                                               tmp_path: Path) -> None:
    original, perturbed = tmp_path / "original", tmp_path / "perturbed"
    _replay(original, _news_file(tmp_path / "news.csv", None))
    _replay(perturbed, _news_file(tmp_path / "news_perturbed.csv", CUTOFF))

    for name in ("news_sentiment", "market_events", "decisions"):
        before_a, after_a = _split(table(original, name))
        before_b, after_b = _split(table(perturbed, name))
        assert len(before_a) > 0 and len(after_a) > 0, name
        pd.testing.assert_frame_equal(before_a, before_b, obj=f"{name} up to {CUTOFF}")
        assert not after_a.equals(after_b), f"{name} after {CUTOFF} did not change"

    sentiment = table(perturbed, "news_sentiment")
    days = pd.to_datetime(sentiment["as_of"]).dt.date
    # The headline a minute after the cutoff's close counts for the next session (a
    # Monday: two of Friday's, three of Monday's and the late one).
    aapl = sentiment.assign(day=days)[sentiment["symbol"] == "AAPL"].set_index("day")
    assert aapl.loc[CUTOFF, "headlines"] == 2
    assert aapl.loc[date(2019, 3, 18), "headlines"] == 4
    assert (sentiment.loc[days > CUTOFF, "score"] < 0).all()
    # The debate quoted the news, with its timestamp, and the bad news was objected to.
    decisions = table(perturbed, "decisions")
    later = decisions[pd.to_datetime(decisions["as_of"]).dt.date > CUTOFF]
    assert later["transcript"].str.contains("The news is against it").all()
    assert later["transcript"].str.contains(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC").all()
    earlier = table(original, "decisions")
    assert earlier["transcript"].str.contains("The news backs it").any()
    # Strongly negative headlines became events whose response bars new entries, and the
    # risk engine refused entries for it. A headline's event is known from the next day:
    # from 19 March on, every one comes from a rewritten headline.
    events = table(perturbed, "market_events")
    news_events = events[(events["kind"] == "news")
                         & (pd.to_datetime(events["as_of"]).dt.date >= date(2019, 3, 19))]
    assert len(news_events) > 0 and news_events["reason"].str.contains("scored -0").all()
    assert news_events["response"].str.startswith("no new entries into").any()
    def blackouts_after_cutoff(home: Path) -> int:
        orders = table(home, "orders")
        refused = orders["reason"].fillna("").str.contains("event blackout")
        return int((refused & (pd.to_datetime(orders["as_of"]).dt.date > CUTOFF)).sum())

    assert blackouts_after_cutoff(perturbed) > blackouts_after_cutoff(original)


def test_importing_later_news_recomputes_only_the_months_from_it(project_home: Path,
                                                                 tmp_path: Path) -> None:
    home = tmp_path / "home"
    _replay(home, _news_file(tmp_path / "news.csv", None))
    decisions = table(home, "decisions")

    def months() -> pd.DataFrame:
        return warehouse(home).query(
            "SELECT first_day, fingerprint, committed_at FROM step_checkpoints "
            "WHERE step = 'daily_trading_loop' ORDER BY first_day")

    before = months()
    report = import_news_file(_news_file(tmp_path / "later.csv", CUTOFF), warehouse(home))
    assert report.imported > 0 and report.already_stored > 0
    assert run_replay(FIRST, LAST, SYMBOLS, source="warehouse", progress=False)
    after = months()
    kept = pd.to_datetime(after["first_day"]).dt.date < CUTOFF.replace(day=1)
    assert kept.sum() == 2 and (~kept).sum() == 2  # January and February; March, April
    pd.testing.assert_frame_equal(before[kept.to_numpy()], after[kept])
    assert (after.loc[~kept, "fingerprint"].to_numpy()
            != before.loc[~kept.to_numpy(), "fingerprint"].to_numpy()).all()
    old, new = _split(decisions), _split(table(home, "decisions"))
    pd.testing.assert_frame_equal(old[0], new[0])
    assert not old[1].equals(new[1])
