"""A department's JSON API mapped to readings by configuration only (feeds.yaml), no code.

Example (a hospital information system's bed report)::

    parser: json_mapping
    options:
      records: data.items              # dotted path to the list of records; "" = the document is the list
      entity: facility.code            # field path in a record
      entity_map: {"BV01": hosp-bgc-01}  # optional: source value -> entity id (else entity_prefix + value)
      time: reported_at
      time_format: iso8601             # iso8601 | epoch_s | epoch_ms | a strptime format such as "%d/%m/%Y %H:%M"
      timezone: Asia/Ho_Chi_Minh       # for times without a UTC offset
      defaults: {time: received}       # a record without a time is stamped with the time of receipt
      values:
        bed_occupancy: {field: stats.beds.occupancy_ratio, scale: 100}
        ed_occupancy: {field: stats.ed.0}

Paths are dotted: ``stats.beds.occupied`` walks objects, a whole-number part indexes a list
(``values.0``, ``values.-1``). A record whose entity or time cannot be read gives one error for the
record; a missing or non-numeric value gives one error for that reading; the other records and values
still become readings. A value is a JSON number or a plain numeric string ("12.5"); booleans, "n/a",
"12,5" and the like are not numbers (use csv_table's `decimal` for decimal commas). The helpers here
(time parsing, paths, numbers, JSON loading) are shared by the csv_table, senml and ngsi_ld parsers.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator

from feeds.native import parse_ts
from ioc.models import Reading
from ioc.transports.contract import (
    Parsed,
    ParseError,
    ParserContext,
    ParserOptions,
    ParserOptionsError,
    excerpt,
    load_json,
    register_parser,
)

# --- shared helpers (csv_table, senml and ngsi_ld import these) -------------------------------------

EPOCH_FORMATS = ("epoch_s", "epoch_ms")
_MISSING = object()
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INDEX = re.compile(r"-?\d+")


def zone(name: str) -> tzinfo:
    """The time zone `name` (IANA, e.g. "Asia/Ho_Chi_Minh", or "UTC"); ValueError when unknown."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone '{name}'") from None


def check_time_format(value: str) -> str:
    """For options validators: 'iso8601', 'epoch_s', 'epoch_ms' or a strptime format with a directive."""
    if value == "iso8601" or value in EPOCH_FORMATS:
        return value
    if "%" not in value:
        raise ValueError("must be iso8601, epoch_s, epoch_ms or a strptime format such as '%d/%m/%Y %H:%M'")
    try:
        datetime.now().strftime(value)
    except ValueError as exc:
        raise ValueError(f"invalid strptime format: {exc}") from None
    return value


def parse_time(raw: Any, time_format: str = "iso8601", tz: tzinfo = UTC) -> datetime:
    """A timezone-aware UTC datetime from `raw` read as `time_format`; a time without an offset is in `tz`.

    epoch_s / epoch_ms accept numbers and numeric strings (CSV cells); iso8601 and strptime formats
    accept strings only. ValueError says what was wrong.
    """
    if time_format in EPOCH_FORMATS:
        number = to_number(raw)
        if number is None:
            raise ValueError(f"time is not a number of {'seconds' if time_format == 'epoch_s' else 'milliseconds'}"
                             f" since the epoch: {show(raw)}")
        return parse_ts(number / 1000 if time_format == "epoch_ms" else number)
    if not isinstance(raw, str):
        raise ValueError(f"time must be a string, got {type_name(raw)}")
    text = raw.strip()
    try:
        ts = datetime.fromisoformat(text) if time_format == "iso8601" else datetime.strptime(text, time_format)
    except ValueError:
        expected = "ISO 8601" if time_format == "iso8601" else f"in the format '{time_format}'"
        raise ValueError(f"time is not {expected}: {show(raw)}") from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=tz)
    try:
        return ts.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(f"time out of range: {show(raw)}") from None


