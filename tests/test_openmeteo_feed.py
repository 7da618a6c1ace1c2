"""Open-Meteo sources polled over HTTP from a local server speaking Open-Meteo's response format,
with the hours around now: readings land in PostgreSQL with the right entities, metrics and times."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from ioc.config import FeedSpec
from ioc.feed_health import FeedHealth
from ioc.ingest import Ingestor
from ioc.transports.contract import ParserContext, build_parser
from ioc.transports.http_poll import HttpPoller


def hourly_response(variables: dict[str, list[float | None]], units: dict[str, str], start: datetime) -> bytes:
    """Open-Meteo's answer for one location with timezone=UTC: column arrays, ISO times without offset."""
    hours = len(next(iter(variables.values())))
    return json.dumps({
        "latitude": 21.25, "longitude": 106.1875, "generationtime_ms": 0.07, "utc_offset_seconds": 0,
        "timezone": "GMT", "timezone_abbreviation": "GMT", "elevation": 8.0,
        "hourly_units": {"time": "iso8601", **units},
        "hourly": {"time": [(start + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M") for h in range(hours)],
                   **variables},
    }).encode()


def poll(rt, api, parser: str, entity: str, body: bytes) -> FeedHealth:
    spec = FeedSpec(name="openmeteo", transport="http_poll", parser=parser, options={"entities": [entity]},
                    url=f"http://127.0.0.1:{api.server_port}/v1", interval=timedelta(hours=1),
                    stale_after=timedelta(hours=3))
    api.script = [(200, body, {"Content-Type": "application/json"})]
    health = FeedHealth([spec])
    parser_fn = build_parser(parser, spec.options, ParserContext(rt.config))
    HttpPoller(spec, parser_fn, Ingestor(rt.config, rt.writer, health=health), 1 << 20).poll()
    rt.writer.flush()
    return health


def readings(rt, entity: str) -> dict[str, list[tuple[datetime, float]]]:
    with rt.db.connection() as conn:
        rows = conn.execute("SELECT s.metric, r.ts, r.value FROM readings r JOIN series s ON s.id = r.series_id "
                            "WHERE s.entity = %s ORDER BY r.ts", (entity,)).fetchall()
    out: dict[str, list] = {}
    for metric, ts, value in rows:
        out.setdefault(metric, []).append((ts, value))
    return out


def test_forecast_gives_rain_24h_and_humidity_up_to_now(clean_db, api):
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(hours=47)  # past_days=2 … plus forecast hours after now
    hours = 60
    rain = [1.0 if h % 6 == 0 else 0.0 for h in range(hours)]
    body = hourly_response({"precipitation": rain, "temperature_2m": [20.0 + (h % 24) / 4 for h in range(hours)],
                            "relative_humidity_2m": [70.0 + h % 10 for h in range(hours)]},
                           {"precipitation": "mm", "temperature_2m": "°C", "relative_humidity_2m": "%"}, start)
    health = poll(clean_db, api, "openmeteo_forecast", "wx-bgc", body)
    got = readings(clean_db, "wx-bgc")
    assert health.feeds["openmeteo"].state == "ok"
    assert max(ts for ts, _ in got["humidity"]) == now  # observations only: nothing after now
    assert all(ts <= now for series in got.values() for ts, _ in series)
    assert got["rainfall_24h"][-1] == (now, 4.0)  # 4 rainy hours in the last 24
    assert "temp_max" in got and "temp_daily_mean" in got


def test_air_quality_gives_vn_aqi_not_us_aqi(clean_db, api):
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(hours=23)
    n = 24
    body = hourly_response({"pm2_5": [50.0] * n, "pm10": [40.0] * n, "carbon_monoxide": [300.0] * n,
                            "nitrogen_dioxide": [20.0] * n, "ozone": [60.0] * n, "sulphur_dioxide": [5.0] * n,
                            "us_aqi": [137] * n},
                           {"pm2_5": "μg/m³", "pm10": "μg/m³", "carbon_monoxide": "μg/m³",
                            "nitrogen_dioxide": "μg/m³", "ozone": "μg/m³", "sulphur_dioxide": "μg/m³",
                            "us_aqi": "USAQI"}, start)
    poll(clean_db, api, "openmeteo_air_quality", "air-bgc-01", body)
    got = readings(clean_db, "air-bgc-01")
    assert got["vn_aqi"][-1] == (now, 100.0)  # PM2.5 50 µg/m³ is VN_AQI 100 (US AQI would say 137)
    assert got["pm25"][-1] == (now, 50.0)
