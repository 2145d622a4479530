"""The light theme: one palette and one style sheet, so every page looks like the same product."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

# Colours (slate greys with one blue accent), named by role so pages can reuse them.
WINDOW = "#F6F7F9"
SURFACE = "#FFFFFF"
SIDEBAR = "#FFFFFF"
BORDER = "#E3E6EB"
TEXT = "#1F2733"
TEXT_MUTED = "#667085"
ACCENT = "#2563EB"
ACCENT_SOFT = "#E8EFFD"
ICON = "#4B5565"
SUCCESS = "#16A34A"
WARNING = "#D97706"
DANGER = "#DC2626"
OFFLINE = "#98A2B3"

BASE_POINT_SIZE = 10

# A combo box's list: with a style sheet on QComboBox, Qt draws the current entry of its popup
# in the sheet's box (white) with the palette's highlighted text (white): a blank white box. Said
# explicitly here, and added to every page sheet that styles QComboBox.
COMBO_POPUP = f"""
QComboBox {{ selection-background-color: {ACCENT_SOFT}; selection-color: {TEXT}; }}
QComboBox QAbstractItemView {{
    background: {SURFACE}; color: {TEXT}; border: 1px solid {BORDER}; outline: 0;
    selection-background-color: {ACCENT_SOFT}; selection-color: {TEXT};
}}
QComboBox QAbstractItemView::item {{ min-height: 24px; padding: 2px 8px; color: {TEXT}; }}
QComboBox QAbstractItemView::item:selected {{ background: {ACCENT_SOFT}; color: {TEXT}; }}
"""

STYLE_SHEET = f"""
QMainWindow, QStackedWidget#pages {{ background: {WINDOW}; }}
QWidget#sidebar {{ background: {SIDEBAR}; border-right: 1px solid {BORDER}; }}
QLabel#brand {{ color: {TEXT}; font-size: 15pt; font-weight: 600; }}
QLabel#brandSub {{ color: {TEXT_MUTED}; }}
QListWidget#nav {{ background: transparent; border: none; outline: 0; }}
QListWidget#nav::item {{
    color: {TEXT}; padding: 9px 10px; margin: 2px 0; border-radius: 8px;
}}
QListWidget#nav::item:hover {{ background: #F1F3F6; }}
QListWidget#nav::item:selected {{ background: {ACCENT_SOFT}; color: {ACCENT}; font-weight: 600; }}
QLabel#navHint {{ color: {TEXT_MUTED}; font-size: 8pt; }}
QFrame#card {{ background: {SURFACE}; border: 1px solid {BORDER}; border-radius: 12px; }}
QLabel#pageTitle {{ color: {TEXT}; font-size: 18pt; font-weight: 600; }}
QLabel#cardTitle {{ color: {TEXT}; font-size: 13pt; font-weight: 600; }}
QLabel#muted {{ color: {TEXT_MUTED}; }}
QLabel#badge {{
    color: {WARNING}; background: #FEF3E2; border-radius: 9px; padding: 2px 10px; font-weight: 600;
}}
QStatusBar {{ background: {SURFACE}; border-top: 1px solid {BORDER}; color: {TEXT_MUTED}; }}
QStatusBar::item {{ border: none; }}
QStatusBar QLabel {{ color: {TEXT_MUTED}; }}
QStatusBar QPushButton {{
    padding: 2px 12px; border: 1px solid {BORDER}; border-radius: 5px; background: {SURFACE};
    color: {TEXT};
}}
QStatusBar QPushButton:hover {{ background: #F1F3F6; }}
QStatusBar QPushButton:disabled {{ color: {OFFLINE}; }}
QMenuBar {{ background: {SURFACE}; border-bottom: 1px solid {BORDER}; padding: 2px 6px; }}
QMenuBar::item {{ padding: 4px 10px; border-radius: 4px; }}
QMenuBar::item:selected {{ background: #F1F3F6; }}
QFrame#statusSeparator {{ color: {BORDER}; }}
QProgressBar {{
    border: 1px solid {BORDER}; border-radius: 5px; background: {WINDOW}; max-height: 10px;
    color: transparent;  /* a 10 px bar has no room for its percentage; labels beside it say it */
}}
QProgressBar::chunk {{ background: {ACCENT}; border-radius: 4px; }}
{COMBO_POPUP}"""


def palette() -> QPalette:
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: WINDOW,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: SURFACE,
        QPalette.ColorRole.AlternateBase: "#F9FAFB",
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: SURFACE,
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#FFFFFF",
        QPalette.ColorRole.ToolTipBase: SURFACE,
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.PlaceholderText: TEXT_MUTED,
        QPalette.ColorRole.Link: ACCENT,
    }
    for role, color in roles.items():
        pal.setColor(role, QColor(color))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor(OFFLINE))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(OFFLINE))
    return pal


def apply(app: QApplication) -> None:
    """Fusion style (the same on every platform), the light palette and the app's style sheet."""
    app.setStyle("Fusion")
    app.setPalette(palette())
    font = QFont(app.font())
    font.setPointSize(BASE_POINT_SIZE)
    app.setFont(font)
    app.setStyleSheet(STYLE_SHEET)
