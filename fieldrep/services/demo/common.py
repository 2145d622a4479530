"""What the parts of the demo data generator share: seeded randomness, deterministic ids, time.

Every part draws from its own ``random.Random`` seeded from the demo seed and the part's name, so the
same seed and the same ``today`` give identical rows, and a change to how visits are made does not
reshuffle the accounts. Ids are UUIDv7-shaped (sortable, the shape sync expects) but come from a seeded
generator and a base time derived from ``today`` instead of the clock and ``os.urandom``.
"""

from __future__ import annotations

import random
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

T = TypeVar("T")


def iso(moment: datetime) -> str:
    """The store's timestamp text (UTC, milliseconds, ``Z``) for a naive UTC datetime."""
    return moment.isoformat(timespec="milliseconds") + "Z"


class SeededIds:
    """UUIDv7-shaped ids from a seeded generator: a fixed base time plus a counter, random bits."""

    def __init__(self, seed: int, base: datetime) -> None:
        self._rng = random.Random(f"fieldrep-demo-ids-{seed}")
        self._ms = int(base.replace(tzinfo=UTC).timestamp() * 1000)

    def next(self) -> str:
        # One millisecond per id keeps them strictly increasing, like a real uuid7() stream.
        self._ms += 1
        bits = self._rng.getrandbits(74)  # rand_a (12 bits) and rand_b (62 bits)
        value = (
            (self._ms & 0xFFFFFFFFFFFF) << 80
            | 0x7 << 76
            | (bits >> 62) << 64
            | 0b10 << 62
            | (bits & 0x3FFFFFFFFFFFFFFF)
        )
        h = f"{value:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def many(self, n: int) -> list[str]:
        return [self.next() for _ in range(n)]


@dataclass
class DemoClock:
    """The demo's notion of "now": the end of the working day of ``today``, or ``latest`` (the
    real time, naive UTC) when that comes first: a demo built in the morning has no visit later
    that day."""

    today: date
    latest: datetime | None = None
    now: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.now = datetime.combine(self.today, time(17, 30))
        if self.latest is not None:
            self.now = min(self.now, self.latest)

    def days_ago(self, days: float) -> datetime:
        return self.now - timedelta(days=days)

    def working_moment(self, rng: random.Random, days_back: int, min_days: int = 0) -> datetime:
        """A weekday moment between 8:00 and 17:00 within the last ``days_back`` days."""
        while True:
            day = self.today - timedelta(days=rng.randint(min_days, days_back))
            if day.weekday() >= 5:
                continue
            last = 17 * 60 - 1
            if day == self.now.date():
                last = min(last, self.now.hour * 60 + self.now.minute - 1)
            if last >= 8 * 60:
                break
        minutes = rng.randint(8 * 60, last)
        return datetime.combine(day, time(minutes // 60, minutes % 60))


def part_rng(seed: int, part: str) -> random.Random:
    """An independent, reproducible random stream for one part of the demo (str seeds are stable)."""
    return random.Random(f"fieldrep-demo-{seed}-{part}")


_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    return _NOT_ALNUM.sub("", text.lower())


def phone(rng: random.Random) -> str:
    # 555-0100..0199 is reserved for fiction; the area code varies so lists do not look cloned.
    n = 20100 + int(rng.random() * 78900)
    return f"+1 {n // 100} 555-01{n % 100:02d}"


def weighted_index(rng: random.Random, cum_weights: Sequence[float]) -> int:
    """Index drawn with the given cumulative weights (bisect, O(log n))."""
    return min(bisect_right(cum_weights, rng.random() * cum_weights[-1]), len(cum_weights) - 1)


def pick(rng: random.Random, items: Sequence[T]) -> T:
    """``rng.choice`` without its per-call overhead (millions of calls for a big demo)."""
    return items[int(rng.random() * len(items))]


def pick_weighted(rng: random.Random, items: Sequence[T], cum_weights: Sequence[float]) -> T:
    """One item drawn with precomputed cumulative weights."""
    return items[weighted_index(rng, cum_weights)]
