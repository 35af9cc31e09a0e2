"""Passwords: scrypt hashes from the standard library, checked in constant time, and a throttle."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

from health.auth.users import User, UsersError, get_user, normal_username, users_path

# scrypt at n=2^14, r=8 costs ~16 MB and ~50 ms per check: cheap for a login, dear for a guesser.
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LEN = 2**14, 8, 1, 32


def hash_password(password: str) -> str:
    """An scrypt hash with a random salt, its parameters written beside it."""
    if not password:
        raise UsersError("the password is empty; choose one with at least 8 characters.")
    salt = secrets.token_bytes(16)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_LEN)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def check_password(password: str, encoded: str) -> bool:
    """Whether the password matches the hash (constant-time; a malformed hash never matches)."""
    try:
        scheme, n, r, p, salt, key = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key, validate=True)
        got = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except (ValueError, TypeError, MemoryError):
        return False
    return hmac.compare_digest(got, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int = SCRYPT_LEN) -> bytes:
    # maxmem: room for n=2^15 should the defaults grow; a hostile hash can't ask for more.
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=64 * 2**20
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# A hash to check against when the username is unknown, so that a wrong name takes as long
# as a wrong password and the timing tells no one which usernames exist.
_DUMMY_HASH = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(b'0' * 16)}${_b64(b'0' * 32)}"


class LoginThrottle:
    """Refuse further guesses at a username after repeated failures, for a while.

    The count lives in a small JSON file beside the users file, changed under an exclusive
    lock: every thread and every server process sees one count, and an attempt is counted
    before its password is checked (`attempt`), so parallel guesses can't slip past the limit.
    Usernames are counted as `normal_username` makes them.
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        max_failures: int = 5,
        window_seconds: float = 300.0,
    ):
        self.path = Path(path) if path else users_path().with_name(".login-throttle.json")
        self.max_failures = max_failures
        self.window = window_seconds

    @contextlib.contextmanager
    def _counts(self, now: float) -> Iterator[dict[str, list[float]]]:
        """The recent failures by username, read and written back under the lock."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                counts = json.loads(self.path.read_text() or "{}")
            except (FileNotFoundError, ValueError):
                counts = {}  # none yet, or a torn file from a crash: start afresh
            counts = {k: [t for t in v if now - t < self.window] for k, v in counts.items()}
            yield counts
            counts = {k: v for k, v in counts.items() if v}
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps(counts))
            os.replace(tmp, self.path)

    def attempt(self, username: str, now: float | None = None) -> bool:
        """Count an attempt at this username before its check; False when it is blocked."""
        now = time.time() if now is None else now
        with self._counts(now) as counts:
            recent = counts.setdefault(normal_username(username), [])
            if len(recent) >= self.max_failures:
                return False
            recent.append(now)
            return True

    def blocked(self, username: str, now: float | None = None) -> bool:
        """Whether this username has failed too often within the window."""
        now = time.time() if now is None else now
        with self._counts(now) as counts:
            return len(counts.get(normal_username(username), [])) >= self.max_failures

    def failed(self, username: str, now: float | None = None) -> None:
        """Count a failed attempt (`attempt` already counts one before the check)."""
        now = time.time() if now is None else now
        with self._counts(now) as counts:
            counts.setdefault(normal_username(username), []).append(now)

    def succeeded(self, username: str, now: float | None = None) -> None:
        """Forget the failures of a username that got in."""
        with self._counts(time.time() if now is None else now) as counts:
            counts.pop(normal_username(username), None)

    def clear(self) -> None:
        """Forget every failure."""
        with self._counts(time.time()) as counts:
            counts.clear()


def verify(username: str, password: str, path: str | os.PathLike | None = None) -> User | None:
    """The user if the password is theirs, else None (as slow for unknown names)."""
    user = get_user(username, path) if username else None
    encoded = user.password_hash if user and user.password_hash else _DUMMY_HASH
    ok = check_password(password, encoded)
    return user if ok and user and user.password_hash else None
