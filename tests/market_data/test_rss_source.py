"""RSS and Atom feeds through the real ``requests`` client against a local HTTP server:
items stored with their source, known only from their fetch, checked like an imported
file; dead, hanging, failing and malformed feeds fail fast and clearly."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from trade_pipelines.agent.loop.wiring import news_sentiment_rows
from trade_pipelines.market_data.errors import SourceUnreachable
from trade_pipelines.market_data.rss_source import (
    FeedSpec,
    FeedUnreadable,
    feed_label,
    feed_specs,
    feed_urls,
    feed_zone,
    fetch_feed,
    fetch_feeds,
    parse_feed,
    parse_feed_entry,
    resolve_timestamp,
)
from trade_pipelines.warehouse import Warehouse

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Markets</title>
<item><title>AAPL beats estimates; profits surge</title>
  <pubDate>Mon, 04 Mar 2024 14:30:00 -0500</pubDate>
  <description>Strong quarter.</description><link>http://x/1</link></item>
<item><title>Shanghai shares slide as losses mount</title>
  <pubDate>Tue, 05 Mar 2024 09:15:00 +0800</pubDate></item>
<item><title>AAPL  beats estimates, profits surge!</title>
  <pubDate>Mon, 04 Mar 2024 15:00:00 -0500</pubDate></item>
<item><title>An undated rumour</title></item>
<item><title>Zone unknown</title><pubDate>Mon, 04 Mar 2024 14:30:00 CEST</pubDate></item>
<item><title>From the future</title><pubDate>Fri, 01 Jan 2100 00:00:00 +0000</pubDate></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Wire</title>
<entry><title>Fed holds rates steady</title><published>2024-03-04T19:00:00Z</published>
  <summary>No change.</summary><link href="http://x/a"/></entry>
<entry><title>Banks rally on upgrade</title><updated>2024-03-05T13:00:00+00:00</updated></entry>
</feed>"""

