"""Geocoding: where the accounts are on the map, the online geocoder's settings, placing accounts
online, and the accounts that could not be placed.

The same facts and rules as ``fieldrep geocode status / configure / online / unplaced``: the
counts come from :func:`~fieldrep.geo.placement.placement_summary`, the settings are checked by
:func:`~fieldrep.geo.geocoder_settings.nominatim_settings` and stored by ``save_settings``, and
placing runs :func:`~fieldrep.geo.online_refine.refine_online` on the task runner's network lane
with progress and Cancel. Placing always uses the *saved* settings, so it is offered only once the form is saved.

Kept whole: one dialog whose summary, form and placing run share its widgets and its one task.
"""

from __future__ import annotations

import dataclasses
from contextlib import suppress
from functools import partial
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from fieldrep.geo.geocoder_settings import (
    NOMINATIM_POLICY,
    PUBLIC_NOMINATIM,
    OnlineSettings,
    SettingsError,
    load_settings,
    nominatim_settings,
    save_settings,
)
from fieldrep.geo.online_refine import RefineReport, refinable_count, refine_online
from fieldrep.geo.placement import placement_summary, unplaced_accounts
from fieldrep.services.context import Context
from fieldrep.ui import theme
from fieldrep.ui.models.accounts_table_model import QUALITY_LABELS
from fieldrep.ui.models.unplaced_table_model import COL_ADDRESS, COL_NAME, UnplacedTableModel
from fieldrep.ui.tasks import Cancelled, Progress, Task, TaskKind, TaskRunner
from fieldrep.ui.widgets.screen_fit import FittingScrollArea, fit_on_show, room_on_screen
from fieldrep.ui.widgets.task_progress import TaskProgressWidget

PLACE_LABEL = "Placing accounts online"
UNPLACED_ROWS_SHOWN = 6


def place_online_operation(settings: OnlineSettings, ctx: Context, progress: Progress) -> Any:
    """Run :func:`refine_online` as a long user write. A cancel ends the run early but still
    returns its report (what was placed before it is kept), so the dialog can say how far it got."""

    def show(done: int, total: int | None, text: str) -> None:
        with suppress(Cancelled):  # noticed by ``cancelled`` below, before the next account
            progress.report(done, total, text)

    return refine_online(ctx, settings, progress=show, cancelled=lambda: progress.cancelled)


def _store_settings(settings: OnlineSettings, ctx: Context) -> None:
    with ctx.writer.transaction() as conn:
        save_settings(conn, settings)


def report_text(report: RefineReport) -> str:
    """One paragraph on what a run did: placed, improved, not found, and why it stopped."""
    placed = f" ({report.placed:,} of them had no location)" if report.placed else ""
    text = (
        f"Checked {report.checked:,} of {report.total:,} accounts: {report.improved:,} placed more"
        f" precisely{placed}, {report.not_found:,} not found online."
    )
    if report.unreadable:
        text += (
            f" {report.unreadable:,} answer{'' if report.unreadable == 1 else 's'} could not be"
            " read; asked again next time."
        )
    if report.requests_sent < report.checked:
        sent = report.requests_sent
        text += f" {sent:,} request{'' if sent == 1 else 's'} sent; the rest answered from earlier."
    if report.stopped_reason == "cancelled":
        text += " Stopped when you cancelled; what was found is kept."
    elif report.stopped_reason:
        text += f" Stopped: {report.stopped_reason}; what was found is kept."
    return text


def _duration(seconds: float) -> str:
    if seconds < 90:
        n = max(1, round(seconds))
        return "a second" if n == 1 else f"{n} seconds"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} minutes"
    return f"{seconds / 3600:.1f} hours"


def _card(title: str) -> tuple[QFrame, QVBoxLayout]:
    card = QFrame()
    card.setObjectName("card")
    layout = QVBoxLayout(card)
    layout.setContentsMargins(14, 12, 14, 12)
    layout.setSpacing(8)
    heading = QLabel(title)
    heading.setStyleSheet("font-weight: 600;")
    layout.addWidget(heading)
    return card, layout


def _error_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {theme.DANGER};")
    label.hide()
    return label


