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
