"""KML comes from GIS tools and strangers' e-mails: a file that declares entities (the "billion
laughs" expansion, or an external entity reading a local file) is refused, never expanded."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldrep.services.territories.file_formats import NotGeoJSONError, read_kml

PLACEMARK = (
    '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>{name}</name>'
    "<Polygon><outerBoundaryIs><LinearRing><coordinates>0,0 1,0 1,1 0,0</coordinates>"
    "</LinearRing></outerBoundaryIs></Polygon></Placemark></Document></kml>"
)

LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE kml [\n<!ENTITY lol "lol">\n'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + "]>\n"
    + PLACEMARK.format(name="&lol9;")
)


def test_plain_kml_is_read() -> None:
    assert read_kml(PLACEMARK.format(name="North"))["features"][0]["properties"]["name"] == "North"


def test_any_declared_entity_is_refused() -> None:
    # The standard library's parser would expand this one to "North"; the refusal is defusedxml's.
    text = '<?xml version="1.0"?>\n<!DOCTYPE kml [<!ENTITY n "North">]>\n' + PLACEMARK.format(
        name="&n;"
    )
    with pytest.raises(NotGeoJSONError, match="neither GeoJSON nor KML"):
        read_kml(text, "entity.kml")


def test_entity_expansion_is_refused() -> None:
    with pytest.raises(NotGeoJSONError, match="neither GeoJSON nor KML"):
        read_kml(LAUGHS, "laughs.kml")


def test_external_entity_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the secret", encoding="utf-8")
    text = (
        f'<?xml version="1.0"?>\n<!DOCTYPE kml [<!ENTITY x SYSTEM "file://{secret}">]>\n'
        + PLACEMARK.format(name="&x;")
    )
    with pytest.raises(NotGeoJSONError) as refused:
        read_kml(text, "xxe.kml")
    assert "the secret" not in str(refused.value)
