"""The rep's day beside the map: today's tasks, the stops in visiting order, optimise, check in, export."""

from __future__ import annotations

from datetime import time
from typing import Any

from PySide6.QtCore import Qt, QTime, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from fieldrep.geo.routing import MAX_STOPS
from fieldrep.services.map.route_planning import RoutePlan

START_CHOICES = (
    ("home", "From my home"),
    ("centre", "From the map centre"),
    ("first", "From the first stop"),
)


class RoutePanel(QWidget):
    optimise_requested = Signal()
    check_in_requested = Signal(str)  # account id
    remove_requested = Signal(str)
    clear_requested = Signal()
    export_requested = Signal(str)  # "gpx" | "csv"
    print_requested = Signal()
    appointment_requested = Signal(str)  # account id
    stop_activated = Signal(str)
    task_accounts_requested = Signal()  # add the accounts of today's tasks
    options_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("Today's route")
        title.setObjectName("cardTitle")
        self.tasks_label = QLabel()
        self.tasks_label.setObjectName("muted")
        self.tasks_label.setWordWrap(True)
        self.tasks_button = QPushButton("Add today's task accounts")
        self.tasks_button.clicked.connect(self.task_accounts_requested)
        self.start = QComboBox()
        for key, label in START_CHOICES:
            self.start.addItem(label, key)
        self.start.currentIndexChanged.connect(self.options_changed)
        self.round_trip = QCheckBox("Come back at the end")
        self.round_trip.toggled.connect(self.options_changed)
        self.timed = QCheckBox("Plan by time")
        self.timed.setToolTip(
            "Fit the visits into a working day: each visit takes the time given, and stops that "
            "do not fit before the end of the day are named"
        )
        self.day_start = QTimeEdit(QTime(8, 30))
        self.day_end = QTimeEdit(QTime(17, 0))
        self.visit_minutes = QSpinBox()
        self.visit_minutes.setRange(5, 480)
        self.visit_minutes.setValue(30)
        self.visit_minutes.setSuffix(" min")
        for w in (self.day_start, self.day_end):
            w.setDisplayFormat("HH:mm")
            w.timeChanged.connect(self.options_changed)
        self.visit_minutes.valueChanged.connect(self.options_changed)
        self.timed.toggled.connect(self._on_timed_toggled)
        self._on_timed_toggled(False)
        self.optimise_button = QPushButton("Optimise order")
        self.optimise_button.setObjectName("primary")
        self.optimise_button.clicked.connect(self.optimise_requested)
        self.stops = QListWidget()
        self.stops.setObjectName("mapRouteStops")
        self.stops.setWordWrap(True)
        self.stops.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.stops.itemActivated.connect(self._on_stops_item_activated)
        self.stops.currentRowChanged.connect(self._update_buttons)
        self.summary = QLabel("Add stops from a selection, Nearby, or today's tasks.")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.check_in_button = QPushButton("Check in")
        self.check_in_button.setToolTip(
            "Log a visit to the chosen stop (now, outcome Met by default)"
        )
        self.check_in_button.clicked.connect(self._on_check_in_clicked)
        self.appointment_button = QPushButton("Appointment…")
        self.appointment_button.setToolTip(
            "The time window this stop must be visited in (Plan by time)"
        )
        self.appointment_button.clicked.connect(self._on_appointment_clicked)
        self.remove_button = QPushButton("Remove stop")
        self.remove_button.clicked.connect(self._on_remove_clicked)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.clear_requested)
        self.gpx_button = QPushButton("GPX…")
        self.gpx_button.clicked.connect(lambda: self.export_requested.emit("gpx"))
        self.csv_button = QPushButton("CSV…")
        self.csv_button.clicked.connect(lambda: self.export_requested.emit("csv"))
        self.print_button = QPushButton("Print…")
        self.print_button.setToolTip("Print the stops in order with the map as it is shown")
        self.print_button.clicked.connect(self.print_requested)
        options = QHBoxLayout()
        options.addWidget(self.start, 1)
        options.addWidget(self.round_trip)
        times = QHBoxLayout()
        times.addWidget(self.timed)
        times.addWidget(self.day_start)
        times.addWidget(QLabel("–"))
        times.addWidget(self.day_end)
        times.addStretch(1)
        visits = QHBoxLayout()
        visits.addSpacing(22)
        visits.addWidget(QLabel("Each visit takes"))
        visits.addWidget(self.visit_minutes)
        visits.addStretch(1)
        stop_actions = QHBoxLayout()
        stop_actions.addWidget(self.check_in_button)
        stop_actions.addWidget(self.appointment_button)
        stop_actions.addWidget(self.remove_button)
        exports = QHBoxLayout()
        exports.addWidget(QLabel("Export"))
        exports.addWidget(self.gpx_button)
        exports.addWidget(self.csv_button)
        exports.addWidget(self.print_button)
        exports.addStretch(1)
        exports.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(title)
        layout.addWidget(self.tasks_label)
        layout.addWidget(self.tasks_button)
        layout.addLayout(options)
        layout.addLayout(times)
        layout.addLayout(visits)
        layout.addWidget(self.optimise_button)
        layout.addWidget(self.stops, 1)
        layout.addWidget(self.summary)
        layout.addLayout(stop_actions)
        layout.addLayout(exports)
        self.checked_in: set[str] = set()
        self.set_plan(None, [])

    def _on_timed_toggled(self, on: bool) -> None:
        for w in (self.day_start, self.day_end, self.visit_minutes):
            w.setEnabled(on)
        if hasattr(self, "stops"):
            self._update_buttons()
        self.options_changed.emit()

    def day_times(self) -> tuple[time, time, int] | None:
        """(start, end, minutes a visit) when the day is planned by time."""
        if not self.timed.isChecked():
            return None
        return (
            self.day_start.time().toPython(),
            self.day_end.time().toPython(),
            self.visit_minutes.value(),
        )  # type: ignore[return-value]

    @property
    def start_choice(self) -> str:
        return str(self.start.currentData())

    def set_tasks(self, tasks: list[dict[str, Any]]) -> None:
        with_account = [t for t in tasks if t.get("account_id")]
        overdue = sum(1 for t in tasks if t.get("overdue"))
        self.tasks_label.setText(
            "No tasks due today."
            if not tasks
            else f"{len(tasks)} task{'s' if len(tasks) != 1 else ''} due today"
            + (f" ({overdue} overdue)" if overdue else "")
            + f", {len(with_account)} at an account."
        )
        self.tasks_button.setEnabled(bool(with_account))

    def set_plan(self, plan: RoutePlan | None, names: list[tuple[str, str]]) -> None:
        """Show ``plan`` (ordered) or, before it is planned, the stops ``names`` as chosen."""
        current = self.current_stop()
        self.stops.clear()
        if plan is not None:
            rows = [
                (
                    s.account_id,
                    f"{i}. {s.arrival + '  ' if s.arrival else ''}{s.name}  ·  {s.leg_m / 1000:,.1f} km",
                )
                for i, s in enumerate(plan.stops, 1)
            ]
            rows += [(a, f"–  {n}  (does not fit in the day)") for a, n in plan.unfit]
            rows += [(a, f"–  {n}  (no location: left out)") for a, n in plan.skipped]
            self.summary.setText(plan.describe())
        else:
            rows = [(a, f"{i}. {n}") for i, (a, n) in enumerate(names, 1)]
            self.summary.setText(
                f"{len(names)} stop{'s' if len(names) != 1 else ''} (up to {MAX_STOPS}); press Optimise order."
                if names
                else "Add stops from a selection, Nearby, or today's tasks."
            )
        for account_id, text in rows:
            done = account_id in self.checked_in
            item = QListWidgetItem(("✓ " if done else "") + text)
            item.setData(Qt.ItemDataRole.UserRole, account_id)
            self.stops.addItem(item)
            if account_id == current:
                self.stops.setCurrentItem(item)
        self.optimise_button.setEnabled(bool(rows))
        for w in (self.gpx_button, self.csv_button, self.print_button):
            w.setEnabled(plan is not None and bool(plan.stops))
        self.clear_button.setEnabled(bool(rows))
        self._update_buttons()

    def current_stop(self) -> str | None:
        item = self.stops.currentItem()
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def _update_buttons(self, *_args: Any) -> None:
        has = self.current_stop() is not None
        self.check_in_button.setEnabled(has)
        self.remove_button.setEnabled(has)
        self.appointment_button.setEnabled(has and self.timed.isChecked())

    def _on_check_in_clicked(self) -> None:
        account_id = self.current_stop()
        if account_id:
            self.check_in_requested.emit(account_id)

    def _on_appointment_clicked(self) -> None:
        account_id = self.current_stop()
        if account_id:
            self.appointment_requested.emit(account_id)

    def _on_remove_clicked(self) -> None:
        account_id = self.current_stop()
        if account_id:
            self.remove_requested.emit(account_id)

    def _on_stops_item_activated(self, item: QListWidgetItem) -> None:
        self.stop_activated.emit(str(item.data(Qt.ItemDataRole.UserRole)))
