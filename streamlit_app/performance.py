"""The accounts against the benchmark: an equity chart and a table of returns."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from streamlit_app import queries
from streamlit_app.style import COLORS, label
from trade_pipelines.agent.markets import MarketRules
from trade_pipelines.agent.reflection.daily_report import money


def _equity_chart(curves: pd.DataFrame, market: MarketRules) -> go.Figure:
    figure = go.Figure()
    few_days = len(curves) <= 30
    for name in curves.columns:
        series = curves[name].dropna()
        if series.empty:
            continue
        figure.add_trace(go.Scatter(
            x=list(series.index), y=series.values,
            name=label(name, market.benchmark_name),
            # Markers on a short history: each day is visible, and the axis gets padding.
            mode="lines+markers" if few_days else "lines", marker={"size": 5},
            line={"color": COLORS.get(name), "width": 2,
                  "dash": "dash" if name == queries.BENCHMARK else "solid"},
            hovertemplate=f"{market.currency} %{{y:,.0f}}"))
    figure.add_hline(y=queries.STARTING_EQUITY, line={"color": "#bbbbbb", "width": 1,
                                                      "dash": "dot"})
    figure.update_layout(
        height=380, margin={"l": 10, "r": 10, "t": 30, "b": 10}, hovermode="x unified",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        yaxis={"tickformat": ",.0f", "tickprefix": f"{market.currency} ", "title": None},
        # Trading days only: no flat weekend segments (crypto trades every day), no
        # intraday hour ticks.
        xaxis={"title": None, "tickformat": "%d %b %Y",
               "rangebreaks": [] if market.always_open else [{"bounds": ["sat", "mon"]}]})
    if few_days:  # label each day (automatic ticks would fall between them)
        figure.update_xaxes(tickvals=list(curves.index))
    return figure


def _render_returns_table(curves: pd.DataFrame, market: MarketRules) -> None:
    table = queries.performance(curves)
    display = pd.DataFrame({
        "Account": [label(s, market.benchmark_name) for s in table["series"]],
        "Equity": table["equity"],
        "Total return": table["total_return"] * 100,
        "vs benchmark": table["excess_return"] * 100,
        "Drawdown": table["drawdown"] * 100,
        "Max drawdown": table["max_drawdown"] * 100,
    })
    percent = st.column_config.NumberColumn(format="%.2f%%")
    signed = st.column_config.NumberColumn(format="%+.2f%%")
    st.dataframe(display, hide_index=True, key="performance_table", placeholder="—",
                 column_config={"Equity": st.column_config.NumberColumn(
                     format="dollar" if market.currency == "USD"
                     else f"{market.currency} %.0f"),
                                "Total return": signed, "vs benchmark": signed,
                                "Drawdown": percent, "Max drawdown": percent})


def render_performance(overview: queries.Overview) -> None:
    st.subheader("Accounts vs benchmark")
    curves = queries.equity_curves(overview.history)
    if curves.empty:
        st.info("No account history yet.")
        return
    market = overview.market
    st.plotly_chart(_equity_chart(curves, market), key="equity_chart")
    _render_returns_table(curves, market)
    capital = money(queries.STARTING_EQUITY, market.currency, decimals=0)
    st.caption(f"Amounts in {market.currency}. Accounts start at {capital}; the benchmark "
               f"({market.benchmark_name}) is rebased to {capital} at the first day shown "
               f"({curves.index[0]:%d %b %Y}). Drawdown is from the running peak, counting "
               "the starting capital as the first peak.")
