"""Files of the shapes real teams feed FieldRep (issue 15), each written small here, on a real
database and the real offline gazetteer."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from fieldrep.geo.gazetteer import default_gazetteer
from fieldrep.geo.placement import placement_summary
from fieldrep.services.context import Context
from fieldrep.services.imports.accounts import import_accounts
from fieldrep.services.imports.contacts import import_contacts
from fieldrep.services.territories import service as territory_service


def _csv(path: Path, rows: list[list[str]], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)
    return path


def _rows(ctx: Context) -> dict[str, dict[str, object]]:
    return {r["name"]: dict(r) for r in ctx.db.query("SELECT * FROM accounts")}


def _near(row: dict[str, object], lat: float, lon: float, degrees: float = 0.5) -> bool:
    return abs(float(row["lat"]) - lat) < degrees and abs(float(row["lon"]) - lon) < degrees  # type: ignore[arg-type]


def test_a_zip_the_data_holds_at_zero_zero_is_unknown_never_null_island(
    ctx: Context, tmp_path: Path
) -> None:
    gaz = default_gazetteer()
    assert gaz.postal_code("77352") is None  # Livingston TX: lat = lon = 0 in the ZIP data
    assert gaz.zip_state("77352") is not None  # ... but its state is known
    assert all(not (p.lat == 0 and p.lon == 0) for p in gaz.places())
    path = _csv(
        tmp_path / "zips.csv",
        [
            ["Company", "City", "State", "ZIP"],
            ["Livingston Feed", "Livingston", "TX", "77352"],
            ["Commerce Co", "", "", "90140"],
        ],
    )
    report = import_accounts(ctx, path)
    rows = _rows(ctx)
    assert rows["Livingston Feed"]["geocode_quality"] == "city"
    assert _near(rows["Livingston Feed"], 30.7, -94.9)
    assert rows["Commerce Co"]["lat"] is None  # no city to fall back to: unplaced, not (0, 0)
    assert report.unplaced_total == 1
    # an account an older version put at (0, 0) is counted as unplaced
    ctx.writer.insert(
        "accounts", {"name": "Old", "lat": 0.0, "lon": 0.0, "geocode_quality": "city"}
    )
    assert placement_summary(ctx.db.conn).unplaced == 2


def test_foreign_addresses_are_placed_by_their_city_and_a_contradicting_zip_is_reported(
    ctx: Context, tmp_path: Path
) -> None:
    path = _csv(
        tmp_path / "world.csv",
        [
            ["Name", "City", "Region", "Postcode", "Country"],
            ["Brauhaus", "Köln", "Nordrhein-Westfalen", "50667", ""],  # no country: detected
            ["Flagstaff Gear", "Flagstaff", "AZ", "08601", ""],  # 08601 is Trenton NJ
            ["Berlin GmbH", "Berlin", "", "10117", "Germany"],
            ["London Ltd", "London", "", "WC2N 5DU", "United Kingdom"],
            ["Toronto Inc", "Toronto", "ON", "M5E 1W7", "Canada"],
            ["Paris SARL", "Paris", "", "75001", "France"],
            ["Nowhere", "Xyzzy", "AZ", "08601", ""],  # nothing agrees
        ],
    )
    report = import_accounts(ctx, path)
    rows = _rows(ctx)
    assert rows["Brauhaus"]["country"] == "DE"
    assert rows["Brauhaus"]["region"] == "NW"
    assert _near(rows["Brauhaus"], 50.93, 6.95)
    assert _near(rows["Flagstaff Gear"], 35.2, -111.6)  # the city in the row's state, not NJ
    assert _near(rows["Berlin GmbH"], 52.52, 13.4)
    assert _near(rows["London Ltd"], 51.5, -0.13)
    assert _near(rows["Toronto Inc"], 43.7, -79.4)
    assert _near(rows["Paris SARL"], 48.86, 2.35)
    assert rows["Nowhere"]["lat"] is None
    reasons = [w.reason for w in report.warnings]
    assert any("ZIP 08601 is in Trenton, NJ, not AZ" in r for r in reasons)
    assert "ZIP 08601 is in Trenton, NJ" in report.unplaced[0]["address"]


def test_country_and_state_names_are_read_as_iso_codes_and_match_territories(
    ctx: Context, tmp_path: Path
) -> None:
    territory_service.create_territory(ctx, "Kentucky", regions=["Kentucky"])
    path = _csv(
        tmp_path / "northwind.csv",
        [
            ["CompanyName", "City", "Region", "Country"],
            ["Hanari Carnes", "Rio de Janeiro", "RJ", "Brazil"],
            ["Berglunds", "Luleå", "", "Sweden"],
            ["Wolski", "Warszawa", "", "Poland"],
            ["Bluegrass", "Louisville", "Kentucky", "USA"],
        ],
    )
    report = import_accounts(ctx, path)
    assert report.imported == 4
    assert report.failed_rows == 0
    rows = _rows(ctx)
    assert [rows[n]["country"] for n in ("Hanari Carnes", "Berglunds", "Wolski")] == [
        "BR",
        "SE",
        "PL",
    ]
    assert rows["Bluegrass"]["region"] == "KY"
    assert rows["Bluegrass"]["territory_id"] is not None


def test_numbers_as_real_files_write_them(ctx: Context, tmp_path: Path) -> None:
    german = _csv(
        tmp_path / "register.csv",
        [
            ["Betreiber", "Straße", "Postleitzahl", "Ort", "Breitengrad", "Längengrad", "Umsatz"],
            ["Stadtwerke", "Markt 1", "50667", "Köln", "50,9375", "6,9603", "6,932"],
            ["Bäckerei", "Ring 2", "10117", "Berlin", "52,52", "13,405", "1.234,5"],
        ],
        delimiter=";",
    )
    report = import_accounts(ctx, german)
    assert report.imported == 2
    rows = _rows(ctx)
    assert (rows["Stadtwerke"]["lat"], rows["Stadtwerke"]["lon"]) == (50.9375, 6.9603)
    us = _csv(
        tmp_path / "us.csv",
        [
            ["Company", "ZIP", "Phone", "Website", "Revenue"],
            ["Tucson Co", "85721-005", "4.31E+12", "NULL", "6,932"],
        ],
    )
    report = import_accounts(ctx, us)
    row = _rows(ctx)["Tucson Co"]
    assert (row["postal_code"], row["phone"], row["website"]) == ("85721-005", "4.31E+12", None)
    assert row["potential"] == 6932  # a comma-grouped file: thousands
    assert row["geocode_quality"] == "postal_code"
    assert {w.column for w in report.warnings} == {"ZIP", "Phone"}


def test_unknown_owner_and_territory_names_import_the_account_unassigned(
    ctx: Context, tmp_path: Path
) -> None:
    territory_service.create_territory(ctx, "West", kind="region")
    rows = [["Company", "City", "State", "Owner", "Territory"]]
    rows += [[f"Acct {i}", "Denver", "CO", "Jeff Comstock", "Northwest"] for i in range(3)]
    rows += [["Grouped", "Denver", "CO", "", "West"]]
    report = import_accounts(ctx, _csv(tmp_path / "crm.csv", rows))
    assert report.imported == 4
    assert report.failed_rows == 0
    assert ctx.db.execute("SELECT count(*) FROM accounts WHERE owner_id IS NULL").fetchone()[0] == 4
    notes = "\n".join(report.notes)
    assert "owner 'Jeff Comstock' is not a user here: 3 accounts" in notes
    assert "territory 'Northwest' does not exist here: 3 accounts" in notes
    assert (
        "'West' is a region (a group of territories), which holds no accounts: 1 account" in notes
    )


def test_salesforce_ids_are_kept_and_contacts_link_by_account_id(
    ctx: Context, tmp_path: Path
) -> None:
    accounts = _csv(
        tmp_path / "Account.csv",
        [
            ["Id", "Name", "BillingCity", "BillingState", "BillingLatitude", "BillingLongitude"],
            ["001A000001", "Edge Communications", "Austin", "TX", "30.27", "-97.74"],
            ["001A000002", "Burlington Textiles", "Burlington", "NC", "", ""],
        ],
    )
    assert import_accounts(ctx, accounts).imported == 2
    contacts = _csv(
        tmp_path / "Contact.csv",
        [
            ["Id", "AccountId", "FirstName", "LastName"],
            ["003A1", "001A000001", "Rose", "Gonzalez"],
            ["003A2", "001A000002", "Jack", "Rogers"],
        ],
    )
    report = import_contacts(ctx, contacts)
    assert report.imported == 2
    linked = dict(
        ctx.db.execute(
            "SELECT c.last_name, a.name FROM contacts c JOIN accounts a ON a.id = c.account_id"
        ).fetchall()
    )
    assert linked == {"Gonzalez": "Edge Communications", "Rogers": "Burlington Textiles"}


def test_our_own_export_comes_back_and_updates_the_accounts_it_names(
    ctx: Context, tmp_path: Path
) -> None:
    from fieldrep.services.accounts.export import export_accounts
    from fieldrep.store.accounts_repository import AccountFilter, Sort

    source = _csv(
        tmp_path / "a.csv",
        [["Company", "City", "State"], ["Acme", "Denver", "CO"], ["Beta", "Boston", "MA"]],
    )
    import_accounts(ctx, source)
    exported = tmp_path / "export.csv"
    export_accounts(ctx.db.conn, exported, AccountFilter(), Sort("name", False))
    text = exported.read_text(encoding="utf-8-sig").replace("Acme,", "Acme Corp,")
    exported.write_text(text, encoding="utf-8")
    report = import_accounts(ctx, exported)
    assert (report.imported, report.updated, report.unchanged, report.duplicates) == (0, 1, 1, 0)
    assert sorted(_rows(ctx)) == ["Acme Corp", "Beta"]
    assert report.updated_fields == {"name": 1}


def _mixed_rows(rng: random.Random) -> tuple[list[list[str]], dict[str, str]]:
    """100 rows mixing every class; what each row's name is expected to become."""
    header = ["Company", "City", "State", "ZIP", "Country", "Phone", "Owner", "Territory"]
    rows: list[list[str]] = [header]
    expect: dict[str, str] = {}
    shapes = [
        (["Denver", "CO", "80202", "", "", "", ""], "placed"),
        (["Livingston", "TX", "77352", "", "", "", ""], "placed"),  # Null Island ZIP
        (["Köln", "Nordrhein-Westfalen", "50667", "", "", "", ""], "placed"),
        (["Flagstaff", "AZ", "08601", "", "", "", ""], "placed"),  # contradiction: warned
        (["Berlin", "", "10117", "Germany", "", "", ""], "placed"),
        (["Rio de Janeiro", "", "", "Brazil", "", "", ""], "placed"),
        (["Louisville", "Kentucky", "40202", "", "4.31E+12", "", ""], "placed"),
        (["Tucson", "AZ", "85721-005", "USA", "NULL", "", ""], "placed"),
        (["Austin", "TX", "78701", "", "12", "Jeff Comstock", "Northwest"], "placed"),
        (["Atlantis", "ZZ", "", "Narnia", "", "", ""], "unplaced"),
        (["Boston", "MA", "02139", "", "", "", ""], "rejected"),  # no name
    ]
    for i in range(100):
        cells, outcome = shapes[i % len(shapes)]
        name = "" if outcome == "rejected" else f"Row {i:03d} {rng.randrange(10**6)}"
        cells = list(cells)
        if cells[4] == "" and outcome != "rejected":
            cells[4] = f"303-555-{1000 + i}"  # a phone of its own: one shared is a duplicate key
        elif cells[4] == "4.31E+12":
            cells[4] = f"4.{31 + i}E+12"
        rows.append([name, *cells])
        if name:
            expect[name] = outcome
    return rows, expect


