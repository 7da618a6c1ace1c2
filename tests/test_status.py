"""ioc/status.py, table-driven: VN_AQI bands, river gauges on their own levels, province figures judged at
their levels' scope, freshness by cadence, and a tile that is red only when an alert (or its reason) says why."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from ioc import status
from ioc.config import load_config
from panels._components import reason
from tests.support import ROOT

CONFIG = load_config(ROOT / "config", environ={})
METRICS = CONFIG.metrics


@pytest.mark.parametrize(("value", "band", "name_vi", "color", "judged"), [
    (0, "good", "Tốt", "#00e400", "ok"),
    (50, "good", "Tốt", "#00e400", "ok"),
    (50.4, "good", "Tốt", "#00e400", "ok"),
    (51, "moderate", "Trung bình", "#ffff00", "ok"),
    (100, "moderate", "Trung bình", "#ffff00", "ok"),
    (101, "poor", "Kém", "#ff7e00", "warning"),
    (150, "poor", "Kém", "#ff7e00", "warning"),
    (151, "bad", "Xấu", "#ff0000", "critical"),
    (200, "bad", "Xấu", "#ff0000", "critical"),
    (201, "very_bad", "Rất xấu", "#8f3f97", "critical"),
    (300, "very_bad", "Rất xấu", "#8f3f97", "critical"),
    (301, "hazardous", "Nguy hại", "#7e0023", "critical"),
    (500, "hazardous", "Nguy hại", "#7e0023", "critical"),
])
def test_vn_aqi_six_bands_of_decision_1459(value, band, name_vi, color, judged):
    aqi = METRICS["vn_aqi"]
    found = status.band_of(aqi, value)
    assert (found.key, found.label("vi"), found.color) == (band, name_vi, color)
    assert status.status_for(aqi, value, CONFIG.entities["air-bgc-01"]) == judged
    assert status.color_for(aqi, value, judged) == color
    assert status.band_of(METRICS["pm25"], value) is None


def _gauges() -> dict[str, object]:
    return {e.id: e for e in CONFIG.region.entities if "river_level" in e.thresholds}


@pytest.mark.parametrize(("readings", "worst", "value", "judged", "said"), [
    # 11.1 m at Cấm Sơn is far below its own BĐ1 (14 m); 4.8 m at Phủ Lạng Thương is above its BĐ1 (4.3 m).
    ({"gauge-cau-son": 11.1, "gauge-plt": 4.8}, "gauge-plt", 4.8, "warning", "trên BĐ1 0,5 m"),
    ({"gauge-cau-son": 11.1, "gauge-plt": 3.8}, "gauge-plt", 3.8, "ok", "dưới BĐ1 0,5 m"),
    ({"gauge-cau-son": 11.1, "gauge-plt": 1.0}, "gauge-cau-son", 11.1, "ok", "dưới BĐ1 2,9 m"),
    ({"gauge-cau-son": 16.2, "gauge-plt": 5.9}, "gauge-cau-son", 16.2, "critical", "trên BĐ3 0,2 m"),
    ({"gauge-plt": 5.5}, "gauge-plt", 5.5, "warning", "trên BĐ2 0,2 m"),
])
def test_river_gauges_judged_against_their_own_levels(readings, worst, value, judged, said):
    assert set(readings) <= set(_gauges())
    fig = status.figure(CONFIG, METRICS["river_level"], readings)
    # The province figure is the worst gauge's own reading, never a max across datums.
    assert (fig.worst, fig.value, fig.status, fig.worst_kind) == (worst, value, judged, "site")
    assert status.position_text(METRICS["river_level"], value, CONFIG.entities[worst], "vi") == said


def _police() -> list[str]:
    return [e.id for e in CONFIG.region.entities if e.kind == "police_station"]


@pytest.mark.parametrize(("calls", "total", "judged"), [
    ([2] * 10, 20, "ok"),            # ten quiet districts: the sum is not judged against one district's 3/6
    ([2] * 9 + [4], 22, "warning"),
    ([1] * 9 + [7], 16, "critical"),
])
def test_province_sums_judged_at_their_levels_scope(calls, total, judged):
    calls_metric = METRICS["security_incidents"]  # incidents in the hour per district police
    police = _police()
    assert len(police) == len(calls)
    fig = status.figure(CONFIG, calls_metric, dict(zip(police, calls, strict=True)))
    assert (fig.value, fig.status) == (total, judged)
    if judged != "ok":
        assert fig.worst == police[-1] and fig.worst_value == calls[-1]


def test_levels_per_population_scale_with_the_area():
    calls_metric = METRICS["security_incidents"]
    per_100k = calls_metric.model_copy(update={"thresholds": calls_metric.thresholds.model_copy(
        update={"warning": 10.0, "critical": 20.0, "per_population": 100_000, "scope": "province"})})
    police = _police()
    population = CONFIG.region.region.population
    at_warning = population / 100_000 * 10
    below = {e: (at_warning - 5) / len(police) for e in police}
    above = {e: (at_warning + 5) / len(police) for e in police}
    assert status.figure(CONFIG, per_100k, below).status == "ok"
    assert status.figure(CONFIG, per_100k, above).status == "warning"
    district = CONFIG.entities[police[0]].area
    own = CONFIG.areas[district][0].population
    assert status.figure(CONFIG, per_100k, {police[0]: own / 100_000 * 21}, district).status == "critical"


def test_area_levels_colour_the_province_by_its_worst_district():
    outbreaks = METRICS["animal_disease_outbreaks"]
    by_area = outbreaks.model_copy(update={"thresholds": outbreaks.thresholds.model_copy(update={"scope": "area"})})
    offices = [e.id for e in CONFIG.region.entities if e.kind == "agri_office"]
    fig = status.figure(CONFIG, by_area, {offices[0]: 3, **{e: 0 for e in offices[1:]}})
    assert (fig.status, fig.worst_kind, fig.worst) == ("critical", "area", CONFIG.entities[offices[0]].area)
    assert fig.value == 3


def test_weighted_mean_by_beds():
    beds = METRICS["bed_occupancy"]
    hospitals = [e for e in CONFIG.region.entities if e.kind == "hospital"][:2]
    readings = {hospitals[0].id: 100.0, hospitals[1].id: 50.0}
    w0, w1 = (float(e.attrs["beds"]) for e in hospitals)
    assert status.figure(CONFIG, beds, readings).value == pytest.approx((100 * w0 + 50 * w1) / (w0 + w1))


@pytest.mark.parametrize("seed", range(40))
def test_a_red_tile_is_explained_by_an_alert_or_by_itself(seed):
    """For every headline metric and random readings: when the province tile is warning or critical, some
    site is at least as bad by the levels the default alert rule of that site uses (so an alert fires for
    it), and the tile names that site."""
    rng = random.Random(seed)
    for metric in (m for m in CONFIG.catalog.metrics if m.headline and m.thresholds):
        sites = [e for e in CONFIG.region.entities if metric.key in CONFIG.entity_metrics(e.id)]
        th = metric.thresholds
        span = 2 * abs(th.critical - th.warning)
        low, high = sorted((th.warning - span, th.critical + span))
        readings = {e.id: rng.uniform(max(low, metric.valid_range[0]), min(high, metric.valid_range[1])) for e in sites}
        fig = status.figure(CONFIG, metric, readings)
        if fig.status in ("warning", "critical"):
            # What a default (catalog) alert rule judges for each site: its value against status.levels.
            alerting = {e: status.judge(v, status.levels(metric, CONFIG.entities[e])) for e, v in readings.items()}
            assert status.RANK[status.worst(alerting.values())] >= status.RANK[fig.status], metric.key
            row = {"worst": fig.worst, "worst_kind": fig.worst_kind, "worst_value": fig.worst_value,
                   "worst_status": fig.worst_status}
            assert reason(CONFIG, row, metric, "vi"), metric.key


def test_severity_scale_and_colours():
    assert status.SEVERITY == ("nodata", "ok", "warning", "critical")
    assert status.worst(["ok", "nodata", "warning"]) == "warning"
    assert status.worst([]) == "nodata"
    assert set(status.STATUS_COLORS) == set(status.SEVERITY)
    assert status.status_label("critical", "vi") == "Nguy hiểm"
    assert status.status_label("critical", "en") == "Critical"


def test_freshness_follows_cadence_and_feeds_only_lengthen_it():
    simulator = next(f for f in CONFIG.feeds if f.name == "simulator")
    calls = METRICS["bed_occupancy"]  # 15 min cadence
    assert status.stale_after(calls) == timedelta(minutes=22, seconds=30)
    assert status.stale_after(calls, simulator) == status.stale_after(calls)  # 2 min never shortens it
    slow = next(f for f in CONFIG.feeds if f.name == "push-health-dept")
    assert status.stale_after(calls, slow) == timedelta(days=1)
    # The simulator's shortest cadence is 5 min: it is late after 7.5 min of silence, not 2.
    assert status.feed_silence_allowed(CONFIG, simulator) == timedelta(minutes=7, seconds=30)


@pytest.mark.parametrize(("key", "scope", "drawn"), [
    ("security_incidents", "site", True),       # one district's incidents against the district levels
    ("security_incidents", "province", False),  # never on the province sum
    ("security_incidents", "area", False),      # a sum over an area's sites is not one site's figure either
    ("bed_occupancy", "province", True),     # a mean: the line is a reference for it
    ("vn_aqi", "province", True),            # a max: crossing the line means a station crossed it
])
def test_chart_levels_only_where_they_judge(key, scope, drawn):
    metric = METRICS[key]
    assert (status.chart_levels(metric, scope) is not None) == drawn


def test_province_levels_do_not_judge_an_area():
    calls = METRICS["security_incidents"]
    province_only = calls.model_copy(update={"thresholds": calls.thresholds.model_copy(update={"scope": "province"})})
    police = _police()
    district = CONFIG.entities[police[0]].area
    assert status.figure(CONFIG, province_only, {police[0]: 500}, district).status == "ok"
    assert status.figure(CONFIG, province_only, {police[0]: 500}).status == "critical"


def test_a_school_hours_source_ages_only_while_schools_are_open():
    attendance = METRICS["attendance_rate"]  # reports: school_hours
    friday_close = datetime(2026, 12, 4, 9, 55, tzinfo=UTC)  # 16:55 local, a school day
    monday_early = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)  # Monday 06:30 local, before school opens
    assert status.reporting_age(attendance, friday_close, monday_early) == 5 * 60 + 10 * 3600  # Saturday's 10 h
    sunday = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)  # Sunday 11:00 local
    saturday_close = datetime(2026, 12, 5, 9, 59, tzinfo=UTC)
    assert status.reporting_age(attendance, saturday_close, sunday) == 60  # one school minute, then none
    monday_ten = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)  # Monday 10:00 local
    assert status.reporting_age(attendance, saturday_close, monday_ten) == 60 + 3 * 3600
