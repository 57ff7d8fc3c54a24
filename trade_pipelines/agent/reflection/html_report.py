"""A report as one standalone HTML file: its Markdown rendered by mistune, and its charts
(equity against the benchmark, P&L by trade, gross exposure) as inline SVG.

The charts are drawn here, as SVG elements, rather than by a plotting library: a replay
writes one page a session, and matplotlib took 0.15-0.2 s a page for three charts (about
40 s a replayed year); these take about a millisecond. A line chart and a bar chart are
all a report needs, and the same inputs give the same bytes."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from datetime import date

import mistune
import numpy as np
import pandas as pd

from trade_pipelines.agent.reflection.daily_report import ACCOUNT_TITLES

WIDTH, HEIGHT = 700, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 14, 46   # plot margins, pixels
DAILY_CHART_SESSIONS = 126    # a daily report's charts show this many sessions to its day
LABELLED_BARS = 25            # more trades than this: bars without their symbols
COLOURS = {"combined": "#1f77b4", "aggressive": "#d62728", "conservative": "#2ca02c",
           "benchmark": "#222222"}
STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 60em;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.8em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f3f3f3; }
code { background: #f6f6f6; padding: 0 0.2em; }
figure { margin: 1em 0; } figcaption { font-size: 0.9em; color: #555; }
svg text { font-size: 11px; fill: #333; }
"""

_markdown = mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values spanning [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / (count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw),
               default=raw)
    first = math.ceil(low / step) * step
    return [round(first + i * step, 10) for i in range(int((high - first) / step) + 1)]


def _number(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


class _Plot:
    """One chart's frame: value and position scales, axes, grid and labels."""

    def __init__(self, x_count: int, low: float, high: float, y_label: str) -> None:
        if not (math.isfinite(low) and math.isfinite(high)):
            low, high = 0.0, 1.0
        if high - low < 1e-12:
            low, high = low - 0.5 * (abs(low) or 1.0), high + 0.5 * (abs(high) or 1.0)
        pad = (high - low) * 0.05
        self.low, self.high = low - pad, high + pad
        self.x_count = max(x_count, 1)
        self.parts: list[str] = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img">',
            f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" '
            f'height="{HEIGHT - TOP - BOTTOM}" fill="white" stroke="#999"/>']
        for tick in _ticks(self.low, self.high):
            y = self.y(tick)
            self.parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" '
                              f'y2="{y:.1f}" stroke="#e4e4e4"/>'
                              f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">'
                              f'{_number(tick)}</text>')
        self.parts.append(f'<text x="12" y="{TOP + (HEIGHT - TOP - BOTTOM) / 2:.0f}" '
                          f'transform="rotate(-90 12 {TOP + (HEIGHT - TOP - BOTTOM) / 2:.0f})" '
                          f'text-anchor="middle">{html.escape(y_label)}</text>')

    def x(self, index: float) -> float:
        span = WIDTH - LEFT - RIGHT
        return LEFT + span * (index + 0.5) / self.x_count

    def y(self, value: float) -> float:
        span = HEIGHT - TOP - BOTTOM
        return TOP + span * (self.high - value) / (self.high - self.low)

    def x_labels(self, labels: Sequence[str], rotate: bool = False,
                 most: int = 6) -> None:
        if not labels:
            return
        every = 1 if rotate else max(1, math.ceil(len(labels) / most))
        for i in range(0, len(labels), every):
            x, y = self.x(i), HEIGHT - BOTTOM + 14
            turn = f' transform="rotate(-60 {x:.1f} {y})"' if rotate else ""
            anchor = "end" if rotate else "middle"
            self.parts.append(f'<text x="{x:.1f}" y="{y}" text-anchor="{anchor}"{turn}>'
                              f'{html.escape(labels[i])}</text>')

    def note(self, text: str) -> None:
        self.parts.append(f'<text x="{WIDTH / 2:.0f}" y="{HEIGHT / 2:.0f}" '
                          f'text-anchor="middle">{html.escape(text)}</text>')

    def svg(self, legend: Sequence[tuple[str, str]] = ()) -> str:
        for i, (label, colour) in enumerate(legend):
            x, y = LEFT + 8 + 120 * i, HEIGHT - 6
            self.parts.append(f'<line x1="{x}" x2="{x + 16}" y1="{y - 4}" y2="{y - 4}" '
                              f'stroke="{colour}" stroke-width="2"/><text x="{x + 20}" '
                              f'y="{y}">{html.escape(label)}</text>')
        return "".join(self.parts) + "</svg>"


