"""The Accounts page's row of filters: territory, owner, status, industry, location and last visit,
the "My accounts" chip and Clear filters.

The bar holds the combo boxes and their choices; the page reads :meth:`AccountsFilterBar.values`
into its filter and re-filters on :attr:`AccountsFilterBar.changed`. The industries are a DISTINCT
over the whole book: read in the background after start (the page's warm-up) or, when the user
opens that list first, then and there.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QPushButton, QWidget

from fieldrep.store.accounts_repository import NO_VALUE, QUALITIES, STATUSES
from fieldrep.store.accounts_repository import AccountsRepository as Repository
from fieldrep.ui.models.accounts_table_model import QUALITY_LABELS
from fieldrep.ui.widgets.lazy_combo_box import LazyComboBox

VISIT_AGES = (
    ("Last visit", None),
    ("No visit in 30 days", 30),
    ("No visit in 60 days", 60),
    ("No visit in 90 days", 90),
    ("No visit in a year", 365),
)


class AccountsFilterBar(QWidget):
    changed = Signal()  # the user chose a filter (not emitted while the bar is reset or refilled)

    def __init__(self, repository: Repository, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.repository = repository
        self.industries_loaded = False
        self.combos: dict[str, QComboBox] = {}
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        for key, label, choices in self.choices():
            combo = LazyComboBox(self.ensure_industries if key == "industry" else None)
            combo.setObjectName(f"filter_{key}")
            combo.setToolTip(f"Filter by {label.lower()}")
            combo.addItem(label, None)
            for text, value in choices:
                combo.addItem(text, value)
            # Shrinkable: the page must fit a small window; a long chosen value is elided (its
            # full text shows when opened), the field's name never is (LazyComboBox).
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.currentIndexChanged.connect(self.changed)
            self.combos[key] = combo
            row.addWidget(combo)
        # A rep starts on their own accounts: a chip says so and clears with one click.
        self.mine_chip = QPushButton("My accounts  ✕")
        self.mine_chip.setObjectName("chip")
        self.mine_chip.setToolTip("Showing the accounts you own: click to see every account")
        self.mine_chip.clicked.connect(lambda: self.set_value("owner_id", None))
        self.mine_chip.hide()
        row.insertWidget(0, self.mine_chip)
        row.addStretch(1)
        self.clear_button = QPushButton("Clear filters")
        row.addWidget(self.clear_button)

    def choices(self) -> list[tuple[str, str, list[tuple[str, Any]]]]:
        """(key, label, [(text, value), ...]) of each filter, read now."""
        repo = self.repository
        return [
            (
                "territory_id",
                "Territory",
                [(name, tid) for tid, name in repo.territories()] + [("No territory", NO_VALUE)],
            ),
            (
                "owner_id",
                "Owner",
                [(name, uid) for uid, name in repo.owners()] + [("No owner", NO_VALUE)],
            ),
            ("status", "Status", [(s.capitalize(), s) for s in STATUSES]),
            # DISTINCT over 100,000 accounts costs 40-300 ms: read in the background a second
            # after start, or when the user opens the list first.
            (
                "industry",
                "Industry",
                [(i, i) for i in repo.industries()] if self.industries_loaded else [],
            ),
            (
                "geocode_quality",
                "Location",
                [(QUALITY_LABELS[q], q) for q in QUALITIES] + [("Not placed", NO_VALUE)],
            ),
            ("not_visited_days", VISIT_AGES[0][0], list(VISIT_AGES[1:])),
        ]

    def values(self) -> dict[str, Any]:
        """The value chosen in each filter (None: any)."""
        return {key: combo.currentData() for key, combo in self.combos.items()}

    def set_value(self, key: str, value: Any) -> None:
        if key == "industry":
            self.ensure_industries()
        combo = self.combos[key]
        combo.setCurrentIndex(combo.findData(value))

    def reset(self) -> None:
        """Every filter back to "any", quietly: the caller re-filters once."""
        for combo in self.combos.values():
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
            combo.blockSignals(False)

    def ensure_industries(self) -> None:
        """The industry list, read here if the background read has not answered yet."""
        if not self.industries_loaded:
            self.fill_industries(self.repository.industries())

    def fill_industries(self, industries: list[str]) -> None:
        if self.industries_loaded:
            return  # the list was opened, and read, before the background read answered
        self.industries_loaded = True
        combo = self.combos["industry"]
        combo.blockSignals(True)
        for industry in industries:
            combo.addItem(industry, industry)
        combo.blockSignals(False)

    def refill(self, keys: tuple[str, ...]) -> None:
        """New choices for the filters ``keys``, read now (after others changed their tables)."""
        choices = {key: values for key, _label, values in self.choices() if key in keys}
        for key, values in choices.items():
            self._refill(self.combos[key], values)

    def refill_industries(self, industries: list[str]) -> None:
        self._refill(self.combos["industry"], [(i, i) for i in industries])

    def _refill(self, combo: QComboBox, values: list[tuple[str, Any]]) -> None:
        """New choices, the chosen one kept (or none, if it is gone: then the list re-filters)."""
        current = combo.currentData()
        combo.blockSignals(True)
        while combo.count() > 1:
            combo.removeItem(1)
        for text, value in values:
            combo.addItem(text, value)
        combo.setCurrentIndex(max(0, combo.findData(current)))
        combo.blockSignals(False)
        if combo.currentData() != current:
            self.changed.emit()
