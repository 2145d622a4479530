"""Territory dialogs offscreen: defining territories four ways, bad input, quotas, handover."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from fieldrep.domain.territory_rules import TerritoryDef
from fieldrep.services.context import Context
from fieldrep.services.territories import service as territory_service
from fieldrep.ui.dialogs.territory_edit_dialog import TerritoryEditDialog
from fieldrep.ui.dialogs.territory_handover_dialog import HandoverDialog
from fieldrep.ui.tasks import TaskRunner


def square(x0: float, y0: float, x1: float, y1: float) -> dict[str, object]:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def geojson(path: Path, geometry: dict[str, object]) -> Path:
    feature = {"type": "Feature", "properties": {"name": "x"}, "geometry": geometry}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return path


@pytest.fixture
def org(ctx: Context) -> dict[str, str]:
    boss = ctx.writer.insert("users", {"username": "mia", "display_name": "Mia", "role": "manager"})
    ann = ctx.writer.insert("users", {"username": "ann", "display_name": "Ann"})
    bob = ctx.writer.insert("users", {"username": "bob", "display_name": "Bob"})
    ctx.set_user(boss)
    region = territory_service.create_territory(ctx, "Northeast", kind="region", priority=1000)
    west = territory_service.create_territory(
        ctx, "West", geometry=square(-80, 40, -79, 41), owner_id=ann, parent_id=region
    )
    return {"boss": boss, "ann": ann, "bob": bob, "region": region, "west": west}


def dialog_for(
    ctx: Context, qtbot: QtBot, runner: TaskRunner, territory_id: str | None = None
) -> TerritoryEditDialog:
    dialog = TerritoryEditDialog(ctx, runner, territory_id)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def submit(dialog: TerritoryEditDialog) -> None:
    """Save, and wait for the write's answer (Save waits meanwhile)."""
    dialog.save()
    assert not dialog.save_button.isEnabled()
    dialog.runner.wait_for_idle()
    assert dialog.save_button.isEnabled()


def saved(ctx: Context, name: str) -> TerritoryDef:
    row = next(r for r in territory_service.territory_rows(ctx) if r["name"] == name)
    return TerritoryDef.from_row(territory_service.get_row(ctx, row["id"]))


def test_four_ways_polygon_kml_postal_codes_regions_rules(
    ctx: Context, qtbot: QtBot, runner: TaskRunner, org: dict[str, str], tmp_path: Path
) -> None:
    # 1. polygon from KML (with a hole)
    kml = tmp_path / "east.kml"
    kml.write_text(
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>E</name><Polygon>'
        "<outerBoundaryIs><LinearRing><coordinates>-79,40 -78,40 -78,41 -79,41 -79,40"
        "</coordinates></LinearRing></outerBoundaryIs><innerBoundaryIs><LinearRing><coordinates>"
        "-78.6,40.4 -78.4,40.4 -78.4,40.6 -78.6,40.6 -78.6,40.4</coordinates></LinearRing>"
        "</innerBoundaryIs></Polygon></Placemark></kml>"
    )
    d = dialog_for(ctx, qtbot, runner)
    d.name.setText("East")
    d.set_geometry_from_file(kml)
    assert d.polygon_label.text() == "1 polygon part(s)"
    d.parent_box.setCurrentText("Northeast")
    submit(d)
    assert d.result() == TerritoryEditDialog.DialogCode.Accepted, d.error.text()
    east = saved(ctx, "East")
    assert east.geometry is not None
    assert len(east.geometry.geoms[0].interiors) == 1
    assert east.parent_id == org["region"]
    # 2. postal codes pasted by the thousand, leading zeros kept (and restored when lost)
    codes = [f"{n:05d}" for n in range(1001, 4001)]
    pasted = "\n".join(c if i % 3 else c.lstrip("0") for i, c in enumerate(codes))
    d = dialog_for(ctx, qtbot, runner)
    d.name.setText("New England")
    d.postal_codes.setPlainText(pasted)
    assert d.postal_count.text() == "3,000 code(s) pasted"
    submit(d)
    assert not d.error.text()
    ne = saved(ctx, "New England")
    assert len(ne.postal_codes) == 3000
    assert {"01001", "04000", "02139"} <= ne.postal_codes
    # 3. regions
    d = dialog_for(ctx, qtbot, runner)
    d.name.setText("Mid-Atlantic")
    d.regions.setText("US-NY, us-nj; US-PA")
    submit(d)
    assert [r.label() for r in saved(ctx, "Mid-Atlantic").regions] == ["US-NY", "US-NJ", "US-PA"]
    # 4. attribute rules built from fields
    d = dialog_for(ctx, qtbot, runner)
    d.name.setText("Key accounts")
    d.rule_industries.setText("Retail, Logistics")
    d.rule_sizes["1000+"].setChecked(True)
    d.rule_min.setText("250,000")
    assert d.add_rule()
    d.rule_statuses["active"].setChecked(True)
    assert d.add_rule()
    assert d.rule_list.item(0).text() == (
        "Rule 1: industry Retail/Logistics, size 1000+, potential 250,000–∞"
    )
    submit(d)
    rules = saved(ctx, "Key accounts").rules
    assert [r.describe() for r in rules] == [
        "industry Retail/Logistics, size 1000+, potential 250,000–∞",
        "status active",
    ]


