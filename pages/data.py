"""Data: what is loaded, when, what was rejected and why; load a new folder or upload files."""

import streamlit as st

from health.app import connection, loaders, loading, memo, signin, tables, widgets
from health.app.charts import base as charts
from health.db import catalog

signin.require_page("data")

st.title("Data")
con = connection.cursor()
facts = catalog.meta(con)
c1, c2, c3, c4 = st.columns(4)
c1.metric("As of", facts.get("as_of", "not refreshed"))
c2.metric("Last load", facts.get("loaded_at", "never"))
c3.metric("Last refresh", facts.get("refreshed_at", "never"))
c4.metric(
    "Mapped with",
    catalog.recipe(con) or "none",
    help="The mapping files (recipes) that turned other tools' exports into the contract's "
    "tables in the last load; 'none' when the files were already in the contract's shape.",
)

# A running job's progress (or how the latest one ended) sits under the facts, where it is seen,
# though it is drawn last: after a form below has started the job in this same run.
job_slot = st.container()

loaded, rejects, loads = loaders.loaded()
left, right = st.columns([3, 2])
with left:
    st.subheader("Tables")
    tables.dataframe(
        loaded,
        {
            "table": "Table",
            "required": st.column_config.CheckboxColumn("Required"),
            "rows": st.column_config.NumberColumn("Rows", format="localized"),
            "first": st.column_config.DateColumn("First date"),
            "last": st.column_config.DateColumn("Last date"),
        },
    )
    missing = loaded.filter((loaded["rows"] == 0) & ~loaded["required"])["table"].to_list()
    if missing:
        st.caption(
            "Not loaded (optional): " + ", ".join(missing) + ". The product works without them, "
            "with fewer signals."
        )
with right:
    st.plotly_chart(memo.figure((), charts.table_rows, loaded), width="stretch")

st.subheader("Rejected rows")
if rejects.is_empty():
    st.success("No rows were rejected in the latest load.", icon=":material/check_circle:")
else:
    st.caption(f"{rejects.height:,} rows broke the input contract and were not loaded.")
    tables.dataframe(rejects)
    widgets.download(rejects, "rejected-rows")

st.subheader("Load history")
if loads.is_empty():
    st.caption("Nothing loaded yet.")
else:
    tables.dataframe(loads)

st.subheader("Recompute as of another date")
st.caption(
    "Every page shows the data as of one date; later data is ignored as if it did not exist yet. "
    "Recomputing takes a minute on the demo; the app keeps serving the current data meanwhile."
)
with st.form("as_of"):
    chosen = st.date_input(
        "As of", value=connection.as_of_date(con), max_value=connection.latest_event(con)
    )
    if st.form_submit_button("Recompute", icon=":material/history:"):
        loading.recompute(chosen)

st.subheader("Load data")
st.caption(
    "A folder or files in the input contract's shape (see the README): accounts and events are "
    "required, the other tables optional. A folder of other tools' exports loads too when it "
    "holds a mapping.toml (see the README's mapping files and recipes). Everything is validated "
    "first; a file that cannot be loaded changes nothing."
)
with st.form("load"):
    folder = st.text_input("Data folder on the server", placeholder="/path/to/export")
    uploads = st.file_uploader(
        "…or upload the files (accounts.csv, events.parquet, …)",
        type=["csv", "gz", "parquet"],
        accept_multiple_files=True,
    )
    replace = st.checkbox("Replace what is loaded (instead of merging)")
    submitted = st.form_submit_button("Validate and load", icon=":material/upload:")
if submitted:
    loading.load_and_refresh(folder, uploads, replace)
with job_slot:
    loading.job_status()  # a load still running (from any session), or how the latest one ended
