"""The data folder and the database file are the service user's alone.

New files are private by the umask the settings set (``0o077``: folders 0700, files 0600);
``highseas init`` and ``serve`` also tighten what an older install left readable: the data
folder itself, the files directly in it (the secret key, the data key file, the SQLite
database with its ``-wal`` and ``-shm``) and the database files wherever they are. The
folders inside (collected static files) are left as they are.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def make_private(folder: Path, database_files: Iterable[Path] = ()) -> list[Path]:
    """Tighten the modes (see the module); returns the paths changed."""
    changed: list[Path] = []

    def tighten(path: Path, wanted: int) -> None:
        try:
            current = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            return
        if current != wanted:
            os.chmod(path, wanted)
            changed.append(path)

    if folder.is_dir():
        tighten(folder, FOLDER_MODE)
        for path in folder.iterdir():
            if path.is_file() and not path.is_symlink():
                tighten(path, FILE_MODE)
    for database in database_files:
        for suffix in SQLITE_SUFFIXES:
            tighten(database.with_name(database.name + suffix), FILE_MODE)
    return changed


def make_data_private() -> list[Path]:
    """``make_private`` for this installation's settings."""
    from django.conf import settings
    from django.db import connection

    databases = []
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"] != ":memory:":
        databases.append(Path(connection.settings_dict["NAME"]))
    return make_private(Path(settings.DATA_DIR), databases)
