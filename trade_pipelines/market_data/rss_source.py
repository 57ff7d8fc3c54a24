"""Headlines from RSS and Atom feeds, for live mode (``trade-pipelines fetch-news`` and the
``news_feeds`` sensor).

A feed is fetched with a time-out and retried with back-off on connection errors
(``network.with_retries``), so a dead or hanging feed fails in bounded time with
``SourceUnreachable`` naming the URL; an HTTP error or a body that is not a feed raises
``FeedUnreadable``. RSS 2.0 (``channel/item``: title, pubDate, description), RSS 1.0
(``item`` with ``dc:date``) and Atom (``entry``: title, published or updated, summary or
content) are read with the standard library's XML parser; a document declaring entities
is refused (no entity expansion).

A feed is written ``[SYMBOLS=]URL[|Area/Zone]`` (``parse_feed_entry``): the stocks it is
about, each item being stored once per symbol (none: market-wide), and the IANA zone it
writes local times in. Its headlines are recorded as from ``rss:<host><path>``, with a
short hash of the query when it has one (``feed_label``).

Time zones (``resolve_timestamp``): a date with a numeric offset, Z, UT, UTC or GMT is read
as written; another abbreviation only through the feed's own zone (``--timezone``), else
only RFC 822's US zones (EST ... PDT), and "CST" in an Asia/* zone is China Standard Time;
a date with no zone is read in the feed's zone and refused without one (never taken as
UTC); a date without a time of day is known at the end of that day in its zone.

One clock: an item is known to the agent only once it has been fetched, so its
``available_at`` is the later of its own timestamp and the moment of the fetch; a replay
never sees a headline before the agent could have read it. Items are checked like an
imported file (``news_importer.check_headlines``): one without a date (or a zone), with an
empty title or dated in the future goes to ``quarantine`` with the reason, never guessed.
Stored through ``news_importer.store_news``: the same item fetched twice is one row.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from datetime import timezone as fixed_offset
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import requests

from trade_pipelines.market_data.network import with_retries
from trade_pipelines.market_data.news_importer import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    check_headlines,
    store_news,
)
from trade_pipelines.warehouse.connection import Warehouse

USER_AGENT = "trade-pipelines news reader"
ITEM_TAGS = ("item", "entry")
DATE_TAGS = ("pubDate", "published", "updated", "date", "issued", "modified")
BODY_TAGS = ("description", "summary", "content", "encoded")
_MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
# RFC 822 (RSS): "Tue, 05 Mar 2024 09:15:00 +0800"; seconds, the day name and the time of
# day may be missing. ISO 8601 (Atom, dc:date): "2024-03-05T09:15:00+08:00". Then a zone.
_RFC822 = re.compile(r"^(?:[A-Za-z]{2,9}\.?,?\s*)?(\d{1,2})[\s-]+([A-Za-z]{3,9})\.?[\s-]+"
                     r"(\d{4}|\d{2})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*(.*)$")
_ISO = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[T\s]+(\d{1,2}):(\d{2})"
                  r"(?::(\d{2})(?:[.,](\d+))?)?)?\s*(.*)$")
_OFFSET = re.compile(r"^(?:(?:GMT|UTC?)\s*)?([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_ABBREVIATION = re.compile(r"^[A-Za-z]{2,6}$")
_UTC_NAMES = ("Z", "UT", "UTC", "GMT")
# RFC 822's zone names: the only abbreviations read when a feed has no time zone of its own.
RFC822_ZONES = {"EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6,
                "PST": -8, "PDT": -7}


_SYMBOL = re.compile(r"^[A-Z0-9^][A-Z0-9._^-]*$")
# In a setting, a comma separates two entries only before a URL scheme, or, once past a
# URL's own scheme, before SYMBOLS= and a scheme; any other comma stays in its entry (the
# symbols before '=', or the URL's own, as in "?s=AAPL,MSFT").
_URL_COMMA = re.compile(r",(?=https?://)", re.IGNORECASE)
_SYMBOLS_COMMA = re.compile(r",(?=[A-Za-z0-9^][A-Za-z0-9._^-]*"
                            r"(?:,[A-Za-z0-9^][A-Za-z0-9._^-]*)*=https?://)", re.IGNORECASE)
LABEL_LIMIT = 120
QUERY_HASH_HEX = 8


class FeedUnreadable(ValueError):
    """The feed answered, but not with a feed (an HTTP error, or not RSS/Atom XML)."""


@dataclass(frozen=True)
class FeedSpec:
    """One feed: its URL, the stocks it is about (none: market-wide) and the IANA zone it
    writes local times in (none: not known)."""

    url: str
    symbols: tuple[str, ...] = ()
    timezone: str | None = None

    @property
    def entry(self) -> str:
        """The feed written back as ``[SYMBOLS=]URL[|Area/Zone]``."""
        symbols = f"{','.join(self.symbols)}=" if self.symbols else ""
        return f"{symbols}{self.url}{'|' + self.timezone if self.timezone else ''}"


def parse_feed_entry(text: str) -> FeedSpec:
    """A feed written as ``[SYMBOLS=]URL[|Area/Zone]``: ``AAPL,MSFT=https://host/feed.xml``
    is a feed about AAPL and MSFT, ``https://host/cn.xml|Asia/Shanghai`` one that writes
    Beijing time. ``ValueError`` says what is wrong with it."""
    text = text.strip()
    zone = None
    if "|" in text:
        text, _, zone = text.rpartition("|")
        zone = zone.strip()
        feed_zone(zone)  # a known IANA name, or ValueError
        text = text.strip()
    head, equals, tail = text.partition("=")
    symbols: tuple[str, ...] = ()
    url = text
    if equals and "://" not in head and "://" in tail:
        symbols = tuple(dict.fromkeys(s.strip().upper() for s in head.split(",")
                                      if s.strip()))
        if not symbols:
            raise ValueError(f"{text!r}: no symbol before '=' (write SYMBOLS=URL, e.g. "
                             "AAPL,MSFT=https://host/feed.xml)")
        wrong = [s for s in symbols if not _SYMBOL.match(s)]
        if wrong:
            raise ValueError(f"{text!r}: not a symbol: {', '.join(wrong)}")
        url = tail.strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"{url!r} is not an http(s) feed URL (write [SYMBOLS=]URL"
                         "[|Area/Zone])")
    return FeedSpec(url, symbols, zone)


@dataclass(frozen=True)
class FeedReport:
    url: str
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    already_stored: int = 0
    quarantined: int = 0
    error: str | None = None
    symbols: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        if self.error:
            return f"{self.url}: FAILED: {self.error}"
        return (f"{self.url}: {self.fetched} item(s), {self.stored} stored, "
                f"{self.already_stored} already stored, {self.duplicates} duplicate(s), "
                f"{self.quarantined} quarantined"
                + (f", for {', '.join(self.symbols)}" if self.symbols else ""))


def feed_label(url: str) -> str:
    """``rss:<host><path>``: the source recorded with a feed's headlines, which tells two
    feeds of one host apart. No scheme, credentials or fragment; a query (it may hold a
    key) only as the first ``QUERY_HASH_HEX`` hex digits of its SHA-256, after a '?', so
    ``/search?q=AAPL`` and ``/search?q=MSFT`` differ; at most ``LABEL_LIMIT`` characters,
    the hash kept."""
    parsed = urlparse(url)
    host = parsed.hostname or ""
    try:
        port = parsed.port
    except ValueError:
        port = None
    if not host:
        return f"rss:{url}"[:LABEL_LIMIT]
    where = f"rss:{host}{f':{port}' if port else ''}{parsed.path.rstrip('/')}"
    if not parsed.query:
        return where[:LABEL_LIMIT]
    digest = hashlib.sha256(parsed.query.encode()).hexdigest()[:QUERY_HASH_HEX]
    return f"{where[:LABEL_LIMIT - QUERY_HASH_HEX - 1]}?{digest}"


def download_feed(url: str, *, timeout_s: float = 10, attempts: int = 3,
                  backoff_s: float = 1.0) -> bytes:
    """The feed's bytes; ``SourceUnreachable`` when it cannot be reached in time,
    ``FeedUnreadable`` when it answers with an HTTP error."""
    def call() -> requests.Response:
        return requests.get(url, timeout=timeout_s, headers={"User-Agent": USER_AGENT})

    response = with_retries(call, what=f"the feed {url}", source=feed_label(url),
                            symbols=[], attempts=attempts, backoff_s=backoff_s,
                            timeout_s=timeout_s)
    if response.status_code >= 400:
        raise FeedUnreadable(f"{url} answered HTTP {response.status_code} {response.reason}")
    return response.content


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(element: ElementTree.Element, names: Iterable[str]) -> str:
    wanted = tuple(names)
    for name in wanted:  # in order of preference
        for child in element:
            if _local(child.tag) == name:
                text = "".join(child.itertext()).strip()
                if text:
                    return text
    return ""


def feed_zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone a feed writes its local times in (None: not given); ``ValueError``
    for a name that is not one."""
    if name is None or not name.strip():
        return None
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name.strip()!r} (use an IANA name such as "
                         "UTC, America/New_York or Asia/Shanghai)") from error


