"""UUIDv7 identifiers made on the client."""

from __future__ import annotations

import uuid

from fieldrep.domain.ids import uuid7, uuid7_many, uuid7_time_ms


def test_uuid7_has_version_variant_and_time() -> None:
    value = uuid.UUID(uuid7(now_ms=1_700_000_000_123))
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert uuid7_time_ms(str(value)) >= 1_700_000_000_123


def test_uuid7_is_strictly_increasing_within_a_millisecond() -> None:
    ids = [uuid7(now_ms=1_700_000_000_000) for _ in range(10_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_uuid7_many_continues_the_same_sequence_in_canonical_form() -> None:
    before = uuid7(now_ms=1_700_000_000_500)
    batch = uuid7_many(5000, now_ms=1_700_000_000_500)  # more than the 12-bit counter holds
    after = uuid7()
    ids = [before, *batch, after]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    for value in batch[:50]:
        parsed = uuid.UUID(value)
        assert str(parsed) == value
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
    assert uuid7_time_ms(batch[-1]) > uuid7_time_ms(batch[0])  # the counter rolled over
