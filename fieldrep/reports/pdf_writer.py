"""A report as PDF (reportlab): a title page (team, period, scope, when, notes), then each section
as a table that splits across pages with its header repeated, the charts as vector drawings
(matplotlib's SVG read by svglib), and "Page x of y" on every page. Text stays text: searchable and
copyable. Wide tables go on landscape pages in a smaller type. Pictures the caller rendered (the
territory map, :attr:`Report.images`) follow on landscape pages of their own.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from fieldrep.reports.model import Chart, Report, ReportImage, Table, cell_text, is_numeric

EVERY = 500


def _styles() -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet

    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("t", parent=base["Title"], fontSize=24, leading=30, spaceAfter=18),
        "h1": ParagraphStyle(
            "h1", parent=base["Heading2"], spaceBefore=6, spaceAfter=6, keepWithNext=1
        ),
        "body": base["BodyText"],
        "meta": ParagraphStyle("meta", parent=base["BodyText"], fontSize=12, leading=18),
        "note": ParagraphStyle(
            "note", parent=base["BodyText"], fontSize=8, leading=10, textColor="#555555"
        ),
        "cell": ParagraphStyle("cell", parent=base["BodyText"], fontSize=7, leading=8.5),
        "empty": ParagraphStyle(
            "empty", parent=base["BodyText"], fontSize=14, leading=20, textColor="#a33"
        ),
    }


def _numbered_canvas(label: str) -> Any:
    from reportlab.pdfgen import canvas

    class NumberedCanvas(canvas.Canvas):  # type: ignore[misc]  # reportlab has no types
        """Keeps each page's state until the end so every page can say "Page x of y"."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                width, _height = self._pagesize
                self.setFont("Helvetica", 8)
                self.setFillColorRGB(0.35, 0.35, 0.35)
                self.drawString(36, 20, label)
                self.drawRightString(width - 36, 20, f"Page {self._pageNumber} of {total}")
                super().showPage()
            super().save()

    return NumberedCanvas


def _svg_drawing(chart: Chart, width: float) -> Any:
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure
    from svglib.svglib import svg2rlg

    fig = Figure(figsize=chart.size())
    FigureCanvasSVG(fig)
    chart.draw(fig)
    data = io.BytesIO()
    # Text as text (not paths) keeps the chart's labels searchable in the PDF.
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(data, format="svg")
    data.seek(0)
    drawing = svg2rlg(data)
    if drawing is None:
        return None
    scale = width / drawing.width
    drawing.width, drawing.height = drawing.width * scale, drawing.height * scale
    drawing.scale(scale, scale)
    return drawing


