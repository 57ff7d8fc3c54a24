"""``trade-pipelines import-news`` (a user's dated headlines), ``fetch-news`` (RSS or Atom
feeds, live) and ``drill-news`` (generated headlines for a drill, marked as generated and
left out of replays unless asked for)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, time
from pathlib import Path

from trade_pipelines.cli.common import parse_date
from trade_pipelines.settings import paths


def cmd_import_news(args: argparse.Namespace) -> int:
    from trade_pipelines.market_data.news_importer import NewsFileError, import_news_file
    from trade_pipelines.warehouse import Warehouse

    try:
        report = import_news_file(Path(args.path), Warehouse(paths().warehouse),
                                  timezone=args.timezone, source=args.source)
    except NewsFileError as error:
        print(f"import-news: {error}", file=sys.stderr)
        return 2
    print(report.message)
    return 3 if report.quarantined else 0


def cmd_fetch_news(args: argparse.Namespace) -> int:
    from trade_pipelines.market_data.rss_source import feed_zone, fetch_feeds, parse_feed_entry
    from trade_pipelines.warehouse import Warehouse

    try:
        feed_zone(args.timezone)
        feeds = [parse_feed_entry(entry) for entry in args.feed]
    except ValueError as error:  # nothing fetched: a mistyped feed is said, not skipped
        print(f"fetch-news: {error}", file=sys.stderr)
        return 2
    reports = fetch_feeds(feeds, Warehouse(paths().warehouse), symbol=args.symbol,
                          timezone=args.timezone, timeout_s=args.timeout,
                          attempts=args.attempts)
    for report in reports:
        print(report.message, file=sys.stderr if report.error else sys.stdout)
    return 1 if all(r.error for r in reports) else 0


def cmd_drill_news(args: argparse.Namespace) -> int:
    from trade_pipelines.market_data.news_importer import write_drill
    from trade_pipelines.warehouse import Warehouse

    try:
        at = time.fromisoformat(args.at)
    except ValueError:
        print(f"drill-news: --at must be HH:MM, not {args.at!r}", file=sys.stderr)
        return 2
    rows = write_drill(Warehouse(paths().warehouse), args.kind, args.symbol,
                       datetime.combine(args.on, at), args.market)
    for row in rows.itertuples():
        print(f"[drill] {row.published_at:%Y-%m-%d %H:%M} UTC {row.symbol or '*'}: "
              f"{row.headline}")
    print(f"{len(rows)} generated headline(s) stored (generated = true); replays leave "
          "them out unless TRADE_PIPELINES_INCLUDE_DRILLS=1")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    imp = sub.add_parser("import-news", help="import dated headlines from a CSV or JSON file")
    imp.add_argument("path", help="CSV, JSON or JSON lines with published_at, headline "
                                  "and optionally symbol, source, body")
    imp.add_argument("--source", default=None,
                     help="the source recorded for rows that name none "
                          "(default: import:<file name>)")
    imp.add_argument("--timezone", default="UTC",
                     help="zone of timestamps written without an offset (default UTC), "
                          "e.g. America/New_York or Asia/Shanghai")
    imp.set_defaults(func=cmd_import_news)

    fetch = sub.add_parser("fetch-news", help="fetch headlines from RSS or Atom feeds into "
                                              "the warehouse (each known from its fetch)")
    fetch.add_argument("--feed", action="append", required=True, metavar="[SYMBOLS=]URL",
                       help="a feed URL, optionally after the stocks it is about "
                            "(AAPL,MSFT=https://host/feed.xml: its items are stored once "
                            "per symbol) and before its own zone (URL|Asia/Shanghai); "
                            "repeat for several")
    fetch.add_argument("--symbol", default=None,
                       help="the stock of feeds that name none with SYMBOLS= "
                            "(default: market-wide)")
    fetch.add_argument("--timezone", default=None,
                       help="IANA zone the feeds write local times in, e.g. Asia/Shanghai "
                            "(also decides what abbreviations such as CST mean); without "
                            "it, a date with no offset is quarantined, never taken as UTC")
    fetch.add_argument("--timeout", type=float, default=10.0,
                       help="seconds to wait for each feed (default 10)")
    fetch.add_argument("--attempts", type=int, default=3,
                       help="tries per feed on connection errors (default 3)")
    fetch.set_defaults(func=cmd_fetch_news)

    drill = sub.add_parser("drill-news", help="store generated headlines for a drill "
                                              "(marked generated; replays ignore them "
                                              "unless TRADE_PIPELINES_INCLUDE_DRILLS=1)")
    drill.add_argument("--symbol", default=None, help="the symbol (default: market-wide)")
    drill.add_argument("--on", type=parse_date, required=True, help="the day (YYYY-MM-DD)")
    drill.add_argument("--kind", required=True, choices=["rumour", "crash", "contradiction"])
    drill.add_argument("--at", default="12:00",
                       help="local time on the symbol's exchange (default 12:00)")
    drill.add_argument("--market", default=None,
                       help="us | cn | hk | crypto (default: the symbol's market)")
    drill.set_defaults(func=cmd_drill_news)
