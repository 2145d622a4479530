"""One account in detail: editable fields (validated, undo of the last edit, confirmed delete) and
its contacts, visits, tasks, deals and referrals. Writes go through the services, never SQL here.

Kept whole: one panel whose field editing, undo and related lists share the account it shows.
"""

from __future__ import annotations

from functools import partial
from html import escape
from typing import Any
from urllib.parse import quote

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fieldrep.domain.errors import FieldRepError
from fieldrep.services.accounts.service import AccountsService, Edit
from fieldrep.services.accounts.visits import OUTCOME_LABELS
from fieldrep.services.context import Context
from fieldrep.store.accounts_repository import STATUSES, AccountsRepository
from fieldrep.store.errors import ValidationError
from fieldrep.ui import theme
from fieldrep.ui.dates import friendly_day, friendly_moment
from fieldrep.ui.models.accounts_table_model import STATUS_COLORS
from fieldrep.ui.tasks import Task, TaskRunner

# In the order a rep needs them: how to reach the account and where it is come first, so they
# show without scrolling on a 1366 x 768 laptop; City, State and ZIP share one row.
FIELDS = (
    ("name", "Name"),
    ("phone", "Phone"),
    ("email", "Email"),
    ("street", "Street"),
    ("city", "City"),
    ("region", "State"),
    ("postal_code", "ZIP"),
    ("industry", "Industry"),
    ("website", "Website"),
    ("potential", "Potential"),
)
_SAME_ROW_AS_CITY = ("region", "postal_code")
# What an empty list would hold, said in it rather than left blank.
EMPTY_TABS = {
    "contacts": "No contacts yet: an import of contacts fills this list.",
    "visits": "No visits yet: Log visit… (Ctrl+L) records one.",
    "tasks": "No tasks: a visit's next step becomes a task here.",
    "deals": "No deals recorded for this account.",
    "referrals": "No referrals given or received yet.",
}
TABS_MIN_HEIGHT = 150  # the lists keep room for a few rows; below that the panel scrolls
_ERROR_STYLE = f"border: 1px solid {theme.DANGER}; border-radius: 4px;"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):  # with thousands separators, which the service reads back
        return f"{value:,.0f}" if value.is_integer() else f"{value:,}"
    return str(value)


# Where the map puts the account, said in the panel's subtitle.
PLACEMENT = {
    "address": "placed at its address",
    "street": "placed on its street",
    "postal_code": "placed by ZIP code, approximate",
    "city": "placed by city, approximate",
    "manual": "pinned on the map by hand",
    None: "not on the map yet",
}


def contact_links(account: dict[str, Any]) -> str:
    """Rich text: Call (tel:), Email (mailto:) and Open in maps for what the account has."""
    links: list[str] = []
    phone = (account.get("phone") or "").strip()
    if phone:
        dial = "".join(ch for ch in phone if ch.isdigit() or ch == "+")
        links.append(f"<a href='tel:{escape(dial)}'>Call {escape(phone)}</a>")
    email = (account.get("email") or "").strip()
    if email:
        links.append(f"<a href='mailto:{escape(quote(email, safe='@'))}'>Email</a>")
    parts = [account.get(k) for k in ("street", "city", "region", "postal_code")]
    address = ", ".join(str(p) for p in parts if p)
    if address:
        url = "https://www.openstreetmap.org/search?query=" + quote(address)
        links.append(f"<a href='{escape(url)}'>Open in maps</a>")
    return " · ".join(links)


def _update(
    account_id: str, changes: dict[str, Any], ctx: Context
) -> tuple[dict[str, Any], Edit | None]:
    """Save's write: the fields that changed, and the edit that undoes them."""
    service = AccountsService(ctx)
    changed = service.update(account_id, changes)
    return changed, service.last_edit


def _undo(edit: Edit, ctx: Context) -> Edit | None:
    service = AccountsService(ctx)
    service.last_edit = edit
    return service.undo()


def _delete(account_id: str, ctx: Context) -> bool:
    return AccountsService(ctx).delete(account_id)