def test_a_hundred_rows_mixing_every_class_import_placed_and_assigned(
    ctx: Context, tmp_path: Path
) -> None:
    territory_service.create_territory(ctx, "USA", regions=["US"], priority=20)
    territory_service.create_territory(ctx, "Europe", regions=["DE"], priority=20)
    territory_service.create_territory(ctx, "Americas", regions=["BR"], priority=20)
    rows, expect = _mixed_rows(random.Random(15))
    report = import_accounts(ctx, _csv(tmp_path / "mixed.csv", rows))
    got = _rows(ctx)
    assert report.imported == len(expect) == len(got)
    for name, outcome in expect.items():
        row = got[name]
        if outcome == "placed":
            assert row["lat"] is not None, name
            assert not (row["lat"] == 0 and row["lon"] == 0), name
            assert row["territory_id"] is not None, name
        else:
            assert row["lat"] is None, name
    rejected = sum(1 for r in rows[1:] if not r[0].strip())
    assert report.failed_rows == rejected
    assert {e.column for e in report.errors} == {"Company"}
    # every problem is named: the warned rows, the unplaced ones with their reason, the names
    columns = {w.column for w in report.warnings}
    assert {"ZIP", "Phone", "Country"} <= columns
    assert report.unplaced_total == sum(1 for o in expect.values() if o == "unplaced")
    assert any("Jeff Comstock" in n for n in report.notes)
    assert any("Northwest" in n for n in report.notes)


@pytest.mark.parametrize("text", ["Brazil", "BRA", "br", "Deutschland", "United States"])
def test_country_words(text: str) -> None:
    from fieldrep.services.imports.validation import parse_country

    assert len(parse_country(text)) == 2


def test_the_rules_engine_reads_a_state_written_out_and_explain_says_so(ctx: Context) -> None:
    from fieldrep.services.territories import assignment as assignment_service

    territory_service.create_territory(ctx, "Bluegrass", regions=["US-KY"])
    account = ctx.writer.insert("accounts", {"name": "Old Row", "region": "Kentucky"})
    diff = assignment_service.assign_all(ctx, dry_run=True)
    assert [m.to_territory for m in diff.moves] == ["Bluegrass"]
    decision = assignment_service.explain_account(ctx, account)
    assert "the account's region 'Kentucky' read as KY" in decision.reason
