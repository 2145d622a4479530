"""Normalising once and filing the match index: keys, the queue the triggers fill, stepwise filing."""

from __future__ import annotations

import pytest

from fieldrep.services.context import Context
from fieldrep.services.referrals import match_index
from fieldrep.services.referrals import normalise as norm


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Acme Holdings Corp., Inc.", "acme holdings"),
        ("O'Brien & Sons GmbH", "obrien sons"),
        ("ACME S.p.A.", "acme"),
        ("Acme L.L.C.", "acme"),
        ("The Company", "company"),  # nothing but a legal form: the words stay
        ("Müller Bäckerei AG", "müller bäckerei"),
    ],
)
def test_company_keys_drop_case_punctuation_and_trailing_legal_forms(name: str, key: str) -> None:
    assert norm.company_key(name) == key


def test_the_fast_paths_file_the_same_keys_as_the_validators() -> None:
    for raw in ("(617) 555-0142", "1-617-555-0142", "617.555.0142"):
        fast = norm.phone(raw, "US", strict=False)
        strict = norm.phone(raw, "US")
        assert fast == strict
    assert norm.email("Jane.Roe@Acme.COM", strict=False) == norm.email("Jane.Roe@Acme.COM")
    assert norm.address_key("120 Main Street, Suite 4", "02139") == "120|main st|02139"
    assert norm.address_key("Main Street", "02139") is None  # no house number: too vague


def test_writes_queue_rows_and_filing_in_steps_empties_the_queue(ctx: Context) -> None:
    rows = [
        {"name": f"Firm {n} LLC", "phone": f"617-555-{n:04d}", "website": f"firm{n}.com"}
        for n in range(12)
    ]
    ids = ctx.writer.insert_many("accounts", rows)
    assert match_index.pending(ctx.conn) == 12
    steps: list[tuple[int, int | None, str]] = []
    assert match_index.file_all(ctx.writer, lambda *step: steps.append(step)) == 12
    assert match_index.pending(ctx.conn) == 0
    assert steps == [(12, 12, "Preparing duplicate checks")]
    keys = {
        k for (k,) in ctx.conn.execute("SELECT key FROM match_keys WHERE row_id = ?", (ids[3],))
    }
    assert keys == {"p:+16175550003", "d:firm3.com"}
    names = match_index.NameIndex()
    names.load(ctx.conn)
    assert names.names[names.position[("accounts", ids[3])]] == "3 firm"
    ctx.writer.delete("accounts", ids[3])  # a delete queues the row; filing drops its keys
    with ctx.writer.transaction() as conn:
        names.bring_up_to_date(conn)
    assert names.names[names.position[("accounts", ids[3])]] is None
    assert ctx.conn.execute(
        "SELECT count(*) FROM match_keys WHERE row_id = ?", (ids[3],)
    ).fetchone() == (0,)
