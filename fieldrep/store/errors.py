"""Errors the store raises, each with one sentence a user can act on."""

from __future__ import annotations


class StoreError(Exception):
    """A database could not be opened, migrated or written; the message says why in one sentence."""


class NewerDatabaseError(StoreError):
    """The database was written by a newer FieldRep than this one."""


class ValidationError(StoreError):
    """A write was refused because a value breaks a rule; ``field`` names the culprit."""

    def __init__(self, message: str, *, table: str = "", field: str = "") -> None:
        super().__init__(message)
        self.table = table
        self.field = field
