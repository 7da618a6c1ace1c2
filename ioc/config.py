"""Configuration: YAML files in the config folder validated into typed settings.

Every file is validated with pydantic models that forbid unknown keys, so a misspelt key stops
start-up instead of being silently ignored. Errors name the file, the key path and the reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_TIMEDELTA = TypeAdapter(timedelta)


def parse_duration(value: Any) -> timedelta:
    """Accept '500ms', '30s', '5m', '1h', '7d', a number of seconds, or a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '30s', '5m', '1h' or '7d'")
    if isinstance(value, int | float):
        try:
            return timedelta(seconds=value)
        except (OverflowError, ValueError):
            raise ValueError(f"not a usable duration: {value!r}") from None
    if isinstance(value, str) and (match := _DURATION.match(value)):
        try:
            return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
        except OverflowError:
            raise ValueError(f"duration too long: {value!r}") from None
    if isinstance(value, str) and value.startswith(("P", "-P")):  # ISO 8601, as stored rules serialise
        try:
            return _TIMEDELTA.validate_python(value)
        except ValidationError:
            pass
    raise ValueError(f"expected a duration such as '30s', '5m', '1h' or '7d', got {value!r}")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    """A visible string in Vietnamese (first) and English."""

    vi: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi


# --- ioc.yaml -------------------------------------------------------------------------------

class DatabaseSettings(Strict):
    url: str | None = None  # None: start the embedded PostgreSQL

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        # Checked here so that a bad value is a config error naming the key, not a start-up traceback.
        from psycopg.conninfo import conninfo_to_dict

        if url is not None:
            try:
                conninfo_to_dict(url)
            except Exception:
                raise ValueError("not a PostgreSQL URL (postgresql://user@host:port/db) or connection string") \
                    from None
        return url
    embedded_dir: Path = Path("var/pg")
    pool_min: int = Field(2, ge=1)
    pool_max: int = Field(10, ge=1)


class StorageSettings(Strict):
    timescaledb: Literal["auto", "off"] = "auto"
    raw_retention: Duration = timedelta(days=90)
    partition_interval: Duration = timedelta(days=7)
    minute_retention: Duration = timedelta(days=365)  # per-minute rollups kept this long
    hour_retention: Duration = timedelta(days=3650)  # per-hour rollups kept this long
    rollup_refresh: Duration = timedelta(seconds=30)  # how often the rollup job runs (both paths)
    compress_after: Duration = timedelta(days=7)  # TimescaleDB: raw chunks older than this are compressed


class MqttSettings(Strict):
    url: str | None = None  # None: start the embedded broker

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        if url is not None:
            parts = urlsplit(url)
            try:
                parts.port  # noqa: B018 (raises on a port that is not a number)
            except ValueError:
                raise ValueError("the port of the MQTT URL is not a number") from None
            if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
                raise ValueError("not an MQTT URL (mqtt://[user:password@]host[:port] or mqtts://…)")
        return url
    embedded_port: int = Field(18830, ge=1, le=65535)
    topic_prefix: str = Field("ioc", pattern=r"^[A-Za-z0-9_\-]+$")
    client_id: str = "ioc-ingest"
    # Ingest workers share the load through `$share/<shared_group>/<topic>` (None: a plain subscription,
    # unless app.py --ingest-only --worker N is given, which shares under the client id).
    shared_group: str | None = Field(None, pattern=r"^[A-Za-z0-9_\-]+$")
    protocol: Literal[5, 311] = 5
    receive_maximum: int = Field(5000, ge=1, le=65535)
    session_expiry: Duration = timedelta(days=1)
    keepalive: int = Field(30, ge=5)
    ca_file: str | None = None  # CA bundle that signed the broker's certificate (mqtts://); None: the system's


