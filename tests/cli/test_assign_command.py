"""``fieldrep assign``, ``fieldrep import/export territories`` and ``fieldrep territories ...``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fieldrep import cli
from fieldrep.services.context import Context


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def seeded(db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    ctx = Context.open(db_path)
    try:
        ann = ctx.writer.insert("users", {"username": "ann", "display_name": "Ann"})
        ctx.writer.insert("accounts", {"name": "Acme", "postal_code": "02139", "owner_id": ann})
        ctx.writer.insert("accounts", {"name": "Far Away", "lat": 10.0, "lon": 10.0})
    finally:
        ctx.close()
    geo = tmp_path / "t.geojson"
    geo.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": None,
                        "properties": {
                            "name": "Boston Metro",
                            "postal_codes": ["02139"],
                            "owner": "ann",
                            "priority": 10,
                        },
                    }
                ],
            }
        )
    )
    code, out, err = run(capsys, "import", "territories", str(geo), "--db", str(db_path))
    assert (code, err) == (0, "")
    assert out.startswith("Imported t.geojson: 1 created, 0 updated")
    return db_path


def test_assign_dry_run_then_apply(seeded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "assign", "--db", str(seeded), "--dry-run")
    assert code == 0
    assert "Acme | (none) | Boston Metro | postal code 02139 is listed in Boston Metro" in out
    assert (
        "unassigned: Far Away: no territory matches: no postal code, no region or attribute "
        "rule matches"
    ) in out
    assert out.rstrip().endswith("not applied (dry run).")
    code, out, _ = run(capsys, "assign", "--db", str(seeded), "--json")
    summary = json.loads(out)
    assert summary["applied"] is True
    assert summary["moved"] == 1
    assert summary["moves"][0]["to_territory"] == "Boston Metro"
    code, out, _ = run(capsys, "assign", "--db", str(seeded), "--json", "--dry-run")
    assert json.loads(out)["moved"] == 0


def test_list_export_explain(
    seeded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "territories", "list", "--db", str(seeded))
    assert code == 0
    assert "Boston Metro" in out
    assert "1 postal codes" in out
    target = tmp_path / "out.geojson"
    code, out, _ = run(capsys, "export", "territories", str(target), "--db", str(seeded))
    assert code == 0
    assert json.loads(target.read_text())["features"][0]["properties"]["owner"] == "ann"
    code, out, _ = run(capsys, "territories", "export", str(target), "--db", str(seeded), "--json")
    assert json.loads(out)["territories"] == 1
    ctx = Context.open(seeded)
    acme = ctx.db.execute("SELECT id FROM accounts WHERE name = 'Acme'").fetchone()[0]
    ctx.close()
    code, out, _ = run(capsys, "territories", "explain", acme, "--db", str(seeded))
    assert out.strip() == "Boston Metro: postal code 02139 is listed in Boston Metro (priority 10)"


def test_bad_files_fail_cleanly(
    seeded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text("[1, 2]")
    code, _, err = run(capsys, "import", "territories", str(bad), "--db", str(seeded))
    assert code == 1
    assert err.strip() == (
        "fieldrep: error: nothing imported: bad.geojson is not GeoJSON: "
        "expected a FeatureCollection, found a JSON list"
    )
    code, _, err = run(
        capsys, "import", "territories", str(tmp_path / "missing.geojson"), "--db", str(seeded)
    )
    assert code == 2
    assert "does not exist" in err