class GeocoderSettingsDialog(QDialog):
    """Placement counts, the Nominatim settings form, "Place accounts online" and the unplaced list."""

    settings_saved = Signal(object)  # OnlineSettings
    placing_finished = Signal(object)  # RefineReport, or None when cancelled before it began

    def __init__(self, context: Context, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        fit_on_show(self)  # at least its size hint, within the screen
        self.context = context
        self.runner = runner
        self.task: Task | None = None
        self.save_task: Task | None = None  # Save's write, while it runs
        self.report: RefineReport | None = None
        self.unplaced = 0
        self.saved = load_settings(context.conn)
        self.setWindowTitle("Geocoding")
        self.setMinimumWidth(680)

        title = QLabel("Placing accounts on the map")
        title.setObjectName("cardTitle")
        intro = QLabel(
            "Accounts are placed offline from their ZIP code or city. An online geocoder can place"
            " those with a street address more precisely; every answer is kept on this laptop, so"
            " no address is ever looked up twice."
        )
        intro.setWordWrap(True)
        intro.setObjectName("muted")

        # -- where the accounts are
        status_card, status_layout = _card("Where your accounts are")
        # One tile per quality (count above, name below): two lines whatever the mix.
        self.counts_grid = QGridLayout()
        self.counts_grid.setHorizontalSpacing(28)
        self.counts_grid.setVerticalSpacing(0)
        self.cached_label = QLabel()
        self.cached_label.setObjectName("muted")
        self.unplaced_label = QLabel()
        self.unplaced_label.setWordWrap(True)
        self.unplaced_label.setTextFormat(Qt.TextFormat.RichText)
        self.unplaced_button = QPushButton("Show them")
        self.unplaced_button.setCheckable(True)
        self.unplaced_button.toggled.connect(self._on_unplaced_button_toggled)
        unplaced_row = QHBoxLayout()
        unplaced_row.addWidget(self.unplaced_label, 1)
        unplaced_row.addWidget(self.unplaced_button, 0, Qt.AlignmentFlag.AlignTop)
        self.unplaced_model = UnplacedTableModel(self)
        self.unplaced_table = QTableView()
        self.unplaced_table.setModel(self.unplaced_model)
        self.unplaced_table.verticalHeader().hide()
        self.unplaced_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.unplaced_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.unplaced_table.horizontalHeader().setSectionResizeMode(
            COL_ADDRESS, QHeaderView.ResizeMode.Stretch
        )
        self.unplaced_table.hide()
        status_layout.addLayout(self.counts_grid)
        status_layout.addWidget(self.cached_label)
        status_layout.addLayout(unplaced_row)
        status_layout.addWidget(self.unplaced_table)

        # -- the online geocoder
        online_card, online_layout = _card("Online geocoder")
        self.enabled_check = QCheckBox("Place accounts online with Nominatim (OpenStreetMap)")
        policy = QLabel(NOMINATIM_POLICY)
        policy.setWordWrap(True)
        policy.setObjectName("muted")
        self.user_agent_edit = QLineEdit()
        self.user_agent_edit.setPlaceholderText("e.g. acme-fieldrep (it@acme.com)")
        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText(f"https://{PUBLIC_NOMINATIM}")
        self.delay_spin = QDoubleSpinBox()
        self.delay_spin.setRange(0.0, 60.0)
        self.delay_spin.setDecimals(2)
        self.delay_spin.setSingleStep(0.5)
        self.delay_spin.setSuffix(" s")
        self.delay_spin.setToolTip("Seconds between requests: at least 1 on the public server")
        self.errors = {
            "user_agent": _error_label(),
            "url": _error_label(),
            "min_delay": _error_label(),
        }
        self.form = QWidget()
        form = QFormLayout(self.form)
        form.setContentsMargins(0, 0, 0, 0)
        for text, widget, key in (
            ("User agent", self.user_agent_edit, "user_agent"),
            ("Server", self.url_edit, "url"),
            ("Delay between requests", self.delay_spin, "min_delay"),
        ):
            cell = QVBoxLayout()
            cell.setSpacing(2)
            cell.addWidget(widget)
            cell.addWidget(self.errors[key])
            form.addRow(text, cell)
        self.save_message = QLabel()
        self.save_message.setWordWrap(True)
        self.save_button = QPushButton("Save settings")
        self.save_button.setDefault(True)  # Enter in a field saves
        self.save_button.clicked.connect(self._on_save_button_clicked)
        save_row = QHBoxLayout()
        save_row.addWidget(self.save_message, 1)
        save_row.addWidget(self.save_button)
        online_layout.addWidget(self.enabled_check)
        online_layout.addWidget(policy)
        online_layout.addWidget(self.form)
        online_layout.addLayout(save_row)

        # -- placing
        place_card, place_layout = _card("Place accounts online")
        self.place_reason = QLabel()
        self.place_reason.setWordWrap(True)
        self.place_reason.setObjectName("muted")
        self.place_button = QPushButton("Place accounts online")
        self.place_button.clicked.connect(self._on_place_button_clicked)
        place_row = QHBoxLayout()
        place_row.addWidget(self.place_reason, 1)
        place_row.addWidget(self.place_button)
        self.task_line = TaskProgressWidget()
        # As wide as its contents: stretched across the card, its Cancel button looks like a bar.
        self.task_line.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.hide()
        place_layout.addLayout(place_row)
        place_layout.addWidget(self.task_line)
        place_layout.addWidget(self.result_label)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)

        # The cards scroll inside the dialog on a short screen; Close stays in view.
        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.setSpacing(12)
        for part in (title, intro, status_card, online_card, place_card):
            body_layout.addWidget(part)
        self.scroll_area = FittingScrollArea(body)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 14)
        layout.setSpacing(12)
        layout.addWidget(self.scroll_area, 1)
        layout.addWidget(buttons)

        self._show_settings(self.saved)
        self.enabled_check.toggled.connect(self._on_form_changed)
        self.user_agent_edit.textChanged.connect(self._on_form_changed)
        self.url_edit.textChanged.connect(self._on_form_changed)
        self.delay_spin.valueChanged.connect(self._on_form_changed)
        self.refresh()

    # -- the form -----------------------------------------------------------------------------

    def _show_settings(self, settings: OnlineSettings) -> None:
        self.enabled_check.setChecked(settings.enabled)
        # The built-in default names nobody: leave the field empty so the user writes their own.
        default_agent = OnlineSettings().user_agent
        agent = "" if settings.user_agent == default_agent else settings.user_agent
        self.user_agent_edit.setText(agent)
        self.url_edit.setText(settings.url)
        self.delay_spin.setValue(settings.min_delay_seconds)
        self.form.setEnabled(settings.enabled)

    def _form_key(self) -> tuple[object, ...]:
        return (
            self.enabled_check.isChecked(),
            self.user_agent_edit.text().strip(),
            (self.url_edit.text().strip() or f"https://{PUBLIC_NOMINATIM}").rstrip("/"),
            round(self.delay_spin.value(), 2),
        )

    def _saved_key(self) -> tuple[object, ...]:
        s = self.saved
        agent = "" if s.user_agent == OnlineSettings().user_agent else s.user_agent
        return (s.enabled, agent, s.url.rstrip("/"), round(s.min_delay_seconds, 2))

    @property
    def has_unsaved_changes(self) -> bool:
        return self._form_key() != self._saved_key()

    def field_error(self, field: str) -> str:
        label = self.errors[field]
        return label.text() if label.isVisibleTo(self) else ""

    def _update_form_enabled(self) -> None:
        # Locked while placing: the run goes on with the settings it started with. Save also
        # waits while its write runs (the form keeps its focus meanwhile).
        idle = self.task is None
        self.enabled_check.setEnabled(idle)
        self.save_button.setEnabled(idle and self.save_task is None)
        self.form.setEnabled(idle and self.enabled_check.isChecked())

    def _on_form_changed(self) -> None:
        self._update_form_enabled()
        for label in self.errors.values():
            label.hide()
        self.save_message.clear()
        self._update_place()

    def settings_from_form(self) -> OnlineSettings:
        """The form as settings; raises :class:`SettingsError` naming the field that is wrong."""
        checked = nominatim_settings(
            self.user_agent_edit.text(), self.url_edit.text(), self.delay_spin.value()
        )
        return dataclasses.replace(checked, timeout_seconds=self.saved.timeout_seconds)

    def save(self) -> Task | None:
        """Check the form and store it (a user write; Save waits meanwhile); ``None`` with
        the error shown inline when the form is refused. :attr:`settings_saved` tells of success."""
        for label in self.errors.values():
            label.hide()
        try:
            settings = self.settings_from_form()
        except SettingsError as exc:
            if self.enabled_check.isChecked():
                self.errors[exc.field].setText(exc.message[:1].upper() + exc.message[1:] + ".")
                self.errors[exc.field].show()
                {"user_agent": self.user_agent_edit, "url": self.url_edit}.get(
                    exc.field, self.delay_spin
                ).setFocus()
                self._say_saved("Not saved: please correct the field marked in red.", error=True)
                return None
            settings = OnlineSettings()  # turning it off needs no valid server details
        if not self.enabled_check.isChecked():
            # Off, but keep what was typed so turning it back on needs no retyping.
            settings = dataclasses.replace(settings, provider="")
        self.save_task = self.runner.write(
            partial(_store_settings, settings),
            label="Saving the geocoder settings",
            on_success=lambda _result: self._on_stored(settings),
        )
        self.save_task.finished.connect(self._on_save_task_finished)
        self._update_form_enabled()
        return self.save_task

    def _on_save_task_finished(self) -> None:
        self.save_task = None
        self._update_form_enabled()

    def _on_stored(self, settings: OnlineSettings) -> None:
        self.saved = settings
        self._show_settings(settings)
        self._say_saved(
            f"Saved: accounts are placed online through {settings.url}."
            if settings.enabled
            else "Saved: the online geocoder is off; only the offline data is used.",
            error=False,
        )
        self._update_place()
        self.settings_saved.emit(settings)

    def _say_saved(self, text: str, *, error: bool) -> None:
        self.save_message.setStyleSheet(f"color: {theme.DANGER if error else theme.SUCCESS};")
        self.save_message.setText(text)

    def _on_save_button_clicked(self) -> None:
        self.save()

    # -- status -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the counts, and the unplaced accounts when their list is open."""
        summary = placement_summary(self.context.conn)
        while self.counts_grid.count():
            item = self.counts_grid.takeAt(0)
            if item is not None and (old := item.widget()) is not None:
                old.deleteLater()
        for column, (quality, count) in enumerate(summary.by_quality.items()):
            number = QLabel(f"{count:,}")
            number.setStyleSheet("font-size: 14pt; font-weight: 600;")
            name = QLabel(QUALITY_LABELS.get(None if quality == "none" else quality, quality))
            name.setObjectName("muted")
            if quality == "none":
                number.setStyleSheet(f"font-size: 14pt; font-weight: 600; color: {theme.WARNING};")
            self.counts_grid.addWidget(number, 0, column)
            self.counts_grid.addWidget(name, 1, column)
        self.counts_grid.setColumnStretch(len(summary.by_quality), 1)
        self.cached_label.setText(
            f"{summary.total:,} account{'' if summary.total == 1 else 's'},"
            f" {summary.placed:,} on the map; {summary.cached_answers:,} online"
            f" answer{'' if summary.cached_answers == 1 else 's'} kept on this laptop."
        )
        self.unplaced = summary.unplaced
        if summary.unplaced:
            self.unplaced_label.setText(
                f"<b>{summary.unplaced:,} account{' has' if summary.unplaced == 1 else 's have'}"
                " no location</b>: they are missing from the map and from route planning."
                " Correct the address on the Accounts page, or place them online below."
            )
        else:
            self.unplaced_label.setText("Every account is on the map.")
        self.unplaced_button.setVisible(bool(summary.unplaced))
        if not summary.unplaced:
            self.unplaced_button.setChecked(False)
        self._show_unplaced_rows()
        self._update_place()

    def _show_unplaced_rows(self) -> None:
        shown = self.unplaced_button.isChecked()
        self.unplaced_button.setText("Hide the list" if shown else "Show them")
        # Read only when asked for: after a bad import there may be thousands.
        self.unplaced_model.set_rows(unplaced_accounts(self.context.conn) if shown else [])
        self.unplaced_table.setVisible(shown)
        if shown:
            self.unplaced_table.resizeColumnToContents(COL_NAME)
            # Fit a short list, scroll a long one; on a short screen down to two rows, rather
            # than the card being clipped.
            table = self.unplaced_table
            rows = min(max(1, self.unplaced_model.rowCount()), UNPLACED_ROWS_SHOWN)
            chrome = table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth()
            row = table.verticalHeader().defaultSectionSize()
            table.setMinimumHeight(chrome + min(rows, 2) * row)
            table.setMaximumHeight(chrome + rows * row)

    def _on_unplaced_button_toggled(self, _checked: bool) -> None:
        self._show_unplaced_rows()
        self._fit_height()

    def _fit_height(self) -> None:
        """As tall as the content wants, within the screen (adjustSize stops at two thirds of
        it, which clipped the list of unplaced accounts)."""
        if (layout := self.layout()) is not None:
            layout.activate()
        wanted = self.sizeHint().height()
        room = room_on_screen(self).height()
        self.resize(self.width(), max(min(wanted, room), self.minimumSizeHint().height()))

    # -- placing online -----------------------------------------------------------------------

    def place_blocked_reason(self) -> str:
        """Why "Place accounts online" cannot run now; empty when it can."""
        return self._place_state()[0]

    def _place_state(self) -> tuple[str, int]:
        """(why placing cannot run, or ""; how many accounts it would check)."""
        if self.task is not None:
            return "Placing is under way.", 0
        if self.has_unsaved_changes:
            return "Save your changes first: placing uses the saved settings.", 0
        if not self.saved.enabled:
            return (
                "The online geocoder is off: turn it on above and save to place accounts online.",
                0,
            )
        todo = refinable_count(self.context.conn)
        if todo == 0:
            return (
                "Nothing to place: no account has a street address placed only by ZIP or city,"
                " and no unplaced account has a city or ZIP code to look up.",
                0,
            )
        return "", todo

    def _update_place(self) -> None:
        self._update_form_enabled()
        reason, todo = self._place_state()
        self.place_button.setEnabled(not reason)
        self.place_button.setToolTip(reason)
        if reason:
            self.place_reason.setText(reason)
        else:
            delay = self.saved.min_delay_seconds
            pace = (
                f", one request every {delay:g} s: up to {_duration(todo * delay)}"
                if delay > 0
                else ""
            )
            self.place_reason.setText(
                f"{todo:,} account{'' if todo == 1 else 's'} to check through {self.saved.domain}"
                f"{pace}. Answers kept from earlier are instant."
            )

    def place_online(self) -> Task | None:
        """Start placing through the saved settings; the task, or ``None`` if it cannot run."""
        if self.place_blocked_reason():
            self._update_place()
            return None
        self.result_label.hide()
        self.task = self.runner.write_with_progress(
            partial(place_online_operation, self.saved),
            lane=TaskKind.NETWORK,
            label=PLACE_LABEL,
            on_success=self._on_task_succeeded,
            on_failure=self._on_task_failed,
            on_cancelled=self._on_task_cancelled,
        )
        self.task_line.track(self.task)
        self._update_place()
        return self.task

    def _on_place_button_clicked(self) -> None:
        self.place_online()

    def _on_task_succeeded(self, report: RefineReport) -> None:
        self.report = report
        error = bool(report.stopped_reason) and report.stopped_reason != "cancelled"
        self._finish(report_text(report), error=error)
        self.placing_finished.emit(report)

    def _on_task_failed(self, error: BaseException) -> None:
        self._finish(f"Placing failed: {error}", error=True)
        self.placing_finished.emit(None)

    def _on_task_cancelled(self) -> None:
        self._finish("Cancelled before any account was checked.", error=False)
        self.placing_finished.emit(None)

    def _finish(self, text: str, *, error: bool) -> None:
        self.task = None
        self.result_label.setStyleSheet(f"color: {theme.DANGER};" if error else "")
        self.result_label.setText(text)
        self.result_label.show()
        self.refresh()

    def done(self, result: int) -> None:  # closed while placing: stop, never run on unseen
        if self.task is not None:
            self.task.cancel()
        super().done(result)
