"""Headlines from RSS and Atom feeds, for live mode (``trade-pipelines fetch-news`` and the
``news_feeds`` sensor).

A feed is fetched with a time-out and retried with back-off on connection errors
(``network.with_retries``), so a dead or hanging feed fails in bounded time with
``SourceUnreachable`` naming the URL; an HTTP error or a body that is not a feed raises
``FeedUnreadable``. RSS 2.0 (``channel/item``: title, pubDate, description), RSS 1.0
(``item`` with ``dc:date``) and Atom (``entry``: title, published or updated, summary or
content) are read with the standard library's XML parser; a document declaring entities
is refused (no entity expansion).

One clock: an item is known to the agent only once it has been fetched, so its
``available_at`` is the later of its own timestamp and the moment of the fetch; a replay
never sees a headline before the agent could have read it. Items are checked like an
imported file (``news_importer.check_headlines``): one without a date, with an empty
title or dated in the future goes to ``quarantine`` with the reason, never guessed.
Stored through ``news_importer.store_news``: the same item fetched twice is one row.
"""

from __future__ import annotations

import email.utils
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

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
# What an RSS date without a known zone becomes: text the importer's parser refuses.
UNKNOWN_ZONE = "date without a known time zone"


class FeedUnreadable(ValueError):
    """The feed answered, but not with a feed (an HTTP error, or not RSS/Atom XML)."""


@dataclass(frozen=True)
class FeedReport:
    url: str
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    already_stored: int = 0
    quarantined: int = 0
    error: str | None = None

    @property
    def message(self) -> str:
        if self.error:
            return f"{self.url}: FAILED: {self.error}"
        return (f"{self.url}: {self.fetched} item(s), {self.stored} stored, "
                f"{self.already_stored} already stored, {self.duplicates} duplicate(s), "
                f"{self.quarantined} quarantined")


def feed_label(url: str) -> str:
    """``rss:<host>``: the source recorded with a feed's headlines."""
    return f"rss:{urlparse(url).netloc or url}"


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


def _iso_timestamp(text: str) -> str:
    """An RFC 822 date (RSS) as ISO 8601 with its offset; anything else as given (ISO 8601
    from Atom, or text the importer's parser will refuse)."""
    if not text:
        return ""
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return text
    if parsed.tzinfo is None:
        if not text.rstrip().endswith("-0000"):  # no zone, or one not known: never guessed
            return UNKNOWN_ZONE
        parsed = parsed.replace(tzinfo=UTC)  # "-0000": UTC, origin unknown (RFC 5322)
    return parsed.isoformat()


def parse_feed(content: bytes, url: str = "") -> pd.DataFrame:
    """Items of an RSS or Atom document: columns published_at (ISO text), headline,
    symbol, source, body, link and published_as (the date as the feed wrote it)."""
    if b"<!ENTITY" in content:
        raise FeedUnreadable(f"{url or 'the feed'} declares XML entities: refused")
    try:
        root = ElementTree.fromstring(content)
    except ElementTree.ParseError as error:
        raise FeedUnreadable(f"{url or 'the feed'} is not well-formed XML: {error}") from error
    if _local(root.tag) not in ("rss", "feed", "RDF"):
        raise FeedUnreadable(f"{url or 'the feed'} is not an RSS or Atom feed "
                             f"(root element <{_local(root.tag)}>)")
    rows = []
    for item in root.iter():
        if _local(item.tag) not in ITEM_TAGS:
            continue
        link = _child_text(item, ("link",))
        if not link:
            link = next((child.get("href", "") for child in item
                         if _local(child.tag) == "link"), "")
        stamp = _child_text(item, DATE_TAGS)
        rows.append({"published_at": _iso_timestamp(stamp), "published_as": stamp,
                     "headline": " ".join(_child_text(item, ("title",)).split()),
                     "symbol": "", "source": "",
                     "body": " ".join(_child_text(item, BODY_TAGS).split())[:2000],
                     "link": link})
    return pd.DataFrame(rows, columns=[*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, "link",
                                       "published_as"])


def fetch_feed(url: str, warehouse: Warehouse, *, symbol: str | None = None,
               timeout_s: float = 10, attempts: int = 3, backoff_s: float = 1.0,
               now: datetime | None = None) -> FeedReport:
    """Fetch one feed and store its items (``symbol``: the stock a per-stock feed is
    about; none: market-wide). Errors are raised, not swallowed."""
    content = download_feed(url, timeout_s=timeout_s, attempts=attempts,
                            backoff_s=backoff_s)
    fetched_at = now or datetime.now(UTC).replace(tzinfo=None)
    items = parse_feed(content, url)
    if symbol:
        items["symbol"] = symbol
    checked = check_headlines(items.drop(columns=["link", "published_as"]), items,
                              ZoneInfo("UTC"),
                              fetched_at, feed_label(url), feed_label(url),
                              available_from=fetched_at)
    stored = store_news(warehouse, checked.rows, checked.quarantine) \
        if len(checked.rows) or len(checked.quarantine) else None
    return FeedReport(url, fetched=len(items),
                      stored=stored.inserted if stored else 0,
                      duplicates=stored.duplicates if stored else 0,
                      already_stored=stored.already_stored if stored else 0,
                      quarantined=len(checked.quarantine))


def fetch_feeds(urls: Iterable[str], warehouse: Warehouse, *, symbol: str | None = None,
                timeout_s: float = 10, attempts: int = 3,
                backoff_s: float = 1.0) -> list[FeedReport]:
    """Every feed, one report each: a dead or broken feed is reported and the others are
    still read."""
    from trade_pipelines.market_data.errors import DataSourceUnavailable

    reports = []
    for url in urls:
        try:
            reports.append(fetch_feed(url, warehouse, symbol=symbol, timeout_s=timeout_s,
                                      attempts=attempts, backoff_s=backoff_s))
        except (DataSourceUnavailable, FeedUnreadable, requests.RequestException,
                ValueError, LookupError) as error:  # one bad feed never stops the others
            reports.append(FeedReport(url, error=str(error)))
    return reports


def feed_urls(setting: str) -> list[str]:
    """URLs from a comma- or whitespace-separated setting, in order, each once."""
    return list(dict.fromkeys(u for u in setting.replace(",", " ").split() if u))
