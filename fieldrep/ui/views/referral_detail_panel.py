"""One referral in full: who, how to reach them, where it was routed and why, and its whole history
(every event, oldest first); a stage can be changed here too (Lost needs a reason, Won a value)."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fieldrep.services.context import Context
from fieldrep.services.referrals import pipeline
from fieldrep.services.referrals.model import Stage
from fieldrep.ui import theme
from fieldrep.ui.dates import friendly_local_day, friendly_moment
from fieldrep.ui.tasks import Task, TaskRunner

_KIND = {
    "created": "Captured",
    "stage": "Stage",
    "assignment": "Routed",
    "note": "Note",
    "override": "Override",
    "duplicate": "Duplicate check",
    "reward": "Reward",
}
_FIELDS = (
    ("phone", "Phone"),
    ("email", "E-mail"),
    ("address", "Address"),
    ("referrer", "Referred by"),
    ("relationship", "How they know"),
    ("consent", "Consent"),
    ("captured", "Captured by"),
    ("owner", "Owner"),
    ("due", "Due"),
    ("value", "Value"),
    ("flags", "Flags"),
    ("notes", "Notes"),
)


def _plain(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)  # the user's text, shown as typed
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ReferralDetailPanel(QFrame):
    moved = Signal(object)  # pipeline.Moved
    closed = Signal()

    def __init__(self, ctx: Context, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.runner = runner
        self.referral_id: str | None = None
        self.setObjectName("card")
        self.setMinimumWidth(320)
        self.title = _plain()
        self.title.setObjectName("cardTitle")
        self.subtitle = _plain()
        self.subtitle.setObjectName("muted")
        close = QPushButton("✕")
        close.setFlat(True)
        close.setToolTip("Close")
        close.clicked.connect(self._on_close_clicked)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.values: dict[str, QLabel] = {}
        for key, label in _FIELDS:
            self.values[key] = _plain()
            form.addRow(label, self.values[key])
        self.stage = QComboBox()
        for stage in Stage:
            self.stage.addItem(stage.label, stage.value)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("Needed for Lost")
        self.value = QLineEdit()
        self.value.setPlaceholderText("Deal value, needed for Won")
        self.move_button = QPushButton("Move")
        self.move_button.clicked.connect(self.move_stage)
        moves = QFormLayout()
        stage_row = QHBoxLayout()
        stage_row.addWidget(self.stage, 1)
        stage_row.addWidget(self.move_button)
        moves.addRow("Move to", stage_row)
        moves.addRow("Reason", self.reason)
        moves.addRow("Value", self.value)
        self.notice = _plain()
        self.notice.hide()
        self.history = QListWidget()
        self.history.setWordWrap(True)
        self.history.setAlternatingRowColors(True)
        self.history.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.addLayout(head)
        layout.addWidget(self.subtitle)
        layout.addLayout(form)
        layout.addLayout(moves)
        layout.addWidget(self.notice)
        history_title = QLabel("History")
        history_title.setObjectName("muted")
        layout.addWidget(history_title)
        layout.addWidget(self.history, 1)

    def _on_close_clicked(self) -> None:
        self.hide()
        self.closed.emit()

    def show_referral(self, referral_id: str) -> bool:
        row = pipeline.detail(self.ctx.conn, referral_id)
        if row is None:
            self.referral_id = None
            return False
        self.referral_id = referral_id
        self.title.setText(row["referred_name"])
        stage = Stage(row["stage"])
        parts = [row["referred_company"] or "", stage.label]
        if row["lost_reason"] and stage is Stage.LOST:
            parts.append(f"lost: {row['lost_reason']}")
        self.subtitle.setText(" · ".join(p for p in parts if p))
        address = ", ".join(
            p
            for p in (row["referred_street"], row["referred_city"], row["referred_postal_code"])
            if p
        )
        referrer = row["referrer_name"] or "—"
        if row["referrer_contact_name"]:
            referrer += f", {row['referrer_contact_name']}"
        overdue = stage.is_open and row["sla_due_at"] and row["sla_due_at"] < pipeline.utc_now()
        flags = ", ".join(f.replace("_", " ") for f in json.loads(row["flags"] or "[]"))
        if row["duplicate_of_id"]:
            flags = (flags + "; " if flags else "") + "linked to an earlier referral"
        if row["linked"]:
            flags = (flags + "; " if flags else "") + f"{row['linked']} later referral(s) linked"
        values = {
            "phone": row["referred_phone"] or "—",
            "email": row["referred_email"] or "—",
            "address": address or "—",
            "referrer": referrer,
            "relationship": row["relationship"] or "—",
            "consent": f"to be contacted, given {friendly_moment(row['consent_at'])}"
            if row["consent_at"]
            else "not recorded",
            "captured": f"{row['captured_by_name'] or '—'} on {friendly_local_day(row['created_at'])}"
            f" ({row['channel']})",
            "owner": f"{row['owner_name'] or '—'}, {row['territory_name'] or 'no territory'}",
            "due": friendly_moment(row["sla_due_at"]) + (" — overdue" if overdue else "")
            if stage.is_open and row["sla_due_at"]
            else "—",
            "value": f"${row['amount']:,.2f}" if row["amount"] else "—",
            "flags": flags or "—",
            "notes": row["notes"] or "—",
        }
        for key, text in values.items():
            self.values[key].setText(text)
        self.values["due"].setStyleSheet(f"color: {theme.DANGER};" if overdue else "")
        self.values["flags"].setStyleSheet(f"color: {theme.WARNING};" if flags else "")
        self.stage.setCurrentIndex(self.stage.findData(stage.value))
        self.reason.clear()
        self.value.clear()
        self.notice.hide()
        self.history.clear()
        for event in pipeline.history(self.ctx.conn, referral_id):
            what = _KIND.get(event["kind"], event["kind"])
            if event["kind"] == "stage":
                what = f"{str(event['from_value']).title()} → {str(event['to_value']).title()}"
            head = " · ".join(p for p in (friendly_moment(event["at"]), what, event["who"]) if p)
            self.history.addItem(QListWidgetItem(f"{head}\n{event['reason'] or ''}".strip()))
        self.show()
        return True

    def move_stage(self) -> Task | None:
        if self.referral_id is None:
            return None
        value: float | None = None
        text = self.value.text().strip().replace(",", "").lstrip("$")
        if text:
            try:
                value = float(text)
            except ValueError:
                self._say(f"{self.value.text()!r} is not an amount", error=True)
                return None
        referral_id = self.referral_id
        stage, reason = str(self.stage.currentData()), self.reason.text()
        return self.runner.write(
            lambda ctx: pipeline.move(
                ctx, referral_id, stage, reason=reason, value=value, create_account=True
            ),
            label="Moving the referral",
            on_success=self._on_moved,
            on_error=lambda error: self._say(f"Not moved: {error}", error=True),
        )

    def _on_moved(self, moved: pipeline.Moved) -> None:
        if self.referral_id == moved.referral_id:
            self.show_referral(moved.referral_id)
            self._say(moved.message)
        self.moved.emit(moved)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.notice.setText(text)
        self.notice.setStyleSheet(f"color: {theme.DANGER};" if error else "")
        self.notice.show()