def to_number(raw: Any) -> float | None:
    """A float from a JSON number or a plain numeric string ("12.5", " -3 ", "1e3"); None otherwise.

    Booleans are not numbers. Non-finite JSON numbers (NaN, Infinity) pass through: ingest rejects them
    with its own reason.
    """
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        try:
            return float(raw)
        except OverflowError:
            return None
    if isinstance(raw, str) and _NUMBER.fullmatch(raw.strip()):
        number = float(raw.strip())
        return number if math.isfinite(number) else None
    return None


def get_path(document: Any, path: str) -> Any:
    """The value at dotted `path` ("" = the document itself), or MISSING."""
    current = document
    if path == "":
        return current
    for part in path.split("."):
        if isinstance(current, dict):
            current = current.get(part, _MISSING)
        elif isinstance(current, list) and _INDEX.fullmatch(part):
            index = int(part)
            current = current[index] if -len(current) <= index < len(current) else _MISSING
        else:
            return _MISSING
        if current is _MISSING:
            return _MISSING
    return current


def is_missing(value: Any) -> bool:
    return value is _MISSING


def json_excerpt(value: Any, limit: int = 512) -> str:
    """A bounded JSON excerpt of a (part of a) parsed document for a dead letter."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (RecursionError, ValueError, TypeError):
        text = f"<{type_name(value)} that cannot be shown: nested too deeply or too large>"
    return excerpt(text, limit)


def entity_key(raw: Any) -> str | None:
    """A source's entity value as a string key: strings as they are, whole numbers without '.0'."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str):
        return raw.strip() or None
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return None


def check_catalog(context: ParserContext, metrics: Iterable[tuple[str, str]] = (),
                  entities: Iterable[tuple[str, str]] = ()) -> None:
    """Configured metric keys and entity ids must exist, so that a typo stops start-up instead of
    dead-lettering every reading. Each pair is (option key path, value)."""
    for key, metric in metrics:
        if metric not in context.config.metrics:
            raise ParserOptionsError(key, f"unknown metric '{metric}' (not in metrics.yaml)")
    for key, entity in entities:
        if entity not in context.config.entities:
            raise ParserOptionsError(key, f"unknown entity '{entity}' (not in the region file)")


def show(raw: Any) -> str:
    return repr(excerpt(raw, 64)) if isinstance(raw, str) else excerpt(json_excerpt(raw), 64)


def type_name(raw: Any) -> str:
    return {dict: "object", list: "array", type(None): "null", bool: "boolean", str: "string",
            int: "number", float: "number"}.get(type(raw), type(raw).__name__)


# --- options -------------------------------------------------------------------------------------------

class Scaling(ParserOptions):
    """A unit conversion: value = raw * scale + offset."""

    scale: float = 1.0
    offset: float = 0.0

    @field_validator("scale", "offset")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class ValueSpec(Scaling):
    """One metric read from a field path of a record."""

    field: str = Field(min_length=1)


class Defaults(ParserOptions):
    time: Literal["error", "received"] = "error"  # a record without a time: an error, or the time of receipt


