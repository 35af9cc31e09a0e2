"""Passwords: scrypt hashes from the standard library, checked in constant time, and a throttle."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time

from health.auth.users import User, UsersError, get_user

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
    """Refuse further guesses at a username after repeated failures, for a while."""

    def __init__(self, max_failures: int = 5, window_seconds: float = 300.0):
        self.max_failures = max_failures
        self.window = window_seconds
        self._failures: dict[str, list[float]] = {}

    def blocked(self, username: str, now: float | None = None) -> bool:
        """Whether this username has failed too often within the window."""
        now = time.monotonic() if now is None else now
        recent = [t for t in self._failures.get(username.lower(), []) if now - t < self.window]
        self._failures[username.lower()] = recent
        return len(recent) >= self.max_failures

    def failed(self, username: str, now: float | None = None) -> None:
        """Count a failed attempt."""
        now = time.monotonic() if now is None else now
        self._failures.setdefault(username.lower(), []).append(now)

    def succeeded(self, username: str) -> None:
        """Forget the failures of a username that got in."""
        self._failures.pop(username.lower(), None)


def verify(username: str, password: str, path: str | os.PathLike | None = None) -> User | None:
    """The user if the password is theirs, else None (as slow for unknown names)."""
    user = get_user(username, path) if username else None
    encoded = user.password_hash if user and user.password_hash else _DUMMY_HASH
    ok = check_password(password, encoded)
    return user if ok and user and user.password_hash else None
