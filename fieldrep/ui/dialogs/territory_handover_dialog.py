"""Hand over a rep's open work in one action: a rep leaves, or one territory changes hands.

The dialog shows what would move (open accounts, open tasks, open referrals) before the manager
confirms; the move itself is a user write (``runner.write_with_progress``), one transaction that
writes the assignment history (who, when, why) for every item.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from fieldrep.services.context import Context
from fieldrep.services.territories import service as territory_service
from fieldrep.store.errors import StoreError
from fieldrep.ui import theme
from fieldrep.ui.tasks import Progress, Task, TaskRunner
from fieldrep.ui.widgets.screen_fit import fit_on_show

EVERYTHING = "__all__"


class HandoverDialog(QDialog):
    handed_over = Signal(str)  # the summary shown on the page

    def __init__(
        self,
        ctx: Context,
        runner: TaskRunner,
        territory_id: str | None = None,
        from_user: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        fit_on_show(self)  # at least its size hint, within the screen
        self.ctx, self.runner = ctx, runner
        self.setWindowTitle("Hand over accounts, tasks and referrals")
        self.resize(520, 260)
        users = list(
            ctx.db.query(
                "SELECT id, coalesce(nullif(display_name, ''), username) AS n, active "
                "FROM users ORDER BY active DESC, n"
            )
        )
        self.from_box, self.to_box = QComboBox(), QComboBox()
        for u in users:
            label = u["n"] + ("" if u["active"] else " (inactive)")
            self.from_box.addItem(label, u["id"])
            if u["active"]:
                self.to_box.addItem(label, u["id"])
        if from_user:
            self.from_box.setCurrentIndex(max(self.from_box.findData(from_user), 0))
        self.scope = QComboBox()
        self.scope.addItem("Everything the rep holds (the rep leaves)", EVERYTHING)
        for t in territory_service.territory_rows(ctx, include_archived=False):
            if t["kind"] == "territory":
                self.scope.addItem(f"Only {t['name']} (the territory changes hands)", t["id"])
        if territory_id:
            self.scope.setCurrentIndex(max(self.scope.findData(territory_id), 0))
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("e.g. Ann left the company")
        self.preview = QLabel()
        self.preview.setWordWrap(True)
        form = QFormLayout()
        form.addRow("From", self.from_box)
        form.addRow("To", self.to_box)
        form.addRow("What", self.scope)
        form.addRow("Why", self.reason)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Hand over")
        self.buttons.accepted.connect(self.hand_over)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.preview)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        for box in (self.from_box, self.to_box, self.scope):
            box.currentIndexChanged.connect(self.update_preview)
        self.update_preview()

    def _args(self) -> tuple[str, str, str | None]:
        scope = self.scope.currentData()
        return (
            self.from_box.currentData(),
            self.to_box.currentData(),
            None if scope == EVERYTHING else scope,
        )

    def update_preview(self, *_: object) -> None:
        from_user, to_user, territory_id = self._args()
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        try:
            counts = territory_service.handover(
                self.ctx, from_user, to_user, territory_id=territory_id, dry_run=True
            )
        except StoreError as exc:
            self.preview.setStyleSheet(f"color: {theme.DANGER};")
            self.preview.setText(str(exc))
            ok.setEnabled(False)
            return
        self.preview.setStyleSheet("")
        self.preview.setText(
            f"{counts.accounts:,} open account(s), {counts.tasks:,} open task(s) and "
            f"{counts.referrals:,} open referral(s) move from {self.from_box.currentText()} to "
            f"{self.to_box.currentText()}"
            + (", with the territories they own or belong to." if territory_id is None else ".")
            + " Each move is written to the assignment history."
        )
        ok.setEnabled(True)

    def hand_over(self) -> Task:
        from_user, to_user, territory_id = self._args()
        reason = self.reason.text().strip() or "handover"
        names = (self.from_box.currentText(), self.to_box.currentText())
        self.buttons.setEnabled(False)
        return self.runner.write_with_progress(
            partial(_hand_over, from_user, to_user, territory_id, reason),
            label="Handing over",
            on_success=lambda h: self._on_done(h, names),
            on_error=self._on_failed,
            on_failure=self._on_failed,
        )

    def _on_done(self, h: territory_service.Handover, names: tuple[str, str]) -> None:
        self.handed_over.emit(
            f"Handed over from {names[0]} to {names[1]}: {h.accounts:,} account(s), "
            f"{h.tasks:,} task(s), {h.referrals:,} referral(s), with history."
        )
        self.accept()

    def _on_failed(self, exc: BaseException) -> None:
        self.buttons.setEnabled(True)
        self.preview.setStyleSheet(f"color: {theme.DANGER};")
        self.preview.setText(f"Nothing handed over: {exc}")


def _hand_over(
    from_user: str,
    to_user: str,
    territory_id: str | None,
    reason: str,
    ctx: Context,
    progress: Progress,
) -> territory_service.Handover:
    """The handover's write, on the worker's context."""
    progress.report(0, None, "Handing over")
    return territory_service.handover(
        ctx, from_user, to_user, territory_id=territory_id, reason=reason
    )