class RecordOptions(ParserOptions):
    """Options shared by json_mapping and csv_table: how a record names its entity and its time."""

    time_format: str = "iso8601"
    timezone: str = "Asia/Ho_Chi_Minh"
    defaults: Defaults = Defaults()
    entity_map: dict[str, str] = {}
    entity_prefix: str = ""

    @field_validator("time_format")
    @classmethod
    def _format(cls, value: str) -> str:
        return check_time_format(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value


def require_time_source(value: str | None, info: ValidationInfo) -> str | None:
    """For options validators: no time field/column is allowed only with defaults: {time: received}."""
    defaults = info.data.get("defaults")
    if value is None and defaults is not None and defaults.time != "received":
        raise ValueError(f"give '{info.field_name}' or defaults: {{time: received}}")
    return value


class JsonMappingOptions(RecordOptions):
    records: str = ""
    entity: str = Field(min_length=1)
    time: str | None = Field(None, validate_default=True)
    values: dict[str, ValueSpec] = Field(min_length=1)

    _time_source = field_validator("time")(require_time_source)


# --- the parser ----------------------------------------------------------------------------------------

class RecordReader:
    """Reads a record's entity and time the same way for json_mapping and csv_table."""

    def __init__(self, options: RecordOptions, clock: Callable[[], datetime]):
        self.options = options
        self.tz = zone(options.timezone)
        self.clock = clock

    def entity(self, raw: Any) -> str | None:
        key = entity_key(raw)
        if key is None:
            return None
        return self.options.entity_map.get(key) or self.options.entity_prefix + key

    def time(self, raw: Any, received: datetime) -> datetime | None:
        """The time in `raw`; for a missing one (absent, null, blank) the time of receipt with
        defaults: {time: received}, else None. ValueError when the time is there but unreadable."""
        if raw is None or raw is _MISSING or (isinstance(raw, str) and not raw.strip()):
            return received if self.options.defaults.time == "received" else None
        return parse_time(raw, self.options.time_format, self.tz)


def scaled(number: float, spec: Any) -> float:
    """number * scale + offset; an overflow gives inf, which ingest rejects as not finite."""
    try:
        return number * spec.scale + spec.offset
    except OverflowError:
        return math.inf


class JsonMappingParser:
    def __init__(self, options: JsonMappingOptions, context: ParserContext):
        self.options = options
        self.reader = RecordReader(options, context.clock)
        self.clock = context.clock

    def __call__(self, source: str, payload: bytes) -> Parsed:
        out = Parsed()
        ok, document = load_json(payload, out)
        if not ok:
            return out
        opts = self.options
        records = get_path(document, opts.records)
        where = f"'{opts.records}'" if opts.records else "the document root"
        if not isinstance(records, list):
            found = "nothing" if records is _MISSING else type_name(records)
            out.errors.append(ParseError(f"expected a list of records at {where}, found {found}", excerpt(payload)))
            return out
        if not records:
            out.errors.append(ParseError(f"empty list of records at {where}", excerpt(payload)))
            return out
        received = self.clock()
        for index, record in enumerate(records):
            self._record(index, record, received, out)
        return out

    def _record(self, index: int, record: Any, received: datetime, out: Parsed) -> None:
        opts = self.options
        if not isinstance(record, dict):
            out.errors.append(ParseError(f"record {index}: expected an object, got {type_name(record)}",
                                         json_excerpt(record)))
            return
        raw_entity = get_path(record, opts.entity)
        entity = self.reader.entity(raw_entity)
        if entity is None:
            problem = "is missing" if raw_entity is _MISSING else f"is not a name ({type_name(raw_entity)})"
            out.errors.append(ParseError(f"record {index}: entity field '{opts.entity}' {problem}",
                                         json_excerpt(record)))
            return
        try:
            ts = self.reader.time(get_path(record, opts.time) if opts.time else _MISSING, received)
        except ValueError as exc:
            ts, reason = None, str(exc)
        else:
            reason = f"time field '{opts.time}' is missing"
        if ts is None:
            out.errors.append(ParseError(f"record {index}: {reason}", json_excerpt(record)))
            return
        for metric, spec in opts.values.items():
            raw = get_path(record, spec.field)
            number = None if raw is _MISSING else to_number(raw)
            if number is None:
                problem = "is missing" if raw is _MISSING else f"is not a number: {show(raw)}"
                out.errors.append(ParseError(f"record {index}: {metric}: field '{spec.field}' {problem}",
                                             json_excerpt(record)))
                continue
            out.readings.append(Reading(entity, metric, ts, scaled(number, spec)))


@register_parser("json_mapping", JsonMappingOptions)
def json_mapping_parser(options: JsonMappingOptions, context: ParserContext) -> JsonMappingParser:
    check_catalog(context, metrics=[(f"values.{m}", m) for m in options.values],
                  entities=[(f"entity_map.{k}", e) for k, e in options.entity_map.items()])
    return JsonMappingParser(options, context)


