"""Area and site status (the map's data) against the real database, and the map figure itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from ioc import queries
from ioc.config import ConfigError, copy_config, load_config
from ioc.models import Batch, Reading
from panels._figures import STATUS_COLORS
from panels._map import area_map, site_points


def bed_metric(config):
    return config.metrics["bed_occupancy"]


def test_area_subtrees(test_config):
    config = test_config
    root = config.region.region.code
    assert len(config.area_entities(root)) == len(config.region.entities)
    child = config.child_areas(root)[0]
    assert config.area_path(child.code) == [root, child.code]
    assert all(config.entities[e].area == child.code for e in config.area_entities(child.code))


def test_area_status_takes_the_worst_fresh_reading(clean_db):
    rt, config = clean_db, clean_db.config
    metric = bed_metric(config)
    hospitals = [e.id for e in config.region.entities if metric.key in config.entity_metrics(e.id)]
    by_area: dict[str, list[str]] = {}
    for h in hospitals:
        by_area.setdefault(config.entities[h].area, []).append(h)
    hot_area, calm_area = sorted(by_area)[:2]
    now = datetime.now(UTC)
    rt.writer.submit(Batch([
        Reading(by_area[hot_area][0], metric.key, now - timedelta(seconds=10), metric.thresholds.critical + 1),
        Reading(by_area[calm_area][0], metric.key, now - timedelta(seconds=10), metric.thresholds.warning - 10),
        # a critical value that has gone stale must not colour its area
        Reading(by_area[calm_area][-1], metric.key, now - metric.cadence * 4, metric.thresholds.critical + 5),
    ]))
    assert rt.writer.flush()
    sites = queries.site_status(rt.db, config, now, [metric.key])
    areas = queries.area_status(config, sites).set_index("area")
    assert areas.loc[hot_area, "status"] == "critical" and areas.loc[hot_area, "critical"] == 1
    assert areas.loc[calm_area, "status"] == "ok"
    assert areas.loc[calm_area, "stale"] == (1 if len(by_area[calm_area]) > 1 else 0)
    silent = [a.code for a in config.child_areas(config.region.region.code) if a.code not in (hot_area, calm_area)]
    assert (areas.loc[silent, "status"] == "nodata").all()
    points = site_points(config, sites).set_index("entity")
    assert points.loc[by_area[hot_area][0], "status"] == "critical"


def test_map_figure_without_tiles(test_config):
    config = test_config
    areas = pd.DataFrame([{"area": a.code, "lat": a.centroid[0], "lon": a.centroid[1], "population": a.population,
                           "status": "warning" if i == 0 else "ok", "critical": 0, "warning": int(i == 0),
                           "stale": 0, "sites": 3} for i, a in enumerate(config.child_areas("BG"))])
    figure = area_map(config, areas, None, "vi")
    trace = figure.data[-1]
    assert trace.type == "scatter" and list(trace.customdata[0]) == ["area", areas["area"][0]]
    assert trace.marker.color[0] == STATUS_COLORS["warning"]
    assert "Huyện Hiệp Hòa" in trace.text
    assert figure.layout.yaxis.scaleanchor == "x" and not figure.layout.xaxis.visible
    # Nothing in the figure names a tile or style server.
    assert "http" not in json.dumps(figure.to_plotly_json(), default=str)
    sizes = trace.marker.size
    assert max(sizes) > min(sizes)  # sized by population


def test_map_boundaries_and_tiles(tmp_path, test_config):
    folder = copy_config(tmp_path / "cfg", {"ui": {"map_tiles": "http://tiles.local/{z}/{x}/{y}.png"}})
    square = [[106.1, 21.2], [106.3, 21.2], [106.3, 21.4], [106.1, 21.4], [106.1, 21.2]]
    (folder / "areas.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "LGI"}, "geometry": {"type": "Polygon", "coordinates": [square]}},
    ]}))
    region = (folder / "region.yaml").read_text(encoding="utf-8")
    (folder / "region.yaml").write_text("boundaries: areas.geojson\n" + region, encoding="utf-8")
    config = load_config(folder, environ={})
    areas = pd.DataFrame([{"area": "LGI", "lat": 21.35, "lon": 106.26, "population": None, "status": "critical",
                           "critical": 1, "warning": 0, "stale": 0, "sites": 4}])
    tiled = area_map(config, areas, None, "en")
    assert tiled.data[0].type == "scattermap"
    assert tiled.layout.map.style["sources"]["tiles"]["tiles"] == ["http://tiles.local/{z}/{x}/{y}.png"]
    plain = area_map(type(config)(
        config.config_dir, config.settings.model_copy(update={"ui": config.settings.ui.model_copy(
            update={"map_tiles": None})}), config.region, config.catalog, config.feeds, config.boundaries),
        areas, None, "en")
    assert plain.data[0].meta == {"boundary": "LGI"} and plain.data[0].fill == "toself"

    (folder / "areas.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "NOPE"}, "geometry": {"type": "Polygon", "coordinates": [square]}},
    ]}))
    with pytest.raises(ConfigError) as err:
        load_config(folder, environ={})
    assert err.value.key == "boundaries" and "NOPE" in str(err.value)
