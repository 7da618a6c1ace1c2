"""Parsers for the Open-Meteo forecast, air-quality and flood (GloFAS) APIs (domain-catalog §4.1).

Each parser reads one HTTP response body: one location gives a JSON object, several comma-separated
locations a JSON array of objects in request order; the feed's `entities` option names the entity of each
location, in the same order. Open-Meteo returns column arrays (`hourly: {time: [...], <variable>: [...]}`),
times without an offset in the response's `timezone`, whose offset is `utc_offset_seconds`; `null` marks a
missing hour and is skipped. Requests should ask for `timezone=UTC` (times are then UTC), but any offset is
honoured, and `timeformat=unixtime` (epoch seconds) is read too.

Only observations are kept: values after the context's clock (forecast hours) are dropped. Structural problems
(invalid JSON, a missing block or variable = schema drift, arrays of different lengths, unexpected units, the
wrong number of locations, an error object from the API) become ParseErrors; a problem confined to one location
or one variable costs only that location or variable. Whether entity, metric and value make sense is checked by
ioc.ingest, as for every feed.

Example requests (coordinates = the entities' lat/lon from region.yaml, in the order of `entities`):

    https://api.open-meteo.com/v1/forecast?latitude=21.2395,21.3772&longitude=106.2036,106.02
        &hourly=precipitation,temperature_2m,relative_humidity_2m&past_days=2&forecast_days=1&timezone=UTC
    https://air-quality-api.open-meteo.com/v1/air-quality?latitude=21.253&longitude=106.1348
        &hourly=pm10,pm2_5,carbon_monoxide,nitrogen_dioxide,ozone,sulphur_dioxide&past_days=1&timezone=UTC
    https://flood-api.open-meteo.com/v1/flood?latitude=21.2852&longitude=106.2015&daily=river_discharge
        &past_days=7&forecast_days=7
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field

import ioc.vn_aqi as vn_aqi
from ioc.models import Reading
from ioc.transports.contract import (
    Parsed,
    ParseError,
    ParserContext,
    ParserOptions,
    ParserOptionsError,
    as_number,
    excerpt,
    load_json,
    register_parser,
)

HOUR = timedelta(hours=1)
MAX_OFFSET_S = 18 * 3600
YEARS = (1900, 2200)  # times outside are invalid (and would overflow window arithmetic near datetime.min/max)

_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxstring, _repr.maxother, _repr.maxlist, _repr.maxdict = 3, 120, 120, 12, 12


def _show(value: Any) -> str:
    """A short, bounded rendering of any JSON value for an error excerpt (safe on deep nesting)."""
    return excerpt(_repr.repr(value), 600)

# Units Open-Meteo reports for the variables we read; another unit (e.g. precipitation_unit=inch) is drift.
_MICROGRAMS = {"μg/m³", "µg/m³", "ug/m3", "μg/m3", "µg/m3"}
UNITS: dict[str, set[str]] = {
    "precipitation": {"mm"},
    "temperature_2m": {"°C"},
    "relative_humidity_2m": {"%"},
    "pm2_5": _MICROGRAMS, "pm10": _MICROGRAMS, "carbon_monoxide": _MICROGRAMS,
    "nitrogen_dioxide": _MICROGRAMS, "ozone": _MICROGRAMS, "sulphur_dioxide": _MICROGRAMS,
    "river_discharge": {"m³/s", "m3/s"},
}


# ------------------------------------------------------------------------------------------ options

ForecastRole = Literal["rainfall_24h", "temp_max", "temp_daily_mean", "humidity"]
AirRole = Literal["pm25", "pm10", "vn_aqi"]
AirVariable = Literal["pm2_5", "pm10", "ozone", "nitrogen_dioxide", "sulphur_dioxide", "carbon_monoxide"]


class ForecastOptions(ParserOptions):
    """openmeteo_forecast: hourly precipitation, temperature_2m, relative_humidity_2m of weather stations."""

    entities: list[str] = Field(min_length=1)  # weather_station entity per location, in request order
    # Catalog key under which each derived value is published; null = do not publish it.
    metrics: dict[ForecastRole, str | None] = {}
    # Time zone of the "day" of temp_max / temp_daily_mean; default: the configured ui.timezone.
    day_timezone: str | None = None


class AirQualityOptions(ParserOptions):
    """openmeteo_air_quality: hourly pollutant concentrations of air stations, with VN_AQI."""

    entities: list[str] = Field(min_length=1)  # air_station entity per location, in request order
    metrics: dict[AirRole, str | None] = {}
    # Variables expected in the response and used for VN_AQI (a PM one is required by the decision).
    pollutants: list[AirVariable] = Field(
        default=["pm2_5", "pm10", "ozone", "nitrogen_dioxide", "sulphur_dioxide", "carbon_monoxide"], min_length=1)


class FloodOptions(ParserOptions):
    """openmeteo_flood: GloFAS daily river discharge of river gauges."""

    entities: list[str] = Field(min_length=1)  # river_gauge entity per location, in request order
    metric: str = Field("river_discharge", pattern=r"^[a-z0-9_]+$")
    variable: str = Field("river_discharge", pattern=r"^[a-z0-9_]+$")  # or river_discharge_median, _max, ...


# ------------------------------------------------------------------------------------------ factory checks

def _check_entities(parser: str, entities: list[str], kind: str, context: ParserContext) -> None:
    known = context.config.entities
    for i, entity_id in enumerate(entities):
        entity = known.get(entity_id)
        if entity is None:
            raise ParserOptionsError(f"entities.{i}", f"unknown entity '{entity_id}' (not in the region file)")
        if entity.kind != kind:
            raise ParserOptionsError(f"entities.{i}", f"entity '{entity_id}' is a {entity.kind}; "
                                                      f"the {parser} parser reads {kind} entities only")


def _check_metric(option: str, metric: str, kind: str, context: ParserContext) -> None:
    if metric not in context.config.metrics:
        hint = "map it to another key or set it to null" if option.startswith("metrics.") else "use a catalog key"
        raise ParserOptionsError(option, f"metric '{metric}' is not in the catalog (metrics.yaml); {hint}")
    if metric not in context.config.kinds[kind].metrics:
        raise ParserOptionsError(option, f"metric '{metric}' is not reported by {kind} entities")


def _resolve(defaults: Iterable[str], overrides: dict[str, str | None], kind: str,
             context: ParserContext) -> dict[str, str]:
    """role -> published metric key, overrides applied, every key checked against the catalog."""
    resolved: dict[str, str] = {}
    for role in defaults:
        metric = overrides.get(role, role)
        if metric is None:
            continue
        if not isinstance(metric, str) or not metric:
            raise ParserOptionsError(f"metrics.{role}", "must be a metric key or null")
        _check_metric(f"metrics.{role}", metric, kind, context)
        resolved[role] = metric
    if not resolved:
        raise ParserOptionsError("metrics", "every metric is disabled: nothing would be published")
    return resolved


# ------------------------------------------------------------------------------------------ document structure

def _locations(document: Any, entities: list[str], payload: bytes, out: Parsed) -> list[tuple[str, Any]]:
    """(entity, location object) pairs; a wrong shape or count of locations is one error for the payload."""
    if isinstance(document, dict) and document.get("error") is True:
        reason = document.get("reason")
        text = reason if isinstance(reason, str) else "no reason given"
        out.errors.append(ParseError(f"Open-Meteo returned an error: {excerpt(text, 200)}", excerpt(payload)))
        return []
    items = document if isinstance(document, list) else [document]
    if isinstance(document, list) and not document:
        out.errors.append(ParseError("empty list of locations", excerpt(payload)))
        return []
    if not all(isinstance(item, dict) for item in items):
        kinds = sorted({type(item).__name__ for item in items if not isinstance(item, dict)})
        out.errors.append(ParseError(f"expected a location object or a list of them, got {', '.join(kinds)}",
                                     excerpt(payload)))
        return []
    if len(items) != len(entities):
        out.errors.append(ParseError(
            f"the response has {len(items)} location(s) but the feed names {len(entities)} entities "
            f"({', '.join(entities)}): request one coordinate per entity, in the same order", excerpt(payload)))
        return []
    return list(zip(entities, items, strict=True))


def _describe(entity: str, location: dict) -> str:
    keys = ", ".join(excerpt(str(k), 40) for k in list(location)[:20])
    return excerpt(f"location of '{entity}': keys [{keys}]")


def _number(value: Any) -> float:
    number = as_number(value)
    if number is None or not math.isfinite(number):
        raise TypeError
    return number


def _time(raw: Any, offset: timezone, daily: bool) -> datetime:
    if isinstance(raw, bool):
        raise ValueError
    if isinstance(raw, int | float):  # timeformat=unixtime
        if not math.isfinite(raw):
            raise ValueError
        try:
            ts = datetime.fromtimestamp(raw, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError from None
        if not YEARS[0] <= ts.year <= YEARS[1]:
            raise ValueError
        return ts
    if not isinstance(raw, str) or len(raw) > 40:
        raise ValueError
    if daily and len(raw) == 10:
        raw = raw + "T00:00"
    try:
        ts = datetime.fromisoformat(raw)
        ts = ts.replace(tzinfo=offset) if ts.tzinfo is None else ts
        ts = ts.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError from None
    if not YEARS[0] <= ts.year <= YEARS[1]:
        raise ValueError
    return ts


@dataclass
class Block:
    """One location's time axis (UTC; None where a time was invalid) and its usable variables."""

    times: list[datetime | None]
    columns: dict[str, list[float | None]]


