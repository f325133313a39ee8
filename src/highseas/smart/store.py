"""Where a trained model's numbers live: a JSON file per version in the data folder
(``HIGHSEAS_DATA_DIR/models/``), its SHA-256 kept in the database and checked on every read.

JSON rather than a pickle (joblib) or skops: the model is a dictionary of labels and numbers,
so reading it back executes nothing — a file swapped in the data folder can make a wrong
model at worst, never run code — and a version can be read, diffed and audited by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from django.conf import settings

from highseas.smart.learn import WinModel
from highseas.smart.record import Record

_cache: dict[tuple[str, str], tuple[WinModel, Record]] = {}
_lock = threading.Lock()


class ArtefactMissing(Exception):
    """The file of a model version is gone or does not match its recorded SHA-256."""


def folder() -> Path:
    path = Path(settings.DATA_DIR) / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write(version: int, model: WinModel, record: Record) -> tuple[str, str]:
    """Write a version's file atomically; its name and SHA-256."""
    name = f"win-model-v{version}.json"
    body = json.dumps(
        {"version": version, "model": model.to_json(), "record": record.to_json()},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    target = folder() / name
    partial = target.with_suffix(".part")
    partial.write_bytes(body)
    os.replace(partial, target)
    return name, hashlib.sha256(body).hexdigest()


def read(name: str, sha256: str) -> tuple[WinModel, Record]:
    """A version's model and record, checked against its SHA-256 (cached per process)."""
    key = (name, sha256)
    with _lock:
        if key in _cache:
            return _cache[key]
    try:
        body = (folder() / name).read_bytes()
    except OSError as error:
        raise ArtefactMissing(name) from error
    if hashlib.sha256(body).hexdigest() != sha256:
        raise ArtefactMissing(name)
    data: dict[str, Any] = json.loads(body)
    loaded = WinModel.from_json(data["model"]), Record.from_json(data["record"])
    with _lock:
        _cache[key] = loaded
    return loaded
