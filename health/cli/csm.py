"""Commands for the people who act: `actions`, `digest`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from health import db
from health.cli.common import (
    DbOption,
    OutOption,
    app,
    fail,
    out,
)


@app.command()
def actions(
    out_file: OutOption,
    db_file: DbOption = None,
    owner: Annotated[
        str | None, typer.Option("--owner", help="Only this CSM's list (accounts.csm_owner).")
    ] = None,
) -> None:
    """Write today's suggested actions (as of the last refresh), highest priority first.

    Open actions within each CSM's daily budget, with statuses from the action log. Columns:
    action_id, account_id, account, owner, rank_for_owner, dollars_at_stake, due_on, title,
    reason, evidence, questions_or_recognition, email_subject.
    """
    from health.actions import log as action_log
    from health.actions import suggest as acts
    from health.pipeline.oneshot import write_csv

    if not db.exists(db_file):
        fail(f"{db.db_path(db_file)}: no database yet. Run `python -m health load DIR` first.")
    con = db.connect(db_file, read_only=True)
    try:
        if not db.table_exists(con, "mart_actions"):
            fail("no actions yet: run `python -m health refresh` first.")
        known = acts.owners(con)
        if owner is not None and owner not in known:
            fail(f"no account is owned by {owner!r} (--owner); owners: {', '.join(known)}.")
        today = acts.todays_actions(con, action_log.log_path(db_file), owner)
        as_of = con.execute("select as_of from params").fetchall()[0][0]
    finally:
        con.close()
    write_csv(today.select(acts.LIST_COLUMNS), out_file)
    who = f" for {owner}" if owner else ""
    out.print(
        f"Wrote {today.height:,} open actions{who} as of {as_of} to {out_file}.", highlight=False
    )


@app.command()
def digest(
    db_file: DbOption = None,
    owner: Annotated[
        str | None, typer.Option("--owner", help="Only this CSM's digest (accounts.csm_owner).")
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the .eml files (default: digests/ beside the db)."),
    ] = None,
    send: Annotated[
        bool, typer.Option("--send", help="Also send them over SMTP (STARTTLS; [smtp] settings).")
    ] = False,
) -> None:
    """Write each CSM's daily digest and the leaders' weekly one as .eml files; --send mails them.

    A CSM's digest: actions due, renewals within 30 days, accounts that changed tier and new
    moments since their last digest, each linking to the account's page, within a budget. The
    leaders' digest (weekly): ARR at risk and its change, renewals, the largest disagreements.
    """
    from rich.markup import escape

    from health.digest.run import make
    from health.digest.settings import DigestError

    if not db.exists(db_file):
        fail(f"{db.db_path(db_file)}: no database yet. Run `python -m health load DIR` first.")
    database = db.db_path(db_file)
    folder = out_dir or database.parent / "digests"
    try:
        made, notes = make(database, folder, owner, send)
    except DigestError as exc:
        fail(escape(str(exc)))  # messages name TOML sections like [smtp]: not rich markup
    for note in notes:
        out.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    for m in made:
        sent = f", sent to {m.to}" if m.sent else ""
        out.print(escape(f"  wrote {m.path}{sent}"), highlight=False)
    out.print(f"Made {len(made)} digest(s) in {folder}.", highlight=False)
