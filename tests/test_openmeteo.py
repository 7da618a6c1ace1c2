"""Open-Meteo parsers: recorded-format fixtures → readings (values by hand), only observations, clear errors,
and never an exception whatever the payload."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import feeds.openmeteo  # noqa: F401  (registers the parsers)
from ioc.config import load_config
from ioc.ingest import Validator
from ioc.transports.contract import Parsed, ParserContext, ParserOptionsError, build_parser

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
NOW = datetime(2025, 7, 15, 9, 30, tzinfo=UTC)  # 16:30 in Bắc Giang


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def config():
    return load_config(ROOT / "config", environ={})


@pytest.fixture(scope="module")
def ctx(config):
    return ParserContext(config, clock=lambda: NOW)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def run(ctx, parser: str, options: dict, payload: bytes) -> Parsed:
    return build_parser(parser, options, ctx)("test", payload)


def values(parsed: Parsed, entity: str, metric: str) -> dict[datetime, float]:
    return {r.ts: r.value for r in parsed.readings if r.entity == entity and r.metric == metric}


def assert_valid_observations(parsed: Parsed, config) -> None:
    """Nothing after now, every time UTC, and every reading passes the ingest validation."""
    validator = Validator(config, clock=lambda: NOW)
    for r in parsed.readings:
        assert r.ts <= NOW and r.ts.utcoffset() == timedelta(0), r
        assert validator.check(r, None, NOW) is None, r
    assert len({(r.entity, r.metric, r.ts) for r in parsed.readings}) == len(parsed.readings)


# --------------------------------------------------------------------------- forecast


def test_forecast_single_location(ctx, config):
    out = run(ctx, "openmeteo_forecast", {"entities": ["wx-bgc"]}, fixture("openmeteo_forecast.json"))
    assert out.errors == []
    assert_valid_observations(out, config)
    counts = Counter(r.metric for r in out.readings)
    # hours 13T00..15T09 UTC = 58 observed hours; humidity misses the null at 13T10
    assert counts == {"humidity": 57, "rainfall_24h": 31, "temp_max": 41, "temp_daily_mean": 41}
    assert {r.entity for r in out.readings} == {"wx-bgc"}

    rh = values(out, "wx-bgc", "humidity")
    assert min(rh) == utc("2025-07-13T00:00") and max(rh) == utc("2025-07-15T09:00")
    assert utc("2025-07-13T10:00") not in rh  # null hour skipped
    assert rh[utc("2025-07-15T07:00")] == 62  # local 14:00: 90 − 4 × 7

    rain = values(out, "wx-bgc", "rainfall_24h")
    # the null at 13T03 blocks every window containing it: the first full window ends 14T03
    assert min(rain) == utc("2025-07-14T03:00") and max(rain) == utc("2025-07-15T09:00")
    assert rain[utc("2025-07-14T03:00")] == 1.5              # 13T04..14T03: the 1.5 of 13T08
    assert rain[utc("2025-07-14T07:00")] == 18.0             # 1.5 + 2.0 + 10.4 + 4.1
    assert rain[utc("2025-07-14T08:00")] == 16.5             # 13T08 left the window
    assert rain[utc("2025-07-15T05:00")] == pytest.approx(15.1)  # 10.4 + 4.1 + 0.6
    assert rain[utc("2025-07-15T06:00")] == pytest.approx(4.7)   # 4.1 + 0.6
    assert rain[utc("2025-07-15T09:00")] == 0.6
    assert 30.0 not in rain.values() and max(rain.values()) == 18.0  # the forecast 30 mm at 15T12 is not used

    high, mean = values(out, "wx-bgc", "temp_max"), values(out, "wx-bgc", "temp_daily_mean")
    # The array starts 13T00 UTC = 07:00 local, so local 13 July is incomplete; local 14 July starts 13T17 UTC.
    assert min(high) == min(mean) == utc("2025-07-13T17:00")
    assert high[utc("2025-07-13T17:00")] == mean[utc("2025-07-13T17:00")] == 25.0  # local midnight alone
    assert high[utc("2025-07-14T07:00")] == 32.0 and mean[utc("2025-07-14T07:00")] == 28.5  # 25 + 0.5 × 105/15
    assert high[utc("2025-07-14T16:00")] == 32.0 and mean[utc("2025-07-14T16:00")] == 28.875  # 25 + 0.5 × 186/24
    # local 15 July restarts at 14T17 UTC; at 15T09 (16:00 local) 17 hours: 26 + 0.5 × 130/17
    assert high[utc("2025-07-14T17:00")] == 26.0
    assert high[utc("2025-07-15T09:00")] == 33.0
    assert mean[utc("2025-07-15T09:00")] == pytest.approx(26 + 0.5 * 130 / 17, abs=1e-3)


def test_forecast_two_locations_with_a_local_offset(ctx, config):
    out = run(ctx, "openmeteo_forecast", {"entities": ["wx-bgc", "wx-hho"]},
              fixture("openmeteo_forecast_two_locations.json"))
    assert out.errors == []
    assert_valid_observations(out, config)
    for entity, rain_total, humidity in (("wx-bgc", 5.0, 80), ("wx-hho", 4.8, 70)):
        rh = values(out, entity, "humidity")
        # times are Asia/Bangkok (+07:00): local 14 July 00:00 is 13T17:00 UTC
        assert min(rh) == utc("2025-07-13T17:00") and max(rh) == utc("2025-07-15T09:00") and len(rh) == 41
        assert set(rh.values()) == {humidity}
        rain = values(out, entity, "rainfall_24h")
        assert min(rain) == utc("2025-07-14T16:00") and len(rain) == 18
        assert rain[utc("2025-07-14T16:00")] == pytest.approx(rain_total)
        assert len(values(out, entity, "temp_max")) == 41  # the local day is covered from its midnight
    assert values(out, "wx-bgc", "rainfall_24h")[utc("2025-07-15T05:00")] == 0.0  # the 5 mm at 14T05 UTC left


def test_forecast_metric_overrides_and_day_timezone(ctx):
    out = run(ctx, "openmeteo_forecast",
              {"entities": ["wx-bgc"], "metrics": {"humidity": None, "temp_daily_mean": None}},
              fixture("openmeteo_forecast.json"))
    assert {r.metric for r in out.readings} == {"rainfall_24h", "temp_max"}
    utc_days = run(ctx, "openmeteo_forecast", {"entities": ["wx-bgc"], "day_timezone": "UTC"},
                   fixture("openmeteo_forecast.json"))
    high = values(utc_days, "wx-bgc", "temp_max")
    assert min(high) == utc("2025-07-13T00:00")  # the UTC day of 13 July is complete from its first hour


def test_nothing_after_now(config):
    early = ParserContext(config, clock=lambda: utc("2025-07-14T06:59"))
    out = build_parser("openmeteo_forecast", {"entities": ["wx-bgc"]}, early)("t", fixture("openmeteo_forecast.json"))
    assert out.readings and max(r.ts for r in out.readings) == utc("2025-07-14T06:00")
    assert values(out, "wx-bgc", "rainfall_24h")[utc("2025-07-14T06:00")] == pytest.approx(13.9)  # 1.5 + 2 + 10.4
    before = ParserContext(config, clock=lambda: utc("2025-07-01T00:00"))
    for name, entity, fx in (("openmeteo_forecast", "wx-bgc", "openmeteo_forecast.json"),
                             ("openmeteo_air_quality", "air-bgc-01", "openmeteo_air_quality.json"),
                             ("openmeteo_flood", "gauge-plt", "openmeteo_flood.json")):
        out = build_parser(name, {"entities": [entity]}, before)("t", fixture(fx))
        assert out.readings == [] and out.errors == []


def test_forecast_schema_drift(ctx):
    out = run(ctx, "openmeteo_forecast", {"entities": ["wx-bgc"]}, fixture("openmeteo_forecast_drift.json"))
    assert len(out.errors) == 1
    error = out.errors[0]
    assert "schema drift" in error.reason and "'precipitation'" in error.reason and "wx-bgc" in error.reason
    assert "precipitation_sum" in error.excerpt  # shows what the block holds instead
    # the other variables still yield their metrics
    assert {r.metric for r in out.readings} == {"humidity", "temp_max", "temp_daily_mean"}


def test_truncated_json(ctx):
    out = run(ctx, "openmeteo_forecast", {"entities": ["wx-bgc"]}, fixture("openmeteo_forecast_truncated.json"))
    assert out.readings == []
    assert len(out.errors) == 1 and out.errors[0].reason.startswith("invalid JSON")
    assert out.errors[0].excerpt.startswith('{"latitude":21.25')


# --------------------------------------------------------------------------- air quality


def test_air_quality(ctx, config):
    out = run(ctx, "openmeteo_air_quality", {"entities": ["air-bgc-01"]}, fixture("openmeteo_air_quality.json"))
    assert out.errors == []
    assert_valid_observations(out, config)
    assert Counter(r.metric for r in out.readings) == {"pm25": 34, "pm10": 33, "vn_aqi": 33}  # 14T00..15T09
    pm25, pm10 = values(out, "air-bgc-01", "pm25"), values(out, "air-bgc-01", "pm10")
    assert pm25[utc("2025-07-14T00:00")] == 37.5 and pm25[utc("2025-07-15T09:00")] == 150.0
    assert utc("2025-07-14T05:00") not in pm10 and pm10[utc("2025-07-15T00:00")] == 200.0
    assert 400.0 not in pm25.values()  # forecast hours dropped

    aqi = values(out, "air-bgc-01", "vn_aqi")
    # 14T00: one hour only, the NowCast needs 2 of the latest 3 → no index
    assert utc("2025-07-14T00:00") not in aqi and min(aqi) == utc("2025-07-14T01:00")
    # constant day: PM2.5 37.5 → 75, PM10 60 → 55, O3 100 → 31, NO2 20 → 10, SO2 5 → 2, CO 400 → 2
    assert {aqi[utc(f"2025-07-14T{h:02d}:00")] for h in range(1, 24)} == {75.0}  # ozone null at 12 changes nothing
    # 15T00: PM2.5 jumps to 150 after eleven hours of 37.5: w* = 0.25 → w = 1/2,
    # NowCast = (150 + 37.5 × Σ_{i=1..11} 2^-i) / Σ_{i=0..11} 2^-i = 93.76 → 150 + 50/70 × 13.76 = 159.8 → 160
    assert aqi[utc("2025-07-15T00:00")] == 160.0
    # 15T09: ten hours of 150 and two of 37.5: NowCast 149.92 → 199.9 → 200
    assert aqi[utc("2025-07-15T09:00")] == 200.0


def test_air_quality_units_and_pollutant_options(ctx):
    doc = json.loads(fixture("openmeteo_air_quality.json"))
    doc["hourly_units"]["ozone"] = "ppb"
    out = run(ctx, "openmeteo_air_quality", {"entities": ["air-bgc-01"]}, json.dumps(doc).encode())
    assert len(out.errors) == 1 and "unexpected unit" in out.errors[0].reason and "ozone" in out.errors[0].reason
    assert values(out, "air-bgc-01", "vn_aqi")[utc("2025-07-14T03:00")] == 75.0  # computed without ozone

    del doc["hourly"]["sulphur_dioxide"], doc["hourly"]["ozone"]
    only_pm = run(ctx, "openmeteo_air_quality", {"entities": ["air-bgc-01"], "pollutants": ["pm2_5", "pm10"]},
                  json.dumps(doc).encode())
    assert only_pm.errors == [] and len(values(only_pm, "air-bgc-01", "vn_aqi")) == 33


# --------------------------------------------------------------------------- flood


def test_flood(ctx, config):
    out = run(ctx, "openmeteo_flood", {"entities": ["gauge-plt"]}, fixture("openmeteo_flood.json"))
    assert out.errors == []
    assert_valid_observations(out, config)
    assert values(out, "gauge-plt", "river_discharge") == {
        utc("2025-07-10T00:00"): 85.3, utc("2025-07-11T00:00"): 90.1, utc("2025-07-12T00:00"): 120.4,
        utc("2025-07-14T00:00"): 310.7, utc("2025-07-15T00:00"): 402.2}  # 13th null; 16th on are forecasts


def test_flood_daily_dates_use_the_response_offset(ctx):
    doc = json.loads(fixture("openmeteo_flood.json"))
    doc.update(utc_offset_seconds=25200, timezone="Asia/Bangkok", timezone_abbreviation="GMT+7")
    out = run(ctx, "openmeteo_flood", {"entities": ["gauge-plt"]}, json.dumps(doc).encode())
    got = values(out, "gauge-plt", "river_discharge")
    assert min(got) == utc("2025-07-09T17:00") and max(got) == utc("2025-07-14T17:00")  # local 15 July 00:00


# --------------------------------------------------------------------------- structural failures


def single() -> dict:
    return json.loads(fixture("openmeteo_forecast.json"))


@pytest.mark.parametrize("payload, reason", [
    (b"", "invalid JSON"),
    (b"\xff\xfe{", "invalid UTF-8"),
    (b"[]", "empty list of locations"),
    (b"42", "expected a location object"),
    (b"[1, 2]", "expected a location object"),
    (b'{"error": true, "reason": "Latitude must be in range of -90 to 90\xc2\xb0. Given: 121.0."}',
     "Open-Meteo returned an error: Latitude must be in range"),
    (b"[" * 100_000, "JSON nested too deeply"),
])
def test_document_errors(ctx, payload, reason):
    for name, entity in (("openmeteo_forecast", "wx-bgc"), ("openmeteo_air_quality", "air-bgc-01"),
                         ("openmeteo_flood", "gauge-plt")):
        out = run(ctx, name, {"entities": [entity]}, payload)
        assert out.readings == []
        assert len(out.errors) == 1 and reason in out.errors[0].reason, (name, out.errors)


def test_wrong_number_of_locations(ctx):
    two = fixture("openmeteo_forecast_two_locations.json")
    out = run(ctx, "openmeteo_forecast", {"entities": ["wx-bgc"]}, two)
    assert out.readings == [] and "2 location(s)" in out.errors[0].reason and "1 entities" in out.errors[0].reason
    out = run(ctx, "openmeteo_forecast", {"entities": ["wx-bgc", "wx-hho"]}, fixture("openmeteo_forecast.json"))
    assert out.readings == [] and "1 location(s)" in out.errors[0].reason


def mutate(change) -> bytes:
    doc = single()
    change(doc)
    return json.dumps(doc).encode()


@pytest.mark.parametrize("change, reason", [
    (lambda d: d.pop("hourly"), "no 'hourly' block"),
    (lambda d: d.update(hourly=[1, 2]), "a list instead of an object as 'hourly' block"),
    (lambda d: d["hourly"].pop("time"), "'hourly.time' is missing"),
    (lambda d: d["hourly"].update(time=[]), "'hourly.time' is empty"),
    (lambda d: d.pop("utc_offset_seconds"), "utc_offset_seconds is missing"),
    (lambda d: d.update(utc_offset_seconds="+07:00"), "utc_offset_seconds is invalid"),
])
def test_location_errors_drop_the_location(ctx, change, reason):
    out = run(ctx, "openmeteo_forecast", {"entities": ["wx-bgc"]}, mutate(change))
    assert out.readings == []
    assert len(out.errors) == 1 and reason in out.errors[0].reason and "wx-bgc" in out.errors[0].reason


def test_variable_errors_drop_the_variable(ctx):
    out = run(ctx, "openmeteo_forecast", {"entities": ["wx-bgc"]},
              mutate(lambda d: d["hourly"]["temperature_2m"].pop()))
    assert len(out.errors) == 1 and "has 71 values for 72 times" in out.errors[0].reason
    assert {r.metric for r in out.readings} == {"humidity", "rainfall_24h"}

    out = run(ctx, "openmeteo_forecast", {"entities": ["wx-bgc"]},
              mutate(lambda d: d["hourly_units"].update(precipitation="inch")))
    assert "unexpected unit of 'hourly.precipitation'" in out.errors[0].reason
    assert "rainfall_24h" not in {r.metric for r in out.readings}


def test_bad_values_and_times_are_skipped_with_one_error_each(ctx):
    def change(d):
        d["hourly"]["relative_humidity_2m"][5] = "85"
        d["hourly"]["relative_humidity_2m"][6] = True
        d["hourly"]["time"][7] = "yesterday"
    out = run(ctx, "openmeteo_forecast", {"entities": ["wx-bgc"]}, mutate(change))
    reasons = [e.reason for e in out.errors]
    assert len(reasons) == 2
    assert "1 invalid time(s) in 'hourly.time'" in reasons[0] and "index 7" in reasons[0]
    assert "2 non-numeric value(s) in 'hourly.relative_humidity_2m'" in reasons[1] and "index 5" in reasons[1]
    rh = values(out, "wx-bgc", "humidity")
    assert len(rh) == 57 - 3 and utc("2025-07-13T05:00") not in rh


def test_unixtime_and_an_error_object_in_a_list(ctx):
    doc = single()
    doc["hourly"]["time"] = [int(utc(t).timestamp()) for t in doc["hourly"]["time"]]
    doc["hourly_units"]["time"] = "unixtime"
    error = {"error": True, "reason": "Cannot initialize WeatherVariable from invalid String value"}
    out = run(ctx, "openmeteo_forecast", {"entities": ["wx-bgc", "wx-hho"]}, json.dumps([doc, error]).encode())
    assert len(values(out, "wx-bgc", "humidity")) == 57
    assert len(out.errors) == 1 and "error for 'wx-hho'" in out.errors[0].reason


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize("name, options, key, message", [
    ("openmeteo_forecast", {"entities": ["air-bgc-01"]}, "entities.0", "reads weather_station entities only"),
    ("openmeteo_forecast", {"entities": ["wx-bgc", "nowhere"]}, "entities.1", "unknown entity 'nowhere'"),
    ("openmeteo_forecast", {"entities": []}, "entities", "at least 1"),
    ("openmeteo_forecast", {"entities": ["wx-bgc"], "metrics": {"humidity": "rh"}}, "metrics.humidity",
     "not in the catalog"),
    ("openmeteo_forecast", {"entities": ["wx-bgc"], "metrics": {"humidity": "pm25"}}, "metrics.humidity",
     "not reported by weather_station"),
    ("openmeteo_forecast", {"entities": ["wx-bgc"], "metrics": {"dew_point": "humidity"}}, "metrics.dew_point.[key]",
     "'rainfall_24h'"),
    ("openmeteo_forecast", {"entities": ["wx-bgc"], "metrics": dict.fromkeys(
        ["rainfall_24h", "temp_max", "temp_daily_mean", "humidity"])}, "metrics", "nothing would be published"),
    ("openmeteo_forecast", {"entities": ["wx-bgc"], "day_timezone": "Mars/Olympus"}, "day_timezone", "unknown"),
    ("openmeteo_forecast", {"entities": ["wx-bgc"], "latitude": 21}, "latitude", "unknown key"),
    ("openmeteo_air_quality", {"entities": ["wx-bgc"]}, "entities.0", "reads air_station entities only"),
    ("openmeteo_air_quality", {"entities": ["air-bgc-01"], "pollutants": ["ozone"]}, "pollutants", "pm2_5 or pm10"),
    ("openmeteo_flood", {"entities": ["wx-bgc"]}, "entities.0", "reads river_gauge entities only"),
    ("openmeteo_flood", {"entities": ["gauge-plt"], "metric": "flow"}, "metric", "not in the catalog"),
])
def test_option_errors(ctx, name, options, key, message):
    with pytest.raises(ParserOptionsError) as info:
        build_parser(name, options, ctx)
    assert info.value.key == key and message in info.value.reason


# --------------------------------------------------------------------------- never an exception

PARSERS = [("openmeteo_forecast", ["wx-bgc"]), ("openmeteo_forecast", ["wx-bgc", "wx-hho"]),
           ("openmeteo_air_quality", ["air-bgc-01"]), ("openmeteo_flood", ["gauge-plt"])]

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
junk_json = st.recursive(scalars, lambda inner: st.lists(inner, max_size=6) | st.dictionaries(
    st.text(max_size=12), inner, max_size=6), max_leaves=40)
KEYS = ["latitude", "longitude", "utc_offset_seconds", "timezone", "hourly", "daily", "hourly_units", "daily_units",
        "time", "precipitation", "temperature_2m", "relative_humidity_2m", "pm2_5", "pm10", "ozone",
        "nitrogen_dioxide", "sulphur_dioxide", "carbon_monoxide", "river_discharge", "error", "reason"]
time_like = st.sampled_from(["2025-07-15T00:00", "2025-07-14", "0001-01-01T00:00", "9999-12-31T23:00", "",
                             "2025-07-15T09:00+14:00", "2025-13-01T00:00"]) | st.integers() | st.floats()
cell = st.none() | st.floats() | st.integers() | time_like | st.booleans()
shaped = st.recursive(cell | st.lists(cell, max_size=30), lambda inner: st.dictionaries(
    st.sampled_from(KEYS), inner | st.integers(-100_000, 100_000), max_size=8), max_leaves=60)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=st.binary(max_size=300))
def test_junk_bytes_never_raise(ctx, payload):
    for name, entities in PARSERS:
        out = run(ctx, name, {"entities": entities}, payload)
        assert isinstance(out, Parsed)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=junk_json | shaped | st.lists(shaped, min_size=1, max_size=3))
def test_junk_json_never_raises(ctx, config, document):
    payload = json.dumps(document).encode()
    for name, entities in PARSERS:
        out = run(ctx, name, {"entities": entities}, payload)
        assert isinstance(out, Parsed)
        for r in out.readings:
            assert r.ts <= NOW and r.ts.tzinfo is not None and r.entity in entities


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(min_value=0, max_value=4000), flip=st.integers(min_value=0, max_value=4000),
       byte=st.integers(min_value=0, max_value=255))
def test_damaged_recordings_never_raise(ctx, cut, flip, byte):
    for name, entities, fx in (("openmeteo_forecast", ["wx-bgc"], "openmeteo_forecast.json"),
                               ("openmeteo_forecast", ["wx-bgc", "wx-hho"], "openmeteo_forecast_two_locations.json"),
                               ("openmeteo_air_quality", ["air-bgc-01"], "openmeteo_air_quality.json"),
                               ("openmeteo_flood", ["gauge-plt"], "openmeteo_flood.json")):
        data = bytearray(fixture(fx))
        if data:
            data[flip % len(data)] = byte
        out = run(ctx, name, {"entities": entities}, bytes(data[: max(1, len(data) - cut % len(data))]))
        assert isinstance(out, Parsed)
