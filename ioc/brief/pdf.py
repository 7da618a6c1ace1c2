"""The brief as an A4 PDF (reportlab) in the layout of an administrative report (Decree 30/2020/NĐ-CP): the
letterhead, numbered sections, the tables of each sector with change arrows, "Nơi nhận" and the signing body.
Every font is the embedded Be Vietnam Pro (Vietnamese diacritics), bullets included. Built from the same stored
content as the page."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as pdfcanvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from ioc.i18n import t

FONTS = Path(__file__).resolve().parent / "fonts"
REGULAR, BOLD = "BeVietnamPro", "BeVietnamPro-Bold"
INK, MUTED, RULE, BAND = colors.HexColor("#1b2631"), colors.HexColor("#5d6d7e"), colors.HexColor("#d5d8dc"), \
    colors.HexColor("#f4f6f7")
TONES = {"bad": colors.HexColor("#c0392b"), "good": colors.HexColor("#1e8449"), "neutral": MUTED}
# Table cells that are not paragraphs are drawn in the table's font: reportlab's default is a non-embedded Helvetica.
FONT = [("FONTNAME", (0, 0), (-1, -1), REGULAR)]
STATUS = {"ok": colors.HexColor("#1e8449"), "warning": colors.HexColor("#b9770e"),
          "critical": colors.HexColor("#c0392b"), "nodata": MUTED, "none": MUTED,
          "no_school": MUTED}


def _register_fonts() -> None:
    if REGULAR not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(REGULAR, str(FONTS / "BeVietnamPro-Regular.ttf")))
        pdfmetrics.registerFont(TTFont(BOLD, str(FONTS / "BeVietnamPro-Bold.ttf")))
        pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD)


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=REGULAR, fontSize=8.5, leading=11, textColor=INK, bulletFontName=REGULAR)
    return {
        "base": base,
        "title": ParagraphStyle("title", base, fontName=BOLD, fontSize=14, leading=18, alignment=TA_CENTER),
        "subtitle": ParagraphStyle("subtitle", base, fontSize=11, leading=14, alignment=TA_CENTER),
        "centre": ParagraphStyle("centre", base, fontSize=8.5, leading=11, alignment=TA_CENTER),
        "centre_small": ParagraphStyle("centre_small", base, fontSize=7.5, leading=10, alignment=TA_CENTER,
                                       textColor=MUTED),
        "small": ParagraphStyle("small", base, fontSize=7.5, leading=9.5),
        "h1": ParagraphStyle("h1", base, fontName=BOLD, fontSize=11, leading=14, spaceBefore=8, spaceAfter=3),
        "sub": ParagraphStyle("sub", base, textColor=MUTED, fontSize=8.5),
        "h2": ParagraphStyle("h2", base, fontName=BOLD, fontSize=11.5, leading=15, spaceBefore=8, spaceAfter=3),
        # bulletFontName: reportlab's default is a non-embedded Helvetica
        "bullet": ParagraphStyle("bullet", base, fontSize=9, leading=12, leftIndent=9, bulletIndent=0,
                                 spaceAfter=1.5, bulletFontName=REGULAR),
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
        size = 8.0  # shrunk to fit the column ("+6 ca/tuần" and the like)
        while size > 5.5 and pdfmetrics.stringWidth(self.text, REGULAR, size) > self.width - 12:
            size -= 0.5
        c.setFont(REGULAR, size)
        c.setFillColor(colour if way in ("up", "down") else MUTED)
        c.drawString(9, 1, self.text)


_CHANGES = (("vs_day_text", "change_day_tone", "brief.col.vs_prev"), ("vs_base_text", "change_baseline_tone",
                                                                      "brief.col.vs_7d"),
            ("vs_year_text", "change_year_tone", "brief.col.vs_year"))


def _indicator_table(domain: dict[str, Any], s: dict[str, ParagraphStyle], content: dict[str, Any]) -> Table:
    lang = content["lang"]
    head = [Paragraph(t("brief.col.indicator", lang), s["head"]),
            Paragraph(t("brief.col.figure_day", lang, date=content["date_text"][:5]), s["headr"]),
            *[Paragraph(t(key, lang), s["head"]) for _, _, key in _CHANGES],
            Paragraph(t("brief.col.assessment", lang), s["head"])]
    rows = [head]
    styles = []
    for i, ind in enumerate(domain["indicators"], start=1):
        rows.append([Paragraph(f"{_esc(ind['label'])}<br/><font size=6.5 color='#5d6d7e'>{_esc(ind['how_text'])}"
                               "</font>", s["cell"]),
                     Paragraph(f"<b>{_esc(ind['value_text'])}</b>", s["cellr"]),
                     *[Change(ind[text], ind[tone_key], 27 * mm) for text, tone_key, _ in _CHANGES],
                     Paragraph(ind["status_text"], ParagraphStyle("st", s["cell"], textColor=STATUS[ind["status"]],
                                                                  fontName=BOLD))])
        if i % 2 == 0:
            styles.append(("BACKGROUND", (0, i), (-1, i), BAND))
    table = Table(rows, colWidths=[50 * mm, 26 * mm, 27 * mm, 27 * mm, 27 * mm, 23 * mm], repeatRows=1,
                  hAlign="LEFT")
    table.setStyle(TableStyle([*FONT, ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LINEBELOW", (0, 0), (-1, 0), 0.6, RULE),
                               ("TOPPADDING", (0, 0), (-1, -1), 2.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
                               ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                               *styles]))
    return table


def _simple_table(rows: list[list[Any]], widths: list[float], s: dict[str, ParagraphStyle]) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle([*FONT, ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LINEBELOW", (0, 0), (-1, 0), 0.6, RULE),
                               ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                               ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                               *[("BACKGROUND", (0, i), (-1, i), BAND) for i in range(2, len(rows), 2)]]))
    return table


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _letterhead(content: dict[str, Any], s: dict[str, ParagraphStyle]) -> Table:
    """Decree 30/2020 header: the body reported to and the issuing body (left), the national motto and the
    place and date line (right)."""
    lang = content["lang"]
    left = [Paragraph(_esc(content["authority"].upper()), s["centre"]),
            Paragraph(f"<b>{_esc(content['issuer'].upper())}</b>", s["centre"]),
            Spacer(0, 3), Paragraph(t("brief.number", lang), s["centre"])]
    right = [Paragraph(f"<b>{t('brief.nation', lang)}</b>", s["centre"]),
             Paragraph(f"<b><u>{t('brief.motto', lang)}</u></b>", s["centre"]), Spacer(0, 3),
             Paragraph(f"<i>{_esc(content['date_line'])}</i>", s["centre"])]
    table = Table([[left, right]], colWidths=[82 * mm, 98 * mm], hAlign="CENTER")
    table.setStyle(TableStyle([*FONT, ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    return table


def story(content: dict[str, Any]) -> list:
    lang = content["lang"]
    s = _styles()
    sec = content["sections"]
    out: list = [_letterhead(content, s), Spacer(0, 6 * mm),
                 Paragraph(t("brief.kind", lang), s["title"]),
                 Paragraph(f"<b>{_esc(content['subject'])}</b>", s["subtitle"]), Spacer(0, 4 * mm),
                 Paragraph(sec[0], s["h1"])]
    for sentence in content["summary"]:
        out.append(Paragraph(_esc(sentence), s["bullet"], bulletText="-"))
    out.append(Paragraph(sec[1], s["h1"]))
    for domain in content["domains"]:
        block = [Paragraph(f"{domain['number']}. {_esc(domain['name'])} <font size=8 color='#5d6d7e'>· "
                           f"{_esc(domain['completeness_text'])}</font>", s["h2"])]
        for sentence in domain["sentences"]:
            block.append(Paragraph(_esc(sentence), s["bullet"], bulletText="-"))
        # A domain may run onto the next page (its table repeats its header) so that no half page is left
        # blank; its heading and sentences stay together, and start on a new page only near the bottom.
        out += [CondPageBreak(55 * mm), KeepTogether(block), Spacer(0, 1.5 * mm), _indicator_table(domain, s, content)]
    out.append(Paragraph(sec[2], s["h1"]))
    if content["issues"]:
        rows = [[Paragraph(t("brief.col.issue", lang), s["head"]), Paragraph(t("brief.col.agency", lang), s["head"])]]
        rows += [[Paragraph(f"{i}. {_esc(issue['text'])}", s["cell"]), Paragraph(_esc(issue["agency_text"]), s["cell"])]
                 for i, issue in enumerate(content["issues"], start=1)]
        out.append(_simple_table(rows, [130 * mm, 50 * mm], s))
    else:
        out.append(Paragraph(t("brief.no_issues", lang), s["bullet"], bulletText="-"))
    out.append(Paragraph(sec[3], s["h1"]))
    for sentence in content["data_notes"] or [t("brief.no_data_notes", lang)]:
        out.append(Paragraph(_esc(sentence), s["bullet"], bulletText="-"))
    plan_rows = [[Paragraph(t("brief.col.indicator", lang), s["head"])] + [Paragraph(t(k, lang), s["headr"]) for k in
                                                                           ("brief.col.figure", "brief.col.as_of",
                                                                            "brief.col.target", "brief.col.progress")]]
    for row in content["plan"]:
        for j, target in enumerate(row["targets"]):
            first = j == 0
            plan_rows.append([Paragraph(_esc(row["label"]) if first else "", s["cell"]),
                              Paragraph(f"<b>{_esc(row['value_text'])}</b>" if first else "", s["cellr"]),
                              Paragraph(_esc(row["as_of_text"]) if first else "", s["cellr"]),
                              Paragraph(_esc(target["text"]), s["cellr"]),
                              Paragraph(f"<b>{_esc(target['progress_text'])}</b>", s["cellr"])])
    out.append(KeepTogether([Paragraph(sec[4], s["h1"]),
                             _simple_table(plan_rows, [72 * mm, 24 * mm, 24 * mm, 38 * mm, 22 * mm], s),
                             Spacer(0, 1.5 * mm), Paragraph(t("brief.plan_note", lang), s["note"])]))
    recipients = [Paragraph(f"<b><i>{t('brief.recipients', lang)}</i></b>", s["small"])]
    recipients += [Paragraph(f"- {_esc(r)};", s["small"]) for r in content["recipients"]]
    signer = [Paragraph(f"<b>{_esc(content['issuer'].upper())}</b>", s["centre"]), Spacer(0, 2 * mm),
              Paragraph(f"<i>{_esc(t('brief.signed_by_system', lang, time=content['generated_text']))}</i>",
                        s["centre_small"])]
    closing = Table([[recipients, signer]], colWidths=[90 * mm, 90 * mm], hAlign="CENTER")
    closing.setStyle(TableStyle([*FONT, ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    out += [Spacer(0, 6 * mm), KeepTogether([closing])]
    return out


def render(content: dict[str, Any]) -> bytes:
    """The PDF bytes of a brief's content."""
    _register_fonts()
    lang = content["lang"]
    footer_left = f"{content['short_name']} · {content['title']}"
    footer_right = content["generated_text"]

    class NumberedCanvas(pdfcanvas.Canvas):
        """Holds pages until the end so that each footer can say 'page n of N'."""

        def __init__(self, *args, **kwargs):
            kwargs["initialFontName"] = REGULAR  # reportlab's default, Helvetica, is not embedded
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
                self.drawRightString(A4[0] - 15 * mm, 8 * mm,
                                     f"{footer_right} · {t('brief.page', lang, n=number, total=total)}")
                super().showPage()
            super().save()

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=14 * mm,
                            bottomMargin=18 * mm, title=content["title"], author=content["issuer"],
                            subject=content["generated_text"], lang=lang)
    doc.build(story(content), canvasmaker=NumberedCanvas)
    return buffer.getvalue()
