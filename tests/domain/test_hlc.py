"""Hybrid logical clock properties (Hypothesis) and field-clock encoding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldrep.domain.hlc import (
    COUNTER_MAX,
    ClockDriftError,
    HybridLogicalClock,
    format_clock,
    pack,
    parse_clock,
    unpack,
)

WALL = st.integers(min_value=1_600_000_000_000, max_value=1_900_000_000_000)


class FakeWall:
    """A wall clock the test moves by hand, including backwards (NTP corrections)."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@given(st.lists(st.integers(min_value=-5_000, max_value=5_000), min_size=1, max_size=200), WALL)
def test_now_is_strictly_monotonic_even_when_wall_clock_goes_back(
    steps: list[int], start: int
) -> None:
    wall = FakeWall(start)
    clock = HybridLogicalClock("dev", wall_ms=wall)
    previous = 0
    for step in steps:
        wall.now += step
        ts = clock.now()
        assert ts > previous
        previous = ts


@given(st.lists(st.tuples(st.booleans(), WALL, st.integers(0, COUNTER_MAX)), max_size=100), WALL)
def test_observe_exceeds_everything_seen(events: list[tuple[bool, int, int]], start: int) -> None:
    wall = FakeWall(start)
    clock = HybridLogicalClock("dev", wall_ms=wall)
    seen = 0
    for is_remote, remote_wall, counter in events:
        if is_remote:
            remote = pack(min(remote_wall, wall.now + 3_600_000), counter)
            ts = clock.observe(remote)
            assert ts > remote
        else:
            ts = clock.now()
        assert ts > seen
        seen = max(seen, ts)
        wall.now += 1


@given(WALL, st.integers(0, COUNTER_MAX))
def test_pack_roundtrip(wall: int, counter: int) -> None:
    assert unpack(pack(wall, counter)) == (wall, counter)


@given(
    WALL,
    st.integers(0, COUNTER_MAX),
    WALL,
    st.integers(0, COUNTER_MAX),
    st.sampled_from(["a1", "b2", "ffff"]),
    st.sampled_from(["a1", "b2", "ffff"]),
)
def test_clock_strings_order_like_timestamp_then_device(
    w1: int, c1: int, w2: int, c2: int, d1: str, d2: str
) -> None:
    s1, s2 = format_clock(pack(w1, c1), d1), format_clock(pack(w2, c2), d2)
    assert (s1 < s2) == ((pack(w1, c1), d1) < (pack(w2, c2), d2))
    assert parse_clock(s1) == (pack(w1, c1), d1)


def test_counter_overflow_moves_to_next_millisecond() -> None:
    wall = FakeWall(1_700_000_000_000)
    clock = HybridLogicalClock("dev", wall_ms=wall)
    stamps = [clock.now() for _ in range(COUNTER_MAX + 3)]
    assert stamps == sorted(set(stamps))
    assert unpack(stamps[-1])[0] == wall.now + 1


def test_hours_of_skew_are_absorbed_but_days_are_refused() -> None:
    wall = FakeWall(1_700_000_000_000)
    clock = HybridLogicalClock("dev", wall_ms=wall)
    ahead = pack(wall.now + 5 * 3_600_000, 0)  # a laptop five hours fast
    assert clock.observe(ahead) > ahead
    assert clock.now() > ahead
    with pytest.raises(ClockDriftError, match="ahead"):
        clock.observe(pack(wall.now + 3 * 24 * 3_600_000, 0))


def test_parse_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not a field clock"):
        parse_clock("12@")
