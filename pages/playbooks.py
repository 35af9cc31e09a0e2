"""Playbooks: did it work? What followed each playbook's actions, against triggers left alone."""

import streamlit as st

from health.actions import log as action_log
from health.actions import outcomes
from health.app import connection, memo, signin, tables, widgets
from health.app.charts import leader as charts
from health.db import catalog

signin.require_page("playbooks")

st.title("Playbooks")
st.subheader("Did it work?")
con = connection.cursor()
if not catalog.is_refreshed(con):
    widgets.empty_state("No actions to look back on yet.")
    st.stop()


@st.cache_data(show_spinner="Comparing what followed with and without actions…", max_entries=8)
def _table(version, log_version):
    # Keyed on the database's and the action log's versions: a CSM's new entry shows up.
    return outcomes.did_it_work(connection.cursor(), action_log.log_path())


log = action_log.log_path()
log_version = log.stat().st_mtime_ns if log.exists() else 0
table = _table(connection.version(), log_version)
st.caption(
    "For each playbook: health 4 and 12 weeks after an action, churn and expansion within 180 "
    "days, against the same playbook's triggers with no action done, compared within the same "
    "churn-risk band and segment. **Observational** figures (grey) are associations: CSMs choose "
    "which actions to do. **Randomised** figures (blue) come from a playbook's holdout "
    "(`holdout` in health/config/playbooks.toml, off by default): a random share of new "
    "actions is never listed, so the difference is what offering the action did. Intervals: "
    "90 %, bootstrap."
)
if table.is_empty():
    st.info(
        "Not enough to compare yet: each figure needs at least 3 actions done and 3 comparable "
        "triggers left alone whose outcome is known (4 weeks and more after them).",
        icon=":material/info:",
    )
    st.stop()

labels = dict(zip(table["outcome"], table["outcome_label"], strict=False))
outcome = st.segmented_control(
    "Outcome", list(labels), format_func=labels.get, default=next(iter(labels)), key="pb_outcome"
)
drawn = (log_version, outcome)
forest = memo.figure(drawn, charts.playbook_forest, table, outcome, labels[outcome])
st.plotly_chart(forest, width="stretch")
tables.table(
    table.drop("outcome"),
    "playbook_outcomes",
    config={
        "reason": "Playbook",
        "outcome_label": "Outcome",
        "evidence": "Evidence",
        "treated_n": "With action (n)",
        "compared_n": "Without (n)",
        "treated": st.column_config.NumberColumn("With action", format="%.2f"),
        "compared": st.column_config.NumberColumn("Without", format="%.2f"),
        "difference": st.column_config.NumberColumn("Difference", format="%.2f"),
        "low": st.column_config.NumberColumn("90 % low", format="%.2f"),
        "high": st.column_config.NumberColumn("90 % high", format="%.2f"),
        "reading": "In words",
    },
)
