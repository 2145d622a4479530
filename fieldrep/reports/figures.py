"""Chart builders for reports (matplotlib object API, Qt-free): each fills a Figure the caller owns.

Values that cannot be computed ("n/a", None) are drawn as an empty bar labelled "n/a", never as 0 %.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

GOOD, WARN, BAD, NEUTRAL, BLUE = "#59a14f", "#edc948", "#e15759", "#bab0ac", "#4e79a7"
_MAX_BARS = 40


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _empty(fig: Figure, title: str) -> None:
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, "No data in this period", ha="center", va="center", color="#666666")
    ax.set_title(title, fontsize=10)


def _trim(names: Sequence[str], values: Sequence[Any]) -> tuple[list[str], list[Any], str]:
    """At most ``_MAX_BARS`` bars (the largest), saying how many were left out."""
    pairs = list(zip(names, values, strict=True))
    if len(pairs) <= _MAX_BARS:
        return list(names), list(values), ""
    pairs.sort(key=lambda p: _number(p[1]) or 0.0, reverse=True)
    kept = pairs[:_MAX_BARS]
    return [p[0] for p in kept], [p[1] for p in kept], f" (top {_MAX_BARS} of {len(pairs)})"


def share_bars(
    fig: Figure,
    names: Sequence[str],
    shares: Sequence[Any],
    title: str,
    xlabel: str,
    *,
    target: float | None = None,
) -> None:
    """Horizontal bars of shares (0.25 = 25 %), coloured against ``target``; n/a in grey."""
    fig.clear()
    if not names:
        _empty(fig, title)
        return
    names, shares, more = _trim(names, shares)
    ax = fig.add_subplot()
    values = [(_number(s) or 0.0) * 100 for s in shares]
    colours = []
    for s in shares:
        n = _number(s)
        if n is None:
            colours.append(NEUTRAL)
        elif target is None:
            colours.append(BLUE)
        else:
            colours.append(GOOD if n >= target else WARN if n >= 0.8 * target else BAD)
    ax.barh(list(names), values, color=colours)
    if target is not None:
        ax.axvline(target * 100, color=BLUE, linewidth=1, linestyle="--")
    for y, s in enumerate(shares):
        n = _number(s)
        label = f" {n:.0%}" if n is not None else " n/a"
        ax.text((n or 0.0) * 100, y, label, va="center", fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.xaxis.set_major_formatter(PercentFormatter())
    ax.set_title(title + more, fontsize=10)
    ax.set_xlim(0, max([110.0, *[v * 1.18 for v in values]]))
    ax.tick_params(axis="y", labelsize=7)
    fig.set_layout_engine("tight")  # again at every size the canvas takes


def value_bars(
    fig: Figure, names: Sequence[str], values: Sequence[Any], title: str, *, colour: str = BLUE
) -> None:
    """Horizontal bars of amounts or counts."""
    fig.clear()
    if not names or not any(_number(v) for v in values):
        _empty(fig, title)
        return
    names, values, more = _trim(names, values)
    ax = fig.add_subplot()
    numbers = [_number(v) or 0.0 for v in values]
    ax.barh(list(names), numbers, color=colour)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax.set_title(title + more, fontsize=10)
    ax.tick_params(axis="y", labelsize=7)
    fig.set_layout_engine("tight")  # again at every size the canvas takes


def funnel(fig: Figure, stages: Sequence[str], counts: Sequence[int], title: str) -> None:
    """A funnel drawn as centred horizontal bars, the count and share of the first stage on each."""
    fig.clear()
    if not counts or not counts[0]:
        _empty(fig, title)
        return
    ax = fig.add_subplot()
    top = max(counts)
    lefts = [(top - c) / 2 for c in counts]
    ax.barh(list(stages), list(counts), left=lefts, color=BLUE)
    for y, c in enumerate(counts):
        ax.text(
            top / 2,
            y,
            f"{c:,} ({c / counts[0]:.0%})",
            ha="center",
            va="center",
            color="white" if c > top * 0.25 else "black",
            fontsize=8,
        )
    ax.invert_yaxis()
    ax.set_xticks([])
    ax.set_title(title, fontsize=10)
    fig.set_layout_engine("tight")  # again at every size the canvas takes


def columns_over_time(
    fig: Figure,
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    title: str,
    *,
    percent: bool = False,
    stacked: bool = False,
) -> None:
    """Columns per period label, one colour per series (side by side or stacked)."""
    fig.clear()
    if not labels or not any(any(v for v in s) for s in series.values()):
        _empty(fig, title)
        return
    ax = fig.add_subplot()
    palette = [BLUE, "#f28e2b", GOOD, BAD, "#76b7b2", "#b07aa1", "#9c755f", "#ff9da7"]
    xs = list(range(len(labels)))
    count = max(1, len(series))
    width = 0.8 if stacked else 0.8 / count
    bottom = [0.0] * len(labels)
    for i, (name, values) in enumerate(series.items()):
        vals = [float(v) * (100 if percent else 1) for v in values]
        if stacked:
            ax.bar(xs, vals, width, bottom=bottom, label=name, color=palette[i % len(palette)])
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        else:
            offset = (i - (count - 1) / 2) * width
            ax.bar([x + offset for x in xs], vals, width, label=name, color=palette[i % 8])
    step = max(1, len(labels) // 14)
    ax.set_xticks(xs[::step], list(labels)[::step], rotation=45, ha="right", fontsize=7)
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter())
    if len(series) > 1:
        ax.legend(fontsize=7, ncols=min(4, len(series)))
    ax.set_title(title, fontsize=10)
    fig.set_layout_engine("tight")  # again at every size the canvas takes


def sparkline(fig: Figure, values: Sequence[float], *, colour: str = BLUE) -> None:
    """A bare line for a KPI tile: no axes, the last point marked."""
    fig.clear()
    fig.set_layout_engine("none")
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    if not values:
        return
    xs = list(range(len(values)))
    ax.plot(xs, list(values), color=colour, linewidth=1.5)
    ax.fill_between(xs, list(values), min(values), color=colour, alpha=0.15)
    ax.plot([xs[-1]], [values[-1]], "o", color=colour, markersize=3)
