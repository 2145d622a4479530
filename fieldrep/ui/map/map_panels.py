"""The panels beside the map: legend and unplaced accounts, the selection and its bulk actions,
nearby accounts. Each is a plain widget the page feeds; they never touch the database themselves
(the page runs the services) and say what the user asked for through signals."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from fieldrep.domain.vocabulary import ACCOUNT_STATUSES
from fieldrep.services.map.data import Coding, MapAccounts

LIST_LIMIT = 500  # rows a list shows; the count above it is always the full number


def _swatch(color: str) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(color))
    return QIcon(pixmap)


def _muted(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName("muted")
    label.setWordWrap(True)
    return label


class LegendPanel(QWidget):
    """What the colours mean (with counts), the territories, and the accounts not on the map."""

    unplaced_opened = Signal(str)  # account id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Legend")
        self.title.setObjectName("cardTitle")
        self.legend = QListWidget()
        self.legend.setObjectName("mapLegend")
        self.legend.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.legend.setWordWrap(True)
        self.legend.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.unplaced_label = QLabel()
        self.unplaced_label.setWordWrap(True)
        self.unplaced = QListWidget()
        self.unplaced.setObjectName("mapUnplaced")
        self.unplaced.itemActivated.connect(self._on_unplaced_item_activated)
        self.credits = _muted()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.title)
        layout.addWidget(self.legend, 3)
        layout.addWidget(self.unplaced_label)
        layout.addWidget(self.unplaced, 1)
        layout.addWidget(self.credits)

    def set_coding(
        self, title: str, coding: Coding, territories_drawn: int, territories: int
    ) -> None:
        self.title.setText(f"Coloured by {title.lower()}")
        self.legend.clear()
        for cat in coding.categories:
            if cat.count == 0 and cat.label in ("No territory", "No owner", "Unknown"):
                continue
            item = QListWidgetItem(_swatch(cat.color), f"{cat.label}  ({cat.count:,})")
            self.legend.addItem(item)
        if territories and territories_drawn < territories:
            note = QListWidgetItem(
                f"{territories - territories_drawn} of {territories} territories have no outline "
                "(matched by postal codes or rules), so only their accounts show."
            )
            note.setForeground(QColor("#666666"))
            note.setFlags(Qt.ItemFlag.NoItemFlags)
            self.legend.addItem(note)

    def set_unplaced(self, unplaced: list[tuple[str, str, str]]) -> None:
        n = len(unplaced)
        self.unplaced_label.setText(
            "Every account is on the map."
            if n == 0
            else f"<b>{n:,} account{'s' if n != 1 else ''} not on the map</b> (no location yet; "
            "fix the address or place them from Sync &gt; Geocoding settings). Double-click to open."
        )
        self.unplaced.setVisible(n > 0)
        self.unplaced.clear()
        for account_id, name, address in unplaced[:LIST_LIMIT]:
            item = QListWidgetItem(f"{name} — {address or 'no address'}")
            item.setData(Qt.ItemDataRole.UserRole, account_id)
            self.unplaced.addItem(item)
        if n > LIST_LIMIT:
            self.unplaced.addItem(
                f"… and {n - LIST_LIMIT:,} more (Accounts page, filter 'unplaced')"
            )

    def _on_unplaced_item_activated(self, item: QListWidgetItem) -> None:
        account_id = item.data(Qt.ItemDataRole.UserRole)
        if account_id:
            self.unplaced_opened.emit(str(account_id))


class SelectionPanel(QWidget):
    """The accounts picked with the rectangle or lasso, and what to do with them."""

    account_activated = Signal(str)
    add_to_route_requested = Signal()
    assign_requested = Signal(object, object)  # territory id or None, owner id or None
    export_requested = Signal()
    clear_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.count_label = QLabel("Nothing selected.")
        self.count_label.setObjectName("cardTitle")
        self.hint = _muted(
            "Pick accounts with the Rectangle or Lasso tool (hold Shift to add to the selection)."
        )
        self.list = QListWidget()
        self.list.setObjectName("mapSelection")
        self.list.itemActivated.connect(self._on_list_item_activated)
        self.route_button = QPushButton("Add to today's route")
        self.route_button.clicked.connect(self.add_to_route_requested)
        self.territory_combo = QComboBox()
        self.owner_combo = QComboBox()
        self.assign_button = QPushButton("Assign")
        self.assign_button.setToolTip(
            "Move the selected accounts; they are locked so the territory rules keep them there"
        )
        self.assign_button.clicked.connect(self._on_assign_button_clicked)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self.export_requested)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.clear_requested)
        form = QFormLayout()
        form.addRow("Territory", self.territory_combo)
        form.addRow("Rep", self.owner_combo)
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.count_label)
        layout.addWidget(self.hint)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.route_button)
        layout.addLayout(form)
        layout.addWidget(self.assign_button)
        layout.addLayout(buttons)
        self.set_selection(None, np.empty(0, dtype=np.int64))

    def set_choices(
        self, territories: list[tuple[str, str]], owners: list[tuple[str, str]]
    ) -> None:
        for combo, choices, none in (
            (self.territory_combo, territories, "(keep territory)"),
            (self.owner_combo, owners, "(keep rep)"),
        ):
            combo.clear()
            combo.addItem(none, None)
            for key, label in choices:
                combo.addItem(label, key)

    def set_selection(self, accounts: MapAccounts | None, positions: np.ndarray[Any, Any]) -> None:
        n = len(positions)
        self.count_label.setText(
            "Nothing selected." if n == 0 else f"{n:,} account{'s' if n != 1 else ''} selected"
        )
        self.list.clear()
        if accounts is not None:
            order = sorted(positions[:5000].tolist(), key=lambda i: accounts.names[i].lower())
            for i in order[:LIST_LIMIT]:
                item = QListWidgetItem(f"{accounts.names[i]} — {accounts.city[i]}")
                item.setData(Qt.ItemDataRole.UserRole, accounts.ids[i])
                self.list.addItem(item)
            if n > LIST_LIMIT:
                self.list.addItem(f"… and {n - LIST_LIMIT:,} more")
        for w in (self.route_button, self.assign_button, self.export_button, self.clear_button):
            w.setEnabled(n > 0)

    def _on_list_item_activated(self, item: QListWidgetItem) -> None:
        account_id = item.data(Qt.ItemDataRole.UserRole)
        if account_id:
            self.account_activated.emit(str(account_id))

    def _on_assign_button_clicked(self) -> None:
        self.assign_requested.emit(
            self.territory_combo.currentData(), self.owner_combo.currentData()
        )


class NearbyPanel(QWidget):
    """Accounts within a radius of a point or of the open account, nearest first, with filters."""

    pick_requested = Signal()  # the user wants to click a point on the map
    around_current_requested = Signal()
    changed = Signal()  # radius or filters changed: the page re-runs the query
    account_activated = Signal(str)
    add_to_route_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Nearby")
        self.title.setObjectName("cardTitle")
        self.center_label = _muted("Click 'Pick a point', then click the map.")
        self.pick_button = QPushButton("Pick a point")
        self.pick_button.clicked.connect(self.pick_requested)
        self.around_button = QPushButton("Around the open account")
        self.around_button.clicked.connect(self.around_current_requested)
        self.radius = QDoubleSpinBox()
        self.radius.setRange(0.1, 500.0)
        self.radius.setValue(10.0)
        self.radius.setSuffix(" km")
        self.radius.setDecimals(1)
        self.not_visited = QCheckBox("Not visited in")
        self.days = QSpinBox()
        self.days.setRange(1, 3650)
        self.days.setValue(60)
        self.days.setSuffix(" days")
        self.status = QComboBox()
        self.status.addItem("Any status", None)
        for s in ACCOUNT_STATUSES:
            self.status.addItem(s.capitalize(), s)
        for w in (self.radius, self.days):
            w.valueChanged.connect(self.changed)
        self.not_visited.toggled.connect(self.changed)
        self.status.currentIndexChanged.connect(self.changed)
        self.count_label = QLabel()
        self.list = QListWidget()
        self.list.setObjectName("mapNearby")
        self.list.itemActivated.connect(self._on_list_item_activated)
        self.route_button = QPushButton("Add these to today's route")
        self.route_button.clicked.connect(self.add_to_route_requested)
        picks = QHBoxLayout()
        picks.addWidget(self.pick_button)
        picks.addWidget(self.around_button)
        visited = QHBoxLayout()
        visited.addWidget(self.not_visited)
        visited.addWidget(self.days, 1)
        form = QFormLayout()
        form.addRow("Within", self.radius)
        form.addRow(visited)
        form.addRow("Status", self.status)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.title)
        layout.addLayout(picks)
        layout.addWidget(self.center_label)
        layout.addLayout(form)
        layout.addWidget(self.count_label)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.route_button)
        self.route_button.setEnabled(False)

    @property
    def radius_m(self) -> float:
        return self.radius.value() * 1000.0

    def filters(self) -> tuple[int | None, str | None]:
        """(minimum days since the last visit or None, status or None)."""
        days = self.days.value() if self.not_visited.isChecked() else None
        return days, self.status.currentData()

    def set_results(
        self, accounts: MapAccounts, positions: np.ndarray[Any, Any], dist: np.ndarray[Any, Any]
    ) -> None:
        n = len(positions)
        self.count_label.setText(f"{n:,} account{'s' if n != 1 else ''}, nearest first")
        self.list.clear()
        for i, d in zip(positions[:LIST_LIMIT].tolist(), dist[:LIST_LIMIT].tolist(), strict=True):
            days = accounts.last_visit_days[i]
            seen = "never visited" if np.isnan(days) else f"visited {int(days)} d ago"
            item = QListWidgetItem(f"{d / 1000:,.1f} km  {accounts.names[i]} — {seen}")
            item.setData(Qt.ItemDataRole.UserRole, accounts.ids[i])
            self.list.addItem(item)
        if n > LIST_LIMIT:
            self.list.addItem(f"… and {n - LIST_LIMIT:,} more")
        self.route_button.setEnabled(n > 0)

    def _on_list_item_activated(self, item: QListWidgetItem) -> None:
        account_id = item.data(Qt.ItemDataRole.UserRole)
        if account_id:
            self.account_activated.emit(str(account_id))