def test_bad_input_keeps_dialog_open_and_saves_nothing(
    ctx: Context, qtbot: QtBot, runner: TaskRunner, org: dict[str, str], tmp_path: Path
) -> None:
    before = len(territory_service.territory_rows(ctx))
    d = dialog_for(ctx, qtbot, runner)
    d.name.setText("Broken")
    cases = [
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            "polygon is not valid: self-intersection near (0.50000, 0.50000)",
        ),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},
            "outer ring of polygon 1 is not closed",
        ),
        (square(40, -100, 41, -99), "longitude and latitude look swapped"),
        (square(-79.5, 40, -78.5, 41), "'West' and 'Broken' have the same priority 100"),
    ]
    for geometry, message in cases:
        d.set_geometry_from_file(geojson(tmp_path / "shape.geojson", geometry))
        said_on_loading = message in d.error.text()  # a file refused as read says so at once
        submit(d)
        assert d.isVisible()
        assert said_on_loading or message in d.error.text()
    d._on_clear_clicked()
    d.postal_codes.setPlainText(" , ;\n")
    submit(d)
    assert "the postal-code list is empty" in d.error.text()
    d.postal_codes.setPlainText("")
    d.rule_min.setText("9")
    d.rule_max.setText("3")
    assert not d.add_rule()
    assert "potential_min 9 is above potential_max 3" in d.error.text()
    not_geo = tmp_path / "notes.geojson"
    not_geo.write_text('{"hello": "world"}')
    d.set_geometry_from_file(not_geo)
    assert "notes.geojson is not GeoJSON: expected a FeatureCollection, found a JSON object" in (
        d.error.text()
    )
    assert len(territory_service.territory_rows(ctx)) == before
    # A cycle: the region made a child of its own child.
    r = dialog_for(ctx, qtbot, runner, org["region"])
    r.parent_box.setCurrentText("West")
    submit(r)
    assert "the hierarchy has a cycle: " in r.error.text()
    assert territory_service.get_row(ctx, org["region"])["parent_id"] is None


def test_handover_dialog_previews_then_moves_in_background(
    ctx: Context, qtbot: QtBot, runner: TaskRunner, org: dict[str, str]
) -> None:
    for i in range(3):
        ctx.writer.insert(
            "accounts",
            {"name": f"A{i}", "owner_id": org["ann"], "territory_id": org["west"]},
        )
    ctx.writer.insert("tasks", {"user_id": org["ann"], "title": "Call back"})
    d = HandoverDialog(ctx, runner, org["west"], org["ann"])
    qtbot.addWidget(d)
    d.to_box.setCurrentText("Ann")
    assert "hand over to a different rep" in d.preview.text()
    d.to_box.setCurrentText("Bob")
    assert d.preview.text().startswith("3 open account(s), 0 open task(s)")  # task: no account
    d.scope.setCurrentIndex(0)  # everything: Ann leaves
    assert d.preview.text().startswith("3 open account(s), 1 open task(s)")
    d.reason.setText("Ann left")
    with qtbot.waitSignal(d.handed_over, timeout=20_000) as blocker:
        d.hand_over()
    assert blocker.args[0].startswith("Handed over from Ann to Bob: 3 account(s), 1 task(s)")
    owners = ctx.db.execute("SELECT DISTINCT owner_id FROM accounts").fetchall()
    assert owners == [(org["bob"],)]
    assert territory_service.get_row(ctx, org["west"])["owner_id"] == org["bob"]
    reasons = ctx.db.execute("SELECT DISTINCT reason FROM assignment_history").fetchall()
    assert reasons == [("Ann left",)]
