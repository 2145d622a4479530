"""Account import on real files and a real database: formats, mapping, every kind of bad input."""

from __future__ import annotations

import csv
import re
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest

from fieldrep.services.context import Context
from fieldrep.services.imports.accounts import ImportCancelled, import_accounts
from fieldrep.services.imports.mapping import guess_mapping
from fieldrep.services.imports.readers import ImportFileError, read_table

GOOD = [
    ["Company", "Street", "City", "State", "ZIP", "Phone", "Website", "Employees", "Revenue"],
    [
        "Acme Tools",
        "1 Main St",
        "Cambridge",
        "MA",
        "02139",
        "617-555-0100",
        "acme.com",
        "12",
        "$12,500.50",
    ],
    ["Bayside Bakery", "", "Denver", "CO", "", "", "", "", ""],
    ["Lost Ltd", "", "Atlantis", "ZZ", "", "", "", "", ""],
]


def _csv(
    path: Path, rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8"
) -> Path:
    with path.open("w", newline="", encoding=encoding) as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)
    return path


def _state(ctx: Context) -> tuple[list[tuple[object, ...]], int]:
    rows = ctx.db.execute("SELECT * FROM accounts ORDER BY name").fetchall()
    return rows, ctx.writer.pending_count()


def test_good_file_is_imported_placed_and_indexed(ctx: Context, tmp_path: Path) -> None:
    seen: list[tuple[int, int, str]] = []
    report = import_accounts(
        ctx, _csv(tmp_path / "a.csv", GOOD), progress=lambda *a: seen.append(a)
    )
    assert (report.rows_read, report.imported, report.failed_rows) == (3, 3, 0)
    assert report.mapping["name"] == "Company"
    assert report.mapping["postal_code"] == "ZIP"
    assert report.mapping["potential"] == "Revenue"
    rows = {r["name"]: r for r in ctx.db.query("SELECT * FROM accounts")}
    assert rows["Acme Tools"]["geocode_quality"] == "postal_code"
    assert rows["Acme Tools"]["potential"] == 12500.5
    assert rows["Acme Tools"]["size"] == "10-49"
    assert rows["Bayside Bakery"]["geocode_quality"] == "city"
    assert rows["Lost Ltd"]["lat"] is None
    assert [u["name"] for u in report.unplaced] == ["Lost Ltd"]
    assert report.placed_by == {"postal_code": 1, "city": 1}
    assert ctx.writer.pending_count() == 3  # each row has its outbox entry
    hits = ctx.db.execute("SELECT count(*) FROM accounts_fts WHERE accounts_fts MATCH 'bayside*'")
    assert hits.fetchone()[0] == 1
    assert seen[-1] == (3, 3, "done")


def test_reimporting_the_same_file_changes_nothing(ctx: Context, tmp_path: Path) -> None:
    path = _csv(tmp_path / "a.csv", GOOD)
    import_accounts(ctx, path)
    before = _state(ctx)
    again = import_accounts(ctx, path, errors_path=tmp_path / "err.csv")
    assert again.imported == 0
    assert again.duplicates == 3
    assert _state(ctx) == before
    assert "possible duplicate of existing account 'Acme Tools'" in again.errors[0].reason


def test_duplicates_of_existing_accounts_by_phone_and_website(ctx: Context, tmp_path: Path) -> None:
    ctx.writer.insert(
        "accounts", {"name": "Old Name", "phone": "+1 (617) 555-0100", "postal_code": "02139"}
    )
    ctx.writer.insert(
        "accounts",
        {"name": "Web Co", "website": "https://www.acme.com/about", "postal_code": "80301"},
    )
    rows = [
        ["Name", "ZIP", "Phone", "Website"],
        ["New Name", "02139", "617.555.0100", ""],  # same phone and address: one business
        ["Acme Online", "80301", "", "acme.com/contact"],  # same site and address
        ["Fresh", "", "", ""],
        ["Branch", "80202", "617 555 0100", ""],  # the switchboard alone: another business
    ]
    report = import_accounts(ctx, _csv(tmp_path / "d.csv", rows))
    assert report.imported == 2
    assert [(e.line, e.column) for e in report.errors] == [(2, "Phone"), (3, "Website")]
    assert "same phone and postal code" in report.errors[0].reason
    assert "same website and postal code" in report.errors[1].reason
    assert any("1 row share a phone" in note for note in report.notes)
    forced = import_accounts(ctx, _csv(tmp_path / "d2.csv", rows[:3]), allow_duplicates=True)
    assert forced.imported == 2


