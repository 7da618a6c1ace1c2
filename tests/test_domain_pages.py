"""Domain and entity pages: URL parameters checked, the queries behind them against the real database,
the figures (alert bands, bars) and the layouts rendered by the real app for every domain."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

import dash
import pandas as pd
import plotly
import plotly.graph_objects as go
import pytest

from ioc import queries
from ioc.models import Batch, Reading
from ioc.web import create_app
from panels import _drill
from panels._figures import MAX_ALERT_BANDS, STATUS_COLORS, add_alert_bands, bar_figure, series_spec
from tests.test_alert_queries import insert_alert

TZ = "Asia/Ho_Chi_Minh"
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


# --- URL state ----------------------------------------------------------------------------------

def test_windows_from_the_url():
    assert _drill.parse_window(None, None, None, NOW, TZ) == _drill.Window("24h", NOW - timedelta(hours=24), NOW)
    for key, span in _drill.RANGES.items():
        window = _drill.parse_window(key, None, None, NOW, TZ)
        assert (window.key, window.span, window.invalid) == (key, span, False)
    custom = _drill.parse_window("custom", "2026-11-20T07:00", "2026-11-21T07:00", NOW, TZ)
    assert custom.key == "custom" and custom.start == datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    assert custom.params(TZ) == {"range": "custom", "from": "2026-11-20T07:00", "to": "2026-11-21T07:00"}
    assert _drill.parse_window("24h", None, None, NOW, TZ).params(TZ)["range"] is None  # the default stays out
    for bad in (("custom", "2026-11-21T07:00", "2026-11-20T07:00"),  # reversed
                ("custom", "2026-01-01T00:00", "2026-11-20T00:00"),  # longer than MAX_SPAN
                ("custom", "yesterday", "2026-11-20T00:00"), ("custom", None, None), ("90y", None, None),
                ("custom", "2026-11-20T07:00", "2026-11-20T07:05")):  # shorter than MIN_SPAN
        window = _drill.parse_window(*bad, NOW, TZ)
        assert window.invalid and window.key == "24h", bad
    future = _drill.parse_window("custom", "2026-11-27T10:00", "2026-12-30T00:00", NOW, TZ)
    assert future.end == NOW  # the future holds no readings


def test_every_range_stays_within_the_point_budget(test_config):
    for metric in test_config.catalog.metrics:
        for key in _drill.RANGES:
            window = _drill.parse_window(key, None, None, NOW, TZ)
            bucket = _drill.bucket_for(window, metric)
            assert bucket >= metric.cadence or bucket == timedelta(days=1)
            assert window.span / bucket <= _drill.POINTS, (metric.key, key)
    longest = _drill.parse_window("custom", "2026-09-01T00:00", "2026-11-27T00:00", NOW, TZ)
    assert longest.span / _drill.bucket_for(longest, test_config.metrics["security_camera_online_rate"]) <= 300


def test_state_checks_every_parameter(test_config):
    from panels._domain import default_metric, parse_state

    config = test_config
    assert parse_state(config, "nope", None, None, None, None, None, None, NOW) is None
    state = parse_state(config, "health", None, None, None, None, None, None, NOW)
    assert state.area == "BG" and state.metric.key == "bed_occupancy" and state.notices == ()
    assert state.params == {"area": None, "metric": None, "range": None, "from": None, "to": None, "lang": None}
    state = parse_state(config, "health", "XXX", "river_level", "2y", None, None, "en", NOW)
    assert state.area == "BG" and state.metric == default_metric(config, "health")
    assert [k for k, _ in state.notices] == ["domain.unknown_area", "domain.unknown_metric", "domain.bad_range"]
    assert state.params["lang"] == "en"
    state = parse_state(config, "agriculture", "LNG", "river_level", "7d", None, None, "xx", NOW)
    assert (state.area, state.metric.key, state.window.key, state.params["lang"]) == ("LNG", "river_level", "7d", None)
    assert _drill.href("/domain/health", state.params, area="HHO") == \
        "/domain/health?area=HHO&metric=river_level&range=7d"


# --- figures ------------------------------------------------------------------------------------

def test_alerts_are_bands_and_markers_on_the_chart(test_config):
    metric = test_config.metrics["bed_occupancy"]
    start, end = NOW - timedelta(hours=24), NOW
    df = pd.DataFrame({"bucket": pd.date_range(start, end, freq="1h", tz="UTC", inclusive="left"),
                       "value": [80.0] * 24})
    alerts = [
        {"since": NOW - timedelta(hours=10), "until": NOW - timedelta(hours=8), "severity": "warning", "value": 88.0,
         "text": "A"},
        {"since": NOW - timedelta(hours=9), "until": NOW - timedelta(hours=7), "severity": "warning", "value": 89.0,
         "text": "B"},  # overlaps the first: one band
        {"since": NOW - timedelta(hours=2), "until": None, "severity": "critical", "value": 97.0, "text": "C"},
        {"since": NOW - timedelta(days=3), "until": NOW - timedelta(hours=20), "severity": "warning", "value": 90.0,
         "text": "D"},  # began before the window: band clipped to its start, no marker
    ]
    fig = go.Figure(add_alert_bands(series_spec(df, metric, "vi", TZ, start, end), alerts, start, end, TZ, "vi"))
    bands = [s for s in fig.layout.shapes if (s.name or "").startswith("alert-")]
    assert sorted(s.name for s in bands) == ["alert-critical", "alert-warning", "alert-warning"]
    critical = next(s for s in bands if s.name == "alert-critical")
    assert critical.x1 == datetime(2026, 11, 27, 15, 0)  # still active: drawn to the end, in local time
    clipped = min((s for s in bands if s.name == "alert-warning"), key=lambda s: s.x0)
    assert clipped.x0 == datetime(2026, 11, 26, 15, 0)
    markers = {tr.name: tr for tr in fig.data if (tr.name or "").startswith("alerts-")}
    assert list(markers["alerts-warning"].y) == [88.0, 89.0] and list(markers["alerts-critical"].y) == [97.0]
    assert "Nguy hiểm: C" in markers["alerts-critical"].hovertext[0]
    thresholds = [s.name for s in fig.layout.shapes if (s.name or "").startswith("threshold-")]
    assert thresholds == ["threshold-warning", "threshold-critical"]
    # A month of alerts stays a light figure.
    many = [{"since": start + timedelta(minutes=20 * i), "until": start + timedelta(minutes=20 * i + 5),
             "severity": "warning", "value": 90.0, "text": str(i)} for i in range(70)]
    fig = go.Figure(add_alert_bands(series_spec(df, metric, "en", TZ, start, end), many, start, end, TZ, "en"))
    assert len([s for s in fig.layout.shapes if s.name == "alert-warning"]) == MAX_ALERT_BANDS


def test_bars_carry_their_drill_target(test_config):
    metric = test_config.metrics["bed_occupancy"]
    df = pd.DataFrame({"key": ["a", "b", "c"], "label": ["A", "B", "C"], "value": [70.0, 97.0, float("nan")],
                       "status": ["ok", "critical", "nodata"]})
    fig = go.Figure(bar_figure(df, metric, "vi", "area"))
    bar = fig.data[0]
    assert list(bar.y) == ["A", "B"] and [list(c) for c in bar.customdata] == [["area", "a"], ["area", "b"]]
    assert list(bar.marker.color) == [STATUS_COLORS["ok"], STATUS_COLORS["critical"]]
    assert list(bar.text) == ["70%", "97%"]
    assert {s.name for s in fig.layout.shapes} == {"threshold-warning", "threshold-critical"}
    empty = go.Figure(bar_figure(df.iloc[0:0], metric, "en"))
    assert empty.layout.annotations[0].text == "No data"


# --- queries ------------------------------------------------------------------------------------

def _hospitals(config) -> dict[str, list[str]]:
    by_area: dict[str, list[str]] = {}
    for e in config.region.entities:
        if "bed_occupancy" in config.entity_metrics(e.id):
            by_area.setdefault(e.area, []).append(e.id)
    return by_area


def test_area_figures_and_series_per_site(clean_db):
    rt, config = clean_db, clean_db.config
    metric = config.metrics["bed_occupancy"]
    by_area = _hospitals(config)
    busy = max(by_area, key=lambda a: len(by_area[a]))
    first, second = by_area[busy][:2]
    now = datetime.now(UTC).replace(microsecond=0)
    readings = [Reading(first, metric.key, now - timedelta(minutes=m), 80.0) for m in (1, 61, 121)]
    readings += [Reading(second, metric.key, now - timedelta(minutes=m), 100.0) for m in (1, 61)]
    rt.writer.submit(Batch(readings))
    assert rt.writer.flush()
    sites = queries.site_status(rt.db, config, now, [metric.key])
    values = queries.area_values(config, sites, metric).set_index("area")
    # Occupancy is weighted by beds; the area is as bad as its worst hospital (100 %: critical).
    beds = [float(config.entities[e].attrs["beds"]) for e in (first, second)]
    weighted = (80.0 * beds[0] + 100.0 * beds[1]) / sum(beds)
    assert values.loc[busy, "value"] == pytest.approx(weighted) and values.loc[busy, "status"] == "critical"
    assert values.loc[busy, "sites"] == 2 and values.loc[busy, "stale"] == 0
    quiet = next(a.code for a in config.child_areas("BG") if a.code != busy)
    assert values.loc[quiet, "status"] == "nodata" and pd.isna(values.loc[quiet, "value"])
    # the area's tiles: overview narrowed to the area's sites and to the domain's metrics
    tiles = queries.overview(rt.db, config, now, metrics=[metric], entities=config.area_entities(busy))
    assert list(tiles["metric"]) == ["bed_occupancy"] and tiles.loc[0, "value"] == pytest.approx(weighted)
    assert (tiles.loc[0, "worst"], tiles.loc[0, "worst_status"]) == (second, "critical")
    assert tiles.loc[0, "entities"] == 2
    series = queries.entity_series(rt.db, metric.key, [first, second], now - timedelta(hours=3), now + timedelta(
        minutes=1), timedelta(hours=1))
    assert set(series["entity"]) == {first, second}
    assert series[series["entity"] == first]["value"].tolist() == [80.0, 80.0, 80.0]
    assert len(series[series["entity"] == second]) == 2


# --- pages rendered by the app --------------------------------------------------------------------

def _render(app, layout, **kwargs):
    import flask

    from ioc.auth import User

    with app.server.test_request_context("/"):
        flask.g.user = User("ha", "Admin", "admin")  # layouts check who is asking (the gate is not run here)
        return layout(**kwargs)


def _text(component) -> str:
    return json.dumps(component, cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)


@pytest.fixture
def app(clean_db):
    return create_app(clean_db.config, clean_db)


def page_module(name: str):
    """A page module as the app loaded it (importing it again would register its path twice)."""
    module = next(p["module"] for p in dash.page_registry.values() if p["module"].split(".")[-1] == name)
    return sys.modules[module]


def test_every_domain_page_renders_with_its_views(app, clean_db):
    page = page_module("domain")

    rt, config = clean_db, clean_db.config
    now = datetime.now(UTC)
    readings = [Reading(e.id, m, now - timedelta(minutes=5), sum(config.metrics[m].valid_range) / 2)
                for e in config.region.entities for m in config.entity_metrics(e.id)]
    rt.writer.submit(Batch(readings))
    assert rt.writer.flush()
    for d in config.catalog.domains:
        for lang in ("vi", "en"):
            text = _text(_render(app, page.layout, domain=d.key, lang=lang))
            assert len(text) < 1_500_000, (d.key, len(text))  # no multi-megabyte pages
            assert d.name.get(lang) in text
            shown = page.default_metric(config, d.key).key
            for view in page.VIEWS.get(d.key, ()):
                # a view that would repeat the page's own bars (same metric, by area) is left out
                assert (f'"data-view": "{view.metric}"' in text) != (view.metric == shown and view.show == "areas"), \
                    (d.key, view)
    leaf = _text(_render(app, page.layout, domain="health", area="LNG", range="7d"))
    assert '"data-area": "LNG"' in leaf and '"bars": "entity"' in leaf  # bars by site at the leaf
    assert "Huyện Lục Ngạn" in leaf and "Tỉnh Bắc Giang" in leaf  # breadcrumb
    gauges = _text(_render(app, page.layout, domain="agriculture", metric="river_level"))  # the main chart
    assert '"name": "level-bd2"' in gauges and "BĐ2" in gauges
    # Views render in their own callback, from the state the layout hands them.
    season = {"from": "2026-06-01T00:00", "to": "2026-06-20T00:00"}
    layout = _render(app, page.layout, domain="agriculture", range="custom", **season)
    args = _find(layout, {"type": "domain-view-args", "view": "lychee_harvest"}).data
    assert args["range"] == "custom" and args["from"] == season["from"]
    lychee = _text(_render(app, page.view_body, args=args))
    assert "Đang trong mùa vải" in lychee and '"data-view": "lychee_harvest"' in lychee
    calls = _text(_render(app, page.view_body, args={"domain": "security", "view": "calls_113", "lang": "en"}))
    assert "on the map" in calls and "Police calls (113): " in calls  # areas sized by the count, said on hover
    unknown = _text(_render(app, page.layout, domain="weather"))
    assert "Không có lĩnh vực “weather”" in unknown and "/domain/health" in unknown
    odd = _text(_render(app, page.layout, domain="traffic", area="<script>", metric="bed_occupancy", range="x",
                        lang="en"))
    assert "There is no area “<script>”" in odd and "Metric “bed_occupancy” is not in this domain" in odd


def test_domain_chart_shows_the_alerts_of_its_metric(app, clean_db):
    page = page_module("domain")

    rt, config = clean_db, clean_db.config
    hospital = config.entities[_hospitals(config)["BGC"][0]]
    now = datetime.now(UTC)
    rt.writer.submit(Batch([Reading(hospital.id, "bed_occupancy", now - timedelta(minutes=m), 106.0)
                            for m in range(0, 120, 15)]))  # over planned beds: quá tải
    assert rt.writer.flush()
    # A past episode of the catalog rule (resolved rows never clash with the engine's active ones).
    alert_id = insert_alert(rt.db, "catalog:bed_occupancy", hospital, config, state="resolved", severity="critical",
                            value=106.5, pending_since=now - timedelta(minutes=90),
                            resolved_at=now - timedelta(minutes=30), metric="bed_occupancy")
    layout = _render(app, page.layout, domain="health", area="BGC")
    chart = _find(layout, "domain-chart")
    figure = go.Figure(_find(chart, {"type": "drill-figure", "key": "main-chart"}).figure)
    assert any(s.name == "alert-critical" for s in figure.layout.shapes)
    assert any(tr.name == "alerts-critical" and 106.5 in list(tr.y) for tr in figure.data)
    grid = _find(layout, "domain-grid")
    row = next(r for r in grid.rowData if r["row_id"] == hospital.id)
    assert row["value"] == "106%" and row["status"] == "critical" and row["name"] == hospital.name.vi

    entity_page = page_module("entity")

    text = _text(_render(app, entity_page.layout, entity_id=hospital.id))
    assert hospital.name.vi in text and "Công suất sử dụng giường bệnh" in text
    assert '"name": "alert-critical"' in text and '"name": "threshold-critical"' in text
    assert f'"data-alert": "{alert_id}"' in text and f"/alerts?alert={alert_id}" in text
    assert "Số giường kế hoạch" in text  # attrs with a label
    assert "base_occupancy" not in text  # simulator parameters are not shown
    gone = _text(_render(app, entity_page.layout, entity_id="no-such-site", lang="en"))
    assert "There is no site “no-such-site”" in gone


def _find(component, wanted):
    """The component with id `wanted` in a layout tree (depth first)."""
    if getattr(component, "id", None) == wanted:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            found = _find(child, wanted)
            if found is not None:
                return found
    return None


def test_river_bars_compare_each_gauge_with_its_own_levels(clean_db):
    """River stages sit on different datums: the area bars give each area's worst gauge against its own BĐ1,
    and name the gauge, its reading and where it stands; no common threshold line is drawn."""
    from panels._domain import area_bars
    from panels._figures import bar_figure

    rt, config = clean_db, clean_db.config
    metric = config.metrics["river_level"]
    gauges = [e for e in config.region.entities if "river_level" in config.entity_metrics(e.id)]
    now = datetime.now(UTC).replace(microsecond=0)
    readings = [Reading(g.id, metric.key, now - timedelta(minutes=1), float(g.attrs["bd1"]) - 0.5) for g in gauges]
    rt.writer.submit(Batch(readings))
    assert rt.writer.flush()
    sites = queries.site_status(rt.db, config, now, [metric.key])
    bars = area_bars(config, sites, metric, config.region.region.code, "vi").dropna(subset=["value"])
    assert len(bars) and all(v == pytest.approx(-0.5) for v in bars["value"])  # every gauge 0.5 m under its BĐ1
    assert all("dưới BĐ1 0,5 m" in text for text in bars["text"])
    figure = bar_figure(bars, metric, "vi", "area")
    assert not figure["layout"]["shapes"] and "BĐ" not in figure["layout"]["xaxis"]["title"]["text"]
    assert figure["data"][0]["text"] == bars.sort_values("value")["text"].tolist()
