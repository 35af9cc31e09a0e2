"""Who may use the app and what each role may see: users file, password hashes, permissions.

Users live in a small TOML file (data/users.toml, or $HEALTH_USERS), one `[[users]]` table
each: username, name, role, csm_name (the accounts.csm_owner value a CSM owns), email and
password_hash. An entry without a password_hash is for single sign-on (OIDC): it maps the
email the identity provider vouches for to a role. No file, or a file with no users, means
single-user mode. Passwords are hashed with scrypt from the standard library.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import tempfile
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from health import db

ROLES = ("csm", "pm", "leader", "admin")
ROLE_HELP = {
    "csm": "a customer-success manager: their own book of accounts, with contacts",
    "pm": "a product manager: segments, journey, features, the model; accounts read-only",
    "leader": "leadership: every page but data administration; no contact details",
    "admin": "everything, including loading data and settings",
}
DEFAULT_USERS = db.ROOT / "data" / "users.toml"


class UsersError(Exception):
    """The users file or a users command is wrong; the message says what and how to fix it."""


@dataclass(frozen=True)
class User:
    """A person using the app, and what their role lets them see."""

    username: str
    name: str
    role: str
    csm_name: str = ""  # the accounts.csm_owner value of a CSM's book
    email: str = ""
    password_hash: str = ""

    def __repr__(self) -> str:  # never print a hash into a log
        return f"User({self.username!r}, role={self.role!r})"


# --- the users file --------------------------------------------------------------------------


def users_path() -> Path:
    """The users file: $HEALTH_USERS, else data/users.toml."""
    return Path(os.environ.get("HEALTH_USERS") or DEFAULT_USERS).expanduser().resolve()


def load_users(path: str | os.PathLike | None = None) -> list[User]:
    """Every user in the file (none when there is no file); a broken file raises UsersError."""
    path = Path(path) if path else users_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise UsersError(
            f"{path}: cannot be read ({exc.strerror}). Check its permissions."
        ) from None
    return list(_parse(str(path), raw))


@functools.lru_cache(maxsize=8)
def _parse(path: str, raw: bytes) -> tuple[User, ...]:
    # The app asks on every rerun; reading a small file is cheap, parsing it again is not needed
    # until its bytes change (mtime and size can stay the same across a quick password change).
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsersError(f"{path}: cannot be read as TOML ({exc}). Fix or remove it.") from None
    entries = data.get("users", [])
    if not isinstance(entries, list):
        raise UsersError(f"{path}: `users` must be a list of [[users]] tables.")
    users, seen = [], set()
    for i, entry in enumerate(entries, start=1):
        user = _user_from(entry, f"{path}: user #{i}")
        if user.username.lower() in seen:
            raise UsersError(f"{path}: username {user.username!r} appears twice; keep one.")
        seen.add(user.username.lower())
        users.append(user)
    return tuple(users)


def _user_from(entry: object, where: str) -> User:
    if not isinstance(entry, dict):
        raise UsersError(f"{where} is not a table of keys.")
    fields = {k: entry.get(k, "") for k in User.__dataclass_fields__}
    bad = [k for k, v in fields.items() if not isinstance(v, str)]
    if bad:
        raise UsersError(f"{where}: {', '.join(bad)} must be text.")
    return validated(User(**{k: v.strip() for k, v in fields.items()}), where)


def validated(user: User, where: str = "user") -> User:
    """The user with defaults filled in, or UsersError saying what is missing."""
    if not user.username:
        raise UsersError(f"{where}: the username is empty.")
    if user.role not in ROLES:
        raise UsersError(f"{where}: role {user.role!r} is not one of {', '.join(ROLES)}.")
    if not user.password_hash and not user.email:
        raise UsersError(
            f"{where} ({user.username}): give a password, or an email for single sign-on."
        )
    name = user.name or user.username
    # A CSM's book is the accounts whose csm_owner is their name, unless told otherwise.
    csm_name = (user.csm_name or name) if user.role == "csm" else user.csm_name
    return replace(user, name=name, csm_name=csm_name)


def save_users(users: Iterable[User], path: str | os.PathLike | None = None) -> Path:
    """Write the users file atomically (a temp file swapped in), readable by its owner only."""
    path = Path(path) if path else users_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Users of the customer-health app; manage with `python -m health users add|list|remove`.",
        "# An entry without password_hash signs in through single sign-on, matched by email.",
    ]
    for user in users:
        lines.append("\n[[users]]")
        for key in User.__dataclass_fields__:
            value = getattr(user, key)
            if value:
                # A JSON string is a valid TOML basic string: quotes and controls escaped.
                lines.append(f"{key} = {json.dumps(value)}")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def editing(path: str | os.PathLike | None = None) -> Iterator[list[User]]:
    """Read the users, let the block change the list, write it back; writers queue on a lock."""
    path = Path(path) if path else users_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        users = load_users(path)
        yield users
        save_users(users, path)


def add_user(user: User, path: str | os.PathLike | None = None) -> User:
    """Add a user, or replace the one with that username; returns what was saved."""
    user = validated(user, f"user {user.username!r}")
    with editing(path) as users:
        users[:] = [u for u in users if u.username.lower() != user.username.lower()]
        users.append(user)
    return user


def remove_user(username: str, path: str | os.PathLike | None = None) -> None:
    """Remove a user; UsersError when there is none by that name."""
    with editing(path) as users:
        kept = [u for u in users if u.username.lower() != username.lower()]
        if len(kept) == len(users):
            raise UsersError(f"no user {username!r}; `python -m health users list` shows them.")
        users[:] = kept


def users_configured(path: str | os.PathLike | None = None) -> bool:
    """Whether anyone is configured (else the app runs in single-user mode)."""
    return bool(load_users(path))


def normal_username(username: str) -> str:
    """A username as typed, the way every check compares it: no outer spaces, any case."""
    return username.strip().casefold()


def get_user(username: str, path: str | os.PathLike | None = None) -> User | None:
    """The user with this username (any case, outer spaces ignored), or None."""
    wanted = normal_username(username)
    return next((u for u in load_users(path) if normal_username(u.username) == wanted), None)


def user_for_email(email: str, path: str | os.PathLike | None = None) -> User | None:
    """The user a single sign-on email maps to (any case), or None."""
    wanted = email.strip().lower()
    if not wanted:
        return None
    return next((u for u in load_users(path) if u.email.lower() == wanted), None)
