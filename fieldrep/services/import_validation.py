"""Turning imported cell text into account and contact field values, or a precise reason why not.

Each cleaner takes the raw text and returns the value to store (``None`` for empty) or raises
:class:`FieldProblem` with a reason that, together with the row and column, tells the user exactly
what to fix in the file.
"""

from __future__ import annotations

import re

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
SIZE_BANDS = ("1-9", "10-49", "50-249", "250-999", "1000+")
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
COUNTRY_WORDS = {
    "us": "US",
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "united states": "US",
    "united states of america": "US",
    "america": "US",
    "canada": "CA",
    "mexico": "MX",
    "united kingdom": "GB",
    "uk": "GB",
    "great britain": "GB",
    "germany": "DE",
    "france": "FR",
    "spain": "ES",
    "italy": "IT",
    "netherlands": "NL",
    "ireland": "IE",
    "australia": "AU",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MONEY_NOISE = re.compile(r"[\s$€£¥]")
_THOUSANDS = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?")
_DECIMAL_COMMA = re.compile(r"-?\d+,\d+")
_NOT_DIGIT = re.compile(r"\D")
_WORD = re.compile(r"\w+")
_NAME_NOISE = frozenset(
    ("inc", "llc", "ltd", "co", "corp", "corporation", "company", "gmbh", "the", "plc")
)


class FieldProblem(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


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


def parse_number(field: str, raw: str) -> float | None:
    text = raw.strip()
    if not text:
        return None
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


def parse_employees(raw: str) -> int | None:
    value = parse_number("employees", raw)
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
    text = " ".join(raw.split()).casefold()
    if not text:
        return "US"
    if text in COUNTRY_WORDS:
        return COUNTRY_WORDS[text]
    if re.fullmatch(r"[a-z]{2}", text):
        return text.upper()
    raise FieldProblem("country", f"{_show(raw)} is not a country (use the 2-letter ISO code)")


def parse_postal_code(raw: str, country: str) -> str | None:
    text = raw.strip()
    if not text:
        return None
    normal = normalise_postal_code(text, country)
    if normal is None:
        what = "a US ZIP code (5 digits or ZIP+4)" if country == "US" else "a postal code"
        raise FieldProblem("postal_code", f"{_show(raw)} is not {what}")
    return normal


def parse_coordinate(field: str, raw: str) -> float | None:
    value = parse_number(field, raw)
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
    text = clean_text("phone", raw)
    if text is None:
        return None
    if len(phone_digits(text)) < 7:
        raise FieldProblem("phone", f"{_show(raw)} has too few digits for a phone number")
    return text


def phone_digits(phone: str | None) -> str:
    digits = _NOT_DIGIT.sub("", phone or "")
    # Compare the national number: +1 617 555 0100 and (617) 555-0100 are the same phone.
    return digits[-10:] if len(digits) > 10 else digits


_HOST = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/?#]*@)?([^/:?#\s]*)")


def website_domain(website: str | None) -> str:
    """The host of a web address without "www." (urlsplit is 10x slower for 100k rows)."""
    if not website:
        return ""
    match = _HOST.match(website.strip().lower())
    host = match.group(1) if match else ""
    return host.removeprefix("www.")


def parse_website(raw: str) -> str | None:
    text = clean_text("website", raw)
    if text is None:
        return None
    domain = website_domain(text)
    if "." not in domain or " " in domain:
        raise FieldProblem("website", f"{_show(raw)} is not a web address")
    return text


def name_key(name: str | None) -> str:
    """Company names compared without case, punctuation and legal-form noise.

    A name made only of such noise ("The Company") keeps its words, and one without words ("&")
    its text: an empty key would match nothing (a duplicate imported again) or anything alike.
    """
    folded = (name or "").casefold()
    words = _WORD.findall(folded)
    kept = [w for w in words if w not in _NAME_NOISE]
    return " ".join(kept or words) or " ".join(folded.split())


def _show(raw: str) -> str:
    text = raw.strip()
    return repr(text if len(text) <= 40 else text[:37] + "...")