class IngestSettings(Strict):
    batch_max_rows: int = Field(20_000, ge=1)
    batch_max_delay: Duration = timedelta(milliseconds=50)
    queue_max_messages: int = Field(20000, ge=10)
    queue_max_readings: int = Field(200_000, ge=1000)  # and at most this many readings: memory stays bounded
    max_payload_bytes: int = Field(1_048_576, ge=256)
    future_tolerance: Duration = timedelta(minutes=5)
    spool_dir: Path = Path("var/spool")  # where readings wait while the database is down
    spool_max_bytes: int = Field(1_073_741_824, ge=65_536)  # full: stop acknowledging, the broker keeps the rest


class HttpSettings(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8050, ge=1, le=65535)
    threads: int = Field(8, ge=1)
    # Addresses (or networks) of the reverse proxies in front of the UI: only their X-Forwarded-For is
    # believed when counting failed sign-ins per client address. Empty: the header is ignored.
    trusted_proxies: list[str] = []

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value


WALL_VIEW = r"^(overview|domain:[A-Za-z0-9_\-]+|area:[A-Za-z0-9_\-]+)$"


class WallSettings(Strict):
    """The unattended wall screen (/wall): a playlist of views shown in turn."""

    # overview | domain:<domain key> | area:<area code>; the URL (?views=...&interval=...) overrides both
    views: list[Annotated[str, Field(pattern=WALL_VIEW)]] = Field(["overview"], min_length=1)
    interval: Duration = Field(timedelta(seconds=30), ge=timedelta(seconds=5))  # time on each view
    # Between two polls of the server. A reading must show within 5 s end to end: 4 s of polling plus
    # ingest, alert evaluation and the refresh itself (well under 1 s).
    refresh: Duration = Field(timedelta(seconds=4), ge=timedelta(seconds=1))
    new_alerts: Duration = timedelta(minutes=15)  # firing alerts this recent join the critical ones on the banner


class UiSettings(Strict):
    language: Literal["vi", "en"] = "vi"
    timezone: str = "Asia/Ho_Chi_Minh"

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, name: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(name)
        except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"unknown time zone {name[:64]!r} (an IANA name such as Asia/Ho_Chi_Minh)") from None
        return name
    refresh: Duration = timedelta(seconds=5)
    chart_window: Duration = timedelta(hours=6)
    # Maps draw from coordinates alone; an on-premises tile server (XYZ URL with {z}/{x}/{y}) is optional.
    map_tiles: str | None = Field(None, pattern=r"^https?://.*\{z\}.*\{x\}.*\{y\}")
    wall: WallSettings = WallSettings()


class SimulatorSettings(Strict):
    """The `options:` of a feed with `transport: simulator`."""

    seed: int = 42
    interval: Duration = timedelta(seconds=5)  # wall-clock time between published rounds
    entity_limit: int | None = Field(None, ge=1)  # publish for the first N entities only
    anomaly_rate: float = Field(0.002, ge=0, le=1)  # chance per entity-round of a threshold-crossing value
    backfill: Duration = timedelta(hours=24)  # history written through the broker at first start


class SmtpSettings(Strict):
    """An SMTP relay and who receives the mail (alert e-mails, the daily brief)."""

    host: str = Field(min_length=1)
    port: int = Field(25, ge=1, le=65535)
    starttls: bool = False
    ssl: bool = False                     # implicit TLS (port 465); exclusive with starttls
    username_env: str | None = None       # names of environment variables, never the secrets
    password_env: str | None = None
    sender: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    recipients: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]] = Field(min_length=1)
    subject_prefix: str = "[IOC]"
    timeout: Duration = timedelta(seconds=10)

    @model_validator(mode="after")
    def _one_tls(self) -> SmtpSettings:
        if self.starttls and self.ssl:
            raise ValueError("choose either starttls or ssl, not both")
        if self.password_env and not self.username_env:
            raise ValueError("password_env needs username_env")
        return self

    @field_validator("timeout")
    @classmethod
    def _timeout_positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be a positive duration")
        return value


