"""Help > Keyboard shortcuts (also ``?``): every shortcut of the window and of the pages, in one list."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fieldrep.ui.widgets.screen_fit import fit_on_show

# Shortcuts that belong to a page or a dialog rather than to a menu action of the window.
PAGE_SHORTCUTS: tuple[tuple[str, str, str], ...] = (
    ("Anywhere", "Ctrl+F", "Search (the accounts' search on a page without one)"),
    ("Anywhere", "?", "This list"),
    ("Accounts", "Ctrl+N", "New account"),
    ("Accounts", "Ctrl+I", "Import accounts"),
    ("Accounts", "Ctrl+E", "Export the list as filtered"),
    ("Accounts", "Ctrl+T", "Today: tasks due and overdue"),
    ("Accounts", "Enter", "Open the selected account"),
    ("Accounts", "Ctrl+L", "Log a visit to the selected account"),
    ("Accounts", "Esc", "Close the account, or clear the search"),
    ("Log visit", "Enter", "Log the visit"),
    ("Log visit", "Tab / Ctrl+Tab", "Leave the notes / type a tab in them"),
    ("Today", "Enter", "Open the task's account"),
)


def window_shortcuts(window: QWidget) -> list[tuple[str, str, str]]:
    """(where, keys, what) for each menu action of ``window`` that has a shortcut."""
    rows: list[tuple[str, str, str]] = []
    for action in window.findChildren(QAction):
        keys = action.shortcut()
        if keys.isEmpty() or not action.text():
            continue
        name = action.text().replace("&", "").rstrip("…").rstrip(".")
        text = keys.toString(QKeySequence.SequenceFormat.NativeText)
        rows.append(("Window", text, name))
    return sorted(set(rows), key=lambda row: row[1])


class ShortcutsDialog(QDialog):
    def __init__(self, window: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent or window)
        fit_on_show(self)
        self.setWindowTitle("Keyboard shortcuts")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Where", "Keys", "What it does"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        for where, keys, what in (*window_shortcuts(window), *PAGE_SHORTCUTS):
            self.tree.addTopLevelItem(QTreeWidgetItem([where, keys, what]))
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setMinimumSize(560, 420)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)

    def rows(self) -> list[tuple[str, str, str]]:
        return [
            (item.text(0), item.text(1), item.text(2))
            for item in (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
            if item is not None
        ]
