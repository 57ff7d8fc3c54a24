"""One trading day's orders, with a count per status and a warning for paused ones."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from streamlit_app import queries
from streamlit_app.style import STATUS_COLORS, STATUS_ICONS, label, narrow_text


def render_orders(detail: queries.DayDetail) -> None:
    st.subheader("Orders")
    orders = detail.orders
    if orders.empty:
        st.info("No orders on this day.")
        return
    counts = orders["status"].value_counts()
    st.markdown(" · ".join(f"{STATUS_ICONS.get(s, '')} {n} {s}" for s, n in counts.items()))
    if counts.get("paused", 0):
        st.warning(f"{counts['paused']} orders were refused because trading was paused.",
                   icon=":material/pause_circle:")
    display = pd.DataFrame({
        "Account": orders["account"].map(label),
        "Symbol": orders["symbol"],
        "Side": orders["side"],
        "Quantity": orders["quantity"],
        "Purpose": orders["purpose"],
        "Type": orders["order_type"],
        "Status": orders["status"],
        "Reason": orders["reason"],
    })
    styled = display.style.map(
        lambda status: f"color: {STATUS_COLORS[status]}" if status in STATUS_COLORS else "",
        subset=["Status"])
    st.dataframe(styled, hide_index=True, key="orders_table", placeholder="—", column_config={
        "Symbol": narrow_text(), "Side": narrow_text(), "Type": narrow_text(),
        "Status": narrow_text(),
        "Quantity": st.column_config.NumberColumn(format="localized", width="small"),
        "Reason": st.column_config.TextColumn(width="large"),
    })
