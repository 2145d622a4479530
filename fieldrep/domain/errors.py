"""Errors with one sentence a user can act on, shared by every layer."""

from __future__ import annotations


class FieldRepError(Exception):
    """Something the user asked for could not be done; the message says why in one sentence."""


class ValidationError(FieldRepError):
    """A write was refused because a value breaks a rule; ``field`` names the culprit."""

    def __init__(self, message: str, *, table: str = "", field: str = "") -> None:
        super().__init__(message)
        self.table = table
        self.field = field


class Cancelled(Exception):
    """The user asked to stop, and the work stopped; the message says what was kept.

    The one cancellation type for every layer: the desktop's task runner, the import, the export,
    online geocoding and sync raise it (export and sync through a subclass that also belongs to
    their own error family), so a caller that only needs "was it cancelled?" catches this.
    It is not a :class:`FieldRepError`: stopping on request is not a failure to report."""