class BriefSettings(Strict):
    """The daily brief for leaders: built each morning for the previous local day."""

    enabled: bool = True                  # false: no scheduled build (the CLI still builds on demand)
    at: str = Field("06:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # local time of the daily build
    timezone: str = "Asia/Ho_Chi_Minh"    # whose "yesterday" and whose 06:00
    languages: list[Literal["vi", "en"]] = Field(default_factory=lambda: ["vi"], min_length=1)
    catch_up_days: int = Field(7, ge=0, le=90)  # at start, build missed briefs this many days back
    catch_up_delay: Duration = timedelta(seconds=30)  # after start: let feeds deliver what they buffered first
    email: SmtpSettings | None = None     # send the PDF to these recipients after each scheduled build

    @model_validator(mode="after")
    def _known_zone(self) -> BriefSettings:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.timezone!r}") from None
        return self


class Settings(Strict):
    database: DatabaseSettings = DatabaseSettings()
    storage: StorageSettings = StorageSettings()
    mqtt: MqttSettings = MqttSettings()
    ingest: IngestSettings = IngestSettings()
    http: HttpSettings = HttpSettings()
    ui: UiSettings = UiSettings()
    brief: BriefSettings = BriefSettings()
    region_file: str = "region.yaml"


# --- region.yaml ----------------------------------------------------------------------------

class Area(Strict):
    code: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    name: Text
    level: Text
    centroid: tuple[float, float]  # (lat, lon)
    population: int | None = Field(None, ge=0)
    children: list[Area] = []

    def walk(self, parent: str | None = None, depth: int = 0):
        """Yield (area, parent code, depth) for this area and every descendant."""
        yield self, parent, depth
        for child in self.children:
            yield from child.walk(self.code, depth + 1)


class EntityThresholds(Strict):
    """A site's own alarm levels for one metric (a river gauge's BĐ1/BĐ3 on its own datum)."""

    warning: float
    critical: float
    source: str = Field(min_length=1)


class Entity(Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_\-]+$", max_length=64)
    kind: str
    area: str
    name: Text
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    attrs: dict[str, float | int | str] = {}
    thresholds: dict[str, EntityThresholds] = {}


class Identity(Strict):
    """Who the operations centre is, as its documents name it: the region's data, never code."""

    short_name: Text                     # "IOC Bắc Giang": the web title, PDF footers, e-mail subjects
    title: Text                          # the issuing body of the daily brief (the centre itself)
    authority: Text                      # the body it reports to, printed above it (UBND tỉnh …)
    place: Text                          # the place in the brief's date line ("Bắc Giang, ngày …")
    recipients: list[Text] = []          # the brief's "Nơi nhận" list
    # Who answers for a breach: a rule's `team` label names one of these; a rule without one falls back to its
    # domain's agency (domain_agencies). The brief's "Những vấn đề cần lưu ý" names them.
    agencies: dict[str, Text] = {}
    domain_agencies: dict[str, str] = {}


class Region(Strict):
    region: Area
    identity: Identity | None = None  # None: derived from the root area's name
    boundaries: str | None = None  # optional GeoJSON file, relative to the config folder
    entities: list[Entity]


# --- metrics.yaml ---------------------------------------------------------------------------

class Domain(Strict):
    key: str = Field(pattern=r"^[a-z_]+$")
    name: Text
    icon: str = ""
    # One of the plan's five priority domains: shown on the overview and wall screens and simulated in the
    # demo. Other domains (the digital-government plan targets) are entered by hand and read in the brief.
    priority: bool = True


class Kind(Strict):
    key: str = Field(pattern=r"^[a-z_]+$")
    domain: str
    name: Text
    metrics: list[str] = Field(min_length=1)


# Where a metric's alarm levels apply (see `Thresholds.scope`), from the narrowest to the widest.
SCOPES = ("site", "area", "province")


class Thresholds(Strict):
    direction: Literal["above", "below"]
    warning: float
    critical: float
    source: str = Field(min_length=1)
    # The figure these levels judge: one site's reading, an area's combined figure, or the province's.
    # A wider figure is as bad as its worst part at this scope (and names it); a narrower one is not judged.
    scope: Literal["site", "area", "province"] = "site"  # a catalog metric must declare it (Metric checks)
    # Levels per this many residents (e.g. 100000): the figure of any scope is divided by that scope's
    # population first (a site counts its area's), so one set of levels judges districts and the province.
    per_population: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        worse = self.critical >= self.warning if self.direction == "above" else self.critical <= self.warning
        if not worse:
            raise ValueError(f"critical must be beyond warning for direction '{self.direction}'")
        return self


