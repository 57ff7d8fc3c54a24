"""The scoreboard as a person reads it: Markdown and a self-contained HTML page (the
plotly chart is embedded, so the page opens offline), with a plain verdict that says
where the agent wins and where it loses, whichever way the numbers come out."""

from __future__ import annotations

import math
from collections.abc import Mapping
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from trade_pipelines.agent.reflection.walk_forward import (
    ABLATION_SYSTEMS,
    AGENT_SYSTEMS,
    BASELINE_SYSTEMS,
    Evaluation,
)

GOAL = ("out of sample, with costs, the combined account's Sharpe at or above "
        "buy-and-hold's in most windows, with at most half its drawdown")
PERCENT_COLUMNS = ("total_return", "annual_return", "max_drawdown", "win_rate", "exposure",
                   "turnover", "alpha")


def _fmt(column: str, value: object) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, float):
        if column in PERCENT_COLUMNS:
            return f"{value:+.1%}" if column in ("total_return", "annual_return", "alpha") \
                else f"{value:.1%}"
        return f"{value:.2f}"
    return str(value)


def _table(frame: pd.DataFrame) -> str:
    columns = list(frame.columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_fmt(c, v) for c, v in zip(columns, row, strict=True))
                     + " |")
    return "\n".join(lines)


def verdict(evaluation: Evaluation) -> list[str]:
    """Sentences a person can act on, computed from the scoreboard."""
    board = evaluation.scoreboard
    summary = evaluation.summary.set_index("system")
    lines: list[str] = []
    if "combined" not in summary.index or "buy_and_hold" not in summary.index:
        return ["Not enough systems were scored for a verdict."]
    combined = board[board["system"] == "combined"].set_index("window_start")
    hold = board[board["system"] == "buy_and_hold"].set_index("window_start")
    windows = len(combined)
    sharpe_wins = int((combined["sharpe"] >= hold["sharpe"].reindex(combined.index)).sum())
    half_drawdown = int((combined["max_drawdown"].abs()
                         <= 0.5 * hold["max_drawdown"].reindex(combined.index).abs()).sum())
    both = int(((combined["sharpe"] >= hold["sharpe"].reindex(combined.index))
                & (combined["max_drawdown"].abs()
                   <= 0.5 * hold["max_drawdown"].reindex(combined.index).abs())).sum())
    met = both > windows / 2
    lines.append(f"**Goal ({GOAL}): {'met' if met else 'not met'}.** The combined account's "
                 f"Sharpe was at or above buy-and-hold's in {sharpe_wins} of {windows} "
                 f"windows; its drawdown was at most half of buy-and-hold's in "
                 f"{half_drawdown}; both held in {both}.")
    c, h = summary.loc["combined"], summary.loc["buy_and_hold"]
    lines.append(f"Over the whole test span the combined account returned "
                 f"{_fmt('total_return', c['total_return'])} (Sharpe {_fmt('', c['sharpe'])}, "
                 f"max drawdown {_fmt('max_drawdown', c['max_drawdown'])}) against "
                 f"buy-and-hold's {_fmt('total_return', h['total_return'])} (Sharpe "
                 f"{_fmt('', h['sharpe'])}, max drawdown "
                 f"{_fmt('max_drawdown', h['max_drawdown'])}).")
    mean = board.groupby("system")[["alpha", "beta", "exposure", "random_percentile"]].mean()
    if "combined" in mean.index:
        m = mean.loc["combined"]
        lines.append(f"Its average exposure was {_fmt('exposure', m['exposure'])} and its beta "
                     f"{_fmt('', m['beta'])}: annual alpha {_fmt('alpha', m['alpha'])} after "
                     f"costs; against random portfolios with its turnover and exposure it sat "
                     f"at the {_fmt('', m['random_percentile'])} percentile on average.")
    dsr = c["deflated_sharpe"]
    if isinstance(dsr, float) and math.isfinite(dsr):
        lines.append(f"Deflated for the gene pool's {int(c['n_trials'])} trials, the "
                     f"probability that its true Sharpe beats the best that many skill-less "
                     f"trials would show is {dsr:.0%}" + (
                         f"; the probability that picking the best of {c['pbo_of']} by "
                         f"in-sample Sharpe is overfitted (PBO) is {c['pbo']:.0%}."
                         if math.isfinite(float(c["pbo"])) else "."))
    earned = []
    for ablation in ABLATION_SYSTEMS:
        if ablation in summary.index:
            delta = float(c["sharpe"]) - float(summary.loc[ablation, "sharpe"])
            layer = ablation.removeprefix("no_")
            earned.append(f"{layer} {delta:+.2f}")
    if earned:
        lines.append("What each layer earns (combined Sharpe minus the ablation's): "
                     + ", ".join(earned) + ". A negative figure means the layer costs "
                     "Sharpe on this data.")
    best = summary["sharpe"].astype(float).idxmax()
    lines.append(f"The highest Sharpe over the span: {best} "
                 f"({_fmt('', summary.loc[best, 'sharpe'])}).")
    return lines


