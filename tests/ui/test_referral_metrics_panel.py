"""The Referrals page's Metrics tab on a small demo book: the figures shown are
``metrics.compute``'s for the filters, and changing a filter computes them again (on a worker)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from pytestqt.qtbot import QtBot

from fieldrep.services.context import Context
from fieldrep.services.demo.build import DemoOptions, build_demo
from fieldrep.services.referrals import pipeline
from fieldrep.services.referrals.model import Stage
from fieldrep.services.rewards import metrics
from fieldrep.ui.tasks import TaskRunner
from fieldrep.ui.views.referral_metrics_panel import (
    ReferralMetricsPanel,
    figure_texts,
    period_text,
)
from fieldrep.ui.views.referrals_view import ReferralsView

TODAY = date(2026, 11, 15)
NOW = "2026-11-15T12:00:00Z"


@pytest.fixture
def book(ctx: Context, runner: TaskRunner) -> Iterator[Context]:
    build_demo(ctx, DemoOptions(accounts=300, seed=5, today=TODAY))
    yield ctx
    runner.wait_for_idle()


def shown(panel: ReferralMetricsPanel) -> dict[str, str]:
    return {key: label.text() for key, label in panel.values.items()}


def wait(panel: ReferralMetricsPanel, qtbot: QtBot) -> None:
    qtbot.waitUntil(lambda: not panel.computing and panel.metrics is not None, timeout=20_000)


def test_period_text_reads_the_period_box() -> None:
    assert period_text("month", TODAY) == "2026-11"
    assert period_text("quarter", TODAY) == "2026-Q4"
    assert period_text("year", TODAY) == "2026"
    assert period_text("custom", TODAY, " 2026-Q3 ") == "2026-Q3"


def test_the_figures_shown_are_compute_s_and_a_new_period_recomputes(
    book: Context, runner: TaskRunner, qtbot: QtBot
) -> None:
    view = ReferralsView(book, runner)
    qtbot.addWidget(view)
    panel = view.metrics_panel
    assert isinstance(panel, ReferralMetricsPanel)
    panel.today, panel.now = TODAY, NOW
    view.resize(1146, 708)
    view.show()
    assert panel.metrics is None  # nothing computed before the tab is opened
    view.tabs.setCurrentWidget(panel)
    assert view.filter_bar.isHidden()  # the board's filters are not the metrics'
    wait(panel, qtbot)

    quarter = metrics.compute(book.conn, "2026-Q4", now=NOW)
    assert quarter.referrals > 0
    assert quarter.top_referrers
    assert panel.metrics == quarter
    assert shown(panel) == figure_texts(quarter)
    assert panel.cohorts.rowCount() == len(quarter.conversion_by_cohort)
    assert panel.top.item(0, 0).text() == quarter.top_referrers[0]["name"]
    # the charts are drawn from the same figures: two bars per cohort month, two per referrer
    assert panel.cohort_chart.figure is not None
    assert len(panel.cohort_chart.figure.axes[0].patches) == 2 * len(quarter.conversion_by_cohort)
    assert panel.referrer_chart.figure is not None
    assert len(panel.referrer_chart.figure.axes[0].patches) == 2 * len(quarter.top_referrers)
    assert not panel.cohort_chart.pixmap().isNull()

    panel.period.setCurrentIndex(panel.period.findData("year"))
    assert panel.computing
    wait(panel, qtbot)
    year = metrics.compute(book.conn, "2026", now=NOW)
    assert year.referrals > quarter.referrals
    assert panel.metrics == year
    assert shown(panel) == figure_texts(year)
    assert panel.cohorts.rowCount() == len(year.conversion_by_cohort)

    (rep,) = book.conn.execute(
        "SELECT captured_by_id FROM referrals WHERE created_at >= '2026' GROUP BY 1"
        " ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()
    panel.rep.setCurrentIndex(panel.rep.findData(rep))
    wait(panel, qtbot)
    mine = metrics.compute(book.conn, "2026", rep=rep, now=NOW)
    assert 0 < mine.referrals < year.referrals
    assert panel.metrics == mine
    assert shown(panel) == figure_texts(mine)

    panel.rep.setCurrentIndex(0)
    wait(panel, qtbot)

    # a referral won on the board meanwhile: opening the tab again shows it
    view.tabs.setCurrentWidget(view.board)
    (open_id,) = book.conn.execute(
        "SELECT id FROM referrals WHERE created_at >= '2026' AND stage = 'proposal' LIMIT 1"
    ).fetchone()
    pipeline.move(book, open_id, Stage.WON, value=1000.0, create_account=True)
    view.tabs.setCurrentWidget(panel)
    assert panel.computing
    wait(panel, qtbot)
    assert panel.metrics is not None
    assert panel.metrics.won == year.won + 1
    assert shown(panel) == figure_texts(metrics.compute(book.conn, "2026", now=NOW))
    territory = panel.territory.itemData(1)
    panel.territory.setCurrentIndex(1)
    wait(panel, qtbot)
    scoped = metrics.compute(book.conn, "2026", territory=territory, now=NOW)
    assert panel.metrics == scoped
    assert shown(panel) == figure_texts(scoped)


def test_a_custom_period_is_read_and_a_wrong_one_is_said(
    book: Context, runner: TaskRunner, qtbot: QtBot
) -> None:
    panel = ReferralMetricsPanel(book, runner, today=TODAY, now=NOW)
    qtbot.addWidget(panel)
    panel.show()
    wait(panel, qtbot)
    panel.period.setCurrentIndex(panel.period.findData("custom"))
    assert panel.custom.isEnabled()
    panel.custom.setText("2026-10")
    panel.custom.editingFinished.emit()
    qtbot.waitUntil(lambda: panel.metrics is not None and panel.metrics.period == "2026-10")
    wait(panel, qtbot)
    assert shown(panel) == figure_texts(metrics.compute(book.conn, "2026-10", now=NOW))
    before = shown(panel)
    panel.custom.setText("October")
    panel.custom.editingFinished.emit()
    assert "'October' is not a period" in panel.status.text()
    assert not panel.computing
    assert shown(panel) == before  # the last figures stay, greyed
    assert not panel.figures.isEnabled()
