"""The one place that judges a value: its status, its colour and words, its band, and its age.

Every page (tiles, map, tables, charts' threshold lines), the brief and the default alert rules ask this
module, so that a tile, a map area and /alerts never disagree about the same reading.

- One severity scale, mildest first: SEVERITY = nodata < ok < warning < critical; `worst` picks the
  most severe. `STATUS_COLORS` and `status_label` are the one status → colour / words mapping.
- `status_for(metric, value, entity, scope, area)` judges one figure by the metric's semantics
  (ioc.config.Metric): a site against its own levels (a river gauge's BĐ1/BĐ3), an area or the province
  against levels declared for that scope, scaled per population when the catalog says so.
- `figure(...)` combines sites into an area or province figure by the metric's `across` and judges it; a
  figure wider than its levels' scope is as bad as its worst part, and says which part that is.
- `band_of` gives banded indices their official bands (VN_AQI: the six of Decision 1459/QĐ-TCMT).
- `stale_after` and `feed_silence_allowed`: how old a value (or how long a feed's silence) may be,
  from the cadences of the metrics (a feed's own `stale_after` can only lengthen it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ioc import holidays
from ioc.config import SCOPES, Config, Entity, FeedSpec, Metric, Thresholds
from ioc.i18n import format_number, t
from ioc.vn_aqi import BANDS as VN_AQI_BANDS

# --- severity, colours, words -----------------------------------------------------------------

SEVERITY: tuple[str, ...] = ("nodata", "ok", "warning", "critical")  # mildest first
RANK: dict[str, int] = {status: i for i, status in enumerate(SEVERITY)}

STATUS_COLORS: dict[str, str] = {
    "ok": "#198754",
    "warning": "#e0a100",
    "critical": "#dc3545",
    "nodata": "#6c757d",
}


def status_label(status: str, lang: str) -> str:
    """The words for a status ("Cảnh báo" / "Warning")."""
    return t(f"status.{status}", lang)


def worst(statuses: Iterable[str]) -> str:
    """The most severe of the statuses (critical > warning > ok > nodata); 'nodata' when empty."""
    return max(statuses, key=RANK.__getitem__, default="nodata")


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def judge(value: float | None, thresholds: Thresholds | None) -> str:
    """'ok', 'warning' or 'critical' against these levels (inclusive); 'nodata' for a missing value."""
    if _missing(value):
        return "nodata"
    if thresholds is None:
        return "ok"
    sign = 1 if thresholds.direction == "above" else -1
    if sign * (value - thresholds.critical) >= 0:
        return "critical"
    if sign * (value - thresholds.warning) >= 0:
        return "warning"
    return "ok"


def severity_position(value: float, thresholds: Thresholds) -> float:
    """How far toward danger a value is: 0 at the warning level, 1 at critical (negative: below warning).
    Ranks sites on different datums against each other (the worst gauge is the one furthest up its own
    scale, not the one with the highest number)."""
    span = (thresholds.critical - thresholds.warning) or 1.0
    sign = 1 if thresholds.direction == "above" else -1
    return sign * (value - thresholds.warning) / abs(span)


# --- levels and scopes --------------------------------------------------------------------------

def levels(metric: Metric, entity: Entity | None = None) -> Thresholds | None:
    """The levels that judge `metric`: the entity's own where it has them (a gauge's BĐ1/BĐ3), else the
    catalog's. Default alert rules take their warning/critical from here."""
    return metric.thresholds_for(entity) if entity is not None else metric.thresholds


def _population(config: Config, area: str | None) -> int | None:
    code = area or config.region.region.code
    return config.areas[code][0].population if code in config.areas else None


def status_for(metric: Metric, value: float | None, entity: Entity | None = None, scope: str = "site",
               population: int | None = None) -> str:
    """The status of one figure of `metric` at `scope` (site, area or province).

    A site is judged against its own levels; an area or the province against the catalog's levels when
    they are declared for that scope (or per population: the figure is scaled by `population` first).
    A figure that its levels do not apply to is not judged by them ('ok'); `figure()` judges wider
    figures by their worst part instead."""
    if _missing(value):
        return "nodata"
    th = levels(metric, entity if scope == "site" else None)
    if th is None:
        return "ok"
    if th.per_population:
        if not population:
            return "ok"
        return judge(value / population * th.per_population, th)
    if th.scope != scope:
        return "ok"
    return judge(value, th)


