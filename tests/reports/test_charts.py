"""Chart builders render with Agg and draw what the rows say."""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fieldrep.reports.charts import BAD, GOOD, NEUTRAL, attainment_bars, balance_bars, coverage_bars
from fieldrep.services.territories.kpis import KpiRow


def rows() -> list[KpiRow]:
    return [
        KpiRow("a", "North", accounts=10, sales=120, quota=100, visited=5),
        KpiRow("b", "South", accounts=4, sales=10, quota=100, visited=0),
        KpiRow("c", "West", accounts=0),
    ]


def test_attainment_bars(tmp_path: Path) -> None:
    fig = Figure(figsize=(5, 3))
    FigureCanvasAgg(fig)
    attainment_bars(fig, rows())
    ax = fig.axes[0]
    widths = [p.get_width() for p in ax.patches]
    assert widths == [120.0, 10.0, 0.0]
    colours = [p.get_facecolor() for p in ax.patches]
    from matplotlib.colors import to_rgba

    assert colours == [to_rgba(GOOD), to_rgba(BAD), to_rgba(NEUTRAL)]
    assert [t.get_text() for t in ax.texts] == [" 120%", " 10%", " no quota"]
    fig.savefig(tmp_path / "a.png")
    assert (tmp_path / "a.png").stat().st_size > 1000


def test_coverage_and_balance_bars() -> None:
    fig = Figure()
    FigureCanvasAgg(fig)
    coverage_bars(fig, rows(), days=30)
    assert [p.get_height() for p in fig.axes[0].patches] == [50.0, 0.0, 0.0]
    assert "30 days" in fig.axes[0].get_title()
    balance_bars(fig, ["A", "B"], [10, 30], [20, 20], "accounts")
    assert len(fig.axes) == 1
    assert [p.get_height() for p in fig.axes[0].patches] == [10, 30, 20, 20]
    fig.canvas.draw()


def test_balance_bars_today_only_with_thousands() -> None:
    fig = Figure()
    FigureCanvasAgg(fig)
    balance_bars(fig, ["A", "B"], [12_000, 30_000], None, "hours")
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == [12_000, 30_000]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["now"]
    fig.canvas.draw()
    assert any("," in t.get_text() for t in ax.get_yticklabels())
