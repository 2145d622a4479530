"""The Territories page, offscreen: definitions, members, accounts and reasons, reassignment, KPIs,
quotas, balancing. Real widgets, a real database on disk, the real task runner."""

from __future__ import annotations

import json
import threading
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from fieldrep.services.context import Context
from fieldrep.services.territories import service as territory_service
from fieldrep.ui.tasks import Progress, TaskKind, TaskRunner
from fieldrep.ui.views.territories_view import TerritoriesView


def square(x0: float, y0: float, x1: float, y1: float) -> dict[str, object]:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


@pytest.fixture
def view(ctx: Context, runner: TaskRunner, qtbot: QtBot) -> TerritoriesView:
    boss = ctx.writer.insert("users", {"username": "mia", "display_name": "Mia", "role": "manager"})
    ctx.writer.insert("users", {"username": "ann", "display_name": "Ann"})
    ctx.set_user(boss)
    region = territory_service.create_territory(ctx, "Pennsylvania", kind="region", priority=1000)
    territory_service.create_territory(
        ctx, "West", geometry=square(-80, 40, -79, 41), owner_id=boss, parent_id=region
    )
    territory_service.create_territory(ctx, "East", geometry=square(-79, 40, -78, 41), priority=50)
    rng = np.random.default_rng(4)
    ctx.writer.insert_many(
        "accounts",
        [
            {
                "name": f"A{i}",
                "lat": float(rng.uniform(40.05, 40.95)),
                "lon": float(rng.uniform(-79.95, -79.05) if i % 4 else rng.uniform(-78.95, -78.05)),
                "potential": 1000.0,
            }
            for i in range(120)
        ],
    )
    widget = TerritoriesView(ctx, runner)
    qtbot.addWidget(widget)
    widget.resize(1440, 900)
    return widget


def cell(model: object, row: int, col: int) -> str:
    return model.data(model.index(row, col))  # type: ignore[attr-defined,no-any-return]


def test_definitions_precedence_hierarchy_detail_and_members(
    view: TerritoriesView, runner: TaskRunner
) -> None:
    d = view.definitions
    assert d.names() == ["East", "West", "Pennsylvania"]  # priority 50 wins over 100
    assert [cell(d.model, i, 0) for i in range(3)] == ["1", "2", ""]  # precedence rank
    assert cell(d.model, 1, 2) == "Pennsylvania › West"  # hierarchy path
    assert cell(d.model, 2, 4) == "region of 1 territories"
    d.select("West")
    assert "Priority 100 (#2 in precedence)" in d.detail.text()
    assert "Polygon: 1 part(s)" in d.detail.text()
    d.move_selected(-1)
    runner.wait_for_idle()  # the write, then its answer
    assert d.names()[:2] == ["West", "East"]
    assert d.selected_id() == d.model.rows[0]["id"]
    assert "Precedence changed" in d.message.text()
    d.member_user.setCurrentText("Ann")
    d.member_weight.setValue(2.5)
    d.member_capacity.setValue(40)
    d.set_member()
    runner.wait_for_idle()  # the write, then its answer
    members = {m["username"]: m for m in d.member_model.rows}
    assert (members["ann"]["routing_weight"], members["ann"]["capacity"]) == (2.5, 40)
    d.select("Pennsylvania")
    assert "Contains: West" in d.detail.text()
    d.select("East")
    d.toggle_archive()
    runner.wait_for_idle()  # the write, then its answer
    assert "(archived)" in cell(d.model, d.names().index("East"), 1)
    d.show_archived.setChecked(False)
    assert "East" not in d.names()


def test_import_in_background_refuses_bad_files_and_exports(
    view: TerritoriesView, qtbot: QtBot, tmp_path: Path
) -> None:
    d = view.definitions
    bad = tmp_path / "bad.geojson"
    bad.write_text("nope")
    with qtbot.waitSignal(d.import_finished, timeout=20_000) as blocker:
        d.import_file(bad)
    assert blocker.args == [False]
    assert "Nothing imported: bad.geojson is not GeoJSON" in d.message.text()
    kml = tmp_path / "metro.kml"
    kml.write_text(
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>Metro</name>'
        "<Polygon><outerBoundaryIs><LinearRing><coordinates>-75,39 -74,39 -74,39.5 -75,39.5 -75,39"
        "</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></Document></kml>"
    )
    with qtbot.waitSignal(d.import_finished, timeout=20_000) as blocker:
        d.import_file(kml)
    assert blocker.args == [True]
    assert "Imported metro.kml: 1 created" in d.message.text()
    assert "Metro" in d.names()
    out = tmp_path / "out.geojson"
    assert d.export_file(out)
    assert len(json.loads(out.read_text())["features"]) == 4