def render_markdown(evaluation: Evaluation, meta: Mapping[str, str]) -> str:
    board = evaluation.scoreboard
    summary = evaluation.summary
    parts = ["# Walk-forward scoreboard", ""]
    parts += [f"- {k}: {v}" for k, v in meta.items()]
    parts += [f"- test windows: {len(evaluation.windows)} "
              f"({evaluation.windows[0].start} .. {evaluation.windows[-1].end})",
              f"- universe: {', '.join(evaluation.universe)}; benchmark "
              f"{evaluation.benchmark}", "", "## Verdict", ""]
    parts += [f"- {line}" for line in verdict(evaluation)]
    parts += ["", "## Whole test span", "", _table(summary), "",
              "## Windows beating buy-and-hold (Sharpe)", ""]
    # The summary's count (random entries: the mean of its seeds' counts), not a second one.
    counts = summary[["system", "windows", "windows_beating_buy_and_hold"]]
    parts += [_table(counts), "", "## By regime (whole span)", ""]
    parts += [_table(evaluation.regimes) if not evaluation.regimes.empty else "n/a", ""]
    parts += ["## Every window", ""]
    shown = board.drop(columns=["cleanliness"])
    parts += [_table(shown), "", "## How to read it", "",
              f"- Agent accounts: {', '.join(AGENT_SYSTEMS)}; baselines: "
              f"{', '.join(BASELINE_SYSTEMS)}; ablations (combined account with one layer "
              f"off): {', '.join(ABLATION_SYSTEMS)}.",
              "- Every system trades through the same paper broker and costs. Sharpe "
              "intervals are 95% block-bootstrap intervals; random_percentile is the "
              "system's Sharpe percentile among random long-only portfolios of the same "
              "turnover and exposure; alpha and beta are against the benchmark.",
              "- cleanliness `replay`: a historical replay with the deterministic "
              "reasoner (no model that could remember the future).",
              "- The built-in data is today's large US stocks (survivorship bias) with "
              "back-adjusted closes only: fills are at closes, volume caps do not apply.", ""]
    return "\n".join(parts)


def equity_figure(evaluation: Evaluation) -> go.Figure:
    figure = go.Figure()
    for system in evaluation.equity.columns:
        dashed = system in BASELINE_SYSTEMS or system in ABLATION_SYSTEMS
        figure.add_trace(go.Scatter(
            x=list(evaluation.equity.index), y=evaluation.equity[system].to_numpy(),
            name=system, mode="lines",
            line={"dash": "dot" if dashed else "solid",
                  "width": 3 if system == "combined" else 1.5}))
    for window in evaluation.windows[1:]:
        figure.add_vline(x=window.start, line_width=0.5, line_color="#bbb")
    figure.update_layout(title="Growth of 1 over the test span (windows marked)",
                         yaxis_title="equity (1 = start)", template="plotly_white",
                         height=560, legend={"orientation": "h"})
    return figure


def render_html(evaluation: Evaluation, meta: Mapping[str, str]) -> str:
    """The chart (plotly, embedded) above the report's tables."""
    chart = equity_figure(evaluation).to_html(full_html=False, include_plotlyjs=True)
    body = ["<h1>Walk-forward scoreboard</h1>",
            "<ul>" + "".join(f"<li>{escape(k)}: {escape(str(v))}</li>"
                             for k, v in meta.items()) + "</ul>",
            "<h2>Verdict</h2><ul>" + "".join(
                f"<li>{escape(line).replace('**', '')}</li>" for line in verdict(evaluation))
            + "</ul>", chart,
            "<h2>Whole test span</h2>", _html_table(evaluation.summary),
            "<h2>By regime</h2>", _html_table(evaluation.regimes),
            "<h2>Every window</h2>", _html_table(evaluation.scoreboard)]
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}"
             "table{border-collapse:collapse;font-size:13px}"
             "td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}"
             "th{background:#f4f4f4}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Walk-forward "
            f"scoreboard</title><style>{style}</style></head><body>{''.join(body)}"
            f"</body></html>")