def _line_chart(days: Sequence[date], series: Sequence[tuple[str, str, np.ndarray]],
                y_label: str) -> str:
    """``series``: (label, colour, values aligned with ``days``; NaN leaves a gap)."""
    values = np.concatenate([v for _, _, v in series]) if series else np.array([])
    finite = values[np.isfinite(values)]
    plot = _Plot(len(days), float(finite.min()) if finite.size else 0.0,
                 float(finite.max()) if finite.size else 1.0, y_label)
    if not days:
        plot.note("no session")
    for _, colour, ys in series:
        points = " ".join(f"{plot.x(i):.1f},{plot.y(v):.1f}" for i, v in enumerate(ys)
                          if math.isfinite(v))
        if points:
            plot.parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.4" '
                              f'points="{points}"/>')
    plot.x_labels([f"{d:%Y-%m-%d}" for d in days])
    return plot.svg([(label, colour) for label, colour, _ in series])


def _account_series(accounts: pd.DataFrame,
                    value: Callable[[pd.DataFrame], pd.Series]
                    ) -> tuple[list[date], list[tuple[str, str, np.ndarray]]]:
    """The days shown and, per account present, its title, colour and ``value`` of its
    rows (indexed by day) on those days."""
    days = sorted(set(accounts["as_of"])) if not accounts.empty else []
    series = []
    for account, title in ACCOUNT_TITLES.items():
        rows = accounts[accounts["account"] == account].set_index("as_of")
        if not rows.empty:
            series.append((title, COLOURS[account],
                           value(rows).reindex(days).to_numpy(dtype=float)))
    return days, series


def equity_chart(accounts: pd.DataFrame) -> str:
    """Each account's equity and the benchmark, rebased to 1 at the first close shown."""
    days, series = _account_series(accounts, lambda rows: rows["equity"])
    series = [(title, colour, equity / equity[0]) for title, colour, equity in series]
    bench = accounts[accounts["account"] == "combined"].set_index("as_of")[
        "benchmark_close"].reindex(days).to_numpy(dtype=float) if days else np.array([])
    known = bench[np.isfinite(bench)]
    if known.size:
        series.append(("Benchmark", COLOURS["benchmark"], bench / known[0]))
    return _line_chart(days, series, "rebased to 1")


def trade_pnl_chart(trades: pd.DataFrame, currency: str) -> str:
    """The combined account's closed trades, one bar each in closing order."""
    rows = trades[trades["account"] == "combined"].sort_values(["as_of", "trade_id"]) \
        if not trades.empty else trades
    pnl = rows["pnl"].to_numpy(dtype=float) if not rows.empty else np.array([])
    plot = _Plot(len(pnl), min(0.0, float(pnl.min())) if pnl.size else -1.0,
                 max(0.0, float(pnl.max())) if pnl.size else 1.0, f"P&L ({currency})")
    if not pnl.size:
        plot.note("no trade closed")
    zero = plot.y(0.0)
    width = max(1.0, (WIDTH - LEFT - RIGHT) / max(len(pnl), 1) * 0.8)
    for i, value in enumerate(pnl):
        top = min(zero, plot.y(value))
        plot.parts.append(f'<rect x="{plot.x(i) - width / 2:.1f}" y="{top:.1f}" '
                          f'width="{width:.1f}" height="{abs(plot.y(value) - zero):.1f}" '
                          f'fill="{"#2a7" if value > 0 else "#c44"}"/>')
    if 0 < len(pnl) <= LABELLED_BARS:
        plot.x_labels([str(s) for s in rows["symbol"]], rotate=True)
    elif pnl.size:
        plot.parts.append(f'<text x="{WIDTH / 2:.0f}" y="{HEIGHT - 8}" '
                          'text-anchor="middle">trades in closing order</text>')
    return plot.svg()


def exposure_chart(accounts: pd.DataFrame) -> str:
    """Each account's gross exposure as a share of its equity."""
    days, series = _account_series(
        accounts, lambda rows: rows["gross_exposure"] / rows["equity"])
    return _line_chart(days, series, "gross exposure / equity")


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