class Target(Strict):
    """A plan target for a metric: reach `value` by the end of `year`."""

    year: int = Field(ge=2000, le=2100)
    value: float
    source: str = Field(min_length=1)


# How a metric's `across` combines values in SQL and numpy (a chart's province line, an area figure).
# A weighted mean is plain in SQL charts; the worst site has no single line (charts draw each site).
_ACROSS_AGGREGATION = {"sum": "sum", "mean": "avg", "weighted_mean": "avg", "max": "max", "min": "min",
                       "worst_site": "max"}


class ComputedFrom(Strict):
    """A figure computed from other metrics' day totals instead of entered: sum(numerator) / denominator, in %,
    over the `window` before the day's end, all sites together (a plan target read from live data)."""

    numerator: list[str] = Field(min_length=1)
    denominator: str
    window: Duration = timedelta(days=30)


class Metric(Strict):
    key: str = Field(pattern=r"^[a-z0-9_]+$")
    domain: str
    unit: str | Text  # a symbol ("%", "mm") or words in both languages
    label: Text
    # What the number is: a level (a stage, a temperature, a stock), a share (%, ratio), a count of events
    # over a period, a rate (per hour, per vehicle), a cumulative total, or an index (VN_AQI, a risk level).
    kind: Literal["level", "share", "count", "rate", "total", "index"]
    # How sites combine into an area or province figure: summed, averaged (weighted by an entity
    # attribute, `weight`, where the sites differ in size), the max or min, or the worst site judged by its
    # own levels (site-bound levels on their own datums: the figure is that site's reading).
    across: Literal["sum", "mean", "weighted_mean", "max", "min", "worst_site"]
    weight: str | None = None  # the entity attribute weighting a weighted_mean (beds, students)
    # How a series combines over a day (the brief): its mean, its day total, its max or min, or its last.
    over_time: Literal["mean", "day_total", "max", "min", "last"]
    cadence: Duration
    valid_range: tuple[float, float]
    thresholds: Thresholds | None = None
    headline: bool = False
    targets: list[Target] = []  # plan targets (the brief's progress table), earliest year first
    computed_from: ComputedFrom | None = None  # None: read (or entered) as readings
    # When the source sends: always, or only during school hours on school days (ioc.holidays): a school
    # silent at night or in the summer break is not missing data.
    reports: Literal["always", "school_hours"] = "always"
    source: str = Field(min_length=1)

    def unit_text(self, lang: str) -> str:
        return self.unit if isinstance(self.unit, str) else self.unit.get(lang)

    @property
    def aggregation(self) -> str:
        """How values combine across entities in SQL and numpy: avg, sum, max or min (from `across`)."""
        if self.across == "worst_site" and self.thresholds and self.thresholds.direction == "below":
            return "min"
        return _ACROSS_AGGREGATION[self.across]

    def thresholds_for(self, entity: Entity) -> Thresholds | None:
        """The entity's own levels for this metric where it has them, else the catalog's."""
        own = entity.thresholds.get(self.key)
        if own is None or self.thresholds is None:
            return self.thresholds
        return self.thresholds.model_copy(update={"warning": own.warning, "critical": own.critical,
                                                  "source": own.source})

    @model_validator(mode="after")
    def _range(self) -> Metric:
        if self.valid_range[0] >= self.valid_range[1]:
            raise ValueError("valid_range must be [low, high] with low < high")
        years = [target.year for target in self.targets]
        if years != sorted(set(years)):
            raise ValueError("targets must have distinct years, earliest first")
        if (self.across == "weighted_mean") != (self.weight is not None):
            raise ValueError("across 'weighted_mean' needs a weight (an entity attribute), and only it takes one")
        if self.kind in ("share", "index") and self.across == "sum":
            raise ValueError(f"a {self.kind} cannot be summed across sites (use mean, weighted_mean, max or min)")
        if self.kind == "count" and self.across not in ("sum", "max"):
            raise ValueError("a count combines across sites by sum (or max for the busiest site)")
        if self.over_time == "day_total" and self.kind not in ("count", "rate"):
            raise ValueError("only counts and rates add up to a day total")
        if self.thresholds and "scope" not in self.thresholds.model_fields_set:
            raise ValueError("thresholds must declare their scope: site, area or province")
        if self.across == "worst_site" and (self.thresholds is None or self.thresholds.scope != "site"):
            raise ValueError("across 'worst_site' needs thresholds with scope 'site' (each site's own levels)")
        if self.thresholds and self.thresholds.per_population and self.kind not in ("count", "rate", "total"):
            raise ValueError("per_population scales counts, rates and totals only")
        return self


