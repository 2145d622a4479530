"""The chooser of the property that names a boundary file's territories (issue 15)."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from fieldrep.ui.dialogs.territory_name_dialog import TerritoryNameDialog

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
