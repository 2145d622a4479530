"""Opening the pipeline board on 50,000 referrals, against a bare QListView of the same 50,000.

FieldRep: build the board (six stage columns, each a QListView over a paged list model and the one
card delegate), read the column totals (count, value, overdue) and the first page of every column
with the default filters, show it and paint the first frame. Baseline: one bare QListView over a
QStringListModel of the 50,000 referred names read from the same database, shown and painted.
Both sides interleave in one process (offscreen). Target: <= 2x.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="5,000 referrals")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from PySide6.QtCore import QStringListModel
    from PySide6.QtWidgets import QApplication, QListView

    from bench.referral_common import build
    from fieldrep.services.context import Context
    from fieldrep.ui import theme
    from fieldrep.ui.views.referral_board_view import ReferralBoard

    count = 5_000 if args.quick else 50_000
    tmp = tempfile.TemporaryDirectory()
    path = Path(tmp.name) / "bench.db"
    build(path, 2_000, count).close()
    app = QApplication.instance() or QApplication([])
    app.setStyleSheet(theme.STYLE_SHEET)
    ctx = Context.open(path)

    def board() -> None:
        widget = ReferralBoard(ctx)
        widget.resize(1366, 700)
        widget.reload()
        widget.show()
        widget.grab()  # the first frame, painted
        widget.close()
        widget.deleteLater()

    def bare() -> None:
        names = [r[0] for r in ctx.conn.execute("SELECT referred_name FROM referrals")]
        view = QListView()
        view.setModel(QStringListModel(names, view))
        view.resize(1366, 700)
        view.show()
        view.grab()
        view.close()
        view.deleteLater()

    board()
    bare()  # warm both (imports, style sheet, page cache)
    sides: dict[str, tuple[list[float], list[float]]] = {"board": ([], []), "bare": ([], [])}
    for _ in range(args.runs):
        for name, fn in (("board", board), ("bare", bare)):
            w, c = time.perf_counter(), time.process_time()
            fn()
            app.processEvents()
            sides[name][0].append(time.perf_counter() - w)
            sides[name][1].append(time.process_time() - c)
    ctx.close()
    b, r = statistics.median(sides["board"][0]), statistics.median(sides["bare"][0])
    for name, (wall, cpu) in sides.items():
        print(
            f"{name}: median {statistics.median(wall) * 1e3:.1f} ms wall,"
            f" {statistics.median(cpu) * 1e3:.1f} ms cpu (runs {len(wall)})"
        )
    print(
        json.dumps(
            {
                "bench": "referral_board",
                "ratio": round(b / r, 2),
                "target": "<= 2x",
                "board_ms": round(b * 1e3, 1),
                "bare_ms": round(r * 1e3, 1),
                "referrals": count,
                "met": b / r <= 2,
            }
        )
    )


if __name__ == "__main__":
    main()
