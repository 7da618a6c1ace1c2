"""FIWARE NGSI-LD entities (Smart Data Models AirQualityObserved, TrafficFlowObserved).

Accepts one entity, an array of entities, or a broker notification ({"type": "Notification", "data": [...]});
attributes in normalized form ({"type": "Property", "value": 12.5, "unitCode": "GQ", "observedAt": ...}),
keyValues form (a bare value), or as full IRIs (".../dataModel.Environment/pm25" matches "pm25").

- Entity: the id URN's `id_segment`-th ':'-separated part (default 3:
  "urn:ngsi-ld:AirQualityObserved:air-bgc-01:2026-11-27T08" -> air-bgc-01), or `id_map` {id prefix: entity}
  with `entity_from: id_map` (the longest prefix wins; ids often end in a time stamp).
- Time: an attribute's observedAt, else the entity's dateObserved (a Property, a bare string or a typed
  {"@type": "DateTime", "@value": ...}; an ISO 8601 interval "start/end" gives its `interval` end, by
  default the end of the averaging period), else dateObservedTo / dateObservedFrom. NGSI-LD times are
  UTC; one without an offset is read in `timezone` (default UTC).
- Metrics: `attributes` {NGSI attribute: metric key | {metric, scale, offset}}. Without it, per type:
  AirQualityObserved pm25 -> pm25, pm10 -> pm10 (µg/m³, unitCode GQ; airQualityIndex is an index of the
  source's own scheme and becomes vn_aqi only when mapped explicitly). TrafficFlowObserved has no default:
  its attributes (averageVehicleSpeed km/h, intensity = vehicles of all types per observation period,
  occupancy = fraction of time a detector is occupied, congested = a flag) measure something other than
  the catalog's congestion_index, speed_ratio, vc_ratio and heavy_vehicle_volume; a feed whose detectors
  do count what a metric means maps them explicitly, with `scale` for the unit
  (e.g. a lorry-only 5-minute intensity -> heavy_vehicle_volume with scale 12).
- Units: a Property's unitCode must equal `unit_codes` for its metric where one is set (default pm25 and
  pm10: GQ, microgram per cubic metre); units are never converted except by an explicit scale/offset.

Attributes that are absent are no error (NGSI-LD omits what was not observed), but an entity in which
none of the mapped attributes is present is one (a renamed attribute is schema drift).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from feeds.json_mapping import (
    Defaults,
    Scaling,
    check_catalog,
    json_excerpt,
    parse_time,
    scaled,
    type_name,
    zone,
)
from ioc.models import Reading
from ioc.transports.contract import (
    Parsed,
    ParseError,
    ParserContext,
    ParserOptions,
    as_number,
    excerpt,
    load_json,
    register_parser,
)

DEFAULT_TYPES = ("AirQualityObserved", "TrafficFlowObserved")
DEFAULT_ATTRIBUTES: dict[str, dict[str, str]] = {
    "AirQualityObserved": {"pm25": "pm25", "pm10": "pm10"},
    "TrafficFlowObserved": {},  # nothing in the model measures what the catalog's traffic metrics mean
}
DEFAULT_UNIT_CODES = {"pm25": "GQ", "pm10": "GQ"}  # UN/CEFACT GQ = µg/m³ (GP = mg/m³ would be 1000× off)


class AttributeSpec(Scaling):
    metric: str = Field(min_length=1)


class NgsiLdOptions(ParserOptions):
    types: list[str] = Field(list(DEFAULT_TYPES), min_length=1)
    entity_from: Literal["id_segment", "id_map"] = "id_segment"
    id_segment: int = 3
    id_map: dict[str, str] = Field(default_factory=dict, validate_default=True)
    attributes: dict[str, AttributeSpec] | None = None  # None: the defaults of each type; "pm25" = {metric: pm25}
    unit_codes: dict[str, str] = {}  # metric -> expected unitCode, over DEFAULT_UNIT_CODES
    interval: Literal["end", "start"] = "end"
    timezone: str = "UTC"
    defaults: Defaults = Defaults()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("id_map")
    @classmethod
    def _id_map(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if info.data.get("entity_from") == "id_map" and not value:
            raise ValueError("entity_from: id_map needs a non-empty id_map")
        return value

    @field_validator("attributes", mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"metric": v} if isinstance(v, str) else v for k, v in value.items()}
        return value


def short_name(name: str) -> str:
    """The local name of an expanded or compact IRI ('https://…/dataModel.Environment/pm25' -> 'pm25')."""
    return re.split(r"[/#:]", name)[-1]


def _literal(value: Any) -> Any:
    """The plain value of a JSON-LD typed literal {"@type": ..., "@value": ...}, else the value."""
    return value.get("@value") if isinstance(value, dict) and "@value" in value else value


class NgsiLdParser:
    def __init__(self, options: NgsiLdOptions, context: ParserContext):
        self.options = options
        self.clock = context.clock
        self.tz = zone(options.timezone)
        self.unit_codes = DEFAULT_UNIT_CODES | dict(options.unit_codes)
        self.id_prefixes = sorted(options.id_map, key=len, reverse=True)
        if options.attributes is None:
            self.mappings = {t: {a: AttributeSpec(metric=m) for a, m in DEFAULT_ATTRIBUTES.get(t, {}).items()}
                             for t in options.types}
        else:
            self.mappings = {t: dict(options.attributes) for t in options.types}

    def __call__(self, source: str, payload: bytes) -> Parsed:
        out = Parsed()
        ok, document = load_json(payload, out)
        if not ok:
            return out
        if isinstance(document, dict) and isinstance(document.get("data"), list) and (
                document.get("type") == "Notification" or "subscriptionId" in document):
            entities = document["data"]
        elif isinstance(document, list):
            entities = document
        else:
            entities = [document]
        if not entities:
            out.errors.append(ParseError("no entities", excerpt(payload)))
            return out
        received = self.clock()
        for index, entity in enumerate(entities):
            self._entity(index, entity, received, out)
        return out

    def _entity(self, index: int, obj: Any, received: datetime, out: Parsed) -> None:
        def fail(reason: str) -> None:
            out.errors.append(ParseError(f"entity {index}: {reason}", json_excerpt(obj)))

        if not isinstance(obj, dict):
            fail(f"expected an object, got {type_name(obj)}")
            return
        raw_types = obj.get("type")
        types = [raw_types] if isinstance(raw_types, str) else raw_types if isinstance(raw_types, list) else []
        etype = next((short_name(t) for t in types if isinstance(t, str) and short_name(t) in self.mappings), None)
        if etype is None:
            fail(f"type {excerpt(json_excerpt(raw_types), 64)} is not one of {', '.join(self.options.types)}")
            return
        try:
            entity = self._entity_id(obj.get("id"))
            entity_time = self._entity_time(obj)
        except ValueError as exc:
            fail(str(exc))
            return
        mapping = self.mappings[etype]
        if not mapping:
            fail(f"no attribute of {etype} is mapped to a metric (set options.attributes)")
            return
        names = {}
        for key in obj:
            names.setdefault(short_name(key), key)
        names.update({key: key for key in obj})
        present = [(attr, spec, names[attr]) for attr, spec in mapping.items() if attr in names]
        if not present:
            fail(f"none of the mapped attributes ({', '.join(mapping)}) is present")
            return
        for attr, spec, key in present:
            try:
                value, ts = self._attribute(obj[key], entity_time, received, spec.metric)
            except ValueError as exc:
                out.errors.append(ParseError(f"entity {index}: {attr}: {exc}",
                                             json_excerpt({"id": obj.get("id"), key: obj[key]})))
                continue
            out.readings.append(Reading(entity, spec.metric, ts, scaled(value, spec)))

    def _entity_id(self, raw: Any) -> str:
        if not isinstance(raw, str) or not raw:
            raise ValueError(f"id must be a non-empty string, got {type_name(raw)}")
        if self.options.entity_from == "id_map":
            prefix = next((p for p in self.id_prefixes if raw.startswith(p)), None)
            if prefix is None:
                raise ValueError(f"id {excerpt(raw, 96)!r} matches no id_map entry")
            return self.options.id_map[prefix]
        parts = raw.split(":")
        index = self.options.id_segment
        if not -len(parts) <= index < len(parts) or not parts[index]:
            raise ValueError(f"id {excerpt(raw, 96)!r} has no segment {index} (segments are separated by ':')")
        return parts[index]

    def _entity_time(self, obj: dict[str, Any]) -> datetime | None:
        """The entity's observation time, None when it has none; ValueError when it is unreadable."""
        raw = obj.get("dateObserved")
        if raw is not None:
            text = _literal(raw.get("value") if isinstance(raw, dict) and "value" in raw else raw)
            if not isinstance(text, str):
                raise ValueError(f"dateObserved must be a date-time string, got {type_name(text)}")
            if "/" in text:
                start, _, end = text.partition("/")
                if not start or not end or "/" in end or start.startswith("P") or end.startswith("P"):
                    raise ValueError(f"dateObserved interval {excerpt(text, 96)!r} is not start/end")
                text = end if self.options.interval == "end" else start
            return parse_time(text, "iso8601", self.tz)
        order = ("dateObservedTo", "dateObservedFrom") if self.options.interval == "end" else \
            ("dateObservedFrom", "dateObservedTo")
        for key in order:
            if (raw := obj.get(key)) is not None:
                text = _literal(raw.get("value") if isinstance(raw, dict) and "value" in raw else raw)
                return parse_time(text, "iso8601", self.tz)
        return None

    def _attribute(self, prop: Any, entity_time: datetime | None, received: datetime,
                   metric: str) -> tuple[float, datetime]:
        if isinstance(prop, list):  # a multi-attribute: read the default instance (the one without datasetId)
            defaults = [p for p in prop if isinstance(p, dict) and "datasetId" not in p]
            if len(defaults) != 1:
                raise ValueError("a multi-attribute without a single default instance (no datasetId)")
            prop = defaults[0]
        unit_code = observed_at = None
        if isinstance(prop, dict):
            if prop.get("type") == "Relationship":
                raise ValueError("is a Relationship, not a Property")
            if "value" not in prop:
                raise ValueError("property has no value")
            raw, unit_code, observed_at = _literal(prop["value"]), prop.get("unitCode"), prop.get("observedAt")
        else:
            raw = prop
        value = as_number(raw)
        if value is None:
            raise ValueError(f"value is not a number ({type_name(raw)})")
        expected = self.unit_codes.get(metric)
        if unit_code is not None and expected is not None and unit_code != expected:
            raise ValueError(f"unitCode {excerpt(json_excerpt(unit_code), 32)} where {expected} is expected "
                             "(units are not converted)")
        if observed_at is not None:
            return value, parse_time(observed_at, "iso8601", self.tz)
        if entity_time is not None:
            return value, entity_time
        if self.options.defaults.time == "received":
            return value, received
        raise ValueError("no time: neither observedAt nor dateObserved")


@register_parser("ngsi_ld", NgsiLdOptions)
def ngsi_ld_parser(options: NgsiLdOptions, context: ParserContext) -> NgsiLdParser:
    check_catalog(context,
                  metrics=[*((f"attributes.{a}.metric", s.metric) for a, s in (options.attributes or {}).items()),
                           *((f"unit_codes.{m}", m) for m in options.unit_codes)],
                  entities=[(f"id_map.{k}", e) for k, e in options.id_map.items()])
    return NgsiLdParser(options, context)