def _abbreviation(name: str, zone: ZoneInfo | None, wall: datetime) -> tzinfo | str:
    """The offset a zone abbreviation stands for, or why it cannot be told. With the
    feed's zone: the abbreviations that zone uses that year ("CST" in any Asia/* zone is
    China Standard Time, UTC+8); without one, only RFC 822's US zones."""
    upper = name.upper()
    if zone is None:
        if upper in RFC822_ZONES:
            return fixed_offset(timedelta(hours=RFC822_ZONES[upper]), upper)
        return (f"time zone abbreviation {name!r} is ambiguous without the feed's time "
                "zone (give the feed one)")
    if upper == "CST" and zone.key.startswith("Asia/"):
        return fixed_offset(timedelta(hours=8), "CST")
    used: dict[str, set[timedelta]] = {}
    for probe in (wall, wall.replace(fold=1), datetime(wall.year, 1, 1),
                  datetime(wall.year, 7, 1)):
        local = probe.replace(tzinfo=zone)
        if local.tzname() and local.utcoffset() is not None:
            used.setdefault(local.tzname().upper(), set()).add(local.utcoffset())
    offsets = used.get(upper, set())
    if len(offsets) == 1:
        return fixed_offset(offsets.pop(), upper)
    return (f"time zone abbreviation {name!r} is not one the feed's zone {zone.key} uses "
            f"({', '.join(sorted(used)) or 'none'})")


