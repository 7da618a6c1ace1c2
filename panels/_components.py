"""Component builders: overview rows → Dash components. Pure, no I/O, tested alone.

Stable hooks for browser tests and CSS:
- domain card: id {"type": "domain-card", "domain": key}, class `domain-card`, attribute data-domain
- tile: class `metric-tile status-<status>` (+ `stale`), attributes data-metric, data-status, data-stale;
  children `tile-label`, `tile-value` (number and unit), `tile-status`, `tile-age`, `stale-badge`
The status itself is computed once, by ioc.queries (the overview frame's `status` column).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import dash_ag_grid as dag
from dash import ClientsideFunction, Input, Output, State, clientside_callback, dcc, html

from ioc import status as ioc_status
from ioc.config import Config, Domain, Metric
from ioc.i18n import AG_GRID_VI, DASH, format_age, format_value, normalize_lang, t
from ioc.status import worst as worst_status

from ._figures import GRAPH_CONFIG

STATUSES = ("ok", "warning", "critical", "nodata")


def _field(row: Any, key: str, default: Any = None) -> Any:
    """row[key] for a dict, a pandas Series or None; NaN/NaT/None give `default`."""
    if row is None:
        return default
    try:
        value = row[key]
    except (KeyError, IndexError, TypeError):
        return default
    if value is None:
        return default
    try:
        if value != value:  # NaN, NaT
            return default
    except (TypeError, ValueError):
        pass
    return value


def _status(row: Any) -> str:
    status = _field(row, "status", "nodata")
    if status not in STATUSES:
        return "nodata"
    value = _field(row, "value")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nodata"
    return status


class FailureLog:
    """Logs once when a page's data source starts failing and once when it recovers — not every refresh."""

    def __init__(self, page: str):
        self.log, self.page, self.failing = logging.getLogger(f"panels.{page}"), page, {}

    def note(self, what: str, exc: BaseException | None) -> None:
        if exc is not None and not self.failing.get(what):
            self.log.error("%s: %s failed: %s", self.page, what, exc, exc_info=exc)
            self.failing[what] = True
        elif exc is None and self.failing.get(what):
            self.log.info("%s: %s recovered", self.page, what)
            self.failing[what] = False


def text(value: Any, limit: int = 4000) -> str:
    """A form field's value as text. A browser sends a string (or nothing) for a text field; anything
    else — a crafted callback request — counts as empty rather than failing the callback."""
    return value.strip()[:limit] if isinstance(value, str) else ""


def selected(rows: Any, key: str) -> str | None:
    """The `key` of an AG Grid's first selected row, or None (also when the rows are not what a grid sends)."""
    if isinstance(rows, list) and rows and isinstance(rows[0], dict) and isinstance(rows[0].get(key), str | int):
        return str(rows[0][key])
    return None


def reason(config: Config, row: Any, metric: Metric, lang: str) -> str:
    """Why a combined figure has its colour when one part decides it, in words: the worst site (or
    district) with its value and where it stands against its own levels — "Worst: Phu Lang Thuong gauge
    4.8 m · 0.5 m below alarm level 1". Said for worst-site metrics always, for others when that part is not normal."""
    worst, kind, value = _field(row, "worst"), _field(row, "worst_kind"), _field(row, "worst_value")
    if worst is None or value is None:
        return ""
    if metric.across != "worst_site" and _field(row, "worst_status") not in ("warning", "critical"):
        return ""
    entity = config.entities.get(worst) if kind == "site" else None
    if entity is not None:
        name = entity.name.get(lang)
    elif worst in config.areas:
        name = config.areas[worst][0].name.get(lang)
    else:
        return ""
    bad = _field(row, "worst_status") in ("warning", "critical")
    said = t("tile.worst" if bad else "tile.closest", lang, name=name,
             value=format_value(float(value), metric.unit_text(lang), lang))
    where = ioc_status.position_text(metric, float(value), entity, lang)
    return f"{said} · {where}" if where else said


def tile_rows(config: Config, frame: Any, lang: str) -> dict[str, dict]:
    """The rows of a queries.overview frame keyed by metric, each with its `reason` (see `reason`)."""
    rows = {}
    if frame is None or len(frame) == 0:
        return rows
    for row in frame.to_dict("records"):
        metric = config.metrics.get(row["metric"])
        if metric is not None:
            row["reason"] = reason(config, row, metric, lang)
            rows[row["metric"]] = row
    return rows