# A Chinese feed: "CST" is China Standard Time, local times carry no offset.
CHINA = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>财经</title>
<item><title>央行下调存款准备金率</title><pubDate>Tue, 05 Mar 2024 09:15:00 CST</pubDate></item>
<item><title>沪指收涨</title><pubDate>2024-03-05 15:05:00</pubDate></item>
<item><title>两会开幕</title><pubDate>2024-03-05</pubDate></item>
<item><title>政府工作报告发布</title><pubDate>2024-03-06</pubDate></item>
<item><title>明日预告</title><pubDate>2024-03-07</pubDate></item>
<item><title>Wire copy</title><pubDate>Tue, 05 Mar 2024 01:00:00 GMT</pubDate></item>
</channel></rss>""".encode()

FETCHED = datetime(2024, 3, 5, 23, 0)  # naive UTC: 18:00 New York, after the close


class FeedServer:
    """Serves fixed feeds at /rss, /atom, /broken, /html, /error and /slow."""

    def __init__(self, slow_s: float = 5.0) -> None:
        bodies = {"/rss": RSS, "/atom": ATOM, "/china": CHINA, "/broken": b"<rss><channel><item>",
                  "/html": b"<html><body>not a feed</body></html>",
                  "/entities": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]>'
                               b"<rss>&a;</rss>"}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                if self.path == "/slow":
                    time.sleep(slow_s)
                if self.path == "/error":
                    self.send_error(503, "Service Unavailable")
                    return
                body = bodies.get(self.path, b"")
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FeedServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *args: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def store(tmp_path: Path) -> Warehouse:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    warehouse.migrate()
    return warehouse


def test_an_rss_feed_is_stored_checked_and_known_from_its_fetch(feeds: FeedServer,
                                                                 store: Warehouse) -> None:
    report = fetch_feed(f"{feeds.url}/rss", store, now=FETCHED)
    assert (report.fetched, report.stored, report.duplicates, report.quarantined) == (6, 2, 1, 3)
    news = store.query("SELECT * FROM news ORDER BY published_at")
    assert news["headline"].tolist() == ["AAPL beats estimates; profits surge",
                                         "Shanghai shares slide as losses mount"]
    # +0800 and -0500 both stored as naive UTC; the duplicate (same words, same day) gone.
    published = dict(zip(news["headline"], news["published_at"], strict=True))
    assert published["Shanghai shares slide as losses mount"] == pd.Timestamp("2024-03-05 01:15")
    assert published["AAPL beats estimates; profits surge"] == pd.Timestamp("2024-03-04 19:30")
    # Known to the agent only once fetched.
    assert (news["available_at"] == pd.Timestamp(FETCHED)).all()
    assert set(news["source"]) == {f"rss:{feeds.url.removeprefix('http://')}/rss"}
    assert news["symbol"].isna().all() and not news["generated"].any()
    quarantine = store.query("SELECT reason, raw FROM quarantine ORDER BY reason")
    assert quarantine["reason"].tolist() == [
        "no timestamp", "time zone abbreviation 'CEST' is ambiguous without the feed's "
        "time zone (give the feed one)", "timestamp in the future"]
    assert "An undated rumour" in quarantine["raw"].iloc[0]
    assert "14:30:00 CEST" in quarantine["raw"].iloc[1]  # the date as the feed wrote it
    # The same feed again adds nothing.
    again = fetch_feed(f"{feeds.url}/rss", store, now=FETCHED)
    assert again.stored == 0 and again.already_stored == 2
    assert len(store.query("SELECT * FROM news")) == 2


def test_an_atom_feed_and_a_per_stock_feed(feeds: FeedServer, store: Warehouse) -> None:
    report = fetch_feed(f"{feeds.url}/atom", store, symbol="jpm", now=FETCHED)
    assert (report.fetched, report.stored, report.quarantined) == (2, 2, 0)
    news = store.query("SELECT * FROM news ORDER BY published_at")
    assert news["published_at"].tolist() == [pd.Timestamp("2024-03-04 19:00"),
                                             pd.Timestamp("2024-03-05 13:00")]
    assert set(news["symbol"]) == {"JPM"}
    assert news["body"].iloc[0] == "No change."


def test_a_feed_in_its_own_time_zone(feeds: FeedServer, store: Warehouse) -> None:
    """Asia/Shanghai: "CST" is UTC+8, a local time is Beijing time, a date alone is known
    at the end of that Beijing day (the 6th had begun at the fetch, 07:00 Beijing; the 7th
    had not: future)."""
    report = fetch_feed(f"{feeds.url}/china", store, timezone="Asia/Shanghai", now=FETCHED)
    assert (report.fetched, report.stored, report.quarantined) == (6, 5, 1)
    news = store.query("SELECT headline, published_at, available_at FROM news")
    published = dict(zip(news["headline"], news["published_at"], strict=True))
    assert published == {"央行下调存款准备金率": pd.Timestamp("2024-03-05 01:15"),
                         "沪指收涨": pd.Timestamp("2024-03-05 07:05"),
                         "两会开幕": pd.Timestamp("2024-03-05 15:59:59"),
                         "政府工作报告发布": pd.Timestamp("2024-03-06 15:59:59"),
                         "Wire copy": pd.Timestamp("2024-03-05 01:00")}
    available = dict(zip(news["headline"], news["available_at"], strict=True))
    assert available["政府工作报告发布"] == pd.Timestamp("2024-03-06 15:59:59")  # day's end
    assert available["沪指收涨"] == pd.Timestamp(FETCHED)
    assert store.query("SELECT reason FROM quarantine")["reason"].tolist() == [
        "timestamp in the future"]


def test_without_a_zone_a_feed_s_local_times_are_refused_not_taken_as_utc(
        feeds: FeedServer, store: Warehouse) -> None:
    report = fetch_feed(f"{feeds.url}/china", store, now=FETCHED)
    assert (report.stored, report.quarantined) == (2, 4)
    news = store.query("SELECT headline, published_at FROM news ORDER BY published_at")
    # RFC 822's CST (US Central) without a zone for the feed; GMT as written
    assert news.values.tolist() == [["Wire copy", pd.Timestamp("2024-03-05 01:00")],
                                    ["央行下调存款准备金率", pd.Timestamp("2024-03-05 15:15")]]
    reasons = store.query("SELECT reason FROM quarantine ORDER BY reason")["reason"].tolist()
    assert reasons == ["date without a time of day and no time zone for the feed"] * 3 + [
        "timestamp without a time zone and no time zone for the feed"]
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        fetch_feed(f"{feeds.url}/china", store, timezone="Mars/Olympus")


@pytest.mark.parametrize(("stamp", "zone", "expected"), [
    ("Tue, 05 Mar 2024 09:15:00 +0800", None, "2024-03-05T09:15:00+08:00"),
    ("Tue, 05 Mar 2024 09:15:00 +0800", "America/New_York", "2024-03-05T09:15:00+08:00"),
    ("Tue, 05 Mar 2024 09:15:00 GMT", "Asia/Shanghai", "2024-03-05T09:15:00+00:00"),
    ("Tue, 05 Mar 2024 09:15:00 -0000", None, "2024-03-05T09:15:00+00:00"),
    ("Tue, 05 Mar 2024 09:15:00 +0000 (UTC)", None, "2024-03-05T09:15:00+00:00"),
    ("Tue, 5 Mar 24 09:15 GMT+8", None, "2024-03-05T09:15:00+08:00"),
    ("2024-03-05T09:15:00.5Z", None, "2024-03-05T09:15:00.500000+00:00"),
    ("Tue, 05 Mar 2024 09:15:00 EST", None, "2024-03-05T09:15:00-05:00"),
    ("Tue, 05 Mar 2024 09:15:00 PDT", None, "2024-03-05T09:15:00-07:00"),
    ("Tue, 05 Mar 2024 09:15:00 CST", None, "2024-03-05T09:15:00-06:00"),
    ("Tue, 05 Mar 2024 09:15:00 CST", "America/Chicago", "2024-03-05T09:15:00-06:00"),
    ("Tue, 05 Mar 2024 09:15:00 CST", "Asia/Shanghai", "2024-03-05T09:15:00+08:00"),
    ("Tue, 05 Mar 2024 09:15:00 CST", "Asia/Taipei", "2024-03-05T09:15:00+08:00"),
    ("Mon, 04 Mar 2024 14:30:00 CET", "Europe/Paris", "2024-03-04T14:30:00+01:00"),
    ("2024-03-04 14:30:00 EDT", "America/New_York", "2024-03-04T14:30:00-04:00"),
    ("2024-03-04 14:30", "America/New_York", "2024-03-04T14:30:00-05:00"),
    ("Mon, 04 Mar 2024", "UTC", "2024-03-04T23:59:59+00:00"),
    ("2024-03-04", "America/New_York", "2024-03-04T23:59:59-05:00"),
])
def test_feed_dates_keep_their_zone(stamp: str, zone: str | None, expected: str) -> None:
    assert resolve_timestamp(stamp, feed_zone(zone), FETCHED) == (expected, None)


@pytest.mark.parametrize(("stamp", "zone", "reason"), [
    ("", None, "no timestamp"),
    ("yesterday", None, "unparseable timestamp"),
    ("Fri, 30 Feb 2024 09:15:00 GMT", None, "unparseable timestamp"),
    ("2024-03-04T14:30:00", None, "timestamp without a time zone"),
    ("Mon, 04 Mar 2024 14:30:00", None, "timestamp without a time zone"),
    ("2024-03-04", None, "date without a time of day and no time zone"),
    ("Mon, 04 Mar 2024 14:30:00 CEST", None, "'CEST' is ambiguous without the feed's"),
    ("Mon, 04 Mar 2024 14:30:00 IST", None, "'IST' is ambiguous"),
    ("Mon, 04 Mar 2024 14:30:00 EST", "Europe/London", "not one the feed's zone "
                                                       "Europe/London uses (BST, GMT)"),
    ("Mon, 04 Mar 2024 14:30:00 +2500", None, "out of range"),
    ("Mon, 04 Mar 2024 14:30:00 +08 zone", None, "unknown time zone"),
    ("2024-03-10 02:30:00", "America/New_York", "non-existent local time"),
    ("2024-11-03 01:30:00", "America/New_York", "ambiguous"),
    ("2024-03-06 00:01:00", "UTC", "timestamp in the future"),
    ("2024-03-06", "America/New_York", "timestamp in the future"),  # not begun by the fetch
])
def test_feed_dates_without_a_knowable_zone_are_refused(stamp: str, zone: str | None,
                                                        reason: str) -> None:
    resolved, why = resolve_timestamp(stamp, feed_zone(zone), FETCHED)
    assert resolved == "" and why is not None and reason in why


def test_a_headline_counts_for_the_first_close_after_its_fetch(feeds: FeedServer,
                                                               store: Warehouse) -> None:
    """Published on 4 March before the close but fetched on the 5th after the close: the
    agent could first act on it at the 6th's close, so that session's sentiment has it."""
    fetch_feed(f"{feeds.url}/rss", store, now=FETCHED)
    news = store.query("SELECT news_id, symbol, headline, body, language, published_at, "
                       "available_at, generated FROM news")
    rows = news_sentiment_rows("us", news, date(2024, 3, 1), date(2024, 3, 8))
    assert rows["as_of"].tolist() == [date(2024, 3, 6)]
    assert rows["headlines"].iloc[0] == 2


def test_broken_feeds_fail_clearly_and_do_not_stop_the_others(feeds: FeedServer,
                                                              store: Warehouse) -> None:
    with pytest.raises(FeedUnreadable, match="not well-formed XML"):
        fetch_feed(f"{feeds.url}/broken", store)
    with pytest.raises(FeedUnreadable, match="not an RSS or Atom feed"):
        fetch_feed(f"{feeds.url}/html", store)
    with pytest.raises(FeedUnreadable, match="HTTP 503"):
        fetch_feed(f"{feeds.url}/error", store)
    with pytest.raises(FeedUnreadable, match="declares XML entities"):
        parse_feed(b'<!DOCTYPE r [<!ENTITY a "x">]><rss/>', "u")
    reports = fetch_feeds([f"{feeds.url}/error", f"{feeds.url}/atom"], store)
    assert reports[0].error and "HTTP 503" in reports[0].message
    assert reports[1].error is None and reports[1].stored == 2
    assert store.query("SELECT count(*) AS n FROM quarantine")["n"].iloc[0] == 0


def test_a_hanging_feed_and_a_dead_one_fail_in_bounded_time(feeds: FeedServer,
                                                            store: Warehouse) -> None:
    started = time.perf_counter()
    with pytest.raises(SourceUnreachable, match="/slow"):
        fetch_feed(f"{feeds.url}/slow", store, timeout_s=0.5, attempts=2, backoff_s=0.1)
    # two attempts of 0.5 s and a 0.1 s pause, not the 5 s the server would take
    assert time.perf_counter() - started < 3.0
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        port = closed.server_address[1]
    started = time.perf_counter()
    with pytest.raises(SourceUnreachable, match=f"127.0.0.1:{port}"):
        fetch_feed(f"http://127.0.0.1:{port}/rss", store, timeout_s=1, attempts=2,
                   backoff_s=0.1)
    assert time.perf_counter() - started < 3.0
    assert store.query("SELECT count(*) AS n FROM news")["n"].iloc[0] == 0


def test_feed_settings_are_split_on_commas_and_spaces() -> None:
    assert feed_urls(" http://a/x, http://b/y http://a/x\n") == ["http://a/x", "http://b/y"]
    assert feed_urls("") == []


def test_feed_settings_name_symbols_and_zones() -> None:
    setting = ("aapl, msft=https://a/x.xml?ids=1&k=2,https://b/y.xml; "
               "600036.SH=https://c/cn.xml|Asia/Shanghai\nhttps://d/z.xml|UTC;;")
    assert feed_specs(setting) == [
        FeedSpec("https://a/x.xml?ids=1&k=2", ("AAPL", "MSFT")),
        FeedSpec("https://b/y.xml"),
        FeedSpec("https://c/cn.xml", ("600036.SH",), "Asia/Shanghai"),
        FeedSpec("https://d/z.xml", (), "UTC")]
    assert feed_urls(setting)[0] == "AAPL,MSFT=https://a/x.xml?ids=1&k=2"
    assert feed_urls(setting)[2] == "600036.SH=https://c/cn.xml|Asia/Shanghai"
    assert parse_feed_entry(feed_urls(setting)[2]) == feed_specs(setting)[2]
    assert parse_feed_entry("https://h/f?a=b") == FeedSpec("https://h/f?a=b")


def test_a_comma_inside_a_feed_url_stays_in_it() -> None:
    # a comma separates entries only before a URL (or SYMBOLS= and a URL)
    assert feed_specs("https://x/rss?s=AAPL,MSFT https://b/y.xml") == [
        FeedSpec("https://x/rss?s=AAPL,MSFT"), FeedSpec("https://b/y.xml")]
    assert feed_specs("AAPL=https://x/rss?s=AAPL,MSFT,https://b/y.xml") == [
        FeedSpec("https://x/rss?s=AAPL,MSFT", ("AAPL",)), FeedSpec("https://b/y.xml")]
    assert feed_specs("https://a/x.xml,aapl,MSFT=https://b/y.xml?ids=1,2;https://c/z,") == [
        FeedSpec("https://a/x.xml"), FeedSpec("https://b/y.xml?ids=1,2", ("AAPL", "MSFT")),
        FeedSpec("https://c/z")]


@pytest.mark.parametrize(("setting", "error"), [
    ("AAPL https://a/x.xml", "'AAPL' is not a feed URL"),
    ("AAPL,https://a/x.xml", "'AAPL' is not a feed URL"),
    ("=https://a/x.xml", "no symbol before '='"),
    ("AA PL=https://a/x.xml", "'AA' is not a feed URL"),
    ("A/B=https://a/x.xml", "not a symbol: A/B"),
    ("AAPL=ftp://a/x.xml", "is not an http(s) feed URL"),
    ("https://a/x.xml|Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
])
def test_badly_written_feeds_are_refused_with_the_reason(setting: str, error: str) -> None:
    with pytest.raises(ValueError, match=re.escape(error)):
        feed_specs(setting)


def test_the_source_tells_two_feeds_of_one_host_apart() -> None:
    assert feed_label("https://news.example.com/markets/rss/") == \
        "rss:news.example.com/markets/rss"
    assert feed_label("https://news.example.com/tech.xml") == "rss:news.example.com/tech.xml"
    # no credentials or fragment; the query (it may hold a key) only as a short hash
    assert feed_label("https://me:secret@Example.com:8443/f.xml?apikey=k#top") == \
        "rss:example.com:8443/f.xml?" + hashlib.sha256(b"apikey=k").hexdigest()[:8]
    assert len(feed_label("https://h/" + "p" * 500)) == 120
    # two searches of one host differ by their query, whose hash survives the bound
    aapl = feed_label("https://news.google.com/rss/search?q=AAPL")
    msft = feed_label("https://news.google.com/rss/search?q=MSFT")
    assert aapl.startswith("rss:news.google.com/rss/search?") and aapl != msft
    assert "AAPL" not in aapl and aapl == feed_label("https://news.google.com/rss/search?q=AAPL")
    long_a, long_b = (feed_label(f"https://h/{'p' * 500}?k={k}") for k in "ab")
    assert len(long_a) == 120 and long_a != long_b


def test_a_feed_about_several_stocks_stores_each_item_once_per_stock(
        feeds: FeedServer, store: Warehouse) -> None:
    report = fetch_feed(f"aapl,msft={feeds.url}/atom", store, now=FETCHED)
    assert (report.fetched, report.stored, report.quarantined) == (2, 4, 0)
    assert report.message.endswith("for AAPL, MSFT")
    news = store.query("SELECT symbol, headline FROM news ORDER BY symbol, published_at")
    assert news.values.tolist() == [["AAPL", "Fed holds rates steady"],
                                    ["AAPL", "Banks rally on upgrade"],
                                    ["MSFT", "Fed holds rates steady"],
                                    ["MSFT", "Banks rally on upgrade"]]
    # the feed's own symbols win over the call's default; a second feed of the host is
    # its own source
    reports = fetch_feeds([f"KO={feeds.url}/rss", f"{feeds.url}/atom"], store, symbol="JPM")
    assert [r.symbols for r in reports] == [("KO",), ("JPM",)]
    sources = store.query("SELECT DISTINCT symbol, source FROM news ORDER BY 1")
    host = feeds.url.removeprefix("http://")
    assert sources.values.tolist() == [["AAPL", f"rss:{host}/atom"],
                                       ["JPM", f"rss:{host}/atom"],
                                       ["KO", f"rss:{host}/rss"],
                                       ["MSFT", f"rss:{host}/atom"]]
    # an entry's own zone wins over the call's
    china = fetch_feed(f"{feeds.url}/china|Asia/Shanghai", store, timezone="UTC",
                       now=FETCHED)
    assert china.stored == 5
    assert fetch_feeds(["AAPL"], store)[0].error == (
        "'AAPL' is not an http(s) feed URL (write [SYMBOLS=]URL[|Area/Zone])")
