"""json_mapping parser: a department's JSON API mapped by options only; the shared time helper."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import feeds.json_mapping  # noqa: F401  (registers the parser)
from feeds.json_mapping import get_path, is_missing, parse_time, zone
from ioc.config import load_config
from ioc.models import Reading
from ioc.transports.contract import ParserContext, ParserOptionsError, build_parser

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
NOW = datetime(2026, 11, 27, 1, 30, tzinfo=UTC)
CONFIG = load_config(ROOT / "config", environ={})
CTX = ParserContext(CONFIG, clock=lambda: NOW)
BEDS = json.loads((FIXTURES / "dept_health_beds.json").read_text(encoding="utf-8"))

BEDS_OPTIONS = {
    "records": "data.items",
    "entity": "facility.code",
    "entity_map": {"BV-DK-TINH": "hosp-bgc-01", "BV-SAN-NHI": "hosp-bgc-02", "BV-PHOI": "hosp-bgc-03",
                   "BV-UNG-BUOU": "hosp-bgc-05"},
    "time": "reported_at",
    "values": {"bed_occupancy": {"field": "stats.beds.occupancy_ratio", "scale": 100},
               "ed_occupancy": {"field": "stats.ed.occupancy.0"}},
}
LYCHEE_OPTIONS = {
    "entity": "district", "entity_prefix": "agri-", "time": "ts", "time_format": "epoch_s",
    "values": {"lychee_harvest": {"field": "harvest_t"}, "lychee_price": {"field": "price_vnd"}},
}
T8 = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)  # 08:00 in Bắc Giang


def parser(**options):
    return build_parser("json_mapping", options, CTX)


def run(document, **options):
    return parser(**options)("http://so-y-te.example/api/beds", json.dumps(document, ensure_ascii=False).encode())


def assert_known(readings):
    for r in readings:
        assert r.entity in CONFIG.entities, r
        assert r.metric in CONFIG.entity_metrics(r.entity), r


# --- the fixtures --------------------------------------------------------------------------------------

def test_hospital_bed_report():
    out = parser(**BEDS_OPTIONS)("s", (FIXTURES / "dept_health_beds.json").read_bytes())
    assert out.readings == [
        Reading("hosp-bgc-01", "bed_occupancy", T8, pytest.approx(93.4)),
        Reading("hosp-bgc-01", "ed_occupancy", T8, 112.5),
        # a naive "2026-11-27 08:00:00" is Bắc Giang time; "0.902" as a string is still a number
        Reading("hosp-bgc-02", "bed_occupancy", T8, pytest.approx(90.2)),
        Reading("hosp-bgc-02", "ed_occupancy", T8, 96.0),
        Reading("hosp-bgc-03", "bed_occupancy", T8, pytest.approx(80.4)),
        Reading("hosp-bgc-05", "ed_occupancy", T8, 88.0),
    ]
    assert [e.reason for e in out.errors] == [
        "record 2: ed_occupancy: field 'stats.ed.occupancy.0' is missing",
        "record 3: bed_occupancy: field 'stats.beds.occupancy_ratio' is not a number: 'n/a'",
    ]
    assert "Bệnh viện Phổi Bắc Giang" in out.errors[0].excerpt  # the record excerpt, readable
    assert_known(out.readings)


def test_top_level_list_epoch_seconds_and_entity_prefix():
    out = parser(**LYCHEE_OPTIONS)("s", (FIXTURES / "dept_agri_lychee.json").read_bytes())
    assert out.errors == []
    assert out.readings == [
        Reading("agri-lng", "lychee_harvest", T8, 1520.5), Reading("agri-lng", "lychee_price", T8, 32000.0),
        Reading("agri-tye", "lychee_harvest", T8, 410.0), Reading("agri-tye", "lychee_price", T8, 28500.0),
        Reading("agri-lna", "lychee_harvest", T8, 96.2), Reading("agri-lna", "lychee_price", T8, 30000.0),
    ]
    assert_known(out.readings)


@pytest.mark.parametrize("time_format, raw, timezone_name", [
    ("epoch_ms", 1795741200000, "Asia/Ho_Chi_Minh"),
    ("epoch_ms", "1795741200000", "Asia/Ho_Chi_Minh"),
    ("epoch_s", "1795741200", "Asia/Ho_Chi_Minh"),
    ("iso8601", "2026-11-27T01:00:00Z", "Asia/Ho_Chi_Minh"),
    ("iso8601", "2026-11-27T08:00:00", "Asia/Ho_Chi_Minh"),
    ("iso8601", "2026-11-27T01:00:00", "UTC"),
    ("%d/%m/%Y %H:%M", "27/11/2026 08:00", "Asia/Ho_Chi_Minh"),
    ("%d/%m/%Y %H:%M %z", "27/11/2026 08:00 +0700", "UTC"),
    ("%H:%M ngày %d/%m/%Y", "08:00 ngày 27/11/2026", "Asia/Ho_Chi_Minh"),
])
def test_time_formats(time_format, raw, timezone_name):
    out = run([{"code": "wx-bgc", "at": raw, "t": 21.5}], entity="code", time="at", time_format=time_format,
              timezone=timezone_name, values={"temp_max": {"field": "t"}})
    assert out.errors == []
    assert out.readings == [Reading("wx-bgc", "temp_max", T8, 21.5)]


def test_scale_and_offset_convert_units():
    # a gauge reporting centimetres above a datum 2 m below the catalog's datum
    out = run({"obs": [{"id": "gauge-plt", "at": "2026-11-27T08:00:00+07:00", "h": 412}]}, records="obs",
              entity="id", time="at", values={"river_level": {"field": "h", "scale": 0.01, "offset": -2}})
    assert out.readings == [Reading("gauge-plt", "river_level", T8, pytest.approx(2.12))]


def test_missing_time_uses_the_time_of_receipt_when_configured():
    doc = [{"id": "wx-bgc", "rain": 3}, {"id": "wx-lng", "rain": 4, "at": None}, {"id": "wx-lna", "rain": 5, "at": ""}]
    out = run(doc, entity="id", time="at", defaults={"time": "received"}, values={"rainfall_24h": {"field": "rain"}})
    assert out.errors == []
    assert [(r.entity, r.ts) for r in out.readings] == [("wx-bgc", NOW), ("wx-lng", NOW), ("wx-lna", NOW)]
    out = run(doc, entity="id", defaults={"time": "received"}, values={"rainfall_24h": {"field": "rain"}})
    assert len(out.readings) == 3
    out = run(doc, entity="id", time="at", values={"rainfall_24h": {"field": "rain"}})
    assert out.readings == [] and [e.reason for e in out.errors] == [
        f"record {i}: time field 'at' is missing" for i in range(3)]


def test_numeric_entity_values_and_unmapped_values_use_the_prefix():
    doc = [{"so": 1, "v": 90}, {"so": 2.0, "v": 91}, {"so": "03", "v": 92}]
    out = run(doc, entity="so", entity_map={"1": "hosp-bgc-01"}, entity_prefix="hosp-bgc-0",
              defaults={"time": "received"}, values={"bed_occupancy": {"field": "v"}})
    assert [r.entity for r in out.readings] == ["hosp-bgc-01", "hosp-bgc-02", "hosp-bgc-003"]  # ingest rejects the last


# --- failures ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("payload, reason", [
    (b'{"data": {"items": [}}', "invalid JSON"),
    (b"\x89PNG\r\n", "invalid UTF-8 at byte 0"),
    (b'{"data": {"items": []}}', "empty list of records at 'data.items'"),
    (b'{"data": {"records": []}}', "expected a list of records at 'data.items', found nothing"),
    (b'{"data": {"items": {"a": 1}}}', "expected a list of records at 'data.items', found object"),
    (b'{"status": "error", "message": "unauthorized"}', "expected a list of records at 'data.items', found nothing"),
    (b"[1, 2]", "expected a list of records at 'data.items', found nothing"),
])
def test_unreadable_documents(payload, reason):
    out = parser(**BEDS_OPTIONS)("s", payload)
    assert out.readings == [] and len(out.errors) == 1 and out.errors[0].reason.startswith(reason)


def test_truncated_payload():
    data = (FIXTURES / "dept_health_beds.json").read_bytes()
    out = parser(**BEDS_OPTIONS)("s", data[: len(data) - 40])
    assert out.readings == [] and out.errors[0].reason.startswith("invalid JSON")


def test_schema_drift_a_renamed_field_gives_one_error_per_reading():
    doc = copy.deepcopy(BEDS)
    for item in doc["data"]["items"]:
        item["stats"]["beds"]["occupancy"] = item["stats"]["beds"].pop("occupancy_ratio")
    out = run(doc, **BEDS_OPTIONS)
    assert [r.metric for r in out.readings] == ["ed_occupancy"] * 3
    drift = [e.reason for e in out.errors if "bed_occupancy" in e.reason]
    assert drift == [f"record {i}: bed_occupancy: field 'stats.beds.occupancy_ratio' is missing" for i in range(4)]
    assert len(out.errors) == 5  # and record 2 still has no ED figure


def test_schema_drift_a_renamed_entity_field_fails_each_record_once():
    doc = copy.deepcopy(BEDS)
    for item in doc["data"]["items"]:
        item["co_so"] = item.pop("facility")
    out = run(doc, **BEDS_OPTIONS)
    assert out.readings == []
    assert [e.reason for e in out.errors] == [f"record {i}: entity field 'facility.code' is missing" for i in range(4)]


@pytest.mark.parametrize("record, reason", [
    ({"id": "wx-bgc", "at": "2026-11-27T08:00:00+07:00", "t": True}, "temp_max: field 't' is not a number: true"),
    ({"id": "wx-bgc", "at": "2026-11-27T08:00:00+07:00", "t": [21]}, "temp_max: field 't' is not a number: [21]"),
    ({"id": "wx-bgc", "at": "2026-11-27T08:00:00+07:00", "t": "21,5"}, "temp_max: field 't' is not a number: '21,5'"),
    ({"id": "wx-bgc", "at": "2026-11-27T08:00:00+07:00", "t": "nan"}, "temp_max: field 't' is not a number: 'nan'"),
    ({"id": "wx-bgc", "at": "2026-11-27T08:00:00+07:00", "t": None}, "temp_max: field 't' is not a number: null"),
    ({"id": "wx-bgc", "at": 1795741200, "t": 21}, "time must be a string, got number"),
    ({"id": "wx-bgc", "at": "27/11/2026", "t": 21}, "time is not ISO 8601: '27/11/2026'"),
    ({"id": {"code": "wx-bgc"}, "at": "2026-11-27T08:00:00+07:00", "t": 21},
     "entity field 'id' is not a name (object)"),
    ({"id": "", "at": "2026-11-27T08:00:00+07:00", "t": 21}, "entity field 'id' is not a name (string)"),
    ({"id": True, "at": "2026-11-27T08:00:00+07:00", "t": 21}, "entity field 'id' is not a name (boolean)"),
    ("wx-bgc", "expected an object, got string"),
])
def test_bad_records_are_errors_and_other_records_still_read(record, reason):
    good = {"id": "wx-lng", "at": "2026-11-27T08:00:00+07:00", "t": 22}
    out = run([record, good], entity="id", time="at", values={"temp_max": {"field": "t"}})
    assert out.readings == [Reading("wx-lng", "temp_max", T8, 22.0)]
    assert [e.reason for e in out.errors] == [f"record 0: {reason}"]


def test_epoch_out_of_range_is_an_error():
    out = run([{"id": "wx-bgc", "at": 1e30, "t": 1}], entity="id", time="at", time_format="epoch_ms",
              values={"temp_max": {"field": "t"}})
    assert out.readings == [] and "out of range" in out.errors[0].reason


# --- paths and the time helper -------------------------------------------------------------------------

def test_paths():
    doc = {"a": {"b": [10, {"c": 3}]}, "": 1, "0": "zero"}
    assert get_path(doc, "") is doc
    assert get_path(doc, "a.b.0") == 10
    assert get_path(doc, "a.b.-1.c") == 3
    assert get_path(doc, "0") == "zero"
    for path in ("a.b.2", "a.x", "a.b.c", "a.b.0.c", "x.y", "a.b.1.c.d"):
        assert is_missing(get_path(doc, path)), path


def test_parse_time_helper():
    vn = zone("Asia/Ho_Chi_Minh")
    assert parse_time("2026-11-27T08:00:00", "iso8601", vn) == T8
    assert parse_time("2026-11-27T08:00:00+07:00", "iso8601", UTC) == T8
    assert parse_time(" 27/11/2026 08:00 ", "%d/%m/%Y %H:%M", vn) == T8
    assert parse_time(1795741200.5, "epoch_s") == T8 + timedelta(milliseconds=500)
    assert parse_time("2026-11-27T09:00:00+08:00").utcoffset() == timedelta(0)
    assert parse_time("2026-11-27T08:00:00", tz=timezone(timedelta(hours=7))) == T8
    for raw, fmt in ((True, "epoch_s"), (None, "iso8601"), ("soon", "epoch_ms"), ("2026-13-01", "iso8601"),
                     ("27-11-2026", "%d/%m/%Y"), (float("inf"), "epoch_s"), ([], "epoch_s")):
        with pytest.raises(ValueError):
            parse_time(raw, fmt, vn)


# --- options -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("change, key", [
    ({"record": "data.items"}, "record"),
    ({"values": {"bed_occupancy": {"field": "x", "scael": 100}}}, "values.bed_occupancy.scael"),
    ({"values": {"bed_occupancy": {"scale": 100}}}, "values.bed_occupancy.field"),
    ({"values": {"bed_occupancy": {"field": "x", "scale": "inf"}}}, "values.bed_occupancy.scale"),
    ({"values": {}}, "values"),
    ({"time_format": "dd/mm/yyyy"}, "time_format"),
    ({"timezone": "ICT"}, "timezone"),
    ({"defaults": {"time": "now"}}, "defaults.time"),
    ({"defaults": {"ts": "received"}}, "defaults.ts"),
    ({"time": None}, "time"),
    ({"entity": ""}, "entity"),
    ({"values": {"bed_occupancy_pct": {"field": "x"}}}, "values.bed_occupancy_pct"),
    ({"entity_map": {"BV-PHOI": "hosp-phoi"}}, "entity_map.BV-PHOI"),
])
def test_bad_options_name_the_key(change, key):
    with pytest.raises(ParserOptionsError) as info:
        build_parser("json_mapping", {**BEDS_OPTIONS, **change}, CTX)
    assert info.value.key == key


def test_entity_and_values_are_required():
    with pytest.raises(ParserOptionsError) as info:
        build_parser("json_mapping", {"values": {"x": {"field": "y"}}, "time": "t"}, CTX)
    assert info.value.key == "entity"


# --- junk never raises ---------------------------------------------------------------------------------

KEYS = st.sampled_from(["data", "items", "facility", "code", "reported_at", "stats", "beds", "occupancy_ratio",
                        "ed", "occupancy", "0"]) | st.text(max_size=5)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.sampled_from(
    ["BV-PHOI", "2026-11-27T08:00:00+07:00", "12.5", "-0", "1e999", 10**400, 1e308])
JUNK = st.recursive(SCALARS, lambda children: st.lists(children, max_size=5)
                    | st.dictionaries(KEYS, children, max_size=6), max_leaves=40)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_junk_bytes_never_raise(payload):
    out = parser(**BEDS_OPTIONS)("s", payload)
    assert out.readings or out.errors


@settings(max_examples=500, deadline=None)
@given(JUNK, st.sampled_from(["iso8601", "epoch_s", "epoch_ms", "%d/%m/%Y"]))
def test_junk_json_never_raises(document, time_format):
    out = parser(**{**BEDS_OPTIONS, "time_format": time_format, "defaults": {"time": "received"}})(
        "s", json.dumps(document).encode())
    assert out.readings or out.errors
    out = parser(**{**BEDS_OPTIONS, "records": ""})("s", json.dumps(document).encode())
    assert out.readings or out.errors
