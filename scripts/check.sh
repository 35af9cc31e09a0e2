#!/usr/bin/env bash
# One command to check everything: set up (venv, requirements, Chromium), lint, format, tests.
# Usage: bash scripts/check.sh [pytest args…]
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# uv installs the locked set (requirements.lock, compiled from requirements.txt: every package
# pinned, the ones pulled in too) in ~20 s instead of ~70 s; bytecode compiled up front
# because these machines set PYTHONDONTWRITEBYTECODE.
.venv/bin/python -m pip install -q --disable-pip-version-check uv==0.13.8
.venv/bin/uv pip install -q --python .venv/bin/python --compile-bytecode -r requirements.lock
# The Spark event layer's tests run here too (never skipped): pyspark and SQLGlot have their own
# files (requirements-spark.txt, locked in requirements-spark.lock) so the app's install stays
# fast (pyspark is a ~450 MB sdist, ~2.5 min on a cold cache).
.venv/bin/uv pip install -q --python .venv/bin/python --compile-bytecode -r requirements-spark.lock
if ! command -v java >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  else
    echo "Java 17 is needed for the Spark tests: sudo apt-get install openjdk-17-jre-headless" >&2
    exit 1
  fi
fi

# The browser tests drive Debian's Chromium; install it when missing (never skip them).
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is needed for the browser tests: sudo apt-get install chromium" >&2
    exit 1
  fi
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
# Two workers (pytest-xdist): the suite is CPU-bound and CI has two cores; loadscope keeps a
# module on one worker, so its module-scoped fixtures are built once (the default mode split the
# zoo across both workers and each built its 48-s fixture).
.venv/bin/python -m pytest -n "${PYTEST_WORKERS:-2}" --dist loadscope "$@"
