"""Turning imported cell text into account and contact field values, or a precise reason why not.

Each cleaner takes the raw text and returns the value to store (``None`` for empty) or raises
:class:`FieldProblem` with a reason that, together with the row and column, tells the user exactly
what to fix in the file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from fieldrep.domain.regions import country_code
from fieldrep.domain.vocabulary import SIZE_BANDS
from fieldrep.geo.gazetteer import normalise_postal_code

TEXT_LIMITS = {
    "name": 200,
    "industry": 100,
    "size": 20,
    "street": 300,
    "city": 100,
    "region": 100,
    "postal_code": 20,
    "country": 60,
    "phone": 50,
    "email": 254,
    "website": 300,
    "notes": 10_000,
    "owner": 200,
    "territory": 200,
    "first_name": 100,
    "last_name": 100,
    "full_name": 200,
    "title": 200,
    "account": 200,
}
STATUS_WORDS = {
    "prospect": "prospect",
    "lead": "prospect",
    "new": "prospect",
    "potential": "prospect",
    "active": "active",
    "customer": "active",
    "client": "active",
    "current": "active",
    "inactive": "inactive",
    "dormant": "inactive",
    "paused": "inactive",
    "lost": "lost",
    "churned": "lost",
    "closed": "lost",
    "former": "lost",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MONEY_NOISE = re.compile(r"[\s$€£¥]")
_THOUSANDS = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?")
_DECIMAL_COMMA = re.compile(r"-?\d+,\d+")
# A comma that can only be a decimal mark (not 3 digits after it, or after grouping points), and
# a point that can only be one (after grouping commas).
_ONLY_DECIMAL_COMMA = re.compile(r"-?(\d+,(\d{1,2}|\d{4,})|\d{1,3}(\.\d{3})+,\d+|0,\d+)")
_ONLY_DECIMAL_POINT = re.compile(r"-?\d{1,3}(,\d{3})+\.\d+")
_NOT_DIGIT = re.compile(r"\D")
_SCIENTIFIC = re.compile(r"\d(\.\d+)?[eE]\+\d+")
_WORD = re.compile(r"\w+")
_NAME_NOISE = frozenset(
    ("inc", "llc", "ltd", "co", "corp", "corporation", "company", "gmbh", "the", "plc", "and")
)
# Single letters each followed by a dot ("l.l.c.", "l. l. c", "p.c."): one word. Not letters
# apart by spaces alone: "Plan B LLC" would read as "plan bllc".
_INITIALISM = re.compile(r"(?<!\w)[^\W\d_](?:\.\s*[^\W\d_](?!\w))+")
_INITIALISM_GAPS = re.compile(r"[.\s]")
# Apostrophes join what they stand in: "O'Brien" is "obrien" and "Joe's" is "joes"
_APOSTROPHE = re.compile("['’ʼ`]")


class FieldProblem(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class KeptWithWarning(FieldProblem):
    """The value is kept as written, with a warning (an Excel-mangled phone, say)."""

    def __init__(self, field: str, reason: str, value: str) -> None:
        super().__init__(field, reason)
        self.value = value


def clean_text(field: str, raw: str) -> str | None:
    # isprintable() is a cheap C check that lets most cells skip the regex (an import runs this
    # a million times); tabs and newlines are not printable, so they take the careful path.
    text = raw.strip() if raw.isprintable() else _CONTROL.sub("", raw).strip()
    if field != "notes" and ("  " in text or not text.isprintable()):
        text = " ".join(text.split())
    if not text:
        return None
    limit = TEXT_LIMITS.get(field, 500)
    if len(text) > limit:
        raise FieldProblem(field, f"is {len(text):,} characters long; at most {limit:,} fit")
    return text


def decimal_comma_file(cells: Iterable[str]) -> bool:
    """Whether a file's numbers use the comma as decimal mark: some number can only be read so
    ("12,5", "1.234,50", "50,93751") and none only the other way ("1,234.50")."""
    comma = point = False
    for cell in cells:
        text = _MONEY_NOISE.sub("", cell).replace("\u00a0", "")
        if not text or not text[-1:].isdigit():
            continue
        if _ONLY_DECIMAL_COMMA.fullmatch(text):
            comma = True
        elif _ONLY_DECIMAL_POINT.fullmatch(text):
            point = True
    return comma and not point


def parse_number(field: str, raw: str, *, decimal_comma: bool = False) -> float | None:
    """A number as spreadsheets and CRMs write it ("$12,500.50", "1.234,5" in a decimal-comma
    file); ``decimal_comma`` (from :func:`decimal_comma_file`) makes "6,932" 6.932, not 6932."""
    text = raw.strip()
    if not text:
        return None
    if decimal_comma and ("," in text or "." in text):
        cleaned = _MONEY_NOISE.sub("", text).replace("\u00a0", "").replace(".", "")
        try:
            value = float(cleaned.replace(",", "."))
        except ValueError:
            raise FieldProblem(field, f"{_show(text)} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise FieldProblem(field, f"{_show(text)} is not a number")
        return value
    try:
        value = float(text)  # the common case, "1234" or "12.5", without the regexes below
    except ValueError:
        cleaned = _MONEY_NOISE.sub("", text).replace("\u00a0", "")
        if _THOUSANDS.fullmatch(cleaned):
            cleaned = cleaned.replace(",", "")  # 1,234,567.89
        elif _DECIMAL_COMMA.fullmatch(cleaned):
            cleaned = cleaned.replace(",", ".")  # 1234,5 (decimal comma)
        try:
            value = float(cleaned)
        except ValueError:
            raise FieldProblem(field, f"{_show(text)} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise FieldProblem(field, f"{_show(text)} is not a number")
    return value


def parse_employees(raw: str, *, decimal_comma: bool = False) -> int | None:
    value = parse_number("employees", raw, decimal_comma=decimal_comma)
    if value is None:
        return None
    if not value.is_integer() or value < 0:
        raise FieldProblem("employees", f"{_show(raw)} is not a whole number of people")
    return int(value)


def size_band(raw: str, employees: int | None) -> str | None:
    text = raw.strip().replace(" ", "").replace("–", "-")
    if not text:
        return band_for(employees) if employees is not None else None
    if text in SIZE_BANDS:
        return text
    try:
        return band_for(int(float(text)))
    except ValueError:
        raise FieldProblem(
            "size", f"{_show(raw)} is not a size band (use one of {', '.join(SIZE_BANDS)})"
        ) from None


def band_for(employees: int) -> str:
    for limit, band in ((9, "1-9"), (49, "10-49"), (249, "50-249"), (999, "250-999")):
        if employees <= limit:
            return band
    return "1000+"


def parse_status(raw: str) -> str:
    text = raw.strip().casefold()
    if not text:
        return "prospect"
    if text in STATUS_WORDS:
        return STATUS_WORDS[text]
    raise FieldProblem(
        "status", f"{_show(raw)} is not a status (use prospect, active, inactive or lost)"
    )


def parse_country(raw: str) -> str:
    """The ISO 3166-1 alpha-2 code of a country name or code in English ("Brazil", "BRA", "br");
    an empty cell is the US."""
    text = " ".join(raw.split())
    if not text:
        return "US"
    code = country_code(text)
    if code is not None:
        return code
    raise FieldProblem("country", f"{_show(raw)} is not a country name or ISO code")


def parse_postal_code(raw: str, country: str) -> str | None:
    text = raw.strip()
    if not text:
        return None
    normal = normalise_postal_code(text, country)
    if normal is None:
        what = "a US ZIP code (5 digits or ZIP+4)" if country == "US" else "a postal code"
        raise FieldProblem("postal_code", f"{_show(raw)} is not {what}")
    return normal


def parse_coordinate(field: str, raw: str, *, decimal_comma: bool = False) -> float | None:
    value = parse_number(field, raw, decimal_comma=decimal_comma)
    if value is None:
        return None
    limit = 90 if field == "lat" else 180
    if not -limit <= value <= limit:
        word = "latitude" if field == "lat" else "longitude"
        raise FieldProblem(field, f"{word} {value:g} is outside -{limit}..{limit}")
    return value


def parse_email(raw: str) -> str | None:
    text = clean_text("email", raw)
    if text is None:
        return None
    if not _EMAIL.match(text):
        raise FieldProblem("email", f"{_show(raw)} is not an email address")
    return text.lower()


def parse_phone(raw: str) -> str | None:
    found = parse_phone_and_digits(raw)
    return None if found is None else found[0]


def parse_phone_and_digits(raw: str) -> tuple[str, str] | None:
    """The phone as written and its digits (what a duplicate key compares, see
    :func:`phone_digits`), read once; None when the cell is empty. A phone a spreadsheet turned
    into a number is kept with a warning (:class:`KeptWithWarning`, its value the text)."""
    text = clean_text("phone", raw)
    if text is None:
        return None
    if _SCIENTIFIC.fullmatch(text):
        raise KeptWithWarning(
            "phone",
            f"{_show(raw)} looks like a phone number a spreadsheet turned into a number"
            " (its last digits are lost); kept as written",
            text,
        )
    digits = phone_digits(text)
    if len(digits) < 7:
        raise FieldProblem("phone", f"{_show(raw)} has too few digits for a phone number")
    return text, digits


def phone_digits(phone: str | None) -> str:
    digits = _NOT_DIGIT.sub("", phone or "")
    # Compare the national number: +1 617 555 0100 and (617) 555-0100 are the same phone.
    return digits[-10:] if len(digits) > 10 else digits


_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/?#]*@)?([^/:?#\s]*)(?::\d*)?([^?#\s]*)")
# Hosts where many businesses each have a page, so the page and not the host is a business's
# site: each with the path words that only lead to a page ("linkedin.com/company/<page>"). Hosts
# that give each business its own subdomain (business.site, wixsite.com) need no entry.
SHARED_HOSTS: dict[str, frozenset[str]] = {
    # profile.php names its page in the query, which is not kept: such a page has no website key
    "facebook.com": frozenset(("pages", "pg", "people", "groups", "profile.php")),
    "instagram.com": frozenset(),
    "linkedin.com": frozenset(("company", "in", "school", "showcase")),
    "x.com": frozenset(),
    "threads.net": frozenset(),
    "tiktok.com": frozenset(),
    "youtube.com": frozenset(("c", "channel", "user")),
    "pinterest.com": frozenset(),
    "yelp.com": frozenset(("biz",)),
    "nextdoor.com": frozenset(("pages",)),
    "sites.google.com": frozenset(("view", "site")),
    "g.page": frozenset(),
    "etsy.com": frozenset(("shop",)),
    "linktr.ee": frozenset(),
}
_SAME_HOST = {"fb.com": "facebook.com", "twitter.com": "x.com"}


def _shared_host(host: str) -> str | None:
    """The shared host that ``host`` is, or is a subdomain of ("m.facebook.com"), else None."""
    for candidate in (host, host.partition(".")[2]):
        candidate = _SAME_HOST.get(candidate, candidate)
        if candidate in SHARED_HOSTS:
            return candidate
    return None


def website_domain(website: str | None) -> str:
    """The host of a web address without "www.", with the path to the page on a shared host
    ("facebook.com/pizzaone"); a shared host alone when the address names no page there
    (urlsplit is 10x slower for 100k rows)."""
    if not website:
        return ""
    match = _URL.match(website.strip().lower())
    host = match.group(1).removeprefix("www.") if match else ""
    shared = _shared_host(host)
    if shared is None or match is None:
        return host
    to_page = SHARED_HOSTS[shared]
    path: list[str] = []
    for segment in filter(None, match.group(2).split("/")):
        path.append(segment)
        if segment not in to_page:
            return "/".join((shared, *path))
    return shared


def parse_website(raw: str) -> str | None:
    found = parse_website_and_domain(raw)
    return None if found is None else found[0]


def parse_website_and_domain(raw: str) -> tuple[str, str] | None:
    """The address as written and its domain (what a duplicate key compares, see
    :func:`website_domain`), read once; None when the cell is empty."""
    text = clean_text("website", raw)
    if text is None:
        return None
    domain = website_domain(text)
    if "." not in domain or " " in domain:
        raise FieldProblem("website", f"{_show(raw)} is not a web address")
    return text, domain


def name_key(name: str | None) -> str:
    """Company names compared without case, punctuation and legal-form noise ("and" too, as "&"
    is punctuation).

    A dotted initialism is one word ("L.L.C.", "L. L. C" and "LLC" are all "llc"), an apostrophe
    joins the word it is in ("O'Brien" is "OBrien"), and letters compare in Unicode's NFKC form (an
    "é" typed as "e" and a combining accent is "é"). A name made only of noise ("The Company")
    keeps its words, and one without words ("&") its text: an empty key would match nothing (a
    duplicate imported again) or anything alike.
    """
    folded = unicodedata.normalize("NFKC", name or "").casefold()
    joined = _APOSTROPHE.sub("", folded)
    if "." in joined:
        joined = _INITIALISM.sub(lambda m: _INITIALISM_GAPS.sub("", m.group()), joined)
    words = _WORD.findall(joined)
    kept = [w for w in words if w not in _NAME_NOISE]
    return " ".join(kept or words) or " ".join(folded.split())


def _show(raw: str) -> str:
    text = raw.strip()
    return repr(text if len(text) <= 40 else text[:37] + "...")
