"""What a lower layer may ask of an open book: its database and its one writer.

:class:`fieldrep.services.context.Context` is the full thing; code below services (``geo``) names
this protocol instead, so it can be typed without importing the layer above it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import sqlite_utils

    from fieldrep.store.writer import Writer


class OpenBook(Protocol):
    @property
    def db(self) -> sqlite_utils.Database: ...

    @property
    def writer(self) -> Writer: ...
