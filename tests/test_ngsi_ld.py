"""NGSI-LD parser: Smart Data Models examples (AirQualityObserved, TrafficFlowObserved) with Bắc Giang ids."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import feeds.ngsi_ld  # noqa: F401  (registers the parser)
from ioc.config import load_config
from ioc.models import Reading
from ioc.transports.contract import ParserContext, ParserOptionsError, build_parser

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
NOW = datetime(2026, 11, 27, 1, 30, tzinfo=UTC)
CONFIG = load_config(ROOT / "config", environ={})
CTX = ParserContext(CONFIG, clock=lambda: NOW)
AIR = json.loads((FIXTURES / "ngsi_ld_air_quality.jsonld").read_text(encoding="utf-8"))
TRAFFIC = json.loads((FIXTURES / "ngsi_ld_traffic_flow.jsonld").read_text(encoding="utf-8"))


def parser(**options):
    return build_parser("ngsi_ld", options, CTX)


def run(document, **options):
    return parser(**options)("ngsi/test", json.dumps(document).encode())


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 27, hour, minute, tzinfo=UTC)


def assert_known(readings):
    for r in readings:
        assert r.entity in CONFIG.entities, r
        assert r.metric in CONFIG.entity_metrics(r.entity), r


# --- Smart Data Models examples ------------------------------------------------------------------------

def test_air_quality_normalized_example():
    out = parser()("s", (FIXTURES / "ngsi_ld_air_quality.jsonld").read_bytes())
    assert out.errors == []
    # the interval 00:00/01:00 (no offset: NGSI-LD times are UTC) is stamped at its end
    assert out.readings == [Reading("air-bgc-01", "pm25", at(1), 38.4), Reading("air-bgc-01", "pm10", at(1), 61.0)]
    assert_known(out.readings)


def test_air_quality_index_is_not_vn_aqi_unless_mapped():
    assert all(r.metric != "vn_aqi" for r in run(AIR).readings)
    out = run(AIR, attributes={"pm25": "pm25", "pm10": "pm10", "airQualityIndex": "vn_aqi"})
    assert out.errors == []
    assert Reading("air-bgc-01", "vn_aqi", at(1), 65.0) in out.readings and len(out.readings) == 3
    assert_known(out.readings)


def test_air_quality_key_values_array():
    out = parser()("s", (FIXTURES / "ngsi_ld_air_quality_keyvalues.json").read_bytes())
    assert out.errors == []
    assert out.readings == [Reading("air-vye-01", "pm25", at(1), 41.2), Reading("air-vye-01", "pm10", at(1), 70.5),
                            Reading("air-sdo-01", "pm25", at(1), 12.0), Reading("air-sdo-01", "pm10", at(1), 24.5)]
    assert_known(out.readings)


def test_notification_envelope_and_observed_at_per_attribute():
    out = parser()("s", (FIXTURES / "ngsi_ld_notification.json").read_bytes())
    assert out.errors == []
    assert out.readings == [Reading("air-bgc-01", "pm25", at(1, 5), 38.4), Reading("air-bgc-01", "pm10", at(1), 61.0)]


def test_traffic_flow_has_no_truthful_default_mapping():
    out = run(TRAFFIC)
    assert out.readings == []
    assert [e.reason for e in out.errors] == [
        "entity 0: no attribute of TrafficFlowObserved is mapped to a metric (set options.attributes)"]


def test_traffic_flow_explicit_mapping_with_scale():
    # a lorry-only count over 5 minutes (01:10/01:15) is a heavy-vehicle volume once scaled to vehicles per hour
    out = run(TRAFFIC, attributes={"intensity": {"metric": "heavy_vehicle_volume", "scale": 12}})
    assert out.errors == []
    assert out.readings == [Reading("road-bgc-core", "heavy_vehicle_volume", at(1, 15), 2364.0)]
    assert_known(out.readings)
    start = run(TRAFFIC, attributes={"intensity": {"metric": "heavy_vehicle_volume", "scale": 12}}, interval="start")
    assert start.readings[0].ts == at(1, 10)


def test_date_observed_from_and_to_when_date_observed_is_absent():
    doc = copy.deepcopy(TRAFFIC)
    del doc["dateObserved"]
    options = {"attributes": {"occupancy": {"metric": "congestion_index", "scale": 100}}}
    assert run(doc, **options).readings == [Reading("road-bgc-core", "congestion_index", at(1, 15), 76.0)]
    assert run(doc, interval="start", **options).readings[0].ts == at(1, 10)


def test_entity_from_id_map_by_longest_prefix():
    doc = copy.deepcopy(AIR)
    doc["id"] = "urn:ngsi-ld:AirQualityObserved:Madrid-AmbientObserved-28079004-2016-03-15T11:00:00"
    out = run(doc, entity_from="id_map", id_map={"urn:ngsi-ld:AirQualityObserved:Madrid": "air-sdo-01",
                                                  "urn:ngsi-ld:AirQualityObserved:Madrid-AmbientObserved-28079004":
                                                  "air-vye-01"})
    assert {r.entity for r in out.readings} == {"air-vye-01"}
    out = run(doc, entity_from="id_map", id_map={"urn:ngsi-ld:AirQualityObserved:x": "air-sdo-01"})
    assert out.readings == [] and "matches no id_map entry" in out.errors[0].reason


def test_id_segment_option():
    doc = dict(AIR, id="urn:ngsi-ld:AirQualityObserved:bacgiang:air-bgc-01")
    assert {r.entity for r in run(doc, id_segment=-1).readings} == {"air-bgc-01"}
    assert {r.entity for r in run(doc, id_segment=4).readings} == {"air-bgc-01"}


def test_expanded_attribute_names_and_typed_literal_values():
    doc = {"id": "urn:ngsi-ld:AirQualityObserved:air-bgc-01:x",
           "type": "https://smartdatamodels.org/dataModel.Environment/AirQualityObserved",
           "https://smartdatamodels.org/dataModel.Environment/pm25": {"type": "Property", "value": 20.5},
           "https://smartdatamodels.org/dataModel.Environment/pm10": {"type": "Property",
                                                                      "value": {"@type": "Number", "@value": 30}},
           "dateObserved": {"type": "Property", "value": {"@type": "DateTime", "@value": "2026-11-27T08:00:00+07:00"}}}
    out = run(doc)
    assert out.errors == []
    assert out.readings == [Reading("air-bgc-01", "pm25", at(1), 20.5), Reading("air-bgc-01", "pm10", at(1), 30.0)]


def test_multi_attribute_takes_the_default_instance():
    doc = dict(AIR, pm25=[{"type": "Property", "value": 1.0, "datasetId": "urn:ngsi-ld:Dataset:raw"},
                          {"type": "Property", "value": 38.4, "unitCode": "GQ"}])
    assert Reading("air-bgc-01", "pm25", at(1), 38.4) in run(doc).readings


def test_missing_time_is_an_error_unless_received_is_the_default():
    doc = {k: v for k, v in AIR.items() if k != "dateObserved"}
    out = run(doc)
    assert out.readings == []
    assert [e.reason for e in out.errors] == ["entity 0: pm25: no time: neither observedAt nor dateObserved",
                                              "entity 0: pm10: no time: neither observedAt nor dateObserved"]
    assert {r.ts for r in run(doc, defaults={"time": "received"}).readings} == {NOW}


def test_naive_times_are_read_in_the_configured_timezone():
    doc = dict(AIR, dateObserved="2026-11-27T08:00:00")
    assert {r.ts for r in run(doc, timezone="Asia/Ho_Chi_Minh").readings} == {at(1)}
    assert {r.ts for r in run(doc).readings} == {at(8)}


# --- failures ------------------------------------------------------------------------------------------

def test_unit_code_mismatch_is_an_error_for_that_attribute():
    doc = dict(AIR, pm25={"type": "Property", "value": 0.0384, "unitCode": "GP"})
    out = run(doc)
    assert out.readings == [Reading("air-bgc-01", "pm10", at(1), 61.0)]
    assert [e.reason for e in out.errors] == [
        'entity 0: pm25: unitCode "GP" where GQ is expected (units are not converted)']
    assert '"pm25"' in out.errors[0].excerpt


def test_schema_drift_renamed_attributes():
    doc = {("pm2_5" if k == "pm25" else "PM10" if k == "pm10" else k): v for k, v in AIR.items()}
    out = run(doc)
    assert out.readings == []
    assert [e.reason for e in out.errors] == ["entity 0: none of the mapped attributes (pm25, pm10) is present"]


@pytest.mark.parametrize("change, reason", [
    ({"pm25": {"type": "Property", "value": "38.4"}}, "entity 0: pm25: value is not a number (string)"),
    ({"pm25": {"type": "Property"}}, "entity 0: pm25: property has no value"),
    ({"pm25": {"type": "Relationship", "object": "urn:x"}}, "entity 0: pm25: is a Relationship, not a Property"),
    ({"pm25": True}, "entity 0: pm25: value is not a number (boolean)"),
    ({"pm25": [{"type": "Property", "value": 1, "datasetId": "a"}]},
     "entity 0: pm25: a multi-attribute without a single default instance (no datasetId)"),
    ({"pm25": {"type": "Property", "value": 38.4, "observedAt": "yesterday"}},
     "entity 0: pm25: time is not ISO 8601: 'yesterday'"),
])
def test_bad_attributes_are_errors_and_other_attributes_still_read(change, reason):
    out = run(dict(AIR, **change))
    assert out.readings == [Reading("air-bgc-01", "pm10", at(1), 61.0)]
    assert [e.reason for e in out.errors] == [reason]


@pytest.mark.parametrize("change, reason", [
    ({"type": "WeatherObserved"}, 'entity 0: type "WeatherObserved" is not one of AirQualityObserved, '
                                  "TrafficFlowObserved"),
    ({"type": None}, "entity 0: type null is not one of"),
    ({"id": 42}, "entity 0: id must be a non-empty string, got number"),
    ({"id": "urn:ngsi-ld:AirQualityObserved"}, "entity 0: id 'urn:ngsi-ld:AirQualityObserved' has no segment 3"),
    ({"dateObserved": 1795741200}, "entity 0: dateObserved must be a date-time string, got number"),
    ({"dateObserved": "2026-11-27T00:00:00Z/PT1H"}, "entity 0: dateObserved interval '2026-11-27T00:00:00Z/PT1H' "
                                                    "is not start/end"),
    ({"dateObserved": "27/11/2026"}, "entity 0: dateObserved interval '27/11/2026' is not start/end"),
    ({"dateObserved": "hôm nay"}, "entity 0: time is not ISO 8601: 'hôm nay'"),
])
def test_bad_entities(change, reason):
    out = run([dict(AIR, **change), json.loads((FIXTURES / "ngsi_ld_air_quality_keyvalues.json").read_text())[1]])
    assert [r.entity for r in out.readings] == ["air-sdo-01", "air-sdo-01"]
    assert len(out.errors) == 1 and out.errors[0].reason.startswith(reason), out.errors[0].reason


@pytest.mark.parametrize("payload, reason", [
    (b"[]", "no entities"),
    (b'{"type": "Notification", "subscriptionId": "x", "data": []}', "no entities"),
    (b"not json", "invalid JSON"),
    (b"\xc3\x28", "invalid UTF-8 at byte 0"),
    (b"42", "entity 0: expected an object, got number"),
])
def test_unreadable_documents(payload, reason):
    out = parser()("s", payload)
    assert out.readings == [] and len(out.errors) == 1 and out.errors[0].reason.startswith(reason)


def test_truncated_payload():
    data = (FIXTURES / "ngsi_ld_air_quality.jsonld").read_bytes()
    out = parser()("s", data[:700])
    assert out.readings == [] and out.errors[0].reason.startswith("invalid JSON")


# --- options -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("options, key", [
    ({"entity_form": "id_segment"}, "entity_form"),
    ({"entity_from": "id_map"}, "id_map"),
    ({"entity_from": "name"}, "entity_from"),
    ({"attributes": {"pm25": {"metric": "pm25", "factor": 2}}}, "attributes.pm25.factor"),
    ({"timezone": "Asia/Hanoi_City"}, "timezone"),
    ({"interval": "middle"}, "interval"),
    ({"types": []}, "types"),
    ({"attributes": {"airQualityIndex": "aqi"}}, "attributes.airQualityIndex.metric"),
    ({"unit_codes": {"pm2_5": "GQ"}}, "unit_codes.pm2_5"),
    ({"entity_from": "id_map", "id_map": {"urn:ngsi-ld:AirQualityObserved:Madrid": "air-madrid"}},
     "id_map.urn:ngsi-ld:AirQualityObserved:Madrid"),
])
def test_bad_options_name_the_key(options, key):
    with pytest.raises(ParserOptionsError) as info:
        build_parser("ngsi_ld", options, CTX)
    assert info.value.key == key


# --- junk never raises ---------------------------------------------------------------------------------

KEYS = st.sampled_from(["id", "type", "pm25", "pm10", "value", "observedAt", "unitCode", "dateObserved",
                        "dateObservedTo", "datasetId", "data", "@value", "subscriptionId"]) | st.text(max_size=5)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.sampled_from(
    ["AirQualityObserved", "Property", "Relationship", "Notification", "GQ", "urn:ngsi-ld:AirQualityObserved:a:b",
     "2026-11-27T01:00:00Z", "a/b", "2026-11-27T01:00:00/2026-11-27T02:00:00", 10**400])
JUNK = st.recursive(SCALARS, lambda children: st.lists(children, max_size=5)
                    | st.dictionaries(KEYS, children, max_size=8), max_leaves=40)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_junk_bytes_never_raise(payload):
    out = parser()("s", payload)
    assert out.readings or out.errors


@settings(max_examples=500, deadline=None)
@given(JUNK)
def test_junk_json_never_raises(document):
    out = parser(defaults={"time": "received"})("s", json.dumps(document).encode())
    assert out.readings or out.errors
