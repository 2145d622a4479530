"""Which property names the territories of a boundary file: a list of the properties found, each
with sample values, or a template of them ("{NAME} {LSAD}, {STATE}") typed in; and, before anything
is applied, what the import would do: territories created and updated, and how many accounts would
change territory (the count `fieldrep territories import` prints after importing). When the file
lists bare two-letter regions ("CA": California or Canada?), it also asks whose states they are,
preset to the book's reading (:mod:`fieldrep.services.territories.region_reading`) with a sample of
the file's codes read each way; the choice goes to the import, which remembers it for the book.

The count comes from the import itself, run on the write lane (``runner.write_with_progress``,
quiet) inside a transaction that is then rolled back (nothing is written, nothing announced),
followed by the reassignment's dry run.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from fieldrep.services.territories import geojson as territory_geojson
from fieldrep.services.territories import region_reading
from fieldrep.services.territories.region_reading import RegionQuestion
from fieldrep.ui.tasks import Progress, TaskRunner

if TYPE_CHECKING:
    from fieldrep.services.context import Context

PREVIEW_DELAY_MS = 300  # typing a template: one preview when the typing pauses


@dataclass(frozen=True)
class ImportPreview:
    created: int
    updated: int
    warnings: int
    accounts_moving: int  # accounts whose territory the reassignment would change
    accounts: int


@dataclass(frozen=True)
class FileChoices:
    """What the window offers for one file: its properties (with samples) and, when it lists bare
    two-letter regions, the question of whose states they are."""

    properties: dict[str, list[str]]
    regions: RegionQuestion | None


def read_choices(db_path: Path, path: Path) -> FileChoices:
    """Read ``path`` (on a worker) for the window; the book in ``db_path`` presets the regions."""
    from fieldrep.services.context import Context

    collection = territory_geojson.read_file(path)
    ctx = Context.open(db_path)
    try:
        asked = region_reading.question(ctx.conn, collection)
    finally:
        ctx.close()
    return FileChoices(territory_geojson.properties_found(collection), asked)


class _RolledBack(Exception):
    def __init__(self, preview: ImportPreview) -> None:
        super().__init__("preview only")
        self.preview = preview


def preview_import(
    path: Path,
    name_property: str | None,
    region_country: str | Literal["book"] | None,
    ctx: Context,
    _progress: Progress,
) -> ImportPreview:
    """What importing ``path`` would change in ``ctx``'s database, leaving it untouched (the
    region choice too: it is remembered inside the transaction that is rolled back)."""
    from fieldrep.services.territories import assignment as assignment_service

    try:
        with ctx.writer.transaction():
            result = territory_geojson.import_file(
                ctx, path, name_property=name_property, region_country=region_country
            )
            diff = assignment_service.assign_all(ctx, dry_run=True)
            moving = sum(1 for m in diff.moves if m.from_territory_id != m.to_territory_id)
            raise _RolledBack(
                ImportPreview(
                    len(result.created),
                    len(result.updated),
                    len(result.warning_lines()),
                    moving,
                    diff.total,
                )
            )
    except _RolledBack as done:
        return done.preview


def preview_text(preview: ImportPreview) -> str:
    territories = f"{preview.created:,} territories created, {preview.updated:,} updated"
    if preview.warnings:
        territories += f", {preview.warnings:,} warning(s)"
    if preview.accounts_moving:
        moving = (
            f"<b>{preview.accounts_moving:,} of {preview.accounts:,} accounts would change"
            " territory</b> once the reassignment is applied (Territories, Reassignment tab, or"
            " `fieldrep assign`)."
        )
    else:
        moving = "No account would change territory."
    return f"Importing this file: {territories}. {moving}"


class TerritoryNameDialog(QDialog):
    def __init__(
        self,
        file_name: str,
        found: dict[str, list[str]],
        parent: QWidget | None = None,
        *,
        runner: TaskRunner | None = None,
        path: Path | None = None,
        regions: RegionQuestion | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.path = path
        self.counted: ImportPreview | None = None  # the preview for the current choice, once known
        self._generation = 0
        self.setWindowTitle(f"Import {file_name}")
        self.found = found
        layout = QVBoxLayout(self)
        intro = QLabel(
            f"<b>Which property names each territory?</b><br>{file_name} has"
            f" {len(found)} properties. Pick one, or type a template such as"
            " <code>{NAME} {LSAD}, {STATE}</code> when one property alone repeats."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.choice = QComboBox()
        self.choice.setEditable(True)
        for key, samples in found.items():
            self.choice.addItem(f"{key}   e.g. {', '.join(samples) or '(empty)'}", key)
        default = next((k for k in found if k.casefold() == "name"), None)
        if default is not None:
            self.choice.setCurrentIndex(list(found).index(default))
        layout.addWidget(self.choice)
        self.preview = QLabel()
        self.preview.setWordWrap(True)
        layout.addWidget(self.preview)
        self.regions = regions
        self.region_choice = (
            QComboBox()
        )  # whose states "CA", "ID" are (shown when the file has such)
        self.region_why = QLabel()
        self.region_why.setWordWrap(True)
        if regions is not None:
            self._add_region_choice(layout, regions)
        self.impact = QLabel()  # what applying the file would change (needs runner and path)
        self.impact.setWordWrap(True)
        self.impact.setVisible(runner is not None and path is not None)
        # room for the count's two or three lines, which arrive after the window has its size
        self.impact.setMinimumHeight(3 * self.impact.fontMetrics().lineSpacing())
        layout.addWidget(self.impact)
        self._impact_timer = QTimer(self)
        self._impact_timer.setSingleShot(True)
        self._impact_timer.setInterval(PREVIEW_DELAY_MS)
        self._impact_timer.timeout.connect(self._count_impact)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.choice.currentTextChanged.connect(self._on_choice_current_text_changed)
        self.region_choice.currentIndexChanged.connect(self._on_region_choice_current_index_changed)
        self._on_choice_current_text_changed(self.choice.currentText())
        self.resize(560, self.sizeHint().height())

    def _add_region_choice(self, layout: QVBoxLayout, asked: RegionQuestion) -> None:
        sample = asked.codes[:4]
        more = f" and {len(asked.codes) - 4:,} more" if len(asked.codes) > 4 else ""
        title = QLabel(f"<b>Two-letter regions are:</b> the file lists {', '.join(sample)}{more}.")
        title.setWordWrap(True)
        layout.addWidget(title)
        for country in asked.options:
            shown = ", ".join(region_reading.read_as(code, country) for code in sample)
            self.region_choice.addItem(
                f"{region_reading.reading_label(country)}  ({shown})", country or "none"
            )
        self.region_choice.setCurrentIndex(asked.options.index(asked.preset.country))
        layout.addWidget(self.region_choice)
        self.region_why.setText(
            f"Preset to {asked.preset.label()}: {asked.preset.reason}. Your choice is remembered"
            " for this book's later imports."
        )
        self.region_why.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(self.region_why)

    def done(self, result: int) -> None:
        self._impact_timer.stop()  # no count started for a window that is closing
        super().done(result)

    def region_country(self) -> str | Literal["book"] | None:
        """Whose states the file's two-letter regions are (None: country codes); "book" when the
        file has none and nothing was asked."""
        if self.regions is None:
            return "book"
        value = str(self.region_choice.currentData())
        return None if value == "none" else value

    def name_property(self) -> str:
        """The property (or template) chosen."""
        text = self.choice.currentText().strip()
        index = self.choice.findText(text)
        if index >= 0 and self.choice.itemData(index):
            return str(self.choice.itemData(index))
        return text

    def _on_choice_current_text_changed(self, _text: str) -> None:
        wanted = self.name_property()
        samples: list[str] = []
        for i in range(3):
            props = {k: v[i] for k, v in self.found.items() if len(v) > i}
            try:
                samples.append(territory_geojson.feature_name(props, wanted))
            except Exception:  # a template naming a property that feature lacks
                continue
        self.preview.setText(
            "Names will read: " + ", ".join(samples) if samples else "No feature has that property."
        )
        self._schedule_impact()

    def _on_region_choice_current_index_changed(self, _index: int) -> None:
        self._schedule_impact()

    def _schedule_impact(self) -> None:
        if self.runner is not None and self.path is not None:
            self._generation += 1
            self.counted = None
            self.impact.setText("Counting the accounts that would change territory…")
            self._impact_timer.start()

    def _count_impact(self) -> None:
        if self.runner is None or self.path is None:
            return
        generation, path, wanted = self._generation, self.path, self.name_property()
        regions_as = self.region_country()

        # The import runs (and is rolled back) on the write lane, under the write lock.
        self.runner.write_with_progress(
            partial(preview_import, path, wanted, regions_as),
            label="Counting what the import would change",
            quiet=True,
            on_success=lambda found: self._on_counted(generation, found),
            on_error=lambda exc: self._on_refused(generation, exc),
            on_failure=lambda exc: self._on_refused(generation, exc),
        )

    def _on_counted(self, generation: int, found: ImportPreview) -> None:
        if generation != self._generation:
            return
        self.counted = found
        self.impact.setText(preview_text(found))

    def _on_refused(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.impact.setText(f"As chosen, the file would not import: {exc}")
