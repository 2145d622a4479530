"""``fieldrep import`` / ``fieldrep export`` through the real CLI entry point."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import openpyxl
import pytest

from fieldrep.cli import main

ROWS = (
    "Company,ZIP,City,State,Phone\nAcme Tools,02139,Cambridge,MA,617-555-0100\n"
    "Bayside,,Denver,CO,\nLost Ltd,,Atlantis,ZZ,\n"
)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_accounts_text_json_and_reimport(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "accounts.csv"
    src.write_text(ROWS, encoding="utf-8")
    db = str(tmp_path / "f.db")
    code, out, err = _run(capsys, "import", "accounts", str(src), "--db", db)
    assert (code, err) == (0, f"fieldrep: created a new database at {db}\n")
    assert "Imported 3 of 3 rows from accounts.csv" in out
    assert "1 by city, 1 by postal code" in out
    assert "in a territory: 0; 3 match no territory" in out
    assert "line 4: Lost Ltd - Atlantis, ZZ (US)" in out

    code, out, _ = _run(
        capsys,
        "import",
        "accounts",
        str(src),
        "--db",
        db,
        "--json",
        "--errors",
        str(tmp_path / "dups.csv"),
    )
    summary = json.loads(out)
    assert code == 0  # duplicates only: a re-import is not a failure
    assert (summary["imported"], summary["duplicates"]) == (0, 3)
    assert summary["errors_file"] == str(tmp_path / "dups.csv")
    assert (tmp_path / "dups.csv").exists()


def test_row_errors_make_exit_1_and_default_errors_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "mixed.csv"
    src.write_text("Name,Latitude,Longitude\nGood,1,2\nBad,123,2\n", encoding="utf-8")
    code, out, _ = _run(capsys, "import", "accounts", str(src), "--db", str(tmp_path / "f.db"))
    assert code == 1
    assert "line 3, Latitude: latitude 123 is outside -90..90" in out
    assert (tmp_path / "mixed.errors.csv").exists()

    # Fixed and imported into a fresh database: no row fails, so the old errors file goes.
    src.write_text("Name,Latitude,Longitude\nGood,1,2\nBad,12.3,2\n", encoding="utf-8")
    code, out, _ = _run(capsys, "import", "accounts", str(src), "--db", str(tmp_path / "g.db"))
    assert code == 0
    assert not (tmp_path / "mixed.errors.csv").exists()
    assert "mixed.errors.csv, left by an earlier import, was removed" in out


def test_a_file_where_most_rows_fail_keeps_only_the_first_problems_but_counts_them_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory stays bounded when every row fails (a re-import of a big file): the report keeps the
    first problems and unplaced accounts, counts all of them, and the errors file has every row."""
    from fieldrep.services.imports import passes as import_pass

    monkeypatch.setattr(import_pass, "KEPT_IN_REPORT", 4)
    src = tmp_path / "big.csv"
    lines = ["Name,Latitude,City,State"]
    lines += [f"Shop {n},123,Atlantis,ZZ" for n in range(30)]  # a bad latitude: 30 failing rows
    lines += [f"Lost {n},,Atlantis,ZZ" for n in range(25)]  # imported, placed nowhere: 25
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = str(tmp_path / "f.db")
    code, out, _ = _run(capsys, "import", "accounts", str(src), "--db", db, "--json")
    summary = json.loads(out)
    assert code == 1
    assert (summary["failed_rows"], summary["errors_total"], len(summary["errors"])) == (30, 30, 4)
    assert (summary["unplaced_total"], len(summary["unplaced"])) == (25, 4)
    assert [e["line"] for e in summary["errors"]] == [2, 3, 4, 5]
    with (tmp_path / "big.errors.csv").open(encoding="utf-8-sig", newline="") as fh:
        assert len(list(csv.reader(fh))) == 1 + 30

    code, out, _ = _run(capsys, "import", "accounts", str(src), "--db", db)
    # Now the 25 are duplicates too: 55 problems, 4 kept, 10 shown and the rest counted.
    assert "not imported: 55 rows (25 possible duplicates)" in out
    assert "... and 45 more" in out

    code, out, _ = _run(capsys, "import", "accounts", str(src), "--db", str(tmp_path / "g.db"))
    assert "25 accounts imported without a location" in out
    assert "... and 15 more (`fieldrep geocode unplaced` lists every account" in out


@pytest.mark.parametrize("kind", ["accounts", "contacts"])
def test_an_errors_path_that_cannot_be_used_is_refused_before_anything_is_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    src = tmp_path / "mixed.csv"
    text = "Name,Latitude,Account\nGood,1,Acme\nBad,123,Acme\n"
    src.write_text(text, encoding="utf-8")
    db = tmp_path / "f.db"
    (tmp_path / "sub").mkdir()
    for errors, why in (
        (src, "is the file being imported; choose another path"),
        (tmp_path / "sub" / ".." / "mixed.csv", "is the file being imported"),
        (tmp_path / "missing" / "e.csv", f"folder {tmp_path / 'missing'} does not exist"),
        (tmp_path, "it is a folder"),
    ):
        code, out, err = _run(
            capsys, "import", kind, str(src), "--db", str(db), "--errors", str(errors)
        )
        assert (code, out) == (1, "")
        assert why in err
        assert err.endswith("nothing was imported\n")
        assert src.read_text(encoding="utf-8") == text  # the user's file is untouched
    code, out, _ = _run(capsys, "info", "--db", str(db), "--json")
    assert json.loads(out)["rows"]["accounts"] == 0


