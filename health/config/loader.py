"""Reading a settings file: parsed once per content, refused with the file, the place, the fix."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent


class ConfigError(ValueError):
    """A settings file is missing, malformed or incomplete; the message says where and the fix."""


def path(name: str) -> Path:
    """The shipped settings file called `name` (scorecard, journey, playbooks)."""
    return CONFIG_DIR / f"{name}.toml"


def load(source: str | Path) -> dict:
    """A settings file as a dict: a shipped one by name, or any TOML file by path."""
    file = Path(source) if isinstance(source, Path) or str(source).endswith(".toml") else None
    file = file or path(str(source))
    try:
        text = file.read_text()
    except FileNotFoundError:
        raise ConfigError(
            f"{file}: no such settings file; restore it from the repository."
        ) from None
    return _parse(str(file), text)


@cache
def _parse(name: str, text: str) -> dict:
    # Keyed on the text, so an edited file is read again and an unchanged one is parsed once.
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML ({exc}); fix that line and try again.") from None
