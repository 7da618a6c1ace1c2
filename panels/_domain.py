"""Pure parts of /domain/<domain> (panels/domain.py): the URL state checked against the config, the
domain views table, and frames → table rows and bar inputs. No I/O, tested alone.

Domain views are data, not code: VIEWS says which metric each domain watches and how ("sites": bars by
site, "areas": bars by area, "levels": each station against its own alarm levels, "map": the map sized by
a count), with an optional season (local months) and note.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from ioc import queries, status
from ioc.config import Config, Domain, Metric
from ioc.i18n import DASH, format_age, format_value, t, to_local
from ioc.status import worst as worst_status

from . import _drill
from ._components import SORT_BY_FIELD
from ._figures import STATUS_COLORS


@dataclass(frozen=True)
class View:
    metric: str
    show: str  # "sites" | "areas" | "levels" | "map"
    season: tuple[int, ...] = ()  # local months of the season; outside it the view says so
    note: str | None = None  # i18n key of a line under the view


LYCHEE_SEASON = (5, 6, 7)
VIEWS: dict[str, tuple[View, ...]] = {
    "health": (View("bed_occupancy", "sites"), View("outpatient_visits", "sites"), View("hfmd_cases", "areas")),
    "traffic": (View("congestion_index", "sites"), View("camera_online_rate", "sites"),
                View("road_accidents", "map")),
    "agriculture": (View("rainfall_24h", "areas"), View("river_level", "levels"), View("reservoir_level_pct", "sites"),
                    View("lychee_harvest", "areas", season=LYCHEE_SEASON),
                    View("lychee_price", "areas", season=LYCHEE_SEASON)),
    "education": (View("attendance_rate", "areas", note="domain.view.school_days"),),
    "security": (View("calls_113", "map"), View("security_incidents", "map"), View("dossiers_late", "sites")),
}
MAX_MULTIPLES = 8  # per-station charts in a "levels" view


# --- pure helpers -----------------------------------------------------------------------------

def domain_metrics(config: Config, domain: str) -> list[Metric]:
    return [m for m in config.catalog.metrics if m.domain == domain]


def default_metric(config: Config, domain: str) -> Metric:
    metrics = domain_metrics(config, domain)
    return next((m for m in metrics if m.headline), metrics[0])


def domain_entities(config: Config, domain: str, area: str) -> list[str]:
    return [e for e in config.area_entities(area) if config.entity_domain(e) == domain]


def has_site_levels(config: Config, metric: Metric, entities: list[str]) -> bool:
    return any(metric.key in config.entities[e].thresholds for e in entities)


@dataclass(frozen=True)
class State_:
    """The page's validated URL state; `notices` are i18n keys (with the bad value) to show."""
    domain: Domain
    area: str
    metric: Metric
    window: _drill.Window
    params: dict
    notices: tuple[tuple[str, str], ...]


def parse_state(config: Config, domain: str, area: str | None, metric: str | None, range_key: str | None,
                start: str | None, end: str | None, lang_param: str | None, now: datetime) -> State_ | None:
    """The URL's parameters checked against the config; None for an unknown domain."""
    d = config.domains.get(domain or "")
    if d is None or not domain_metrics(config, d.key):
        return None
    notices = []
    root = config.region.region.code
    if area and area not in config.areas:
        notices.append(("domain.unknown_area", area))
        area = None
    area = area or root
    chosen = config.metrics.get(metric or "")
    if metric and (chosen is None or chosen.domain != d.key):
        notices.append(("domain.unknown_metric", metric))
        chosen = None
    chosen = chosen or default_metric(config, d.key)
    tz = config.settings.ui.timezone
    window = _drill.parse_window(range_key, start, end, now, tz)
    if window.invalid and range_key:
        notices.append(("domain.bad_range", range_key))
    params = {"area": None if area == root else area,
              "metric": None if chosen.key == default_metric(config, d.key).key else chosen.key,
              **window.params(tz), "lang": lang_param if lang_param in ("vi", "en") else None}
    return State_(d, area, chosen, window, params, tuple(notices))


