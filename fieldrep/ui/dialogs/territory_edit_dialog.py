"""Create or edit one territory: name, kind, parent, priority, colour and the four definitions.

Polygons come from a GeoJSON or KML file (drawing arrives with the map page); postal codes are pasted
(thousands are fine, one per line or comma-separated); regions as ``US-MA, US-NH``; attribute rules as
JSON. Saving goes through the territories service, which checks the whole set; an error is shown in
the dialog, which stays open with everything the manager typed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from fieldrep.domain.territory_rules import TerritoryDef, geometry_to_geojson
from fieldrep.services import territories as svc
from fieldrep.services import territory_geojson as gj
from fieldrep.services.context import Context
from fieldrep.store.errors import StoreError


class TerritoryEditDialog(QDialog):
    def __init__(
        self, ctx: Context, territory_id: str | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.territory_id = territory_id
        self.setWindowTitle("Edit territory" if territory_id else "New territory")
        self.resize(560, 620)
        current = (
            TerritoryDef.from_row(svc.get_row(ctx, territory_id))
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
        for row in svc.territory_rows(ctx):
            if row["id"] != territory_id:
                self.parent_box.addItem(row["name"], row["id"])
        self.parent_box.setCurrentIndex(max(self.parent_box.findData(current.parent_id), 0))
        self.priority = QSpinBox()
        self.priority.setRange(0, 1_000_000)
        self.priority.setValue(current.priority)
        self.priority.setToolTip("Lower number = higher precedence when territories overlap")
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
        self.rules = QPlainTextEdit(
            json.dumps([r.to_json() for r in current.rules]) if current.rules else ""
        )
        self.rules.setPlaceholderText('[{"industry": ["Retail"], "potential_min": 100000}]')
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Kind", self.kind)
        form.addRow("Parent", self.parent_box)
        form.addRow("Priority", self.priority)
        form.addRow("Colour", self.color)
        form.addRow("Owner", self.owner)
        form.addRow("Polygon", poly_row)
        form.addRow("Postal codes", self.postal_codes)
        form.addRow("Regions", self.regions)
        form.addRow("Attribute rules", self.rules)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #DC2626;")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self._show_polygon()

    def _show_polygon(self) -> None:
        if self._geometry is None:
            self.polygon_label.setText("none")
        else:
            parts = len(self._geometry.get("coordinates") or [])
            self.polygon_label.setText(f"{parts} polygon part(s)")

    def set_geometry_from_file(self, path: str | Path) -> None:
        try:
            features = gj.read_file(path)["features"]
        except StoreError as exc:
            self.error.setText(str(exc))
            return
        shapes = [f.get("geometry") for f in features if isinstance(f, dict) and f.get("geometry")]
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
        rules = self.rules.toPlainText().strip()
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
            "rules": rules or None,
        }

    def save(self) -> None:
        changes = self.changes()
        try:
            if changes["rules"]:
                try:
                    changes["rules"] = json.loads(changes["rules"])
                except json.JSONDecodeError as exc:
                    raise StoreError(f"attribute rules are not valid JSON ({exc.msg})") from None
            if self.territory_id:
                svc.update_territory(self.ctx, self.territory_id, **changes)
            else:
                self.territory_id = svc.create_territory(self.ctx, **changes)
        except StoreError as exc:
            self.error.setText(str(exc))
            return
        self.accept()
