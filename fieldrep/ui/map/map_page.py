"""The Map page: every account on an offline map, territories, selection, nearby, the day's route.

The page owns the data (one :class:`~fieldrep.services.map.data.MapAccounts` read on a worker, its
STRtree index and the projected territories) and the side panels; the canvas draws and reports what
the user pointed at. Writes (assignments, a moved pin, a new outline, a visit) go through the
services, on the write lane of the task runner, and the map reloads what they changed.

Kept whole: the page owns the data and wires the canvas, its toolbar and the side panels to each
other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from fieldrep.geo import basemap as basemap_data
from fieldrep.geo.spatial import PointIndex
from fieldrep.services.accounts import visits
from fieldrep.services.context import Context
from fieldrep.services.map import route_planning
from fieldrep.services.map import selection as map_selection
from fieldrep.services.map.data import COLOR_BY, COLOR_BY_LABELS, MapAccounts, load_accounts
from fieldrep.store.db import open_connection
from fieldrep.ui import theme
from fieldrep.ui.map.canvas import MapCanvas
from fieldrep.ui.map.layers import MarkerData, TerritoryGeom, territory_geoms
from fieldrep.ui.map.map_panels import LegendPanel, NearbyPanel, SelectionPanel
from fieldrep.ui.map.map_route_actions import RouteActionsMixin
from fieldrep.ui.map.map_territory_actions import TerritoryActionsMixin
from fieldrep.ui.map.map_view_actions import ViewActionsMixin
from fieldrep.ui.map.route_panel import RoutePanel
from fieldrep.ui.tasks import Progress, Task, TaskRunner

log = logging.getLogger(__name__)

TOOLS = (
    ("pan", "Pan", "Drag to move, wheel to zoom, click an account to open it (H)"),
    ("rect", "Rectangle", "Drag a rectangle to select accounts; Shift adds (R)"),
    ("lasso", "Lasso", "Draw around accounts to select them; Shift adds (L)"),
    ("pick", "Nearby", "Click a point to list the accounts around it (N)"),
    (
        "draw",
        "Draw territory",
        "Click corners, double-click or Enter to finish, Backspace undoes, drag a corner to move it (D)",
    ),
    ("move_pin", "Move pin", "Drag the open account's pin to where it really is (M)"),
)


@dataclass
class MapBundle:
    accounts: MapAccounts
    index: PointIndex
    territories: tuple[TerritoryGeom, ...]
    basemap: basemap_data.Basemap
    tasks: list[dict[str, Any]]
    route_ids: list[str]


def load_bundle(db_path: Path, progress: Progress, user_id: str | None = None) -> MapBundle:
    """Read everything the map shows (on a worker: ~1 s for 100,000 accounts)."""
    progress.report(0, 3, "Reading accounts")
    conn = open_connection(db_path)
    try:
        accounts = load_accounts(conn)
        progress.report(1, 3, "Indexing locations")
        index = PointIndex(accounts.wx, accounts.wy)
        shapes = territory_geoms(accounts.territories)
        tasks = visits.due_tasks(conn, user_id)
        route_ids = route_planning.load_stops(conn)
    finally:
        conn.close()
    progress.report(2, 3, "Loading the basemap")
    return MapBundle(accounts, index, shapes, basemap_data.load(), tasks, route_ids)


class MapPage(RouteActionsMixin, TerritoryActionsMixin, ViewActionsMixin, QWidget):
    account_open_requested = Signal(str)
    loaded = Signal()
    route_planned = Signal(object)  # RoutePlan

    def __init__(self, context: Context, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mapPage")
        self.context = context
        self.runner = runner
        self.bundle: MapBundle | None = None
        self.color_by = "territory"
        self.route_ids: list[str] = []
        self.appointments: dict[str, tuple[Any, Any]] = {}  # account id -> (start, end) times
        self.plan: route_planning.RoutePlan | None = None
        self.nearby_center: tuple[float, float] | None = None
        self.editing_territory: str | None = None
        self.split_target: str | None = None
        self.territory_dialog: Any = None
        self.visit_dialog: Any = None
        self._load_task: Task | None = None
        self.tile_source: Any = None

        self.canvas = MapCanvas(runner)
        self.canvas.account_clicked.connect(self._on_canvas_account_clicked)
        self.canvas.selection_made.connect(self._on_canvas_selection_made)
        self.canvas.point_picked.connect(self._on_canvas_point_picked)
        self.canvas.polygon_drawn.connect(self._on_canvas_polygon_drawn)
        self.canvas.pin_moved.connect(self._on_canvas_pin_moved)
        self.canvas.scene_updated.connect(self._on_canvas_scene_updated)

        self.legend = LegendPanel()
        self.legend.unplaced_opened.connect(self.account_open_requested)
        self.selection_panel = SelectionPanel()
        self.selection_panel.account_activated.connect(self.show_account)
        self.selection_panel.add_to_route_requested.connect(self._on_selection_add_to_route)
        self.selection_panel.assign_requested.connect(self._on_selection_assign_requested)
        self.selection_panel.export_requested.connect(self._on_selection_export_requested)
        self.selection_panel.clear_requested.connect(lambda: self.select(np.empty(0, np.int64)))
        self.nearby_panel = NearbyPanel()
        self.nearby_panel.pick_requested.connect(lambda: self.set_tool("pick"))
        self.nearby_panel.around_current_requested.connect(self._on_nearby_around_current)
        self.nearby_panel.changed.connect(self.refresh_nearby)
        self.nearby_panel.account_activated.connect(self.show_account)
        self.nearby_panel.add_to_route_requested.connect(self._on_nearby_add_to_route)
        self.route_panel = RoutePanel()
        self.route_panel.optimise_requested.connect(self.optimise_route)
        self.route_panel.check_in_requested.connect(self.check_in)
        self.route_panel.remove_requested.connect(self._on_route_remove_requested)
        self.route_panel.clear_requested.connect(lambda: self.set_route_ids([]))
        self.route_panel.export_requested.connect(self._on_route_export_requested)
        self.route_panel.print_requested.connect(self._on_route_print_requested)
        self.route_panel.appointment_requested.connect(self._on_route_appointment_requested)
        self.route_panel.stop_activated.connect(self.show_account)
        self.route_panel.task_accounts_requested.connect(self._on_route_task_accounts)
        self.route_panel.options_changed.connect(self._on_route_options_changed)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("mapTabs")
        self.tabs.addTab(self.route_panel, "Today")
        self.tabs.addTab(self.legend, "Legend")
        self.tabs.addTab(self.selection_panel, "Selection")
        self.tabs.addTab(self.nearby_panel, "Nearby")
        self.tabs.setMinimumWidth(300)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.canvas)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setSizes([900, 340])
        splitter.setChildrenCollapsible(False)

        self.message = QLabel()
        self.message.setObjectName("mapMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 8)
        layout.setSpacing(6)
        layout.addLayout(self._build_toolbar())
        layout.addWidget(splitter, 1)
        layout.addWidget(self.message)
        self.set_tool("pan")
        self.reload()

    def _build_toolbar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        bar.setSpacing(6)
        self.color_combo = QComboBox()
        self.color_combo.setObjectName("mapColorBy")
        for key in COLOR_BY:
            self.color_combo.addItem(COLOR_BY_LABELS[key], key)
        self.color_combo.currentIndexChanged.connect(self._on_color_combo_changed)
        bar.addWidget(QLabel("Colour by"))
        bar.addWidget(self.color_combo)
        bar.addSpacing(8)
        self.tool_group = QButtonGroup(self)
        self.tool_group.setExclusive(True)
        self.tool_buttons: dict[str, QPushButton] = {}
        shortcuts = {
            "pan": "H",
            "rect": "R",
            "lasso": "L",
            "pick": "N",
            "draw": "D",
            "move_pin": "M",
        }
        for key, label, tip in TOOLS:
            button = QPushButton(label)
            button.setCheckable(True)
            button.setToolTip(tip)
            button.setShortcut(shortcuts[key])
            button.clicked.connect(lambda _c=False, key=key: self.set_tool(key))
            self.tool_group.addButton(button)
            self.tool_buttons[key] = button
            if key == "draw":
                button.setText("Drawing")
                button.setVisible(False)  # shown while drawing; started from Territories
            bar.addWidget(button)
        bar.addSpacing(8)
        # Territory outlines in one menu, so the bar fits a 1366-pixel screen beside the sidebar.
        self.territories_button = QPushButton("Territories")
        self.territories_button.setToolTip("Show, draw, edit, split or merge territory outlines")
        menu = QMenu(self.territories_button)
        self.show_territories_action = menu.addAction("Show territories")
        self.show_territories_action.setCheckable(True)
        self.show_territories_action.setChecked(True)
        self.show_territories_action.toggled.connect(
            lambda on: self.canvas.set_layers(territories=on)
        )
        menu.addSeparator()
        menu.addAction("Draw a new territory (D)", lambda: self.set_tool("draw"))
        menu.addAction("Edit an outline…", self._on_edit_outline_clicked)
        menu.addAction("Split a territory along a line…", self._on_split_clicked)
        menu.addAction("Merge two territories…", self._on_merge_clicked)
        self.territories_button.setMenu(menu)
        bar.addWidget(self.territories_button)
        self.cluster_check = QCheckBox("Clusters")
        self.cluster_check.setToolTip("Group nearby accounts into counted circles when zoomed out")
        self.cluster_check.setChecked(True)
        self.cluster_check.toggled.connect(lambda on: self.canvas.set_layers(cluster=on))
        bar.addWidget(self.cluster_check)
        bar.addStretch(1)
        self.map_button = QPushButton("Map")
        self.map_button.setToolTip(
            "Detailed tiles under the accounts (an MBTiles file, or a tile server cached for "
            "offline use) and exporting the view"
        )
        menu = QMenu(self.map_button)
        menu.addAction("Open offline map (MBTiles)…", self._on_open_mbtiles)
        menu.addAction("Use a tile server…", self._on_use_tile_server)
        menu.addAction("Built-in outlines only", self.clear_tiles)
        menu.addAction("Offline tile cache size…", self._on_tile_cache_size)
        menu.addSeparator()
        menu.addAction("Export view as PNG or PDF…", self._on_export_clicked)
        self.map_button.setMenu(menu)
        bar.addWidget(self.map_button)
        return bar

    # -- loading ---------------------------------------------------------------------------------

    def reload(self) -> Task:
        """Re-read the accounts and territories (after a write, or when the page is opened)."""
        user = self.context.user_id
        if self.bundle is None:
            self.canvas.busy_label.setText("Loading accounts…")
            self.canvas.busy_label.adjustSize()
            self.canvas.busy_label.show()
        self._load_task = self.runner.run(
            lambda db, progress: load_bundle(db, progress, user),
            label="Loading the map",
            on_success=self._on_bundle_loaded,
            on_failure=self._on_bundle_failed,
        )
        return self._load_task

    def _on_bundle_loaded(self, bundle: MapBundle) -> None:
        first = self.bundle is None
        self.canvas.busy_label.setText("Drawing the map…")
        self.canvas.busy_label.adjustSize()
        previous = self.current_account_id()
        self.bundle = bundle
        acc = bundle.accounts
        self.canvas.set_basemap(bundle.basemap)
        self.canvas.set_data(acc, bundle.index, bundle.territories, self._markers())
        if previous is not None:
            self.canvas.current = acc.position(previous)
        self.selection_panel.set_selection(acc, self.canvas.selection)
        self.selection_panel.set_choices(
            [(t.id, t.name) for t in acc.territories],
            sorted(acc.owner_names.items(), key=lambda kv: kv[1].lower()),
        )
        self._update_legend()
        self.legend.set_unplaced(acc.unplaced)
        self.legend.credits.setText(bundle.basemap.credits)
        self.route_panel.set_tasks(bundle.tasks)
        if first:
            self.canvas.fit_accounts()
            if bundle.route_ids:
                self.route_ids = bundle.route_ids
                self.optimise_route()
        self.refresh_nearby()
        if first:  # a reload after an edit keeps the edit's own message
            self.say(
                f"{len(acc):,} accounts on the map"
                + (
                    f", {len(acc.unplaced):,} without a location (listed under Legend)"
                    if acc.unplaced
                    else ""
                )
                + "."
            )
        self.loaded.emit()

    def _on_bundle_failed(self, exc: BaseException) -> None:
        self.say(f"The map could not be loaded: {exc}", error=True)

    def _markers(self) -> MarkerData | None:
        if self.bundle is None:
            return None
        acc = self.bundle.accounts
        coding = acc.coding(self.color_by)
        return MarkerData(
            acc.wx, acc.wy, coding.codes.astype(np.int64), tuple(c.color for c in coding.categories)
        )

    def _update_legend(self) -> None:
        if self.bundle is None:
            return
        acc = self.bundle.accounts
        self.legend.set_coding(
            COLOR_BY_LABELS[self.color_by],
            acc.coding(self.color_by),
            len(self.bundle.territories),
            len(acc.territories),
        )

    def _on_color_combo_changed(self) -> None:
        self.set_color_by(str(self.color_combo.currentData()))

    def set_color_by(self, key: str) -> None:
        self.color_by = key
        self.color_combo.setCurrentIndex(COLOR_BY.index(key))
        self.canvas.set_markers(self._markers())
        self._update_legend()

    # -- messages and tools ------------------------------------------------------------------------

    def say(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {theme.DANGER};" if error else "")

    def set_tool(self, key: str) -> None:
        self.tool_buttons[key].setChecked(True)
        self.tool_buttons["draw"].setVisible(key == "draw")
        if key != "draw":
            self.editing_territory = self.split_target = None
        self.canvas.set_mode(key)
        self.canvas.setFocus()
        hints = {
            "move_pin": "Open an account (click it in Pan mode), then drag its pin.",
            "draw": "Click the corners of the new territory; double-click or press Enter to finish.",
            "pick": "Click the map where you want to look around.",
        }
        if key in hints:
            self.say(hints[key])
        if key == "pick":
            self.tabs.setCurrentWidget(self.nearby_panel)

    # -- accounts ----------------------------------------------------------------------------------

    def current_account_id(self) -> str | None:
        if self.bundle is None or self.canvas.current is None:
            return None
        return self.bundle.accounts.ids[self.canvas.current]

    def show_account(self, account_id: str) -> bool:
        """Centre the map on an account and mark it (the Accounts list calls this too)."""
        if self.bundle is None:
            return False
        pos = self.bundle.accounts.position(account_id)
        if pos is None:
            self.say("That account has no location, so it is not on the map.")
            return False
        self.canvas.set_current(pos, center=True)
        return True

    def _on_canvas_account_clicked(self, pos: int) -> None:
        if self.bundle is None:
            return
        self.canvas.set_current(pos)
        if self.canvas.mode == "pan":
            self.account_open_requested.emit(self.bundle.accounts.ids[pos])
        else:
            self.say(f"{self.bundle.accounts.names[pos]}: drag the pin to move it.")

    def select(self, positions: np.ndarray[Any, Any]) -> None:
        self.canvas.set_selection(positions)
        self.selection_panel.set_selection(
            self.bundle.accounts if self.bundle else None, self.canvas.selection
        )

    def selected_ids(self) -> list[str]:
        if self.bundle is None:
            return []
        return [self.bundle.accounts.ids[i] for i in self.canvas.selection.tolist()]

    def _on_canvas_selection_made(self, positions: np.ndarray[Any, Any], additive: bool) -> None:
        if additive:
            positions = np.union1d(self.canvas.selection, positions)
        self.select(positions)
        self.tabs.setCurrentWidget(self.selection_panel)

    def _on_selection_assign_requested(
        self, territory_id: str | None, owner_id: str | None
    ) -> None:
        ids = self.selected_ids()
        if territory_id is None and owner_id is None:
            self.say("Choose a territory or a rep to assign the selection to.", error=True)
            return

        self.runner.write(
            lambda ctx: map_selection.assign(
                ctx, ids, territory_id=territory_id, owner_id=owner_id
            ),
            label=f"Assigning {len(ids):,} accounts",
            on_success=self._after_assign,
            on_failure=lambda exc: self.say(str(exc), error=True),
        )

    def _after_assign(self, changed: int) -> None:
        self.say(
            f"{changed:,} accounts assigned and locked, so the territory rules keep them there."
        )
        self.reload()

    def _on_selection_export_requested(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export selected accounts", "selection.csv", "CSV (*.csv)"
        )
        if path:
            self.export_selection(Path(path))

    def export_selection(self, path: Path) -> int:
        count = map_selection.export_csv(self.context, self.selected_ids(), path)
        self.say(f"{count:,} accounts written to {path}.")
        return count

    def _on_canvas_pin_moved(self, pos: int, lat: float, lon: float) -> None:
        if self.bundle is None:
            return
        account_id, name = self.bundle.accounts.ids[pos], self.bundle.accounts.names[pos]

        def move(ctx: Context) -> dict[str, Any]:
            from fieldrep.services.accounts.service import AccountsService

            return AccountsService(ctx).set_location(account_id, lat, lon)

        self.runner.write(
            move,
            label=f"Moving {name}",
            on_success=lambda _c: self._after_pin_moved(name, lat, lon),
            on_failure=lambda exc: self.say(f"{name} could not be moved: {exc}", error=True),
        )

    def _after_pin_moved(self, name: str, lat: float, lon: float) -> None:
        self.say(f"{name} moved to {lat:.5f}, {lon:.5f} (placed by hand).")
        self.reload()

    # -- nearby ------------------------------------------------------------------------------------

    def _on_canvas_point_picked(self, lat: float, lon: float) -> None:
        self.nearby_center = (lat, lon)
        self.nearby_panel.center_label.setText(f"Around {lat:.4f}, {lon:.4f}")
        self.refresh_nearby()

    def _on_nearby_around_current(self) -> None:
        if self.bundle is None or self.canvas.current is None:
            self.say("Open an account first (click it on the map).", error=True)
            return
        acc, pos = self.bundle.accounts, self.canvas.current
        self.nearby_center = (float(acc.lat[pos]), float(acc.lon[pos]))
        self.nearby_panel.center_label.setText(f"Around {acc.names[pos]}")
        self.tabs.setCurrentWidget(self.nearby_panel)
        self.refresh_nearby()

    def nearby(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Accounts within the radius of the chosen point that pass the filters, nearest first."""
        if self.bundle is None or self.nearby_center is None:
            return np.empty(0, np.int64), np.empty(0)
        lat, lon = self.nearby_center
        positions, dist = self.bundle.index.within_metres(lat, lon, self.nearby_panel.radius_m)
        min_days, status = self.nearby_panel.filters()
        acc = self.bundle.accounts
        keep = np.ones(len(positions), dtype=bool)
        if min_days is not None:
            days = acc.last_visit_days[positions]
            keep &= np.isnan(days) | (days >= min_days)
        if status is not None:
            keep &= np.array([acc.status[i] == status for i in positions.tolist()], dtype=bool)
        return positions[keep], dist[keep]

    def refresh_nearby(self) -> None:
        if self.bundle is None or self.nearby_center is None:
            self.canvas.set_nearby(None)
            return
        positions, dist = self.nearby()
        self.nearby_panel.set_results(self.bundle.accounts, positions, dist)
        self.canvas.set_nearby((*self.nearby_center, self.nearby_panel.radius_m))
        self.select(positions)

    def _on_nearby_add_to_route(self) -> None:
        positions, _ = self.nearby()
        if self.bundle is not None:
            self.add_to_route([self.bundle.accounts.ids[i] for i in positions.tolist()])
