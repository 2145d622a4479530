"""Create or edit one territory: name, kind, parent, priority, colour and the four definitions.

Polygons come from a GeoJSON or KML file (drawing arrives with the map page); postal codes are pasted
(thousands are fine, one per line or comma-separated; leading zeros are kept); regions as
``US-MA, US-NH``; attribute rules are built from industry, size, status and a potential range. Saving is a user write
(``runner.write``) through the territories service, which checks the whole set; Save waits
while it runs, a refusal is shown in the dialog, which stays open with everything the manager
typed, and the dialog closes once the territory is saved.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from fieldrep.domain.errors import FieldRepError
from fieldrep.domain.territory_rules import (
    SIZE_BANDS,
    STATUSES,
    AttributeRule,
    TerritoryDef,
    geometry_to_geojson,
)
from fieldrep.services.context import Context
from fieldrep.services.referrals import sla
from fieldrep.services.referrals.model import Stage
from fieldrep.services.territories import geojson as territory_geojson
from fieldrep.services.territories import service as territory_service
from fieldrep.ui.tasks import Task, TaskRunner
from fieldrep.ui.widgets.screen_fit import fit_on_show


def _row(*widgets: QWidget) -> QWidget:
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        layout.addWidget(w)
    layout.addStretch(1)
    return box


class TerritoryEditDialog(QDialog):
    def __init__(
        self,
        ctx: Context,
        runner: TaskRunner,
        territory_id: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        fit_on_show(self)  # at least its size hint, within the screen
        self.ctx = ctx
        self.runner = runner
        self.territory_id = territory_id
        self.setWindowTitle("Edit territory" if territory_id else "New territory")
        self.resize(640, 700)
        current = (
            TerritoryDef.from_row(territory_service.get_row(ctx, territory_id))
            if territory_id
            else TerritoryDef(id="", name="")
        )
        self._geometry: dict[str, Any] | None = (
            geometry_to_geojson(current.geometry) if current.geometry is not None else None
        )
        self.name = QLineEdit(current.name)
        self.kind = QComboBox()
        self.kind.addItems(["territory", "region"])
        self.kind.setCurrentText(current.kind)
        self.parent_box = QComboBox()
        self.parent_box.addItem("(none)", None)
        for row in territory_service.territory_rows(ctx):
            if row["id"] != territory_id:
                self.parent_box.addItem(row["name"], row["id"])
        self.parent_box.setCurrentIndex(max(self.parent_box.findData(current.parent_id), 0))
        self.priority = QSpinBox()
        self.priority.setRange(0, 1_000_000)
        self.priority.setValue(current.priority)
        self.priority.setToolTip("Lower number = higher precedence when territories overlap")
        self.priority.setMaximumWidth(140)
        # The team's referral SLA (issue 18), synced with the territory: 0 = none of its own, the
        # parent's (up to the team default on the root) applies.
        self.first_contact = QDoubleSpinBox()
        self.first_contact.setRange(0, 365)
        self.first_contact.setDecimals(1)
        self.first_contact.setSingleStep(0.5)
        self.first_contact.setSuffix(" days")
        self.first_contact.setSpecialValueText("as the parent territory (team default)")
        self.first_contact.setToolTip(
            "How soon a new referral here must be contacted; on a region or a territory without"
            " a parent it is the default for every territory below. Applies on every laptop of"
            " the team after sync."
        )
        self._first_contact_was = (
            sla.own_days(ctx.conn, territory_id).get(Stage.NEW.value, 0.0) if territory_id else 0.0
        )
        self.first_contact.setValue(self._first_contact_was)
        self.color = QLineEdit(current.color)
        self.owner = QComboBox()
        self.owner.addItem("(none)", None)
        for u in ctx.db.query(
            "SELECT id, coalesce(nullif(display_name, ''), username) AS name "
            "FROM users WHERE active = 1 ORDER BY name"
        ):
            self.owner.addItem(u["name"], u["id"])
        self.owner.setCurrentIndex(max(self.owner.findData(current.owner_id), 0))
        self.polygon_label = QLabel()
        load = QPushButton("Load GeoJSON/KML…")
        load.clicked.connect(self._on_load_clicked)
        clear = QPushButton("Clear")
        clear.clicked.connect(self._on_clear_clicked)
        poly_row = QHBoxLayout()
        poly_row.addWidget(self.polygon_label, 1)
        poly_row.addWidget(load)
        poly_row.addWidget(clear)
        self.postal_codes = QPlainTextEdit("\n".join(sorted(current.postal_codes)))
        self.postal_codes.setPlaceholderText("Paste postal codes, one per line or comma-separated")
        self.regions = QLineEdit(", ".join(r.label() for r in current.regions))
        self.regions.setPlaceholderText("US-MA, US-NH, CA")
        self._rules: list[AttributeRule] = list(current.rules)
        self.rule_list = QListWidget()
        self.rule_list.setMaximumHeight(80)
        self.rule_industries = QLineEdit()
        self.rule_industries.setPlaceholderText("Industries, comma-separated (empty: any)")
        self.rule_sizes = {band: QCheckBox(band) for band in SIZE_BANDS}
        self.rule_statuses = {status: QCheckBox(status) for status in STATUSES}
        self.rule_min, self.rule_max = QLineEdit(), QLineEdit()
        self.rule_min.setPlaceholderText("potential from")
        self.rule_max.setPlaceholderText("to")
        add_rule, remove_rule = QPushButton("Add rule"), QPushButton("Remove selected")
        add_rule.clicked.connect(self.add_rule)
        remove_rule.clicked.connect(self._on_remove_rule_clicked)
        self.postal_count = QLabel()
        self.postal_codes.textChanged.connect(self._on_postal_codes_changed)
        self._on_postal_codes_changed()
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Kind", self.kind)
        form.addRow("Parent", self.parent_box)
        form.addRow("Priority", self.priority)
        form.addRow("Colour", self.color)
        form.addRow("Owner", self.owner)
        form.addRow("Referral first contact", self.first_contact)
        form.addRow("Polygon", poly_row)
        form.addRow("Postal codes", self.postal_codes)
        form.addRow("", self.postal_count)
        form.addRow("Regions", self.regions)
        form.addRow("Attribute rules", self.rule_list)
        form.addRow("New rule", self.rule_industries)
        form.addRow("  size", _row(*self.rule_sizes.values()))
        form.addRow("  status", _row(*self.rule_statuses.values()))
        form.addRow("  potential", _row(self.rule_min, self.rule_max, add_rule, remove_rule))
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #DC2626;")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.save)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self._show_polygon()
        self._show_rules()

    def _show_rules(self) -> None:
        self.rule_list.clear()
        for n, rule in enumerate(self._rules, 1):
            self.rule_list.addItem(f"Rule {n}: {rule.describe()}")

    def add_rule(self) -> bool:
        """Add the rule described by the 'New rule' fields; False (and a message) if it is unusable."""
        data = {
            "industry": [p.strip() for p in self.rule_industries.text().split(",") if p.strip()],
            "size": [band for band, box in self.rule_sizes.items() if box.isChecked()],
            "status": [st for st, box in self.rule_statuses.items() if box.isChecked()],
            "potential_min": self.rule_min.text().replace(",", "").strip() or None,
            "potential_max": self.rule_max.text().replace(",", "").strip() or None,
        }
        try:
            rule = AttributeRule.from_json(data, f"rule {len(self._rules) + 1}")
        except FieldRepError as exc:
            self.error.setText(str(exc))
            return False
        self._rules.append(rule)
        self.rule_industries.clear()
        self.rule_min.clear()
        self.rule_max.clear()
        for box in (*self.rule_sizes.values(), *self.rule_statuses.values()):
            box.setChecked(False)
        self.error.clear()
        self._show_rules()
        return True

    def _on_remove_rule_clicked(self) -> None:
        row = self.rule_list.currentRow()
        if 0 <= row < len(self._rules):
            del self._rules[row]
            self._show_rules()

    def _on_postal_codes_changed(self) -> None:
        text = self.postal_codes.toPlainText()
        pieces = [p for p in text.replace(",", "\n").replace(";", "\n").split() if p]
        self.postal_count.setText(f"{len(pieces):,} code(s) pasted" if pieces else "")

    def _show_polygon(self) -> None:
        if self._geometry is None:
            self.polygon_label.setText("none")
        else:
            parts = len(self._geometry.get("coordinates") or [])
            self.polygon_label.setText(f"{parts} polygon part(s)")

    def set_geometry_from_file(self, path: str | Path) -> None:
        try:
            features = territory_geojson.read_file(path)["features"]
        except FieldRepError as exc:
            self.error.setText(str(exc))
            return
        shapes = [f["geometry"] for f in features if isinstance(f, dict) and f.get("geometry")]
        if not shapes:
            self.error.setText(f"{Path(path).name} has no polygon")
            return
        coords: list[Any] = []
        for g in shapes:
            coords += [g["coordinates"]] if g.get("type") == "Polygon" else g.get("coordinates", [])
        self._geometry = {"type": "MultiPolygon", "coordinates": coords}
        self.error.clear()
        self._show_polygon()

    def _on_load_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Polygon file", "", "GeoJSON or KML (*.geojson *.json *.kml)"
        )
        if path:
            self.set_geometry_from_file(path)

    def _on_clear_clicked(self) -> None:
        self._geometry = None
        self._show_polygon()

    def changes(self) -> dict[str, Any]:
        codes = self.postal_codes.toPlainText().strip()
        return {
            "name": self.name.text(),
            "kind": self.kind.currentText(),
            "parent_id": self.parent_box.currentData(),
            "priority": self.priority.value(),
            "color": self.color.text(),
            "owner_id": self.owner.currentData(),
            "geometry": self._geometry,
            "postal_codes": codes or None,
            "regions": self.regions.text(),
            "rules": [r.to_json() for r in self._rules],
        }

    def save(self) -> Task:
        """Save the territory and its SLA (a user write); Save waits meanwhile, a refusal shows
        its sentence with the form kept, the dialog closes once saved."""
        days = self.first_contact.value() or None
        self.save_button.setEnabled(False)
        task = self.runner.write(
            partial(
                _save_territory,
                self.territory_id,
                self.changes(),
                (days or 0.0) != self._first_contact_was,
                days,
            ),
            label="Saving territory",
            on_success=self._on_saved,
            on_error=self._on_refused,
        )
        task.finished.connect(lambda: self.save_button.setEnabled(True))
        return task

    def _on_refused(self, error: FieldRepError) -> None:
        self.error.setText(str(error))

    def _on_saved(self, territory_id: str) -> None:
        self.territory_id = territory_id
        self.accept()


def _save_territory(
    territory_id: str | None,
    changes: dict[str, Any],
    sla_changed: bool,
    days: float | None,
    ctx: Context,
) -> str:
    """The dialog's write: the territory and its SLA (written only if changed), or neither; the
    territory's id."""
    with ctx.writer.transaction():
        if territory_id:
            territory_service.update_territory(ctx, territory_id, **changes)
        else:
            territory_id = territory_service.create_territory(ctx, **changes)
        if sla_changed:
            sla.set_team_days(ctx.writer, Stage.NEW, days, territory_id)
    return territory_id
