"""The feed contract: a parser turns one payload into candidate readings and per-item errors.

Parsers only check structure (is it JSON, is the value a number, is the time a time); whether the
entity, metric and value make sense is checked once, for every feed alike, by ioc.ingest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ioc.config import Config, ConfigError
from ioc.models import Reading
from ioc.transports import transport_of


@dataclass(slots=True)
class ParseError:
    reason: str
    excerpt: str


@dataclass(slots=True)
class Parsed:
    readings: list[Reading] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)
    domain: str | None = None  # the domain the source claims (e.g. from the MQTT topic), checked by ingest


Parser = Callable[[str, bytes], Parsed]


class ParserOptions(BaseModel):
    """Base of a parser's options (the `options:` of a feed in feeds.yaml); unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ParserContext:
    config: Config
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


ParserFactory = Callable[[Any, ParserContext], Parser]


@dataclass(frozen=True)
class ParserSpec:
    factory: ParserFactory
    options: type[ParserOptions]


PARSERS: dict[str, ParserSpec] = {}


def register_parser(name: str, options: type[ParserOptions] = ParserOptions
                    ) -> Callable[[ParserFactory], ParserFactory]:
    """Register a parser factory: factory(validated options, context) -> Parser."""
    def register(factory: ParserFactory) -> ParserFactory:
        if name in PARSERS:
            raise ValueError(f"parser '{name}' is already registered")
        PARSERS[name] = ParserSpec(factory, options)
        return factory
    return register


class ParserOptionsError(ValueError):
    def __init__(self, key: str, reason: str):
        self.key, self.reason = key, reason
        super().__init__(f"{key}: {reason}" if key else reason)


def build_parser(name: str, options: Mapping[str, Any] | None, context: ParserContext) -> Parser:
    """The parser `name` configured with `options`; ParserOptionsError names the bad option."""
    spec = PARSERS.get(name)
    if spec is None:
        raise ParserOptionsError("", f"unknown parser '{name}' (known: {', '.join(sorted(PARSERS))})")
    try:
        validated = spec.options.model_validate(dict(options or {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        reason = "unknown key" if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, ")
        raise ParserOptionsError(".".join(str(p) for p in first["loc"]), reason) from None
    return spec.factory(validated, context)


def load_json(payload: bytes, out: Parsed) -> tuple[bool, Any]:
    """(True, document) or (False, None) with the reason appended to out.errors; a BOM is accepted."""
    try:
        return True, json.loads(payload.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        out.errors.append(ParseError(f"invalid UTF-8 at byte {exc.start}", excerpt(payload)))
    except RecursionError:
        out.errors.append(ParseError("JSON nested too deeply", excerpt(payload)))
    except ValueError as exc:  # JSONDecodeError, and integers longer than Python's digit limit
        out.errors.append(ParseError(f"invalid JSON: {exc}", excerpt(payload)))
    return False, None


def as_number(value: Any) -> float | None:
    """A JSON number as float; None for booleans, non-numbers and integers too large for a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def excerpt(data: bytes | str, limit: int = 512) -> str:
    """A printable, bounded excerpt of an input for a dead letter."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    text = text.replace("\x00", "\\x00")
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


def feed_parsers(config: Config, clock: Callable[[], datetime] | None = None) -> dict[str, Parser]:
    """Every configured feed's parser, built and checked before anything connects (with the options of
    its transport, where the transport has its own). Parsers and transports must be registered first."""
    context = ParserContext(config, clock) if clock else ParserContext(config)
    parsers = {}
    for i, spec in enumerate(config.feeds):
        if not spec.enabled:  # validated against the active region only when it runs (a disabled feed may
            continue          # name the entities of another region file)
        try:
            transport = transport_of(spec)
        except KeyError as exc:
            raise ConfigError(config.config_dir / "feeds.yaml", f"feeds.{i}.transport", exc.args[0]) from None
        if problem := transport.problem(spec):
            raise ConfigError(config.config_dir / "feeds.yaml", f"feeds.{i}", problem)
        try:
            if transport.options is not None:  # the options are the transport's, the parser takes none
                transport.options.model_validate(spec.options)
            parsers[spec.name] = build_parser(spec.parser, spec.options if transport.options is None else {},
                                              context)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            reason = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
            raise ConfigError(config.config_dir / "feeds.yaml", f"feeds.{i}.options.{key}", reason) from None
        except ParserOptionsError as exc:
            where = f"feeds.{i}.options.{exc.key}" if exc.key else f"feeds.{i}.parser"
            raise ConfigError(config.config_dir / "feeds.yaml", where, exc.reason) from None
        except ValueError as exc:
            raise ConfigError(config.config_dir / "feeds.yaml", f"feeds.{i}.options", str(exc)) from None
    return parsers


def expand_topic(config: Config, topic: str) -> list[str]:
    """A feed's topic below the configured prefix, once per domain where it says {domain}."""
    prefix = config.settings.mqtt.topic_prefix
    if "{domain}" in topic:
        return [f"{prefix}/{topic.replace('{domain}', d)}" for d in config.domains]
    return [f"{prefix}/{topic}"]