def chart_levels(metric: Metric, scope: str = "site", entity: Entity | None = None,
                 population: int | None = None) -> Thresholds | None:
    """The levels a chart of `metric` at `scope` may draw as lines: a site's own; those declared for this
    scope (scaled to `population` when per population); a single site's levels on a wider chart only when
    the line still means something for the combined figure (a max, min or mean — never a sum, which ten
    districts' worth of calls would cross every day)."""
    th = levels(metric, entity if scope == "site" else None)
    if th is None:
        return None
    if th.per_population:
        if not population:
            return None
        factor = population / th.per_population
        return th.model_copy(update={"warning": th.warning * factor, "critical": th.critical * factor})
    if th.scope == scope:
        return th
    if th.scope == "site" and metric.across in ("mean", "weighted_mean", "max", "min"):
        return th
    return None


# --- combining sites into a figure --------------------------------------------------------------

@dataclass(frozen=True)
class Figure:
    """An area's or the province's figure of one metric: its value (by `across`), its status, and when the
    status comes from a part — a site or a child area —, which part, its value and status."""

    value: float
    status: str
    worst: str | None = None        # entity id (worst_kind 'site') or area code (worst_kind 'area')
    worst_kind: str | None = None
    worst_value: float | None = None
    worst_status: str | None = None


def combine(metric: Metric, values: Sequence[float], weights: Sequence[float] | None = None) -> float:
    """Sites' values combined by the metric's `across` (NaN when there are none). `worst_site` needs
    the site's levels: use `figure`."""
    if not len(values):
        return float("nan")
    if metric.across == "weighted_mean" and weights is not None and sum(weights) > 0:
        return float(sum(v * w for v, w in zip(values, weights, strict=True)) / sum(weights))
    if metric.aggregation == "sum":
        return float(sum(values))
    if metric.aggregation == "max":
        return float(max(values))
    if metric.aggregation == "min":
        return float(min(values))
    return float(sum(values) / len(values))


def _weights(config: Config, metric: Metric, entities: Sequence[str]) -> list[float] | None:
    if metric.weight is None:
        return None
    return [float(config.entities[e].attrs.get(metric.weight, 0) or 0) for e in entities]


def _site_rank(config: Config, metric: Metric, entity: str, value: float) -> tuple[int, float]:
    own = levels(metric, config.entities[entity])
    status = status_for(metric, value, config.entities[entity], "site")
    return RANK[status], severity_position(value, own) if own else value


def figure(config: Config, metric: Metric, readings: Mapping[str, float], area: str | None = None) -> Figure:
    """The figure of `metric` for `area` (None: the province) from its sites' readings {entity: value}
    (fresh ones: the caller leaves stale readings out), combined and judged by the metric's semantics."""
    root = config.region.region.code
    area = area or root
    scope = "province" if area == root else "area"
    readings = {e: float(v) for e, v in readings.items() if not _missing(v) and e in config.entities}
    if not readings:
        return Figure(float("nan"), "nodata")
    th = metric.thresholds
    ranked = {e: _site_rank(config, metric, e, v) for e, v in readings.items()}
    worst_site = max(ranked, key=ranked.__getitem__)
    if metric.across == "worst_site":
        value = readings[worst_site]
    else:
        entities = list(readings)
        value = combine(metric, [readings[e] for e in entities], _weights(config, metric, entities))
    if th is None:
        return Figure(value, "ok")
    if th.per_population or th.scope == scope:
        return Figure(value, status_for(metric, value, None, scope, _population(config, area)))
    if SCOPES.index(th.scope) > SCOPES.index(scope):
        return Figure(value, "ok")  # levels for the province do not judge one area's figure
    if th.scope == "site":
        # Levels for a single site: the figure is as bad as its worst site, judged by that site's own levels.
        site_status = status_for(metric, readings[worst_site], config.entities[worst_site], "site")
        return Figure(value, site_status, worst_site, "site", readings[worst_site], site_status)
    # Levels for an area, figure for the province: the worst child area.
    parts = []
    for child in config.child_areas(area):
        inside = set(config.area_entities(child.code))
        members = {e: v for e, v in readings.items() if e in inside}
        if members:
            part = figure(config, metric, members, child.code)
            parts.append((RANK[part.status], part.value if th.direction == "above" else -part.value, child.code,
                          part))
    if not parts:
        return Figure(value, "ok")
    _, _, code, part = max(parts, key=lambda p: (p[0], p[1]))
    return Figure(value, part.status, code, "area", part.value, part.status)


# --- bands (banded indices) ---------------------------------------------------------------------

