"""Start-up stays light: building and painting the main window the way the app does must not import
the heavy libraries that only later pages, dialogs or a sync need (each costs a good part of a second
of start-up). Runs in a fresh interpreter, since this test process has imported everything already.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fieldrep.services.context import Context

# Each of these is imported on first use of what needs it (a sync, the Territories page, a chart,
# sqlite-utils' helpers), never to show the first window. QtNetwork comes with the network monitor,
# which starts once the first frame is on screen.
HEAVY = (
    "httpx",
    "pydantic",
    "matplotlib",
    "shapely",
    "numpy",
    "sqlite_utils",
    "rich",
    "PySide6.QtNetwork",
)

_START = """
import sys
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSettings
from PySide6.QtWidgets import QApplication

from fieldrep.ui import theme
from fieldrep.ui.application import AppSession

HEAVY = sys.argv[3].split(",")


class _QuitOnPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            QApplication.instance().quit()
        return False


app = QApplication([])
theme.apply(app)
session = AppSession(QSettings(sys.argv[2], QSettings.Format.IniFormat))
assert session.open(Path(sys.argv[1]))
window = session.window
assert window.current_page_key == "accounts", window.current_page_key
painted = _QuitOnPaint()
window.page("accounts").table.viewport().installEventFilter(painted)
app.exec()
print("painted:", ",".join(m for m in HEAVY if m in sys.modules))
session.close()  # waits for the page's first load on the task runner
print("loaded:", ",".join(m for m in HEAVY if m in sys.modules))
"""


def test_first_paint_imports_no_heavy_module(ctx: Context, tmp_path: Path) -> None:
    ctx.writer.insert("accounts", {"name": "Acme Hardware", "city": "Boston"})
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [sys.executable, "-c", _START, str(ctx.path), str(tmp_path / "w.ini"), ",".join(HEAVY)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    lines = dict(line.split(":", 1) for line in out.stdout.splitlines() if ":" in line)
    assert lines["painted"].strip() == "", f"imported before the first paint: {lines['painted']}"
    assert lines["loaded"].strip() == "", f"imported by the first load: {lines['loaded']}"


def test_the_check_sees_a_heavy_import(ctx: Context, tmp_path: Path) -> None:
    """The probe itself works: opening the sync settings dialog does pull in pydantic."""
    code = _START.replace('print("painted:"', 'window.open_sync_settings()\nprint("painted:"')
    out = subprocess.run(
        [sys.executable, "-c", code, str(ctx.path), str(tmp_path / "w.ini"), ",".join(HEAVY)],
        capture_output=True,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        check=True,
    )
    assert "pydantic" in out.stdout.split("painted:", 1)[1].splitlines()[0]
