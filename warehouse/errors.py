"""Warehouse errors, importable without SQLAlchemy (the CLI catches them)."""
from __future__ import annotations

from jisseki.core.errors import JissekiError


class WarehouseError(JissekiError):
    """The warehouse cannot be reached or prepared; the message never shows a password."""
