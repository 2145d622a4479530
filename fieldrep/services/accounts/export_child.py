"""Exporting the account list in a child process, so that the window never waits for the writer.

The XLSX writer (xlsxwriter, and openpyxl before it) builds every row's XML in Python. On a worker
thread of the app's own process it shares the GIL with the window, which then stopped answering for
50-120 ms at a time during a 100,000-row XLSX export (bench/gui_stalls.py). A child process has its
own interpreter.

The parent runs ``python -m fieldrep.services.accounts.export_child SPEC`` (SPEC: one JSON object with the
database, the file, the filter and the order). The child prints ``progress DONE TOTAL`` lines and
then ``done COUNT``; an :class:`ExportError`'s one-sentence message goes to stderr with exit status
2. A cancel terminates the child and removes the file it was writing, so a cancelled export leaves
no file, as in-process.
"""

from __future__ import annotations

import json
import logging
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import IO

from fieldrep import paths
from fieldrep.domain.progress import Progress
from fieldrep.services.accounts.export import (
    ExportCancelled,
    ExportError,
    export_accounts,
    partial_path,
)
from fieldrep.store.accounts_repository import AccountFilter, Sort
from fieldrep.store.errors import StoreError

log = logging.getLogger(__name__)

# How often the parent looks at ``cancelled()`` while the child is quiet (writing the zip, say).
CANCEL_POLL_S = 0.1
_ERROR_EXIT = 2


def export_in_child(
    db_path: Path,
    path: Path,
    flt: AccountFilter,
    sort: Sort,
    *,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> int:
    """:func:`~fieldrep.services.accounts.export.export_accounts` of ``db_path``, run by a child
    process; the same result, errors and progress. Raises ExportCancelled (no file left) once
    ``cancelled()`` turns true."""
    if getattr(sys, "frozen", False):  # a bundled app's executable is not a Python that takes -m
        return _export_here(db_path, path, flt, sort, progress, cancelled)
    spec = {
        "db": str(db_path),
        "path": str(path),
        "filter": asdict(flt),
        "sort": asdict(sort),
    }
    with (
        tempfile.TemporaryFile(mode="w+", encoding="utf-8") as errors,
        subprocess.Popen(
            [sys.executable, "-m", "fieldrep.services.accounts.export_child", json.dumps(spec)],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            encoding="utf-8",
            env=paths.child_env(),
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
        ) as child,
    ):
        try:
            count = _follow(child, f"Exporting {path.name}", progress, cancelled)
        except BaseException:
            child.kill()
            child.wait()
            partial_path(path).unlink(missing_ok=True)
            raise
        errors.seek(0)
        message = errors.read().strip()
    if child.returncode == _ERROR_EXIT and message:
        raise ExportError(message)
    if child.returncode != 0 or count is None:
        log.warning("export process failed (exit status %s): %s", child.returncode, message)
        partial_path(path).unlink(missing_ok=True)
        last = message.splitlines()[-1] if message else f"exit status {child.returncode}"
        raise ExportError(f"the export stopped unexpectedly ({last}); no file was written")
    return count


def _follow(
    child: subprocess.Popen[str],
    text: str,
    progress: Progress | None,
    cancelled: Callable[[], bool] | None,
) -> int | None:
    """Relay the child's progress until it ends; its count, or None if it printed none."""
    lines: queue.Queue[str | None] = queue.Queue()
    assert child.stdout is not None
    reader = threading.Thread(target=_read_lines, args=(child.stdout, lines), daemon=True)
    reader.start()
    count = None
    while True:
        if cancelled is not None and cancelled() and child.poll() is None:
            # (a child that has already ended wrote the whole file: its count is still to come)
            raise ExportCancelled("export cancelled; no file was written")
        try:
            line = lines.get(timeout=CANCEL_POLL_S)
        except queue.Empty:
            continue
        if line is None:
            break
        word, *numbers = line.split()
        if word == "progress" and progress is not None:
            progress(int(numbers[0]), int(numbers[1]), text)
        elif word == "done":
            count = int(numbers[0])
    child.wait()
    reader.join()
    return count


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _export_here(
    db_path: Path,
    path: Path,
    flt: AccountFilter,
    sort: Sort,
    progress: Progress | None,
    cancelled: Callable[[], bool] | None,
) -> int:
    from fieldrep.store.db import open_db

    db = open_db(db_path)
    try:
        return export_accounts(db.conn, path, flt, sort, progress=progress, cancelled=cancelled)
    finally:
        db.conn.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    spec = json.loads(args[0])

    def report(done: int, total: int | None, _text: str) -> None:
        sys.stdout.write(f"progress {done} {total}\n")
        sys.stdout.flush()

    try:
        count = _export_here(
            Path(spec["db"]),
            Path(spec["path"]),
            AccountFilter(**spec["filter"]),
            Sort(**spec["sort"]),
            report,
            None,
        )
    except (ExportError, StoreError) as exc:  # one sentence for the user, no traceback
        sys.stderr.write(f"{exc}\n")
        return _ERROR_EXIT
    sys.stdout.write(f"done {count}\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
