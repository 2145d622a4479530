"""Definitions tab: territories in precedence order, the selected one's detail, and its members.

The list is in the order the engine tries territories (lower priority number first; ``#`` is the
rank) and shows each one's place in the hierarchy. Up/Down change precedence, the dialog edits the
four definitions, Archive keeps history but takes no new accounts. GeoJSON/KML import and export run
in the background. Members carry a routing weight and a capacity; "Hand over…" moves a leaving rep's
open work in one action. Every write goes through the territories service as a user write
(``runner.write``; the import ``runner.write_with_progress``): a refusal is said on the panel's
message line, the list refreshes once the write stood.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from fieldrep.domain.errors import FieldRepError
from fieldrep.domain.territory_rules import TerritoryDef
from fieldrep.services.context import Context
from fieldrep.services.territories import geojson
from fieldrep.services.territories import service as territory_service
from fieldrep.ui.dialogs.territory_edit_dialog import TerritoryEditDialog
from fieldrep.ui.dialogs.territory_handover_dialog import HandoverDialog
from fieldrep.ui.dialogs.territory_name_dialog import (
    FileChoices,
    TerritoryNameDialog,
    read_choices,
)
from fieldrep.ui.models.territories_table_model import RowsTableModel
from fieldrep.ui.roles import Access, apply_access
from fieldrep.ui.tasks import Progress, Task, TaskKind, TaskRunner
from fieldrep.ui.views.territory_common import MessageLine, table_view


def definition_text(r: dict[str, Any]) -> str:
    if r["kind"] == "region":
        return f"region of {r.get('children', 0)} territories"
    return ", ".join(territory_service.criteria_parts(r)) or "–"


def _with_paths(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Adds ``path`` (Region › Territory) and ``rank`` (precedence among active territories)."""
    by_id = {r["id"]: r for r in rows}
    for r in rows:
        if r["parent_id"] in by_id:
            parent = by_id[r["parent_id"]]
            parent["children"] = parent.get("children", 0) + 1
    rank = 0
    for r in rows:
        names: list[str] = []
        node: dict[str, Any] | None = r
        seen: set[str] = set()
        while node is not None and node["id"] not in seen:
            seen.add(node["id"])
            names.append(node["name"])
            node = by_id.get(node["parent_id"]) if node["parent_id"] else None
        r["path"] = " › ".join(reversed(names))
        if r["kind"] == "territory" and not r["archived"]:
            rank += 1
            r["rank"] = rank
        else:
            r["rank"] = None
    return rows


def _import(
    path: Path,
    name_property: str | None,
    region_country: str | None,
    ctx: Context,
    progress: Progress,
) -> geojson.ImportResult:
    """The import's write, on the worker's context."""
    progress.report(0, None, f"Importing {path.name}")
    return geojson.import_file(
        ctx, path, name_property=name_property, region_country=region_country
    )


def _properties(path: Path) -> Any:
    def run(db_path: Path, progress: Progress) -> FileChoices:
        progress.report(0, None, f"Reading {path.name}")
        return read_choices(db_path, path)

    return run


