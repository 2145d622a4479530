"""Hybrid logical clock (Kulkarni et al., 2014) for per-field last-writer-wins merge.

A timestamp packs wall-clock milliseconds and a 16-bit logical counter into one integer. Field clocks
are stored as the string ``"<16 hex digits>@<device id>"`` so that ordinary string comparison orders
them by (timestamp, device id), the tie-break DESIGN.md asks for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

COUNTER_BITS = 16
COUNTER_MAX = (1 << COUNTER_BITS) - 1
# A remote clock further ahead than this is refused rather than dragging our clock into the future.
MAX_DRIFT_MS = 24 * 3600 * 1000


class ClockDriftError(ValueError):
    """A remote timestamp is implausibly far ahead of the local wall clock."""


def pack(wall_ms: int, counter: int) -> int:
    return (wall_ms << COUNTER_BITS) | counter


def unpack(ts: int) -> tuple[int, int]:
    return ts >> COUNTER_BITS, ts & COUNTER_MAX


def format_clock(ts: int, device_id: str) -> str:
    return f"{ts:016x}@{device_id}"


def parse_clock(clock: str) -> tuple[int, str]:
    ts_hex, _, device = clock.partition("@")
    if len(ts_hex) != 16 or not device:
        raise ValueError(f"not a field clock: {clock!r}")
    return int(ts_hex, 16), device


@dataclass
class HybridLogicalClock:
    """A thread-safe HLC for one device. ``last`` can be persisted and restored across runs."""

    device_id: str
    last: int = 0
    wall_ms: Callable[[], int] = lambda: int(time.time() * 1000)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def now(self) -> int:
        """A timestamp greater than every timestamp this clock has issued or observed."""
        with self._lock:
            wall = self.wall_ms()
            last_wall, counter = unpack(self.last)
            if wall > last_wall:
                self.last = pack(wall, 0)
            elif counter < COUNTER_MAX:
                self.last = pack(last_wall, counter + 1)
            else:
                self.last = pack(last_wall + 1, 0)
            return self.last

    def observe(self, remote: int) -> int:
        """Merge a timestamp received from another device; returns the new local timestamp."""
        with self._lock:
            wall = self.wall_ms()
            remote_wall, remote_counter = unpack(remote)
            if remote_wall - wall > MAX_DRIFT_MS:
                raise ClockDriftError(
                    f"remote clock is {(remote_wall - wall) / 3_600_000:.1f} h ahead of this device"
                )
            last_wall, last_counter = unpack(self.last)
            new_wall = max(wall, last_wall, remote_wall)
            if new_wall == last_wall == remote_wall:
                counter = max(last_counter, remote_counter) + 1
            elif new_wall == last_wall:
                counter = last_counter + 1
            elif new_wall == remote_wall:
                counter = remote_counter + 1
            else:
                counter = 0
            if counter > COUNTER_MAX:
                new_wall, counter = new_wall + 1, 0
            self.last = pack(new_wall, counter)
            return self.last

    def catch_up(self, persisted: int) -> None:
        """Never issue below ``persisted``: a clock another connection of this device committed."""
        with self._lock:
            self.last = max(self.last, persisted)

    def stamp(self) -> str:
        """A fresh field clock string for this device."""
        return format_clock(self.now(), self.device_id)
