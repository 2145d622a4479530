"""Chart builders (matplotlib object API, Qt-free): they fill a ``Figure`` the caller owns.

The desktop wraps the figure in a FigureCanvasQTAgg; reports and tests render it with Agg.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from fieldrep.services.territories.kpis import KpiRow

GOOD, WARN, BAD, NEUTRAL = "#59a14f", "#edc948", "#e15759", "#bab0ac"


def _colour(share: float | None) -> str:
    if share is None:
        return NEUTRAL
    return GOOD if share >= 1.0 else WARN if share >= 0.8 else BAD


def attainment_bars(fig: Figure, rows: Sequence[KpiRow], title: str = "Quota attainment") -> None:
    """Horizontal bars of sales / quota per row, a line at 100 %; rows without quota in grey."""
    fig.clear()
    ax = fig.add_subplot()
    names = [r.name for r in rows]
    values = [(r.attainment or 0.0) * 100 for r in rows]
    colours = [_colour(r.attainment) for r in rows]
    ax.barh(names, values, color=colours)
    ax.axvline(100, color="#4e79a7", linewidth=1, linestyle="--")
    for y, r in enumerate(rows):
        label = f"{r.attainment:.0%}" if r.attainment is not None else "no quota"
        ax.text((r.attainment or 0.0) * 100, y, f" {label}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("% of sales quota")
    ax.set_title(title, fontsize=10)
    ax.set_xlim(0, max([110.0, *[v * 1.15 for v in values]]))
    fig.tight_layout()


def coverage_bars(fig: Figure, rows: Sequence[KpiRow], days: int = 90) -> None:
    """Share of accounts visited in the last ``days`` days, per row."""
    fig.clear()
    ax = fig.add_subplot()
    names = [r.name for r in rows]
    values = [(r.coverage or 0.0) * 100 for r in rows]
    ax.bar(names, values, color="#76b7b2")
    ax.set_ylabel("% of accounts visited")
    ax.set_title(f"Coverage: accounts visited in the last {days} days", fontsize=10)
    ax.set_ylim(0, max([10.0, *[v * 1.2 for v in values]]))
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    fig.tight_layout()


def balance_bars(
    fig: Figure,
    names: Sequence[str],
    before: Sequence[float],
    after: Sequence[float] | None,
    measure: str,
) -> None:
    """Workload per territory before and after a balancing proposal, side by side.

    With ``after=None`` only today's workload is drawn (the analysis before any proposal).
    """
    fig.clear()
    ax = fig.add_subplot()
    xs = range(len(names))
    if after is None:
        ax.bar(list(xs), before, 0.6, label="now", color="#4e79a7")
    else:
        width = 0.4
        ax.bar([x - width / 2 for x in xs], before, width, label="now", color="#bab0ac")
        ax.bar([x + width / 2 for x in xs], after, width, label="proposed", color="#4e79a7")
    ax.set_xticks(list(xs), list(names), rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(
        {"accounts": "accounts", "potential": "potential", "hours": "visit hours / year"}.get(
            measure, measure
        )
    )
    ax.set_title(f"Workload per territory ({measure})", fontsize=10)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax.legend(fontsize=8)
    fig.tight_layout()


def cohort_conversion_bars(fig: Figure, cohorts: dict[str, dict[str, float]]) -> None:
    """Referrals created per cohort month (grey) and those won (green), the rate over each."""
    fig.clear()
    ax = fig.add_subplot()
    months = list(cohorts)
    xs = list(range(len(months)))
    width = 0.4
    made = [cohorts[m]["referrals"] for m in months]
    won = [cohorts[m]["won"] for m in months]
    ax.bar([x - width / 2 for x in xs], made, width, label="referred", color=NEUTRAL)
    ax.bar([x + width / 2 for x in xs], won, width, label="won", color=GOOD)
    for x, m in zip(xs, months, strict=True):
        ax.text(
            x,
            cohorts[m]["referrals"],
            f"{cohorts[m]['rate']:.0%}",
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_xticks(xs, months, rotation=45 if len(months) > 4 else 0, fontsize=8)
    ax.set_ylabel("referrals")
    ax.set_title("Conversion by cohort month", fontsize=10)
    ax.set_ylim(0, max([1.0, *[v * 1.25 for v in made]]))
    if not months:
        ax.set_yticks([])
        ax.text(
            0.5,
            0.5,
            "no referrals in this period",
            ha="center",
            va="center",
            transform=ax.transAxes,
            color="#777777",
        )
    else:
        ax.legend(fontsize=8)
    fig.tight_layout()


def top_referrer_bars(
    fig: Figure, names: Sequence[str], referred: Sequence[int], won: Sequence[int]
) -> None:
    """The top referrers: referrals made and won, the best at the top."""
    fig.clear()
    ax = fig.add_subplot()
    ys = list(range(len(names)))
    ax.barh([y - 0.2 for y in ys], referred, 0.4, label="referred", color="#4e79a7")
    ax.barh([y + 0.2 for y in ys], won, 0.4, label="won", color=GOOD)
    ax.set_yticks(ys, list(names), fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("referrals")
    ax.set_title("Top referrers", fontsize=10)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if not names:
        ax.set_xticks([])
        ax.text(
            0.5,
            0.5,
            "no referrers in this period",
            ha="center",
            va="center",
            transform=ax.transAxes,
            color="#777777",
        )
    else:
        ax.legend(fontsize=8)
    fig.tight_layout()
