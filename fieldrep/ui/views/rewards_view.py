"""The manager's reward approval queue: filter by status, select several, approve or decline them
with one reason, issue the approved ones as a payout batch (a CSV for finance), mark redeemed.

Rows come from :mod:`fieldrep.services.rewards.lifecycle` (read on the GUI thread: one indexed
query, at most a page); every decision runs as a write task through the runner, so the service
writes the rows and their outbox entries, never this widget. A rep sees the rewards of the
referrals they captured and no buttons.

Below the table, the e-mail outbox of this laptop (waiting, failed) and "Mail settings…", the
SMTP form (:class:`~fieldrep.ui.dialogs.smtp_settings_dialog.SmtpSettingsDialog`); its Send now
goes to the window's background sender (:mod:`fieldrep.ui.notification_sender`), the one that
sends by itself while online, so two sends never run at once. Beside it "E-mail templates…", the
wording of those e-mails (:mod:`fieldrep.ui.dialogs.message_templates_dialog`).

Kept whole: one page whose queue, decisions and mail outbox share its selection and its refresh.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from fieldrep.domain.rewards import money
from fieldrep.domain.vocabulary import MANAGER_ROLES
from fieldrep.services.context import Context
from fieldrep.services.rewards import lifecycle
from fieldrep.services.rewards.lifecycle import RewardRow
from fieldrep.ui import theme
from fieldrep.ui.dates import friendly_day
from fieldrep.ui.tasks import Task, TaskRunner

Index = QModelIndex | QPersistentModelIndex

COL_RECIPIENT, COL_REFERRAL, COL_AMOUNT, COL_STATUS, COL_HOLD, COL_HOW = range(6)
HEADERS = ("Recipient", "Referral", "Amount", "Status", "Hold until", "How it was computed")
FILTERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Awaiting approval", ("awaiting_approval", "pending")),
    ("On hold", ("on_hold",)),
    ("Approved, to pay", ("approved",)),
    ("Issued", ("issued",)),
    ("Redeemed", ("redeemed",)),
    ("Declined or voided", ("declined", "voided", "revoked")),
    ("All", ()),
)
_STYLE = f"""
QTableView {{ background: {theme.SURFACE}; border: 1px solid {theme.BORDER}; border-radius: 8px;
             selection-background-color: {theme.ACCENT_SOFT}; selection-color: {theme.TEXT}; }}
QTableView::item {{ padding: 0 8px; }}
QHeaderView::section {{ background: {theme.SURFACE}; color: {theme.TEXT_MUTED}; border: none;
                       border-bottom: 1px solid {theme.BORDER}; padding: 6px 8px;
                       font-weight: 600; }}
QPushButton {{ padding: 6px 16px; border: 1px solid {theme.BORDER}; border-radius: 6px;
              background: {theme.SURFACE}; }}
