"""`users add | list | remove`: who may sign in, with which role."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

from health.cli.common import (
    app,
    fail,
    out,
)

users_app = typer.Typer(
    help="Who may sign in to the app, and with which role (data/users.toml or $HEALTH_USERS).",
    no_args_is_help=True,
)
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="The name to sign in with.")],
    role: Annotated[str, typer.Option(help="csm, pm, leader or admin.")],
    name: Annotated[str, typer.Option(help="The person's full name.")] = "",
    csm_name: Annotated[
        str, typer.Option(help="For a CSM: their name in accounts.csm_owner (default: --name).")
    ] = "",
    email: Annotated[str, typer.Option(help="Email; single sign-on matches people by it.")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="Single sign-on only (needs --email).")
    ] = False,
) -> None:
    """Add a user (or replace the one with that username); asks for the password twice."""
    from health import auth

    password_hash = ""
    if not no_password:
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        if len(password) < 8:
            fail("the password is shorter than 8 characters; choose a longer one.")
        password_hash = auth.hash_password(password)
    user = auth.User(username.strip(), name, role, csm_name, email, password_hash)
    try:
        saved = auth.add_user(user)
    except auth.UsersError as exc:
        fail(str(exc))
    book = f", book {saved.csm_name!r}" if saved.role == "csm" else ""
    out.print(f"Saved {saved.username} ({saved.role}{book}) in {auth.users_path()}.")


@users_app.command("list")
def users_list() -> None:
    """List the users: username, name, role, CSM book, email, how they sign in."""
    from rich.table import Table

    from health import auth

    try:
        users = auth.load_users()
    except auth.UsersError as exc:
        fail(str(exc))
    if not users:
        out.print(f"No users in {auth.users_path()}: the app runs in single-user mode.")
        return
    table = Table("username", "name", "role", "CSM book", "email", "sign-in")
    for u in users:
        signs_in = "password" if u.password_hash else "single sign-on"
        table.add_row(u.username, u.name, u.role, u.csm_name, u.email, signs_in)
    Console(soft_wrap=True, markup=False, highlight=False).print(table)


@users_app.command("remove")
def users_remove(username: Annotated[str, typer.Argument(help="The user to remove.")]) -> None:
    """Remove a user; their open sessions end at their next click."""
    from health import auth

    try:
        auth.remove_user(username)
    except auth.UsersError as exc:
        fail(str(exc))
    out.print(f"Removed {username} from {auth.users_path()}.")
