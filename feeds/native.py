"""The native MQTT contract.

Topic ``<prefix>/<domain>/<entity_id>``; payload one object or a JSON array of objects::

    {"ts": "2026-11-27T08:00:00+07:00" | 1795741200, "values": {"<metric>": <number>, ...},
     "entity": "<optional override of the topic's entity>"}
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import msgspec

from ioc.models import Reading
from ioc.transports.contract import (
    Parsed,
    ParseError,
    ParserContext,
    ParserOptions,
    excerpt,
    load_json,
    register_parser,
)


def parse_ts(raw: Any) -> datetime:
    if isinstance(raw, bool) or raw is None:
        raise ValueError(f"ts must be ISO 8601 with an offset or epoch seconds, got {raw!r}")
    if isinstance(raw, int | float):
        if not math.isfinite(raw):
            raise ValueError(f"ts is not finite: {raw!r}")
        try:
            return datetime.fromtimestamp(raw, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"ts out of range: {raw!r}") from None
    if isinstance(raw, str):
        try:
            ts = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"ts is not ISO 8601: {excerpt(raw, 64)!r}") from None
        if ts.tzinfo is None:
            raise ValueError(f"ts has no UTC offset: {excerpt(raw, 64)!r}")
        return ts.astimezone(UTC)
    raise ValueError(f"ts must be ISO 8601 with an offset or epoch seconds, got {type(raw).__name__}")


def _parse_object(obj: Any, default_entity: str | None, out: Parsed) -> None:
    if not isinstance(obj, dict):
        out.errors.append(ParseError(f"expected an object, got {type(obj).__name__}", excerpt(json.dumps(obj))))
        return
    entity = obj.get("entity", default_entity)
    values = obj.get("values")
    problem = None
    if not isinstance(entity, str) or not entity:
        problem = "no entity: neither in the object nor in the topic"
    elif not isinstance(values, dict) or not values:
        problem = "'values' must be a non-empty object of metric: number"
    else:
        try:
            ts = parse_ts(obj.get("ts"))
        except ValueError as exc:
            problem = str(exc)
    if problem:
        out.errors.append(ParseError(problem, excerpt(json.dumps(obj, ensure_ascii=False, default=str))))
        return
    for metric, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            out.errors.append(ParseError(f"value of '{excerpt(metric, 64)}' is not a number",
                                         excerpt(json.dumps({metric: value}, ensure_ascii=False))))
            continue
        try:
            number = float(value)
        except OverflowError:
            out.errors.append(ParseError(f"value of '{excerpt(metric, 64)}' is out of range",
                                         excerpt(str(value), 64)))
            continue
        out.readings.append(Reading(entity, metric, ts, number))


class _Object(msgspec.Struct, gc=False):
    """One well-formed native object, as msgspec decodes and type-checks it in C (no dict per object)."""

    ts: float | str
    values: dict[str, float]  # a bool, a string, NaN or an out-of-range number is not a float here
    entity: str | msgspec.UnsetType = msgspec.UNSET  # present but null is not a str: the slow path says why


_DECODE_WELL_FORMED = msgspec.json.Decoder(list[_Object] | _Object).decode


def _parse_well_formed(payload: bytes, default_entity: str | None, out: Parsed) -> bool:
    """The hot path: True with every reading in out when the whole payload is well formed; False (out
    untouched) for anything else, which the general path then parses with a reason per problem."""
    try:
        document = _DECODE_WELL_FORMED(payload)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return False
    objects = document if isinstance(document, list) else [document]
    readings: list[Reading] = []
    times: dict[float | str, datetime] = {}  # a gateway's batch shares a few instants between many objects
    for obj in objects:
        entity = default_entity if obj.entity is msgspec.UNSET else obj.entity
        if not entity or not obj.values:
            return False
        ts = times.get(obj.ts)
        if ts is None:
            try:
                ts = times[obj.ts] = parse_ts(obj.ts)
            except ValueError:
                return False
        readings.extend([Reading(entity, metric, ts, value) for metric, value in obj.values.items()])
    if not readings:  # an empty batch
        return False
    out.readings = readings
    return True


def parse(topic: str, payload: bytes) -> Parsed:
    levels = topic.split("/")
    out = Parsed(domain=levels[1] if len(levels) == 3 else None)
    default_entity = levels[2] if len(levels) == 3 and levels[2] else None
    if not _parse_well_formed(payload, default_entity, out):
        _parse_general(payload, default_entity, out)
    return out


def _parse_general(payload: bytes, default_entity: str | None, out: Parsed) -> None:
    """Any payload, object by object: what is well formed becomes readings, the rest errors with a reason."""
    ok, document = load_json(payload, out)
    if not ok:
        return
    for obj in document if isinstance(document, list) else [document]:
        _parse_object(obj, default_entity, out)
    if isinstance(document, list) and not document:
        out.errors.append(ParseError("empty batch", excerpt(payload)))


def encode(readings: Iterable[Reading]) -> bytes:
    """Readings as one native batch: one object per (entity, time), each naming its entity."""
    grouped: dict[tuple[str, datetime], dict[str, float]] = {}
    for r in readings:
        grouped.setdefault((r.entity, r.ts), {})[r.metric] = r.value
    return json.dumps([{"entity": e, "ts": ts.timestamp(), "values": v} for (e, ts), v in grouped.items()],
                      separators=(",", ":")).encode()


@register_parser("native")
def native_parser(options: ParserOptions, context: ParserContext):
    return parse