def test_encodings_and_delimiters(ctx: Context, tmp_path: Path) -> None:
    rows = [["Account Name", "Postcode", "Notes"], ["Café Olé", "80202", "crème brûlée"]]
    for i, (encoding, delimiter) in enumerate(
        [("utf-8-sig", ";"), ("cp1252", "\t"), ("utf-8", "|")]
    ):
        path = _csv(
            tmp_path / f"e{i}.csv",
            [[*rows[0]], [f"{rows[1][0]} {i}", *rows[1][1:]]],
            delimiter=delimiter,
            encoding=encoding,
        )
        data = read_table(path)
        assert data.encoding == encoding
        assert data.delimiter == delimiter
        assert data.header == rows[0]
        report = import_accounts(ctx, path, data=data)
        assert report.imported == 1
    names = [r[0] for r in ctx.db.execute("SELECT name FROM accounts ORDER BY name")]
    assert names == ["Café Olé 0", "Café Olé 1", "Café Olé 2"]


def test_a_utf8_file_with_a_few_windows_1252_lines_keeps_every_accent(
    ctx: Context, tmp_path: Path
) -> None:
    src = tmp_path / "mixed.csv"
    utf8 = "Company,City\nFrüh Bäckerei,Köln\n" + "".join(f"Shop {n},Boston\n" for n in range(3000))
    src.write_bytes(utf8.encode() + "Café Noir,Montréal\n".encode("cp1252"))
    report = import_accounts(ctx, src)
    assert (report.encoding, report.imported) == ("utf-8", 3002)
    assert report.notes[0] == (
        "the file is UTF-8 except line 3,003, whose accents were read as Windows-1252: check those"
        " rows"
    )
    names = {r[0] for r in ctx.db.execute("SELECT name || ' ' || city FROM accounts")}
    assert {"Früh Bäckerei Köln", "Café Noir Montréal"} <= names

    plain = tmp_path / "plain.csv"  # no UTF-8 accent anywhere: the whole file is Windows-1252
    plain.write_bytes("Company,City\nZoë Books,Zürich\n".encode("cp1252"))
    report = import_accounts(ctx, plain)
    assert (report.encoding, report.notes) == ("cp1252", [])


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_title_above_the_column_names_is_skipped(ctx: Context, tmp_path: Path, kind: str) -> None:
    rows = [
        ["Customer list - exported from CRM on 2026-11-20", "", "", ""],
        ["", "", "", ""],
        ["Company", "City", "State", "ZIP"],
        ["Acme Tools", "Cambridge", "MA", "02139"],
        ["Solo", "", "", ""],  # a sparse data row is still data
    ]
    if kind == "csv":
        path = _csv(tmp_path / "titled.csv", rows)
    else:
        path = _xlsx(tmp_path / "titled.xlsx", rows)
    report = import_accounts(ctx, path)
    assert report.mapping == {"name": "Company", "city": "City", "region": "State",
                              "postal_code": "ZIP"}  # fmt: skip
    assert report.imported == 2
    assert f"the column names are on line 3 of {path.name}" in report.notes[0]

    one = _csv(tmp_path / "one.csv", [["Company"], ["Acme"], ["Beta"]])  # one column: line 1
    assert import_accounts(ctx, one).notes == []


def test_header_synonyms() -> None:
    mapping = guess_mapping(
        [
            "Organisation",
            "Postal Code",
            "Town",
            "Province",
            "E-Mail",
            "Homepage",
            "Lat",
            "Lng",
            "Headcount",
        ]
    )
    assert mapping.fields == {
        "name": 0,
        "postal_code": 1,
        "city": 2,
        "region": 3,
        "email": 4,
        "website": 5,
        "lat": 6,
        "lon": 7,
        "employees": 8,
    }


