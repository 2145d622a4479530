"""``fieldrep info``: what a database holds, and clear refusals that leave files as they were."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fieldrep.cli import main


def test_reports_rows_user_and_pending_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "demo.db"
    assert main(["demo", "--db", str(db), "--accounts", "40", "--seed", "2"]) == 0
    capsys.readouterr()
    assert main(["info", "--db", str(db), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"]["accounts"] == 40
    assert summary["user"] == "morgan"
    assert summary["pending_changes"] == sum(summary["rows"].values())
    assert main(["info", "--db", str(db)]) == 0
    text = capsys.readouterr().out
    assert "signed-in user: morgan" in text
    assert "accounts" in text


def test_a_missing_database_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "nowhere" / "x.db"
    assert main(["info", "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert err == f"fieldrep: error: there is no database at {db}\n"
    assert not db.parent.exists()


def test_a_foreign_file_is_refused_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "notes.db"
    db.write_bytes(b"shopping list: milk, eggs\n")
    assert main(["info", "--db", str(db)]) == 1
    assert "is not a FieldRep database" in capsys.readouterr().err
    assert db.read_bytes() == b"shopping list: milk, eggs\n"
