"""A report as one standalone HTML file: its Markdown rendered by mistune, and its charts
drawn by matplotlib as inline SVG (equity against the benchmark, P&L by trade, gross
exposure). The same inputs give the same bytes: matplotlib's SVG ids are salted with a
fixed string and its date stamp left out."""

from __future__ import annotations

import html
import io
from datetime import date

import matplotlib
import mistune
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from trade_pipelines.agent.reflection.daily_report import ACCOUNT_TITLES

SVG_HASH_SALT = "trade-pipelines"
CHART_SIZE = (7.0, 2.6)       # inches
DAILY_CHART_SESSIONS = 126    # a daily report's charts show this many sessions to its day
LABELLED_BARS = 25            # more trades than this: bars without their symbols
STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 60em;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.8em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f3f3f3; }
code { background: #f6f6f6; padding: 0 0.2em; }
figure { margin: 1em 0; } figcaption { font-size: 0.9em; color: #555; }
"""

_markdown = mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": SVG_HASH_SALT, "svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # inline: without the XML prologue and doctype


def _figure() -> tuple[Figure, object]:
    figure = Figure(figsize=CHART_SIZE)
    axes = figure.add_subplot()
    axes.grid(alpha=0.3)
    return figure, axes


def equity_chart(accounts: pd.DataFrame) -> str:
    """Each account's equity and the benchmark, rebased to 1 at the first close shown."""
    figure, axes = _figure()
    for account, title in ACCOUNT_TITLES.items():
        rows = accounts[accounts["account"] == account].sort_values("as_of")
        if rows.empty:
            continue
        equity = rows["equity"].to_numpy(dtype=float)
        axes.plot(pd.to_datetime(rows["as_of"]), equity / equity[0], label=title,
                  linewidth=1.2)
    bench = accounts[(accounts["account"] == "combined")
                     & accounts["benchmark_close"].notna()].sort_values("as_of")
    if not bench.empty:
        close = bench["benchmark_close"].to_numpy(dtype=float)
        axes.plot(pd.to_datetime(bench["as_of"]), close / close[0], label="Benchmark",
                  color="black", linestyle="--", linewidth=1.0)
    axes.set_ylabel("rebased to 1")
    axes.legend(loc="best", fontsize="small")
    figure.autofmt_xdate()
    return _svg(figure)


def trade_pnl_chart(trades: pd.DataFrame, currency: str) -> str:
    """The combined account's closed trades, one bar each in closing order."""
    figure, axes = _figure()
    rows = trades[trades["account"] == "combined"].sort_values(["as_of", "trade_id"]) \
        if not trades.empty else trades
    if rows.empty:
        axes.text(0.5, 0.5, "no trade closed", ha="center", va="center",
                  transform=axes.transAxes)
    else:
        pnl = rows["pnl"].to_numpy(dtype=float)
        axes.bar(np.arange(len(pnl)), pnl, color=np.where(pnl > 0, "#2a7", "#c44"))
        if len(pnl) <= LABELLED_BARS:
            axes.set_xticks(np.arange(len(pnl)), [str(s) for s in rows["symbol"]],
                            rotation=90, fontsize="x-small")
        else:
            axes.set_xlabel("trades in closing order")
    axes.set_ylabel(f"P&L ({currency})")
    return _svg(figure)


def exposure_chart(accounts: pd.DataFrame) -> str:
    """Each account's gross exposure as a share of its equity."""
    figure, axes = _figure()
    for account, title in ACCOUNT_TITLES.items():
        rows = accounts[accounts["account"] == account].sort_values("as_of")
        if rows.empty:
            continue
        share = rows["gross_exposure"].to_numpy(dtype=float) / rows["equity"].to_numpy(
            dtype=float)
        axes.plot(pd.to_datetime(rows["as_of"]), share, label=title, linewidth=1.2)
    axes.set_ylabel("gross exposure / equity")
    axes.legend(loc="best", fontsize="small")
    figure.autofmt_xdate()
    return _svg(figure)


def charts(accounts: pd.DataFrame, trades: pd.DataFrame,
           currency: str) -> list[tuple[str, str]]:
    """The report's charts as (caption, inline SVG)."""
    return [("Equity of each account against the benchmark, rebased", equity_chart(accounts)),
            ("P&L by trade (combined account)", trade_pnl_chart(trades, currency)),
            ("Gross exposure over time", exposure_chart(accounts))]


def html_report(markdown: str, title: str, figures: list[tuple[str, str]]) -> str:
    """A standalone page: the report's text, then its charts."""
    body = _markdown(markdown)
    figures_html = "\n".join(f"<figure>{svg}<figcaption>{html.escape(caption)}</figcaption>"
                             "</figure>" for caption, svg in figures)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"{body}\n<h2>Charts</h2>\n{figures_html}\n</body>\n</html>\n")


def period_html(markdown: str, title: str, accounts: pd.DataFrame, trades: pd.DataFrame,
                first: date, last: date, currency: str) -> str:
    """A review's page: its charts cover its own period's rows only."""
    shown = accounts[(accounts["as_of"] >= first) & (accounts["as_of"] <= last)]
    closed = trades[(trades["as_of"] >= first) & (trades["as_of"] <= last)] \
        if not trades.empty else trades
    return html_report(markdown, title, charts(shown, closed, currency))


def daily_html(markdown: str, day: date, accounts: pd.DataFrame, trades: pd.DataFrame,
               currency: str) -> str:
    """A daily report's page: charts of the sessions to its day (the last
    ``DAILY_CHART_SESSIONS``), trades closed over them."""
    days = sorted(d for d in accounts["as_of"].unique() if d <= day)[-DAILY_CHART_SESSIONS:]
    first = days[0] if days else day
    return period_html(markdown, f"Daily trading report, {day}", accounts, trades, first, day,
                       currency)
