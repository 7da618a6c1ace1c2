"""The shipped catalog and region data, and the simulator that brings them to life (no services needed)."""

from __future__ import annotations

import re
import shutil
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feeds.simulator import CHUNK_MAX, Simulator
from ioc.config import DEFAULT_CONFIG_DIR, Config, SimulatorSettings, load_config

DOMAINS = {"education", "health", "traffic", "agriculture", "security"}
DISTRICTS = {"BGC", "HHO", "LGI", "LNA", "LNG", "SDO", "TYE", "VYE", "YDU", "YTH"}
LOCAL = timedelta(hours=7)  # Asia/Ho_Chi_Minh


@pytest.fixture(scope="module")
def config():
    return load_config(DEFAULT_CONFIG_DIR, environ={})


@pytest.fixture(scope="module")
def two_tier(tmp_path_factory):
    folder: Path = tmp_path_factory.mktemp("two-tier")
    for name in ("metrics.yaml", "region-two-tier.yaml", "feeds.yaml"):
        shutil.copy(DEFAULT_CONFIG_DIR / name, folder / name)
    (folder / "ioc.yaml").write_text("region_file: region-two-tier.yaml\n", encoding="utf-8")
    return load_config(folder, environ={})


def simulator(config, **settings) -> Simulator:
    return Simulator(config, SimulatorSettings(**settings))


# --------------------------------------------------------------------------- catalog and region


def test_dap_cau_gauge_is_the_same_point_in_both_layouts(config, two_tier):
    default, merged = config.entities["gauge-dap-cau"], two_tier.entities["gauge-dap-cau"]
    assert (default.lat, default.lon) == (merged.lat, merged.lon) == (21.201, 106.098)  # at Đáp Cầu bridge
    assert default.area == "VYE"  # the Bắc Giang district across the river (the gauge stands on the Bắc Ninh bank)


def test_five_domains_with_names(config):
    assert {d.key for d in config.priority_domains} == DOMAINS
    assert set(config.domains) - DOMAINS == {"digital_government"}  # plan targets, not a priority domain
    assert config.domains["security"].name.vi == "An ninh – trật tự"
    assert config.domains["agriculture"].name.en == "Agriculture"


def test_each_domain_has_enough_metrics_and_3_to_4_headlines(config):
    per_domain = Counter(m.domain for m in config.metrics.values())
    headlines = Counter(m.domain for m in config.metrics.values() if m.headline)
    for domain in DOMAINS:
        assert per_domain[domain] >= 6, domain
        assert 3 <= headlines[domain] <= 4, domain


def test_every_metric_is_reported_by_a_kind_and_every_kind_has_entities(config):
    reported = {key for kind in config.kinds.values() for key in kind.metrics}
    assert set(config.metrics) == reported
    kinds_used = Counter(e.kind for e in config.entities.values())
    for kind in config.kinds:
        assert kinds_used[kind] >= 1, kind


def test_metric_definitions_are_sane(config):
    for metric in config.metrics.values():
        if metric.domain not in DOMAINS:
            continue  # plan indicators: monthly figures entered by hand
        assert timedelta(minutes=1) <= metric.cadence <= timedelta(hours=1), metric.key
        low, high = metric.valid_range
        if metric.thresholds:
            # both bands must be reachable inside the valid range
            assert low <= metric.thresholds.warning <= high, metric.key
            assert low <= metric.thresholds.critical <= high, metric.key


def test_region_has_the_ten_districts_all_with_entities(config):
    root = config.region.region
    assert root.code == "BG" and root.population == 1803950
    assert {child.code for child in root.children} == DISTRICTS
    per_area = Counter(e.area for e in config.entities.values())
    for code in DISTRICTS:
        assert per_area[code] >= 3, code
    assert 80 <= len(config.entities) <= 120


def test_entities_sit_near_their_area(config):
    for entity in config.entities.values():
        lat, lon = config.areas[entity.area][0].centroid
        assert abs(entity.lat - lat) <= 0.1 and abs(entity.lon - lon) <= 0.1, entity.id


def test_required_demo_entities(config):
    kinds = Counter(e.kind for e in config.entities.values())
    assert kinds["hospital"] >= 8 and kinds["weather_station"] >= 5
    per_area_schools = Counter(e.area for e in config.entities.values() if e.kind == "school")
    assert all(per_area_schools[code] >= 2 for code in DISTRICTS)
    gauges = {e.id: e for e in config.entities.values() if e.kind == "river_gauge"}
    assert len(gauges) >= 4
    for gauge in gauges.values():
        assert gauge.attrs["bd1"] < gauge.attrs["bd2"] < gauge.attrs["bd3"], gauge.id
    assert gauges["gauge-plt"].attrs["bd3"] == 6.30
    assert gauges["gauge-cau-son"].attrs["bd3"] == 16.00
    corridors = {e.attrs["corridor"] for e in config.entities.values() if e.kind == "traffic_corridor"}
    assert {"QL1A", "QL31", "QL37", "QL17", "city core", "Hà Nội–Lạng Sơn expressway"} <= corridors
    assert config.entities["hosp-bgc-01"].attrs["beds"] > 0


