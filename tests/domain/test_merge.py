"""The merge rule's algebra (Hypothesis): any delivery order, duplicates included, gives one outcome."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fieldrep.domain.hlc import format_clock
from fieldrep.domain.merge import (
    FieldLoss,
    RowState,
    Write,
    apply_write,
    lost_to_delete,
    merge_fields,
)

FIELDS = ["name", "city", "phone", "updated_at"]
UNLOGGED = frozenset({"updated_at"})
DEVICES = ["dev-a", "dev-b", "dev-c"]

clocks = st.builds(format_clock, st.integers(min_value=1, max_value=40), st.sampled_from(DEVICES))


@st.composite
def field_writes(draw: st.DrawFn) -> Write:
    names = draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True))
    # Clocks are unique per (field, clock) across a history in real life: one device never stamps
    # two different values with the same clock. Encode the value in the clock to keep that true.
    stamps = {n: draw(clocks) for n in names}
    values = {n: f"{n}:{stamps[n]}" for n in names}
    return Write(values=values, clocks=stamps)


deletes = st.builds(lambda c: Write(delete_clock=c), clocks)
writes = st.one_of(field_writes(), field_writes(), field_writes(), deletes)


def fold(history: list[Write]) -> tuple[RowState, list[FieldLoss]]:
    state, lost = RowState(), []
    for w in history:
        state, more = apply_write(state, w, unlogged=UNLOGGED)
        lost.extend(more)
    return state, lost


def outcome(state: RowState) -> tuple[Any, ...]:
    if state.deleted_clock is not None:
        # Once deleted, only the fact of the delete matters to every reader.
        return ("deleted",)
    return ("live", sorted(state.values.items()), sorted(state.clocks.items()))


@given(st.lists(writes, max_size=8), st.randoms())
def test_any_delivery_order_gives_the_same_row(history: list[Write], rnd: Any) -> None:
    shuffled = list(history)
    rnd.shuffle(shuffled)
    assert outcome(fold(history)[0]) == outcome(fold(shuffled)[0])


@given(st.lists(writes, max_size=8), st.randoms())
def test_redelivery_changes_nothing(history: list[Write], rnd: Any) -> None:
    replayed = history + [rnd.choice(history) for _ in history]
    rnd.shuffle(replayed)
    assert outcome(fold(history)[0]) == outcome(fold(replayed)[0])


@given(st.lists(writes, max_size=8))
def test_each_field_keeps_its_largest_clock(history: list[Write]) -> None:
    state, _ = fold(history)
    if any(w.delete_clock is not None for w in history):
        assert state.deleted_clock == max(w.delete_clock for w in history if w.delete_clock)
        return
    for name in FIELDS:
        stamps = [w.clocks[name] for w in history if name in w.clocks]
        if stamps:
            assert state.clocks[name] == max(stamps)
            assert state.values[name] == f"{name}:{max(stamps)}"
        else:
            assert name not in state.values


@given(st.lists(writes, max_size=8), st.randoms())
def test_nothing_written_vanishes_without_a_trace(history: list[Write], rnd: Any) -> None:
    """Every value written is in the final row, lost to a delete, or beaten by a larger clock
    (logged when it arrived second); a value that arrives after its winner is always logged."""
    shuffled = list(history)
    rnd.shuffle(shuffled)
    state = RowState()
    for w in shuffled:
        before = state
        state, lost = apply_write(state, w, unlogged=UNLOGGED)
        if w.delete_clock is not None:
            continue
        for name, value in w.values.items():
            if name in UNLOGGED:
                continue
            clock = w.clocks[name]
            kept = state.deleted_clock is None and state.values.get(name) == value
            logged = any(x.field == name and x.lost_value == value for x in lost)
            beaten_late = before.deleted_clock is None and (before.clocks.get(name) or "") > clock
            if before.deleted_clock is not None or beaten_late:
                assert logged, (name, value)
            else:
                assert kept


def test_a_newer_value_wins_and_the_older_arrival_is_logged() -> None:
    old, new = format_clock(1, "dev-a"), format_clock(2, "dev-b")
    merged = merge_fields({"name": "Acme"}, {"name": new}, {"name": "ACME Inc"}, {"name": old})
    assert merged.values == {"name": "Acme"}
    assert merged.changed == []
    assert merged.lost == [FieldLoss("name", "Acme", new, "ACME Inc", old)]


def test_the_server_logs_an_overwritten_value_its_writer_had_not_seen() -> None:
    old, new = format_clock(1, "dev-a"), format_clock(2, "dev-b")
    merged = merge_fields(
        {"name": "Acme"},
        {"name": old},
        {"name": "ACME Inc"},
        {"name": new},
        log_overwrite=lambda _name, _clock: True,
    )
    assert merged.values == {"name": "ACME Inc"}
    assert merged.changed == ["name"]
    assert merged.lost == [FieldLoss("name", "ACME Inc", new, "Acme", old)]


def test_bookkeeping_fields_merge_but_are_never_logged() -> None:
    old, new = format_clock(1, "dev-a"), format_clock(2, "dev-b")
    merged = merge_fields(
        {"updated_at": "b"},
        {"updated_at": new},
        {"updated_at": "a"},
        {"updated_at": old},
        unlogged=UNLOGGED,
    )
    assert merged.lost == []
    assert lost_to_delete({"updated_at": "x"}, {"updated_at": old}, new, unlogged=UNLOGGED) == []


def test_a_re_create_after_a_delete_is_kept_in_the_log_not_resurrected() -> None:
    c1, c2, c3 = (format_clock(i, "dev-a") for i in (1, 2, 3))
    state, _ = apply_write(RowState(), Write({"name": "Acme"}, {"name": c1}))
    state, _ = apply_write(state, Write(delete_clock=c2))
    state, lost = apply_write(state, Write({"name": "Acme again"}, {"name": c3}))
    assert state.deleted_clock == c2
    assert lost == [FieldLoss("name", None, c2, "Acme again", c3)]
