"""Whose states a bare two-letter region in a territory file names: is ``"CA"`` California or Canada?

The team's book decides. By default the reading follows the data the team shares: the country that
holds a clear majority of its accounts (or, with no accounts yet, of its territories' regions); US
states only when the book says nothing (or no country holds a majority). A country whose regions have
no two-letter codes (the United Kingdom's are ``ENG``, ``SCT``...) reads such codes as countries. A
choice made for this book (``fieldrep territories import --region-country``, the import window) wins
and is remembered in ``territories.region_country``. Every import that reads such codes says which
reading it used and why ("two-letter regions read as US states: 97 % of your accounts are in the US").
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass
from typing import Any

from fieldrep.domain import regions
from fieldrep.domain.territory_rules import DefinitionError, Region
from fieldrep.store import settings
from fieldrep.store.errors import ValidationError

MAJORITY = 2 / 3  # a country holding this share of the accounts is the team's


@dataclass(frozen=True)
class RegionReading:
    """How bare two-letter regions are read, and why."""

    country: str | None  # whose states they are; None: they are country codes
    reason: str  # "97 % of your accounts are in the US"
    chosen: bool = False  # remembered for this book, not derived from its data

    def label(self) -> str:
        return reading_label(self.country)

    def sentence(self, codes: list[str] | None = None) -> str:
        shown = f" ({', '.join(codes[:6])}{', ...' if len(codes) > 6 else ''})" if codes else ""
        return f"two-letter regions{shown} read as {self.label()}: {self.reason}"


@dataclass(frozen=True)
class RegionQuestion:
    """What the import window asks when a file has bare two-letter regions."""

    codes: list[str]  # the file's bare two-letter regions, in order of appearance
    preset: RegionReading  # the book's reading: the remembered choice or the team's data
    options: list[str | None]  # readings offered: countries whose states they are, None: countries


def reading_label(country: str | None) -> str:
    if country is None:
        return "country codes"
    return "US states" if country == "US" else f"{regions.country_name(country)} states"


def read_as(code: str, country: str | None) -> str:
    """What ``code`` names under a reading, as the import will read it: "CA California", "CA
    Canada" (a code that is no state of ``country`` is read as a country), "OR ?" (neither)."""
    try:
        found = Region.parse(code, country)
    except DefinitionError:
        return f"{code} ?"
    if found.region:
        return f"{code} {regions.region_name(found.country, found.region) or found.region}"
    return f"{code} {regions.country_name(found.country)}"


def _in(country: str) -> str:
    return "the US" if country == "US" else regions.country_name(country)


def _majority(counts: Counter[str], what: str) -> RegionReading | None:
    """The reading a clear majority of ``counts`` (countries) implies; None when there is none."""
    total = sum(counts.values())
    if not total:
        return None
    (top, n), *_ = counts.most_common(1)
    share = f"{round(100 * n / total)} %"
    if n / total < MAJORITY:
        spread = ", ".join(f"{round(100 * k / total)} % {_in(c)}" for c, k in counts.most_common(3))
        return RegionReading(
            "US", f"no country holds two thirds of your {what} ({spread}), so US by default"
        )
    if not regions.has_two_letter_regions(top):
        return RegionReading(
            None,
            f"{share} of your {what} are in {_in(top)}, whose regions have no two-letter codes",
        )
    return RegionReading(top, f"{share} of your {what} are in {_in(top)}")


def team_reading(conn: sqlite3.Connection) -> RegionReading:
    """The reading the book's shared data implies (ignoring any remembered choice)."""
    accounts = Counter[str]()
    for country, n in conn.execute(
        "SELECT upper(trim(country)), count(*) FROM accounts"
        " WHERE country IS NOT NULL AND trim(country) != '' GROUP BY 1"
    ):
        accounts[str(country)] += int(n)
    found = _majority(accounts, "accounts")
    if found is not None:
        return found
    in_regions = Counter[str]()
    for (raw,) in conn.execute("SELECT regions FROM territories WHERE archived = 0"):
        for region in json.loads(raw or "[]"):
            if isinstance(region, dict) and region.get("country"):
                in_regions[str(region["country"]).upper()] += 1
    found = _majority(in_regions, "territories' regions")
    if found is not None:
        return found
    return RegionReading(
        "US", "the book has no accounts or territory regions yet, so US by default"
    )


def region_reading(conn: sqlite3.Connection) -> RegionReading:
    """The book's reading: the remembered choice, else what its shared data implies."""
    value = settings.get(conn, settings.REGION_COUNTRY).strip().upper()
    if not value:
        return team_reading(conn)
    country = None if value == "NONE" else value
    return RegionReading(country, "as chosen for this book", chosen=True)


def parse_choice(text: str) -> str | None:
    """A choice as typed (US, DE, Germany..., or 'none': codes are countries); refused with the
    reason when ``text`` is no ISO 3166 country."""
    if text.strip().lower() == "none":
        return None
    code = regions.country_code(text)
    if code is None:
        raise ValidationError(
            f"{text!r} is not a country (an ISO 3166 name or code such as US, DE or Germany,"
            " or 'none')",
            field="region_country",
        )
    return code


def remember(conn: sqlite3.Connection, country: str | None) -> None:
    """Remember the choice for this book's later imports (call inside the caller's transaction)."""
    settings.put(conn, settings.REGION_COUNTRY, country or "none")


def two_letter_codes(collection: dict[str, Any]) -> list[str]:
    """The bare two-letter regions of a file's features ("CA", "ID"), each once, in order."""
    seen: dict[str, None] = {}
    for feature in collection.get("features") or []:
        props = (feature or {}).get("properties") or {}
        raw = props.get("regions") if isinstance(props, dict) else None
        if isinstance(raw, str):
            raw = raw.replace(";", ",").split(",")
        for item in raw if isinstance(raw, list) else []:
            text = item.strip() if isinstance(item, str) else ""
            if len(text) == 2 and text.isalpha():
                seen.setdefault(text.upper(), None)
    return list(seen)


def question(conn: sqlite3.Connection, collection: dict[str, Any]) -> RegionQuestion | None:
    """What to ask about the file's two-letter regions; None when it has none."""
    codes = two_letter_codes(collection)
    if not codes:
        return None
    preset = region_reading(conn)
    team = team_reading(conn)
    options: dict[str | None, None] = {"US": None}
    for country in (team.country, preset.country):
        if country is not None:
            options.setdefault(country, None)
    options.setdefault(None, None)
    return RegionQuestion(codes, preset, list(options))