class Catalog(Strict):
    domains: list[Domain] = Field(min_length=1)
    kinds: list[Kind] = Field(min_length=1)
    metrics: list[Metric] = Field(min_length=1)


# --- feeds.yaml -----------------------------------------------------------------------------

class FeedAuth(Strict):
    """A credential sent with each request. Only the name of the environment variable is configured;
    the secret itself never appears in config files, logs or dead letters."""

    env: str = Field(pattern=r"^[A-Z_][A-Z0-9_]*$")
    header: str = "Authorization"
    scheme: str | None = "Bearer"


class FeedSpec(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$", max_length=64)
    transport: str = Field(pattern=r"^[a-z][a-z0-9_]*$")  # a name in ioc.transports.TRANSPORTS
    parser: str = "native"
    domain: str | None = None
    topic: str | None = None  # mqtt, simulator: below mqtt.topic_prefix; "{domain}" expands to each domain
    url: str | None = None  # http_poll
    interval: Duration | None = None  # http_poll
    timeout: Duration = timedelta(seconds=10)
    retries: int = Field(2, ge=0, le=10)
    auth: FeedAuth | None = None
    token_env: str | None = Field(None, pattern=r"^[A-Z_][A-Z0-9_]*$")  # http_push: the source's token
    entities: list[str] | None = None  # http_push: the only entities its token may write (None: its domain's)
    stale_after: Duration
    enabled: bool = True
    options: dict[str, Any] = {}

    @model_validator(mode="after")
    def _http_url(self) -> FeedSpec:
        # What each transport needs (a topic, a url...) is its own (ioc.transports.Transport.requires).
        if self.entities is not None and self.transport != "http_push":
            raise ValueError("entities is an option of http_push feeds")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return self


class FeedsFile(Strict):
    feeds: list[FeedSpec]


# --- errors and loading ---------------------------------------------------------------------

class ConfigError(Exception):
    """A configuration problem: which file, which key, and why."""

    def __init__(self, file: Path | str, key: str, reason: str):
        self.file, self.key, self.reason = str(file), key, reason
        super().__init__(f"{self.file}: {self.key or '<root>'}: {reason}")


def _key_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, list | dict):
                raise yaml.constructor.ConstructorError(None, None, "a mapping key must be a scalar",
                                                        key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, "", f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader) or {}
    except RecursionError:
        raise ConfigError(path, "", "nested too deeply") from None
    except ValueError as exc:  # e.g. an integer longer than Python converts (4300 digits)
        raise ConfigError(path, "", f"invalid value: {str(exc)[:200]}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(path, "", f"invalid YAML: {where}{getattr(exc, 'problem', exc)}") from None


def validate_file(model: type[BaseModel], data: Any, path: Path, under: str = "") -> Any:
    """Validate `data` (the part of the file at key `under`) into `model`; ConfigError names file and key."""
    try:
        return model.model_validate(data)
    except RecursionError:  # a YAML alias that contains itself
        raise ConfigError(path, under, "nested too deeply (a recursive alias?)") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        reason = "unknown key" if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, ")
        raise ConfigError(path, _key_path(((under,) if under else ()) + tuple(first["loc"])), reason) from None


_ENV_OVERRIDES = {
    "IOC_DATABASE_URL": ("database", "url", str),
    "IOC_MQTT_URL": ("mqtt", "url", str),
    "IOC_HTTP_HOST": ("http", "host", str),
    "IOC_HTTP_PORT": ("http", "port", int),
}


def _apply_env(data: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    for var, (section, key, cast) in _ENV_OVERRIDES.items():
        if raw := environ.get(var):
            try:
                value = cast(raw)
            except ValueError:
                raise ConfigError(f"${var}", f"{section}.{key}", f"not a valid {cast.__name__}: {raw!r}") from None
            data.setdefault(section, {})
            if not isinstance(data[section], dict):
                raise ConfigError(f"${var}", section, "section must be a mapping")
            data[section][key] = value
    return data


class Config:
    """The whole validated configuration, with lookups the rest of the code needs."""

    def __init__(self, config_dir: Path, settings: Settings, region: Region, catalog: Catalog,
                 feeds: list[FeedSpec], boundaries: dict | None = None):
        self.config_dir = config_dir
        self.feeds = feeds
        self.settings = settings
        self.region = region
        self.catalog = catalog
        self.domains = {d.key: d for d in catalog.domains}
        self.priority_domains = [d for d in catalog.domains if d.priority]
        self.kinds = {k.key: k for k in catalog.kinds}
        self.metrics = {m.key: m for m in catalog.metrics}
        self.entities = {e.id: e for e in region.entities}
        self.areas = {a.code: (a, parent, depth) for a, parent, depth in region.region.walk()}
        self.boundaries = boundaries
        self.identity = region.identity or _derived_identity(region.region)
        self._subtree: dict[str, list[str]] = {code: [] for code in self.areas}
        for entity in region.entities:
            for code in self.area_path(entity.area):
                self._subtree[code].append(entity.id)

    def area_path(self, code: str) -> list[str]:
        """Area codes from the region's root down to `code` (breadcrumbs, subtree membership)."""
        path = []
        while code is not None:
            path.append(code)
            code = self.areas[code][1]
        return path[::-1]

    def area_entities(self, code: str) -> list[str]:
        """Ids of the entities in the area and in every area below it."""
        return self._subtree[code]

    def areas_under(self, code: str) -> list[str]:
        """The area's code and the codes of every area below it (like `area_entities`, from `area_path`)."""
        return [c for c in self.areas if code in self.area_path(c)]

    def child_areas(self, code: str) -> list[Area]:
        return self.areas[code][0].children

    def entity_domain(self, entity_id: str) -> str:
        return self.kinds[self.entities[entity_id].kind].domain

    def is_priority_entity(self, entity_id: str) -> bool:
        return self.domains[self.entity_domain(entity_id)].priority

    def entity_metrics(self, entity_id: str) -> list[str]:
        return self.kinds[self.entities[entity_id].kind].metrics


def _derived_identity(root: Area) -> Identity:
    """A region file without `identity:` still names its own centre: "IOC <province>", "UBND <province>"."""
    return Identity(short_name=Text(vi=f"IOC {root.name.vi}", en=f"{root.name.en} IOC"),
                    title=Text(vi="Trung tâm Giám sát, điều hành thông minh", en="Intelligent Operations Centre"),
                    authority=Text(vi=f"UBND {root.name.vi}", en=f"{root.name.en} People's Committee"),
                    place=root.name, recipients=[])


def _check_references(catalog: Catalog, region: Region, metrics_path: Path, region_path: Path) -> None:
    domains = {d.key for d in catalog.domains}
    metrics = {m.key: m for m in catalog.metrics}
    for group, items in (("domains", catalog.domains), ("kinds", catalog.kinds), ("metrics", catalog.metrics)):
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.key in seen:
                raise ConfigError(metrics_path, f"{group}.{i}.key", f"duplicate key '{item.key}'")
            seen.add(item.key)
    for i, metric in enumerate(catalog.metrics):
        if metric.domain not in domains:
            raise ConfigError(metrics_path, f"metrics.{i}.domain", f"unknown domain '{metric.domain}'")
        if metric.computed_from:
            for key in (*metric.computed_from.numerator, metric.computed_from.denominator):
                if key not in metrics or metrics[key].over_time != "day_total":
                    raise ConfigError(metrics_path, f"metrics.{i}.computed_from",
                                      f"'{key}' is not a metric counted in day totals")
    for i, kind in enumerate(catalog.kinds):
        if kind.domain not in domains:
            raise ConfigError(metrics_path, f"kinds.{i}.domain", f"unknown domain '{kind.domain}'")
        for j, key in enumerate(kind.metrics):
            if key not in metrics:
                raise ConfigError(metrics_path, f"kinds.{i}.metrics.{j}", f"unknown metric '{key}'")
            if metrics[key].domain != kind.domain:
                raise ConfigError(metrics_path, f"kinds.{i}.metrics.{j}",
                                  f"metric '{key}' belongs to domain '{metrics[key].domain}', not '{kind.domain}'")
    if region.identity:
        for domain, agency in region.identity.domain_agencies.items():
            if domain not in domains or agency not in region.identity.agencies:
                raise ConfigError(region_path, f"identity.domain_agencies.{domain}",
                                  f"unknown domain '{domain}' or agency '{agency}' (list it under identity.agencies)")
    kinds = {k.key for k in catalog.kinds}
    kind_metrics = {k.key: k.metrics for k in catalog.kinds}
    areas: set[str] = set()
    for area, _, _ in region.region.walk():
        if area.code in areas:
            raise ConfigError(region_path, "region", f"duplicate area code '{area.code}'")
        areas.add(area.code)
    ids: set[str] = set()
    for i, entity in enumerate(region.entities):
        if entity.id in ids:
            raise ConfigError(region_path, f"entities.{i}.id", f"duplicate entity id '{entity.id}'")
        ids.add(entity.id)
        if entity.kind not in kinds:
            raise ConfigError(region_path, f"entities.{i}.kind", f"unknown kind '{entity.kind}'")
        if entity.area not in areas:
            raise ConfigError(region_path, f"entities.{i}.area", f"unknown area '{entity.area}'")
        for key in kind_metrics[entity.kind]:
            weight = metrics[key].weight
            if weight is not None and not isinstance(entity.attrs.get(weight), int | float):
                raise ConfigError(region_path, f"entities.{i}.attrs",
                                  f"metric '{key}' is weighted by '{weight}': give this entity a number for it")
        for key, own in entity.thresholds.items():
            where = f"entities.{i}.thresholds.{key}"
            if key not in next(k for k in catalog.kinds if k.key == entity.kind).metrics:
                raise ConfigError(region_path, where, f"metric '{key}' is not reported by kind '{entity.kind}'")
            if metrics[key].thresholds is None:
                raise ConfigError(region_path, where, f"metric '{key}' has no catalog thresholds to override")
            try:
                Thresholds(direction=metrics[key].thresholds.direction, warning=own.warning,
                           critical=own.critical, source=own.source, scope="site")
            except ValidationError as exc:
                raise ConfigError(region_path, where, exc.errors()[0]["msg"]) from None


def load_config(config_dir: Path | str | None = None, environ: dict[str, str] | None = None) -> Config:
    """Load and validate every file in the config folder; raise ConfigError on the first problem."""
    environ = dict(os.environ) if environ is None else environ
    config_dir = Path(config_dir or environ.get("IOC_CONFIG_DIR") or DEFAULT_CONFIG_DIR).resolve()
    settings_path = config_dir / "ioc.yaml"
    raw = read_yaml(settings_path)
    if not isinstance(raw, dict):
        raise ConfigError(settings_path, "", "top level must be a mapping")
    settings: Settings = validate_file(Settings, _apply_env(raw, environ), settings_path)
    region_path = config_dir / settings.region_file
    region: Region = validate_file(Region, read_yaml(region_path), region_path)
    metrics_path = config_dir / "metrics.yaml"
    catalog: Catalog = validate_file(Catalog, read_yaml(metrics_path), metrics_path)
    _check_references(catalog, region, metrics_path, region_path)
    feeds_path = config_dir / "feeds.yaml"
    feeds: FeedsFile = validate_file(FeedsFile, read_yaml(feeds_path), feeds_path)
    names: set[str] = set()
    for i, feed in enumerate(feeds.feeds):
        if feed.name in names:
            raise ConfigError(feeds_path, f"feeds.{i}.name", f"duplicate feed name '{feed.name}'")
        names.add(feed.name)
        if feed.domain is not None and feed.domain not in {d.key for d in catalog.domains}:
            raise ConfigError(feeds_path, f"feeds.{i}.domain", f"unknown domain '{feed.domain}'")
        kinds = {k.key: k.domain for k in catalog.kinds}
        for j, entity_id in enumerate(feed.entities or []):
            entity = next((e for e in region.entities if e.id == entity_id), None)
            if entity is None or kinds.get(entity.kind) != feed.domain:
                raise ConfigError(feeds_path, f"feeds.{i}.entities.{j}",
                                  f"'{entity_id}' is not an entity of domain '{feed.domain}'")
    _check_wall_views(settings, catalog, region, settings_path)
    boundaries = _load_boundaries(config_dir, region, region_path) if region.boundaries else None
    config = Config(config_dir, settings, region, catalog, feeds.feeds, boundaries)
    from ioc.i18n import use_short_name

    use_short_name(config.identity.short_name.vi, config.identity.short_name.en)
    return config


def _check_wall_views(settings: Settings, catalog: Catalog, region: Region, settings_path: Path) -> None:
    domains = {d.key for d in catalog.domains}
    areas = {area.code for area, _, _ in region.region.walk()}
    for i, view in enumerate(settings.ui.wall.views):
        kind, _, key = view.partition(":")
        if (kind == "domain" and key not in domains) or (kind == "area" and key not in areas):
            raise ConfigError(settings_path, f"ui.wall.views.{i}", f"unknown {kind} '{key}'")


def _load_boundaries(config_dir: Path, region: Region, region_path: Path) -> dict:
    """The GeoJSON FeatureCollection named by region.yaml; each feature's `properties.code` is an area code."""
    path = config_dir / region.boundaries
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(region_path, "boundaries", f"cannot read GeoJSON {path}: {exc}") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ConfigError(region_path, "boundaries", f"{path} is not a GeoJSON FeatureCollection")
    codes = {area.code for area, _, _ in region.region.walk()}
    for i, feature in enumerate(document.get("features") or []):
        code = ((feature or {}).get("properties") or {}).get("code")
        geometry = (feature or {}).get("geometry") or {}
        if code not in codes:
            raise ConfigError(region_path, "boundaries", f"{path}: feature {i} has no known area code ({code!r})")
        if geometry.get("type") not in ("Polygon", "MultiPolygon"):
            raise ConfigError(region_path, "boundaries", f"{path}: feature {i} ({code}) is not a polygon")
    return document


def copy_config(target: Path, overrides: dict[str, Any], source: Path = DEFAULT_CONFIG_DIR,
                feeds: dict[str, dict[str, Any]] | None = None) -> Path:
    """Copy a config folder, overriding sections of its ioc.yaml and fields of named feeds in
    feeds.yaml (tests, benchmarks, fault runs)."""
    shutil.copytree(source, target, dirs_exist_ok=True)
    if feeds:
        document = yaml.safe_load((target / "feeds.yaml").read_text(encoding="utf-8"))
        for feed in document["feeds"]:
            for key, value in feeds.get(feed["name"], {}).items():
                if isinstance(value, dict):
                    feed.setdefault(key, {}).update(value)
                else:
                    feed[key] = value
        (target / "feeds.yaml").write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False),
                                           encoding="utf-8")
    settings = yaml.safe_load((target / "ioc.yaml").read_text(encoding="utf-8")) or {}
    for section, values in overrides.items():
        if isinstance(values, dict):
            settings.setdefault(section, {}).update(values)
        else:
            settings[section] = values
    (target / "ioc.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    return target
