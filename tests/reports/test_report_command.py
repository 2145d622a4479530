"""``fieldrep report``: every kind in every format from the command line, and bad input refused in
one sentence (exit 2 for bad usage, 1 for a file that cannot be written)."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from pathlib import Path

import openpyxl
import pypdf
import pytest

from fieldrep.cli import main
from fieldrep.reports.catalog import KINDS


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_report_in_every_format(
    demo_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    for fmt in ("csv", "xlsx", "pdf"):
        out = tmp_path / f"{kind}.{fmt}"
        code = main(
            [
                "report",
                kind,
                "-o",
                str(out),
                "--period",
                "2026-Q4",
                "--db",
                str(demo_path),
                "--json",
            ]
        )
        assert code == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["file"] == str(out)
        assert summary["period"] == "2026-Q4"
        assert summary["rows"] > 0
    assert next(csv.reader((tmp_path / f"{kind}.csv").open(encoding="utf-8")))
    assert "About" in openpyxl.load_workbook(tmp_path / f"{kind}.xlsx").sheetnames
    first = pypdf.PdfReader(tmp_path / f"{kind}.pdf").pages[0].extract_text()
    assert KINDS[kind].title in first


def test_territory_and_rep_filters_and_format_option(
    demo_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "west.data"
    code = main(
        [
            "report",
            "rep-activity",
            "--format",
            "csv",
            "-o",
            str(out),
            "--territory",
            "west",
            "--rep",
            "Jordan Reyes",
            "--excel",
            "--db",
            str(demo_path),
        ]
    )
    assert code == 0
    assert "Territory: West and below; Rep: Jordan Reyes" in capsys.readouterr().out
    rows = list(csv.reader(out.open(encoding="utf-8-sig")))
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert [r[0] for r in rows[2:3]] == ["Jordan Reyes"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["territory-perf"], 2, "did you mean 'territory-performance'?"),
        (["accounts", "--period", "Q5"], 2, "use 2026-11 (a month), 2026-Q3 (a quarter)"),
        (["accounts", "--territory", "Pacifc"], 2, "did you mean 'Pacific'"),
        (["accounts", "--rep", "jordn"], 2, "did you mean 'jordan'"),
        (["accounts", "--format", "csv", "-o", "/nonexistent/folder/a.csv"], 1, "does not exist"),
    ],
)
def test_bad_input_is_refused_in_one_sentence(
    demo_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    message: str,
) -> None:
    argv = ["report", *args, "--db", str(demo_path)]
    if "-o" not in args:
        argv += ["-o", str(tmp_path / "x.csv")]
    if code == 2 and args[0] == "territory-perf":
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    else:
        assert main(argv) == code
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_a_period_without_data_says_so(
    demo_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "old.pdf"
    assert (
        main(
            [
                "report",
                "referral-programme",
                "-o",
                str(out),
                "--period",
                "2019",
                "--db",
                str(demo_path),
            ]
        )
        == 0
    )
    assert "No data for 2019" in capsys.readouterr().out
    text = pypdf.PdfReader(out).pages[0].extract_text()
    assert "No data for 2019" in text


def _images(pdf: Path) -> list[tuple[int, int]]:
    """The size of every raster image on the PDF's pages."""
    return [
        (image.image.width, image.image.height)
        for page in pypdf.PdfReader(pdf).pages
        for image in page.images
        if image.image is not None
    ]


def _placed_in_subtree(demo_path: Path, name: str) -> int:
    conn = sqlite3.connect(demo_path)
    try:
        (count,) = conn.execute(
            "WITH RECURSIVE sub(id) AS (SELECT id FROM territories WHERE name = ? COLLATE NOCASE"
            " UNION SELECT t.id FROM territories t JOIN sub ON t.parent_id = sub.id)"
            " SELECT count(*) FROM accounts WHERE territory_id IN (SELECT id FROM sub)"
            " AND lat IS NOT NULL AND lon IS NOT NULL",
            (name,),
        ).fetchone()
    finally:
        conn.close()
    return int(count)


def test_the_territory_performance_pdf_shows_the_scopes_map(
    demo_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "west.pdf"
    argv = ["report", "territory-performance", "-o", str(out), "--period", "2026-Q4"]
    assert main([*argv, "--territory", "West", "--db", str(demo_path)]) == 0
    capsys.readouterr()
    assert _images(out) == [(1800, 1100)]  # the map, rendered for the report
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(out).pages)
    assert "Territory map — West and below" in text
    assert f"{_placed_in_subtree(demo_path, 'West'):,} accounts placed" in text
    # Other reports and other formats carry no map.
    other = tmp_path / "reps.pdf"
    assert main(["report", "rep-activity", "-o", str(other), "--db", str(demo_path)]) == 0
    assert _images(other) == []


def test_no_map_when_no_account_is_placed(
    demo_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = tmp_path / "unplaced.db"
    shutil.copy(demo_path, book)
    conn = sqlite3.connect(book)
    with conn:
        conn.execute("UPDATE accounts SET lat = NULL, lon = NULL")
    conn.close()
    out = tmp_path / "unplaced.pdf"
    argv = ["report", "territory-performance", "-o", str(out), "--period", "2026-Q4"]
    assert main([*argv, "--db", str(book)]) == 0
    capsys.readouterr()
    assert _images(out) == []
    assert pypdf.PdfReader(out).pages[0].extract_text()