def resolve_timestamp(text: str, zone: ZoneInfo | None,
                      fetched_at: datetime) -> tuple[str, str | None]:
    """A feed's date as ISO 8601 with its UTC offset, or ("", why it was refused).

    An explicit offset, Z, UT, UTC or GMT is used as written; another abbreviation only
    when the feed's zone tells what it means (``_abbreviation``); a time with no zone is
    read in the feed's zone and refused without one, never taken as UTC. A date without a
    time of day is taken as the last second of that day, so it is never known before it
    could have been published (a day that had begun by the fetch is not "in the future");
    refused without a zone. A time after the fetch is refused. ``fetched_at``: naive
    UTC."""
    text = " ".join(text.split())
    if not text:
        return "", "no timestamp"
    text = re.sub(r"\s*\([^()]*\)$", "", text)  # "+0000 (UTC)": an RFC 5322 comment
    rfc = _RFC822.match(text)
    iso = None if rfc else _ISO.match(text)
    try:
        if rfc:
            day, month_name, year_text, hour, minute, second, rest = rfc.groups()
            month = _MONTHS.get(month_name[:3].lower())
            if month is None:
                return "", "unparseable timestamp"
            year = int(year_text)
            year += (2000 if year < 50 else 1900) if len(year_text) == 2 else 0
            wall = datetime(year, month, int(day), int(hour or 0), int(minute or 0),
                            int(second or 0))
        elif iso:
            year_text, month_text, day, hour, minute, second, fraction, rest = iso.groups()
            wall = datetime(int(year_text), int(month_text), int(day), int(hour or 0),
                            int(minute or 0), int(second or 0),
                            int((fraction or "0")[:6].ljust(6, "0")))
        else:
            return "", "unparseable timestamp"
    except ValueError:  # 30 February, 25:00
        return "", "unparseable timestamp"
    day_only = hour is None
    rest = rest.strip()
    offset = _OFFSET.match(rest)
    stamp: tzinfo | ZoneInfo | str | None
    if not rest:
        stamp = zone
    elif rest.upper() in _UTC_NAMES:
        stamp = UTC
    elif offset:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        stamp = fixed_offset(-delta if sign == "-" else delta) \
            if delta <= timedelta(hours=14) and int(minutes or 0) < 60 \
            else f"time zone offset {rest!r} out of range"
    elif _ABBREVIATION.match(rest):
        stamp = _abbreviation(rest, zone, wall)
    else:
        stamp = f"unknown time zone {rest!r}"
    if stamp is None:
        return "", ("date without a time of day and no time zone for the feed" if day_only
                    else "timestamp without a time zone and no time zone for the feed")
    if isinstance(stamp, str):
        return "", stamp
    fetched = fetched_at.replace(tzinfo=UTC)
    if day_only:
        # Known only at the day's end; in the future only if the day had not begun.
        if wall.replace(tzinfo=stamp) > fetched:
            return "", "timestamp in the future"
        return wall.replace(hour=23, minute=59, second=59, tzinfo=stamp).isoformat(), None
    local = wall.replace(tzinfo=stamp)
    if isinstance(stamp, ZoneInfo) and (  # a local time: it must exist once in the zone
            local.astimezone(UTC).astimezone(stamp).replace(tzinfo=None) != wall
            or wall.replace(fold=1, tzinfo=stamp).utcoffset() != local.utcoffset()):
        return "", f"ambiguous or non-existent local time in {stamp.key}"
    if local > fetched:
        return "", "timestamp in the future"
    return local.isoformat(), None


