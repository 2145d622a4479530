"""Start-up to the first painted main window on a 100,000-account database vs. a bare QMainWindow.

Both run as fresh subprocesses (interpreter start and imports included, offscreen platform); each
prints the seconds from its own start to the end of its window's first painted frame (the event
loop's next turn after the window's first paint event, so every child in that frame, the accounts
table included, has painted), and the wall time of the whole process is measured too. Median of
several interleaved runs (the fastest run of each side is printed too: noise only adds).

FieldRep starts through its own entry point, as the ``fieldrep`` console script does
(``fieldrep.app.main(["--db", PATH])``): command line, QApplication and theme, database, sync
controller, connectivity monitor, main window. The only addition is the hook, installed on the
main window the app creates when it is shown. (Until stop 8 the bench built the window by hand and
skipped the command line, the sync controller and the monitor: ~50 ms flattering.) The hook sits
on the window object itself: asking PySide for a widget it did not create (the table's viewport,
say) makes it look up the widget's type across every QtWidgets class, ~10 ms that the app itself
never spends.

Also printed, for reading the ratio: the floor, a third process that does the least any app
opening on this book must do (the bare window, plus the database opened, the accounts counted and
the first page read in name order into a plain model and QTableView), and how far above the bare
window that floor already is.

The package is byte-compiled once (``python -m compileall``) before measuring: an installed app has
its ``.pyc`` files (pip compiles them), and Python reads existing ones even where
``PYTHONDONTWRITEBYTECODE`` is set, so without this every run would time the compiler too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PAINTED = """
from PySide6.QtCore import QObject, QEvent, QTimer
class _Painted(QObject):
    # At the window's first paint event, wait for the event loop to come back: by then the whole
    # first frame (the window and every child shown in it) has been painted and flushed.
    def __init__(self, check=None):
        super().__init__()
        self.check = check
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            QTimer.singleShot(0, self.report)
        return False
    def report(self):
        import os, sys, time
        elapsed = time.perf_counter() - T0
        if self.check is not None and not self.check():
            print("the page was not painted in the first frame", file=sys.stderr, flush=True)
            os._exit(1)
        print(elapsed, flush=True)
        os._exit(0)
"""
BARE = (
    "import time; T0 = time.perf_counter()\n"
    + PAINTED
    + """
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([])
w = QMainWindow(); w.resize(1400, 900)
f = _Painted(); w.installEventFilter(f); w.show(); app.exec()
"""
)
# For reading the ratio: the least any app that opens on this book must do. The bare window plus
# the database opened, the accounts counted and the first page read in name order into a plain
# table model and view. No sidebar, menus, status bar, search, filters, theme or sync.
FLOOR = (
    "import time; T0 = time.perf_counter()\n"
    + PAINTED
    + """
import sqlite3, sys
from PySide6.QtCore import QAbstractTableModel, Qt
from PySide6.QtWidgets import QApplication, QMainWindow, QTableView
COLS = ("name", "city", "postal_code", "status", "industry", "potential")
class Model(QAbstractTableModel):
    def __init__(self, conn):
        super().__init__()
        self.count = conn.execute("SELECT count(*) FROM accounts").fetchone()[0]
        self.page = conn.execute(
            f"SELECT {', '.join(COLS)} FROM accounts ORDER BY name COLLATE NOCASE LIMIT 200"
        ).fetchall()
    def rowCount(self, parent=None):
        return self.count
    def columnCount(self, parent=None):
        return len(COLS)
    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and index.row() < len(self.page):
            value = self.page[index.row()][index.column()]
            return "" if value is None else str(value)
        return None
    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLS[section]
        return None
app = QApplication([])
w = QMainWindow(); w.resize(1400, 900)
view = QTableView(); view.setModel(Model(sqlite3.connect(sys.argv[1]))); w.setCentralWidget(view)
f = _Painted(); w.installEventFilter(f); w.show(); app.exec()
"""
)
OURS = (
    "import time; T0 = time.perf_counter()\nimport sys\n"
    + PAINTED
    + """
# The app's own entry point, as the `fieldrep` console script runs it: the command line, the
# QApplication and theme, the database, the sync controller, the connectivity monitor, the window.
from fieldrep.ui import main_window
_show = main_window.MainWindow.show
def show(self):
    # The Accounts page sets _painted in its first paintEvent, before its table paints in the same
    # frame; the hook sits on the window the app created.
    self._bench_hook = _Painted(lambda: self.page("accounts")._painted)
    self.installEventFilter(self._bench_hook)
    _show(self)
main_window.MainWindow.show = show
from fieldrep.app import main
sys.exit(main(["--db", sys.argv[1]]))
"""
)


def run(code: str, *argv: str, home: str = "") -> tuple[float, float]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    if home:
        env["FIELDREP_HOME"] = home  # the app's settings and window state, kept out of the user's
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    wall = time.perf_counter() - started
    return float(out.stdout.strip().splitlines()[-1]), wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="3 runs, 10,000 accounts")
    parser.add_argument("--db", type=Path, help="an existing database (default: build one)")
    args = parser.parse_args()
    runs = 3 if args.quick else 9
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "fieldrep")], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db
        if db is None:
            sys.path.insert(0, str(ROOT))
            sys.path.insert(0, str(ROOT / "bench"))
            from import_accounts import make_csv

            from fieldrep.services.context import Context
            from fieldrep.services.imports.accounts import import_accounts

            src = Path(tmp) / "a.csv"
            make_csv(src, 10_000 if args.quick else 100_000)
            db = Path(tmp) / "start.db"
            ctx = Context.open(db)
            import_accounts(ctx, src)
            ctx.close()
        home = str(Path(tmp) / "home")
        run(BARE)  # warm the OS file cache for both
        run(OURS, str(db), home=home)
        # Interleaved, so that a burst of load elsewhere on the machine hits both sides alike.
        bare, ours, floor = [], [], []
        for _ in range(runs):
            bare.append(run(BARE))
            ours.append(run(OURS, str(db), home=home))
            floor.append(run(FLOOR, str(db)))
    bare_wall = statistics.median(w for _, w in bare)
    ours_wall = statistics.median(w for _, w in ours)
    bare_paint = statistics.median(p for p, _ in bare)
    ours_paint = statistics.median(p for p, _ in ours)
    floor_wall = statistics.median(w for _, w in floor)
    print(
        f"bare QMainWindow: process {bare_wall:.3f} s (first paint at {bare_paint:.3f} s);"
        f" FieldRep on {db.name}: process {ours_wall:.3f} s (first paint at {ours_paint:.3f} s)"
    )
    print(
        f"floor (the bare window plus the count and the first page of accounts in a plain table):"
        f" process {floor_wall:.3f} s = {floor_wall / bare_wall:.2f}x the bare window;"
        f" FieldRep is {ours_wall / floor_wall:.2f}x the floor"
    )
    print(
        json.dumps(
            {
                "bench": "startup",
                "bare_s": round(bare_wall, 3),
                "fieldrep_s": round(ours_wall, 3),
                "bare_paint_s": round(bare_paint, 3),
                "fieldrep_paint_s": round(ours_paint, 3),
                "ratio": round(ours_wall / bare_wall, 2),
                "ratio_fastest": round(min(w for _, w in ours) / min(w for _, w in bare), 2),
                "floor_s": round(floor_wall, 3),
                "floor_ratio": round(floor_wall / bare_wall, 2),
                "target": 1.5,
            }
        )
    )


if __name__ == "__main__":
    main()