def _block(entity: str, location: dict, name: Literal["hourly", "daily"], variables: Iterable[str],
           out: Parsed) -> Block | None:
    where = f"'{entity}'"
    if location.get("error") is True:
        reason = location.get("reason")
        text = reason if isinstance(reason, str) else "no reason given"
        out.errors.append(ParseError(f"Open-Meteo returned an error for {where}: {excerpt(text, 200)}",
                                     _describe(entity, location)))
        return None
    offset_s = location.get("utc_offset_seconds")
    if isinstance(offset_s, bool) or not isinstance(offset_s, int) or abs(offset_s) > MAX_OFFSET_S:
        reason = "missing" if offset_s is None else f"invalid ({_show(offset_s)})"
        out.errors.append(ParseError(f"schema drift at {where}: utc_offset_seconds is {reason}",
                                     _describe(entity, location)))
        return None
    block = location.get(name)
    if not isinstance(block, dict):
        problem = "no" if block is None else f"a {type(block).__name__} instead of an object as"
        out.errors.append(ParseError(f"schema drift at {where}: {problem} '{name}' block",
                                     _describe(entity, location)))
        return None
    raw_times = block.get("time")
    if not isinstance(raw_times, list) or not raw_times:
        problem = "is missing" if raw_times is None else "is empty" if raw_times == [] else "is not an array"
        out.errors.append(ParseError(f"schema drift at {where}: '{name}.time' {problem}",
                                     _describe(entity, location)))
        return None
    tz = timezone(timedelta(seconds=offset_s))
    times: list[datetime | None] = []
    bad_times = []
    for i, raw in enumerate(raw_times):
        try:
            times.append(_time(raw, tz, name == "daily"))
        except ValueError:
            times.append(None)
            bad_times.append(i)
    if bad_times:
        out.errors.append(ParseError(
            f"{len(bad_times)} invalid time(s) in '{name}.time' of {where} (first at index {bad_times[0]}); "
            "their values are skipped", _show(raw_times[bad_times[0]])))
    units = location.get(f"{name}_units")
    units = units if isinstance(units, dict) else {}
    columns: dict[str, list[float | None]] = {}
    present = ", ".join(excerpt(str(k), 40) for k in list(block)[:20])
    for var in variables:
        raw = block.get(var)
        if raw is None:
            out.errors.append(ParseError(f"schema drift at {where}: '{name}' has no '{var}'",
                                         excerpt(f"'{name}' keys: [{present}]")))
            continue
        if not isinstance(raw, list):
            out.errors.append(ParseError(f"schema drift at {where}: '{name}.{var}' is not an array",
                                         _show(raw)))
            continue
        if len(raw) != len(raw_times):
            out.errors.append(ParseError(
                f"'{name}.{var}' of {where} has {len(raw)} values for {len(raw_times)} times",
                excerpt(f"'{name}' keys: [{present}]")))
            continue
        unit = units.get(var)
        if unit is not None and var in UNITS and unit not in UNITS[var]:
            out.errors.append(ParseError(
                f"unexpected unit of '{name}.{var}' at {where}: {excerpt(str(unit), 40)!r} "
                f"(expected {' or '.join(sorted(UNITS[var]))})", _show(units)))
            continue
        values: list[float | None] = []
        bad = []
        for i, value in enumerate(raw):
            if value is None:
                values.append(None)
                continue
            try:
                values.append(_number(value))
            except TypeError:
                values.append(None)
                bad.append(i)
        if bad:
            out.errors.append(ParseError(
                f"{len(bad)} non-numeric value(s) in '{name}.{var}' of {where} (first at index {bad[0]}); skipped",
                _show(raw[bad[0]])))
        columns[var] = values
    return Block(times, columns)


