"""The Territories page, offscreen: definitions, members, reassignment diff, KPIs, balancing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from fieldrep.services import territories as svc
from fieldrep.services.context import Context
from fieldrep.ui.tasks import TaskRunner
from fieldrep.ui.views.territories_view import TerritoriesView


def square(x0: float, y0: float, x1: float, y1: float) -> dict[str, object]:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


@pytest.fixture
def view(ctx: Context, runner: TaskRunner, qtbot: QtBot) -> TerritoriesView:
    boss = ctx.writer.insert("users", {"username": "mia", "display_name": "Mia", "role": "manager"})
    ctx.writer.insert("users", {"username": "ann", "display_name": "Ann"})
    ctx.set_user(boss)
    svc.create_territory(ctx, "West", geometry=square(-80, 40, -79, 41), owner_id=boss)
    svc.create_territory(ctx, "East", geometry=square(-79, 40, -78, 41), priority=50)
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
    widget.resize(1400, 900)
    return widget


def names(view: TerritoriesView) -> list[str]:
    return [r["name"] for r in view.territory_model.rows]


def test_definitions_precedence_and_members(view: TerritoriesView) -> None:
    assert names(view) == ["East", "West"]  # priority 50 wins over 100
    view.select("West")
    view.move_selected(-1)
    assert names(view) == ["West", "East"]
    assert view.selected_id() == view.territory_model.rows[0]["id"]
    view.member_user.setCurrentText("Ann")
    view.member_weight.setValue(2.5)
    view.set_member()
    members = {m["username"]: m for m in view.member_model.rows}
    assert members["ann"]["routing_weight"] == 2.5
    assert view.territory_model.data(view.territory_model.index(0, 3)) == "polygon"


def test_edit_dialog_shows_errors_and_saves(view: TerritoriesView, qtbot: QtBot) -> None:
    dialog = view.new_territory()
    qtbot.addWidget(dialog)
    dialog.name.setText("Metro")
    dialog.postal_codes.setPlainText("02139\n2140")
    dialog.rules.setPlainText("{oops")
    dialog.save()
    assert dialog.isVisible()
    assert "not valid JSON" in dialog.error.text()
    dialog.rules.setPlainText('[{"size": ["1000+"]}]')
    dialog.regions.setText("US-MA, US-NH")
    dialog.save()
    assert not dialog.isVisible()
    assert "Metro" in names(view)
    row = next(r for r in view.territory_model.rows if r["name"] == "Metro")
    assert (row["postal_code_count"], row["region_count"], row["rule_count"]) == (2, 2, 1)
    view.select("Metro")
    edit = view.edit_selected()
    assert edit is not None
    qtbot.addWidget(edit)
    assert edit.postal_codes.toPlainText() == "02139\n02140"
    edit.priority.setValue(50)
    edit.postal_codes.setPlainText("")
    edit.regions.setText("")
    edit.rules.setPlainText("")
    edit.set_geometry_from_file(
        write_geojson(Path(edit.ctx.path).parent, square(-79.5, 40, -78.5, 41))
    )
    edit.save()
    assert "same priority 50 and their polygons overlap" in edit.error.text()
    edit.reject()


def write_geojson(folder: Path, geometry: dict[str, object]) -> Path:
    path = folder / "shape.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {"name": "x"}, "geometry": geometry}
                ],
            }
        )
    )
    return path


def test_import_export_messages(view: TerritoriesView, tmp_path: Path) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text("nope")
    assert not view.import_file(bad)
    assert "bad.geojson is not GeoJSON" in view.definition_message.text()
    out = tmp_path / "out.geojson"
    assert view.export_file(out)
    assert len(json.loads(out.read_text())["features"]) == 2


def test_reassignment_diff_approved_in_background(
    view: TerritoriesView, qtbot: QtBot, ctx: Context
) -> None:
    with qtbot.waitSignal(view.diff_ready, timeout=20_000):
        view.compute_diff()
    assert view.diff_model.rowCount() == 120
    assert view.approve_button.isEnabled()
    why = view.diff_model.data(view.diff_model.index(0, 3))
    assert "lies inside" in why
    with qtbot.waitSignal(view.diff_applied, timeout=20_000) as blocker:
        view.approve_diff()
    assert blocker.args == [120]
    assert (
        ctx.db.execute("SELECT count(*) FROM accounts WHERE territory_id IS NULL").fetchone()[0]
        == 0
    )
    assert ctx.db.execute("SELECT count(*) FROM assignment_history").fetchone()[0] == 120
    rows = {r["name"]: r["accounts"] for r in view.territory_model.rows}
    assert rows == {"West": 90, "East": 30}


def test_kpis_follow_filters(view: TerritoriesView) -> None:
    view.kpi_by.setCurrentIndex(0)
    assert [r.name for r in view.kpi_model.rows] == ["East", "West", "Total"]
    assert len(view.attainment_chart.figure.axes[0].patches) == 2
    view.kpi_by.setCurrentIndex(1)  # per rep: Ann is the only rep
    assert [r.name for r in view.kpi_model.rows] == ["Ann", "Total"]
    view.kpi_period.setCurrentText("year")
    assert view.kpi_period_label.text().isdigit()


def test_balancing_proposal_accept(view: TerritoriesView, qtbot: QtBot, ctx: Context) -> None:
    with qtbot.waitSignal(view.diff_ready, timeout=20_000):
        view.compute_diff()
    with qtbot.waitSignal(view.diff_applied, timeout=20_000):
        view.approve_diff()
    view.balance_measure.setCurrentIndex(1)  # accounts
    with qtbot.waitSignal(view.proposal_ready, timeout=30_000) as blocker:
        view.propose()
    proposal = blocker.args[0]
    assert proposal.ratio_before == pytest.approx(3.0)
    assert proposal.ratio_after <= 1.1
    assert "3.00 now" in view.balance_summary.text()
    assert len(view.balance_chart.figure.axes[0].patches) == 4
    with qtbot.waitSignal(view.proposal_accepted, timeout=20_000):
        view.accept_proposal()
    counts = {r["name"]: r["accounts"] for r in view.territory_model.rows}
    assert abs(counts["West"] - counts["East"]) <= 6