def test_two_tier_region_loads_with_the_same_catalog(config, two_tier):
    assert set(two_tier.metrics) == set(config.metrics)
    depths = {depth for _, _, depth in two_tier.areas.values()}
    assert depths == {0, 1}  # province → commune/ward, no district level
    levels = {area.level.vi for area, _, depth in two_tier.areas.values() if depth == 1}
    assert levels <= {"Xã", "Phường"}
    assert set(e.kind for e in two_tier.entities.values()) == set(two_tier.kinds)


# --------------------------------------------------------------------------- simulator

NOW = datetime(2025, 3, 11, 2, 7, 30, tzinfo=UTC)  # a Tuesday, 09:07 local


def test_same_seed_same_readings(config):
    a, b = simulator(config, seed=7), simulator(config, seed=7)
    assert a.readings_at(NOW) == b.readings_at(NOW)
    start = NOW - timedelta(hours=6)
    first = list(simulator(config, seed=7).backfill(start, NOW))
    assert first and first == list(simulator(config, seed=7).backfill(start, NOW))
    other = simulator(config, seed=8).readings_at(NOW)
    assert [r.value for r in other] != [r.value for r in simulator(config, seed=7).readings_at(NOW)]


def test_first_call_has_one_reading_per_series_for_every_metric(config):
    sim = simulator(config)
    readings = sim.readings_at(NOW)
    assert {r.metric for r in readings} == {m.key for m in config.metrics.values() if m.domain in DOMAINS}
    series = Counter((r.entity, r.metric) for r in readings)
    assert max(series.values()) == 1
    expected = sum(len(config.kinds[e.kind].metrics) for e in config.entities.values()
                   if config.is_priority_entity(e.id))
    assert len(series) == expected == sim.series_count
    for r in readings:
        cadence = config.metrics[r.metric].cadence.total_seconds()
        assert r.ts.tzinfo is not None and r.ts.utcoffset() == timedelta(0)
        assert r.ts.timestamp() % cadence == 0 and r.ts <= NOW < r.ts + timedelta(seconds=cadence)


def test_later_calls_emit_only_new_slots(config):
    sim = simulator(config)
    sim.readings_at(NOW)
    assert sim.readings_at(NOW) == []
    later = sim.readings_at(NOW + timedelta(minutes=5))
    assert later and {config.metrics[r.metric].cadence for r in later} == {timedelta(minutes=5)}
    # a missed hour is filled slot by slot, so live series stay gap-free
    gap = sim.readings_at(NOW + timedelta(hours=1, minutes=5))
    per_series = Counter((r.entity, r.metric) for r in gap if r.metric == "congestion_index")
    assert set(per_series.values()) == {12}


def test_live_and_backfill_agree(config):
    now_readings = simulator(config, anomaly_rate=0.05).readings_at(NOW)
    live = {(r.entity, r.metric, r.ts): r.value for r in now_readings}
    start = NOW - timedelta(hours=2)
    back = {(r.entity, r.metric, r.ts): r.value
            for chunk in simulator(config, anomaly_rate=0.05).backfill(start, NOW + timedelta(seconds=1))
            for r in chunk}
    assert live.items() <= back.items()


def test_backfill_48h_in_range_on_the_cadence_grid_with_anomalies(config):
    sim = simulator(config, anomaly_rate=0.2)
    start = datetime(2025, 7, 20, 17, 0, tzinfo=UTC)
    end = start + timedelta(hours=48)
    series: dict[tuple[str, str], list] = defaultdict(list)
    crossings = 0
    previous_ts = None
    for chunk in sim.backfill(start, end):
        assert 0 < len(chunk) <= CHUNK_MAX
        for r in chunk:
            metric = config.metrics[r.metric]
            low, high = metric.valid_range
            assert low <= r.value <= high, (r, metric.valid_range)
            assert start <= r.ts < end
            assert previous_ts is None or r.ts >= previous_ts  # time order across chunks
            previous_ts = r.ts
            series[(r.entity, r.metric)].append(r.ts)
            th = metric.thresholds
            if th and (r.value >= th.warning if th.direction == "above" else r.value <= th.warning):
                crossings += 1
    # Attendance is sent only in school hours on school days: none in the summer break (20–22 July).
    schools = {e.id for e in config.entities.values() if e.kind == "school"}
    assert not any(key == "attendance_rate" for _, key in series)
    assert len(series) == sim.series_count - len(schools)
    for (entity, key), stamps in series.items():
        cadence = config.metrics[key].cadence
        assert len(stamps) == timedelta(hours=48) // cadence, (entity, key)
        assert all(b - a == cadence for a, b in zip(stamps, stamps[1:], strict=False)), (entity, key)
    assert crossings > 0