def _series(block: Block, var: str) -> dict[datetime, float] | None:
    """time -> value of one variable (missing and invalid entries left out), None if the variable is unusable."""
    column = block.columns.get(var)
    if column is None:
        return None
    return {t: v for t, v in zip(block.times, column, strict=True) if t is not None and v is not None}


def _observed(block: Block, now: datetime) -> list[datetime]:
    return sorted({t for t in block.times if t is not None and t <= now})


def _parser(decode_location: Callable[[str, dict, datetime, Parsed], None], entities: list[str],
            clock: Callable[[], datetime]):
    def parse(source: str, payload: bytes) -> Parsed:
        out = Parsed()
        ok, document = load_json(payload, out)
        if not ok:
            return out
        now = clock()
        for entity, location in _locations(document, entities, payload, out):
            decode_location(entity, location, now, out)
        return out
    return parse


# ------------------------------------------------------------------------------------------ forecast

_FORECAST_VARIABLE = {"rainfall_24h": "precipitation", "temp_max": "temperature_2m",
                      "temp_daily_mean": "temperature_2m", "humidity": "relative_humidity_2m"}


def _rolling_sum_24h(precip: dict[datetime, float], at: Iterable[datetime]) -> Iterable[tuple[datetime, float]]:
    """Sum of the 24 hourly totals ending at each t (Open-Meteo's precipitation is the preceding hour's sum);
    only where all 24 hours are present."""
    for t in at:
        window = [precip.get(t - k * HOUR) for k in range(24)]
        if all(v is not None for v in window):
            yield t, round(sum(window), 3)