@pytest.mark.parametrize(
    "header",
    [
        # Salesforce's account export
        "Account Name,Type,Billing Street,Billing City,Billing State/Province,"
        "Billing Zip/Postal Code,Billing Country,Phone,Website,Account Owner",
        # HubSpot's company export
        "Company name,Lead Status,Street Address,City,State/Region,Postal Code,Country/Region,"
        "Phone Number,Website URL,Company owner",
        # Dynamics 365
        "Account Name,Relationship Type,Address 1: Street 1,Address 1: City,"
        "Address 1: State/Province,Address 1: ZIP/Postal Code,Address 1: Country/Region,"
        "Main Phone,Website,Owner",
    ],
    ids=["salesforce", "hubspot", "dynamics"],
)
def test_crm_exports_map_their_address_columns_and_say_what_they_leave(
    ctx: Context, tmp_path: Path, header: str
) -> None:
    src = tmp_path / "crm.csv"
    src.write_text(f"{header}\nAcme,Customer - Direct,1 Main St,Boston,MA,02108,USA,,,\n")
    mapping = guess_mapping(header.split(","))
    assert set(mapping.fields) == {
        "name", "street", "city", "region", "postal_code", "country", "phone", "website", "owner"
    }  # fmt: skip
    report = import_accounts(ctx, src)
    assert report.imported == 1  # the CRM's own "type" of customer is not taken for a status
    left = header.split(",")[1]
    assert f"1 column was not imported, as no field goes by its name: {left!r}" in report.notes[0]
    row = ctx.db.execute("SELECT region, postal_code, status FROM accounts").fetchone()
    assert row == ("MA", "02108", "prospect")


# -- bad input: the whole file ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\n\n  \n", "only blank lines"),
        (b"Company,ZIP\n", "header row but no data rows"),
        (bytes(range(256)) * 40, "not a text file"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00\x01" * 500, "not a text file"),
        (b"PK\x03\x04garbage that is not a zip", "not a readable Excel workbook"),
        (b"City,ZIP\nBoston,02139\n", "no column for the account name"),
        (b'Company,Notes\nAcme,"never closed\nB,x\nC,y\n', "quote opened on line 2 never closes"),
    ],
)
def test_bad_files_leave_the_database_as_it_was(
    ctx: Context, tmp_path: Path, content: bytes, message: str
) -> None:
    ctx.writer.insert("accounts", {"name": "Existing"})
    before = _state(ctx)
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(ImportFileError, match=message):
        import_accounts(ctx, path)
    assert _state(ctx) == before


# -- bad input: rows ------------------------------------------------------------------------------


def test_bad_rows_are_reported_and_only_good_rows_imported(ctx: Context, tmp_path: Path) -> None:
    rows = [
        ["Name", "Employees", "Potential", "Latitude", "Longitude", "Notes", "Status", "Email"],
        ["Good One", "5", "100", "42.1", "-71.2", "fine", "customer", "a@b.com"],  # line 2
        ["Bad Number", "many", "", "", "", "", "", ""],  # line 3
        ["Bad Lat", "", "", "123", "10", "", "", ""],  # line 4
        ["Long Notes", "", "", "", "", "x" * 100_000, "", ""],  # line 5
        ["Bad Potential", "", "12abc", "", "", "", "", ""],  # line 6
        ["Good One", "5", "100", "42.1", "-71.2", "fine", "customer", "a@b.com"],  # line 7
        ["Good Two", "", "", "", "", "", "", ""],  # line 8
        ["", "1", "", "", "", "", "", ""],  # line 9
        ["Half Coord", "", "", "40", "", "", "", ""],  # line 10
        ["Weird", "", "", "", "", "", "sleeping", "not-an-email"],  # line 11
    ]
    errors = tmp_path / "errors.csv"
    report = import_accounts(ctx, _csv(tmp_path / "rows.csv", rows), errors_path=errors)
    # Only a missing name or unusable coordinates cost the row; a bad optional cell is dropped.
    assert report.imported == 6
    names = [r[0] for r in ctx.db.execute("SELECT name FROM accounts ORDER BY name")]
    assert names == ["Bad Number", "Bad Potential", "Good One", "Good Two", "Long Notes", "Weird"]
    got = [(e.line, e.column, e.reason) for e in report.errors]
    assert got == [
        (4, "Latitude", "latitude 123 is outside -90..90"),
        (7, "", "repeats line 2 exactly"),
        (9, "Name", "is empty; every account needs a name"),
        (10, "Longitude", "latitude and longitude must be given together"),
    ]
    warned = [(w.line, w.column, w.reason) for w in report.warnings]
    assert warned == [
        (3, "Employees", "'many' is not a number"),
        (5, "Notes", "is 100,000 characters long; at most 10,000 fit"),
        (6, "Potential", "'12abc' is not a number"),
        (11, "Status", "'sleeping' is not a status (use prospect, active, inactive or lost)"),
        (11, "Email", "'not-an-email' is not an email address"),
    ]
    assert report.warned_rows == 4
    weird = ctx.db.execute(
        "SELECT status, email, notes FROM accounts WHERE name = 'Weird'"
    ).fetchone()
    assert weird == ("prospect", None, None)
    good = ctx.db.execute(
        "SELECT status, geocode_quality, lat FROM accounts WHERE name = ?", ("Good One",)
    ).fetchone()
    assert good == ("active", "manual", 42.1)
    # The errors file holds each failing or warned row once, as it was, after what is wrong.
    with errors.open(encoding="utf-8-sig", newline="") as fh:
        written = list(csv.reader(fh))
    assert written[0] == ["error_line", "error_column", "error_reason", *rows[0]]
    assert [r[0] for r in written[1:]] == ["3", "4", "5", "6", "7", "9", "10", "11"]
    assert written[-1][1] == "Status; Email"
    assert written[-1][2].startswith("imported anyway: 'sleeping'")
    assert written[3][3:] == rows[4]
    # ... and, once fixed, it can be imported as it is (the error columns are ignored).
    assert guess_mapping(written[0]).fields["name"] == 3


