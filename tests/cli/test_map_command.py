"""``fieldrep map export``: the map as PNG or PDF from the command line, in a fresh process (as a
user runs it: Qt starts offscreen there, never in the test process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from fieldrep.cli import main
from fieldrep.paths import child_env


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("map") / "demo.db"
    assert main(["demo", "--db", str(db), "--accounts", "300", "--seed", "4"]) == 0
    return db


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = child_env()
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.pop("DISPLAY", None)
    return subprocess.run(
        [sys.executable, "-m", "fieldrep", "map", "export", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_png_and_pdf_are_written_at_the_size_asked(demo_db: Path, tmp_path: Path) -> None:
    png = tmp_path / "map.png"
    done = run("--db", str(demo_db), "-o", str(png), "--size", "900x600", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["accounts"] + summary["unplaced"] == 300
    with Image.open(png) as image:
        assert image.size == (900, 600)
        # Not a blank picture: the basemap, the markers and the legend make many colours.
        assert len(image.convert("RGB").getcolors(maxcolors=100_000) or []) > 50
    pdf = tmp_path / "map.pdf"
    done = run("--db", str(demo_db), "-o", str(pdf))
    assert done.returncode == 0, done.stderr
    assert pdf.read_bytes().startswith(b"%PDF")
    assert "wrote" in done.stdout


def test_filters_by_territory_and_owner_and_names_unknown_ones(
    demo_db: Path, tmp_path: Path
) -> None:
    import sqlite3

    conn = sqlite3.connect(demo_db)
    territory, count = conn.execute(
        "SELECT t.name, count(*) FROM accounts a JOIN territories t ON t.id = a.territory_id"
        " WHERE a.lat IS NOT NULL GROUP BY t.name ORDER BY 2 DESC LIMIT 1"
    ).fetchone()
    conn.close()
    out = tmp_path / "t.png"
    done = run("--db", str(demo_db), "-o", str(out), "--territory", territory, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["accounts"] == count
    done = run("--db", str(demo_db), "-o", str(out), "--territory", "Atlantis")
    assert done.returncode == 1
    assert "no territory named 'Atlantis'; known:" in done.stderr
    done = run("--db", str(demo_db), "-o", str(out), "--owner", "nobody")
    assert done.returncode == 1
    assert "no user named 'nobody'" in done.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--size", "big"], 2, "--size must be WIDTHxHEIGHT"),
        (["--size", "10x10"], 2, "between 200 and 8000"),
        (["-o", "map.jpg"], 2, "must end in .png or .pdf"),
    ],
)
def test_bad_options_are_refused_in_one_sentence(
    demo_db: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    message: str,
) -> None:
    full = ["map", "export", "--db", str(demo_db), "-o", str(tmp_path / "m.png"), *args]
    assert main(full) == code
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.png").exists()