def _day_so_far(temps: list[tuple[datetime, float | None]], day_tz: ZoneInfo, now: datetime
                ) -> Iterable[tuple[datetime, float, float]]:
    """(t, max, mean) of the hourly temperatures of t's local day from local midnight to t, only where the data
    covers that whole span with no missing hour."""
    if not temps:
        return
    first = temps[0][0]
    day = None
    values: list[float] = []
    start = first
    complete = False
    for t, v in temps:
        local_day = t.astimezone(day_tz).date()
        if local_day != day:
            day = local_day
            start = datetime(day.year, day.month, day.day, tzinfo=day_tz).astimezone(UTC)
            complete = first <= start
            values = []
        if v is None:
            complete = False
        else:
            values.append(v)
        expected = int((t - start) // HOUR) + 1
        if complete and t <= now and len(values) == expected:
            yield t, max(values), round(sum(values) / len(values), 3)


def _forecast_location(metrics: dict[str, str], day_tz: ZoneInfo) -> Callable[[str, dict, datetime, Parsed], None]:
    variables = sorted({_FORECAST_VARIABLE[role] for role in metrics})

    def decode(entity: str, location: dict, now: datetime, out: Parsed) -> None:
        block = _block(entity, location, "hourly", variables, out)
        if block is None:
            return
        observed = _observed(block, now)
        readings = out.readings
        if "humidity" in metrics and (rh := _series(block, "relative_humidity_2m")) is not None:
            readings.extend(Reading(entity, metrics["humidity"], t, rh[t]) for t in observed if t in rh)
        if "rainfall_24h" in metrics and (precip := _series(block, "precipitation")) is not None:
            readings.extend(Reading(entity, metrics["rainfall_24h"], t, v)
                            for t, v in _rolling_sum_24h(precip, observed))
        column = block.columns.get("temperature_2m")
        if column is not None and ("temp_max" in metrics or "temp_daily_mean" in metrics):
            temps = sorted(((t, v) for t, v in zip(block.times, column, strict=True) if t is not None),
                           key=lambda tv: tv[0])
            for t, high, mean in _day_so_far(temps, day_tz, now):
                if "temp_max" in metrics:
                    readings.append(Reading(entity, metrics["temp_max"], t, high))
                if "temp_daily_mean" in metrics:
                    readings.append(Reading(entity, metrics["temp_daily_mean"], t, mean))
    return decode


@register_parser("openmeteo_forecast", ForecastOptions)
def forecast_parser(options: ForecastOptions, context: ParserContext):
    """rainfall_24h (rolling 24 h sum of precipitation), temp_max and temp_daily_mean (highest and mean hourly
    temperature_2m of the local day so far, as the catalog defines them), humidity (relative_humidity_2m)."""
    _check_entities("openmeteo_forecast", options.entities, "weather_station", context)
    metrics = _resolve(_FORECAST_VARIABLE, options.metrics, "weather_station", context)
    tz_name = options.day_timezone or context.config.settings.ui.timezone
    try:
        day_tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ParserOptionsError("day_timezone", f"unknown time zone '{tz_name}'") from None
    return _parser(_forecast_location(metrics, day_tz), list(options.entities), context.clock)


# ------------------------------------------------------------------------------------------ air quality

_POLLUTANT = {"pm2_5": "pm25", "pm10": "pm10", "ozone": "o3", "nitrogen_dioxide": "no2",
              "sulphur_dioxide": "so2", "carbon_monoxide": "co"}


def _air_location(metrics: dict[str, str], pollutants: list[str]) -> Callable[[str, dict, datetime, Parsed], None]:
    def decode(entity: str, location: dict, now: datetime, out: Parsed) -> None:
        block = _block(entity, location, "hourly", pollutants, out)
        if block is None:
            return
        series = {_POLLUTANT[var]: s for var in pollutants if (s := _series(block, var)) is not None}
        for t in _observed(block, now):
            for key in ("pm25", "pm10"):
                if key in metrics and key in series and t in series[key]:
                    out.readings.append(Reading(entity, metrics[key], t, series[key][t]))
            if "vn_aqi" not in metrics:
                continue
            concentrations: dict[str, float | None] = {}
            for pollutant, values in series.items():
                if pollutant in vn_aqi.PM:  # the decision's NowCast over the 12 hours ending at t
                    concentrations[pollutant] = vn_aqi.nowcast([values.get(t - k * HOUR) for k in range(11, -1, -1)])
                else:
                    concentrations[pollutant] = values.get(t)
            index = vn_aqi.aqi(concentrations)
            if index is not None:
                out.readings.append(Reading(entity, metrics["vn_aqi"], t, float(index)))
    return decode


@register_parser("openmeteo_air_quality", AirQualityOptions)
def air_quality_parser(options: AirQualityOptions, context: ParserContext):
    """pm25, pm10 (hourly means) and vn_aqi (hourly VN_AQI, Decision 1459/QĐ-TCMT: PM as 12-hour NowCast, gases
    as the hour's mean). us_aqi and european_aqi in the response are ignored."""
    _check_entities("openmeteo_air_quality", options.entities, "air_station", context)
    metrics = _resolve(("pm25", "pm10", "vn_aqi"), options.metrics, "air_station", context)
    if "vn_aqi" in metrics and not {"pm2_5", "pm10"} & set(options.pollutants):
        raise ParserOptionsError("pollutants", "VN_AQI needs pm2_5 or pm10 (Decision 1459/QĐ-TCMT)")
    for role, var in (("pm25", "pm2_5"), ("pm10", "pm10")):
        if role in metrics and var not in options.pollutants:
            raise ParserOptionsError("pollutants", f"metric {role} needs the variable '{var}'")
    pollutants = list(dict.fromkeys(options.pollutants))
    return _parser(_air_location(metrics, pollutants), list(options.entities), context.clock)


# ------------------------------------------------------------------------------------------ flood

def _flood_location(metric: str, variable: str) -> Callable[[str, dict, datetime, Parsed], None]:
    def decode(entity: str, location: dict, now: datetime, out: Parsed) -> None:
        block = _block(entity, location, "daily", [variable], out)
        if block is None or (series := _series(block, variable)) is None:
            return
        # A day is stamped at its start in the response's time zone; days after today are forecasts.
        out.readings.extend(Reading(entity, metric, t, series[t]) for t in _observed(block, now) if t in series)
    return decode


@register_parser("openmeteo_flood", FloodOptions)
def flood_parser(options: FloodOptions, context: ParserContext):
    """Daily river discharge (GloFAS, m³/s) of river gauges, for days up to today."""
    _check_entities("openmeteo_flood", options.entities, "river_gauge", context)
    _check_metric("metric", options.metric, "river_gauge", context)
    return _parser(_flood_location(options.metric, options.variable), list(options.entities), context.clock)
