"""The Referrals page: filters, the pipeline board or the table, and the detail panel beside them.

Filters (text, territory, owner, referrer, overdue, period, linked duplicates) are applied in SQL;
the board pages each column, the table pages its rows. "New referral…" (Ctrl+Shift+R anywhere in
the app) opens the capture dialog. The Metrics tab has the programme's figures
and charts for a period, territory and rep (:mod:`.referral_metrics_panel`).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelection, Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from fieldrep.services.context import Context
from fieldrep.services.referrals import pipeline
from fieldrep.services.referrals.capture import ReferralService
from fieldrep.services.referrals.model import Stage
from fieldrep.ui import theme
from fieldrep.ui.models.referral_board_model import CARD_ROLE
from fieldrep.ui.models.referral_table_model import ReferralTableModel
from fieldrep.ui.views.referral_board_view import ReferralBoard
from fieldrep.ui.views.referral_detail_panel import ReferralDetailPanel

if TYPE_CHECKING:
    from fieldrep.ui.tasks import Progress, Task, TaskRunner


def _file_match_index(ctx: Context, progress: Progress) -> int:
    from fieldrep.services.referrals.match_index import file_all

    return file_all(ctx.writer, progress.report)


PERIODS = (
    ("Any time", None),
    ("Last 7 days", 7),
    ("Last 30 days", 30),
    ("Last 90 days", 90),
    ("Last 12 months", 365),
)


class ReferralsView(QWidget):
    def __init__(self, context: Context, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.runner = runner
        self.service = ReferralService(context)
        self._dialogs: list[QWidget] = []

        title = QLabel("Referrals")
        title.setObjectName("pageTitle")
        self.new_button = QPushButton("New referral…")
        self.new_button.setToolTip("Ctrl+Shift+R")
        self.new_button.clicked.connect(lambda: self.open_capture())
        top = QHBoxLayout()
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(self.new_button)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search name, company, e-mail")
        self.search.setClearButtonEnabled(True)
        self.territory = QComboBox()
        self.owner = QComboBox()
        self.referrer = QComboBox()
        self.stage = QComboBox()
        self.stage.setToolTip("Stage (the table; the board shows every stage)")
        self.stage.addItem("All stages", None)
        for stage in Stage:
            self.stage.addItem(stage.label, stage.value)
        self.period = QComboBox()
        for label, days in PERIODS:
            self.period.addItem(label, days)
        self.mine = QCheckBox("Mine")
        self.mine.setToolTip("Referrals you own or captured")
        self.overdue = QCheckBox("Overdue")
        self.linked = QCheckBox("Linked duplicates")
        self.linked.setToolTip("Also show referrals recorded on an earlier one (table)")
        self._fill_combos()
        for combo in (self.territory, self.owner, self.referrer, self.stage, self.period):
            # long account names must not push the search box off a 1366-pixel screen
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(10)
        filters = QHBoxLayout()
        filters.addWidget(self.search, 3)
        for combo in (self.territory, self.owner, self.referrer, self.stage, self.period):
            filters.addWidget(combo, 1)
        for box in (self.mine, self.overdue, self.linked):
            filters.addWidget(box)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        for combo in (self.territory, self.owner, self.referrer, self.stage, self.period):
            combo.currentIndexChanged.connect(lambda _i: self.apply_filters())
        for box in (self.mine, self.overdue, self.linked):
            box.toggled.connect(lambda _c: self.apply_filters())

        self.board = ReferralBoard(context, runner)
        self.board.referral_selected.connect(self.show_referral)
        self.board.moved.connect(self._on_board_moved)
        self.board.move_refused.connect(lambda text: self._say(text, error=True))
        self.table_model = ReferralTableModel(context.conn)
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.selectionModel().selectionChanged.connect(self._on_table_selection_changed)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.board, "Board")
        self.tabs.addTab(self.table, "Table")
        from fieldrep.ui.views.referral_metrics_panel import ReferralMetricsPanel

        # the figures and charts are made on the runner's workers
        self.metrics_panel = ReferralMetricsPanel(context, runner)
        self.tabs.addTab(self.metrics_panel, "Metrics")
        self.detail = ReferralDetailPanel(context, runner)
        self.detail.moved.connect(self._on_detail_moved)
        self.detail.hide()
        self.splitter = QSplitter()
        self.splitter.addWidget(self.tabs)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.notice = QLabel()
        self.notice.setTextFormat(Qt.TextFormat.PlainText)
        self.notice.setWordWrap(True)
        self.notice.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 12)
        layout.addLayout(top)
        self.filter_bar = QWidget()  # the board's and the table's: the Metrics tab has its own
        filters.setContentsMargins(0, 0, 0, 0)
        self.filter_bar.setLayout(filters)
        self.tabs.currentChanged.connect(
            lambda _i: self.filter_bar.setHidden(self.tabs.currentWidget() is self.metrics_panel)
        )
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.notice)
        layout.addWidget(self.splitter, 1)
        self.apply_filters()
        self._prepare_duplicate_checks()

    def _prepare_duplicate_checks(self) -> None:
        """File the match index in the background when much is queued (after an upgrade, a demo
        build or a big sync), so the first capture does not wait for it."""
        from fieldrep.services.referrals import match_index

        if match_index.pending(self.context.conn) < 2000:
            return
        self.runner.write_with_progress(_file_match_index, label="Preparing duplicate checks")

    # -- filters ----------------------------------------------------------------------------------

    def _fill_combos(self) -> None:
        conn = self.context.conn
        self.territory.addItem("All territories", None)
        for tid, name in conn.execute(
            "SELECT id, name FROM territories WHERE archived = 0 AND kind = 'territory'"
            " ORDER BY name"
        ):
            self.territory.addItem(name, tid)
        self.owner.addItem("All owners", None)
        for uid, name in conn.execute(
            "SELECT id, coalesce(nullif(display_name, ''), username) AS n FROM users"
            " WHERE active = 1 ORDER BY n"
        ):
            self.owner.addItem(name, uid)
        self.referrer.addItem("All referrers", None)
        for aid, name in conn.execute(
            "SELECT a.id, a.name FROM accounts a WHERE a.id IN (SELECT DISTINCT"
            " referrer_account_id FROM referrals) ORDER BY a.name LIMIT 500"
        ):
            self.referrer.addItem(name, aid)

    def current_filter(self) -> pipeline.Filter:
        days = self.period.currentData()
        return pipeline.Filter(
            territory_id=self.territory.currentData(),
            owner_id=self.owner.currentData(),
            referrer_account_id=self.referrer.currentData(),
            overdue=self.overdue.isChecked(),
            since=(date.today() - timedelta(days=days)).isoformat() if days else None,
            text=self.search.text(),
            mine=self.context.user_id if self.mine.isChecked() else None,
        )

    def apply_filters(self) -> None:
        flt = self.current_filter()
        self.board.set_filter(flt)
        stage = self.stage.currentData()
        table_filter = pipeline.Filter(
            **{
                **flt.__dict__,
                "linked": self.linked.isChecked(),
                "stage": Stage(stage) if stage else None,
            }
        )
        self.table_model.set_filter(table_filter)
        self.table.resizeColumnsToContents()

    def showEvent(self, event: QShowEvent) -> None:
        # Each time the page comes into view: what a sync brought may hold the same person
        # captured by two reps offline (linked now, the first keeping the attribution).
        super().showEvent(event)
        self.refresh()

    def link_synced_duplicates(self) -> Task | None:
        """Link what a sync brought twice (a write on the write lane); the page shows it then."""
        from fieldrep.services.referrals import match_index
        from fieldrep.services.referrals.reconcile import link_duplicates

        if match_index.pending(self.context.conn) >= 2000:
            return None  # the background filing runs first; the next visit links
        return self.runner.write(
            link_duplicates, label="Linking referrals captured twice", on_success=self._on_linked
        )

    def _on_linked(self, linked: list[tuple[str, str]]) -> None:
        if linked:
            self._say(
                f"{len(linked)} referral(s) captured twice while offline were linked to the"
                " first capture."
            )
            self.apply_filters()

    def refresh(self) -> None:
        self.link_synced_duplicates()
        self.apply_filters()
        if self.detail.referral_id and self.detail.isVisible():
            self.detail.show_referral(self.detail.referral_id)

    # -- selection and moves ----------------------------------------------------------------------

    def show_referral(self, referral_id: str) -> None:
        opening = not self.detail.isVisible()
        if self.detail.show_referral(referral_id) and opening:
            # the board keeps most of the width; the panel takes what its fields need
            side = max(self.detail.minimumWidth(), min(420, self.splitter.width() // 4))
            self.splitter.setSizes([self.splitter.width() - side, side])

    def _on_table_selection_changed(self, selected: QItemSelection, _old: QItemSelection) -> None:
        indexes = selected.indexes()
        if indexes:
            card = indexes[0].data(CARD_ROLE)
            if card is not None:
                self.show_referral(card.id)

    def _on_board_moved(self, moved: pipeline.Moved) -> None:
        self._say(f"Moved: {moved.message}.")
        self.table_model.set_filter(self.table_model.filter)
        if self.detail.referral_id == moved.referral_id:
            self.detail.show_referral(moved.referral_id)

    def _on_detail_moved(self, moved: pipeline.Moved) -> None:
        self.apply_filters()
        self.board.select(moved.referral_id)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.notice.setText(text)
        self.notice.setStyleSheet(f"color: {theme.DANGER};" if error else "")
        self.notice.setVisible(bool(text))

    # -- capture ----------------------------------------------------------------------------------

    def open_capture(self, account_id: str | None = None) -> QWidget:
        from fieldrep.ui.dialogs.referral_dialog import ReferralDialog

        dialog = ReferralDialog(
            self.context, self.runner, account_id, service=self.service, parent=self
        )
        dialog.captured.connect(lambda result: self._after_capture(result.referral_id))
        dialog.finished.connect(lambda _r: self._dialogs.remove(dialog))
        self._dialogs.append(dialog)
        dialog.open()
        return dialog

    def _after_capture(self, referral_id: str | None) -> None:
        self.apply_filters()
        if referral_id:
            self.board.select(referral_id)
            self.show_referral(referral_id)