def test_accounts_tab_shows_territory_and_reason(
    view: TerritoriesView, qtbot: QtBot, ctx: Context
) -> None:
    with qtbot.waitSignal(view.reassign.diff_ready, timeout=20_000):
        view.reassign.compute_diff()
    with qtbot.waitSignal(view.reassign.diff_applied, timeout=20_000):
        view.reassign.approve_diff()
    view.explain.search.setText("A17")
    qtbot.waitUntil(lambda: [r["name"] for r in view.explain.model.rows] == ["A17"])
    text = view.explain.reason.text()
    assert "is in <b>West</b>" in text
    assert "lies inside West&#x27;s boundary (priority 100)" in text
    assert view.explain.history_model.rowCount() == 1
    assert cell(view.explain.history_model, 0, 4) == "Mia"  # who
    # Definitions change: the panel says where the engine would now put the account.
    east = next(r["id"] for r in view.definitions.model.rows if r["name"] == "East")
    territory_service.update_territory(ctx, east, geometry=square(-80, 40, -78, 41), priority=10)
    view.explain.search_for("A17")
    assert "it would move to East" in view.explain.reason.text()


def test_reassignment_diff_by_flow_then_approved(
    view: TerritoriesView, qtbot: QtBot, ctx: Context
) -> None:
    r = view.reassign
    with qtbot.waitSignal(r.diff_ready, timeout=20_000):
        r.compute_diff()
    assert r.moves_model.rowCount() == 120
    assert [(f[0], f[1], f[2]) for f in r.flow_model.rows] == [
        ("(none)", "West", 90),
        ("(none)", "East", 30),
    ]
    r.flow_table.selectRow(1)
    assert r.moves_model.rowCount() == 30
    assert "lies inside East" in cell(r.moves_model, 0, 3)
    assert r.approve_button.isEnabled()
    with qtbot.waitSignal(r.diff_applied, timeout=20_000) as blocker:
        r.approve_diff()
    assert blocker.args == [120]
    count = ctx.db.execute("SELECT count(*) FROM accounts WHERE territory_id IS NULL")
    assert count.fetchone()[0] == 0
    assert ctx.db.execute("SELECT count(*) FROM assignment_history").fetchone()[0] == 120
    rows = {r["name"]: r["accounts"] for r in view.definitions.model.rows}
    assert (rows["West"], rows["East"]) == (90, 30)


def test_cancelled_apply_changes_nothing(
    view: TerritoriesView, qtbot: QtBot, ctx: Context, runner: TaskRunner
) -> None:
    r = view.reassign
    with qtbot.waitSignal(r.diff_ready, timeout=20_000):
        r.compute_diff()
    gate = threading.Event()

    def hold(_db: Path, _progress: Progress) -> None:
        gate.wait()

    runner.run(hold, kind=TaskKind.WRITE, label="earlier write")  # the write lane is busy
    try:
        task = r.approve_diff()
        assert task is not None
        assert not r.progress.isHidden()
        assert r.progress.cancel_button.isEnabled()
        with qtbot.waitSignal(r.apply_cancelled, timeout=20_000):
            r.progress.cancel_button.click()
            gate.set()
    finally:
        gate.set()
    assert "nothing was applied" in r.summary.text()
    assert ctx.db.execute("SELECT count(*) FROM assignment_history").fetchone()[0] == 0
    assert r.approve_button.isEnabled()


