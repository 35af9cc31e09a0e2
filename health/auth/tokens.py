"""Signed, expiring sign-in tokens: a local sign-in that survives a reload or a new tab.

The app keeps the token in a cookie (`health_session`, Path=/, SameSite=Strict, Secure over
https), never in the URL, so a copied link signs nobody in; see health/app/signin.py and the
README's "Sign-in and roles". A token names the user, its expiry and a fingerprint of the
user's password hash, signed with HMAC-SHA256: changing the password, removing the user or
waiting out the expiry ends it; nobody can forge or extend one without the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from health.auth.users import User, get_user, normal_username, users_path

TTL_SECONDS = 8 * 3600  # a working day; then the form asks again


def secret_path() -> Path:
    """The signing secret's file: beside the users file (data/.session-secret)."""
    return users_path().with_name(".session-secret")


def load_secret(path: Path | None = None) -> bytes:
    """The signing secret, created (random, readable by its owner only) on first use."""
    path = path or secret_path()
    try:
        return bytes.fromhex(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(secrets.token_hex(32))
    os.chmod(tmp, 0o600)
    try:
        os.link(tmp, path)  # first writer wins; a racing process reads the winner's secret
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return bytes.fromhex(path.read_text().strip())


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def _sign(secret: bytes, payload: bytes) -> str:
    mac = hmac.new(secret, payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def issue(user: User, secret: bytes, now: float | None = None, ttl: float = TTL_SECONDS) -> str:
    """A token for this user, valid for `ttl` seconds."""
    expires = int((time.time() if now is None else now) + ttl)
    payload = f"{normal_username(user.username)}|{expires}|{_fingerprint(user)}".encode()
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{_sign(secret, payload)}"


def check(token: str, secret: bytes, now: float | None = None) -> User | None:
    """The user a token signs in, or None when it is forged, expired or out of date."""
    try:
        body, mac = token.split(".")
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        username, expires, fingerprint = payload.decode().split("|")
        if not hmac.compare_digest(mac, _sign(secret, payload)):
            return None
        if int(expires) < (time.time() if now is None else now):
            return None
    except (ValueError, UnicodeDecodeError):
        return None
    user = get_user(username)
    if user is None or not user.password_hash or _fingerprint(user) != fingerprint:
        return None
    return user
