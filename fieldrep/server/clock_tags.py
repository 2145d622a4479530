"""Opaque per-device tags in field clocks: no user learns another user's device id from a pull.

A laptop stamps its field clocks ``"<hlc hex>@<device id>"``. The server keeps and sends them as
``"<hlc hex>@<tag>"`` instead, where the tag is an HMAC of the device id under a secret of the
server database (``server_secrets``): stable, the same for every server process on that database,
and useless for signing in (a device id with a stolen tag gets nothing; signing in with another
user's device id is refused anyway). Every clock of a push is mapped at the door, so merges on
the server compare tags only, and a laptop, told its own tag at sign-in, compares its pending
clocks under that same tag (:func:`fieldrep.sync.local_apply.pending_fields`): the tie-break on
(time, device) is the same on both sides.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fieldrep.server.storage import Tx

SECRET_NAME = "clock_tag"
# Rows the server itself writes (``fieldrep server user add``, imports) carry this device: it is
# no laptop's, so it stays as it is.
SERVER_DEVICE = "server"


def new_secret() -> str:
    return secrets.token_hex(32)


def load_secret(tx: Tx) -> bytes:
    row = tx.one("SELECT value FROM server_secrets WHERE name = ?", (SECRET_NAME,))
    if row is None:  # pragma: no cover - the v4 migration writes it
        raise RuntimeError("the server database has no clock-tag secret; run its migrations")
    return bytes.fromhex(str(row[0]))


def device_tag(secret: bytes, device_id: str) -> str:
    """The tag that stands for ``device_id`` in clocks (21 characters, a valid clock device)."""
    digest = hmac.new(secret, device_id.encode(), hashlib.sha256).hexdigest()
    return "t" + digest[:20]


def tag_clock(secret: bytes, clock: str) -> str:
    stamp, _, device = clock.partition("@")
    return f"{stamp}@{device_tag(secret, device)}"


def tag_clocks(secret: bytes, clocks: Mapping[str, str]) -> dict[str, str]:
    """Every clock of a pushed mutation under its device's tag, whatever device it names: a
    client cannot choose the tag its clocks end up with."""
    return {name: tag_clock(secret, clock) for name, clock in clocks.items()}