@dataclass(frozen=True)
class Band:
    key: str
    low: float
    high: float
    vi: str
    en: str
    color: str

    def label(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


# The official bands of an index, by metric key. VN_AQI: Table 1 of Decision 1459/QĐ-TCMT (12 Nov 2019);
# the integer index's upper edges (50, 100, …) belong to the lower band.
BANDS: dict[str, tuple[Band, ...]] = {
    "vn_aqi": tuple(Band(b.key, b.low, b.high, b.vi, b.en, _hex(b.rgb)) for b in VN_AQI_BANDS),
}


def band_of(metric: Metric | str, value: float | None) -> Band | None:
    """The official band of a banded index's value (VN_AQI 51–100 'Trung bình', yellow); None for other
    metrics or a missing value."""
    bands = BANDS.get(metric if isinstance(metric, str) else metric.key)
    if not bands or _missing(value):
        return None
    rounded = math.floor(value + 0.5)  # the index is published as a whole number
    for band in bands:
        if rounded <= band.high:
            return band
    return bands[-1]


def color_for(metric: Metric, value: float | None, status: str) -> str:
    """The colour a value is drawn in: its band's for banded indices, else its status's."""
    band = band_of(metric, value)
    return band.color if band and status != "nodata" else STATUS_COLORS[status]


# --- explaining a figure ------------------------------------------------------------------------

_RIVER_LEVELS = ("bd1", "bd2", "bd3")  # a river gauge's alarm levels (báo động 1–3), in entity attrs


def position_text(metric: Metric, value: float, entity: Entity | None, lang: str) -> str:
    """Where a value stands against the levels that judge it, in words: "dưới BĐ1 0,5 m",
    "trên ngưỡng cảnh báo 3 cuộc/giờ"; '' when the metric has no levels."""
    th = levels(metric, entity)
    if th is None:
        return ""
    unit = metric.unit_text(lang)
    above = th.direction == "above"
    named = [(key.upper().replace("BD", "BĐ"), float(entity.attrs[key])) for key in _RIVER_LEVELS
             if entity is not None and isinstance(entity.attrs.get(key), int | float)]
    if not named:
        named = [(t("status.level.warning", lang), th.warning), (t("status.level.critical", lang), th.critical)]
    named.sort(key=lambda item: item[1], reverse=not above)
    passed = [(name, level) for name, level in named if (value >= level if above else value <= level)]
    name, level = passed[-1] if passed else named[0]
    gap = format_number(abs(value - level), lang)
    gap = f"{gap} {unit}".rstrip() if unit != "%" else f"{gap}{unit}"
    side = ("above" if above else "below") if passed else ("below" if above else "above")
    return t(f"status.position.{side}", lang, level=name, gap=gap)


# --- age ---------------------------------------------------------------------------------------

# A reading is stale once it is older than its metric's cadence plus half a cadence of delivery slack:
# a device reporting on time never flickers stale, one that misses a report is stale at once.
STALE_FACTOR = 1.5


def stale_after(metric: Metric, feed: FeedSpec | None = None) -> timedelta:
    """How old a reading of `metric` may be before it is stale: cadence × STALE_FACTOR, lengthened (never
    shortened) by the `stale_after` of the feed that delivers it."""
    own = metric.cadence * STALE_FACTOR
    return max(own, feed.stale_after) if feed is not None else own


def reporting_age(metric: Metric, ts: datetime, now: datetime) -> float:
    """How long (seconds) the source of `metric` has been expected to report since `ts`: the whole time, or
    for a school-hours source only the school time since (a school silent at night, on Sunday or in the
    summer break keeps its last figure fresh)."""
    if metric.reports == "school_hours":
        return holidays.school_seconds_between(ts, now)
    return (now - ts).total_seconds()


def reporting_until(metric: Metric, now: datetime) -> datetime:
    """The end of the latest time `metric` was reported: now, or for a school-hours source the last school
    time (a chart of attendance on a Sunday shows Saturday's school hours, not an empty Sunday)."""
    if metric.reports == "school_hours":
        return holidays.last_school_time(now) or now
    return now


def feed_metrics(config: Config, feed: FeedSpec) -> list[Metric]:
    """The metrics a feed carries: its domain's (the simulator: the priority domains'), else all."""
    if feed.domain is not None:
        return [m for m in config.catalog.metrics if m.domain == feed.domain]
    if feed.transport == "simulator":
        priority = {d.key for d in config.priority_domains}
        return [m for m in config.catalog.metrics if m.domain in priority]
    return list(config.catalog.metrics)


def feed_silence_allowed(config: Config, feed: FeedSpec) -> timedelta:
    """How long a feed may stay silent before it is late: its `stale_after`, lengthened to the shortest
    cadence it carries × STALE_FACTOR (a feed of 5-minute metrics is silent 5 minutes at a time)."""
    cadences = [m.cadence for m in feed_metrics(config, feed)]
    return max(feed.stale_after, min(cadences) * STALE_FACTOR) if cadences else feed.stale_after


def feeds_as_judged(config: Config) -> list[FeedSpec]:
    """The configured feeds with `stale_after` as feed health must apply it (see feed_silence_allowed)."""
    return [f.model_copy(update={"stale_after": feed_silence_allowed(config, f)}) for f in config.feeds]