def parse_feed(content: bytes, url: str = "", *, zone: ZoneInfo | None = None,
               now: datetime | None = None) -> pd.DataFrame:
    """Items of an RSS or Atom document: columns published_at (ISO text with its offset,
    empty when refused), headline, symbol, source, body, link, published_as (the date as
    the feed wrote it) and refused (why its date was refused, or None). ``zone``: the
    zone the feed writes local times in; ``now``: the fetch (naive UTC)."""
    if b"<!ENTITY" in content:
        raise FeedUnreadable(f"{url or 'the feed'} declares XML entities: refused")
    try:
        root = ElementTree.fromstring(content)
    except ElementTree.ParseError as error:
        raise FeedUnreadable(f"{url or 'the feed'} is not well-formed XML: {error}") from error
    if _local(root.tag) not in ("rss", "feed", "RDF"):
        raise FeedUnreadable(f"{url or 'the feed'} is not an RSS or Atom feed "
                             f"(root element <{_local(root.tag)}>)")
    now = now or datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for item in root.iter():
        if _local(item.tag) not in ITEM_TAGS:
            continue
        link = _child_text(item, ("link",))
        if not link:
            link = next((child.get("href", "") for child in item
                         if _local(child.tag) == "link"), "")
        stamp = _child_text(item, DATE_TAGS)
        published, refused = resolve_timestamp(stamp, zone, now)
        rows.append({"published_at": published, "published_as": stamp,
                     "headline": " ".join(_child_text(item, ("title",)).split()),
                     "symbol": "", "source": "",
                     "body": " ".join(_child_text(item, BODY_TAGS).split())[:2000],
                     "link": link, "refused": refused})
    return pd.DataFrame(rows, columns=[*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, "link",
                                       "published_as", "refused"])


