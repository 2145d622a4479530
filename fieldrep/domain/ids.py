"""Client-made primary keys: UUID version 7 (RFC 9562), time-ordered so inserts stay local in B-trees."""

from __future__ import annotations

import os
import threading
import time

_lock = threading.Lock()
_last_ms = 0
_last_rand_a = 0
_MS_MASK = (1 << 48) - 1
_RAND_B_MASK = (1 << 62) - 1
_VERSION_BITS = 0x7 << 76
_VARIANT_BITS = 0b10 << 62


def uuid7(now_ms: int | None = None) -> str:
    """Return a new UUIDv7 as its canonical 36-character string.

    Within one millisecond the 12-bit ``rand_a`` field is used as a counter (RFC 9562 method 1), so ids
    made by one process are strictly increasing.
    """
    return uuid7_many(1, now_ms)[0]


def uuid7_many(count: int, now_ms: int | None = None) -> list[str]:
    """``count`` new UUIDv7 strings, strictly increasing, with one call for their random bits
    (a bulk import makes 100,000 at once)."""
    global _last_ms, _last_rand_a
    stamps: list[tuple[int, int]] = []
    with _lock:
        ms = int(time.time() * 1000) if now_ms is None else now_ms
        for _ in range(count):
            if ms <= _last_ms:
                ms = _last_ms
                _last_rand_a += 1
                if _last_rand_a > 0xFFF:
                    ms += 1
                    _last_rand_a = int.from_bytes(os.urandom(2), "big") & 0x7FF
            else:
                _last_rand_a = int.from_bytes(os.urandom(2), "big") & 0x7FF
            _last_ms = ms
            stamps.append((ms, _last_rand_a))
    noise = os.urandom(8 * count)
    out: list[str] = []
    for i, (ms, rand_a) in enumerate(stamps):
        rand_b = int.from_bytes(noise[8 * i : 8 * i + 8], "big") & _RAND_B_MASK
        value = ((ms & _MS_MASK) << 80) | _VERSION_BITS | (rand_a << 64) | _VARIANT_BITS | rand_b
        h = f"{value:032x}"
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


def uuid7_time_ms(value: str) -> int:
    """The Unix time in milliseconds embedded in a UUIDv7."""
    return int(value.replace("-", "")[:12], 16)


def new_device_id() -> str:
    """A random, stable-once-stored identifier for one installation of the app."""
    return os.urandom(8).hex()  # what uuid4().hex[:16] gave, without importing uuid at start-up
