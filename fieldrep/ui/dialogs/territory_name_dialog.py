"""Which property names the territories of a boundary file: a list of the properties found, each
with sample values, or a template of them ("{NAME} {LSAD}, {STATE}") typed in."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from fieldrep.services import territory_geojson as gj


class TerritoryNameDialog(QDialog):
    def __init__(
        self, file_name: str, found: dict[str, list[str]], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
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
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.choice.currentTextChanged.connect(self._on_choice_current_text_changed)
        self._on_choice_current_text_changed(self.choice.currentText())
        self.resize(560, self.sizeHint().height())

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
                samples.append(gj.feature_name(props, wanted))
            except Exception:  # a template naming a property that feature lacks
                continue
        self.preview.setText(
            "Names will read: " + ", ".join(samples) if samples else "No feature has that property."
        )
