"""More files of the shapes of issue 15, each written small here and imported into a real database:
a farmers-market directory (point 6), store and site lists with their source ids and FIPS columns
(point 7), our own export into a new database (point 9), and a county file named by template from
the command line (point 10)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from fieldrep.services.context import Context
from fieldrep.services.imports.accounts import import_accounts
from fieldrep.services.imports.contacts import import_contacts
from fieldrep.services.territories import service as territory_service


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_a_directory_host_and_a_switchboard_phone_are_not_identity(
    ctx: Context, tmp_path: Path
) -> None:
    """A USDA-style market list: every market's page is on localharvest.org, three share the
    directory's phone; only the row that repeats a market's name and ZIP is one business."""
    markets = [
        ("Dupont Circle FRESHFARM", "Washington", "DC", "20036"),
        ("Union Square Greenmarket", "New York", "NY", "10003"),
        ("Ferry Plaza", "San Francisco", "CA", "94111"),
        ("Crescent City", "New Orleans", "LA", "70130"),
        ("Dane County", "Madison", "WI", "53703"),
    ]
    rows = [["MarketName", "City", "State", "ZIP", "Website", "Phone"]]
    for i, (name, city, state, zip_code) in enumerate(markets):
        page = f"https://www.localharvest.org/{name.split()[0].lower()}-M{1000 + i}"
        rows.append([name, city, state, zip_code, page, "1-800-555-0100" if i < 3 else ""])
    rows.append(["Dupont Circle FRESHFARM", "Washington", "DC", "20036", "", ""])
    report = import_accounts(ctx, _csv(tmp_path / "markets.csv", rows))
    assert report.imported == 5
    assert [(e.line, e.column) for e in report.errors] == [(7, "MarketName")]
    assert "possible duplicate of line 2 (same name and postal code)" in report.errors[0].reason
    # each weak key says how many rows it alone would have merged
    assert any(n.startswith("2 rows share a phone with an earlier row") for n in report.notes)
    assert any(n.startswith("2 rows share a website with an earlier row") for n in report.notes)


def test_store_and_site_lists_keep_their_ids_and_never_read_a_fips_column_as_the_state(
    ctx: Context, tmp_path: Path
) -> None:
    stores = _csv(
        tmp_path / "stores.csv",
        [
            ["store_name", "External ID", "City", "STATEFP", "County FIPS", "State", "ZIP"],
            ["Corner Store", "ST-1", "Denver", "08", "08031", "CO", "80202"],
            ["Main St Shop", "ST-2", "Boston", "25", "25025", "MA", "02139"],
        ],
    )
    report = import_accounts(ctx, stores)
    assert (report.imported, report.failed_rows) == (2, 0)
    assert any("'STATEFP', 'County FIPS'" in n for n in report.notes)  # named, not imported
    dynamics = _csv(
        tmp_path / "accounts_dynamics.csv",
        [
            ["Site Name", "Account Number", "Address 1: City", "Address 1: State/Province"],
            ["Plant 7", "ACC-7", "Austin", "TX"],
        ],
    )
    assert import_accounts(ctx, dynamics).imported == 1
    rows = {r["name"]: r["region"] for r in ctx.db.query("SELECT name, region FROM accounts")}
    assert rows == {"Corner Store": "CO", "Main St Shop": "MA", "Plant 7": "TX"}
    contacts = _csv(
        tmp_path / "contacts.csv",
        [["AccountId", "FirstName", "LastName"], ["ST-2", "Ann", "Lee"], ["ACC-7", "Bo", "Kim"]],
    )
    assert import_contacts(ctx, contacts).imported == 2
    linked = dict(
        ctx.db.execute(
            "SELECT c.last_name, a.name FROM contacts c JOIN accounts a ON a.id = c.account_id"
        ).fetchall()
    )
    assert linked == {"Lee": "Main St Shop", "Kim": "Plant 7"}


def test_an_export_naming_owners_and_territories_imports_into_a_new_database_unassigned(
    ctx: Context, tmp_path: Path
) -> None:
    from fieldrep.services.accounts.export import export_accounts
    from fieldrep.store.accounts_repository import AccountFilter, Sort

    mia = ctx.writer.insert("users", {"username": "mia", "display_name": "Mia Park"})
    west = territory_service.create_territory(ctx, "Front Range", postal_codes=["80202"])
    ctx.writer.insert_many(
        "accounts",
        [
            {"name": f"Shop {i}", "postal_code": "80202", "owner_id": mia, "territory_id": west}
            for i in range(3)
        ],
    )
    exported = tmp_path / "export.csv"
    export_accounts(ctx.db.conn, exported, AccountFilter(), Sort("name", False))
    header = exported.read_text(encoding="utf-8-sig").splitlines()[0]
    assert "Owner" in header
    assert "Territory" in header
    fresh = Context.open(tmp_path / "new.db")
    try:
        report = import_accounts(fresh, exported)
        assert (report.imported, report.failed_rows, report.duplicates) == (3, 0, 0)
        owners = fresh.db.execute("SELECT count(*) FROM accounts WHERE owner_id IS NULL")
        assert owners.fetchone()[0] == 3
        notes = "\n".join(report.notes)
        assert "is not a user here: 3 accounts" in notes
        assert "territory 'Front Range' does not exist here: 3 accounts" in notes
    finally:
        fresh.close()


def test_territories_import_names_features_by_a_template_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fieldrep.cli import main

    def county(name: str, state: str, x: float) -> dict[str, object]:
        ring = [[x, 0], [x + 1, 0], [x + 1, 1], [x, 1], [x, 0]]
        return {
            "type": "Feature",
            "properties": {"NAME": name, "LSAD": "County", "STATE": state},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }

    path = tmp_path / "counties.geojson"
    features = [county("Kings", "NY", 0), county("Kings", "CA", 2), county("Harris", "TX", 4)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    db = tmp_path / "book.db"
    Context.open(db).close()
    args = ["territories", "import", str(path), "--db", str(db)]
    assert main(args) == 1  # NAME by default: two features called Kings, one error naming both
    assert "features 1, 2 are all named 'Kings'" in capsys.readouterr().err
    assert main([*args, "--name-property", "{NAME} {LSAD}, {STATE}"]) == 0
    assert "3 created" in capsys.readouterr().out
    ctx = Context.open(db)
    try:
        names = sorted(t.name for t in territory_service.load_definitions(ctx))
    finally:
        ctx.close()
    assert names == ["Harris County, TX", "Kings County, CA", "Kings County, NY"]


def test_bad_optional_values_are_dropped_with_a_warning_in_the_errors_file(
    ctx: Context, tmp_path: Path
) -> None:
    """Point 5: phone, website, ZIP and country that cannot be read cost the cell, not the row."""
    rows = [
        ["Company", "City", "State", "ZIP", "Country", "Phone", "Website"],
        ["Good Co", "Denver", "CO", "80202", "USA", "303-555-0100", "https://good.example"],
        ["Bad Opts", "Denver", "CO", "ABCDE", "Narnia", "12", "not a site"],
    ]
    errors = tmp_path / "errors.csv"
    report = import_accounts(ctx, _csv(tmp_path / "crm.csv", rows), errors_path=errors)
    assert (report.imported, report.failed_rows, report.warned_rows) == (2, 0, 1)
    bad = ctx.db.execute(
        "SELECT postal_code, phone, website, city, region, lat IS NOT NULL FROM accounts"
        " WHERE name = 'Bad Opts'"
    ).fetchone()
    assert bad == (None, None, None, "Denver", "CO", 1)  # placed by its city all the same
    with errors.open(encoding="utf-8-sig", newline="") as fh:
        (_, written) = list(csv.reader(fh))
    assert written[0] == "3"
    assert set(written[1].split("; ")) == {"ZIP", "Country", "Phone", "Website"}
    assert written[2].count("imported anyway: ") == 4
    assert written[3:] == rows[2]