def test_duplicate_rows_inside_the_file(ctx: Context, tmp_path: Path) -> None:
    rows = [
        ["Company", "ZIP", "Phone"],
        ["Acme", "02139", ""],
        ["ACME Inc.", "02139", ""],
        ["Beta", "02110", "555-123-4567"],
        ["Beta Inc", "02111", "(555) 123 4567"],  # another ZIP, the same phone and name
    ]
    report = import_accounts(ctx, _csv(tmp_path / "dups.csv", rows))
    assert report.imported == 2
    assert [(e.line, e.reason) for e in report.errors] == [
        (3, "possible duplicate of line 2 (same name and postal code); not imported"),
        (5, "possible duplicate of line 4 (same phone and name); not imported"),
    ]


def test_cancel_imports_nothing(ctx: Context, tmp_path: Path) -> None:
    rows = [["Name"]] + [[f"Shop {i}"] for i in range(12_000)]
    path = _csv(tmp_path / "many.csv", rows)
    phases: list[str] = []

    def cancel_when_saving() -> bool:
        # after the first block of 5,000 good rows has been written inside the transaction
        return len(phases) > 6

    with pytest.raises(ImportCancelled, match="nothing was imported"):
        import_accounts(
            ctx, path, progress=lambda d, t, p: phases.append(p), cancelled=cancel_when_saving
        )
    assert _state(ctx) == ([], 0)
    assert ctx.db.execute("SELECT count(*) FROM accounts_fts").fetchone()[0] == 0
    assert (
        ctx.db.execute("SELECT count(*) FROM local_meta WHERE key LIKE 'search%'").fetchone()[0]
        == 0
    )
    report = import_accounts(ctx, path)
    assert report.imported == 12_000


# -- XLSX ------------------------------------------------------------------------------------------


def _xlsx(
    path: Path, rows: list[list[object]], saved_results: dict[str, str] | None = None
) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.save(path)
    if saved_results:
        # openpyxl cannot compute formulas; write the results Excel would have saved with them.
        tmp = path.with_suffix(".tmp")
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w") as dst:
            for item in src.infolist():
                data = src.read(item.filename)
                if item.filename == "xl/worksheets/sheet1.xml":
                    text = data.decode()
                    for formula, result in saved_results.items():
                        # openpyxl writes the empty result as <v /> or, with lxml installed, <v></v>
                        text, found = re.subn(
                            rf"<f>{re.escape(formula)}</f><v\s*(/>|></v>)",
                            f"<f>{formula}</f><v>{result}</v>",
                            text,
                        )
                        assert found, f"no cell holds the formula {formula}"
                    data = text.encode()
                dst.writestr(item, data)
        shutil.move(tmp, path)
    return path


def test_xlsx_with_formulas(ctx: Context, tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["Account Name", "Zip Code", "Employees"],
        ["Saved Result", 2139, "=2*3"],  # a spreadsheet dropped the ZIP's leading zero
        ["No Result", "02139", "=A1*2"],
        ["Plain", "10001", 7],
    ]
    path = _xlsx(tmp_path / "book.xlsx", rows, saved_results={"2*3": "6"})
    report = import_accounts(ctx, path)
    assert report.kind == "xlsx"
    assert report.imported == 3  # the formula's cell is dropped, not its row
    assert report.errors == []
    assert [(w.line, w.column) for w in report.warnings] == [(3, "Employees")]
    assert "holds the formula =A1*2 with no saved result" in report.warnings[0].reason
    assert "1 cells hold formulas; the results Excel saved with them were imported" in report.notes
    saved = ctx.db.execute(
        "SELECT employees, postal_code, geocode_quality FROM accounts WHERE name = 'Saved Result'"
    ).fetchone()
    assert saved == (6, "02139", "postal_code")