def test_kpis_follow_filters_and_quotas_are_editable(view: TerritoriesView, qtbot: QtBot) -> None:
    k = view.kpis

    def settled() -> None:  # the figures are computed on a worker
        qtbot.waitUntil(lambda: not k.computing, timeout=10_000)

    k.by.setCurrentIndex(0)
    settled()
    assert [r.name for r in k.model.rows] == ["East", "West", "Total"]
    assert len(k.attainment_chart.figure.axes[0].patches) == 2
    dialog = k.open_quotas()
    qtbot.addWidget(dialog)
    dialog.set_target("West", "-3")
    with qtbot.waitSignal(dialog.save().finished):
        assert not dialog.save_button.isEnabled()  # Save waits for the write's answer
    assert "Nothing saved: quota for West" in dialog.error.text()
    assert dialog.isVisible()
    assert dialog.save_button.isEnabled()
    dialog.set_target("West", "50,000")
    dialog.set_target("Ann", "20000")
    with qtbot.waitSignal(dialog.saved) as blocker:
        dialog.save()
    assert blocker.args == [2]
    settled()
    west = next(r for r in k.model.rows if r.name == "West")
    assert west.quota == 50_000
    assert cell(k.model, [r.name for r in k.model.rows].index("West"), 4) == "50,000"
    k.by.setCurrentIndex(1)  # per rep: Ann is the only rep
    settled()
    assert [r.name for r in k.model.rows] == ["Ann", "Total"]
    assert k.model.rows[0].quota == 20_000
    k.period_kind.setCurrentText("year")
    settled()
    assert k.period.currentText() == str(date.today().year)
    assert k.model.rows[0].quota == 20_000  # finer quotas inside the year add up
    k.period_kind.setCurrentText("month")
    k.period.setCurrentIndex(0)  # seven months back: no quota then
    settled()
    assert k.model.rows[0].quota is None
    assert "Coverage" in k.coverage_chart.figure.axes[0].get_title()


def test_kpi_filter_clicks_compute_once_on_a_worker_with_old_figures_greyed(
    view: TerritoriesView, qtbot: QtBot
) -> None:
    k = view.kpis
    qtbot.waitUntil(lambda: not k.computing, timeout=10_000)
    computed: list[object] = []
    k.refreshed.connect(lambda: computed.append(k.days.value()))
    for _ in range(5):  # five clicks on the coverage arrows
        k.days.stepUp()
        assert k.computing
        assert not k.figures.isEnabled()  # the old figures stay, greyed
    qtbot.waitUntil(lambda: not k.computing, timeout=10_000)
    assert computed == [95]  # one computation, for the last value
    assert k.figures.isEnabled()


def test_balancing_proposal_shown_as_diff_then_accepted(
    view: TerritoriesView, qtbot: QtBot, ctx: Context
) -> None:
    with qtbot.waitSignal(view.reassign.diff_applied, timeout=30_000):
        with qtbot.waitSignal(view.reassign.diff_ready, timeout=20_000):
            view.reassign.compute_diff()
        view.reassign.approve_diff()
    b = view.balancing
    b.measure.setCurrentIndex(1)  # accounts
    with qtbot.waitSignal(b.proposal_ready, timeout=30_000) as blocker:
        b.propose()
    proposal = blocker.args[0]
    assert proposal.ratio_before == pytest.approx(3.0)
    assert proposal.ratio_after <= 1.1
    assert "3.00 now →" in b.quality.text()
    assert f"({proposal.share_moved:.1%})" in b.quality.text()
    assert b.moves_model.rowCount() == len(proposal.moves) > 0
    assert len(b.chart.figure.axes[0].patches) == 4
    with qtbot.waitSignal(b.proposal_accepted, timeout=20_000):
        b.accept_proposal()
    counts = {r["name"]: r["accounts"] for r in view.definitions.model.rows}
    assert abs(counts["West"] - counts["East"]) <= 6


def test_balancing_tab_analyses_today_when_shown(view: TerritoriesView, qtbot: QtBot) -> None:
    view.show()
    with qtbot.waitSignal(view.balancing.analysed, timeout=30_000) as blocker:
        view.tabs.setCurrentWidget(view.balancing)
    assert [r.name for r in blocker.args[0]] == ["East", "West"]
    # No account is assigned yet: every territory is empty, so the ratio is infinite.
    assert "visit hours ∞ (a territory has no workload)" in view.balancing.quality.text()


def test_balancing_rejected_changes_nothing(
    view: TerritoriesView, qtbot: QtBot, ctx: Context
) -> None:
    with qtbot.waitSignal(view.reassign.diff_applied, timeout=30_000):
        with qtbot.waitSignal(view.reassign.diff_ready, timeout=20_000):
            view.reassign.compute_diff()
        view.reassign.approve_diff()
    b = view.balancing
    b.measure.setCurrentIndex(1)
    with qtbot.waitSignal(b.proposal_ready, timeout=30_000):
        b.propose()
    b.reject_proposal()
    assert "rejected; nothing changed" in b.summary.text()
    assert not b.accept_button.isEnabled()
    assert b.moves_model.rowCount() == 0
    assert ctx.db.execute("SELECT count(*) FROM assignment_history").fetchone()[0] == 120
