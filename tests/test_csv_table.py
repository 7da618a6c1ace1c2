"""csv_table parser: department spreadsheets (BOM, ';' and Vietnamese decimal commas), bad rows, options, junk."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import feeds.csv_table  # noqa: F401  (registers the parser)
from feeds.csv_table import number_pattern
from ioc.config import load_config
from ioc.models import Reading
from ioc.transports.contract import ParserContext, ParserOptionsError, build_parser

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
NOW = datetime(2026, 11, 27, 1, 30, tzinfo=UTC)
CONFIG = load_config(ROOT / "config", environ={})
CTX = ParserContext(CONFIG, clock=lambda: NOW)
T8 = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)  # 08:00 in Bắc Giang
JUNE_27 = datetime(2026, 6, 26, 17, 0, tzinfo=UTC)  # 27/06/2026 00:00 in Bắc Giang

LYCHEE = {
    "delimiter": ";", "decimal": ",",
    "entity_column": "Huyện", "entity_map": {"Lục Ngạn": "agri-lng", "Tân Yên": "agri-tye", "Lục Nam": "agri-lna"},
    "time_column": "Ngày báo cáo", "time_format": "%d/%m/%Y",
    "columns": {"Sản lượng thu hoạch (tấn)": {"metric": "lychee_harvest"},
                "Giá tại vườn (đồng/kg)": {"metric": "lychee_price"}},
}
BEDS = {
    "entity_column": "facility_code", "time_column": "reported_at",
    "columns": {"bed_occupancy_pct": {"metric": "bed_occupancy"}, "ed_occupancy_pct": {"metric": "ed_occupancy"}},
}


def parser(**options):
    return build_parser("csv_table", options, CTX)


def run(text: str | bytes, **options):
    return parser(**options)("http://so-nn.example/vai-thieu.csv", text.encode() if isinstance(text, str) else text)


def assert_known(readings):
    for r in readings:
        assert r.entity in CONFIG.entities, r
        assert r.metric in CONFIG.entity_metrics(r.entity), r


# --- the fixtures --------------------------------------------------------------------------------------

def test_vietnamese_spreadsheet_with_bom_semicolons_and_decimal_commas():
    out = run((FIXTURES / "dept_agri_lychee.csv").read_bytes(), **LYCHEE)
    assert out.errors == []
    assert out.readings == [
        Reading("agri-lng", "lychee_harvest", JUNE_27, 1520.5), Reading("agri-lng", "lychee_price", JUNE_27, 32000.0),
        Reading("agri-tye", "lychee_harvest", JUNE_27, 410.0), Reading("agri-tye", "lychee_price", JUNE_27, 28500.0),
        Reading("agri-lna", "lychee_harvest", JUNE_27, 96.2), Reading("agri-lna", "lychee_price", JUNE_27, 30000.0),
    ]
    assert_known(out.readings)


def test_bad_rows_are_errors_with_their_row_numbers():
    out = run((FIXTURES / "dept_health_beds.csv").read_bytes(), **BEDS)
    assert out.readings == [
        Reading("hosp-bgc-01", "bed_occupancy", T8, 93.4), Reading("hosp-bgc-01", "ed_occupancy", T8, 112.5),
        Reading("hosp-bgc-02", "bed_occupancy", T8, 90.2),
        Reading("hosp-bgc-03", "ed_occupancy", T8, 71.0),
        Reading("hosp-bgc-05", "bed_occupancy", T8, 90.0), Reading("hosp-bgc-05", "ed_occupancy", T8, 88.0),
    ]
    assert [e.reason for e in out.errors] == [
        "row 3: ed_occupancy: column 'ed_occupancy_pct' is empty",
        "row 4: bed_occupancy: column 'bed_occupancy_pct' is not a number with decimal mark '.': 'n/a'",
        "row 5: 5 cells, the header has 4",
    ]
    assert out.errors[2].excerpt == "hosp-bgc-04,2026-11-27T08:00:00+07:00,75,80,extra"
    assert_known(out.readings)
    out = run((FIXTURES / "dept_health_beds.csv").read_bytes(), empty="skip", **BEDS)
    assert len(out.errors) == 2


def test_epoch_times_received_default_scale_and_offset():
    text = "Trạm,Lúc,Mực nước (cm)\ngauge-plt,1795741200,412\ngauge-cau-son,,1630\n"
    out = run(text, entity_column="Trạm", time_column="Lúc", time_format="epoch_s", defaults={"time": "received"},
              columns={"Mực nước (cm)": {"metric": "river_level", "scale": 0.01}})
    assert out.errors == []
    assert out.readings == [Reading("gauge-plt", "river_level", T8, 4.12), Reading("gauge-cau-son", "river_level", NOW,
                                                                                   16.3)]


def test_no_time_column_with_received_and_header_names_trimmed_and_tabs():
    text = " station \t rain_mm \r\nwx-bgc\t12,5\r\n\r\nwx-lng\t0\r\n"
    out = run(text, delimiter="\t", decimal=",", entity_column="station", defaults={"time": "received"},
              columns={"rain_mm": {"metric": "rainfall_24h"}})
    assert out.errors == []
    assert out.readings == [Reading("wx-bgc", "rainfall_24h", NOW, 12.5), Reading("wx-lng", "rainfall_24h", NOW, 0.0)]


def test_quoted_multiline_cell_keeps_spreadsheet_row_numbers_of_the_physical_file():
    text = 'id,note,v\nwx-bgc,"two\nlines",1\nwx-lng,x,bad\n'
    out = run(text, entity_column="id", defaults={"time": "received"}, columns={"v": {"metric": "temp_max"}})
    assert len(out.readings) == 1
    assert out.errors[0].reason.startswith("row 4: temp_max: column 'v' is not a number")


@pytest.mark.parametrize("decimal, cell, value", [
    (",", "1.520,5", 1520.5), (",", "96,2", 96.2), (",", "32.000", 32000.0), (",", "-0,5", -0.5),
    (",", "1.234.567", 1234567.0), (",", ",5", 0.5), (",", "410", 410.0), (",", " 7 ", 7.0),
    (".", "1,520.5", 1520.5), (".", "96.2", 96.2), (".", "1e3", 1000.0), (".", "+3.", 3.0),
])
def test_numbers(decimal, cell, value):
    out = run(f"id;v\nwx-bgc;{cell}\n", delimiter=";", decimal=decimal, entity_column="id",
              defaults={"time": "received"}, columns={"v": {"metric": "temp_max"}})
    assert out.errors == [] and out.readings[0].value == value


@pytest.mark.parametrize("decimal, cell", [
    (",", "12.4"), (",", "1.52,5"), (",", "12,4,1"), (".", "12,4"), (".", "1,52"), (".", "nan"), (".", "inf"),
    (".", "12 %"), (".", "0x10"), (".", "1_000"), (".", "--1"), (",", "1.000.00"),
])
def test_not_numbers_for_the_configured_decimal_mark(decimal, cell):
    assert not number_pattern(decimal).fullmatch(cell)
    out = run(f"id;v\nwx-bgc;{cell}\n", delimiter=";", decimal=decimal, entity_column="id",
              defaults={"time": "received"}, columns={"v": {"metric": "temp_max"}})
    assert out.readings == [] and "is not a number with decimal mark" in out.errors[0].reason


# --- failures ------------------------------------------------------------------------------------------

def test_schema_drift_renamed_value_column_keeps_the_other_columns():
    text = (FIXTURES / "dept_agri_lychee.csv").read_text(encoding="utf-8-sig").replace(
        "Giá tại vườn (đồng/kg)", "Giá bán (đồng/kg)")
    out = run(text, **LYCHEE)
    assert [r.metric for r in out.readings] == ["lychee_harvest"] * 3
    assert [e.reason for e in out.errors] == ["column 'Giá tại vườn (đồng/kg)' (lychee_price) is not in the header"]
    assert "Giá bán (đồng/kg)" in out.errors[0].excerpt


@pytest.mark.parametrize("old, new, reason", [
    ("Huyện", "Đơn vị", "entity column 'Huyện' is not in the header"),
    ("Ngày báo cáo", "Ngày", "time column 'Ngày báo cáo' is not in the header"),
])
def test_schema_drift_renamed_entity_or_time_column_stops_the_table(old, new, reason):
    text = (FIXTURES / "dept_agri_lychee.csv").read_text(encoding="utf-8-sig").replace(old, new)
    out = run(text, **LYCHEE)
    assert out.readings == [] and [e.reason for e in out.errors] == [reason]


def test_all_value_columns_renamed():
    out = run("Huyện;Ngày báo cáo;x\nLục Ngạn;27/06/2026;1\n", **LYCHEE)
    assert out.readings == [] and len(out.errors) == 2


@pytest.mark.parametrize("text, reason", [
    ("", "empty table: no header row"),
    ("\n\n", "empty table: no header row"),
    ("Huyện;Ngày báo cáo;Sản lượng thu hoạch (tấn);Giá tại vườn (đồng/kg)\n", "empty table: a header and no rows"),
    ("Huyện;Ngày báo cáo;Sản lượng thu hoạch (tấn);Giá tại vườn (đồng/kg)\n;;;\n", "empty table: a header and no rows"),
])
def test_empty_tables(text, reason):
    out = run(text, **LYCHEE)
    assert out.readings == [] and [e.reason for e in out.errors] == [reason]


def test_truncated_payload():
    data = (FIXTURES / "dept_agri_lychee.csv").read_bytes()
    cut = data[: data.index("Lục Nam".encode()) + 30]
    out = run(cut, **LYCHEE)
    assert len(out.readings) == 4
    assert [e.reason for e in out.errors] == ["row 4: 4 cells, the header has 5"]


def test_wrong_encoding_is_one_error():
    data = (FIXTURES / "dept_agri_lychee.csv").read_text(encoding="utf-8-sig").encode("utf-16")
    out = run(data, **LYCHEE)
    assert out.readings == [] and out.errors[0].reason == "not valid utf-8-sig at byte 0"
    assert run(data, encoding="utf-16", **LYCHEE).errors == []


def test_legacy_windows_1258_export():
    # 'Ngày' and the 'Huyện' entity value in a legacy Vietnamese code page
    text = "Huyen;Ngay;Gia\nLuc Ngan;27/06/2026;32.000\n"
    out = run(text.encode("cp1258"), encoding="cp1258", delimiter=";", decimal=",", entity_column="Huyen",
              entity_map={"Luc Ngan": "agri-lng"}, time_column="Ngay", time_format="%d/%m/%Y",
              columns={"Gia": {"metric": "lychee_price"}})
    assert out.readings == [Reading("agri-lng", "lychee_price", JUNE_27, 32000.0)]


@pytest.mark.parametrize("row, reason", [
    ("Lục Ngạn;27/6/26;1;2;", "row 2: time is not in the format '%d/%m/%Y': '27/6/26'"),
    (";27/06/2026;1;2;", "row 2: entity column 'Huyện' is empty"),
    ("Lục Ngạn;;1;2;", "row 2: time column 'Ngày báo cáo' is empty"),
    ("Lục Ngạn;27/06/2026;một;2;", "row 2: lychee_harvest: column 'Sản lượng thu hoạch (tấn)' is not a number"),
])
def test_bad_cells(row, reason):
    out = run(f"Huyện;Ngày báo cáo;Sản lượng thu hoạch (tấn);Giá tại vườn (đồng/kg);Ghi chú\n{row}\n"
              "Tân Yên;27/06/2026;410;28.500;\n", **LYCHEE)
    assert Reading("agri-tye", "lychee_harvest", JUNE_27, 410.0) in out.readings
    assert out.errors[0].reason.startswith(reason), out.errors[0].reason


# --- options -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("change, key", [
    ({"delimeter": ";"}, "delimeter"),
    ({"delimiter": ";;"}, "delimiter"),
    ({"delimiter": '"'}, "delimiter"),
    ({"decimal": ";"}, "decimal"),
    ({"encoding": "utf-9"}, "encoding"),
    ({"columns": {"x": {"metric": "lychee_price", "unit": "VND"}}}, "columns.x.unit"),
    ({"columns": {"x": {"scale": 2}}}, "columns.x.metric"),
    ({"columns": {}}, "columns"),
    ({"time_column": None}, "time_column"),
    ({"time_format": "ngày/tháng/năm"}, "time_format"),
    ({"timezone": "Hà Nội"}, "timezone"),
    ({"empty": "zero"}, "empty"),
    ({"columns": {"Giá": {"metric": "lychee_price_vnd"}}}, "columns.Giá.metric"),
    ({"entity_map": {"Lục Ngạn": "agri-luc-ngan"}}, "entity_map.Lục Ngạn"),
])
def test_bad_options_name_the_key(change, key):
    with pytest.raises(ParserOptionsError) as info:
        build_parser("csv_table", {**LYCHEE, **change}, CTX)
    assert info.value.key == key


# --- junk never raises ---------------------------------------------------------------------------------

CELLS = st.sampled_from(["Lục Ngạn", "Tân Yên", "27/06/2026", "1.520,5", "32.000", "", '"', '"a;b"', ";", "\n",
                         "\r", "\x00", "Huyện", "Ngày báo cáo", "Sản lượng thu hoạch (tấn)"]) | st.text(max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_junk_bytes_never_raise(payload):
    out = run(payload, **LYCHEE)
    assert out.readings or out.errors


@settings(max_examples=500, deadline=None)
@given(st.lists(st.lists(CELLS, max_size=6), max_size=8), st.sampled_from([";", ",", "\t"]))
def test_junk_tables_never_raise(rows, delimiter):
    header = "Huyện;Ngày báo cáo;Sản lượng thu hoạch (tấn)\n"
    text = header + "\n".join(delimiter.join(row) for row in rows)
    out = run(text, **{**LYCHEE, "delimiter": delimiter})
    assert out.readings or out.errors


JUNK_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                         lambda children: st.lists(children, max_size=5)
                         | st.dictionaries(st.text(max_size=5), children, max_size=5), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(JUNK_JSON)
def test_junk_json_never_raises(document):
    import json

    out = run(json.dumps(document, ensure_ascii=False), **{**LYCHEE, "delimiter": ","})
    assert out.readings or out.errors