def _html_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<p>n/a</p>"
    head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(_fmt(c, v))}</td>"
                         for c, v in zip(frame.columns, row, strict=True)) + "</tr>"
        for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


SCOREBOARD_FILES = ("scoreboard.csv", "summary.csv", "regimes.csv", "equity.csv", "report.md",
                    "report.html", "equity.svg")
SVG_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
               "#7f7f7f", "#bcbd22", "#17becf")


def equity_svg(evaluation: Evaluation, width: int = 900, height: int = 420) -> str:
    """The equity chart as a static SVG (log scale), for places that show no script,
    such as a README. Written by hand: plotly's static export needs a browser engine."""
    equity = evaluation.equity.dropna(how="all")
    left, right, top, bottom = 60, 170, 20, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    values = equity.to_numpy(dtype=float)
    low, high = np.log(np.nanmin(values)), np.log(np.nanmax(values))
    span = high - low or 1.0

    def y(value: float) -> float:
        return top + plot_h * (1 - (math.log(value) - low) / span)

    n = len(equity)
    step = max(1, n // 500)  # at most about 500 points a line keeps the file small
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11">',
             f'<rect width="{width}" height="{height}" fill="white"/>']
    for level in (0.5, 1, 2, 4, 8):
        if low <= math.log(level) <= high:
            parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(level):.1f}" '
                         f'y2="{y(level):.1f}" stroke="#ddd"/><text x="{left - 6}" '
                         f'y="{y(level) + 4:.1f}" text-anchor="end">{level:g}</text>')
    for window in evaluation.windows:
        position = equity.index.searchsorted(window.start)
        x = left + plot_w * position / max(n - 1, 1)
        parts.append(f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                     f'{window.start.year}</text>')
    for i, system in enumerate(equity.columns):
        series = equity[system].to_numpy(dtype=float)
        points = " ".join(f"{left + plot_w * k / max(n - 1, 1):.1f},{y(v):.1f}"
                          for k, v in enumerate(series) if np.isfinite(v)
                          and (k % step == 0 or k == n - 1))
        colour = SVG_COLOURS[i % len(SVG_COLOURS)]
        dash = ' stroke-dasharray="4,3"' if system in BASELINE_SYSTEMS \
            or system in ABLATION_SYSTEMS else ""
        wide = 2.5 if system == "combined" else 1.2
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="{wide}"{dash} '
                     f'points="{points}"/>')
        parts.append(f'<text x="{left + plot_w + 10}" y="{top + 14 * i + 10}" '
                     f'fill="{colour}">{escape(system)} {series[-1]:.2f}x</text>')
    parts.append(f'<text x="{left}" y="{top - 6}">Growth of 1 over the test span '
                 "(log scale)</text></svg>")
    return "".join(parts)


def write_scoreboard(evaluation: Evaluation, out: Path, meta: Mapping[str, str]) -> list[Path]:
    """Every file of the scoreboard into ``out``; each is written whole to a temporary
    name, then renamed, so a reader never sees half a file."""
    out.mkdir(parents=True, exist_ok=True)
    texts = {
        "scoreboard.csv": evaluation.scoreboard.to_csv(index=False),
        "summary.csv": evaluation.summary.to_csv(index=False),
        "regimes.csv": evaluation.regimes.to_csv(index=False),
        "equity.csv": evaluation.equity.rename_axis("as_of").to_csv(),
        "report.md": render_markdown(evaluation, meta),
        "report.html": render_html(evaluation, meta),
        "equity.svg": equity_svg(evaluation),
    }
    written = []
    for name in SCOREBOARD_FILES:
        target = out / name
        temporary = out / f".{name}.tmp"
        temporary.write_text(texts[name], encoding="utf-8")
        temporary.replace(target)
        written.append(target)
    return written
