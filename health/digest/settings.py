"""Digest settings: the app's base URL, the per-CSM budget, the SMTP server; and the state file
that remembers when each reader's last digest was made.

Settings come from a TOML file, `digest.toml` beside the database (or $HEALTH_DIGEST_CONFIG):

    [digest]
    base_url = "https://health.example.com"   # $HEALTH_BASE_URL overrides it
    budget = 12                               # lines per CSM email, the rest "and N more"
    leader_every_days = 7

    [smtp]
    host = "smtp.example.com"
    port = 587
    username = "health-bot"
    password_env = "HEALTH_SMTP_PASSWORD"     # the password is read from this variable
    from = "Customer health <health@example.com>"
    ca_file = ""                              # optional: a private CA to trust for STARTTLS
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BASE_URL = "http://localhost:8501"
DEFAULT_BUDGET = 12
LEADER_EVERY_DAYS = 7


class DigestError(Exception):
    """Wrong settings or a failed delivery; the message says what and how to fix it."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send: host, port, login, sender; always STARTTLS."""

    host: str
    port: int
    sender: str
    username: str = ""
    password: str = ""
    ca_file: str = ""


@dataclass(frozen=True)
class Settings:
    """What the digest needs besides the database."""

    base_url: str = DEFAULT_BASE_URL
    budget: int = DEFAULT_BUDGET
    leader_every_days: int = LEADER_EVERY_DAYS
    smtp: SmtpSettings | None = None

    def account_url(self, account_id: str) -> str:
        """The link to an account's page in the app."""
        from urllib.parse import quote

        return f"{self.base_url.rstrip('/')}/account?account={quote(str(account_id), safe='')}"


def config_path(database: Path) -> Path:
    """$HEALTH_DIGEST_CONFIG, else digest.toml beside the database."""
    given = os.environ.get("HEALTH_DIGEST_CONFIG")
    return Path(given).expanduser() if given else database.parent / "digest.toml"


def load_settings(path: Path) -> Settings:
    """Read the settings file (all optional: no file means the defaults and no SMTP)."""
    raw: dict = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise DigestError(f"{path}: not valid TOML ({exc}). Fix the file.") from None
    section = raw.get("digest", {})
    base = os.environ.get("HEALTH_BASE_URL") or section.get("base_url") or DEFAULT_BASE_URL
    if not str(base).startswith(("http://", "https://")):
        raise DigestError(
            f"{path}: [digest] base_url {base!r} must start with http:// or https:// "
            "(the address people open the app at)."
        )
    budget = _positive(path, "digest", "budget", section.get("budget", DEFAULT_BUDGET))
    every = _positive(
        path, "digest", "leader_every_days", section.get("leader_every_days", LEADER_EVERY_DAYS)
    )
    return Settings(str(base), budget, every, _smtp(path, raw.get("smtp")))


def _positive(path: Path, section: str, key: str, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise DigestError(f"{path}: [{section}] {key} must be a whole number ≥ 1, not {value!r}.")
    return value


def _smtp(path: Path, raw: dict | None) -> SmtpSettings | None:
    if raw is None:
        return None
    missing = [k for k in ("host", "from") if not raw.get(k)]
    if missing:
        raise DigestError(f"{path}: [smtp] needs {' and '.join(missing)}; add them to send.")
    password = ""
    if raw.get("password_env"):
        password = os.environ.get(raw["password_env"], "")
        if not password:
            raise DigestError(
                f"{path}: [smtp] password_env names {raw['password_env']}, which is not set. "
                "Export it before `--send`."
            )
    return SmtpSettings(
        host=str(raw["host"]),
        port=_positive(path, "smtp", "port", raw.get("port", 587)),
        sender=str(raw["from"]),
        username=str(raw.get("username", "")),
        password=password,
        ca_file=str(raw.get("ca_file", "")),
    )


# --- when each reader's last digest was made ------------------------------------------------


def state_path(database: Path) -> Path:
    """The state file beside the database: <db>.digest.json."""
    return database.with_name(database.name + ".digest.json")


def read_state(path: Path) -> dict[str, dict]:
    """Reader key -> {as_of, made_at} of their last digest; empty when none was made."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise DigestError(
            f"{path}: cannot read the digest state ({exc}). Delete it to start afresh "
            "(the next digest then covers the last week)."
        ) from None


def last_as_of(state: dict[str, dict], key: str) -> dt.date | None:
    """The as-of date of a reader's last digest, if any."""
    entry = state.get(key)
    return dt.date.fromisoformat(entry["as_of"]) if entry else None


def write_state(path: Path, state: dict[str, dict]) -> None:
    """Write the state atomically: a temporary file beside it, then one rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(state, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
