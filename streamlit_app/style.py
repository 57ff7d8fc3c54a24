"""Names, colours and icons the page's sections share, so each account or status looks
the same wherever it appears."""

from __future__ import annotations

import streamlit as st
from streamlit.elements.lib.column_types import ColumnConfig

from streamlit_app import queries

LABELS = {"aggressive": "Aggressive", "conservative": "Conservative", "combined": "Combined",
          queries.BENCHMARK: "S&P 500 (rebased)"}
COLORS = {"aggressive": "#d62728", "conservative": "#1f77b4", "combined": "#2ca02c",
          queries.BENCHMARK: "#7f7f7f"}
# Material icons ship with Streamlit, so they render even where no emoji font is installed.
ROLE_AVATARS = {"aggressive": ":material/trending_up:", "conservative": ":material/shield:",
                "quant": ":material/query_stats:", "judge": ":material/gavel:"}
VERDICT_ICONS = {"execute": ":material/check_circle:", "adjust": ":material/tune:",
                 "drop": ":material/cancel:"}
STATUS_ICONS = {"filled": ":green[:material/check_circle:]",
                "partially_filled": ":green[:material/incomplete_circle:]",
                "pending": ":blue[:material/schedule:]",
                "expired": ":gray[:material/timer_off:]",
                "cancelled": ":orange[:material/cancel:]",
                "rejected": ":red[:material/block:]"}
STATUS_COLORS = {"filled": "#1b7f3b", "partially_filled": "#5b8c2a", "pending": "#1f5fbf",
                 "expired": "#6b6b6b", "cancelled": "#d46b08", "rejected": "#c62828"}


def label(name: str, benchmark_name: str = "S&P 500") -> str:
    """The display name of an account or the benchmark (the market's: S&P 500, CSI 300,
    Hang Seng Index, Bitcoin); unknown names show as stored."""
    if name == queries.BENCHMARK:
        return f"{benchmark_name} (rebased)"
    return LABELS.get(name, name)


def narrow_text() -> ColumnConfig:
    """A small text column, for short codes such as symbols, sides and statuses."""
    return st.column_config.TextColumn(width="small")
