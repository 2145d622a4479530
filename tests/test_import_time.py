"""Importing a module does no work and changes no process-wide state: no scrypt hash (it costs
0.7 s of CPU), no raised ``csv.field_size_limit`` and no codec error handler registered. Each
check runs in a fresh interpreter, since this one has imported everything already."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import codecs, csv, hashlib, json, sys
calls = []
real = hashlib.scrypt
hashlib.scrypt = lambda *a, **k: (calls.append(1), real(*a, **k))[1]
limit = csv.field_size_limit()
__import__(sys.argv[1])
from fieldrep.services.imports.readers import MIXED_ERRORS
try:
    codecs.lookup_error(MIXED_ERRORS)
    registered = True
except LookupError:
    registered = False
print(json.dumps({"scrypt": len(calls), "csv_limit_changed": csv.field_size_limit() != limit,
                  "codec_registered": registered}))
"""


@pytest.mark.parametrize(
    "module",
    ["fieldrep.server.auth", "fieldrep.services.imports.readers", "fieldrep.services.imports.xlsx"],
)
def test_import_does_no_work(module: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, module],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout.splitlines()[-1]) == {
        "scrypt": 0,
        "csv_limit_changed": False,
        "codec_registered": False,
    }


def test_reading_a_csv_raises_the_limit_only_while_it_reads(tmp_path: Path) -> None:
    import csv

    from fieldrep.services.imports.readers import CSV_FIELD_LIMIT, CsvRows

    path = tmp_path / "long.csv"
    long_value = "x" * (200 * 1024)  # over csv's default 128 KiB field limit
    path.write_text(f"name,notes\nAcme,{long_value}\n", encoding="utf-8")
    before = csv.field_size_limit()
    rows = CsvRows(path, "utf-8", ",").all_rows()
    first = next(rows)
    assert csv.field_size_limit() == max(before, CSV_FIELD_LIMIT)
    assert [cells for _, cells, _ in rows] == [["Acme", long_value]]
    assert first[1] == ["name", "notes"]
    assert csv.field_size_limit() == before
