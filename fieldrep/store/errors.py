"""Errors the store raises, each with one sentence a user can act on.

The family is defined in ``fieldrep.domain.errors`` so that domain rules can raise a
``ValidationError`` without importing the store; ``StoreError`` names the same base, so every
``except StoreError`` catches both.
"""

from __future__ import annotations

from fieldrep.domain.errors import FieldRepError, ValidationError

StoreError = FieldRepError


class NewerDatabaseError(FieldRepError):
    """The database was written by a newer FieldRep than this one."""


__all__ = ["NewerDatabaseError", "StoreError", "ValidationError"]
