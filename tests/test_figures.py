"""panels/_figures.py and panels/_components.py with hand-made frames: no services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from ioc.config import Domain, Metric, Text, Thresholds
from panels._components import domain_card, metric_tile, worst_status
from panels._figures import GRAPH_CONFIG, pick_bucket, series_figure

PM25 = Metric(
    key="pm25", domain="health", unit="µg/m³", label=Text(vi="Bụi mịn PM2.5", en="Fine dust PM2.5"),
    kind="level", across="mean", over_time="mean", cadence=timedelta(minutes=1), valid_range=(0, 1000),
    thresholds=Thresholds(direction="above", warning=50, critical=150, source="test", scope="site"), headline=True,
    source="test",
)
ATTENDANCE = Metric(
    key="attendance_rate", domain="education", unit="%", label=Text(vi="Tỷ lệ chuyên cần", en="Attendance"),
    kind="share", across="mean", over_time="mean", cadence=timedelta(minutes=5), valid_range=(0, 100),
    thresholds=Thresholds(direction="below", warning=90, critical=80, source="test", scope="site"), headline=True,
    source="test",
)
NO_THRESHOLDS = Metric(
    key="students", domain="education", unit="", label=Text(vi="Số học sinh", en="Students"),
    kind="level", across="sum", over_time="last", cadence=timedelta(hours=1), valid_range=(0, 1e7), headline=True,
    source="test",
)
HEALTH = Domain(key="health", name=Text(vi="Y tế", en="Health"))


def series(start: str = "2025-01-01T00:00:00Z", n: int = 6, step_min: int = 5) -> pd.DataFrame:
    buckets = pd.date_range(pd.Timestamp(start), periods=n, freq=f"{step_min}min")
    return pd.DataFrame({"bucket": buckets, "value": np.linspace(20, 70, n)})


def row(**overrides) -> dict:
    base = {
        "domain": "health", "metric": "pm25", "value": 1234.5,
        "last_ts": pd.Timestamp("2025-01-01T00:00:00Z"), "age_s": 12.0, "stale": False,
        "status": "critical", "entities": 10, "stale_entities": 0,
    }
    base.update(overrides)
    return base


def walk(component):
    """Every component in a Dash tree."""
    yield component
    children = getattr(component, "children", None)
    if children is None:
        return
    if not isinstance(children, list | tuple):
        children = [children]
    for child in children:
        if hasattr(child, "to_plotly_json"):
            yield from walk(child)


def by_class(component, name: str) -> list:
    return [c for c in walk(component) if name in (getattr(c, "className", None) or "").split()]


def text_of(component) -> str:
    if isinstance(component, str | int | float):
        return str(component)
    children = getattr(component, "children", None)
    if children is None:
        return ""
    if not isinstance(children, list | tuple):
        children = [children]
    return "".join(text_of(c) for c in children)


# --- figures --------------------------------------------------------------------------------

def threshold_shapes(fig):
    return [s for s in fig.layout.shapes if s.type == "line"]


def test_thresholds_are_dashed_horizontal_lines():
    fig = series_figure(series(), PM25, "vi", "Asia/Ho_Chi_Minh")
    lines = threshold_shapes(fig)
    assert sorted(s.y0 for s in lines) == [50, 150]
    for shape in lines:
        assert shape.y0 == shape.y1
        assert shape.line.dash == "dash"
        assert shape.xref == "x domain" or shape.xref == "paper"
    labels = {a.text for a in fig.layout.annotations}
    assert {"Ngưỡng cảnh báo", "Ngưỡng nguy hiểm"} <= labels


def test_a_quantity_that_cannot_be_negative_never_gets_a_negative_axis():
    zeros = series().assign(value=0.0)  # a dry day: Plotly would pad a flat line of zeros to [-1, 1]
    assert series_figure(zeros, PM25, "vi").layout.yaxis.rangemode == "nonnegative"
    temperature = Metric(key="temperature", domain="agriculture", unit="°C", label=Text(vi="Nhiệt độ", en="Temp"),
                         kind="level", across="mean", over_time="mean", cadence=timedelta(hours=1),
                         valid_range=(-10, 50), source="test")
    assert series_figure(zeros, temperature, "vi").layout.yaxis.rangemode == "normal"


def test_no_thresholds_no_lines():
    fig = series_figure(series(), NO_THRESHOLDS, "en")
    assert threshold_shapes(fig) == []


def test_x_axis_is_local_time():
    fig = series_figure(series("2025-01-01T00:00:00Z"), PM25, "vi", "Asia/Ho_Chi_Minh")
    first = pd.Timestamp(fig.data[0].x[0])
    assert first == pd.Timestamp("2025-01-01T07:00:00")  # 00:00 UTC = 07:00 in Vietnam
    assert first.tzinfo is None  # shown as given: no second conversion in the browser
    assert list(fig.data[0].y) == pytest.approx(list(np.linspace(20, 70, 6)))


def test_x_range_in_local_time_when_given():
    start = datetime(2025, 1, 1, 0, 0, tzinfo=UTC)
    end = start + timedelta(hours=6)
    fig = series_figure(series(), PM25, "en", "Asia/Ho_Chi_Minh", start=start, end=end)
    lo, hi = (pd.Timestamp(v) for v in fig.layout.xaxis.range)
    assert (lo, hi) == (pd.Timestamp("2025-01-01T07:00"), pd.Timestamp("2025-01-01T13:00"))


@pytest.mark.parametrize("frame", [
    None,
    pd.DataFrame({"bucket": pd.Series(dtype="datetime64[ns, UTC]"), "value": pd.Series(dtype=float)}),
    pd.DataFrame({"bucket": [pd.Timestamp("2025-01-01T00:00Z")], "value": [float("nan")]}),
])
def test_empty_frame_gives_no_data_annotation(frame):
    fig = series_figure(frame, PM25, "vi")
    assert len(fig.data) == 0
    assert "Không có dữ liệu" in {a.text for a in fig.layout.annotations}
    assert len(threshold_shapes(fig)) == 2  # the bands are still shown
    fig_en = series_figure(frame, PM25, "en")
    assert "No data" in {a.text for a in fig_en.layout.annotations}


def test_compact_fixed_height_and_number_format():
    fig = series_figure(series(), PM25, "vi")
    assert fig.layout.height and fig.layout.height <= 300
    assert fig.layout.margin.t <= 20 and fig.layout.margin.l <= 60
    assert fig.layout.separators == ",."  # 1.234,5 on the axis in Vietnamese
    assert series_figure(series(), PM25, "en").layout.separators == ".,"
    assert GRAPH_CONFIG["displayModeBar"] is False and GRAPH_CONFIG["displaylogo"] is False


def test_pick_bucket():
    assert pick_bucket(timedelta(hours=6)) == timedelta(minutes=5)
    assert pick_bucket(timedelta(hours=6), cadence=timedelta(hours=1)) == timedelta(hours=1)
    assert pick_bucket(timedelta(days=7)) == timedelta(hours=6)


# --- tiles and cards ------------------------------------------------------------------------

def test_tile_value_in_vietnamese_format_with_unit():
    tile = metric_tile(row(value=1234.5), PM25, "vi")
    assert text_of(by_class(tile, "tile-value")[0]) == "1.235 µg/m³"
    tile = metric_tile(row(value=12.34), PM25, "vi")
    assert text_of(by_class(tile, "tile-value")[0]) == "12,3 µg/m³"
    tile = metric_tile(row(value=1234.5), PM25, "en")
    assert text_of(by_class(tile, "tile-value")[0]) == "1,235 µg/m³"
    # number and unit each one unbreakable piece: a narrow tile may put the unit under the number, never split it
    assert [text_of(c) for c in by_class(tile, "nowrap")] == ["1,235", "µg/m³"]
    assert [text_of(c) for c in by_class(tile, "tile-unit")] == ["µg/m³"]


def test_tile_hooks_and_status_class():
    tile = metric_tile(row(status="critical"), PM25, "vi")
    classes = tile.className.split()
    assert "metric-tile" in classes and "status-critical" in classes and "stale" not in classes
    assert tile.to_plotly_json()["props"]["data-metric"] == "pm25"
    assert text_of(by_class(tile, "tile-age")[0]) == "Cập nhật 12 giây trước"
    assert text_of(by_class(tile, "tile-status")[0]) == "Nguy hiểm"
    assert by_class(tile, "stale-badge") == []
    assert "metric-tile status-ok" in metric_tile(row(status="ok"), PM25, "vi").className
    assert "status-warning" in metric_tile(row(status="warning"), PM25, "vi").className.split()


def test_stale_tile_has_class_and_badge():
    tile = metric_tile(row(stale=True, age_s=600, status="ok", stale_entities=10), PM25, "vi")
    assert "stale" in tile.className.split()
    badges = by_class(tile, "stale-badge")
    assert len(badges) == 1 and text_of(badges[0]) == "Dữ liệu cũ"
    assert text_of(by_class(tile, "tile-age")[0]) == "Cập nhật 10 phút trước"
    assert tile.to_plotly_json()["props"]["data-stale"] == "true"
    assert "10/10 nguồn chậm" in text_of(tile)
    tile_en = metric_tile(row(stale=True, age_s=600), PM25, "en")
    assert text_of(by_class(tile_en, "stale-badge")[0]) == "Stale"
    assert text_of(by_class(tile_en, "tile-age")[0]) == "Updated 10 min ago"


def test_no_data_tile():
    for missing in (None, row(value=float("nan"), status="nodata", last_ts=pd.NaT, age_s=float("nan"),
                              stale=True, entities=0)):
        tile = metric_tile(missing, PM25, "vi")
        assert "status-nodata" in tile.className.split()
        assert "stale" not in tile.className.split()  # nothing to be stale: it says "no data" instead
        assert text_of(by_class(tile, "tile-value")[0]) == "—"
        assert text_of(by_class(tile, "tile-status")[0]) == "Không có dữ liệu"
        assert text_of(by_class(tile, "tile-age")[0]) == "—"


def test_tile_accepts_a_pandas_row():
    frame = pd.DataFrame([row(value=55.0, status="warning")])
    tile = metric_tile(frame.iloc[0], PM25, "vi")
    assert "status-warning" in tile.className.split()
    assert text_of(by_class(tile, "tile-value")[0]) == "55 µg/m³"


def test_domain_card_ids_and_tiles():
    rows = {"pm25": row(status="warning")}
    card = domain_card(HEALTH, [PM25], rows, "vi", figure=series_figure(series(), PM25, "vi"))
    props = card.to_plotly_json()["props"]
    assert props["data-domain"] == "health"
    assert props["id"] == {"type": "domain-card", "domain": "health"}
    assert "domain-card" in card.className.split() and "domain-status-warning" in card.className.split()
    assert text_of(by_class(card, "domain-title")[0]) == "Y tế"
    assert len(by_class(card, "metric-tile")) == 1
    graphs = [c for c in walk(card) if type(c).__name__ == "Graph"]
    assert graphs and graphs[0].id == {"type": "domain-chart", "domain": "health"}
    assert graphs[0].config["displayModeBar"] is False
    card_en = domain_card(HEALTH, [PM25], rows, "en")
    assert text_of(by_class(card_en, "domain-title")[0]) == "Health"


def test_domain_card_without_headline_metrics():
    card = domain_card(HEALTH, [], {}, "vi")
    assert by_class(card, "metric-tile") == []
    assert "Chưa có chỉ số chính" in text_of(card)


def test_worst_status():
    assert worst_status(["ok", "warning", "nodata"]) == "warning"
    assert worst_status(["ok", "critical", "warning"]) == "critical"
    assert worst_status([]) == "nodata"


# --- the app, served without services ------------------------------------------------------

def test_app_serves_shell_and_overview_without_services():
    from ioc.config import load_config
    from ioc.web import create_app

    config = load_config()
    app = create_app(config)
    client = app.server.test_client()
    index = client.get("/")
    assert index.status_code == 200
    html_text = index.get_data(as_text=True)
    assert "00-bootstrap.min.css" in html_text and "01-fonts.css" in html_text
    assert "cdn." not in html_text and "fonts.googleapis" not in html_text
    outputs = [d["output"] for d in client.get("/_dash-dependencies").get_json()]
    assert len(outputs) == len(set(outputs))
    routing = {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": "/"},
            {"id": "_pages_location", "property": "search", "value": "?lang=en"},
            {"id": "lang", "property": "data", "value": "vi"},
        ],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }
    response = client.post("/_dash-update-component", json=routing)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    for domain in config.priority_domains:
        assert f'"data-domain":"{domain.key}"' in body.replace(" ", "")
        assert domain.name.en in body  # ?lang=en wins over the stored "vi"
    assert "metric-tile" in body


def test_stale_series_says_so():
    import pandas as pd

    from ioc.config import load_config
    from panels._figures import series_figure
    from tests.support import ROOT

    metric = load_config(ROOT / "config", environ={}).metrics["bed_occupancy"]
    df = pd.DataFrame({"bucket": pd.to_datetime(["2026-11-27T00:00Z", "2026-11-27T00:05Z"], utc=True),
                       "value": [80.0, 81.0]})
    names = [a.name for a in series_figure(df, metric, "vi", stale=True).layout.annotations]
    assert "stale" in names
    assert "stale" not in [a.name for a in series_figure(df, metric, "vi").layout.annotations]
