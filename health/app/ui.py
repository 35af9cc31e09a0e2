"""The only module that imports Streamlit: cached connection and loaders, small widgets."""

from __future__ import annotations

import logging

import polars as pl
import streamlit as st

from health import db
from health.present.export import to_csv
from health.present.labels import CODED, MONEY, NUMBER_LABELS, PERCENT_WORDS, label, value_label

log = logging.getLogger("health.app")


@st.cache_resource(max_entries=2, show_spinner=False)
def _connection(path: str, version: tuple[int, int]):
    # One read-only connection per published database file; a refresh swaps in a new file,
    # which changes `version` and so opens a fresh connection to it.
    return db.connect(path, read_only=True)


def cursor():
    """A cursor on the current database; DuckDB connections are not shared across threads."""
    path = db.db_path()
    return db.cursor(_connection(str(path), db.version(path)))


def version() -> tuple[int, int]:
    """The published database's version token, for cache keys."""
    return db.version()


def clear_caches() -> None:
    """Forget cached data after this app wrote a new database."""
    st.cache_data.clear()


def download(frame: pl.DataFrame, name: str, label: str = "Download CSV") -> None:
    """A CSV download button for a table (cells that look like formulas are neutralised)."""
    st.download_button(
        label,
        data=to_csv(frame),
        file_name=f"{name}.csv",
        mime="text/csv",
        icon=":material/download:",
        key=f"download-{name}",
    )


def empty_state(what: str) -> None:
    """Say what is missing and how to get it, instead of an empty page."""
    st.info(
        f"{what} Load a data folder on the **Data** page, or run "
        "`python -m health load DIR && python -m health refresh`.",
        icon=":material/info:",
    )


def guard(run) -> None:
    """Run a page; an unexpected error becomes a short message, never a traceback."""
    try:
        run()
    except Exception:  # noqa: BLE001 - the boundary between the app and a person
        log.exception("page failed")
        st.error(
            "This page hit an unexpected problem and could not be shown. The details are in "
            "the server log; other pages still work.",
            icon=":material/error:",
        )


def load_and_refresh(folder: str, uploads: list, replace: bool) -> None:
    """Load a folder (or uploaded files) through the same validation as the CLI, then refresh."""
    import shutil

    from health.ingest.loader import LoadError, load, save_uploads
    from health.pipeline.refresh import RefreshError, refresh, step_label

    if not folder.strip() and not uploads:
        st.warning("Give a folder path or upload files first.", icon=":material/warning:")
        return
    saved = None
    try:
        with st.status("Loading…", expanded=True) as status:
            source = folder.strip()
            if uploads:
                source = saved = save_uploads([(f.name, f.getvalue()) for f in uploads])
            report = load(source, replace=replace, progress=st.write)
            status.update(label="Refreshing…")
            refresh(progress=lambda step: st.write(step_label(step)))
            status.update(label="Loaded and refreshed", state="complete", expanded=False)
    except (LoadError, RefreshError) as exc:
        st.error(
            f"{exc}\n\nNothing was loaded; the data you had is unchanged.", icon=":material/error:"
        )
        return
    finally:
        if saved:  # the uploaded copies served their purpose; rejected rows stay in `rejects`
            shutil.rmtree(saved, ignore_errors=True)
    clear_caches()
    if report.recipe:  # a mapping.toml in the folder turned other tools' exports into tables
        st.markdown(f"Mapped with **{report.recipe}**: " + "; ".join(report.mapped))
    for t in report.tables:
        line = f"**{t.file}**: {t.rows_read:,} rows read, {t.rows_loaded:,} loaded"
        if t.rows_rejected:
            line += f", {t.rows_rejected:,} rejected, e.g. " + "; ".join(map(str, t.examples[:3]))
        st.markdown(line)
    for warning in report.warnings + [w for t in report.tables for w in t.warnings]:
        st.warning(warning, icon=":material/warning:")


