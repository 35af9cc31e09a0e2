"""Account: one account's health, why it moved, its journey, moments, actions and people."""

import streamlit as st

from health import account, action_log, actions, charts, timeline, ui, ui_auth

ui_auth.require_page("account")

con = ui.cursor()
account_id = st.query_params.get("account")
if not account_id:
    st.title("Account")
    picks = account.choices(con, ui_auth.default_owner())
    if picks.is_empty():
        ui.empty_state("No accounts yet.")
        st.stop()
    labels = dict(zip(picks["account_id"], picks["name"], strict=True))
    chosen = st.selectbox("Open an account", list(labels), format_func=labels.get, index=None)
    if chosen:
        st.query_params["account"] = chosen
        st.rerun()
    st.stop()

facts = account.facts(con, account_id)
if facts is None:
    st.title("Account")
    st.error(f"There is no account {account_id!r} in this data.", icon=":material/search_off:")
    st.stop()
ui_auth.require_account_access(account_id, facts["csm_owner"])
log = action_log.log_path()
acts = actions.account_actions(con, log, account_id)

st.title(facts["name"])
st.caption(f"{account_id} · {facts['segment']} · {facts['plan']} · owner {facts['csm_owner']}")
people = [facts["champion_name"]]
hidden = ui_auth.redact_people(facts["champion_name"], people, "hidden for your role")
ui.account_header({**facts, "champion_name": hidden})

left, right = st.columns([3, 2])
with left:
    st.subheader("Why")
    drivers = (ui_auth.redact_people(facts["drivers"], people) or "").split("; ")
    st.markdown("\n".join(f"- {d}" for d in drivers if d) or "No risk driver stands out.")
with right:
    changes = account.health_changes(con, account_id)
    st.plotly_chart(charts.health_changes(changes), width="stretch")

tl = timeline.build(con, account_id, account.action_points(acts))
st.plotly_chart(charts.timeline(tl.activity, tl.health, tl.points, timeline.LANES), width="stretch")

st.subheader("Suggested actions")
todo = acts.filter(acts["state"].is_in(["listed", "queued"])) if acts.height else acts
if todo.is_empty():
    st.caption("Nothing to do for this account today.")
user = ui_auth.current_user()
for a in todo.iter_rows(named=True):
    ui.action_card(a, log, user.name if user else "local", facts["as_of"])

st.subheader("Moments of truth")
found = account.moments(con, account_id)
if found.is_empty():
    st.caption("No moment of truth detected for this account.")
for m in found.iter_rows(named=True):
    ui.moment_card({**m, "evidence": ui_auth.redact_people(m["evidence"], people)})

people, support, voice, contract, done = st.tabs(
    ["Contacts", "Tickets", "NPS", "Subscriptions", "Action history"]
)
for tab, frame, name in (
    (people, ui_auth.mask_contacts(account.contacts(con, account_id)), "contacts"),
    (support, account.tickets(con, account_id), "tickets"),
    (voice, ui_auth.mask_contacts(account.nps(con, account_id)), "nps"),
    (contract, account.subscriptions(con, account_id), "subscriptions"),
    (done, acts.filter(acts["status"] != "open") if acts.height else acts, "actions"),
):
    with tab:
        ui.table(frame, f"{account_id}-{name}", empty=f"No {name} recorded for this account.")
