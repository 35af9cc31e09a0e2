"""Load and recompute from the app, with progress; the old data serves until the new is out."""

from __future__ import annotations

import streamlit as st

from health.app.connection import clear_caches


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
