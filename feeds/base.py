"""The feed contract: a parser turns one payload into candidate readings and per-item errors.

Parsers only check structure (is it JSON, is the value a number, is the time a time); whether the
entity, metric and value make sense is checked once, for every feed alike, by ioc.ingest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ioc.models import Reading


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
PARSERS: dict[str, Parser] = {}


def register_parser(name: str) -> Callable[[Parser], Parser]:
    def register(parser: Parser) -> Parser:
        if name in PARSERS:
            raise ValueError(f"parser '{name}' is already registered")
        PARSERS[name] = parser
        return parser
    return register


def excerpt(data: bytes | str, limit: int = 512) -> str:
    """A printable, bounded excerpt of an input for a dead letter."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    text = text.replace("\x00", "\\x00")
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"