def _table_flowables(table: Table, styles: dict[str, Any], width: float, step: Any) -> list[Any]:
    from reportlab.lib import colors
    from reportlab.platypus import LongTable, Paragraph, TableStyle

    columns = table.columns
    weights = [max(6, min(c.width, 36)) for c in columns]
    scale = width / sum(weights)
    widths = [w * scale for w in weights]
    font = 7 if len(columns) <= 10 else 6
    cell = styles["cell"].clone("c", fontSize=font, leading=font + 1.5)
    head = cell.clone("h", fontName="Helvetica-Bold")
    data: list[list[Any]] = [[Paragraph(escape(c.header), head) for c in columns]]
    for index, row in enumerate(table.rows):
        if step is not None and index % EVERY == 0:
            step(index, len(table.rows), f"Laying out {table.title}")
        level = table.levels[index] if table.levels else 0
        out: list[Any] = []
        for i, (value, column) in enumerate(zip(row, columns, strict=True)):
            text = cell_text(value, column)
            if i == 0:
                text = "\u00a0\u00a0\u00a0" * level + text
                out.append(Paragraph(escape(text), head if index in table.subtotal_rows else cell))
            else:
                out.append(text)
        data.append(out)
    totals = table.totals()
    if totals is not None:
        data.append([cell_text(v, c) for v, c in zip(totals, columns, strict=True)])
    style = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", font),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde4ee")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.HexColor("#4e79a7")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f4f6f9")]),
    ]
    for i, column in enumerate(columns):
        if is_numeric(column):
            style.append(("ALIGN", (i, 1), (i, -1), "RIGHT"))
    for index in table.subtotal_rows:
        style.append(("FONT", (1, index + 1), (-1, index + 1), "Helvetica-Bold", font))
    if totals is not None:
        style.append(("FONT", (0, -1), (-1, -1), "Helvetica-Bold", font))
        style.append(("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black))
    grid = LongTable(data, colWidths=widths, repeatRows=1)
    grid.setStyle(TableStyle(style))
    flow: list[Any] = [Paragraph(escape(table.title), styles["h1"]), grid]
    for note in table.notes:
        flow.append(Paragraph(escape(note), styles["note"]))
    return flow


def _image_flowables(
    picture: ReportImage, styles: dict[str, Any], width: float, height: float
) -> list[Any]:
    """The picture under its title, as large as the frame allows at its own proportions."""
    from reportlab.lib.units import cm
    from reportlab.lib.utils import ImageReader
    from reportlab.platypus import Image, Paragraph

    reader = ImageReader(io.BytesIO(picture.png))
    px_w, px_h = reader.getSize()
    room_h = height - 2.5 * cm  # the title and the caption
    scale = min(width / px_w, room_h / px_h)
    flow: list[Any] = [
        Paragraph(escape(picture.title), styles["h1"]),
        Image(io.BytesIO(picture.png), width=px_w * scale, height=px_h * scale),
    ]
    if picture.caption:
        flow.append(Paragraph(escape(picture.caption), styles["note"]))
    return flow


def write_pdf(report: Report, path: Path, *, step: Any = None) -> None:
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import cm
    from reportlab.platypus import (
        BaseDocTemplate,
        Frame,
        KeepTogether,
        NextPageTemplate,
        PageBreak,
        PageTemplate,
        Paragraph,
        Spacer,
    )

    styles = _styles()
    margin = 1.5 * cm
    portrait_w, portrait_h = A4
    land_w, land_h = landscape(A4)
    doc = BaseDocTemplate(
        str(path),
        pagesize=A4,
        title=f"{report.title} — {report.period.label}",
        author="FieldRep",
        subject=report.subtitle(),
    )
    doc.addPageTemplates(
        [
            PageTemplate(
                "portrait",
                [Frame(margin, margin, portrait_w - 2 * margin, portrait_h - 2 * margin)],
                pagesize=A4,
            ),
            PageTemplate(
                "landscape",
                [Frame(margin, margin, land_w - 2 * margin, land_h - 2 * margin)],
                pagesize=landscape(A4),
            ),
        ]
    )
    story: list[Any] = [
        Spacer(1, 5 * cm),
        Paragraph(escape(report.title), styles["title"]),
        Paragraph(f"<b>Team:</b> {escape(report.team)}", styles["meta"]),
        Paragraph(
            f"<b>Period:</b> {escape(report.period.label)} ({report.period.start.isoformat()} to "
            f"{report.period.last_day.isoformat()})",
            styles["meta"],
        ),
        Paragraph(f"<b>Scope:</b> {escape(report.scope)}", styles["meta"]),
        Paragraph(
            f"<b>Generated at:</b> {report.generated_at.strftime('%Y-%m-%d %H:%M')}", styles["meta"]
        ),
        Spacer(1, 1 * cm),
    ]
    if report.empty:
        story.append(Paragraph(escape(report.empty_message), styles["empty"]))
    for note in report.notes:
        story.append(Paragraph(escape(note), styles["body"]))
    if not report.empty:
        orientation = None  # the title page's: every first section starts a page
        for table in report.sections:
            wide = len(table.columns) > 8
            if orientation != wide:
                # A new page only where the orientation changes; short sections share pages.
                story.append(NextPageTemplate("landscape" if wide else "portrait"))
                story.append(PageBreak())
                orientation = wide
            else:
                story.append(Spacer(1, 0.6 * cm))
            width = (land_w if wide else portrait_w) - 2 * margin
            story += _table_flowables(table, styles, width, step)
        if report.charts:
            story.append(NextPageTemplate("portrait"))
            story.append(PageBreak())
            for number, chart in enumerate(report.charts):
                if step is not None:
                    step(number, len(report.charts), f"Drawing {chart.title}")
                drawing = _svg_drawing(chart, portrait_w - 2 * margin)
                if drawing is not None:
                    # The title stays with its chart, never alone at the foot of a page.
                    heading = Paragraph(escape(chart.title), styles["h1"])
                    story.append(KeepTogether([heading, drawing, Spacer(1, 0.5 * cm)]))
    for picture in report.images:
        story.append(NextPageTemplate("landscape"))
        story.append(PageBreak())
        story += _image_flowables(picture, styles, land_w - 2 * margin, land_h - 2 * margin)
    label = f"{report.title} · {report.period.label} · {report.scope}"
    doc.build(story, canvasmaker=_numbered_canvas(label))
