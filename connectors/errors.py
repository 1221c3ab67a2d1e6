"""Errors a source can end in; each message is safe to show (no secrets, no personal data)."""
from __future__ import annotations


class SourceError(Exception):
    """The source could not be collected; nothing of it lands this run."""

    transient = False


class SourceConfigError(SourceError):
    """Credentials or settings are wrong: retrying will not help."""


class SourceUnavailable(SourceError):
    """The source is down or slow; the next run may succeed."""

    transient = True


class SourceFormatError(SourceError):
    """The source answered with something that is not its contract."""
