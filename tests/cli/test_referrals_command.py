"""``fieldrep referrals add|list|move`` and ``fieldrep import referrals`` on a real database file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fieldrep.cli import main
from fieldrep.services.context import Context
from tests.services.referrals.conftest import org as org  # the fixture


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_add_prints_the_checks_and_the_routing_then_move_and_list(
    ctx: Context, org: dict[str, str], db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx.close()
    code, out, _ = _run(
        capsys, "referrals", "add", "--db", str(db_path), "--referrer", "Acme Tools Inc.",
        "--name", "Sam Lee", "--company", "Lone Star Plumbing", "--phone", "214 555 0199",
        "--zip", "75201", "--consent", "--json",
    )  # fmt: skip
    assert code == 0
    result = json.loads(out)
    assert result["outcome"] == "new_lead"
    assert result["route"]["owner"] == "Omar"
    short = result["referral_id"][-8:]
    code, out, err = _run(capsys, "referrals", "move", "--db", str(db_path), short, "lost")
    assert code == 1
    assert "not moved: only its owner (Omar) or a manager can move this referral" in err
    code, out, _ = _run(capsys, "referrals", "list", "--db", str(db_path), "--stage", "new")
    assert code == 0
    assert "Sam Lee (Lone Star Plumbing) -> Omar, Texas Metros due" in out


def test_add_without_consent_is_refused_saying_what_to_add(
    ctx: Context, org: dict[str, str], db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx.close()
    code, _, err = _run(
        capsys, "referrals", "add", "--db", str(db_path), "--name", "Sam", "--phone", "2145550199"
    )
    assert code == 1
    assert "add --consent once they agreed" in err


def test_import_reports_each_row_and_sends_bad_rows_to_the_errors_file(
    ctx: Context, org: dict[str, str], db_path: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    ctx.close()
    source = tmp_path / "event.csv"
    source.write_text(
        "Referrer account,Referred name,Company,Phone,Email,Address,City,State,ZIP,Notes,"
        "Captured by,Date\n"
        "Acme Tools,Sam Lee,Lone Star Plumbing,214 555 0199,,400 Elm St,Dallas,TX,75201,,omar,"
        "2026-11-02\n"
        "Acme Toolz Company,Kim Park,Park Bakery,,kim@parkbakery.com,,,,02139,,ann,2026-11-03\n"
        "ACME TOOLS INC,Sam Lee,,2145550199,,,,,75201,,bob,2026-11-04\n"
        ",Nobody,,,,,,,,,,\n",
        encoding="utf-8",
    )
    errors = tmp_path / "bad.csv"
    code, out, _ = _run(
        capsys, "import", "referrals", str(source), "--db", str(db_path), "--errors", str(errors),
        "--json",
    )  # fmt: skip
    assert code == 1
    report = json.loads(out)
    assert report["imported"] == 2
    assert report["outcomes"] == {"new_lead": 1, "already_referred": 1}
    assert report["rows"][0]["routed_to"] == "Omar"
    assert "already referred" in report["rows"][1]["message"].lower()
    reasons = {e["line"]: e["reason"] for e in report["errors"]}
    assert "did you mean 'Acme Tools Inc.'?" in reasons[3]
    assert "nobody can contact them" in reasons[5]
    assert errors.read_text(encoding="utf-8").splitlines()[0].startswith("line,column,reason")
