"""Account: one account's health, why it moved, its journey, moments, actions and people."""

import streamlit as st

from health.accounts import drilldown as account
from health.accounts import timeline
from health.actions import log as action_log
from health.actions import suggest as actions
from health.app import cards, connection, signin, tables, text, widgets
from health.app.charts import base as charts

signin.require_page("account")

con = connection.cursor()
account_id = st.query_params.get("account")
if not account_id:
    st.title("Account")
    picks = account.choices(con, signin.default_owner())
    if picks.is_empty():
        widgets.empty_state("No accounts yet.")
        st.stop()
    labels = dict(zip(picks["account_id"], picks["name"], strict=True))
    chosen = st.selectbox(
        "Open an account", list(labels), format_func=lambda a: text.clean(labels[a]), index=None
    )
    if chosen:
        st.query_params["account"] = chosen
        st.rerun()
    st.stop()

facts = account.facts(con, account_id)
owner = facts["csm_owner"] if facts else None
if facts is None or not signin.may_open_account(owner):
    st.title("Account")
    signin.refuse_account(account_id)
log = action_log.log_path()
acts = actions.account_actions(con, log, account_id)

text.title(facts["name"])
owned_by = f"owner {facts['csm_owner']}" if facts["csm_owner"] else None
st.caption(text.subtitle(account_id, facts["segment"], facts["plan"], owned_by))
contacts = account.contacts(con, account_id)
sees_people = signin.sees_contacts()
people = [facts["champion_name"], *contacts["name"].to_list()]
private = signin.people_redactor(people, facts["champion_name"])
champion = facts["champion_name"]
if champion and not sees_people:
    champion = "hidden for your role"
cards.account_header({**facts, "champion_name": champion})

left, right = st.columns([3, 2])
with left:
    st.subheader("Why")
    drivers = (private(facts["drivers"]) or "").split("; ")
    lines = [f"- {text.md(d)}" for d in drivers if d]
    st.markdown("\n".join(lines) or "No risk driver stands out.")
with right:
    changes = account.health_changes(con, account_id)
    st.plotly_chart(charts.health_changes(changes), width="stretch")
    if facts.get("score_source") == "model":
        st.caption(
            "Health is the churn model's score. Engagement, Adoption, Relationship, Support and "
            "Contract are the transparent scorecard's parts (0–100, higher is better): they weigh "
            "the same signals differently, so a part can rise while the model's health falls."
        )

tl = timeline.build(con, account_id, account.action_points(acts))
points = signin.redact(tl.points, people, facts["champion_name"])
st.plotly_chart(charts.timeline(tl.activity, tl.health, points, timeline.LANES), width="stretch")

st.subheader("Suggested actions")
todo = acts.filter(acts["state"].is_in(["listed", "queued"])) if acts.height else acts
if todo.is_empty():
    st.caption("Nothing to do for this account today.")
user = signin.current_user()
texts = ("title", "detail", "questions_or_recognition", "email_subject", "email_body")
for a in todo.iter_rows(named=True):
    shown = {**a, **{k: private(a.get(k)) for k in texts}}
    cards.action_card(
        shown, log, user.name if user else "local", facts["as_of"], drafts=sees_people
    )

st.subheader("Moments of truth")
found = account.moments(con, account_id)
if found.is_empty():
    st.caption("No moment of truth detected for this account.")
for m in found.iter_rows(named=True):
    cards.moment_card({**m, "evidence": private(m["evidence"])})

tabs = st.tabs(["Contacts", "Tickets", "NPS", "Subscriptions", "Action history"])
for tab, frame, name in zip(
    tabs,
    (
        contacts,
        account.tickets(con, account_id),
        account.nps(con, account_id),
        account.subscriptions(con, account_id),
        acts.filter(acts["status"] != "open") if acts.height else acts,
    ),
    ("contacts", "tickets", "nps", "subscriptions", "actions"),
    strict=True,
):
    with tab:
        # Every table and its CSV as the role may see it: names and emails in any text hidden.
        shown = signin.redact(frame, people, facts["champion_name"])
        tables.table(shown, f"{account_id}-{name}", empty=f"No {name} recorded for this account.")
