"""SenML (RFC 8428) parser: the RFC's §5.1 examples adapted to Bắc Giang ids, failures, options, junk."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import feeds.senml  # noqa: F401  (registers the parser)
from ioc.config import load_config
from ioc.models import Reading
from ioc.transports.contract import ParserContext, ParserOptionsError, build_parser

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
NOW = datetime(2026, 11, 27, 1, 30, tzinfo=UTC)
CONFIG = load_config(ROOT / "config", environ={})
CTX = ParserContext(CONFIG, clock=lambda: NOW)


def parser(**options):
    return build_parser("senml", options, CTX)


def parse(name: str, **options):
    return parser(**options)("senml/test", (FIXTURES / name).read_bytes())


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, 27, hour, minute, second, tzinfo=UTC)


def assert_known(readings: list[Reading]) -> None:
    """Every reading names an entity of the region and a metric its kind reports (what ingest will check)."""
    for r in readings:
        assert r.entity in CONFIG.entities, r
        assert r.metric in CONFIG.entity_metrics(r.entity), r


# --- RFC 8428 §5.1 examples ---------------------------------------------------------------------------

def test_rfc_5_1_1_single_datapoint_verbatim_with_entity_map_and_unit_metric():
    out = parse("senml_rfc_single.json", entity_map={"urn:dev:ow:10e2073a01080063": "wx-bgc"},
                unit_metrics={"Cel": "temp_max"})
    assert out.errors == []
    # no time at all = "now" (RFC 8428 §4.5.3)
    assert out.readings == [Reading("wx-bgc", "temp_max", NOW, 23.1)]
    assert out.domain is None


def test_rfc_5_1_1_single_datapoint_with_our_name():
    out = parse("senml_single.json")
    assert out.errors == []
    assert out.readings == [Reading("wx-bgc", "temp_max", NOW, 23.1)]
    assert_known(out.readings)


def test_rfc_5_1_2_multiple_datapoints_share_the_base_name():
    out = parse("senml_multiple_datapoints.json")
    assert out.errors == []
    assert out.readings == [Reading("wx-lng", "temp_max", NOW, 31.5), Reading("wx-lng", "rainfall_24h", NOW, 1.2)]
    assert_known(out.readings)


def test_rfc_5_1_2_base_time_plus_relative_time_base_unit_and_bver():
    out = parse("senml_relative_time.json")
    assert out.errors == []
    assert out.readings == [
        Reading("gauge-plt", "river_level", at(1), 4.12),
        Reading("gauge-plt", "river_level", at(0), 3.81),
        Reading("gauge-plt", "river_level", at(0, 15), 3.88),
        Reading("gauge-plt", "river_level", at(0, 30), 3.95),
        Reading("gauge-plt", "river_level", at(0, 45), 4.04),
        Reading("gauge-plt", "river_level", at(1), 4.12),
    ]
    assert_known(out.readings)


def test_times_below_2_pow_28_are_relative_to_now():
    out = parse("senml_relative_to_now.json")
    assert out.errors == []
    assert [(r.ts, r.value) for r in out.readings] == [
        (NOW - timedelta(seconds=600), 4.3), (NOW - timedelta(seconds=300), 4.35), (NOW, 4.41)]
    # a positive relative time is in the future of now: ingest judges it, the parser does not
    later = parser()("s", b'[{"n":"gauge-plt:river_level","t":120,"v":4}]')
    assert later.readings[0].ts == NOW + timedelta(seconds=120)
    # 2**28 and above is absolute
    absolute = parser()("s", json.dumps([{"n": "gauge-plt:river_level", "t": 2**28, "v": 4}]).encode())
    assert absolute.readings[0].ts == datetime.fromtimestamp(2**28, UTC)


def test_rfc_5_1_3_multiple_measurements_and_5_1_4_resolved_data_give_the_same_readings():
    out = parse("senml_multiple_measurements.json")
    resolved = parse("senml_resolved.json")
    assert out.errors == [] and resolved.errors == []
    expected = [
        Reading("wx-lng", "temp_max", at(0), 20.8), Reading("wx-lng", "rainfall_24h", at(0), 0.4),
        Reading("wx-lng", "temp_max", at(0, 30), 21.3), Reading("wx-lng", "rainfall_24h", at(0, 30), 1.6),
        Reading("wx-lng", "temp_max", at(1), 21.9), Reading("wx-lng", "rainfall_24h", at(1), 2.2),
    ]
    assert out.readings == expected
    assert resolved.readings == expected
    assert_known(expected)


def test_rfc_5_1_5_multiple_data_types_skip_non_numeric_records_and_keep_the_rest():
    out = parse("senml_multiple_types.json")
    assert out.readings == [Reading("hosp-bgc-01", "bed_occupancy", at(1), 91.5),
                            Reading("hosp-bgc-01", "ed_occupancy", at(1), 118.0)]
    assert [e.reason for e in out.errors] == ["record 1: string values are not readings",
                                              "record 2: boolean values are not readings",
                                              "record 3: data values are not readings"]
    assert '"vs": "yellow"' in out.errors[0].excerpt
    assert_known(out.readings)


def test_bac_giang_rain_gauge_example():
    # rainfall_24h (mm, agriculture domain) is reported by weather_station entities such as wx-lng
    assert "rainfall_24h" in CONFIG.entity_metrics("wx-lng")
    assert CONFIG.metrics["rainfall_24h"].unit == "mm"
    out = parse("senml_bacgiang_rain.json")
    assert out.errors == []
    assert out.readings == [Reading("wx-lng", "rainfall_24h", datetime(2024, 7, 1, 2, 13, 20, tzinfo=UTC), 12.4)]


def test_catalogue_example_with_entity_map_and_metric_map():
    payload = b'[{"bn":"bg:lucngan:rain01:","bt":1795741200,"n":"precip","u":"mm","v":12.4}]'
    out = parser(entity_map={"bg:lucngan:rain01": "wx-lng"}, metric_map={"precip": "rainfall_24h"})("s", payload)
    assert out.errors == []
    assert out.readings == [Reading("wx-lng", "rainfall_24h", at(1), 12.4)]


def test_longest_entity_map_prefix_wins_and_separator_is_configurable():
    payload = b'[{"bn":"urn:dev:ow:10e2073a01080063/","n":"river_level","u":"m","v":3.2}]'
    out = parser(separator="/", entity_map={"urn:dev:": "gauge-dap-cau", "urn:dev:ow:10e2073a01080063": "gauge-plt"}
                 )("s", payload)
    assert out.errors == []
    assert out.readings == [Reading("gauge-plt", "river_level", NOW, 3.2)]
    out = parser(separator="/")("s", b'[{"n":"hosp-bgc-01/bed_occupancy","v":90}]')
    assert out.readings == [Reading("hosp-bgc-01", "bed_occupancy", NOW, 90.0)]


def test_base_value_is_added_and_base_fields_carry_over_until_changed():
    payload = json.dumps([
        {"bn": "gauge-plt:", "bv": 4.0, "bu": "m", "bt": 1795741200, "n": "river_level", "v": 0.12},
        {"n": "river_level", "t": 60, "v": 0.2},
        {"bn": "gauge-cau-son:", "bv": 10.0, "n": "river_level", "v": 1.5},
    ]).encode()
    out = parser()("s", payload)
    assert out.errors == []
    assert out.readings == [Reading("gauge-plt", "river_level", at(1), 4.12),
                            Reading("gauge-plt", "river_level", at(1, 1), 4.2),
                            Reading("gauge-cau-son", "river_level", at(1), 11.5)]


def test_a_record_of_base_fields_only_is_no_error():
    out = parser()("s", b'[{"bn":"wx-bgc:","bt":1795741200},{"n":"temp_max","u":"Cel","v":22}]')
    assert out.errors == []
    assert out.readings == [Reading("wx-bgc", "temp_max", at(1), 22.0)]


# --- units ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("record, reason", [
    ({"n": "wx-bgc:temp_max", "u": "K", "v": 296.2}, "temp_max: unit 'K' where 'Cel' is expected"),
    ({"n": "gauge-plt:river_level", "u": "cm", "v": 412}, "river_level: unit 'cm' where 'm' is expected"),
    ({"n": "wx-lng:rainfall_24h", "u": "m", "v": 0.0124}, "rainfall_24h: unit 'm' where 'mm' is expected"),
    ({"n": "hosp-bgc-01:bed_occupancy", "u": "%RH", "v": 90}, "bed_occupancy: unit '%RH' where '%' is expected"),
    ({"bn": "wx-bgc:", "bu": "Far", "n": "temp_max", "v": 73}, "temp_max: unit 'Far' where 'Cel' is expected"),
])
def test_unit_mismatch_is_an_error_and_nothing_is_converted(record, reason):
    out = parser()("s", json.dumps([record]).encode())
    assert out.readings == []
    assert len(out.errors) == 1 and out.errors[0].reason.startswith(f"record 0: {reason}")


def test_relative_humidity_is_percent_rh_in_senml():
    if "humidity" not in CONFIG.metrics:
        pytest.skip("no humidity metric in this catalog")
    out = parser()("s", b'[{"bn":"wx-bgc:","n":"humidity","u":"%RH","v":81},{"n":"humidity","u":"%","v":82}]')
    assert out.readings == [Reading("wx-bgc", "humidity", NOW, 81.0)]
    assert out.errors[0].reason.startswith("record 1: humidity: unit '%' where '%RH' is expected")


def test_units_are_checked_only_where_known_and_can_be_configured_or_switched_off():
    # no unit in the record, or a metric without an obvious SenML unit: no check
    out = parser()("s", b'[{"n":"hosp-bgc-01:bed_occupancy","v":90},{"n":"road-bgc-core:vc_ratio","u":"/","v":0.8}]')
    assert len(out.readings) == 2 and out.errors == []
    out = parser(metric_units={"vc_ratio": "/"})("s", b'[{"n":"road-bgc-core:vc_ratio","u":"%","v":80}]')
    assert out.readings == [] and "unit '%' where '/' is expected" in out.errors[0].reason
    out = parser(check_units=False)("s", b'[{"n":"wx-bgc:temp_max","u":"K","v":296.2}]')
    assert out.readings == [Reading("wx-bgc", "temp_max", NOW, 296.2)] and out.errors == []


# --- failures ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("payload, reason", [
    (b'[{"n":"wx-bgc:temp_max","v":1}', "invalid JSON"),
    (b"\xff\xfe[]", "invalid UTF-8 at byte 0"),
    (b"[]", "empty SenML pack"),
    (b'{"n":"wx-bgc:temp_max","v":1}', "a SenML pack is a JSON array, got object"),
    (b"", "invalid JSON"),
    (b"[" * 100_000, "JSON nested too deeply"),
])
def test_unreadable_packs(payload, reason):
    out = parser()("s", payload)
    assert out.readings == []
    assert len(out.errors) == 1 and out.errors[0].reason.startswith(reason)


def test_truncated_payload():
    data = (FIXTURES / "senml_relative_time.json").read_bytes()
    out = parser()("s", data[: len(data) // 2])
    assert out.readings == [] and out.errors[0].reason.startswith("invalid JSON")


@pytest.mark.parametrize("record, reason", [
    ({"n": "wx-bgc:temp_max", "v": "23.1"}, "value v must be a number, got string"),
    ({"n": "wx-bgc:temp_max", "v": True}, "value v must be a number, got boolean"),
    ({"n": "wx-bgc:temp_max", "v": 1, "t": "2026-11-27T01:00:00Z"}, "time t must be a number, got string"),
    ({"n": 7, "v": 1}, "name n must be a string, got number"),
    ({"n": "wx-bgc:temp_max", "u": 5, "v": 1}, "unit u must be a string, got number"),
    ({"n": "wx-bgc:temp_max"}, "no value (v)"),
    ({}, "no value (v)"),
    ({"n": "wx-bgc:temp_max", "s": 12.0}, "sum values are not readings"),
    ({"v": 1}, "no name: neither bn nor n"),
    ({"n": "wx-bgc-temp_max", "v": 1}, "name 'wx-bgc-temp_max' has no ':' between entity and metric"),
    ({"n": "wx-bgc:", "u": "mm", "v": 1}, "name 'wx-bgc:' has no metric part and unit 'mm' is not in unit_metrics"),
    ({"n": ":temp_max", "v": 1}, "name ':temp_max' has no entity part"),
    ({"n": "wx-bgc:temp_max", "v": 1, "t": -1e300}, "relative time out of range"),
    ({"n": "wx-bgc:temp_max", "v": 1, "t": 1e300}, "ts out of range"),
    ({"n": "wx-bgc:temp_max", "v": 1, "crc_": "x"}, "unknown must-understand field(s) crc_"),
])
def test_bad_records_are_errors_and_the_rest_of_the_pack_is_read(record, reason):
    payload = json.dumps([record, {"n": "wx-bgc:temp_daily_mean", "u": "Cel", "v": 18.5}]).encode()
    out = parser()("s", payload)
    assert out.readings == [Reading("wx-bgc", "temp_daily_mean", NOW, 18.5)]
    assert len(out.errors) == 1
    assert out.errors[0].reason.startswith(f"record 0: {reason}"), out.errors[0].reason


@pytest.mark.parametrize("record, reason", [
    ({"bn": 5, "n": "x", "v": 1}, "base name bn must be a string"),
    ({"bt": "now", "n": "wx-bgc:temp_max", "v": 1}, "base time bt must be a finite number"),
    ({"bv": None, "n": "wx-bgc:temp_max", "v": 1}, "base value bv must be a finite number"),
    ({"bu": ["Cel"], "n": "wx-bgc:temp_max", "v": 1}, "base unit bu must be a string"),
    ({"bver": "10", "n": "wx-bgc:temp_max", "v": 1}, "base version bver must be a positive integer"),
    ({"bver": 11, "n": "wx-bgc:temp_max", "v": 1}, "SenML version 11 is newer than the version 10 understood here"),
])
def test_a_bad_base_field_stops_the_pack_because_later_records_depend_on_it(record, reason):
    payload = json.dumps([{"n": "wx-bgc:temp_max", "v": 20}, record, {"n": "wx-bgc:temp_max", "v": 21}]).encode()
    out = parser()("s", payload)
    assert out.readings == [Reading("wx-bgc", "temp_max", NOW, 20.0)]
    assert len(out.errors) == 1
    assert out.errors[0].reason.startswith(f"record 1: {reason}")
    assert out.errors[0].reason.endswith("the 1 later record(s) are not read")


def test_schema_drift_renamed_value_field():
    out = parser()("s", b'[{"n":"wx-bgc:temp_max","value":23.1}]')
    assert out.readings == [] and out.errors[0].reason == "record 0: no value (v)"


def test_non_object_records():
    out = parser()("s", b'[1, "x", null, [], {"n":"wx-bgc:temp_max","v":2}]')
    assert [e.reason for e in out.errors] == [
        "record 0: expected an object, got number", "record 1: expected an object, got string",
        "record 2: expected an object, got null", "record 3: expected an object, got array"]
    assert len(out.readings) == 1


# --- options -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("options, key", [
    ({"seperator": "/"}, "seperator"),
    ({"separator": ""}, "separator"),
    ({"entity_map": ["wx-bgc"]}, "entity_map"),
    ({"check_units": "sometimes"}, "check_units"),
    ({"metric_units": {"temp_max": 1}}, "metric_units.temp_max"),
    # configured ids and keys must exist: a typo stops start-up instead of dead-lettering every reading
    ({"metric_map": {"precip": "rainfall_3h"}}, "metric_map.precip"),  # not in the catalog
    ({"unit_metrics": {"Cel": "temperature"}}, "unit_metrics.Cel"),
    ({"metric_units": {"relative_humidity": "%RH"}}, "metric_units.relative_humidity"),
    ({"entity_map": {"urn:dev:ow:1": "wx-bac-giang"}}, "entity_map.urn:dev:ow:1"),
])
def test_bad_options_name_the_key(options, key):
    with pytest.raises(ParserOptionsError) as info:
        build_parser("senml", options, CTX)
    assert info.value.key == key


def test_defaults_need_no_options():
    assert build_parser("senml", None, CTX)("s", b'[{"n":"wx-bgc:temp_max","v":1}]').readings


# --- junk never raises ---------------------------------------------------------------------------------

KEYS = st.sampled_from(["bn", "bt", "bu", "bv", "bs", "bver", "n", "u", "v", "vs", "vb", "vd", "s", "t", "ut",
                        "x_", ""]) | st.text(max_size=5)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | \
    st.sampled_from(["wx-bgc:", "temp_max", "Cel", "mm", 2**28, -1e308, 1e308, 10**30])
JUNK = st.recursive(SCALARS, lambda children: st.lists(children, max_size=5)
                    | st.dictionaries(KEYS, children, max_size=6), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_junk_bytes_never_raise(payload):
    out = parser()("s", payload)
    assert out.readings or out.errors


@settings(max_examples=500, deadline=None)
@given(JUNK)
def test_junk_json_never_raises(document):
    out = parser(entity_map={"wx": "wx-bgc"}, unit_metrics={"Cel": "temp_max"})(
        "s", json.dumps(document).encode())
    for r in out.readings:
        assert isinstance(r.value, float) and r.ts.tzinfo is not None
    if isinstance(document, list) and document:
        assert len(out.readings) + len(out.errors) >= 1
