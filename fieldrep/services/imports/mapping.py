"""Which column of an import file feeds which field: matching headers by names and synonyms.

The guess is only a proposal: the GUI shows it and lets the user change it, the CLI uses it as is.
Headers are compared after folding case and dropping everything but letters and digits, so
"Postal Code", "postal_code" and "POSTALCODE" are the same header.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ImportField:
    name: str
    label: str
    synonyms: tuple[str, ...]
    required: bool = False


ACCOUNT_FIELDS: tuple[ImportField, ...] = (
    ImportField(
        "name",
        "Account name",
        (
            "name",
            "account",
            "account name",
            "company",
            "company name",
            "business",
            "business name",
            "organisation",
            "organization",
            "organisation name",
            "organization name",
            "customer",
            "customer name",
            "client",
            "firm",
            "legal name",
            "accountname",
            "store name",
            "store_name",
            "site name",
            "location name",
            "market name",
            "marketname",
            "betreiber",
            "firma",
            "unternehmen",
        ),
        required=True,
    ),
    ImportField("industry", "Industry", ("industry", "sector", "vertical", "segment", "branch")),
    ImportField(
        "size",
        "Size band",
        ("size", "company size", "size band", "employee band", "employee range"),
    ),
    ImportField(
        "employees",
        "Employees",
        (
            "employees",
            "employee count",
            "headcount",
            "number of employees",
            "no of employees",
            "staff",
            "num employees",
            "fte",
        ),
    ),
    ImportField(
        "potential",
        "Potential",
        (
            "potential",
            "potential revenue",
            "annual revenue",
            "revenue",
            "expected revenue",
            "value",
        ),
    ),
    # Not "type": CRMs use it for other lists ("Customer - Direct", "Channel Partner / Reseller").
    ImportField("status", "Status", ("status", "account status", "stage")),
    ImportField(
        "street",
        "Street",
        (
            "straße",
            "strasse",
            "adresse",
            "anschrift",
            "billing address line 1",
            "street",
            "address",
            "street address",
            "address 1",
            "address line 1",
            "address1",
            "addr",
            "billing street",
            "billing address",
            "shipping street",
            "mailing street",
            "address 1 street 1",
        ),
    ),
    ImportField(
        "city",
        "City",
        (
            "ort",
            "stadt",
            "gemeinde",
            "city",
            "town",
            "locality",
            "municipality",
            "billing city",
            "shipping city",
            "mailing city",
            "address 1 city",
        ),
    ),
    ImportField(
        "region",
        "State / region",
        (
            "bundesland",
            "state",
            "region",
            "province",
            "state province",
            "state/region",
            "st",
            "billing state",
            "billing state/province",
            "shipping state/province",
            "mailing state/province",
            "address 1 state/province",
        ),
    ),
    ImportField(
        "postal_code",
        "Postal code",
        (
            "postleitzahl",
            "billing postal code",
            "postal code",
            "zip",
            "zip code",
            "zipcode",
            "postcode",
            "post code",
            "postal",
            "plz",
            "billing zip",
            "billing postal code",
            "billing zip/postal code",
            "billing code",
            "shipping zip/postal code",
            "mailing zip/postal code",
            "address 1 zip/postal code",
        ),
    ),
    ImportField(
        "country",
        "Country",
        (
            "land",
            "staat",
            "country",
            "country code",
            "nation",
            "country/region",
            "billing country",
            "shipping country",
            "mailing country",
            "address 1 country/region",
        ),
    ),
    ImportField(
        "phone",
        "Phone",
        (
            "telefon",
            "telefonnummer",
            "phone",
            "telephone",
            "tel",
            "phone number",
            "main phone",
            "office phone",
        ),
    ),
    ImportField("email", "Email", ("email", "e mail", "email address", "mail")),
    ImportField(
        "website",
        "Website",
        (
            "webseite",
            "internetseite",
            "homepage url",
            "website",
            "web",
            "url",
            "homepage",
            "site",
            "web site",
            "website url",
            "domain",
        ),
    ),
    ImportField(
        "notes", "Notes", ("notes", "note", "comments", "comment", "description", "remarks", "memo")
    ),
    ImportField(
        "lat",
        "Latitude",
        (
            "billing latitude",
            "billinglatitude",
            "shipping latitude",
            "breitengrad",
            "latitude",
            "lat",
            "y",
        ),
    ),
    ImportField(
        "lon",
        "Longitude",
        (
            "billing longitude",
            "billinglongitude",
            "shipping longitude",
            "längengrad",
            "laengengrad",
            "longitude",
            "lon",
            "lng",
            "long",
            "x",
        ),
    ),
    ImportField(
        "owner",
        "Owner (username)",
        (
            "owner",
            "account owner",
            "company owner",
            "rep",
            "sales rep",
            "owner username",
            "assigned to",
        ),
    ),
    ImportField("territory", "Territory", ("territory", "territory name", "sales territory")),
    # Our own export's id column: a re-import updates the accounts it names.
    ImportField("fieldrep_id", "FieldRep id", ("fieldrep id",)),
    # The account's id in the source CRM, kept so a contacts export pointing at it links.
    ImportField(
        "external_id",
        "Id in the source",
        (
            "external id",
            "id",
            "account id",
            "accountid",
            "account number",
            "accountnumber",
            "customer id",
            "customerid",
            "customer number",
            "record id",
            "crm id",
            "salesforce id",
            "kundennummer",
        ),
    ),
)

CONTACT_FIELDS: tuple[ImportField, ...] = (
    ImportField(
        "account",
        "Account (name or id)",
        (
            "account",
            "account name",
            "company",
            "company name",
            "organisation",
            "organization",
            "customer",
            "account id",
            "accountid",
            "business",
        ),
        required=True,
    ),
    ImportField(
        "full_name", "Full name", ("name", "full name", "contact", "contact name", "person")
    ),
    ImportField("first_name", "First name", ("first name", "firstname", "given name", "first")),
    ImportField(
        "last_name", "Last name", ("last name", "lastname", "surname", "family name", "last")
    ),
    ImportField("title", "Title", ("title", "job title", "position", "role")),
    ImportField("email", "Email", ("email", "e mail", "email address", "mail")),
    ImportField("phone", "Phone", ("phone", "telephone", "tel", "mobile", "cell", "phone number")),
    ImportField("notes", "Notes", ("notes", "note", "comments", "comment", "remarks")),
)


def fold(header: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", header.casefold())


@dataclass
class ColumnMapping:
    """Field name -> column index in the file (only mapped fields appear)."""

    fields: dict[str, int]

    def column_of(self, field: str) -> int | None:
        return self.fields.get(field)

    def describe(self, header: Sequence[str]) -> dict[str, str]:
        return {f: header[i] for f, i in self.fields.items() if i < len(header)}


def guess_mapping(
    header: Sequence[str], fields: Sequence[ImportField] = ACCOUNT_FIELDS
) -> ColumnMapping:
    """Exact synonym matches first (in field order), so "Company" never loses to a vaguer match."""
    folded = [fold(h) for h in header]
    taken: set[int] = set()
    mapping: dict[str, int] = {}
    for spec in fields:
        wanted = [fold(s) for s in spec.synonyms]
        for synonym in wanted:
            hits = [i for i, h in enumerate(folded) if h == synonym and i not in taken]
            if hits:
                mapping[spec.name] = hits[0]
                taken.add(hits[0])
                break
    return ColumnMapping(mapping)


def unmapped_note(mapping: ColumnMapping, header: Sequence[str]) -> str | None:
    """What the import says about the named columns it does not read, if any."""
    used = set(mapping.fields.values())
    left = [name for i, name in enumerate(header) if name.strip() and i not in used]
    if not left:
        return None
    shown = ", ".join(repr(name) for name in left[:8]) + (", ..." if len(left) > 8 else "")
    return (
        f"{len(left)} {'column was' if len(left) == 1 else 'columns were'} not imported, as no"
        f" field goes by {'its name' if len(left) == 1 else 'their names'}: {shown} (the import"
        " window lets you choose a field for any column)"
    )


def missing_required(
    mapping: ColumnMapping, fields: Sequence[ImportField] = ACCOUNT_FIELDS
) -> list[ImportField]:
    return [f for f in fields if f.required and f.name not in mapping.fields]


def missing_column_message(spec: ImportField, header: Sequence[str]) -> str:
    looked = ", ".join(s.title() for s in spec.synonyms[:6])
    found = ", ".join(h for h in header if h) or "none"
    return (
        f"no column for the {spec.label.lower()} (looked for {looked}, ...);"
        f" the file's columns are: {found}"
    )
