"""`python -m health …`: the command line."""

import atexit
import os
import sys
import threading

from health.cli import main


def _exit_code(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # as Python prints a SystemExit's message
    return 1


def _finish(code: int) -> None:
    """End the process once the command is done: what it wrote flushed and the exit handlers
    run, but not Python's teardown, which collects garbage over every object still alive (half
    a CPU second once scikit-learn, SciPy and pandas are imported, as a refresh does). The
    command has closed its files and databases by then; with a thread of its own still running,
    the usual exit waits for it instead."""
    if any(not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


try:
    main()
except SystemExit as exc:
    _finish(_exit_code(exc.code))
_finish(0)
