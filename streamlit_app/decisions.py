"""One trading day's decisions: the day picker, the decisions table, and for each
decision its debate transcript and the memories it recalled."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from streamlit_app import queries
from streamlit_app.style import ROLE_AVATARS, VERDICT_ICONS, narrow_text

DAY_KEY = "decision_day"


def _day_label(days: pd.DataFrame) -> dict[date, str]:
    labels = {}
    for row in days.itertuples(index=False):
        text = f"{row.as_of:%a %d %b %Y} · {row.n_decisions} decisions · {row.n_orders} orders"
        if row.n_rejected:
            text += f" · {row.n_rejected} rejected"
        if row.n_cancelled:
            text += f" · {row.n_cancelled} cancelled"
        labels[row.as_of] = text
    return labels


def select_day(overview: queries.Overview) -> date | None:
    st.subheader("Decisions")
    if overview.days.empty:
        st.info("No decisions recorded yet.")
        return None
    labels = _day_label(overview.days)
    options = list(labels)
    default = queries.default_day(overview.days)
    return st.selectbox("Trading day", options, index=options.index(default), key=DAY_KEY,
                        format_func=labels.__getitem__)


def _render_transcript(raw: object) -> None:
    rounds = queries.parse_transcript(raw)
    if not rounds:
        st.caption("No transcript stored.")
        return
    for debate_round in rounds:
        st.markdown(f"**Round {debate_round.number}**")
        for turn in debate_round.turns:
            with st.chat_message(turn.role,
                                 avatar=ROLE_AVATARS.get(turn.role, ":material/forum:")):
                body = "\n".join(f"- {text}" for text in turn.texts) if len(turn.texts) > 1 \
                    else turn.texts[0]
                st.markdown(f"**{turn.role.capitalize()}**\n\n{body}")


def _render_memories(raw: object, memories: pd.DataFrame) -> None:
    ids = queries.parse_memory_ids(raw)
    st.markdown("**Memories used**")
    if not ids:
        st.caption("None: no similar past setup was recalled.")
        return
    known = memories.set_index("memory_id") if not memories.empty else pd.DataFrame()
    lines = []
    for memory_id in ids:
        if memory_id in known.index:
            m = known.loc[memory_id]
            lines.append(f"- `{memory_id}` ({m['kind']}, {m['tier']}, {m['as_of']}): "
                         f"{m['text']}")
        else:
            lines.append(f"- `{memory_id}` (not in the warehouse)")
    st.markdown("\n".join(lines))


def render_decisions(detail: queries.DayDetail) -> None:
    decisions = detail.decisions
    if decisions.empty:
        st.info("No decisions on this day.")
        return
    display = pd.DataFrame({
        "Symbol": decisions["symbol"],
        "Side": decisions["side"],
        "Verdict": decisions["verdict"],
        "Confidence": decisions["confidence"].astype(float) * 100,
        "Low certainty": decisions["low_certainty"].astype(bool),
        # An executed decision may place no order (already held, or no room left).
        "Orders": decisions["decision_id"].map(
            detail.orders.groupby("decision_id").size()).fillna(0).astype(int),
        "Summary": decisions["summary"],
    })
    st.dataframe(display, hide_index=True, key="decisions_table", column_config={
        "Symbol": narrow_text(), "Side": narrow_text(), "Verdict": narrow_text(),
        "Confidence": st.column_config.ProgressColumn(min_value=0, max_value=100,
                                                      format="%.0f%%", width="small"),
        "Low certainty": st.column_config.CheckboxColumn(width="small"),
        "Orders": st.column_config.NumberColumn(width="small"),
        "Summary": st.column_config.TextColumn(width="large"),
    })
    st.markdown("**Debates**")
    for row in decisions.itertuples(index=False):
        flag = " · low certainty" if row.low_certainty else ""
        label = (f"{row.symbol} {row.side} — {row.verdict} at "
                 f"{float(row.confidence):.0%}{flag}")
        with st.expander(label, key=f"debate_{row.decision_id}",
                         icon=VERDICT_ICONS.get(row.verdict, ":material/forum:")):
            st.caption(row.summary)
            _render_transcript(row.transcript)
            _render_memories(row.memories_used, detail.memories)