def banded(metric: Metric, row: Any, status_text: str, lang: str) -> tuple[str, dict]:
    """A banded index's words and colour (VN_AQI: its six bands), else the status's words and no style."""
    band = ioc_status.band_of(metric, _field(row, "value")) if _status(row) != "nodata" else None
    if band is None:
        return status_text, {}
    return band.label(lang), {"--band-color": band.color}


def status_badge(status: str, lang: str) -> html.Span:
    return html.Span(ioc_status.status_label(status, lang), className=f"badge status-badge status-{status}")


def _unbroken(value_text: str) -> list:
    """A tile's figure as its number and its unit, each kept on one line: a narrow tile may put the unit under
    the number, never split it ("cases/we" + "ek")."""
    number, _, unit = value_text.partition(" ")
    parts: list = [html.Span(number, className="nowrap")]
    return parts + [" ", html.Span(unit, className="tile-unit nowrap")] if unit else parts


def metric_tile(row: Any, metric: Metric, lang: str | None = "vi") -> html.Div:
    """One headline metric: label, value with unit, status colour, age, and a stale badge when stale.

    `row` is one row of ioc.queries.overview() (a Series or a dict) or None when the metric has no row.
    """
    lang = normalize_lang(lang)
    status = _status(row)
    value = _field(row, "value")
    stale = bool(_field(row, "stale", False)) and value is not None
    age_s = _field(row, "age_s")
    entities = int(_field(row, "entities", 0) or 0)
    stale_entities = int(_field(row, "stale_entities", 0) or 0)

    classes = ["metric-tile", f"status-{status}"]
    if stale:
        classes.append("stale")

    head = [html.Span(metric.label.get(lang), className="tile-label")]

    # no value: the status already says "no data"
    age_text = DASH if value is None else f"{t('tile.updated', lang)} {format_age(age_s, lang)}"
    status_text, style = banded(metric, row, ioc_status.status_label(status, lang), lang)
    if style:
        classes.append("banded")
    # A stale tile says so where its status would be: a badge in the head pushed long labels onto three
    # lines and the foot over the number.
    foot = [
        html.Span(t("tile.stale", lang), className="badge stale-badge", role="status") if stale
        else html.Span(status_text, className="tile-status"),
        html.Span(age_text, className="tile-age"),
    ]
    why = _field(row, "reason", "")
    sources = [html.Span(why, className="tile-reason", title=why)] if why else []
    if entities:
        if stale_entities:
            text = t("tile.stale_sources", lang, n=stale_entities, total=entities)
            sources.append(html.Span(text, className="tile-sources tile-sources-late"))
        else:
            sources.append(html.Span(t("tile.sources", lang, n=entities), className="tile-sources"))

    return html.Div(
        [
            html.Div(head, className="tile-head"),
            html.Div(_unbroken(format_value(value, metric.unit_text(lang), lang)), className="tile-value"),
            html.Div(foot, className="tile-foot"),
            *sources,
        ],
        className=" ".join(classes),
        title=metric.label.get(lang),
        style=style,
        **{
            "data-metric": metric.key,
            "data-status": status,
            "data-stale": "true" if stale else "false",
        },
    )


def domain_tiles(metrics: list[Metric], rows: Mapping[str, Any], lang: str | None = "vi") -> list:
    """Tiles for the domain's headline metrics, in catalog order; a note when there are none."""
    if not metrics:
        return [html.Div(t("overview.no_metrics", lang), className="tile-empty text-body-secondary")]
    return [metric_tile(rows.get(m.key), m, lang) for m in metrics]


def domain_summary(metrics: list[Metric], rows: Mapping[str, Any]) -> str:
    """The worst status among the domain's headline metrics."""
    return worst_status(_status(rows.get(m.key)) for m in metrics)


def domain_card_class(status: str) -> str:
    return f"card domain-card domain-status-{status}"


