"""The brief as an A4 PDF (reportlab): embedded Be Vietnam Pro (Vietnamese diacritics), 8-day sparklines,
change arrows, page numbers and the time it was built. Built from the same stored content as the page."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from reportlab.graphics.shapes import Drawing, Line, PolyLine
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as pdfcanvas
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ioc.i18n import t

FONTS = Path(__file__).resolve().parent / "fonts"
REGULAR, BOLD = "BeVietnamPro", "BeVietnamPro-Bold"
INK, MUTED, RULE, BAND = colors.HexColor("#1b2631"), colors.HexColor("#5d6d7e"), colors.HexColor("#d5d8dc"), \
    colors.HexColor("#f4f6f7")
TONES = {"bad": colors.HexColor("#c0392b"), "good": colors.HexColor("#1e8449"), "neutral": MUTED}
STATUS = {"ok": colors.HexColor("#1e8449"), "warning": colors.HexColor("#b9770e"),
          "critical": colors.HexColor("#c0392b"), "nodata": MUTED}


def _register_fonts() -> None:
    if REGULAR not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(REGULAR, str(FONTS / "BeVietnamPro-Regular.ttf")))
        pdfmetrics.registerFont(TTFont(BOLD, str(FONTS / "BeVietnamPro-Bold.ttf")))
        pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD)


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=REGULAR, fontSize=8.5, leading=11, textColor=INK)
    return {
        "base": base,
        "title": ParagraphStyle("title", base, fontName=BOLD, fontSize=16, leading=20),
        "sub": ParagraphStyle("sub", base, textColor=MUTED, fontSize=8.5),
        "h2": ParagraphStyle("h2", base, fontName=BOLD, fontSize=11.5, leading=15, spaceBefore=8, spaceAfter=3),
        "bullet": ParagraphStyle("bullet", base, fontSize=9, leading=12, leftIndent=9, bulletIndent=0,
                                 spaceAfter=1.5),
        "cell": ParagraphStyle("cell", base, fontSize=8, leading=10),
        "cellr": ParagraphStyle("cellr", base, fontSize=8, leading=10, alignment=TA_RIGHT),
        "head": ParagraphStyle("head", base, fontName=BOLD, fontSize=7.5, leading=9, textColor=MUTED),
        "headr": ParagraphStyle("headr", base, fontName=BOLD, fontSize=7.5, leading=9, textColor=MUTED,
                                alignment=TA_RIGHT),
        "note": ParagraphStyle("note", base, fontSize=7.5, textColor=MUTED),
    }


class Change(Flowable):
    """A coloured triangle (up or down) and the signed change, on one line."""

    def __init__(self, text: str, tone: str, width: float):
        super().__init__()
        self.text, self.tone, self.width, self.height = text, tone, width, 9

    def draw(self) -> None:
        c = self.canv
        way, _, mood = self.tone.partition("-")
        colour = TONES.get(mood, MUTED)
        c.setFillColor(colour)
        if way == "up":
            path = c.beginPath()
            path.moveTo(0, 1), path.lineTo(6, 1), path.lineTo(3, 6.5), path.close()
            c.drawPath(path, stroke=0, fill=1)
        elif way == "down":
            path = c.beginPath()
            path.moveTo(0, 6.5), path.lineTo(6, 6.5), path.lineTo(3, 1), path.close()
            c.drawPath(path, stroke=0, fill=1)
        c.setFont(REGULAR, 8)
        c.setFillColor(colour if way in ("up", "down") else MUTED)
        c.drawString(9, 1, self.text)


def sparkline(history: list[list[Any]], width: float = 22 * mm, height: float = 7 * mm) -> Drawing:
    """The 8 daily values as a line, the last one marked; gaps where a day has no value."""
    drawing = Drawing(width, height)
    values = [v for _, v in history if v is not None]
    if not values:
        drawing.add(Line(0, height / 2, width, height / 2, strokeColor=RULE, strokeDashArray=[2, 2]))
        return drawing
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = width / max(1, len(history) - 1)
    points = [(i * step, 1.5 + (height - 3) * (v - low) / span) for i, (_, v) in enumerate(history) if v is not None]
    drawing.add(PolyLine([c for p in points for c in p], strokeColor=MUTED, strokeWidth=0.9))
    x, y = points[-1]
    drawing.add(PolyLine([x - 1.2, y, x + 1.2, y], strokeColor=INK, strokeWidth=2.4))
    return drawing


def _indicator_table(domain: dict[str, Any], s: dict[str, ParagraphStyle], lang: str) -> Table:
    head = [Paragraph(t(k, lang), s[style]) for k, style in
            (("brief.col.indicator", "head"), ("brief.col.value", "headr"), ("brief.col.vs_day", "head"),
             ("brief.col.vs_base", "head"), ("brief.col.status", "head"), ("brief.col.trend", "head"))]
    rows = [head]
    styles = []
    for i, ind in enumerate(domain["indicators"], start=1):
        rows.append([Paragraph(ind["label"], s["cell"]), Paragraph(f"<b>{ind['value_text']}</b>", s["cellr"]),
                     Change(ind["vs_day_text"], ind["vs_day_tone"], 26 * mm),
                     Change(ind["vs_base_text"], ind["vs_base_tone"], 26 * mm),
                     Paragraph(ind["status_text"], ParagraphStyle("st", s["cell"], textColor=STATUS[ind["status"]],
                                                                  fontName=BOLD)),
                     sparkline(ind["history"])])
        if i % 2 == 0:
            styles.append(("BACKGROUND", (0, i), (-1, i), BAND))
    table = Table(rows, colWidths=[54 * mm, 22 * mm, 28 * mm, 28 * mm, 27 * mm, 21 * mm], repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LINEBELOW", (0, 0), (-1, 0), 0.6, RULE),
                               ("TOPPADDING", (0, 0), (-1, -1), 2.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
                               ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                               *styles]))
    return table


def _simple_table(rows: list[list[Any]], widths: list[float], s: dict[str, ParagraphStyle]) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LINEBELOW", (0, 0), (-1, 0), 0.6, RULE),
                               ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                               ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                               *[("BACKGROUND", (0, i), (-1, i), BAND) for i in range(2, len(rows), 2)]]))
    return table


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def story(content: dict[str, Any]) -> list:
    lang = content["lang"]
    s = _styles()
    out: list = [Paragraph(_esc(content["title"]), s["title"]),
                 Paragraph(_esc(f"{t('app.title', lang)} · {t('app.subtitle', lang)} · {content['generated_text']}"),
                           s["sub"]),
                 Spacer(0, 4 * mm), Paragraph(t("brief.summary", lang), s["h2"])]
    for sentence in content["summary"] or [t("brief.quiet", lang)]:
        out.append(Paragraph(_esc(sentence), s["bullet"], bulletText="•"))
    for domain in content["domains"]:
        block = [Paragraph(f"{_esc(domain['name'])} <font size=8 color='#5d6d7e'>· "
                           f"{_esc(domain['completeness_text'])}</font>", s["h2"])]
        for sentence in domain["sentences"] or [t("brief.quiet", lang)]:
            block.append(Paragraph(_esc(sentence), s["bullet"], bulletText="•"))
        block += [Spacer(0, 1.5 * mm), _indicator_table(domain, s, lang)]
        out.append(KeepTogether(block))
    feed_rows = [[Paragraph(t("brief.col.feed", lang), s["head"])] + [Paragraph(t(k, lang), s["headr"]) for k in
                                                                      ("brief.col.received", "brief.col.expected",
                                                                       "brief.col.share")]]
    for f in content["feeds"]:
        feed_rows.append([Paragraph(_esc(f["feed"]), s["cell"]), Paragraph(f["received_text"], s["cellr"]),
                          Paragraph(f["expected_text"], s["cellr"]),
                          Paragraph(f"<b>{_esc(f['pct_text'])}</b>", s["cellr"])])
    out.append(KeepTogether([Paragraph(t("brief.completeness", lang), s["h2"]),
                             _simple_table(feed_rows, [90 * mm, 30 * mm, 30 * mm, 30 * mm], s)]))
    plan_rows = [[Paragraph(t("brief.col.indicator", lang), s["head"])] + [Paragraph(t(k, lang), s["headr"]) for k in
                                                                           ("brief.col.figure", "brief.col.as_of",
                                                                            "brief.col.target", "brief.col.progress")]]
    for row in content["plan"]:
        for j, target in enumerate(row["targets"]):
            first = j == 0
            plan_rows.append([Paragraph(_esc(row["label"]) if first else "", s["cell"]),
                              Paragraph(f"<b>{_esc(row['value_text'])}</b>" if first else "", s["cellr"]),
                              Paragraph(row["as_of_text"] if first else "", s["cellr"]),
                              Paragraph(_esc(target["text"]), s["cellr"]),
                              Paragraph(f"<b>{_esc(target['progress_text'])}</b>", s["cellr"])])
    out.append(KeepTogether([Paragraph(t("brief.plan", lang), s["h2"]),
                             _simple_table(plan_rows, [72 * mm, 24 * mm, 24 * mm, 38 * mm, 22 * mm], s),
                             Spacer(0, 1.5 * mm), Paragraph(t("brief.plan_note", lang), s["note"])]))
    return out


def render(content: dict[str, Any]) -> bytes:
    """The PDF bytes of a brief's content."""
    _register_fonts()
    lang = content["lang"]
    footer_left = f"{t('app.title', lang)} · {content['title']}"
    footer_mid = content["generated_text"]

    class NumberedCanvas(pdfcanvas.Canvas):
        """Holds pages until the end so that each footer can say 'page n of N'."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self) -> None:  # noqa: N802 (reportlab's API)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                self.setFont(REGULAR, 7)
                self.setFillColor(MUTED)
                self.setStrokeColor(RULE)
                self.line(15 * mm, 12 * mm, A4[0] - 15 * mm, 12 * mm)
                self.drawString(15 * mm, 8 * mm, footer_left)
                self.drawCentredString(A4[0] / 2 + 20 * mm, 8 * mm, footer_mid)
                self.drawRightString(A4[0] - 15 * mm, 8 * mm, t("brief.page", lang, n=number, total=total))
                super().showPage()
            super().save()

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=14 * mm,
                            bottomMargin=18 * mm, title=content["title"], author=t("app.title", lang),
                            subject=content["generated_text"], lang=lang)
    doc.build(story(content), canvasmaker=NumberedCanvas)
    return buffer.getvalue()
