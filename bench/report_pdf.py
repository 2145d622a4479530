"""The territory performance PDF for 500 territories (50 regions of 10), against a raw reportlab
table of the same cells.

FieldRep: ``write_report(report, "x.pdf")``: title page, the table split across landscape pages
with its header repeated, subtotal rows, notes, both charts as vector drawings, "Page x of y".
Baseline: the same cell texts in one reportlab LongTable (header repeated) on plain pages, and the
same two matplotlib charts as PNG pictures (Agg); no title page, no page numbers. Also printed: the
FieldRep PDF without its charts, to show what the tables and pages cost against what the vector
charts (matplotlib SVG read by svglib) cost. The report is built once (its time printed separately);
sides are interleaved; CPU time beside wall time.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fieldrep.reports.catalog import build_report
from fieldrep.reports.export import write_report
from fieldrep.reports.model import Report, cell_text
from fieldrep.reports.periods import parse_period
from fieldrep.services.context import Context

PERIOD = parse_period("2026-Q3")


def make_book(path: Path, regions: int, per_region: int) -> None:
    Context.open(path).close()
    conn = sqlite3.connect(path)
    rng = random.Random(5)
    stamp = "2026-01-01T00:00:00Z"
    rows_t, rows_a, rows_d, rows_q = [], [], [], []
    for r in range(regions):
        region = f"r{r:03d}"
        rows_t.append((region, f"Region {r + 1:02d}", None, "region", stamp))
        for t in range(per_region):
            tid = f"t{r:03d}{t:02d}"
            rows_t.append((tid, f"Territory {r + 1:02d}-{t + 1:02d}", region, "territory", stamp))
            if rng.random() < 0.9:
                rows_q.append(
                    (f"q{tid}", tid, "quarter", PERIOD.lo, rng.randint(50, 500) * 1000.0, stamp)
                )
            for a in range(20):
                aid = f"a{tid}{a:02d}"
                rows_a.append(
                    (aid, f"Account {aid}", rng.randint(1, 900) * 1000.0, tid, stamp, stamp)
                )
                for d in range(2):
                    day = PERIOD.start.toordinal() + rng.randrange(90)
                    rows_d.append(
                        (
                            f"d{aid}{d}",
                            aid,
                            tid,
                            rng.randint(1, 90) * 1000.0,
                            PERIOD.start.fromordinal(day).isoformat(),
                            stamp,
                        )
                    )
    conn.executemany(
        "INSERT INTO territories (id, name, parent_id, kind, created_at) VALUES (?, ?, ?, ?, ?)",
        rows_t,
    )
    conn.executemany(
        "INSERT INTO accounts (id, name, potential, territory_id, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        rows_a,
    )
    conn.executemany(
        "INSERT INTO deals (id, account_id, territory_id, amount, closed_on, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?)",
        rows_d,
    )
    conn.executemany(
        "INSERT INTO quotas (id, territory_id, period, period_start, target, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?)",
        rows_q,
    )
    conn.commit()
    conn.close()


def raw_pdf(report: Report, out: Path) -> None:
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import cm
    from reportlab.platypus import Image, LongTable, SimpleDocTemplate

    table = report.sections[0]
    data = [[c.header for c in table.columns]]
    data += [
        [cell_text(v, c) for v, c in zip(row, table.columns, strict=True)] for row in table.rows
    ]
    doc = SimpleDocTemplate(str(out), pagesize=landscape(A4))
    grid = LongTable(data, repeatRows=1)
    grid.setStyle([("FONT", (0, 0), (-1, -1), "Helvetica", 7)])
    story = [grid]
    for chart in report.charts:
        fig = Figure(figsize=(7.5, 4.2), dpi=150)
        FigureCanvasAgg(fig)
        chart.draw(fig)
        png = io.BytesIO()
        fig.savefig(png, format="png")
        png.seek(0)
        story.append(Image(png, width=18 * cm, height=10 * cm))
    doc.build(story)


def timed(fn: object, *args: object) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="50 territories")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="copy FieldRep's PDF here to look at it")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    regions = 5 if args.quick else 50
    make_book(tmp / "book.db", regions, 10)
    conn = sqlite3.connect(tmp / "book.db")
    built = time.perf_counter()
    report = build_report(conn, "territory-performance", PERIOD)
    build_s = time.perf_counter() - built
    mine: list[tuple[float, float]] = []
    base: list[tuple[float, float]] = []
    for n in range(2 if args.quick else args.rounds):
        order = ("ours", "raw") if n % 2 == 0 else ("raw", "ours")
        for name in order:
            if name == "ours":
                mine.append(timed(write_report, report, tmp / "ours.pdf"))
            else:
                base.append(timed(raw_pdf, report, tmp / "raw.pdf"))
    from dataclasses import replace

    bare = replace(report, charts=[])
    tables_only = statistics.median(
        timed(write_report, bare, tmp / "bare.pdf")[1] for _ in range(2)
    )
    from pypdf import PdfReader

    pages = len(PdfReader(tmp / "ours.pdf").pages)
    raw_pages = len(PdfReader(tmp / "raw.pdf").pages)
    if args.keep:
        args.keep.write_bytes((tmp / "ours.pdf").read_bytes())
    wall = statistics.median(w for w, _ in mine)
    cpu = statistics.median(c for _, c in mine)
    base_wall = statistics.median(w for w, _ in base)
    base_cpu = statistics.median(c for _, c in base)
    rows = len(report.sections[0].rows)
    print(
        f"{rows} rows ({regions * 10} territories in {regions} regions); report built in "
        f"{build_s:.2f} s"
    )
    print(f"FieldRep PDF: {pages} pages, wall {wall:.2f} s, cpu {cpu:.2f} s")
    print(
        f"raw reportlab table + PNG charts: {raw_pages} pages, wall {base_wall:.2f} s, "
        f"cpu {base_cpu:.2f} s"
    )
    print(f"FieldRep PDF without charts: cpu {tables_only:.2f} s")
    print(
        json.dumps(
            {
                "bench": "report_pdf",
                "territories": regions * 10,
                "pages": pages,
                "ratio": round(wall / base_wall, 3),
                "cpu_ratio": round(cpu / base_cpu, 3),
                "target": 2.0,
                "tables_only_cpu_s": round(tables_only, 3),
                "fieldrep_s": round(wall, 3),
                "raw_s": round(base_wall, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
