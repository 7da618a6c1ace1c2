"""The region map: area_status / site_status frames → a plotly Figure. Pure, no I/O (tests/test_map.py).

No tile server is needed: areas and sites are drawn on plain axes from their coordinates (an
equirectangular view scaled for the region's latitude), with the areas' boundaries when region.yaml
names a GeoJSON file. An on-premises tile server (`ui.map_tiles`) turns on a tiled map instead.

Clicks: every point carries customdata [kind, id] with kind "area" or "entity", so a page can drill
down from `clickData["points"][0]["customdata"]`.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from ioc.config import Config
from ioc.i18n import format_number, normalize_lang, t
from ioc.status import RANK, SEVERITY, STATUS_COLORS

from ._figures import FONT_FAMILY, alpha

MARKER_MIN, MARKER_MAX = 16, 46
SITE_SIZE = 9


def _marker_sizes(areas: pd.DataFrame, scale: float) -> list[float]:
    """Marker area proportional to a `weight` column when the frame has one (a count: calls, incidents),
    else to population (sites count where a population is unknown)."""
    column = "weight" if "weight" in areas and areas["weight"].notna().any() else "population"
    weights = areas[column].astype("float64").where(areas[column].notna(), None)
    if weights.isna().all():
        weights = areas["sites"].astype("float64")
    weights = weights.fillna(weights.median() if weights.notna().any() else 1.0).clip(lower=0)
    top = weights.max() or 1.0
    return [(MARKER_MIN + (MARKER_MAX - MARKER_MIN) * math.sqrt(w / top)) * scale for w in weights]


def _area_hover(config: Config, row: pd.Series, lang: str) -> str:
    area = config.areas[row["area"]][0]
    lines = [f"<b>{area.name.get(lang)}</b>", t(f"status.{row['status']}", lang),
             t("map.counts", lang, critical=row["critical"], warning=row["warning"], stale=row["stale"])]
    if isinstance(row.get("weight_text"), str):
        lines.append(row["weight_text"])
    if row["population"] is not None and not pd.isna(row["population"]):
        lines.append(t("map.population", lang, n=format_number(row["population"], lang)))
    return "<br>".join(lines)


def site_points(config: Config, sites: pd.DataFrame) -> pd.DataFrame:
    """One row per site: entity, lat, lon and the worst status of its fresh readings ('nodata' if none)."""
    if sites.empty:
        return pd.DataFrame(columns=["entity", "lat", "lon", "status"])
    # Worst status per site in one pass: stale readings count as "nodata", the least severe.
    rank = sites["status"].map(RANK).where(~sites["stale"].astype(bool), 0)
    worst = rank.groupby(sites["entity"]).max().sort_index()
    entities = [config.entities[e] for e in worst.index]
    return pd.DataFrame({"entity": list(worst.index), "lat": [e.lat for e in entities],
                         "lon": [e.lon for e in entities], "status": [SEVERITY[int(r)] for r in worst]},
                        columns=["entity", "lat", "lon", "status"])


def _boundary_traces(config: Config, areas: pd.DataFrame) -> list[go.Scatter]:
    status = dict(zip(areas["area"], areas["status"], strict=True))
    traces = []
    for feature in (config.boundaries or {}).get("features", []):
        code = feature["properties"]["code"]
        if code not in status:
            continue
        geometry = feature["geometry"]
        polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        xs: list[float | None] = []
        ys: list[float | None] = []
        for polygon in polygons:
            ring = polygon[0]  # the outer ring; holes are too small to matter at this scale
            xs += [p[0] for p in ring] + [None]
            ys += [p[1] for p in ring] + [None]
        color = STATUS_COLORS[status[code]]
        traces.append(go.Scatter(x=xs, y=ys, mode="lines", fill="toself", fillcolor=alpha(color, 0.16),
                                 line={"color": color, "width": 1.2}, hoverinfo="skip", showlegend=False,
                                 meta={"boundary": code}))
    return traces


def area_map(config: Config, areas: pd.DataFrame, sites: pd.DataFrame | None = None, lang: str | None = "vi",
             dark: bool = False, height: int = 420, scale: float = 1.0, labels: bool = True) -> go.Figure:
    """Areas as markers coloured by their worst status and sized by population; sites as small points.

    `areas` is a queries.area_status() frame, `sites` a site_points() frame (or None).
    `scale` enlarges markers and labels for wall screens.
    """
    lang = normalize_lang(lang)
    text_color = "#e8edf3" if dark else "#1d2430"
    area_names = [config.areas[code][0].name.get(lang) for code in areas["area"]]
    area_trace = dict(
        mode="markers+text" if labels else "markers",
        marker={"size": _marker_sizes(areas, scale) if not areas.empty else [],
                "color": [STATUS_COLORS[s] for s in areas["status"]],
                "opacity": 0.9},
        text=area_names, textposition="bottom center",
        textfont={"size": 12 * scale, "color": text_color, "family": FONT_FAMILY},
        customdata=[["area", code] for code in areas["area"]],
        hovertext=[_area_hover(config, row, lang) for _, row in areas.iterrows()], hoverinfo="text",
        name=t("map.areas", lang), showlegend=False,
    )
    site_trace = None
    if sites is not None and not sites.empty:
        site_trace = dict(
            mode="markers",
            marker={"size": SITE_SIZE * scale, "color": [STATUS_COLORS[s] for s in sites["status"]]},
            customdata=[["entity", e] for e in sites["entity"]],
            hovertext=[config.entities[e].name.get(lang) for e in sites["entity"]], hoverinfo="text",
            name=t("map.sites", lang), showlegend=False,
        )
    lats = list(areas["lat"]) + (list(sites["lat"]) if site_trace else [])
    lons = list(areas["lon"]) + (list(sites["lon"]) if site_trace else [])
    center = config.region.region.centroid
    layout = dict(height=height, margin={"l": 4, "r": 4, "t": 4, "b": 4}, paper_bgcolor="rgba(0,0,0,0)",
                  plot_bgcolor="rgba(0,0,0,0)", font={"family": FONT_FAMILY, "color": text_color},
                  hoverlabel={"font": {"family": FONT_FAMILY}}, dragmode=False, clickmode="event",
                  meta={"map": "tiles" if config.settings.ui.map_tiles else "plain"})

    if config.settings.ui.map_tiles:
        traces = [go.Scattermap(lat=areas["lat"], lon=areas["lon"], **area_trace)]
        if site_trace:
            traces.append(go.Scattermap(lat=sites["lat"], lon=sites["lon"], **site_trace))
        figure = go.Figure(traces)
        figure.update_layout(**layout, map={
            "style": {"version": 8, "sources": {"tiles": {"type": "raster", "tileSize": 256,
                                                          "tiles": [config.settings.ui.map_tiles]}},
                      "layers": [{"id": "tiles", "type": "raster", "source": "tiles"}]},
            "center": {"lat": center[0], "lon": center[1]}, "zoom": 8.3})
        return figure

    # Scattermap markers have no outline; plain markers get one so that touching circles stay apart.
    outline = {"color": "#0c1118" if dark else "#ffffff"}
    traces = _boundary_traces(config, areas)
    traces.append(go.Scatter(x=areas["lon"], y=areas["lat"], **area_trace))
    traces[-1].marker.line = {**outline, "width": 2}
    if site_trace:
        traces.append(go.Scatter(x=sites["lon"], y=sites["lat"], **site_trace))
        traces[-1].marker.line = {**outline, "width": 1}
    figure = go.Figure(traces)
    pad_lat = max(0.04, (max(lats, default=center[0]) - min(lats, default=center[0])) * 0.12)
    pad_lon = max(0.04, (max(lons, default=center[1]) - min(lons, default=center[1])) * 0.08)
    hidden = {"visible": False, "fixedrange": True}
    figure.update_layout(
        **layout,
        xaxis={**hidden,
               "range": [min(lons, default=center[1]) - pad_lon, max(lons, default=center[1]) + pad_lon]},
        # One degree of latitude is longer on the ground than one of longitude by 1/cos(latitude).
        yaxis={**hidden, "scaleanchor": "x", "scaleratio": 1 / math.cos(math.radians(center[0])),
               "range": [min(lats, default=center[0]) - pad_lat * 1.6, max(lats, default=center[0]) + pad_lat]},
    )
    return figure
