"""The Map page's day route: stops from a selection, Nearby or tasks, the solver on a worker, check-in
and GPX/CSV export. A mixin of :class:`~fieldrep.ui.map.map_page.MapPage`."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog

from fieldrep.geo.routing import MAX_STOPS
from fieldrep.services.map import route_planning
from fieldrep.store.db import open_connection
from fieldrep.store.errors import ValidationError
from fieldrep.ui.map.map_actions_base import MapActionsBase
from fieldrep.ui.map.route_panel import RoutePanel
from fieldrep.ui.tasks import Progress, Task


class RouteActionsMixin(MapActionsBase):
    """Needs the attributes below (and :class:`MapActionsBase`'s), which :class:`MapPage` creates."""

    route_ids: list[str]
    plan: route_planning.RoutePlan | None
    route_panel: RoutePanel
    visit_dialog: Any
    route_planned: Any
    appointments: dict[str, tuple[time, time]]

    def selected_ids(self) -> list[str]:
        raise NotImplementedError

    def nearby(self) -> Any:
        raise NotImplementedError

    # -- the day's route ---------------------------------------------------------------------------

    def _on_selection_add_to_route(self) -> None:
        self.add_to_route(self.selected_ids())

    def _on_route_task_accounts(self) -> None:
        if self.bundle is not None:
            self.add_to_route([t["account_id"] for t in self.bundle.tasks if t.get("account_id")])

    def add_to_route(self, account_ids: list[str]) -> None:
        merged = list(dict.fromkeys([*self.route_ids, *account_ids]))
        if len(merged) > MAX_STOPS:
            room = MAX_STOPS - len(self.route_ids)
            self.say(
                f"A day's route has at most {MAX_STOPS} stops; {len(merged) - len(self.route_ids):,} "
                f"were picked and there is room for {max(room, 0)}. Narrow the selection.",
                error=True,
            )
            return
        self.set_route_ids(merged)
        self.tabs.setCurrentWidget(self.route_panel)

    def set_route_ids(self, ids: list[str]) -> None:
        self.route_ids = list(ids)
        self.plan = None
        stops = list(self.route_ids)
        self.runner.write(
            lambda ctx: route_planning.save_stops(ctx, stops), label="Saving the day's route"
        )
        names = []
        if self.bundle is not None:
            acc = self.bundle.accounts
            unplaced = {a: n for a, n, _ in acc.unplaced}
            for a in self.route_ids:
                pos = acc.position(a)
                names.append(
                    (a, acc.names[pos] if pos is not None else unplaced.get(a, "(not on the map)"))
                )
        self.route_panel.set_plan(None, names)
        self.canvas.set_route([])
        if self.route_ids:
            self.optimise_route()

    def _on_route_remove_requested(self, account_id: str) -> None:
        self.set_route_ids([a for a in self.route_ids if a != account_id])

    def _on_route_options_changed(self) -> None:
        if self.route_ids:
            self.optimise_route()

    def route_start(self) -> tuple[tuple[float, float] | None, str]:
        choice = self.route_panel.start_choice
        if choice == "home":
            user = self.context.user() or {}
            if user.get("home_lat") is not None and user.get("home_lon") is not None:
                return (float(user["home_lat"]), float(user["home_lon"])), "Home"  # type: ignore[arg-type]
            self.say("No home address is set for you; the route starts at the map centre.")
        if choice in ("home", "centre"):
            lon, lat = self.canvas.lonlat_at(self.canvas.rect().center().toPointF())
            return (lat, lon), "Map centre"
        return None, "First stop"

    def optimise_route(self) -> Task | None:
        if not self.route_ids:
            return None
        ids = list(self.route_ids)
        start, label = self.route_start()
        round_trip = self.route_panel.round_trip.isChecked()
        times = self.route_panel.day_times()
        try:
            day = (
                route_planning.DayTimes(times[0], times[1], times[2], dict(self.appointments))
                if times
                else None
            )
        except ValidationError as exc:
            self.say(str(exc), error=True)
            return None

        def op(db: Path, _progress: Progress) -> route_planning.RoutePlan:
            conn = open_connection(db)
            try:
                return route_planning.plan(
                    conn, ids, start=start, start_label=label, round_trip=round_trip, day=day
                )
            finally:
                conn.close()

        return self.runner.run(
            op,
            label="Planning the route",
            on_success=self._on_route_planned,
            on_failure=lambda exc: self.say(str(exc), error=True),
        )

    def _on_route_planned(self, plan: route_planning.RoutePlan) -> None:
        if [s.account_id for s in plan.stops] and set(s.account_id for s in plan.stops) - set(
            self.route_ids
        ):
            return  # stale: the stops changed while it was planned
        self.plan = plan
        self.route_panel.set_plan(plan, [])
        points = ([plan.start] if plan.start is not None else []) + [
            (s.lat, s.lon) for s in plan.stops
        ]
        if plan.round_trip and plan.start is not None:
            points.append(plan.start)
        self.canvas.set_route(points)
        self.route_planned.emit(plan)

    def check_in(self, account_id: str) -> Any:
        """Open the Log visit dialog for a stop (one click; Enter logs it as Met, now)."""
        from fieldrep.ui.dialogs.log_visit_dialog import LogVisitDialog

        name = ""
        if self.bundle is not None:
            pos = self.bundle.accounts.position(account_id)
            name = self.bundle.accounts.names[pos] if pos is not None else ""
        dialog = self.visit_dialog = LogVisitDialog(
            self.context, self.runner, account_id, name, self._widget()
        )
        dialog.logged.connect(lambda _v, a=account_id: self._after_check_in(a))
        dialog.open()
        return dialog

    def _after_check_in(self, account_id: str) -> None:
        self.route_panel.checked_in.add(account_id)
        self.route_panel.set_plan(self.plan, [])
        self.say("Visit logged.")
        self.reload()

    def _on_route_export_requested(self, kind: str) -> None:
        if self.plan is None:
            return
        suffix = {"gpx": "GPX (*.gpx)", "csv": "CSV (*.csv)"}[kind]
        path, _ = QFileDialog.getSaveFileName(
            self._widget(), "Export the route", f"route.{kind}", suffix
        )
        if path:
            self.export_route(Path(path), kind)

    def export_route(self, path: Path, kind: str) -> None:
        if self.plan is None:
            raise ValueError("plan the route first")
        (route_planning.write_gpx if kind == "gpx" else route_planning.write_csv)(self.plan, path)
        self.say(f"Route written to {path}.")

    def _on_route_print_requested(self) -> None:
        from PySide6.QtPrintSupport import QPrintDialog, QPrinter

        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        dialog = QPrintDialog(printer, self._widget())
        if dialog.exec() == QPrintDialog.DialogCode.Accepted:
            self.print_route(printer)

    def print_route(self, device: Any) -> None:
        """The day on paper: the map as shown (route drawn), then the stops in order."""
        from PySide6.QtCore import QRectF, Qt
        from PySide6.QtGui import QFont, QPainter

        plan = self.plan
        if plan is None:
            return
        picture = self.canvas.grab()
        painter = QPainter(device)
        if not painter.isActive():
            self.say("The route could not be printed: the printer did not start.", error=True)
            return
        try:
            page = QRectF(0, 0, device.width(), device.height())
            dpi = device.logicalDpiY()
            font = QFont()
            font.setPointSizeF(10)
            painter.setFont(font)
            line = painter.fontMetrics().height() * 1.3
            map_height = page.height() * 0.45
            scaled = picture.scaled(
                int(page.width()), int(map_height), Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )  # fmt: skip
            painter.drawPixmap(0, 0, scaled)
            y = scaled.height() + dpi * 0.2
            summary_rect = QRectF(0, y, page.width(), line * 4)
            painter.drawText(summary_rect, Qt.TextFlag.TextWordWrap, plan.describe())
            y += line * 4
            for i, stop in enumerate(plan.stops, 1):
                if y + line > page.height():
                    device.newPage()
                    y = 0.0
                when = f"{stop.arrival}  " if stop.arrival else ""
                text = f"{i:>3}. {when}{stop.name} — {stop.address}  ({stop.leg_m / 1000:,.1f} km)"
                painter.drawText(QRectF(0, y, page.width(), line), text)
                y += line
        finally:
            painter.end()
        self.say("Route sent to the printer.")

    def set_appointment(self, account_id: str, window: tuple[time, time] | None) -> None:
        """A stop's appointment window for a day planned by time (None: any time)."""
        if window is None:
            self.appointments.pop(account_id, None)
        else:
            if window[1] <= window[0]:
                self.say("An appointment must end after it starts.", error=True)
                return
            self.appointments[account_id] = window
        if self.route_ids:
            self.optimise_route()

    def _on_route_appointment_requested(self, account_id: str) -> None:
        from PySide6.QtCore import QTime
        from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QTimeEdit

        dialog = QDialog(self._widget())
        dialog.setWindowTitle("Appointment")
        current = self.appointments.get(account_id)
        start = QTimeEdit(QTime(current[0].hour, current[0].minute) if current else QTime(10, 0))
        end = QTimeEdit(QTime(current[1].hour, current[1].minute) if current else QTime(10, 30))
        for edit in (start, end):
            edit.setDisplayFormat("HH:mm")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        clear = buttons.addButton("No appointment", QDialogButtonBox.ButtonRole.ResetRole)
        form = QFormLayout(dialog)
        form.addRow("Arrive from", start)
        form.addRow("until", end)
        form.addRow(buttons)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)

        def clear_appointment() -> None:
            self.set_appointment(account_id, None)
            dialog.reject()

        clear.clicked.connect(clear_appointment)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.set_appointment(account_id, (start.time().toPython(), end.time().toPython()))  # type: ignore[arg-type]
