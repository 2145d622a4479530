"""Which rows an account import takes for possible duplicates: names however their legal form is
written, and websites on hosts that many businesses share (a Facebook page, a Google Sites page).

The keys' filing and format: tests/services/test_account_keys.py.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from fieldrep.services.context import Context
from fieldrep.services.imports.accounts import import_accounts
from fieldrep.services.imports.validation import name_key, website_domain

HEADER = ["Company", "ZIP", "Phone", "Website"]


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([HEADER, *rows])
    return path


def _reasons(report: object) -> dict[int, str]:
    return {e.line: e.reason for e in report.errors}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("written", "plain"),
    [
        ("Stewart Freight, L.L.C.", "Stewart Freight LLC"),
        ("Stewart Freight L.L.C", "Stewart Freight"),
        ("Stewart Freight L. L. C.", "stewart freight llc"),
        ("Plan B L.L.C.", "Plan B LLC"),
        ("Harbor Supply Inc.", "Harbor Supply"),
        ("Harbor Supply Co.", "Harbor Supply Corp."),
        ("Harbor Supply Ltd.", "Harbor Supply"),
        ("Dunn & Lee, L.P.", "Dunn and Lee LP"),
        ("Dunn Lee P.C.", "Dunn Lee PC"),
        ("A.B.C. Plumbing", "ABC Plumbing"),
        ("O'Brien Sons", "OBrien Sons"),
        ("Joe’s Diner", "Joes Diner"),
        ("Cafe\u0301 Rouge", "Café Rouge"),
    ],
)
def test_a_name_written_another_way_has_the_same_key(written: str, plain: str) -> None:
    assert name_key(written) == name_key(plain)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Plan B LLC", "Plan C LLC"),
        ("A. Smith Plumbing", "Smith Plumbing"),
        ("St. John Dental", "John Dental"),
        ("Studio 3.5", "Studio 35"),
    ],
)
def test_names_that_differ_keep_different_keys(one: str, other: str) -> None:
    assert name_key(one) != name_key(other)


def test_a_dotted_legal_form_is_a_duplicate_of_the_plain_one(ctx: Context, tmp_path: Path) -> None:
    ctx.writer.insert("accounts", {"name": "Stewart Freight LLC", "postal_code": "92109"})
    ctx.writer.insert("accounts", {"name": "Dunn and Lee LP", "postal_code": "02139"})
    report = import_accounts(
        ctx,
        _csv(
            tmp_path / "dotted.csv",
            [
                ["Stewart Freight, L.L.C.", "92109", "", ""],  # 2
                ["Dunn & Lee, L.P.", "02139", "", ""],  # 3
                ["Harbor Supply Co.", "10001", "", ""],  # 4
                ["Harbor Supply, Corp.", "10001", "", ""],  # 5: line 4
                ["Stewart Freight L.L.C.", "92110", "", ""],  # 6: another ZIP
            ],
        ),
    )
    reasons = _reasons(report)
    assert sorted(reasons) == [2, 3, 5]
    assert "existing account 'Stewart Freight LLC' (same name and postal code)" in reasons[2]
    assert "existing account 'Dunn and Lee LP' (same name and postal code)" in reasons[3]
    assert "line 4 (same name and postal code)" in reasons[5]
    assert report.imported == 2


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("https://www.facebook.com/PizzaOneQA", "facebook.com/pizzaoneqa"),
        ("http://m.facebook.com/pizzaoneqa/about?ref=page", "facebook.com/pizzaoneqa"),
        ("fb.com/pizzaoneqa", "facebook.com/pizzaoneqa"),
        ("https://www.facebook.com/pages/Pizza-One/1234", "facebook.com/pages/pizza-one"),
        ("https://sites.google.com/view/salonthree/home", "sites.google.com/view/salonthree"),
        ("https://www.linkedin.com/company/acme-tools/", "linkedin.com/company/acme-tools"),
        ("https://twitter.com/pizzaone", "x.com/pizzaone"),
        ("https://www.yelp.com/biz/pizza-one-boston", "yelp.com/biz/pizza-one-boston"),
        ("https://www.acme.example/shop/", "acme.example"),
        ("https://shopfive.wixsite.com/home", "shopfive.wixsite.com"),
        ("facebook.com/", "facebook.com"),
        ("https://www.facebook.com/profile.php?id=100", "facebook.com"),
    ],
)
def test_a_site_on_a_shared_host_is_its_page(address: str, key: str) -> None:
    assert website_domain(address) == key


def test_pages_on_a_shared_host_are_not_the_same_website(ctx: Context, tmp_path: Path) -> None:
    ctx.writer.insert(
        "accounts", {"name": "Pizza One", "website": "https://www.facebook.com/pizzaoneqa"}
    )
    ctx.writer.insert("accounts", {"name": "Bare Page", "website": "facebook.com"})
    report = import_accounts(
        ctx,
        _csv(
            tmp_path / "shared.csv",
            [
                ["Bakery Two", "78701", "", "https://facebook.com/bakerytwoqa"],  # 2
                ["Salon Three", "80202", "", "https://sites.google.com/view/salonthree"],  # 3
                ["Garage Four", "33131", "", "https://sites.google.com/view/garagefour"],  # 4
                ["Shop Five", "98101", "", "https://shopfive.wixsite.com/home"],  # 5
                ["Shop Six", "98101", "", "https://shopsix.wixsite.com/home"],  # 6
                ["Only Facebook", "", "", "https://www.facebook.com/"],  # 7
                ["Pizza One", "", "", "https://m.facebook.com/PizzaOneQA/"],  # 8: Pizza One's
                ["Salon Three", "", "", "sites.google.com/view/salonthree/contact"],  # 9: line 3's
            ],
        ),
    )
    reasons = _reasons(report)
    assert sorted(reasons) == [8, 9]
    assert "existing account 'Pizza One' (same " in reasons[8]
    assert "line 3 (same website and name)" in reasons[9]
    assert report.imported == 6


def test_phone_and_website_are_read_once_per_row(
    ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validation reads the phone's digits and the website's domain; the duplicate keys use what
    it read (issue 14: they were read twice per row, once for each)."""
    from fieldrep.services.imports import validation

    calls = {"phone_digits": 0, "website_domain": 0}
    for name in calls:
        real = getattr(validation, name)

        def counted(text: str | None, _real: object = real, _name: str = name) -> str:
            calls[_name] += 1
            return _real(text)  # type: ignore[operator, no-any-return]

        monkeypatch.setattr(validation, name, counted)
    rows = [
        [f"Shop {i}", "02110", f"+1 617 555 {i:04d}", f"https://shop{i}.example.com/about"]
        for i in range(40)
    ]
    src = _csv(tmp_path / "shops.csv", [*rows, rows[0]])
    report = import_accounts(ctx, src)
    assert (report.imported, report.duplicates) == (40, 1)
    assert calls == {"phone_digits": 41, "website_domain": 41}
