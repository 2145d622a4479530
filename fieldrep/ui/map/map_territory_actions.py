"""The Map page's territory outlines: draw, edit, split and merge, each saved after the territory
engine's diff. A mixin of :class:`~fieldrep.ui.map.map_page.MapPage`."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QMessageBox

from fieldrep.ui.map.map_actions_base import MapActionsBase


class TerritoryActionsMixin(MapActionsBase):
    """Needs the attributes below (and :class:`MapActionsBase`'s), which :class:`MapPage` creates."""

    editing_territory: str | None
    split_target: str | None
    territory_dialog: Any

    def _on_edit_outline_clicked(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        outlined = [(t.name, t.id) for t in self.canvas.territories]
        if not outlined:
            self.say("No territory has an outline yet; use Draw territory.", error=True)
            return
        name, ok = QInputDialog.getItem(
            self._widget(), "Edit outline", "Territory", [n for n, _ in outlined], 0, False
        )
        if ok:
            self.edit_outline(dict(outlined)[name])

    def edit_outline(self, territory_id: str) -> bool:
        """Load a territory's outline into the drawing tool to move, add or delete its corners."""
        geom = next((t for t in self.canvas.territories if t.id == territory_id), None)
        if geom is None:
            self.say("That territory has no outline to edit; draw one.", error=True)
            return False
        end = int(geom.starts[1]) if len(geom.starts) > 1 else len(geom.xy)
        ring = [tuple(map(float, xy)) for xy in geom.xy[: end - 1]]
        self.set_tool("draw")
        self.editing_territory = territory_id
        self.canvas.drawing = ring  # type: ignore[assignment]
        self.canvas.update()
        self.say(
            "Drag corners to move them, click to add, Backspace to delete the last; Enter to finish."
        )
        return True

    def _pick_territory(self, title: str, exclude: str | None = None) -> str | None:
        from PySide6.QtWidgets import QInputDialog

        shapes = [
            t
            for t in (self.bundle.accounts.territories if self.bundle else [])
            if t.geometry and t.id != exclude
        ]
        if not shapes:
            self.say("No territory has an outline to change; use Draw territory first.", error=True)
            return None
        name, ok = QInputDialog.getItem(
            self._widget(), title, "Territory", [t.name for t in shapes], 0, False
        )
        return next((t.id for t in shapes if t.name == name), None) if ok else None

    def _shape(self, territory_id: str) -> Any:
        shapes = self.bundle.accounts.territories if self.bundle else []
        return next((t for t in shapes if t.id == territory_id), None)

    def _on_split_clicked(self) -> None:
        territory_id = self._pick_territory("Split a territory")
        if territory_id:
            self.start_split(territory_id)

    def start_split(self, territory_id: str) -> None:
        """Draw the cutting line next: its vertices go to :meth:`split_territory`."""
        self.set_tool("draw")
        self.split_target = territory_id
        shape = self._shape(territory_id)
        self.say(
            f"Draw a line across {shape.name if shape else 'the territory'} where it should be cut; Enter to finish."
        )

    def split_territory(self, territory_id: str, line: list[tuple[float, float]]) -> Any:
        from fieldrep.services.map.territory import Change, OutlineError, split_outline

        shape = self._shape(territory_id)
        if shape is None or not shape.geometry:
            self.say("That territory has no outline to split.", error=True)
            return None
        try:
            keep, rest = split_outline(shape.geometry, line)
        except OutlineError as exc:
            self.say(str(exc), error=True)
            return None
        changes = [
            Change(territory_id, geometry=keep),
            Change(None, name=f"{shape.name} 2", geometry=rest),
        ]
        return self._open_changes(
            changes,
            f"{shape.name} is cut in two: the larger part keeps its name, the other becomes a new territory.",
        )

    def _on_merge_clicked(self) -> None:
        first = self._pick_territory("Merge: the territory that stays")
        second = (
            self._pick_territory("Merge: the territory merged into it", exclude=first)
            if first
            else None
        )
        if first and second:
            self.merge_territories(first, second)

    def merge_territories(self, keep_id: str, merged_id: str) -> Any:
        from fieldrep.services.map.territory import Change, merge_outlines

        keep, gone = self._shape(keep_id), self._shape(merged_id)
        if keep is None or gone is None or not keep.geometry or not gone.geometry:
            self.say("Both territories need an outline to merge them.", error=True)
            return None
        changes = [
            Change(keep_id, geometry=merge_outlines(keep.geometry, gone.geometry)),
            Change(merged_id, archive=True),
        ]
        return self._open_changes(
            changes,
            f"{keep.name} takes over {gone.name}'s area; {gone.name} is archived (its history is kept).",
        )

    def _open_changes(self, changes: list[Any], description: str) -> Any:
        from fieldrep.ui.map.territory_draw_dialog import TerritoryChangesDialog

        dialog = self.territory_dialog = TerritoryChangesDialog(
            self.runner, changes, description, self._widget()
        )
        dialog.saved.connect(self._after_territory_saved)
        dialog.open()
        return dialog

    def _on_canvas_polygon_drawn(self, vertices: list[tuple[float, float]]) -> None:
        if self.split_target is not None:
            target, self.split_target = self.split_target, None
            self.split_territory(target, vertices)
            return
        # Imported when first used: the territory engine is a good part of a second to load.
        from fieldrep.services.map.territory import OutlineError, check_outline

        try:
            outline = check_outline(vertices)
        except OutlineError as exc:
            if exc.repaired is None:
                self.say(str(exc), error=True)
                return
            answer = QMessageBox.question(
                self._widget(), "Outline crosses itself", f"The {exc}. Use the repaired shape?"
            )
            if answer != QMessageBox.StandardButton.Yes:
                self.say("Outline discarded; draw it again without crossing lines.")
                return
            self.open_territory_dialog(exc.repaired)
            return
        self.open_territory_dialog(outline.geometry)

    def open_territory_dialog(self, geometry: dict[str, Any]) -> Any:
        from fieldrep.ui.map.territory_draw_dialog import TerritoryDrawDialog

        territories = self.bundle.accounts.territories if self.bundle else []
        dialog = self.territory_dialog = TerritoryDrawDialog(
            self.runner,
            geometry,
            [(t.id, t.name) for t in territories],
            self.editing_territory,
            self._widget(),
        )
        dialog.saved.connect(self._after_territory_saved)
        dialog.open()
        return dialog

    def _after_territory_saved(self, text: str) -> None:
        self.editing_territory = None
        self.say(text)
        self.reload()
