"""Transports: how a feed's bytes arrive (MQTT, HTTP poll, HTTP push, the simulator's publishing), and
the feed contract every parser implements (`contract`).

A feed's `transport:` names an entry of `TRANSPORTS`, as its `parser:` names one of `contract.PARSERS`.
The composition root (`ioc.runtime.register_plugins`) registers them; the runtime then starts each
enabled feed through its transport's entry, without knowing what the transport is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

    from ioc.config import Config, FeedSpec, MqttSettings
    from ioc.ingest import Ingestor
    from ioc.transports.contract import Parser
    from ioc.transports.mqtt import BrokerAddress


@dataclass(frozen=True)
class TransportContext:
    """What a transport may use to run a feed: the parsers, the ingestor, the scheduler, the broker."""

    config: Config
    parsers: dict[str, Parser]
    ingestor: Ingestor
    scheduler: BaseScheduler | None = None
    broker: BrokerAddress | None = None
    mqtt_settings: MqttSettings | None = None


Stop = Callable[[], None]
Starter = Callable[["FeedSpec", TransportContext], Stop | None]


@dataclass(frozen=True)
class Transport:
    """One `transport:` value.

    subscribed: the feed's topic is read by the process's MQTT subscriber (which routes each message
    to the feed whose topic matches it most specifically).
    start: runs one enabled feed in the roles listed; returns how to stop it (None: nothing to stop).
    options: the model of the feed's `options:` when they belong to the transport (the parser then
    gets none); None when they are the parser's.
    requires: the feed fields this transport cannot work without (checked with the parsers, before
    anything connects).
    """

    subscribed: bool = False
    start: Starter | None = None
    roles: tuple[str, ...] = ()
    options: type[BaseModel] | None = None
    requires: tuple[str, ...] = ()  # FeedSpec fields a feed of this transport must set

    def problem(self, spec: FeedSpec) -> str | None:
        """Why a feed cannot use this transport (a required field is missing); None when it can."""
        missing = [name for name in self.requires if not getattr(spec, name)]
        if missing:
            return f"a feed with transport '{spec.transport}' needs {' and '.join(missing)}"
        return None


TRANSPORTS: dict[str, Transport] = {}


def register_transport(name: str, transport: Transport) -> None:
    if name in TRANSPORTS:
        raise ValueError(f"transport '{name}' is already registered")
    TRANSPORTS[name] = transport


def transport_of(spec: FeedSpec) -> Transport:
    """The registered transport of a feed; KeyError names it when nothing registered it."""
    try:
        return TRANSPORTS[spec.transport]
    except KeyError:
        raise KeyError(f"transport '{spec.transport}' is not registered "
                       f"(known: {', '.join(sorted(TRANSPORTS)) or 'none'})") from None


def start_feeds(context: TransportContext, role: str, skip: Callable[[FeedSpec], bool] = lambda spec: False
                ) -> list[Stop]:
    """Start every enabled feed whose transport runs in `role`; the stops, in start order."""
    stops: list[Stop] = []
    for spec in context.config.feeds:
        transport = transport_of(spec)
        if not spec.enabled or transport.start is None or role not in transport.roles or skip(spec):
            continue
        if (stop := transport.start(spec, context)) is not None:
            stops.append(stop)
    return stops