class AccountDetailPanel(QFrame):
    account_changed = Signal(str)  # account id
    account_deleted = Signal(str)
    log_visit_requested = Signal(str)
    closed = Signal()

    def __init__(
        self,
        repository: AccountsRepository,
        service: AccountsService,
        runner: TaskRunner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.setMinimumWidth(400)  # the fields, and a scroll bar beside them in a short window
        self.repository = repository
        # Its undo memory (the last edit) is kept here; the writes run on the runner's write lane
        # with a service of their own.
        self.service = service
        self.runner = runner
        self.account_id: str | None = None
        self._loaded: dict[str, Any] = {}
        self.confirm_box: QMessageBox | None = None
        self._note: tuple[str, str] | None = None  # (account id, what its creation did)
        self.read_only_reason: str | None = None

        # Labels showing the user's text are plain: a name like "<b>Co</b>" is shown as typed.
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setObjectName("cardTitle")
        self.title.setWordWrap(True)
        self.subtitle = QLabel()
        self.subtitle.setTextFormat(Qt.TextFormat.RichText)  # the coloured status
        self.subtitle.setObjectName("muted")
        self.subtitle.setWordWrap(True)  # a long territory or owner name must not widen the panel
        close = QPushButton("✕")
        close.setFlat(True)
        close.setToolTip("Close (Esc)")
        close.clicked.connect(self.close_panel)
        # Call, write, find: links to the phone, mail and maps apps of the laptop.
        self.links = QLabel()
        self.links.setTextFormat(Qt.TextFormat.RichText)
        self.links.setOpenExternalLinks(True)
        self.links.setTextInteractionFlags(
            Qt.TextInteractionFlag.LinksAccessibleByMouse
            | Qt.TextInteractionFlag.LinksAccessibleByKeyboard
        )
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)

        self.edits: dict[str, QLineEdit] = {}
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.status = QComboBox()
        self.status.addItems([s.capitalize() for s in STATUSES])
        self.notes = QPlainTextEdit()
        self.notes.setFixedHeight(52)
        city_row = QHBoxLayout()
        for key, label in FIELDS:
            edit = QLineEdit()
            edit.setObjectName(f"edit_{key}")
            edit.returnPressed.connect(self.save)
            self.edits[key] = edit
            if key == "city":
                city_row.addWidget(edit, 3)
                form.addRow("City, State, ZIP", city_row)
            elif key in _SAME_ROW_AS_CITY:
                edit.setPlaceholderText(label)
                city_row.addWidget(edit, 1)
            else:
                form.addRow(label, edit)
            if key == "name":
                form.addRow("Status", self.status)
            if key == "postal_code":
                form.addRow("Notes", self.notes)  # before the details a rep rarely changes
        self.error = QLabel()
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setStyleSheet(f"color: {theme.DANGER};")
        self.error.setWordWrap(True)
        self.error.hide()  # shown with a message only: an empty line would leave a gap
        # Where a new account went ("kept as yours", "Handed to Omar, Texas Metros"), why an
        # account handed to a colleague is read-only, and how the customer's referrals went.
        self.note = QLabel()
        self.note.setObjectName("accountNote")
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setWordWrap(True)
        self.note.setStyleSheet(f"color: {theme.TEXT_MUTED};")
        self.note.hide()

        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self.undo_button = QPushButton("Undo")
        self.undo_button.setToolTip("Undo the last saved edit")
        self.undo_button.clicked.connect(self.undo)
        self.visit_button = QPushButton("Log visit…")
        self.visit_button.setToolTip("Ctrl+L")
        self.visit_button.clicked.connect(
            lambda: self.account_id and self.log_visit_requested.emit(self.account_id)
        )
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setStyleSheet(f"color: {theme.DANGER};")
        self.delete_button.clicked.connect(self.ask_delete)
        buttons = QHBoxLayout()
        for button in (self.save_button, self.undo_button, self.visit_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.delete_button)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.setUsesScrollButtons(True)  # tabs that do not fit a narrow panel get arrows
        self.lists: dict[str, QTreeWidget] = {}
        for key, title, headers in (
            ("contacts", "Contacts", ["Name", "Title", "Email", "Phone"]),
            ("visits", "Visits", ["When", "Outcome", "By", "Notes"]),
            ("tasks", "Tasks", ["Due", "Task", "Done"]),
            ("deals", "Deals", ["Closed", "Amount", "Description"]),
            ("referrals", "Referrals", ["Direction", "Referred", "Stage"]),
        ):
            tree = QTreeWidget()
            tree.setHeaderLabels(headers)
            tree.setRootIsDecorated(False)
            tree.setAlternatingRowColors(True)
            self.lists[key] = tree
            self.tabs.addTab(tree, title)

        # New referral from this customer: on the Referrals tab (the button row above is as wide as
        # the panel's narrowest width already).
        self.referral_button = QPushButton("New referral from this customer…")
        self.referral_button.clicked.connect(self.open_referral)
        holder = QWidget()
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 4, 0, 0)
        column.addWidget(self.referral_button, 0, Qt.AlignmentFlag.AlignLeft)
        column.addWidget(self.lists["referrals"])
        at = self.tabs.indexOf(self.lists["referrals"])
        self.tabs.removeTab(at)
        self.tabs.insertTab(at, holder, "Referrals")
        self.tabs.setMinimumHeight(TABS_MIN_HEIGHT)

        # The fields scroll when the window is too short for them, the buttons and the lists (a
        # laptop at 1024 x 700) rather than being squeezed; in a tall window they show whole and
        # the lists take the height left.
        body = QWidget()
        body.setObjectName("panelBody")
        inner = QVBoxLayout(body)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addWidget(self.subtitle)
        inner.addWidget(self.links)
        inner.addWidget(self.note)
        inner.addLayout(form)
        inner.addWidget(self.error)
        self.scroll_area = _FittingScrollArea()
        self.scroll_area.setWidget(body)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setStyleSheet(
            "QScrollArea, QWidget#panelBody { background: transparent; }"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 14)
        layout.addLayout(head)
        layout.addWidget(self.scroll_area)
        layout.addSpacing(4)
        layout.addLayout(buttons)  # always in view: Save and Log visit never need a scroll first
        layout.addSpacing(6)
        layout.addWidget(self.tabs, 1)

    # -- showing ---------------------------------------------------------------------------------

    def open_referral(self) -> QWidget | None:
        if self.account_id is None:
            return None
        from fieldrep.ui.dialogs.referral_dialog import ReferralDialog

        dialog = ReferralDialog(self.service.ctx, self.runner, self.account_id, parent=self)
        dialog.captured.connect(lambda _result: self.show_account(str(self.account_id)))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def show_created(self, account_id: str, note: str | None) -> None:
        """Tell where a just-created account went (the service's ``last_note``)."""
        self._note = (account_id, note) if note else None
        if self.account_id == account_id:
            self._show_notes()

    def _show_notes(self) -> None:
        lines: list[str] = []
        if self._note is not None and self._note[0] == self.account_id:
            lines.append(self._note[1])
        if self.read_only_reason:
            lines.append(self.read_only_reason)
        lines += self._referral_outcomes()
        self.note.setText("\n".join(lines))
        self.note.setVisible(bool(lines))

    def _referral_outcomes(self) -> list[str]:
        """How this customer's referrals went, to tell them at the visit (issue 19)."""
        if self.account_id is None:
            return []
        from fieldrep.services.rewards.close_loop import for_account

        return [o.sentence for o in for_account(self.service.ctx.conn, self.account_id, limit=3)]

    def _set_read_only(self, reason: str | None) -> None:
        """An account handed to a colleague: shown, but not offered for edits the server refuses."""
        self.read_only_reason = reason
        editable = reason is None
        for edit in self.edits.values():
            edit.setReadOnly(not editable)
        self.notes.setReadOnly(not editable)
        self.status.setEnabled(editable)
        for button in (self.save_button, self.delete_button):
            button.setEnabled(editable)
            button.setToolTip("" if editable else reason or "")

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def show_account(self, account_id: str) -> bool:
        detail = self.repository.detail(account_id)
        if detail is None:
            return False
        self.account_id = account_id
        a = detail.account
        self._loaded = a
        self.title.setText(a["name"])
        quality = PLACEMENT.get(a["geocode_quality"], "placed on the map")
        owner = a.get("owner_name") or "no owner"
        territory = a.get("territory_name") or "no territory"
        color = STATUS_COLORS.get(a["status"], theme.TEXT_MUTED)
        self.subtitle.setText(
            f"<span style='color:{color}; font-weight:600'>{a['status'].capitalize()}</span>"
            f" · {escape(territory)} · {escape(owner)} · {escape(quality)}"
        )
        self.links.setText(contact_links(a))
        self.links.setVisible(bool(self.links.text()))
        for key, edit in self.edits.items():
            edit.setText(_text(a.get(key)))
            edit.setCursorPosition(0)  # a long website shows its start, not its end
            edit.setStyleSheet("")
        self.status.setCurrentIndex(STATUSES.index(a["status"]))
        self.notes.setPlainText(a.get("notes") or "")
        self._show_error("")
        self._fill(
            "contacts",
            [
                [f"{c['first_name']} {c['last_name']}".strip(), c["title"], c["email"], c["phone"]]
                for c in detail.contacts
            ],
        )
        self._fill(
            "visits",
            [
                [
                    friendly_moment(v["visited_at"]),
                    OUTCOME_LABELS.get(v["outcome"], v["outcome"]),
                    v["user_name"],
                    v["notes"],
                ]
                for v in detail.visits
            ],
        )
        self._fill(
            "tasks",
            [
                [friendly_day(t["due_date"], empty="no date"), t["title"], "✓" if t["done"] else ""]
                for t in detail.tasks
            ],
        )
        self._fill(
            "deals",
            [
                [friendly_day(d["closed_on"], empty=""), f"${d['amount']:,.0f}", d["description"]]
                for d in detail.deals
            ],
        )
        self._fill(
            "referrals",
            [["gave", r["referred_name"], r["stage"]] for r in detail.referrals_given]
            + [
                ["came from a referral", r["referred_name"], r["stage"]]
                for r in detail.referrals_received
            ],
        )
        counts = {
            "contacts": len(detail.contacts),
            "visits": len(detail.visits),
            "tasks": sum(1 for t in detail.tasks if not t["done"]),
            "deals": len(detail.deals),
            "referrals": len(detail.referrals_given) + len(detail.referrals_received),
        }
        for i, (key, n) in enumerate(counts.items()):
            self.tabs.setTabText(i, f"{key.capitalize()} {n}" if n else key.capitalize())
        self.undo_button.setEnabled(
            self.service.last_edit is not None and self.service.last_edit.account_id == account_id
        )
        self._set_read_only(self.service.handed_away(account_id))
        if self.read_only_reason:
            self.undo_button.setEnabled(False)
        self._show_notes()
        return True

    def reload(self) -> None:
        """Show the open account as the database has it now (a sync or another window changed
        it); an edit the user has not saved yet is never overwritten, only the lists are."""
        if self.account_id is None:
            return
        if self.repository.detail(self.account_id) is None:
            self._show_error("This account was deleted or is no longer in your scope.")
            return
        if not self.changes():
            self.show_account(self.account_id)

    def _fill(self, key: str, rows: list[list[Any]]) -> None:
        tree = self.lists[key]
        tree.clear()
        tree.addTopLevelItems([QTreeWidgetItem([_text(c) for c in row]) for row in rows])
        if not rows:
            empty = QTreeWidgetItem([EMPTY_TABS[key]])
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            tree.addTopLevelItem(empty)
            empty.setFirstColumnSpanned(True)
            return
        for col in range(tree.columnCount()):
            tree.resizeColumnToContents(col)

    def changes(self) -> dict[str, Any]:
        """What the user changed in the form, as text for the service to validate."""
        out: dict[str, Any] = {}
        for key, edit in self.edits.items():
            if edit.text().strip() != _text(self._loaded.get(key)).strip():
                out[key] = edit.text()
        status = STATUSES[self.status.currentIndex()]
        if status != self._loaded.get("status"):
            out["status"] = status
        if self.notes.toPlainText() != (self._loaded.get("notes") or ""):
            out["notes"] = self.notes.toPlainText()
        return out

    # -- actions ---------------------------------------------------------------------------------

    def save(self) -> Task | None:
        """Store the form's changes (a user write; Save waits meanwhile). A refused value comes
        back with the service's sentence, its field marked and focused, the form as typed.
        ``None`` when there is nothing the user may save."""
        if self.account_id is None or self.read_only_reason:
            return None
        for edit in self.edits.values():
            edit.setStyleSheet("")
        account_id = self.account_id
        self.save_button.setEnabled(False)
        task = self.runner.write(
            partial(_update, account_id, self.changes()),
            label="Saving the account",
            on_success=partial(self._on_saved, account_id),
            on_error=self._on_save_refused,
        )
        task.finished.connect(self._enable_writes)
        return task

    def _enable_writes(self) -> None:
        for button in (self.save_button, self.delete_button):
            button.setEnabled(self.read_only_reason is None)

    def _on_saved(self, account_id: str, outcome: tuple[dict[str, Any], Edit | None]) -> None:
        changed, edit = outcome
        if changed:
            self.service.last_edit = edit
        if self.account_id == account_id:
            self.show_account(account_id)
        if changed:
            self._show_error("")
            self.account_changed.emit(account_id)

    def _on_save_refused(self, error: FieldRepError) -> None:
        self._show_error(str(error))
        field = error.field if isinstance(error, ValidationError) else ""
        if field in self.edits:
            self.edits[field].setStyleSheet(_ERROR_STYLE)
            self.edits[field].setFocus()

    def undo(self) -> Task | None:
        edit = self.service.last_edit
        if edit is None:
            return None
        return self.runner.write(
            partial(_undo, edit),
            label="Undoing the last edit",
            on_success=self._on_undone,
            on_error=lambda error: self._show_error(str(error)),
        )

    def _on_undone(self, edit: Edit | None) -> None:
        if edit is None:
            return
        if self.service.last_edit is edit:
            self.service.last_edit = None
        self.show_account(edit.account_id)
        self.account_changed.emit(edit.account_id)

    def ask_delete(self) -> None:
        if self.account_id is None or self.read_only_reason:
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Delete account",
            f"Delete {self._loaded.get('name')!s} with its place on the map? Its"
            " visits stay in the history.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(self._on_confirm_box_finished)
        self.confirm_box = box
        box.open()

    def _on_confirm_box_finished(self, result: int) -> None:
        box, self.confirm_box = self.confirm_box, None
        if box is not None:
            box.deleteLater()
        if result != QMessageBox.StandardButton.Yes or self.account_id is None:
            return
        account_id = self.account_id
        self.service.last_edit = None
        self.delete_button.setEnabled(False)
        task = self.runner.write(
            partial(_delete, account_id),
            label="Deleting the account",
            on_success=lambda _deleted: self._on_deleted(account_id),
            on_error=lambda error: self._show_error(str(error)),
        )
        task.finished.connect(self._enable_writes)

    def _on_deleted(self, account_id: str) -> None:
        if self.account_id == account_id:
            self.account_id = None
            self.close_panel()
        self.account_deleted.emit(account_id)

    def close_panel(self) -> None:
        self.hide()
        self.closed.emit()


class _FittingScrollArea(QScrollArea):
    """Asks for all the height its content needs (QScrollArea caps its wish at a few lines), so
    it scrolls only when the window cannot give that."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # the content's wish changed (another account, an error shown)
        return super().eventFilter(watched, event)

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        content = self.widget()
        if content is not None:
            hint.setHeight(content.sizeHint().height() + 2 * self.frameWidth())
        return hint
