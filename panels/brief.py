"""/brief — the archive of daily briefs; /brief/<YYYY-MM-DD> — one brief as a printable page.

The page renders the stored content (the same the PDF was built from), so it reads as it was sent.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import dash
from dash import Input, Output, clientside_callback, html

from ioc import brief_queries
from ioc.i18n import format_number, format_time, t
from ioc.web import current_context, page_refusal, resolve_lang
from panels._brief import arrow

dash.register_page(__name__, path="/brief", name=t("nav.brief", "vi"), nav_key="nav.brief", order=30,
                   access="brief", title=f"{t('nav.brief', 'vi')} · {t('app.title', 'vi')}")


def _archive_rows(config, db, lang: str) -> list:
    tz = config.settings.brief.timezone
    rows = []
    for r in brief_queries.brief_archive(db).to_dict("records"):
        day = r["day"].isoformat()
        rows.append(html.Tr([
            html.Td(html.A(r["day"].strftime("%d/%m/%Y") if lang == "vi" else day,
                           href=f"/brief/{day}?lang={r['lang']}")),
            html.Td(r["lang"].upper()),
            html.Td(format_time(r["generated_at"], lang, tz)),
            html.Td(format_time(r["emailed_at"], lang, tz) if r["emailed_at"] is not None else "—"),
            html.Td(html.A(f"PDF · {format_number(r['pdf_bytes'] / 1024, lang, 0)} KB",
                           href=f"/brief/{day}.pdf?lang={r['lang']}", target="_blank")),
        ]))
    return rows


def layout(ui_lang: str | None = None, lang: str | None = None, **_query) -> html.Div:
    config, db = current_context()
    lang = resolve_lang(lang, ui_lang, config)
    if (refusal := page_refusal(__name__, lang)) is not None:
        return refusal
    rows = _archive_rows(config, db, lang) if db is not None else []
    head = html.Thead(html.Tr([html.Th(t(k, lang)) for k in
                               ("brief.col.day", "brief.col.lang", "brief.col.generated", "brief.col.emailed")]
                              + [html.Th("PDF")]))
    return html.Div([
        html.Div([html.H1(t("brief.archive", lang), className="page-title h4 mb-0")], className="page-head"),
        html.P(t("brief.archive_help", lang, at=config.settings.brief.at), className="text-body-secondary"),
        html.Table([head, html.Tbody(rows)], className="table table-sm brief-archive", id="brief-archive")
        if rows else html.P(t("brief.none", lang), id="brief-archive-empty"),
    ], className="brief-archive-page")


def _num_heads(keys: tuple[str, ...], lang: str) -> list[html.Th]:
    return [html.Th(t(k, lang), className="num") for k in keys]


def _change(text: str, tone: str) -> html.Span:
    symbol, css = arrow(tone)
    return html.Span([html.Span(symbol, className="brief-arrow", **{"aria-hidden": "true"}), text], className=css)


def _indicators(domain: dict[str, Any], content: dict[str, Any]) -> html.Table:
    lang = content["lang"]
    head = html.Thead(html.Tr([html.Th(t("brief.col.indicator", lang)),
                               html.Th(t("brief.col.figure_day", lang, date=content["date_text"][:5]),
                                       className="num"),
                               *_num_heads(("brief.col.vs_prev", "brief.col.vs_7d", "brief.col.vs_year"), lang),
                               html.Th(t("brief.col.assessment", lang))]))
    body = [html.Tr([
        html.Td([ind["label"], html.Small(ind["how_text"], className="brief-how")]),
        html.Td(html.Strong(ind["value_text"]), className="num"),
        html.Td(_change(ind["vs_day_text"], ind["change_day_tone"]), className="num"),
        html.Td(_change(ind["vs_base_text"], ind["change_baseline_tone"]), className="num"),
        html.Td(_change(ind["vs_year_text"], ind["change_year_tone"]), className="num"),
        html.Td(ind["status_text"], className=f"brief-status brief-status-{ind['status']}"),
    ], **{"data-metric": ind["metric"]}) for ind in domain["indicators"]]
    return html.Table([head, html.Tbody(body)], className="brief-table")


def _sentences(sentences: list[str], lang: str, **attrs) -> html.Ul:
    if not sentences:
        return html.Ul(html.Li(t("brief.quiet", lang), className="brief-quiet"), className="brief-sentences", **attrs)
    return html.Ul([html.Li(s) for s in sentences], className="brief-sentences", **attrs)


def _letterhead(content: dict[str, Any]) -> html.Div:
    """Decree 30/2020: the body reported to and the issuing body; the national motto; the place and date."""
    lang = content["lang"]
    return html.Div([
        html.Div([html.Div(content["authority"].upper()), html.Strong(content["issuer"].upper()),
                  html.Div(t("brief.number", lang))], className="brief-issuer"),
        html.Div([html.Strong(t("brief.nation", lang)), html.Strong(t("brief.motto", lang), className="brief-motto"),
                  html.Em(content["date_line"], className="brief-dateline")], className="brief-nation"),
    ], className="brief-letterhead")


def render(content: dict[str, Any]) -> html.Article:
    lang = content["lang"]
    day = content["date"]
    sec = content["sections"]
    domains = [html.Section([
        html.H3([f"{d['number']}. {d['name']}", html.Small(f" · {d['completeness_text']}",
                                                            className="brief-completeness")]),
        _sentences(d["sentences"], lang),
        _indicators(d, content),
    ], className="brief-domain", id=f"brief-{d['key']}") for d in content["domains"]]
    issues = html.Table([
        html.Thead(html.Tr([html.Th(t("brief.col.issue", lang)), html.Th(t("brief.col.agency", lang))])),
        html.Tbody([html.Tr([html.Td(f"{i}. {issue['text']}"), html.Td(issue["agency_text"])])
                    for i, issue in enumerate(content["issues"], start=1)]),
    ], className="brief-table brief-issues") if content["issues"] else html.P(t("brief.no_issues", lang))
    plan_rows = []
    for row in content["plan"]:
        for j, target in enumerate(row["targets"]):
            plan_rows.append(html.Tr([
                html.Td(row["label"] if j == 0 else ""),
                html.Td(html.Strong(row["value_text"]) if j == 0 else "", className="num"),
                html.Td(row["as_of_text"] if j == 0 else "", className="num"),
                html.Td(target["text"], className="num"),
                html.Td(html.Strong(target["progress_text"]), className="num"),
            ], className="brief-plan-first" if j == 0 else None))
    plan = html.Table([
        html.Thead(html.Tr([html.Th(t("brief.col.indicator", lang))] + _num_heads(
            ("brief.col.figure", "brief.col.as_of", "brief.col.target", "brief.col.progress"), lang))),
        html.Tbody(plan_rows)], className="brief-table brief-plan")
    closing = html.Div([
        html.Div([html.Strong(html.Em(t("brief.recipients", lang))),
                  html.Ul([html.Li(f"{r};") for r in content["recipients"]])], className="brief-recipients"),
        html.Div([html.Strong(content["issuer"].upper()),
                  html.Em(t("brief.signed_by_system", lang, time=content["generated_text"]))],
                 className="brief-signer"),
    ], className="brief-closing", id="brief-closing")
    return html.Article([
        html.Div([
            html.A(t("brief.pdf", lang), href=f"/brief/{day}.pdf?lang={lang}", target="_blank",
                   className="btn btn-sm btn-outline-secondary", id="brief-pdf"),
            html.Button(t("brief.print", lang), id="brief-print", className="btn btn-sm btn-outline-secondary"),
        ], className="brief-actions"),
        _letterhead(content),
        html.Header([html.Div(t("brief.kind", lang), className="brief-kind"),
                     html.H1(content["subject"], className="brief-title")], className="brief-head"),
        html.Section([html.H2(sec[0]), _sentences(content["summary"], lang, id="brief-summary")],
                     className="brief-summary"),
        html.Section([html.H2(sec[1]), *domains]),
        html.Section([html.H2(sec[2]), issues], className="brief-domain", id="brief-issues"),
        html.Section([html.H2(sec[3]), _sentences(content["data_notes"] or [t("brief.no_data_notes", lang)], lang)],
                     className="brief-domain", id="brief-data"),
        html.Section([html.H2(sec[4]), plan, html.P(t("brief.plan_note", lang), className="brief-note")],
                     className="brief-domain"),
        closing,
    ], className="brief", lang=lang)


def day_layout(day: str | None = None, ui_lang: str | None = None, lang: str | None = None, **_query) -> html.Div:
    config, db = current_context()
    lang = resolve_lang(lang, ui_lang, config)
    if (refusal := page_refusal("panels.brief_day", lang)) is not None:
        return refusal
    try:
        when = date.fromisoformat(day or "")
    except ValueError:
        return html.Div(t("brief.bad_date", lang), className="alert alert-warning", id="brief-missing")
    stored = brief_queries.brief(db, when, lang) if db is not None else None
    if stored is None:
        return html.Div([html.P(t("brief.missing_day", lang)), html.A(t("brief.archive", lang), href="/brief")],
                        className="alert alert-secondary", id="brief-missing")
    return html.Div(render(stored["content"]), className="brief-page")


dash.register_page("panels.brief_day", path_template="/brief/<day>", layout=day_layout, nav=False,
                   access="brief", title=f"{t('nav.brief', 'vi')} · {t('app.title', 'vi')}")

clientside_callback("function (n) { if (n) { window.print(); } return n; }",
                    Output("brief-print", "n_clicks"), Input("brief-print", "n_clicks"), prevent_initial_call=True)