def fetch_feed(feed: str | FeedSpec, warehouse: Warehouse, *, symbol: str | None = None,
               timezone: str | None = None, timeout_s: float = 10, attempts: int = 3,
               backoff_s: float = 1.0, now: datetime | None = None) -> FeedReport:
    """Fetch one feed (a ``FeedSpec`` or its ``[SYMBOLS=]URL[|Area/Zone]`` text) and store
    its items, once per symbol it is about. ``symbol`` and ``timezone``: the stock and the
    IANA zone of a feed that names none of its own (no symbol: market-wide). Errors are
    raised, not swallowed."""
    spec = feed if isinstance(feed, FeedSpec) else parse_feed_entry(feed)
    url = spec.url
    symbols = spec.symbols or ((symbol.strip().upper(),) if symbol and symbol.strip()
                               else ())
    zone = feed_zone(spec.timezone or timezone)
    content = download_feed(url, timeout_s=timeout_s, attempts=attempts,
                            backoff_s=backoff_s)
    fetched_at = now or datetime.now(UTC).replace(tzinfo=None)
    items = parse_feed(content, url, zone=zone, now=fetched_at)
    if symbols:  # one copy of each item per stock the feed is about
        items = pd.concat([items.assign(symbol=s) for s in symbols], ignore_index=True)
    refused = items.pop("refused")
    parsed = [(None, why, False) if why else
              (pd.Timestamp(at).tz_convert("UTC").tz_localize(None).to_pydatetime(), None,
               False) for at, why in zip(items["published_at"], refused, strict=True)]
    checked = check_headlines(items.drop(columns=["link", "published_as"]), items,
                              zone or ZoneInfo("UTC"), fetched_at, feed_label(url),
                              feed_label(url), available_from=fetched_at, parsed=parsed)
    stored = store_news(warehouse, checked.rows, checked.quarantine) \
        if len(checked.rows) or len(checked.quarantine) else None
    copies = max(len(symbols), 1)
    return FeedReport(url, fetched=len(items) // copies,
                      stored=stored.inserted if stored else 0,
                      duplicates=stored.duplicates if stored else 0,
                      already_stored=stored.already_stored if stored else 0,
                      quarantined=int(checked.bad.sum()) // copies, symbols=symbols)


def fetch_feeds(feeds: Iterable[str | FeedSpec], warehouse: Warehouse, *,
                symbol: str | None = None, timezone: str | None = None,
                timeout_s: float = 10, attempts: int = 3,
                backoff_s: float = 1.0) -> list[FeedReport]:
    """Every feed, one report each: a dead or broken feed (or a badly written entry) is
    reported and the others are still read."""
    from trade_pipelines.market_data.errors import DataSourceUnavailable

    reports = []
    for feed in feeds:
        try:
            reports.append(fetch_feed(feed, warehouse, symbol=symbol, timezone=timezone,
                                      timeout_s=timeout_s, attempts=attempts,
                                      backoff_s=backoff_s))
        except (DataSourceUnavailable, FeedUnreadable, requests.RequestException,
                ValueError, LookupError) as error:  # one bad feed never stops the others
            url = feed.url if isinstance(feed, FeedSpec) else feed
            reports.append(FeedReport(url, error=str(error)))
    return reports


def _setting_entries(token: str) -> Iterable[str]:
    """A setting's token (no whitespace or ';') split on the commas that separate entries."""
    for piece in _URL_COMMA.split(token):
        while (scheme := piece.find("://")) >= 0 and (
                comma := _SYMBOLS_COMMA.search(piece, scheme + 3)):
            yield piece[:comma.start()]
            piece = piece[comma.end():]
        yield piece


def feed_specs(setting: str) -> list[FeedSpec]:
    """Feeds from a setting such as $TRADE_PIPELINES_NEWS_FEEDS, in order, each once:
    entries ``[SYMBOLS=]URL[|Area/Zone]`` separated by whitespace or ';' (spaces around a
    comma do not separate). A comma also separates two entries when what follows it is a
    URL, or SYMBOLS= and a URL (``AAPL,MSFT=https://a/x.xml,https://b/y.xml`` is a feed
    about AAPL and MSFT and a market-wide one); any other comma belongs to its entry, the
    symbols before '=' or the URL itself (``https://a/rss?s=AAPL,MSFT``).
    ``ValueError`` names an entry that is not a feed."""
    specs = []
    for token in re.split(r"[\s;]+", re.sub(r"\s*,\s*", ",", setting)):
        for piece in (p.strip(",") for p in _setting_entries(token)):
            if not piece:
                continue
            if "://" not in piece:
                hint = ("SYMBOLS=URL for a feed about some stocks" if "=" not in piece
                        else "[SYMBOLS=]URL[|Area/Zone]")
                raise ValueError(f"{piece!r} is not a feed URL (write {hint})")
            specs.append(parse_feed_entry(piece))
    return list(dict.fromkeys(specs))


def feed_urls(setting: str) -> list[str]:
    """The feeds of a setting written back one entry each (``feed_specs``)."""
    return [spec.entry for spec in feed_specs(setting)]