class TerritoryDefinitionsPanel(QWidget):
    changed = Signal()  # after any write (the page refreshes KPIs and other tabs)
    import_finished = Signal(bool)  # True: imported; False: refused (message shown)

    def __init__(self, ctx: Context, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx, self.runner = ctx, runner
        self.model = RowsTableModel(
            [
                ("#", lambda r: r["rank"] or "", True),
                (
                    "Territory",
                    lambda r: r["name"] + ("  (archived)" if r["archived"] else ""),
                    False,
                ),
                ("Hierarchy", lambda r: r["path"], False),
                ("Priority", lambda r: r["priority"], True),
                ("Matched by", definition_text, False),
                ("Accounts", lambda r: f"{r['accounts']:,}", True),
                ("Owner", lambda r: r["owner_name"], False),
                ("Members", lambda r: r["members"], True),
            ]
        )
        self.model.colour = lambda r: r["color"]
        self.table = table_view(self.model, stretch_last=False)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        # A rep sees the definitions; editing them is a manager's (fieldrep.ui.roles).
        self.access = Access(True)
        self.table.doubleClicked.connect(
            lambda _i: self.edit_selected() if self.access.manager_tools else None
        )
        self.show_archived = QCheckBox("Show archived")
        self.show_archived.setChecked(True)
        self.show_archived.toggled.connect(lambda _on: self.refresh())
        toolbar = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for text, slot, tip in (
            ("New…", self.new_territory, "Define a territory or region"),
            (
                "Edit…",
                self.edit_selected,
                "Polygon, postal codes, regions, rules, parent, priority",
            ),
            ("▲ Up", lambda: self.move_selected(-1), "Win over the territory above"),
            ("▼ Down", lambda: self.move_selected(1), "Yield to the territory below"),
            ("Archive / Restore", self.toggle_archive, "Archived territories take no accounts"),
            ("Import GeoJSON/KML…", self._on_import_clicked, "Create or update from a file"),
            ("Export GeoJSON…", self._on_export_clicked, "All territories with properties"),
        ):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            toolbar.addWidget(button)
            self.buttons[text] = button
        toolbar.addStretch(1)
        toolbar.addWidget(self.show_archived)
        self.message = MessageLine(
            "Precedence: when two territories match the same way, the one higher in this list "
            "(lower priority number) wins. A polygon beats a postal code, which beats a region, "
            "which beats an attribute rule."
        )
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setTextFormat(Qt.TextFormat.RichText)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        detail_box = QGroupBox("Selected territory")
        QVBoxLayout(detail_box).addWidget(self.detail)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(detail_box, 2)
        right_layout.addWidget(self._build_members(), 3)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([860, 540])
        layout = QVBoxLayout(self)
        layout.addLayout(toolbar)
        layout.addWidget(self.message)
        layout.addWidget(split, 1)
        self.refresh()

    def _build_members(self) -> QWidget:
        self.member_model = RowsTableModel(
            [
                ("Member", lambda m: m["display_name"] or m["username"], False),
                ("Role", lambda m: m["role"], False),
                ("Routing weight", lambda m: f"{m['routing_weight']:g}", True),
                ("Capacity", lambda m: m["capacity"] if m["capacity"] is not None else "∞", True),
                ("Accounts here", lambda m: f"{m['accounts']:,}", True),
            ]
        )
        self.member_table = table_view(self.member_model)
        self.member_table.selectionModel().selectionChanged.connect(self._on_member_selected)
        self.member_user = QComboBox()
        # Names come from the user's data: a long one must not widen the window.
        self.member_user.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.member_user.setMinimumContentsLength(16)
        self.refresh_users()
        self.member_weight = QDoubleSpinBox()
        self.member_weight.setRange(0, 100)
        self.member_weight.setValue(1.0)
        self.member_weight.setToolTip("Share of new leads: weight 2 gets twice as many as weight 1")
        self.member_capacity = QSpinBox()
        self.member_capacity.setRange(0, 1_000_000)
        self.member_capacity.setSpecialValueText("unlimited")
        self.member_capacity.setToolTip("Open items above which the member gets no new leads")
        # Two rows, so the panel stays narrow and the territory list keeps its columns at 1366.
        editor = QGridLayout()
        editor.addWidget(QLabel("User"), 0, 0)
        editor.addWidget(self.member_user, 0, 1, 1, 3)
        editor.addWidget(QLabel("Weight"), 1, 0)
        editor.addWidget(self.member_weight, 1, 1)
        editor.addWidget(QLabel("Capacity"), 1, 2)
        editor.addWidget(self.member_capacity, 1, 3)
        editor.setColumnStretch(1, 1)
        editor.setColumnStretch(3, 1)
        buttons = QHBoxLayout()
        for text, slot in (
            ("Add / update member", self.set_member),
            ("Remove", self.remove_member),
            ("Hand over…", self.open_handover),
        ):
            button = QPushButton(text)
            button.clicked.connect(slot)
            buttons.addWidget(button)
            self.buttons[text] = button
        buttons.addStretch(1)
        box = QGroupBox("Members: routing weight and capacity")
        layout = QVBoxLayout(box)
        layout.addWidget(self.member_table, 1)
        layout.addLayout(editor)
        layout.addLayout(buttons)
        return box

    def refresh_users(self) -> None:
        """The users a member can be chosen from (a sync may bring new ones)."""
        current = self.member_user.currentData()
        self.member_user.clear()
        for u in self.ctx.db.query(
            "SELECT id, coalesce(nullif(display_name, ''), username) AS n "
            "FROM users WHERE active = 1 ORDER BY n"
        ):
            self.member_user.addItem(u["n"], u["id"])
        self.member_user.setCurrentIndex(max(0, self.member_user.findData(current)))

    def manager_widgets(self) -> list[QWidget]:
        """What changes definitions or members: a manager's tools (exporting is anyone's)."""
        tools: list[QWidget] = [
            button for text, button in self.buttons.items() if not text.startswith("Export")
        ]
        return [*tools, self.member_user, self.member_weight, self.member_capacity]

    def set_access(self, access: Access) -> None:
        self.access = access
        apply_access(self.manager_widgets(), access)

    # -- list and selection -----------------------------------------------------------------------

    def refresh(self) -> None:
        selected = self.selected_id()
        rows = _with_paths(
            territory_service.territory_rows(self.ctx, self.show_archived.isChecked())
        )
        self.model.set_rows(rows)
        for i, r in enumerate(rows):
            if r["id"] == selected:
                self.table.selectRow(i)
        self._show_selected()

    def selected_id(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row(rows[0].row())["id"] if rows else None

    def select(self, name: str) -> None:
        for i, r in enumerate(self.model.rows):
            if r["name"] == name:
                self.table.selectRow(i)

    def names(self) -> list[str]:
        return [r["name"] for r in self.model.rows]

    def _on_selection_changed(self, *_: object) -> None:
        self._show_selected()

    def _show_selected(self) -> None:
        tid = self.selected_id()
        self.member_model.set_rows(territory_service.members(self.ctx, tid) if tid else [])
        self.detail.setText(self._detail_html(tid) if tid else "Select a territory.")

    def _detail_html(self, tid: str) -> str:
        row = next(r for r in self.model.rows if r["id"] == tid)
        t = TerritoryDef.from_row(territory_service.get_row(self.ctx, tid))
        esc = html.escape
        lines = [
            f"<b style='color:{t.color}'>■</b> <b>{esc(row['path'])}</b> · {t.kind}"
            + (" · <i>archived</i>" if t.archived else ""),
            f"Priority {t.priority}"
            + (f" (#{row['rank']} in precedence)" if row["rank"] else "")
            + f" · owner {esc(row['owner_name'] or 'none')} · {row['accounts']:,} accounts",
        ]
        if t.geometry is not None:
            lines.append(f"Polygon: {len(t.geometry.geoms)} part(s)")
        if t.postal_codes:
            codes = sorted(t.postal_codes)
            more = f" … and {len(codes) - 12:,} more" if len(codes) > 12 else ""
            lines.append(f"Postal codes ({len(codes):,}): {esc(', '.join(codes[:12]))}{more}")
        if t.regions:
            lines.append("Regions: " + esc(", ".join(r.label() for r in t.regions)))
        for n, rule in enumerate(t.rules, 1):
            lines.append(f"Rule {n}: {esc(rule.describe())}")
        children = [r["name"] for r in self.model.rows if r["parent_id"] == tid]
        if children:
            lines.append("Contains: " + esc(", ".join(children)))
        if t.kind == "territory" and not t.has_criteria():
            lines.append("<span style='color:#D97706'>No definition: matches no account.</span>")
        return "<br>".join(lines)

    def _on_member_selected(self, *_: object) -> None:
        rows = self.member_table.selectionModel().selectedRows()
        if not rows:
            return
        m = self.member_model.row(rows[0].row())
        self.member_user.setCurrentIndex(max(self.member_user.findData(m["user_id"]), 0))
        self.member_weight.setValue(float(m["routing_weight"]))
        self.member_capacity.setValue(m["capacity"] or 0)

    # -- writes (through the service) -------------------------------------------------------------

    def _write(self, action: Callable[[Context], Any], label: str, done: str) -> Task:
        """A user write of this panel: ``done`` on the message line and the list refreshed once
        it stood, the service's sentence there if refused."""
        return self.runner.write(
            action,
            label=label,
            on_success=lambda _result: self._on_written(done),
            on_error=self._on_refused,
        )

    def _on_written(self, done: str) -> None:
        self.message.ok(done)
        self.refresh()
        self.changed.emit()

    def _on_refused(self, error: FieldRepError) -> None:
        self.message.error(str(error))

    def _on_dialog_saved(self) -> None:
        self.message.ok("Saved. Run the reassignment to apply the change to accounts.")
        self.refresh()
        self.changed.emit()

    def new_territory(self) -> TerritoryEditDialog:
        dialog = TerritoryEditDialog(self.ctx, self.runner, None, self)
        dialog.accepted.connect(self._on_dialog_saved)
        dialog.open()
        return dialog

    def edit_selected(self) -> TerritoryEditDialog | None:
        tid = self.selected_id()
        if tid is None:
            return None
        dialog = TerritoryEditDialog(self.ctx, self.runner, tid, self)
        dialog.accepted.connect(self._on_dialog_saved)
        dialog.open()
        return dialog

    def move_selected(self, direction: int) -> Task | None:
        tid = self.selected_id()
        if not tid:
            return None
        return self._write(
            partial(_move, tid, direction),
            "Changing precedence",
            "Precedence changed; run the reassignment to apply it to accounts.",
        )

    def toggle_archive(self) -> Task | None:
        tid = self.selected_id()
        if not tid:
            return None
        archived = bool(territory_service.get_row(self.ctx, tid)["archived"])
        return self._write(
            partial(_archive, tid, not archived),
            "Restoring territory" if archived else "Archiving territory",
            "Restored." if archived else "Archived: it keeps its history but takes no accounts.",
        )

    def set_member(self) -> Task | None:
        tid = self.selected_id()
        if not tid:
            return None
        return self._write(
            partial(
                _set_member,
                tid,
                self.member_user.currentData(),
                self.member_weight.value(),
                self.member_capacity.value() or None,
            ),
            "Saving member",
            f"{self.member_user.currentText()} saved as a member.",
        )

    def remove_member(self) -> Task | None:
        tid = self.selected_id()
        if not tid:
            return None
        return self._write(
            partial(_remove_member, tid, self.member_user.currentData()),
            "Removing member",
            f"{self.member_user.currentText()} removed.",
        )

    def open_handover(self) -> HandoverDialog:
        tid = self.selected_id()
        rows = self.member_table.selectionModel().selectedRows()
        from_user = self.member_model.row(rows[0].row())["user_id"] if rows else None
        dialog = HandoverDialog(self.ctx, self.runner, tid, from_user, self)
        dialog.handed_over.connect(self._on_handed_over)
        dialog.open()
        return dialog

    def _on_handed_over(self, text: str) -> None:
        self.message.ok(text)
        self.refresh()
        self.changed.emit()

    # -- files (in the background) ----------------------------------------------------------------

    def choose_and_import(self, path: str | Path) -> None:
        """Read the file's properties, let the user choose the one that names a territory, then
        import (the reading and the import run in the background)."""
        path = Path(path)
        self.message.info(f"Reading {path.name}…")
        self.runner.run(
            _properties(path),
            kind=TaskKind.READ,
            label=f"Reading {path.name}",
            on_success=lambda found: self._on_properties_read(path, found),
            on_failure=self._on_import_failed,
        )

    def _on_properties_read(self, path: Path, found: FileChoices) -> None:
        dialog = TerritoryNameDialog(
            path.name, found.properties, self, runner=self.runner, path=path, regions=found.regions
        )
        if dialog.exec() != TerritoryNameDialog.DialogCode.Accepted:
            self.message.info("Import cancelled; nothing changed.")
            return
        self.import_file(path, dialog.name_property(), dialog.region_country())

    def import_file(
        self,
        path: str | Path,
        name_property: str | None = None,
        region_country: str | None = "book",
    ) -> Task:
        """Import ``path`` (a long user write); ``region_country``: whose states its two-letter
        regions are (None: countries), remembered for the book; "book": the book's reading."""
        path = Path(path)
        self.message.info(f"Importing {path.name}…")
        return self.runner.write_with_progress(
            partial(_import, path, name_property, region_country),
            label=f"Importing {path.name}",
            on_success=lambda result: self._on_imported(path, result),
            on_error=self._on_import_failed,
            on_failure=self._on_import_failed,
        )

    def _on_imported(self, path: Path, result: geojson.ImportResult) -> None:
        text = (
            f"Imported {path.name}: {len(result.created)} created, {len(result.updated)} updated, "
            f"{result.members_added} member(s) added. Run the reassignment to apply it."
        )
        if result.region_reading:
            text += f" {result.region_reading[0].upper()}{result.region_reading[1:]}."
        warnings = result.warning_lines()
        shown = warnings[:5] + ([f"and {len(warnings) - 5:,} more"] if len(warnings) > 5 else [])
        self.message.ok(text + "".join(f" Warning: {w}" for w in shown))
        self.refresh()
        self.changed.emit()
        self.import_finished.emit(True)

    def _on_import_failed(self, exc: BaseException) -> None:
        self.message.error(f"Nothing imported: {exc}")
        self.import_finished.emit(False)

    def export_file(self, path: str | Path) -> bool:
        try:
            count = geojson.export_file(self.ctx, path)
        except OSError as exc:
            self.message.error(f"Cannot write {path}: {exc.strerror}")
            return False
        self.message.ok(f"Exported {count} territories to {path}.")
        return True

    def _on_import_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Import territories",
            "",
            "Boundary files (*.geojson *.json *.topojson *.kml *.kmz)",
        )
        if path:
            self.choose_and_import(path)

    def _on_export_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export territories", "territories.geojson", "GeoJSON (*.geojson)"
        )
        if path:
            self.export_file(path)


def _move(tid: str, direction: int, ctx: Context) -> None:
    territory_service.move_precedence(ctx, tid, direction)


def _archive(tid: str, archived: bool, ctx: Context) -> None:
    territory_service.archive_territory(ctx, tid, archived)


def _set_member(tid: str, user_id: str, weight: float, capacity: int | None, ctx: Context) -> None:
    territory_service.set_member(ctx, tid, user_id, weight=weight, capacity=capacity)


def _remove_member(tid: str, user_id: str, ctx: Context) -> None:
    territory_service.remove_member(ctx, tid, user_id)
