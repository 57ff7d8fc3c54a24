"""One trading day's orders: a count per terminal status, a warning for those a pause or
halt stopped, and each order's filled and unfilled quantity and outcome (known only once
the session that resolved it has run)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from streamlit_app import queries
from streamlit_app.style import STATUS_COLORS, STATUS_ICONS, label, narrow_text


def _quantity() -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(format="localized", width="small")


def render_orders(detail: queries.DayDetail) -> None:
    st.subheader("Orders")
    orders = detail.orders
    if orders.empty:
        st.info("No orders on this day.")
        return
    counts = orders["status"].value_counts()
    st.markdown(" · ".join(f"{STATUS_ICONS.get(s, '')} {n} {s.replace('_', ' ')}"
                           for s, n in counts.items()))
    controlled = queries.stopped_by_controls(orders)
    if controlled:
        st.warning(f"{controlled} orders were refused or cancelled because trading was "
                   "paused or halted.", icon=":material/pause_circle:")
    display = pd.DataFrame({
        "Account": orders["account"].map(label),
        "Symbol": orders["symbol"],
        "Side": orders["side"],
        "Quantity": orders["quantity"],
        "Purpose": orders["purpose"],
        "Type": orders["order_type"],
        "Status": orders["status"],
        "Filled": orders["filled_quantity"],
        "Unfilled": orders["unfilled_quantity"],
        "Outcome": orders["resolution"],
        "Resolved": pd.to_datetime(orders["resolved_as_of"]).dt.date,
        "Reason": orders["reason"],
    })
    styled = display.style.map(
        lambda status: f"color: {STATUS_COLORS[status]}" if status in STATUS_COLORS else "",
        subset=["Status"])
    st.dataframe(styled, hide_index=True, key="orders_table", placeholder="—", column_config={
        "Symbol": narrow_text(), "Side": narrow_text(), "Type": narrow_text(),
        "Status": narrow_text(),
        "Quantity": _quantity(), "Filled": _quantity(), "Unfilled": _quantity(),
        "Outcome": st.column_config.TextColumn(width="large"),
        "Resolved": st.column_config.DateColumn(width="small"),
        "Reason": st.column_config.TextColumn(
            width="large", help="The risk engine's verdict when the order was placed"),
    })
