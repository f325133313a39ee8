"""gunicorn's worker as the production server's hooks read it (``config.production``)."""

from __future__ import annotations

import logging
import types
from typing import Any


def worker() -> Any:
    """What the hook reads of gunicorn's worker: its logger."""
    return types.SimpleNamespace(log=logging.getLogger("gunicorn.error"))