def site_bars(config: Config, sites: pd.DataFrame, metric: Metric, lang: str) -> pd.DataFrame:
    """Latest value of `metric` per site (stale ones grey), as bar_figure input."""
    mine = sites[sites["metric"] == metric.key]
    return pd.DataFrame({
        "key": list(mine["entity"]),
        "label": [config.entities[e].name.get(lang) for e in mine["entity"]],
        "value": mine["value"].astype(float).tolist(),
        "status": ["nodata" if stale else status for stale, status in zip(mine["stale"], mine["status"],
                                                                            strict=True)],
    }, columns=["key", "label", "value", "status"])


def area_bars(config: Config, sites: pd.DataFrame, metric: Metric, parent: str, lang: str) -> pd.DataFrame:
    """One bar per child area. A site-bound level (a river stage on its gauge's own datum) is never compared
    across sites: each area's bar is its worst site's distance to that site's own first alarm level, and
    its text names the site, its reading and where it stands (status.position_text)."""
    values = queries.area_values(config, sites, metric, parent)
    bars = pd.DataFrame({"key": values["area"], "label": [config.areas[c][0].name.get(lang) for c in values["area"]],
                         "value": values["value"], "status": values["status"]})
    if metric.across != "worst_site":
        return bars
    margins, texts = [], []
    for value, worst in zip(values["value"], values["worst"], strict=True):
        entity = config.entities.get(worst) if isinstance(worst, str) else None
        own = status.levels(metric, entity)
        if entity is None or own is None or value is None or value != value:
            margins.append(None)
            texts.append("")
            continue
        margins.append(float(value) - own.warning)
        texts.append(f"{entity.name.get(lang)} {format_value(float(value), metric.unit_text(lang), lang)} · "
                     f"{status.position_text(metric, float(value), entity, lang)}")
    return bars.assign(value=margins, text=texts)


def site_rows(config: Config, entities: list[str], sites: pd.DataFrame, metric: Metric, lang: str) -> list[dict]:
    """The sites table: one row per site of the domain in the area (name, area, kind, the metric's latest
    value, the worst status of its fresh readings, the age of its newest reading)."""
    unit = metric.unit_text(lang)
    status: dict[str, str] = {}
    values: dict[str, float] = {}
    ages: dict[str, float] = {}
    if not sites.empty:
        fresh = sites[~sites["stale"].astype(bool)]
        status = {e: worst_status(g) for e, g in fresh.groupby("entity")["status"]}
        mine = sites[sites["metric"] == metric.key]
        values = dict(zip(mine["entity"], mine["value"].astype(float), strict=True))
        ages = sites.groupby("entity")["age_s"].min().to_dict()
    rows = []
    for e in entities:
        entity = config.entities[e]
        value, age, worst = values.get(e), ages.get(e), status.get(e, "nodata")
        rows.append({
            "row_id": e, "name": entity.name.get(lang), "area": config.areas[entity.area][0].name.get(lang),
            "kind": config.kinds[entity.kind].name.get(lang),
            "value": format_value(value, unit, lang) if value is not None else DASH, "value_num": value,
            "status": worst, "status_label": t(f"status.{worst}", lang),
            "age": format_age(age, lang), "age_s": age,
        })
    return rows


def site_columns(metric: Metric, lang: str) -> list[dict]:
    def col(field, header, width, **more):
        return {"field": field, "headerName": header, "headerTooltip": header, "minWidth": width, **more}

    return [
        col("name", t("domain.col.name", lang), 200, flex=3, tooltipField="name", cellClass="drill-link"),
        col("area", t("domain.col.area", lang), 120, flex=2),
        col("kind", t("domain.col.kind", lang), 120, flex=2),
        col("value", metric.label.get(lang), 110, type="rightAligned", comparator={"function":
                                                                                  SORT_BY_FIELD.format("value_num")}),
        col("status_label", t("domain.col.status", lang), 100,
            cellClassRules={f"status-text-{s}": f"params.data.status === '{s}'" for s in STATUS_COLORS}),
        col("age", t("domain.col.age", lang), 100, comparator={"function": SORT_BY_FIELD.format("age_s")}),
    ]


def in_season(months: tuple[int, ...], when: datetime, tz: str) -> bool:
    return to_local(when, tz).month in months