# Global filters: rendered in the sidebar by app.py on every page; their widget state lives in
# st.session_state under these keys, so every page sees the same selection.
FILTER_KEYS = {
    "segment": "f_segment",
    "csm_owner": "f_owner",
    "plan": "f_plan",
    "region": "f_region",
}
FILTER_LABELS = {"segment": "Segment", "csm_owner": "CSM", "plan": "Plan", "region": "Region"}


@st.cache_data(show_spinner=False)
def _filter_options(version: tuple[int, int]) -> dict[str, list[str]]:
    from health.accounts.overview import options

    return options(cursor())


@st.cache_data(show_spinner=False)
def _scoped_ids(version: tuple[int, int], chosen: tuple) -> list[str]:
    from health.accounts.overview import Filters, overview

    segments, owners, plans, regions = chosen
    frame = overview(
        cursor(),
        Filters(segments=segments, owners=owners, plans=plans, regions=regions, active_only=False),
    )
    return frame["account_id"].to_list()


def sidebar_filters() -> None:
    """The global filters, in the sidebar; they narrow every page to the same accounts."""
    from health.app.signin import default_owner
    from health.db.catalog import is_refreshed

    if not is_refreshed(cursor()):
        return
    opts = _filter_options(version())
    st.sidebar.markdown("**Filters** (all pages)")
    for column, key in FILTER_KEYS.items():
        if column == "csm_owner" and default_owner():
            continue  # a CSM's book is fixed: no choosing another CSM's accounts
        if len(opts.get(column, [])) > 1:
            # Streamlit drops a widget's state between page runs; the selection lives in a
            # plain session key and re-seeds the widget on every run.
            kept = [v for v in st.session_state.get(_store(key), []) if v in opts[column]]
            st.session_state[key] = kept
            st.sidebar.multiselect(
                FILTER_LABELS[column], opts[column], key=key, on_change=_keep, args=(key,)
            )


def _store(key: str) -> str:
    return f"{key}-kept"


def kept_filter_key(column: str) -> str:
    """The session key that holds a global filter's selection (tests set it directly)."""
    return _store(FILTER_KEYS[column])


def _keep(key: str) -> None:
    st.session_state[_store(key)] = st.session_state[key]


def chosen_filters() -> tuple[tuple[str, ...], ...]:
    """The global filter selection: (segments, owners, plans, regions)."""
    return tuple(tuple(st.session_state.get(_store(key)) or ()) for key in FILTER_KEYS.values())


def scope() -> list[str] | None:
    """The account ids the global filters allow, or None when nothing is filtered."""
    chosen = chosen_filters()
    if not any(chosen):
        return None
    return _scoped_ids(version(), chosen)


def account_table(frame: pl.DataFrame, key: str, column_config: dict | None = None) -> None:
    """A table of accounts; clicking a row opens that account's page."""
    # A fresh key after each jump, so coming back to the page does not jump again.
    version_key = f"{key}-n"
    n = st.session_state.get(version_key, 0)
    event = dataframe(
        frame, column_config, key=f"{key}-{n}", on_select="rerun", selection_mode="single-row"
    )
    rows = event.selection.rows if event else []
    if rows:
        st.session_state[version_key] = n + 1
        st.switch_page("pages/account.py", query_params={"account": frame["account_id"][rows[0]]})


MOMENT_ICONS = {
    "relationship_change": ":material/handshake:",
    "crisis": ":material/warning:",
    "delight": ":material/celebration:",
}


def moment_card(m: dict) -> None:
    """One moment of truth: what happened, the evidence, and what the playbook says to ask or do."""
    title = f"{m['kind'].replace('_', ' ').capitalize()} · detected {m['detected_on']}"
    with st.expander(title, icon=MOMENT_ICONS.get(m["moment"]), expanded=False):
        st.markdown(f"**Evidence.** {m['evidence']}")
        st.caption(f"Began {m['started_on']} · severity {m['severity']:.2f}")
        if m.get("guidance"):
            st.markdown(f"**What to do.** {m['guidance']}")


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
            f"**{a['title']}** · due {a['due_on']} · at stake ${a['priority']:,.0f}",
            help="ARR × churn risk, up to doubled as the renewal nears",
        )
        st.markdown(a["detail"])
        if a.get("questions_or_recognition"):
            st.markdown(a["questions_or_recognition"])
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
            st.toast(f"Marked {status}: {a['title']}", icon=":material/check_circle:")
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
    champion = f.get("champion_name") or "none on file"
    seen = f.get("champion_last_active_on")
    left = (
        f" (left {f['champion_deactivated_at']:%d %b %Y})"
        if f.get("champion_deactivated_at")
        else ""
    )
    st.markdown(
        f"**Stage** {(f.get('stage') or 'unknown').replace('_', ' ')} · **Champion** {champion}"
        f"{left}" + (f", last active {seen:%d %b %Y}" if seen else "")
    )


