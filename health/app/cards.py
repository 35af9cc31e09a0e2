"""Cards on the account and book pages: the header facts, a moment, an action with its buttons."""

from __future__ import annotations

import streamlit as st

from health.app.text import LONG, md

MOMENT_ICONS = {
    "relationship_change": ":material/handshake:",
    "crisis": ":material/warning:",
    "delight": ":material/celebration:",
}


def moment_card(m: dict) -> None:
    """One moment of truth: what happened, the evidence, and what the playbook says to ask or do."""
    title = f"{m['kind'].replace('_', ' ').capitalize()} · detected {m['detected_on']}"
    with st.expander(title, icon=MOMENT_ICONS.get(m["moment"]), expanded=False):
        st.markdown(f"**Evidence.** {md(m['evidence'], LONG)}")
        st.caption(f"Began {m['started_on']} · severity {m['severity']:.2f}")
        if m.get("guidance"):
            st.markdown(f"**What to do.** {md(m['guidance'], LONG)}")


def action_card(a: dict, log, actor: str, as_of, drafts: bool = True) -> None:
    """One suggested action with its questions, email draft and done / snooze / dismiss.

    `drafts`: show the email draft (addressed to a person at the customer: only to roles that
    may see who)."""
    import datetime as dt

    from health.actions import log as action_log

    with st.container(border=True):
        # priority is dollars at stake: ARR x churn risk (raised by the trigger), up to doubled
        # as the renewal nears (int_action_candidates.sql)
        st.markdown(
            f"**{md(a['title'])}** · due {a['due_on']} · at stake ${a['priority']:,.0f}",
            help="ARR × churn risk, up to doubled as the renewal nears",
        )
        st.markdown(md(a["detail"], LONG))
        if a.get("questions_or_recognition"):
            st.markdown(md(a["questions_or_recognition"], LONG))
        if drafts:
            with st.expander("Email draft", icon=":material/mail:"):
                st.text_input("Subject", a["email_subject"], key=f"subj-{a['action_id']}")
                st.text_area("Body", a["email_body"], height=220, key=f"body-{a['action_id']}")
        with st.form(f"act-{a['action_id']}", border=False):
            note = st.text_input("Note", key=f"note-{a['action_id']}")
            c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
            outcome = c1.selectbox(
                "Outcome",
                ["", "resolved", "in progress", "no response", "escalated"],
                key=f"out-{a['action_id']}",
            )
            until = c2.date_input(
                "Snooze until", as_of + dt.timedelta(days=7), key=f"until-{a['action_id']}"
            )
            done = c3.form_submit_button("Done", icon=":material/check:")
            snooze = c3.form_submit_button("Snooze", icon=":material/snooze:")
            dismiss = c4.form_submit_button("Dismiss", icon=":material/close:")
        status = "done" if done else "snoozed" if snooze else "dismissed" if dismiss else None
        if status:
            action_log.record(
                log,
                a["action_id"],
                a["account_id"],
                status,
                note=note or None,
                outcome=outcome or None,
                snooze_until=until if status == "snoozed" else None,
                actor=actor,
                as_of=as_of,
            )
            st.toast(f"Marked {status}: {md(a['title'])}", icon=":material/check_circle:")
            st.rerun()


def account_header(f: dict) -> None:
    """The account's header facts: health, risk, ARR and renewal as metrics; stage, champion."""
    cols = st.columns(4)
    score, risk, days = f.get("health_score"), f.get("churn_risk"), f.get("renewal_in_days")
    tier = (f.get("tier") or "unscored").replace("_", " ")
    cols[0].metric(f"Health ({tier})", "n/a" if score is None else f"{score:.0f} / 100")
    cols[1].metric("Churn risk, 90 days", "n/a" if risk is None else f"{risk:.0%}")
    cols[2].metric("ARR", "n/a" if f.get("arr") is None else f"${f['arr']:,.0f}")
    cols[3].metric(
        "Renewal",
        "none on file" if days is None else f"in {days} days",
        help=f"Renewal date {f['renewal_date']}" if f.get("renewal_date") else None,
    )
    champion = md(f.get("champion_name") or "none on file")
    seen = f.get("champion_last_active_on")
    left = (
        f" (left {f['champion_deactivated_at']:%d %b %Y})"
        if f.get("champion_deactivated_at")
        else ""
    )
    st.markdown(
        f"**Stage** {md((f.get('stage') or 'unknown').replace('_', ' '))} · **Champion** {champion}"
        f"{left}" + (f", last active {seen:%d %b %Y}" if seen else "")
    )