def test_a_formula_with_no_result_in_the_name_is_the_one_reason_given(
    ctx: Context, tmp_path: Path
) -> None:
    rows: list[list[object]] = [["Account Name", "Zip Code"], ['=CONCAT("A","B")', "02139"]]
    report = import_accounts(ctx, _xlsx(tmp_path / "book.xlsx", rows))
    assert [(e.line, e.column) for e in report.errors] == [(2, "Account Name")]
    assert "holds the formula =CONCAT" in report.errors[0].reason


def test_rows_with_text_beyond_the_header_fail_and_short_rows_are_padded_in_the_errors_file(
    ctx: Context, tmp_path: Path
) -> None:
    src = tmp_path / "ragged.csv"
    src.write_text(
        "Company,ZIP,City,Employees\n"
        "Short,02108\n"  # short: the missing cells are empty
        "Acme, Inc,78701,Austin,12\n"  # an unquoted comma shifts every cell after it
        "Trailing,80202,Denver,3,,\n"  # empty cells past the header are harmless
        "Bad Count,80202,Denver,many\n",
        encoding="utf-8",
    )
    errors = tmp_path / "ragged.errors.csv"
    report = import_accounts(ctx, src, errors_path=errors)
    assert report.imported == 3
    assert [(e.line, e.column) for e in report.errors] == [(3, "")]
    assert [(w.line, w.column) for w in report.warnings] == [(5, "Employees")]
    assert report.errors[0].reason.startswith(
        "has 5 cells but the header has 4 columns (extra: '12')"
    )
    names = [r[0] for r in ctx.db.execute("SELECT name FROM accounts ORDER BY name")]
    assert names == ["Bad Count", "Short", "Trailing"]
    with errors.open(encoding="utf-8-sig", newline="") as fh:
        written = list(csv.reader(fh))
    assert [len(row) for row in written] == [7, 8, 7]  # the shifted row keeps all its cells


def test_a_workbook_is_read_from_the_sheet_open_when_it_was_saved(
    ctx: Context, tmp_path: Path
) -> None:
    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "Notes"
    notes.append(["Accounts are on the next sheet"])
    accounts = book.create_sheet("Accounts")
    accounts.append(["Company", "ZIP"])
    accounts.append(["Acme Tools", "02139"])
    book.active = 1
    book.save(tmp_path / "two.xlsx")
    report = import_accounts(ctx, tmp_path / "two.xlsx")
    assert report.imported == 1
    assert (
        "read the sheet 'Accounts', the one open when the workbook was saved; the other 1 sheet"
        " was not read"
    ) in report.notes

    book.active = 0  # saved with the notes open: the import says which sheet it read, and how
    book.save(tmp_path / "notes.xlsx")
    with pytest.raises(ImportFileError) as refused:
        import_accounts(ctx, tmp_path / "notes.xlsx")
    assert str(refused.value).startswith(
        "notes.xlsx, sheet 'Notes', has a header row but no data rows; the workbook has 2 sheets"
        " and the one open when it was saved is read: open the sheet to import"
    )


def test_a_cell_of_many_megabytes_fails_its_row_and_a_bigger_one_the_file(
    ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "huge.csv"
    src.write_text(f"Company,ZIP,Notes\nBig,02139,{'x' * 9_000_000}\nSmall,02139,ok\n")
    report = import_accounts(ctx, src)
    assert report.imported == 2  # without the notes
    assert [(w.line, w.column) for w in report.warnings] == [(2, "Notes")]
    assert "is 9,000,000 characters long" in report.warnings[0].reason

    from fieldrep.services.imports import readers as import_readers

    monkeypatch.setattr(import_readers, "CSV_FIELD_LIMIT", 1024 * 1024)
    previous = csv.field_size_limit(1024 * 1024)
    try:
        before = _state(ctx)
        with pytest.raises(
            ImportFileError, match=r"a value that starts on line 2 is longer than 1 MB"
        ):
            import_accounts(ctx, src)
        assert _state(ctx) == before
    finally:
        csv.field_size_limit(previous)


def test_csv_renamed_xlsx_and_xlsx_renamed_csv(ctx: Context, tmp_path: Path) -> None:
    fake = tmp_path / "fake.xlsx"
    fake.write_text("Company\nAcme\n")
    with pytest.raises(ImportFileError, match="not an Excel workbook"):
        import_accounts(ctx, fake)
    real = _xlsx(tmp_path / "real.xlsx", [["Company"], ["Acme"]])
    renamed = real.rename(tmp_path / "real.csv")
    assert import_accounts(ctx, renamed).imported == 1