def table(
    frame: pl.DataFrame, name: str, empty: str = "Nothing to show.", config: dict | None = None
) -> None:
    """A plain table with a CSV download, or a line saying it is empty."""
    if frame.is_empty():
        st.caption(empty)
        return
    dataframe(frame, config)
    download(frame, name)


def as_of_date(con):
    """The as-of date of the published data (None before the first refresh)."""
    import datetime as dt

    from health.db.catalog import meta

    value = meta(con).get("as_of")
    return dt.date.fromisoformat(value) if value else None


def latest_event(con):
    """The day of the latest loaded event: the furthest one can move the as-of date."""
    rows = con.execute("SELECT max(event_time)::DATE FROM events").fetchall()
    return rows[0][0] if rows else None


def recompute(as_of) -> None:
    """Refresh everything as of a date, with progress; the old data serves until it is done."""
    from health.pipeline.refresh import RefreshError, refresh, step_label

    try:
        with st.status(f"Recomputing as of {as_of}…", expanded=True) as status:
            refresh(as_of=as_of, progress=lambda step: st.write(step_label(step)))
            status.update(label=f"Recomputed as of {as_of}", state="complete", expanded=False)
    except RefreshError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    clear_caches()
    st.rerun()


def money(title: str, **kwargs):
    """A column of dollars, whole and with thousands separators ($60,084)."""
    return st.column_config.NumberColumn(title, format="dollar", step=1, **kwargs)


def _column(frame: pl.DataFrame, name: str, title: str):
    dtype = frame.schema[name]
    if dtype == pl.Date:
        return st.column_config.DateColumn(title)
    if isinstance(dtype, pl.Datetime):
        values = frame[name].drop_nulls()
        if (values.dt.truncate("1d") == values).all():  # midnight everywhere: a date
            return st.column_config.DateColumn(title)
        return st.column_config.DatetimeColumn(title, format="YYYY-MM-DD HH:mm")
    if name in MONEY and dtype.is_numeric():
        return money(title)
    if name in CODED and dtype == pl.String:
        options = frame[name].drop_nulls().unique().sort().to_list()
        return st.column_config.SelectboxColumn(title, options=options, format_func=value_label)
    if dtype.is_float() and PERCENT_WORDS & set(name.split("_")):
        return st.column_config.NumberColumn(title, format="percent")
    if dtype.is_float() and name.endswith("score"):
        return st.column_config.NumberColumn(title, format="%.0f")
    if dtype.is_float() and name.startswith("per_"):
        return st.column_config.NumberColumn(title, format="%.1f")
    return title


def columns(frame: pl.DataFrame, config: dict | None = None) -> dict:
    """Column config for a table: readable headers, dates as dates, whole dollars, coded values
    in words. `config` overrides a column: a config as is, a string as its header only."""
    config = config or {}
    out = {}
    for name in frame.columns:
        numeric = frame.schema[name].is_numeric() and name in NUMBER_LABELS
        given = config.get(name, NUMBER_LABELS[name] if numeric else label(name))
        out[name] = _column(frame, name, given) if isinstance(given, str) else given
    return out


def dataframe(frame: pl.DataFrame, column_config: dict | None = None, **kwargs):
    """st.dataframe the app's way: see `columns`; a missing value shows as a dash, not None."""
    return st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        placeholder="—",
        column_config=columns(frame, column_config),
        **kwargs,
    )