def test_a_file_of_the_users_at_the_errors_path_is_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "clean.csv"
    src.write_text("Name\nGood\n", encoding="utf-8")
    mine = tmp_path / "clean.errors.csv"
    mine.write_text("my own notes\n", encoding="utf-8")
    code, _, _ = _run(capsys, "import", "accounts", str(src), "--db", str(tmp_path / "f.db"))
    assert code == 0
    assert mine.read_text(encoding="utf-8") == "my own notes\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty.csv is empty; nothing was imported"),
        ("City\nBoston\n", "no column for the account name"),
    ],
)
def test_whole_file_errors_are_one_sentence_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    src = tmp_path / "empty.csv"
    src.write_text(content)
    code, out, err = _run(capsys, "import", "accounts", str(src), "--db", str(tmp_path / "f.db"))
    assert code == 1
    assert out == ""
    assert err.startswith("fieldrep: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(
        capsys, "import", "accounts", str(tmp_path / "nope.csv"), "--db", str(tmp_path / "f.db")
    )
    assert code == 1
    assert "nope.csv does not exist" in err


def test_import_contacts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "f.db")
    accounts = tmp_path / "a.csv"
    accounts.write_text(ROWS)
    _run(capsys, "import", "accounts", str(accounts), "--db", db)
    contacts = tmp_path / "c.csv"
    contacts.write_text(
        "Company,Name,Email\nAcme Tools,Jane Q Doe,jane@acme.com\n"
        "Nobody Corp,Bob,\nAcme Tools,Jane Q Doe,\n"
    )
    code, out, _ = _run(capsys, "import", "contacts", str(contacts), "--db", db, "--json")
    summary = json.loads(out)
    assert code == 1
    assert summary["imported"] == 1
    reasons = [e["reason"] for e in summary["errors"]]
    assert reasons == [
        "no account is named 'Nobody Corp'",
        "this contact is already on the account",
    ]
    code, out, _ = _run(
        capsys, "export", "accounts", str(tmp_path / "o.csv"), "--db", db, "--search", "doe"
    )
    assert "Exported 1 accounts" in out


def test_export_csv_and_xlsx_with_filters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "f.db")
    src = tmp_path / "a.csv"
    src.write_text(ROWS + '=HYPERLINK("x"),,,,\n')
    _run(capsys, "import", "accounts", str(src), "--db", db)
    code, out, _ = _run(
        capsys,
        "export",
        "accounts",
        str(tmp_path / "all.csv"),
        "--db",
        db,
        "--sort",
        "name",
        "--desc",
    )
    assert code == 0
    with (tmp_path / "all.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # Text that Excel would run as a formula is exported inert.
    assert [r["Account name"] for r in rows] == [
        "Lost Ltd",
        "Bayside",
        "Acme Tools",
        '\'=HYPERLINK("x")',
    ]
    assert rows[2]["Location quality"] == "postal_code"

    code, out, _ = _run(
        capsys,
        "export",
        "accounts",
        str(tmp_path / "unplaced.xlsx"),
        "--db",
        db,
        "--quality",
        "none",
        "--json",
    )
    assert json.loads(out)["accounts"] == 2
    sheet = openpyxl.load_workbook(tmp_path / "unplaced.xlsx", read_only=True).active
    values = [r for r in sheet.iter_rows(values_only=True)]
    assert values[0][:3] == ("Account name", "Status", "Industry")
    assert values[0][-1] == "FieldRep id"
    # A workbook keeps each cell's type: the text is a text cell, with no mark to show.
    assert sorted(r[0] for r in values[1:]) == ['=HYPERLINK("x")', "Lost Ltd"]
    cells = openpyxl.load_workbook(tmp_path / "unplaced.xlsx").active
    assert {c.value: c.data_type for c in cells["A"]}['=HYPERLINK("x")'] == "s"

    # Both files import back as they were exported: the CSV's mark is read as the text it keeps.
    for name in ("all.csv", "unplaced.xlsx"):
        again = str(tmp_path / f"{name}.db")
        code, _, _ = _run(capsys, "import", "accounts", str(tmp_path / name), "--db", again)
        assert code == 0
        names = sqlite3.connect(again).execute("SELECT name FROM accounts").fetchall()
        assert ('=HYPERLINK("x")',) in names

    code, _, err = _run(capsys, "export", "accounts", str(tmp_path / "x.pdf"), "--db", db)
    assert code == 1
    assert "use a .csv or .xlsx file name" in err
    code, _, err = _run(
        capsys, "export", "accounts", str(tmp_path / "x.csv"), "--db", db, "--territory", "Atlantis"
    )
    assert code == 2
    assert "there is no territory 'Atlantis'" in err
