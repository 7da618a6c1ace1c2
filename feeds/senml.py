"""SenML packs (RFC 8428, JSON representation, media type application/senml+json).

A pack is a JSON array of records. Base fields (bn, bt, bu, bv, bver) apply to their record and to
every later record until changed; a record's name is bn + n, its time bt + t, its unit u or else bu,
its value bv + v. A resolved time below 2**28 is relative to now (RFC 8428 §4.5.3): 0 or no time at
all means "now", -60 a minute ago. The resolved name is split into (entity, metric):

- a name that starts with a prefix of `entity_map` gives that entity, and the rest of the name (after
  an optional separator) is the metric: {"urn:dev:ow:10e2073a01080063:": wx-bgc};
- otherwise the name is split at its last `separator`: "hosp-bgc-01:bed_occupancy";
- `metric_map` renames the metric part ({precip: rainfall_24h}); a name with no metric part (the RFC's
  single-datapoint example) takes its metric from the unit through `unit_metrics` ({Cel: temp_max}).

Units are checked, never converted: when a record has a unit and the metric has an expected SenML unit,
they must be equal. The expected units come from the catalog where the translation is obvious
(°C = Cel, % = %, m = m, mm = mm, m³/s = m3/s; humidity = %RH) and from `metric_units`. String,
boolean and data values (vs, vb, vd) and sums (s) are not readings: each such record gives an error
and the rest of the pack is still read.

Example::

    parser: senml
    options:
      separator: ":"
      entity_map: {"bg:lucngan:rain01:": wx-lng}
      metric_map: {precip: rainfall_24h}
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field

from feeds.json_mapping import check_catalog, json_excerpt, show, type_name
from feeds.native import parse_ts
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

SENML_VERSION = 10  # RFC 8428: the version when bver is absent, and the highest this parser understands
RELATIVE_LIMIT = 2**28  # RFC 8428 §4.5.3: resolved times below this are relative to now
# SenML registry units whose catalog unit is plainly the same quantity and scale (no conversion is ever made).
SENML_TO_CATALOG = {"Cel": "°C", "%": "%", "m": "m", "mm": "mm", "m3/s": "m³/s"}
CATALOG_TO_SENML = {catalog: senml for senml, catalog in SENML_TO_CATALOG.items()}
# Metrics whose SenML unit is more specific than their catalog unit: relative humidity is "%RH" in SenML.
METRIC_UNITS = {"humidity": "%RH"}
BASE_FIELDS = ("bn", "bt", "bu", "bv", "bs", "bver")
NOT_READINGS = {"vs": "string values are not readings", "vb": "boolean values are not readings",
                "vd": "data values are not readings", "s": "sum values are not readings"}


class SenmlOptions(ParserOptions):
    separator: str = Field(":", min_length=1)
    entity_map: dict[str, str] = {}  # name prefix -> entity id; the longest matching prefix wins
    metric_map: dict[str, str] = {}  # metric part of the name -> metric key (default: the part itself)
    unit_metrics: dict[str, str] = {}  # SenML unit -> metric key, for names without a metric part
    check_units: bool = True
    metric_units: dict[str, str] = {}  # metric key -> expected SenML unit, over the catalog-derived ones


class _StopPack(Exception):
    """A base field is unusable: every later record depends on it."""


class SenmlParser:
    def __init__(self, options: SenmlOptions, context: ParserContext):
        self.options = options
        self.clock = context.clock
        expected = {key: CATALOG_TO_SENML[m.unit] for key, m in context.config.metrics.items()
                    if isinstance(m.unit, str) and m.unit in CATALOG_TO_SENML}
        specific = {key: unit for key, unit in METRIC_UNITS.items() if key in context.config.metrics}
        self.expected_units = expected | specific | dict(options.metric_units)
        # longest prefix first, so that "urn:dev:ow:1:" is tried before "urn:dev:"
        self.prefixes = sorted(options.entity_map, key=len, reverse=True)

    def __call__(self, source: str, payload: bytes) -> Parsed:
        out = Parsed()
        ok, pack = load_json(payload, out)
        if not ok:
            return out
        if not isinstance(pack, list):
            out.errors.append(ParseError(f"a SenML pack is a JSON array, got {type_name(pack)}", excerpt(payload)))
            return out
        if not pack:
            out.errors.append(ParseError("empty SenML pack", excerpt(payload)))
            return out
        now = self.clock().astimezone(UTC)
        base: dict[str, Any] = {"bn": "", "bt": 0.0, "bu": None, "bv": 0.0, "bver": SENML_VERSION}
        for index, record in enumerate(pack):
            try:
                self._record(index, record, base, now, out)
            except _StopPack as stop:
                skipped = len(pack) - index - 1
                out.errors.append(ParseError(f"record {index}: {stop}"
                                             + (f"; the {skipped} later record(s) are not read" if skipped else ""),
                                             json_excerpt(record)))
                break
        if not out.readings and not out.errors:
            out.errors.append(ParseError("no records with a value: the pack has base fields only", excerpt(payload)))
        return out

    def _update_base(self, record: dict[str, Any], base: dict[str, Any]) -> None:
        if "bn" in record:
            if not isinstance(record["bn"], str):
                raise _StopPack(f"base name bn must be a string, got {type_name(record['bn'])}")
            base["bn"] = record["bn"]
        for key, label in (("bt", "base time"), ("bv", "base value")):
            if key in record:
                number = as_number(record[key])
                if number is None or not math.isfinite(number):
                    raise _StopPack(f"{label} {key} must be a finite number, got {show(record[key])}")
                base[key] = number
        if "bu" in record:
            if not isinstance(record["bu"], str):
                raise _StopPack(f"base unit bu must be a string, got {type_name(record['bu'])}")
            base["bu"] = record["bu"]
        if "bver" in record:
            version = record["bver"]
            if isinstance(version, bool) or not isinstance(version, int) or version < 1:
                raise _StopPack(f"base version bver must be a positive integer, got {show(version)}")
            base["bver"] = version
        if base["bver"] > SENML_VERSION:
            raise _StopPack(f"SenML version {base['bver']} is newer than the version {SENML_VERSION} understood here")

    def _record(self, index: int, record: Any, base: dict[str, Any], now: datetime, out: Parsed) -> None:
        def fail(reason: str) -> None:
            out.errors.append(ParseError(f"record {index}: {reason}", json_excerpt(record)))

        if not isinstance(record, dict):
            fail(f"expected an object, got {type_name(record)}")
            return
        self._update_base(record, base)
        must_understand = sorted(k for k in record if k.endswith("_"))
        if must_understand:  # RFC 8428 §4.4: a record with an unknown must-understand label must be rejected
            fail(f"unknown must-understand field(s) {', '.join(excerpt(k, 32) for k in must_understand)}")
            return
        if "v" not in record:
            kind = next((k for k in NOT_READINGS if k in record), None)
            if kind is not None:
                fail(NOT_READINGS[kind])
            elif not all(k in BASE_FIELDS for k in record) or not record:
                fail("no value (v)")
            return  # a record of base fields only sets the base for the records after it
        value = as_number(record["v"])
        if value is None:
            fail(f"value v must be a number, got {type_name(record['v'])}")
            return
        name = record.get("n", "")
        if not isinstance(name, str):
            fail(f"name n must be a string, got {type_name(name)}")
            return
        name = base["bn"] + name
        unit = record.get("u", base["bu"])
        if unit is not None and not isinstance(unit, str):
            fail(f"unit u must be a string, got {type_name(unit)}")
            return
        t = record.get("t", 0.0)
        offset = as_number(t)
        if offset is None:
            fail(f"time t must be a number, got {type_name(t)}")
            return
        try:
            ts = self._time(base["bt"] + offset, now)
        except ValueError as exc:
            fail(str(exc))
            return
        try:
            entity, metric = self._split(name, unit)
        except ValueError as exc:
            fail(str(exc))
            return
        expected = self.expected_units.get(metric) if self.options.check_units else None
        if unit is not None and expected is not None and unit != expected:
            fail(f"{metric}: unit '{excerpt(unit, 32)}' where '{expected}' is expected (units are not converted)")
            return
        out.readings.append(Reading(entity, metric, ts, base["bv"] + value))

    @staticmethod
    def _time(seconds: float, now: datetime) -> datetime:
        if not math.isfinite(seconds):
            raise ValueError(f"time is not finite: {seconds}")
        if seconds < RELATIVE_LIMIT:
            try:
                return now + timedelta(seconds=seconds)
            except OverflowError:
                raise ValueError(f"relative time out of range: {seconds:g} s") from None
        return parse_ts(seconds)

    def _split(self, name: str, unit: str | None) -> tuple[str, str]:
        if not name:
            raise ValueError("no name: neither bn nor n")
        sep = self.options.separator
        prefix = next((p for p in self.prefixes if name.startswith(p)), None)
        if prefix is not None:
            entity, rest = self.options.entity_map[prefix], name[len(prefix):]
            if rest.startswith(sep):
                rest = rest[len(sep):]
        elif sep in name:
            entity, rest = name.rsplit(sep, 1)
        else:
            raise ValueError(f"name {excerpt(name, 64)!r} has no '{sep}' between entity and metric "
                             "and matches no entity_map prefix")
        if not entity:
            raise ValueError(f"name {excerpt(name, 64)!r} has no entity part")
        if not rest:
            metric = self.options.unit_metrics.get(unit) if unit is not None else None
            if metric is None:
                raise ValueError(f"name {excerpt(name, 64)!r} has no metric part"
                                 + (f" and unit {excerpt(unit, 32)!r} is not in unit_metrics" if unit else ""))
            return entity, metric
        return entity, self.options.metric_map.get(rest, rest)


@register_parser("senml", SenmlOptions)
def senml_parser(options: SenmlOptions, context: ParserContext) -> SenmlParser:
    check_catalog(context,
                  metrics=[*((f"metric_map.{k}", m) for k, m in options.metric_map.items()),
                           *((f"unit_metrics.{k}", m) for k, m in options.unit_metrics.items()),
                           *((f"metric_units.{m}", m) for m in options.metric_units)],
                  entities=[(f"entity_map.{k}", e) for k, e in options.entity_map.items()])
    return SenmlParser(options, context)
