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


def test_the_window_asks_whose_states_two_letter_regions_are_and_the_import_remembers_it(
    qtbot: QtBot, ctx: Context, runner: TaskRunner, tmp_path: Path
) -> None:
    """A German team's book presets "Germany states"; the user picks US states for this file; the
    territory is stored with US regions and the choice is the book's from then on."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from fieldrep.domain.territory_rules import Region
    from fieldrep.services.territories import region_reading
    from fieldrep.services.territories import service as territory_service
    from fieldrep.ui.views.territory_definitions_panel import TerritoryDefinitionsPanel

    boss = ctx.writer.insert("users", {"username": "mia", "display_name": "Mia", "role": "manager"})
    ctx.set_user(boss)
    accounts = [{"name": f"Köln {i}", "country": "DE"} for i in range(9)]
    ctx.writer.insert_many("accounts", [*accounts, {"name": "Boise", "country": "US"}])
    path = tmp_path / "west.geojson"
    west = {"type": "Feature", "properties": {"name": "West", "regions": ["CA", "ID"]}}
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": [{**west, "geometry": None}]}),
        encoding="utf-8",
    )
    panel = TerritoryDefinitionsPanel(ctx, runner)
    qtbot.addWidget(panel)
    seen: list[dict[str, object]] = []

    def answer(pick: int | None) -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, TerritoryNameDialog):
            return
        timer.stop()
        seen.append(
            {
                "options": [
                    dialog.region_choice.itemText(i) for i in range(dialog.region_choice.count())
                ],
                "preset": dialog.region_country(),
                "why": dialog.region_why.text(),
            }
        )
        if pick is None:
            dialog.reject()
            return
        dialog.region_choice.setCurrentIndex(pick)
        dialog.accept()

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: answer(0))  # US states
    timer.start()
    with qtbot.waitSignal(panel.import_finished, timeout=30_000) as blocker:
        panel.choose_and_import(path)
    assert blocker.args == [True]
    assert seen[0]["options"] == [
        "US states  (CA California, ID Idaho)",
        "Germany states  (CA Canada, ID Indonesia)",
        "country codes  (CA Canada, ID Indonesia)",
    ]
    assert seen[0]["preset"] == "DE"
    assert seen[0]["why"].startswith(  # type: ignore[union-attr]
        "Preset to Germany states: 90 % of your accounts are in Germany."
    )
    (stored,) = territory_service.load_definitions(ctx)
    assert stored.regions == (Region("US", "CA"), Region("US", "ID"))
    assert region_reading.region_reading(ctx.conn) == region_reading.RegionReading(
        "US", "as chosen for this book", chosen=True
    )
    assert "Two-letter regions (CA, ID) read as US states: as chosen for this book." in (
        panel.message.text()
    )
    # The next file is preset to the remembered choice; cancelling changes nothing.
    timer.timeout.disconnect()
    timer.timeout.connect(lambda: answer(None))
    timer.start()
    panel.choose_and_import(path)
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=30_000)
    assert seen[1]["preset"] == "US"
    assert seen[1]["why"].startswith("Preset to US states: as chosen for this book.")  # type: ignore[union-attr]
    assert panel.message.text() == "Import cancelled; nothing changed."
