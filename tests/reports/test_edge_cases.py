"""The edge cases the issue names, on a hand-made book whose every figure is known."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fieldrep.reports.catalog import build_report
from fieldrep.reports.export import write_report
from fieldrep.reports.model import NA
from fieldrep.reports.periods import parse_period
from fieldrep.reports.scope import ScopeError

Q3 = parse_period("2026-Q3")


def rows_by_name(report_table: object) -> dict[str, dict[str, object]]:
    table = report_table
    keys = [c.key for c in table.columns]  # type: ignore[attr-defined]
    return {row[0]: dict(zip(keys, row, strict=True)) for row in table.rows}  # type: ignore[attr-defined]


def test_territory_performance_quota_currency_and_moved_referral(edge: sqlite3.Connection) -> None:
    report = build_report(edge, "territory-performance", Q3)
    table = report.sections[0]
    rows = rows_by_name(table)
    assert [r[0] for r in table.rows] == ["North", "Alpha", "Beta", "Gamma"]
    assert table.levels == [0, 1, 1, 1]
    assert table.subtotal_rows == {0}
    alpha, beta, gamma, north = rows["Alpha"], rows["Beta"], rows["Gamma"], rows["North"]
    assert alpha["sales:USD"] == 1000.0
    assert alpha["quota"] == 1500.0
    assert alpha["attainment"] == pytest.approx(1000 / 1500)
    assert beta["sales:USD"] == 250.0
    assert beta["sales:EUR"] == 700.0
    assert beta["quota"] == 1000.0
    assert beta["attainment"] == pytest.approx(0.25)
    assert gamma["quota"] is None
    assert gamma["attainment"] == NA
    assert north["sales:USD"] == 1550.0
    assert north["sales:EUR"] == 700.0
    assert north["quota"] == 2500.0
    assert north["attainment"] == pytest.approx(1550 / 2500)
    assert north["accounts"] == 6
    assert north["potential"] == 1000 + 2000 + 3000 + 1000 + 2000 + 1000
    # The moved referral counts in Beta, where it was at the end of September, not in Alpha.
    assert (alpha["received"], beta["received"], beta["won"], gamma["received"]) == (0, 1, 1, 1)
    assert any("moved between territories" in n and "1 of them" in n for n in table.notes)
    assert any("EUR" in n and "never added" in n for n in table.notes)
    assert table.totals()[table.index("sales:USD")] == 1550.0  # subtotals are not counted twice
    # At the end of July the referral was still in Alpha.
    july = rows_by_name(
        build_report(edge, "territory-performance", parse_period("2026-07")).sections[0]
    )
    assert (july["Alpha"]["received"], july["Beta"]["received"]) == (1, 0)


def test_rep_who_left_mid_period_is_listed_and_marked(edge: sqlite3.Connection) -> None:
    report = build_report(edge, "rep-activity", Q3)
    rows = rows_by_name(report.sections[0])
    assert set(rows) == {"Ann Lee", "Bob Roe (left)"}
    bob, ann = rows["Bob Roe (left)"], rows["Ann Lee"]
    assert (bob["status"], bob["visits"], bob["sales:USD"], bob["overdue"], bob["done"]) == (
        "left",
        1,
        250.0,
        0,
        1,
    )
    assert (ann["visits"], ann["covered"], ann["overdue"], ann["captured"]) == (2, 1, 1, 2)
    # In Q4 Bob did nothing and has left: he is not listed.
    later = rows_by_name(build_report(edge, "rep-activity", parse_period("2026-Q4")).sections[0])
    assert "Bob Roe (left)" not in later


def test_reward_payouts_keep_currencies_apart(edge: sqlite3.Connection) -> None:
    report = build_report(edge, "reward-payouts", Q3)
    recipients, yearly = report.sections
    assert recipients.totals() is None  # USD and EUR: no grand total
    by_currency = {r[1]: r for r in yearly.rows}
    assert by_currency["USD"][3:] == [0.0, 250.0, -50.0, 200.0]
    assert by_currency["EUR"][3:] == [100.0, 0.0, 0.0, 0.0]


def test_referral_programme_figures(edge: sqlite3.Connection) -> None:
    report = build_report(edge, "referral-programme", Q3)
    funnel, cohorts, sla, _top, roi = report.sections
    assert [r[1] for r in funnel.rows] == [2, 1, 1, 1, 1, 0]
    assert [r[:3] for r in cohorts.rows] == [["2026-07", 1, 1], ["2026-09", 1, 0]]
    assert cohorts.rows[0][6] == pytest.approx(50.0)  # 1 July -> 20 August
    assert [r[1] for r in sla.rows] == [2, 1, 0, 1, 0]
    assert roi.rows[0][:4] == ["USD", 5000.0, 200.0, 4800.0]
    assert roi.rows[0][4] == pytest.approx(24.0)


def test_empty_period_says_so_in_every_format(edge: sqlite3.Connection, tmp_path: Path) -> None:
    import openpyxl
    import pypdf

    report = build_report(edge, "territory-performance", parse_period("2019"))
    assert report.empty
    write_report(report, tmp_path / "e.csv")
    write_report(report, tmp_path / "e.xlsx")
    write_report(report, tmp_path / "e.pdf")
    assert "No data for 2019" in (tmp_path / "e.csv").read_text()
    book = openpyxl.load_workbook(tmp_path / "e.xlsx")
    texts = [c for row in book["About"].iter_rows(values_only=True) for c in row if c]
    assert any("No data for 2019" in str(t) for t in texts)
    text = "".join(p.extract_text() for p in pypdf.PdfReader(tmp_path / "e.pdf").pages)
    assert "No data for 2019" in text


def test_unknown_names_suggest_the_closest(edge: sqlite3.Connection) -> None:
    with pytest.raises(ScopeError, match="did you mean 'Alpha'"):
        build_report(edge, "territory-performance", Q3, territory="Alpah")
    with pytest.raises(ScopeError, match="did you mean 'ann'"):
        build_report(edge, "rep-activity", Q3, rep="anne")


def test_territory_subtree_and_rep_filters(edge: sqlite3.Connection) -> None:
    report = build_report(edge, "territory-performance", Q3, territory="Beta")
    assert [r[0] for r in report.sections[0].rows] == ["Beta"]
    assert "Beta" in report.scope
    mine = rows_by_name(build_report(edge, "territory-performance", Q3, rep="ann").sections[0])
    assert mine["Alpha"]["sales:USD"] == 1000.0
    assert mine["Beta"]["sales:USD"] == 0
    assert mine["Alpha"]["attainment"] == NA  # a rep's view shows no territory quota
