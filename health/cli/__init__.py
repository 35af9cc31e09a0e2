"""The command line: `python -m health demo | load | refresh | score | moments | actions |
digest | users …`, one module per concept; `main` runs it with errors told in a sentence."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from health import db

# isort: off
# Imported for the commands each registers, in the order `--help` lists them.
from health.cli import data, compute, csm, users  # noqa: F401

# isort: on
from health.cli.common import app, out, styled

__all__ = ["app", "main"]


def main() -> None:
    """Run the CLI; unexpected errors are reported in one line, not a traceback."""
    try:
        app()
    except KeyboardInterrupt:
        out.print("interrupted; nothing was changed.")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: a person sees a sentence
        where = _log_traceback(exc)
        told = f" (full report in {where}; please attach it when you report this)" if where else ""
        styled("error:", "bold red", f"{type(exc).__name__}: {exc}{told}")
        sys.exit(1)


def _log_traceback(exc: BaseException) -> Path | None:
    """Append the traceback to logs/health-errors.log beside the database; its path, or None."""
    import traceback

    try:
        path = db.db_path(_db_argument()).parent / "logs" / "health-errors.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        with path.open("a", encoding="utf-8") as log:
            log.write(f"--- {stamp}: health {' '.join(sys.argv[1:])}\n")
            log.write("".join(traceback.format_exception(exc)))
        return path
    except OSError:  # nowhere to write: the one-line error still stands
        return None


def _db_argument() -> Path | None:
    """The --db the command was given, if any."""
    args = sys.argv[1:]
    for i, arg in enumerate(args):
        if arg == "--db" and i + 1 < len(args):
            return Path(args[i + 1])
        if arg.startswith("--db="):
            return Path(arg.split("=", 1)[1])
    return None
