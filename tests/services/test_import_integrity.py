"""Imports keep their promises at the edges: re-importing changes nothing whatever the names."""

from __future__ import annotations

import csv
from pathlib import Path

from fieldrep.services.account_import import import_accounts
from fieldrep.services.context import Context
from fieldrep.services.import_contacts import import_contacts


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def _state(ctx: Context) -> tuple[list[tuple[object, ...]], int]:
    rows = ctx.db.execute("SELECT * FROM accounts ORDER BY name").fetchall()
    return rows, ctx.writer.pending_count()


# -- names made only of legal-form words -------------------------------------------------------


def test_names_made_only_of_legal_form_words_are_not_imported_twice(
    ctx: Context, tmp_path: Path
) -> None:
    path = _csv(
        tmp_path / "a.csv",
        [["Company", "City"], ["The Company", "Boston"], ["Company Inc", "Denver"], ["&", "Reno"]],
    )
    assert import_accounts(ctx, path).imported == 3
    before = _state(ctx)
    again = import_accounts(ctx, path)
    assert (again.imported, again.duplicates) == (0, 3)
    assert _state(ctx) == before
    assert "possible duplicate of existing account 'The Company'" in again.errors[0].reason


def test_a_contact_is_not_put_on_an_account_whose_name_is_only_legal_form_words(
    ctx: Context, tmp_path: Path
) -> None:
    ctx.writer.insert("accounts", {"name": "The Company"})
    path = _csv(
        tmp_path / "people.csv",
        [["Name", "Company"], ["Grace Hopper", "LLC"], ["Ada Lovelace", "the company"]],
    )
    report = import_contacts(ctx, path)
    assert report.imported == 1
    assert [(e.line, e.column, e.reason) for e in report.errors] == [
        (2, "Company", "no account is named 'LLC'")
    ]