def test_values_stay_in_range_over_a_year_of_seasons(config):
    sim = simulator(config, anomaly_rate=0.01)
    for month in range(1, 13):
        start = datetime(2026, month, 10, tzinfo=UTC)
        for chunk in sim.backfill(start, start + timedelta(hours=30)):
            for r in chunk:
                low, high = config.metrics[r.metric].valid_range
                assert low <= r.value <= high, r


def value_at(config, when_local: datetime, entity: str, metric: str) -> float:
    sim = simulator(config, anomaly_rate=0.0)
    when = (when_local - LOCAL).replace(tzinfo=UTC)
    return next(r.value for r in sim.readings_at(when) if r.entity == entity and r.metric == metric)


def test_lychee_season_in_luc_ngan(config):
    assert value_at(config, datetime(2025, 1, 15, 12), "agri-lng", "lychee_harvest") == 0
    assert value_at(config, datetime(2026, 1, 15, 12), "agri-lng", "lychee_harvest") == 0
    assert value_at(config, datetime(2025, 6, 15, 12), "agri-lng", "lychee_harvest") > 0
    assert value_at(config, datetime(2026, 6, 16, 12), "agri-lng", "lychee_harvest") > 0
    assert value_at(config, datetime(2025, 10, 1, 12), "agri-lng", "lychee_harvest") == 0


def test_weekday_morning_peak_is_more_congested_than_the_night(config):
    corridors = [e.id for e in config.entities.values() if e.kind == "traffic_corridor"]
    peak, night = [], []
    for day in range(10, 15):  # Mon 10 – Fri 14 March 2025
        at_peak = datetime(2025, 3, day, 8) - LOCAL
        at_night = datetime(2025, 3, day, 3) - LOCAL
        sim_peak = simulator(config, anomaly_rate=0.0).readings_at(at_peak.replace(tzinfo=UTC))
        sim_night = simulator(config, anomaly_rate=0.0).readings_at(at_night.replace(tzinfo=UTC))
        peak += [r.value for r in sim_peak if r.metric == "congestion_index" and r.entity in corridors]
        night += [r.value for r in sim_night if r.metric == "congestion_index" and r.entity in corridors]
    assert sum(peak) / len(peak) > sum(night) / len(night) + 5


def test_rain_raises_rivers_hours_later(config):
    # Over a rainy season, each gauge's level peaks some hours after its catchment's heaviest rain.
    keep = [e for e in config.region.entities if e.id in ("wx-bgc", "gauge-plt")]
    small = Config(config.config_dir, config.settings, config.region.model_copy(update={"entities": keep}),
                   config.catalog, config.feeds)
    sim = simulator(small, anomaly_rate=0.0)
    start = datetime(2025, 6, 1, tzinfo=UTC)
    rain: dict = defaultdict(float)
    level: dict = {}
    for chunk in sim.backfill(start, start + timedelta(days=60)):
        for r in chunk:
            if r.metric == "rainfall_24h" and r.entity == "wx-bgc":
                rain[r.ts] = r.value
            elif r.metric == "river_level" and r.entity == "gauge-plt":
                level[r.ts] = r.value
    wettest = max(rain, key=rain.get)
    assert rain[wettest] > 20
    before = level[wettest - timedelta(hours=24)]
    after = max(level[wettest + timedelta(hours=h)] for h in range(0, 48))
    assert after > before + 0.2


def test_entity_limit_and_two_tier_region(config, two_tier):
    limited = simulator(config, entity_limit=5).readings_at(NOW)
    assert {r.entity for r in limited} == {e.id for e in list(config.region.entities)[:5]}
    sim = Simulator(two_tier)
    readings = sim.readings_at(NOW)
    assert {r.metric for r in readings} == {m.key for m in two_tier.metrics.values() if m.domain in DOMAINS}
    assert len(readings) == sim.series_count


def test_every_threshold_names_its_source(config):
    # A threshold cites the document that sets it; "design default" only where none does, with why the value.
    for metric in config.metrics.values():
        if not metric.thresholds:
            continue
        source = metric.thresholds.source
        assert source and "verify" not in source.lower(), metric.key
        for default in re.sub(r"\(domain-catalog[^)]*\)", "", source).split("design default")[1:]:
            assert len(default.strip(" :;,.")) >= 30, (metric.key, source)  # one line on why
