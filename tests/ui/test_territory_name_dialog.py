"""The chooser of the property that names a boundary file's territories (issue 15)."""

from __future__ import annotations

import json
from pathlib import Path

from pytestqt.qtbot import QtBot

from fieldrep.services.context import Context
from fieldrep.services.territories import geojson
from fieldrep.store.changes import Changes
from fieldrep.ui.dialogs.territory_name_dialog import TerritoryNameDialog
from fieldrep.ui.tasks import TaskRunner

FOUND = {
    "GEOID": ["36047", "48201"],
    "NAME": ["Kings", "Harris"],
    "LSAD": ["County", "County"],
    "STATE": ["NY", "TX"],
}


def test_the_name_property_is_chosen_from_the_list_or_typed_as_a_template(qtbot: QtBot) -> None:
    dialog = TerritoryNameDialog("counties.geojson", FOUND)
    qtbot.addWidget(dialog)
    assert dialog.name_property() == "NAME"  # found case-insensitively, chosen by default
    assert dialog.preview.text() == "Names will read: Kings, Harris"
    dialog.choice.setCurrentIndex(0)
    assert dialog.name_property() == "GEOID"
    dialog.choice.setEditText("{NAME} {LSAD}, {STATE}")
    assert dialog.name_property() == "{NAME} {LSAD}, {STATE}"
    assert dialog.preview.text() == "Names will read: Kings County, NY, Harris County, TX"
    dialog.choice.setEditText("{NOPE}")
    assert dialog.preview.text() == "No feature has that property."


def _boundaries(path: Path) -> Path:
    """Two boxes: Colorado (holding the Denver accounts) and Massachusetts."""

    def box(name: str, w: float, s: float, e: float, n: float) -> dict[str, object]:
        ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
        return {
            "type": "Feature",
            "properties": {"NAME": name, "GEOID": name[:2].upper()},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }

    features = [
        box("Colorado", -109.05, 37.0, -102.04, 41.0),
        box("Mass", -73.5, 41.2, -69.9, 42.9),
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    return path


def test_the_dialog_says_how_many_accounts_would_move_before_anything_is_applied(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, tmp_path: Path
) -> None:
    rows = [{"name": f"Denver {i}", "lat": 39.74, "lon": -104.99} for i in range(3)]
    rows += [{"name": "Boston 1", "lat": 42.36, "lon": -71.06}]
    rows += [{"name": "Paris 1", "lat": 48.85, "lon": 2.35}]
    ctx.writer.insert_many("accounts", rows)
    outbox = ctx.db.conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
    runner.changes.flush()  # the inserts' own announcement
    announced: list[Changes] = []
    runner.changes.changed.connect(announced.append)
    path = _boundaries(tmp_path / "states.geojson")
    found = geojson.properties_found(geojson.read_file(path))
    dialog = TerritoryNameDialog(path.name, found, runner=runner, path=path)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.impact.text().startswith("Counting")
    qtbot.waitUntil(lambda: dialog.counted is not None, timeout=30_000)
    found_now = dialog.counted
    assert (found_now.created, found_now.updated) == (2, 0)
    assert (found_now.accounts_moving, found_now.accounts) == (4, 5)  # Paris stays where it is
    assert "4 of 5 accounts would change territory" in dialog.impact.text()
    assert "2 territories created" in dialog.impact.text()
    # Nothing was applied: no territory, no outbox entry, no change announced.
    assert ctx.db.conn.execute("SELECT count(*) FROM territories").fetchone()[0] == 0
    assert ctx.db.conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == outbox
    runner.changes.flush()
    assert not [c for c in announced if c.touches("territories", "accounts")]
    # A name that repeats refuses the import: said before anything is applied.
    dialog.choice.setEditText("{LSAD}")
    qtbot.waitUntil(lambda: "would not import" in dialog.impact.text(), timeout=30_000)
    dialog.choice.setCurrentIndex(list(found).index("GEOID"))
    qtbot.waitUntil(lambda: dialog.counted is not None, timeout=30_000)
    assert dialog.counted.accounts_moving == 4
