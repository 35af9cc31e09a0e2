"""Where a database's churn model lives on disk: the pipeline plus a JSON sidecar (model card)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import joblib

from health import db

MODEL_FILE = "model.joblib"
CARD_FILE = "model.json"


def folder(database: Path) -> Path:
    """models/<db file stem>/: under the repo for the repo's databases, else beside the database
    (so a throwaway database, such as the `score` command's, leaves nothing in the repo);
    $HEALTH_MODELS_DIR overrides both."""
    database = Path(database).resolve()
    if os.environ.get("HEALTH_MODELS_DIR"):
        root = Path(os.environ["HEALTH_MODELS_DIR"])
    elif database.is_relative_to(db.ROOT):
        root = db.ROOT / "models"
    else:
        root = database.parent / "models"
    return root / database.name.split(".")[0]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _replace(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save(database: Path | None, estimator, card: dict) -> dict:
    """Write the pipeline and its sidecar atomically; return the card with the file's sha256."""
    if database is None:
        return card
    target = folder(database)
    target.mkdir(parents=True, exist_ok=True)
    if estimator is not None:
        _replace(target / MODEL_FILE, lambda p: joblib.dump(estimator, p))
        card = {**card, "sha256": _sha256(target / MODEL_FILE), "file": MODEL_FILE}
    else:
        (target / MODEL_FILE).unlink(missing_ok=True)
    text = json.dumps(card, indent=2, default=str)
    _replace(target / CARD_FILE, lambda p: p.write_text(text))
    return card


def load(database: Path):
    """The saved pipeline, only when its sha256 matches the sidecar this app wrote; else None."""
    target = folder(database)
    try:
        card = json.loads((target / CARD_FILE).read_text())
    except (OSError, ValueError):
        return None
    model = target / MODEL_FILE
    if not card.get("sha256") or not model.is_file() or _sha256(model) != card["sha256"]:
        return None
    return joblib.load(model)


def read_card(con) -> dict | None:
    """The model card the last refresh stored in the database (no pickle involved)."""
    if not db.table_exists(con, "model_card"):
        return None
    rows = con.execute("select card from model_card").fetchall()
    return json.loads(rows[0][0]) if rows else None
