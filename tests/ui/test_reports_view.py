"""The Reports page and the manager's home on a small demo book, real widgets offscreen."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import openpyxl
import pypdf
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from fieldrep.reports.export import partial_path
from fieldrep.services.context import Context
from fieldrep.services.demo.build import DemoOptions, build_demo
from fieldrep.ui.tasks import TaskRunner
from fieldrep.ui.views.manager_home_view import ManagerHomeView
from fieldrep.ui.views.reports_view import ReportsView

TODAY = date(2026, 12, 7)


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reports-ui") / "demo.db"
    ctx = Context.open(path)
    try:
        build_demo(ctx, DemoOptions(accounts=400, seed=5, today=TODAY))
    finally:
        ctx.close()
    return path


@pytest.fixture
def book(demo_file: Path, tmp_path: Path) -> Iterator[tuple[Context, TaskRunner]]:
    path = tmp_path / "book.db"
    shutil.copy(demo_file, path)
    ctx = Context.open(path)
    runner = TaskRunner(path)
    yield ctx, runner
    runner.shutdown()
    ctx.close()


def make_view(qtbot: QtBot, book: tuple[Context, TaskRunner]) -> ReportsView:
    ctx, runner = book
    view = ReportsView(ctx, runner, today=TODAY)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: view.report is not None, timeout=20_000)
    return view


def test_preview_follows_the_filters(qtbot: QtBot, book: tuple[Context, TaskRunner]) -> None:
    view = make_view(qtbot, book)
    assert view.report is not None
    assert view.report.kind == "territory-performance"
    assert view.tabs.count() == 1
    assert len(view.canvases) == 2
    model = view.models[0]
    assert model.rowCount() == len(view.report.sections[0].rows) + 1  # and the total row
    assert model.index(model.rowCount() - 1, 0).data() == "Total"
    with qtbot.waitSignal(view.preview_ready, timeout=20_000) as blocker:
        view.kind.setCurrentIndex(view.kind.findData("referral-programme"))
    assert blocker.args[0].kind == "referral-programme"
    assert [view.tabs.tabText(i) for i in range(view.tabs.count())][:2] == [
        "Funnel by stage",
        "Conversion by cohort month",
    ]
    with qtbot.waitSignal(view.preview_ready, timeout=20_000) as blocker:
        view.territory.setCurrentIndex(view.territory.findData("West"))
    assert "West" in blocker.args[0].scope


def test_a_bad_period_names_the_accepted_forms(
    qtbot: QtBot, book: tuple[Context, TaskRunner]
) -> None:
    view = make_view(qtbot, book)
    view.period.setEditText("last tuesday")
    view.refresh()
    assert view.error.isVisibleTo(view)
    assert "2026-Q3" in view.error.text()
    with qtbot.waitSignal(view.preview_ready, timeout=20_000) as blocker:
        view.period.setEditText("2026-11")
        view.refresh()
    assert blocker.args[0].period.label == "November 2026"
    assert not view.error.isVisibleTo(view)


def test_export_runs_in_the_background(
    qtbot: QtBot, book: tuple[Context, TaskRunner], tmp_path: Path
) -> None:
    view = make_view(qtbot, book)
    target = tmp_path / "territories.xlsx"
    with qtbot.waitSignal(view.export_finished, timeout=30_000):
        task = view.export_to(target, "Excel workbook (XLSX)")
        assert task is not None
        assert not view.export_button.isEnabled()
    assert view.export_button.isEnabled()
    assert view.export_status.text() == f"Saved {target}"
    assert "Territory performance" in openpyxl.load_workbook(target).sheetnames


def test_the_territory_performance_pdf_from_the_page_has_the_map(
    qtbot: QtBot, book: tuple[Context, TaskRunner], tmp_path: Path
) -> None:
    view = make_view(qtbot, book)
    assert view.kind.currentData() == "territory-performance"
    target = tmp_path / "territories.pdf"
    with qtbot.waitSignal(view.export_finished, timeout=60_000):
        assert view.export_to(target, "PDF") is not None
    images = [i for page in pypdf.PdfReader(target).pages for i in page.images]
    assert len(images) == 1  # the map drawn on the export's worker thread
    assert "Territory map" in pypdf.PdfReader(target).pages[-1].extract_text()


def test_cancelled_export_leaves_no_file(
    qtbot: QtBot, book: tuple[Context, TaskRunner], tmp_path: Path
) -> None:
    view = make_view(qtbot, book)
    view.kind.setCurrentIndex(view.kind.findData("accounts"))
    target = tmp_path / "accounts.pdf"
    task = view.export_to(target, "PDF")
    assert task is not None
    with qtbot.waitSignal(task.finished, timeout=30_000):
        qtbot.mouseClick(view.progress.cancel_button, Qt.MouseButton.LeftButton)
    assert task.state.value == "cancelled"
    assert not target.exists()
    assert not partial_path(target).exists()
    assert "cancelled" in view.export_status.text()


def test_manager_home_figures_open_their_lists(
    qtbot: QtBot, book: tuple[Context, TaskRunner]
) -> None:
    ctx, runner = book
    home = ManagerHomeView(ctx, runner, today=TODAY)
    qtbot.addWidget(home)
    with qtbot.waitSignal(home.refreshed, timeout=30_000):
        home.show()
    assert home.data is not None
    titles = [card.title.text() for card in home.cards]
    assert titles[0] == "Sales, Q4 2026 to date"
    assert "Rewards awaiting approval" in titles
    pending = ctx.conn.execute(
        "SELECT count(*) FROM rewards WHERE status = 'awaiting_approval' AND kind = 'reward'"
    ).fetchone()[0]
    assert pending  # the demo has rewards awaiting approval: the card counts them
    rewards = titles.index("Rewards awaiting approval")
    assert home.cards[rewards].value.text() == f"{pending:,}"
    qtbot.mouseClick(home.cards[rewards], Qt.MouseButton.LeftButton)
    assert home.dialog is not None
    assert home.dialog.isVisible()
    assert home.dialog.model.rowCount() == pending
    dialog = home.open_chart(0)
    assert dialog is not None
    leaf = ctx.conn.execute(
        "SELECT count(*) FROM territories t WHERE NOT EXISTS "
        "(SELECT 1 FROM territories c WHERE c.parent_id = t.id)"
    ).fetchone()[0]
    assert dialog.model.rowCount() == leaf + 1  # the territories and their total
    dialog.close()


def test_accounts_report_takes_the_list_filters(
    qtbot: QtBot, book: tuple[Context, TaskRunner]
) -> None:
    view = make_view(qtbot, book)
    assert not view.status.isVisibleTo(view)
    with qtbot.waitSignal(view.preview_ready, timeout=20_000):
        view.kind.setCurrentIndex(view.kind.findData("accounts"))
    assert view.status.isVisibleTo(view)
    with qtbot.waitSignal(view.preview_ready, timeout=20_000) as blocker:
        view.status.setCurrentIndex(view.status.findData("active"))
    ctx, _ = book
    active = ctx.conn.execute("SELECT count(*) FROM accounts WHERE status = 'active'").fetchone()[0]
    assert len(blocker.args[0].sections[0].rows) == active
    assert view.models[0].index(0, 1).data() == "active"