QPushButton:disabled {{ color: {theme.OFFLINE}; }}
"""


class RewardsTableModel(QAbstractTableModel):
    """A thin adapter over a list of :class:`RewardRow`."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[RewardRow] = []

    def set_rows(self, rows: Sequence[RewardRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def item(self, row: int) -> RewardRow:
        return self._rows[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_RECIPIENT:
                return r.recipient_name or "-"
            if col == COL_REFERRAL:
                return r.referred_name
            if col == COL_AMOUNT:
                return money(r.amount_cents, r.currency)
            if col == COL_STATUS:
                text = r.status.replace("_", " ")
                return f"{text} (clawback)" if r.kind == "clawback" else text
            if col == COL_HOLD:  # a rule without hold days holds nothing: no date to show
                hold = (r.hold_until or "")[:10]
                return friendly_day(hold, empty="") if hold > r.created_at[:10] else ""
            text = r.explanation
            return f"{text} — {r.reason}" if r.reason else text
        if role == Qt.ItemDataRole.ToolTipRole and col == COL_HOW:
            return r.explanation + (f"\n{r.reason}" if r.reason else "")
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_AMOUNT:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class RewardsView(QWidget):
    """Filters, the reward table, and Approve / Decline (with reason) / Issue payout / Redeemed."""

    decided = Signal(str, int)  # what was done, how many rewards

    def __init__(self, context: Context, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.runner = runner
        self._busy = False
        self.setStyleSheet(_STYLE)

        title = QLabel("Rewards")
        title.setObjectName("pageTitle")
        self.count_label = QLabel()
        self.count_label.setObjectName("muted")
        self.filter_combo = QComboBox()
        for label, _statuses in FILTERS:
            self.filter_combo.addItem(label)
        self.filter_combo.currentIndexChanged.connect(self._on_filter_combo_changed)
        header = QHBoxLayout()
        header.addWidget(title)
        header.addSpacing(12)
        header.addWidget(self.count_label, 1, Qt.AlignmentFlag.AlignBottom)
        header.addWidget(QLabel("Show"))
        header.addWidget(self.filter_combo)

        self.model = RewardsTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(30)
        head = self.table.horizontalHeader()
        head.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        for column in (COL_RECIPIENT, COL_REFERRAL):
            head.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            self.table.setColumnWidth(column, 180)
        for column in (COL_AMOUNT, COL_STATUS, COL_HOLD):
            head.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(COL_HOW, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)

        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText("Reason for declining (shown to the rep and kept)")
        self.approve_button = QPushButton("Approve selected")
        self.approve_button.clicked.connect(self._on_approve_button_clicked)
        self.decline_button = QPushButton("Decline selected")
        self.decline_button.clicked.connect(self._on_decline_button_clicked)
        self.issue_button = QPushButton("Issue payout…")
        self.issue_button.setToolTip("Pay every approved reward as one batch and save the CSV")
        self.issue_button.clicked.connect(self._on_issue_button_clicked)
        self.redeem_button = QPushButton("Mark redeemed")
        self.redeem_button.clicked.connect(self._on_redeem_button_clicked)
        # The selected reward's computation in full (the column elides a long one).
        self.detail_label = QLabel()
        self.detail_label.setWordWrap(True)
        self.detail_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        # two lines always: room for a long computation, and the table does not jump
        self.detail_label.setMinimumHeight(self.detail_label.fontMetrics().lineSpacing() * 2 + 4)
        self.message_label = QLabel()
        self.message_label.setObjectName("muted")
        self.message_label.setWordWrap(True)
        self.mail_label = QLabel()
        self.mail_label.setObjectName("muted")
        self.mail_label.setWordWrap(True)
        self.mail_button = QPushButton("Mail settings…")
        self.mail_button.setToolTip("The mail server the e-mails to referrers leave through")
        self.mail_button.clicked.connect(self._on_mail_button_clicked)
        self.mail_dialog: Any = None
        self.templates_button = QPushButton("E-mail templates…")
        self.templates_button.setToolTip("The wording of the e-mails to referrers")
        self.templates_button.clicked.connect(self._on_templates_button_clicked)
        self.templates_dialog: Any = None
        mail_row = QHBoxLayout()
        mail_row.setContentsMargins(0, 0, 0, 0)
        mail_row.addWidget(self.mail_label, 1)
        mail_row.addWidget(self.templates_button)
        mail_row.addWidget(self.mail_button)
        actions = QHBoxLayout()
        actions.addWidget(self.reason_edit, 1)
        for button in (
            self.approve_button,
            self.decline_button,
            self.redeem_button,
            self.issue_button,
        ):
            actions.addWidget(button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(28, 22, 28, 18)
        layout.setSpacing(12)
        layout.addLayout(header)
        self.intro = QLabel()
        self.intro.setObjectName("muted")
        self.intro.setWordWrap(True)
        layout.addWidget(self.intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.detail_label)
        self.action_bar = QWidget()
        self.action_bar.setLayout(actions)
        actions.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.action_bar)
        layout.addWidget(self.message_label)
        layout.addLayout(mail_row)
        # A sync bringing rewards, or the referral's stage move writing them, shows at once.
        from fieldrep.ui.change_relay import refresh_on_change

        if not self.is_manager:  # a rep follows every reward of theirs, not a queue to work
            self.filter_combo.blockSignals(True)
            self.set_filter("All")
            self.filter_combo.blockSignals(False)
        refresh_on_change(
            runner.changes,
            self,
            ("rewards", "referrals", "users", "local_meta", "notifications"),
            lambda _changes: None if self._busy else self.reload(),
        )
        self.reload()

    # -- data ---------------------------------------------------------------------------------

    @property
    def is_manager(self) -> bool:
        user = self.context.user()
        return bool(user and user.get("role") in MANAGER_ROLES)

    def set_filter(self, label: str) -> None:
        labels = [f[0] for f in FILTERS]
        self.filter_combo.setCurrentIndex(labels.index(label))

    def reload(self) -> None:
        manager = self.is_manager
        self.intro.setText(
            "Rewards wait here after their hold. Select one or more (Shift/Ctrl-click), approve or"
            " decline with a reason; approved rewards are paid together by Issue payout, with"
            " clawbacks netted."
            if manager
            else "The rewards earned by the referrals you captured, to follow. Your manager"
            " approves and pays them: nothing here needs you to act."
        )
        self.action_bar.setVisible(manager)  # a rep is not offered buttons the server refuses
        statuses = FILTERS[self.filter_combo.currentIndex()][1]
        rows = lifecycle.for_user(self.context, lifecycle.Filter(statuses=statuses, limit=2000))
        self.model.set_rows(rows)
        total = sum(r.amount_cents for r in rows)
        self.count_label.setText(
            "nothing here"
            if not rows
            else f"{len(rows):,} reward{'' if len(rows) == 1 else 's'}, {money(total)}"
        )
        self._update_buttons()
        self._show_detail()
        self.mail_label.setText(self.mail_text())

    def mail_text(self) -> str:
        """This laptop's e-mail outbox in a sentence."""
        from fieldrep.services.notifications import smtp_settings

        counts = dict(
            self.context.conn.execute(
                "SELECT status, count(*) FROM notifications WHERE channel = 'email'"
                " AND origin_device = ? AND status IN ('queued', 'failed') GROUP BY status",
                (self.context.writer.device_id,),
            ).fetchall()
        )
        waiting, failed = counts.get("queued", 0), counts.get("failed", 0)
        settings = smtp_settings.load(self.context.conn)
        parts = []
        if waiting:
            parts.append(f"{waiting:,} e-mail{'' if waiting == 1 else 's'} to referrers waiting")
        if failed:
            parts.append(f"{failed:,} could not be sent (kept, with the reason)")
        where = (
            f"sent through {settings.host} while online"
            if settings.configured
            else "no mail server set up yet: e-mails wait on this laptop"
        )
        return "E-mail: " + (", ".join(parts) + "; " if parts else "nothing waiting; ") + where

    def open_mail_settings(self) -> Any:
        from fieldrep.ui.dialogs.smtp_settings_dialog import SmtpSettingsDialog
        from fieldrep.ui.notification_sender import sender_for

        if self.mail_dialog is None:
            self.mail_dialog = SmtpSettingsDialog(self.context, self.runner, self)
            self.mail_dialog.saved.connect(lambda _s: self.reload())
            sender = sender_for(self.runner)
            if sender is None:
                self.mail_dialog.send_button.hide()  # sending runs from the main window
            else:
                self.mail_dialog.send_requested.connect(lambda: sender.send_now(even_offline=True))
        self.mail_dialog.open()
        return self.mail_dialog

    def _on_mail_button_clicked(self) -> None:
        self.open_mail_settings()

    def open_templates(self) -> Any:
        from fieldrep.ui.dialogs.message_templates_dialog import MessageTemplatesDialog

        if self.templates_dialog is None:
            self.templates_dialog = MessageTemplatesDialog(self.context, self.runner, self)
        self.templates_dialog.open()
        return self.templates_dialog

    def _on_templates_button_clicked(self) -> None:
        self.open_templates()

    def selected(self) -> list[RewardRow]:
        rows = self.table.selectionModel().selectedRows()
        return [self.model.item(i.row()) for i in sorted(rows, key=lambda i: i.row())]

    def _update_buttons(self) -> None:
        manager = self.is_manager
        chosen = self.selected()
        statuses = {r.status for r in chosen}
        waiting = bool(chosen) and statuses <= {"awaiting_approval", "pending"}
        for button, ok in (
            (self.approve_button, waiting),
            (self.decline_button, waiting),
            (self.redeem_button, bool(chosen) and statuses == {"issued"}),
            (self.issue_button, True),
        ):
            button.setEnabled(manager and ok and not self._busy)
            if not manager:
                button.setToolTip("Only a manager can approve, decline or pay rewards")
        self.reason_edit.setEnabled(manager)

    def _on_selection_changed(self, *_args: object) -> None:
        self._update_buttons()
        self._show_detail()

    def _show_detail(self) -> None:
        """One reward selected: what it is, how it was computed and why it ended as it did."""
        chosen = self.selected()
        if len(chosen) != 1:
            self.detail_label.setText("Select a reward to read how it was computed.")
            return
        r = chosen[0]
        what = "Clawback" if r.kind == "clawback" else "Reward"
        text = f"{what} of {money(r.amount_cents, r.currency)} to {r.recipient_name or '-'}"
        text += f" for the referral of {r.referred_name}: {r.explanation or 'no explanation'}"
        reason = r.reason.strip().rstrip(".")
        if reason:
            text += f". {reason[:1].upper()}{reason[1:]}"
        self.detail_label.setText(text + ".")

    def _on_filter_combo_changed(self, _index: int) -> None:
        self.reload()

    # -- decisions ----------------------------------------------------------------------------

    def _run(
        self, label: str, work: Callable[[Context], Any], done_text: Callable[[Any], str]
    ) -> Task:
        self._busy = True
        self._update_buttons()
        self.message_label.setText(f"{label}…")

        def done(result: Any) -> None:
            self._busy = False
            self.reload()
            text = done_text(result)
            self.message_label.setText(text)
            self.decided.emit(label, len(result) if isinstance(result, list) else 1)

        def failed(error: BaseException) -> None:
            self._busy = False
            self.reload()
            self.message_label.setText(f"Nothing was changed: {error}")

        return self.runner.write(work, label=label, on_success=done, on_failure=failed)

    def approve(self) -> Task | None:
        ids = [r.id for r in self.selected()]
        if not ids or self._busy:
            return None
        return self._run(
            "Approving",
            lambda ctx: lifecycle.approve(ctx, ids),
            lambda done: f"{len(done)} reward(s) approved; they are paid with the next payout.",
        )

    def decline(self) -> Task | None:
        ids = [r.id for r in self.selected()]
        reason = self.reason_edit.text()
        if not ids or self._busy:
            return None
        if not reason.strip():
            self.message_label.setText("Say why in the box on the left, then decline.")
            self.reason_edit.setFocus()
            return None
        return self._run(
            "Declining",
            lambda ctx: lifecycle.decline(ctx, ids, reason),
            lambda done: f"{len(done)} reward(s) declined: {reason.strip()}",
        )

    def redeem(self) -> Task | None:
        ids = [r.id for r in self.selected()]
        if not ids or self._busy:
            return None
        return self._run(
            "Marking redeemed",
            lambda ctx: lifecycle.redeem(ctx, ids),
            lambda done: f"{len(done)} reward(s) marked redeemed.",
        )

    def issue_to(self, path: Path) -> Task | None:
        if self._busy:
            return None

        def text(payout: lifecycle.Payout) -> str:
            if not payout.lines:
                return "Nothing to pay: no approved rewards (or only clawbacks)."
            carried = (
                f"; {len(payout.carried)} carried to a later payout (clawbacks exceed rewards)"
                if payout.carried
                else ""
            )
            return (
                f"Payout {payout.batch}: {len(payout.lines)} recipient(s), "
                f"{money(payout.total_cents)}, saved to {path}{carried}."
            )

        return self._run("Issuing payout", lambda ctx: lifecycle.issue(ctx, path), text)

    def _on_approve_button_clicked(self) -> None:
        self.approve()

    def _on_decline_button_clicked(self) -> None:
        self.decline()

    def _on_redeem_button_clicked(self) -> None:
        self.redeem()

    def _on_issue_button_clicked(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, "Save the payout file for finance", "payout.csv", "CSV files (*.csv)"
        )
        if name:
            self.issue_to(Path(name))

    def showEvent(self, event: QShowEvent) -> None:
        if not self._busy:
            self.reload()
        super().showEvent(event)
