"""Accounts tab: find an account and see its territory, its owner and why, plus its history.

The reason comes from the same engine ``fieldrep assign`` runs ("postal code 02139 is listed in
Boston Metro (priority 10); also matched: New England by region"). When the stored territory differs
from the engine's answer (definitions changed since the last reassignment) the panel says so.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from fieldrep.domain.assignment import KIND_LABEL
from fieldrep.services.context import Context
from fieldrep.services.territories import assignment as assign
from fieldrep.ui.dates import friendly_moment
from fieldrep.ui.models.territories_table_model import RowsTableModel
from fieldrep.ui.views.territory_common import table_view

_SEARCH = """
    SELECT a.id, a.name, a.city, a.region, a.postal_code, a.territory_id, a.locked,
           t.name AS territory, coalesce(nullif(u.display_name, ''), u.username) AS owner
    FROM accounts a
    LEFT JOIN territories t ON t.id = a.territory_id
    LEFT JOIN users u ON u.id = a.owner_id
    WHERE a.name LIKE ? OR a.postal_code LIKE ? OR a.city LIKE ?
    ORDER BY a.name COLLATE NOCASE
    LIMIT 200
"""


class TerritoryExplainPanel(QWidget):
    def __init__(self, ctx: Context, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.search = QLineEdit()
        self.search.setPlaceholderText("Account name, city or postal code…")
        self.search.setClearButtonEnabled(True)
        # Typing waits for a pause before searching 100,000 accounts.
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(lambda: self.search_for(self.search.text()))
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self.model = RowsTableModel(
            [
                ("Account", lambda r: r["name"], False),
                ("City", lambda r: r["city"], False),
                ("State", lambda r: r["region"], False),
                ("Postal code", lambda r: r["postal_code"], False),
                (
                    "Territory",
                    lambda r: (r["territory"] or "–") + (" 🔒" if r["locked"] else ""),
                    False,
                ),
                ("Owner", lambda r: r["owner"], False),
            ]
        )
        self.table = table_view(self.model)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.reason = QLabel("Select an account to see which territory it gets, and why.")
        self.reason.setWordWrap(True)
        self.reason.setTextFormat(Qt.TextFormat.RichText)
        self.reason.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.history_model = RowsTableModel(
            [
                ("When", lambda h: friendly_moment(h["at"]), False),
                ("From", lambda h: h["from_territory"] or "–", False),
                ("To", lambda h: h["to_territory"] or "–", False),
                ("Owner", lambda h: h["to_owner"] or "–", False),
                ("By", lambda h: h["by_name"] or "–", False),
                ("Why", lambda h: h["reason"], False),
            ]
        )
        why_box = QGroupBox("Territory and reason")
        QVBoxLayout(why_box).addWidget(self.reason)
        history_box = QGroupBox("Assignment history")
        QVBoxLayout(history_box).addWidget(table_view(self.history_model))
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(why_box)
        right_layout.addWidget(history_box, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(right)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        row = QHBoxLayout()
        row.addWidget(QLabel("Find"))
        row.addWidget(self.search, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(split, 1)

    def search_for(self, text: str = "") -> None:
        text = text.strip()
        if len(text) < 2:
            self.model.set_rows([])
            return
        like = f"%{text}%"
        self.model.set_rows([dict(r) for r in self.ctx.db.query(_SEARCH, [like, f"{text}%", like])])
        if self.model.rows:
            self.table.selectRow(0)

    def _on_selection_changed(self, *_: object) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.show_account(self.model.row(rows[0].row()))

    def show_account(self, row: dict[str, Any]) -> None:
        decision = assign.explain_account(self.ctx, row["id"])
        esc = html.escape
        lines = [
            f"<b>{esc(row['name'])}</b> is in <b>{esc(row['territory'] or 'no territory')}</b>, "
            f"owner {esc(row['owner'] or 'none')}."
            + (" The account is locked: reassignment leaves it alone." if row["locked"] else ""),
            f"Engine: <b>{esc(decision.territory_name or 'no territory')}</b> because "
            f"{esc(decision.reason)}.",
        ]
        if decision.territory_id != row["territory_id"] and not row["locked"]:
            lines.append(
                "<span style='color:#D97706'>The definitions changed since the last "
                "reassignment: it would move to "
                f"{esc(decision.territory_name or 'no territory')}.</span>"
            )
        if len(decision.matches) > 1:
            lines.append(
                "All matches, strongest first: "
                + esc(
                    "; ".join(
                        f"{m.territory_name} by {KIND_LABEL[m.kind]} (priority {m.priority})"
                        for m in decision.matches
                    )
                )
            )
        self.reason.setText("<br>".join(lines))
        self.history_model.set_rows(
            [
                dict(h)
                for h in self.ctx.db.query(
                    """SELECT h.at, h.reason, ft.name AS from_territory, tt.name AS to_territory,
                          coalesce(nullif(o.display_name, ''), o.username) AS to_owner,
                          coalesce(nullif(b.display_name, ''), b.username) AS by_name
                       FROM assignment_history h
                       LEFT JOIN territories ft ON ft.id = h.from_territory_id
                       LEFT JOIN territories tt ON tt.id = h.to_territory_id
                       LEFT JOIN users o ON o.id = h.to_owner_id
                       LEFT JOIN users b ON b.id = h.by_user_id
                       WHERE h.entity_id = ? ORDER BY h.at DESC""",
                    [row["id"]],
                )
            ]
        )
