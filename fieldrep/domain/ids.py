"""Client-made primary keys: UUID version 7 (RFC 9562), time-ordered so inserts stay local in B-trees."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_last_rand_a = 0


def uuid7(now_ms: int | None = None) -> str:
    """Return a new UUIDv7 as its canonical 36-character string.

    Within one millisecond the 12-bit ``rand_a`` field is used as a counter (RFC 9562 method 1), so ids
    made by one process are strictly increasing.
    """
    global _last_ms, _last_rand_a
    with _lock:
        ms = int(time.time() * 1000) if now_ms is None else now_ms
        if ms <= _last_ms:
            ms = _last_ms
            _last_rand_a += 1
            if _last_rand_a > 0xFFF:
                ms += 1
                _last_rand_a = int.from_bytes(os.urandom(2), "big") & 0x7FF
        else:
            _last_rand_a = int.from_bytes(os.urandom(2), "big") & 0x7FF
        _last_ms = ms
        rand_a = _last_rand_a
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= rand_a << 64
    value |= 0b10 << 62
    value |= rand_b
    return str(uuid.UUID(int=value))


def uuid7_time_ms(value: str) -> int:
    """The Unix time in milliseconds embedded in a UUIDv7."""
    return uuid.UUID(value).int >> 80


def new_device_id() -> str:
    """A random, stable-once-stored identifier for one installation of the app."""
    return uuid.uuid4().hex[:16]