def domain_card(
    domain: Domain,
    metrics: list[Metric],
    rows: Mapping[str, Any],
    lang: str | None = "vi",
    figure: Any = None,
    chart_note: str = "",
) -> html.Div:
    """A card for one domain: its name, a summary badge, the headline tiles and one live chart.

    Pattern-matching ids (type + domain key) let one callback refresh every card: domain-card,
    domain-status, domain-tiles, domain-chart.
    """
    lang = normalize_lang(lang)
    key = domain.key
    summary = domain_summary(metrics, rows)
    body: list = [html.Div(domain_tiles(metrics, rows, lang), id={"type": "domain-tiles", "domain": key},
                           className="tile-grid")]
    if metrics:
        chart_metric = metrics[0]
        body.append(
            html.Div(
                [
                    html.Div(
                        [
                            html.Span(chart_metric.label.get(lang), className="chart-title"),
                            html.Span(chart_note, className="chart-note text-body-secondary"),
                        ],
                        className="chart-head",
                    ),
                    dcc.Graph(
                        id={"type": "domain-chart", "domain": key},
                        figure=figure if figure is not None else {},
                        config=GRAPH_CONFIG,
                        className="domain-chart",
                    ),
                ],
                className="chart-box",
                **{"data-metric": chart_metric.key},
            )
        )
    return html.Div(
        [
            html.Div(
                [
                    html.H2(dcc.Link(domain.name.get(lang), href=f"/domain/{key}",
                                     className="domain-title-link"), className="domain-title h5 mb-0"),
                    html.Div(status_badge(summary, lang), id={"type": "domain-status", "domain": key},
                             className="domain-status"),
                ],
                className="card-header domain-card-header",
            ),
            html.Div(body, className="card-body"),
        ],
        id={"type": "domain-card", "domain": key},
        className=domain_card_class(summary),
        **{"data-domain": key},
    )


# A page whose data refreshes by itself says so when the refreshes stop (server gone, network cut), so
# that the last numbers on an unattended screen never pass for current ones. The page's refresh callback
# writes the time into `<page>-heartbeat`; the browser-side watchdog (assets/20-ioc.js) does the rest.
OFFLINE_AFTER_PERIODS = 3


def watchdog(page: str, refresh_ms: int, lang: str, base_class: str, heartbeat: float) -> list:
    """The stores and the 1 s interval of a page's offline watchdog (see register_watchdog)."""
    units = {"d": t("unit.day", lang), "h": t("unit.hour", lang), "m": t("unit.minute", lang),
             "s": t("unit.second", lang)}
    cfg = {"page": page, "refresh_ms": refresh_ms, "periods": OFFLINE_AFTER_PERIODS, "base": base_class,
           "units": units, "text": t("wall.offline.duration", lang)}
    return [dcc.Store(id=f"{page}-heartbeat", data=heartbeat), dcc.Store(id=f"{page}-watchdog-cfg", data=cfg),
            dcc.Interval(id=f"{page}-watchdog", interval=1000)]


def register_watchdog(page: str, root_id: str, text_id: str) -> None:
    """Toggle `offline` on `root_id` and write how long into `text_id` (call once, at the page's import)."""
    clientside_callback(
        ClientsideFunction("ioc", "watchdog"),
        Output(root_id, "className"), Output(text_id, "children"),
        Input(f"{page}-watchdog", "n_intervals"), Input(f"{page}-heartbeat", "data"),
        State(f"{page}-watchdog-cfg", "data"),
    )


# Headers wrap onto a second line rather than being cut ("Trạng…" told an officer nothing).
GRID_DEFAULTS = {"sortable": True, "filter": True, "resizable": True, "flex": 1, "wrapHeaderText": True,
                 "autoHeaderHeight": True}

def grid_locale(lang: str | None, empty_text: str | None = None) -> dict:
    """dashGridOptions entries putting an AG Grid in the page's language (and its empty-table message)."""
    words = dict(AG_GRID_VI) if normalize_lang(lang) == "vi" else {}
    if empty_text:
        words["noRowsToShow"] = empty_text
    return {"localeText": words}
# Sort a displayed text (a local time, a formatted number) by a raw field of the row instead.
SORT_BY_FIELD = "(a, b, nodeA, nodeB) => (nodeA.data.{0} ?? -1e308) - (nodeB.data.{0} ?? -1e308)"


def data_grid(grid_id: Any, rows: list[dict], columns: list[dict], empty_text: str, file_name: str,
              row_id: str = "params.data.row_id", class_name: str = "", height: str = "340px",
              row_class_rules: dict | None = None, selected: str | None = None, lang: str | None = None,
              **options: Any) -> dag.AgGrid:
    """An AG Grid table as every page uses it: sortable, filterable, resizable columns, single-row click
    selection, an empty-table message in the page's language, CSV export named `file_name` (a button's
    callback sets exportDataAsCsv=True)."""
    return dag.AgGrid(
        id=grid_id, rowData=rows, columnDefs=columns, getRowId=row_id, defaultColDef=GRID_DEFAULTS,
        rowClassRules=row_class_rules or {}, selectedRows={"ids": [selected]} if selected else [],
        dashGridOptions={"rowSelection": {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True},
                         "tooltipShowDelay": 300, "animateRows": False, **grid_locale(lang, empty_text),
                         **options},
        csvExportParams={"fileName": file_name}, className=class_name, style={"height": height})
