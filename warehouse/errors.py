"""Warehouse errors, importable without SQLAlchemy (the CLI catches them)."""
from __future__ import annotations


class WarehouseError(Exception):
    """The warehouse cannot be reached or prepared; the message never shows a password."""
