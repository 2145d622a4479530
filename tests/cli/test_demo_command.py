"""``fieldrep demo``: exit codes, the --json summary and refusing a database that has data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fieldrep.cli import main
from fieldrep.services.context import Context


def test_builds_a_demo_and_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "demo.db"
    code = main(
        [
            "demo",
            "--db",
            str(db),
            "--accounts",
            "60",
            "--seed",
            "3",
            "--today",
            "2025-03-14",
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["seed"] == 3
    assert summary["db"] == str(db)
    assert summary["rows"]["accounts"] == 60
    ctx = Context.open(db)
    try:
        assert ctx.db.execute("SELECT count(*) FROM accounts").fetchone()[0] == 60
        assert ctx.db.execute("SELECT count(*) FROM outbox").fetchone()[0] == sum(
            summary["rows"].values()
        )
    finally:
        ctx.close()


def test_human_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--db", str(tmp_path / "d.db"), "--accounts", "20"]) == 0
    out = capsys.readouterr().out
    assert "accounts" in out
    assert "referrals" in out


@pytest.mark.parametrize("count", ["0", "-5", "200001"])
def test_bad_account_count_is_bad_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], count: str
) -> None:
    db = tmp_path / "bad.db"
    assert main(["demo", "--db", str(db), "--accounts", count]) == 2
    err = capsys.readouterr().err
    assert "--accounts must be between 1 and 200000" in err
    assert err.count("\n") == 1


def test_bad_today_is_bad_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--db", str(tmp_path / "x.db"), "--today", "14/03/2025"])
    assert exc.value.code == 2
    assert "is not a date" in capsys.readouterr().err


def test_refuses_a_database_with_accounts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "full.db"
    assert main(["demo", "--db", str(db), "--accounts", "10", "--json"]) == 0
    capsys.readouterr()
    assert main(["demo", "--db", str(db), "--accounts", "10"]) == 1
    err = capsys.readouterr().err
    assert "already holds accounts" in err
    ctx = Context.open(db)
    try:
        assert ctx.db.execute("SELECT count(*) FROM accounts").fetchone()[0] == 10
    finally:
        ctx.close()


def test_refuses_a_database_with_other_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "users.db"
    ctx = Context.open(db)
    ctx.writer.insert("users", {"username": "kim", "role": "rep"})
    ctx.close()
    assert main(["demo", "--db", str(db), "--accounts", "10"]) == 1
    err = capsys.readouterr().err
    assert "already holds users" in err
    assert "nothing was written" in err
