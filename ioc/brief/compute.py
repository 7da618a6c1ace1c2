"""The brief's numbers for one local day, as plain data (JSON-ready, language-neutral).

Definitions (each number in the brief is one of these; tests recompute them with independent SQL):
- A metric's value for a day: each entity's mean of that day's readings, combined across entities with the
  metric's aggregation (avg, sum, max, min; "last" averages) — `queries.metric_series` with a one-day bucket.
- Change vs the day before: value − previous day's value. Baseline: the mean of the values of the 7 days
  before (those that have one). Status: the value against the metric's thresholds; for metrics with site
  levels (river gauges) the worst site by its own levels.
- Sites in warning / critical: entities whose own daily mean is in that band.
- Alerts of the day: alerts that started firing in the day. Unresolved: not resolved when the brief is built.
  Duration: until resolved, else until the build. Time to acknowledge: acknowledged − firing (median).
- Breaches: runs of consecutive readings of one entity and metric beyond its warning level; a run lasts
  from its first reading to its last plus one cadence. Largest: the reading furthest beyond the warning
  level relative to that level (critical first). Longest: the longest run.
- Completeness: per series, readings received in the day (at most one per cadence) over one per cadence;
  per feed, over the series that feed last wrote; a feed with no series has received nothing.
- Plan: each target metric's latest figure before the end of the day, and its share of each target.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from psycopg_pool import ConnectionPool

from ioc import brief_queries
from ioc.alert_queries import alert_history
from ioc.config import Config, Metric
from ioc.queries import _combine
from ioc.status import figure, status_for

BASELINE_DAYS = 7
NOTABLE_CHANGE = 0.10     # a change of 10 % of the baseline is worth a sentence
COMPLETE_ENOUGH = 95.0    # below this share of expected readings, a domain or feed is named
HEADLINES_MAX = 5


def day_window(day: date, tz: str) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar day, as UTC instants."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _text(value: Any) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _iso(ts: Any) -> str | None:
    return None if ts is None or pd.isna(ts) else pd.Timestamp(ts).tz_convert(UTC).isoformat()


def headline_metrics(config: Config, domain: str) -> list[Metric]:
    return [m for m in config.catalog.metrics if m.domain == domain and m.headline][:HEADLINES_MAX]


def _indicator(config: Config, metric: Metric, means: pd.DataFrame, day: date) -> dict[str, Any]:
    mine = means[means["metric"] == metric.key]
    per_day = {d: _num(_combine(g["mean"], metric.aggregation)) for d, g in mine.groupby("day")}
    value = per_day.get(day)
    previous = per_day.get(day - timedelta(days=1))
    base = [per_day[d] for d in (day - timedelta(days=k) for k in range(1, BASELINE_DAYS + 1))
            if per_day.get(d) is not None]
    baseline = sum(base) / len(base) if base else None
    today = mine[mine["day"] == day]
    sites = {}
    for entity, mean in zip(today["entity"], today["mean"], strict=True):
        sites[entity] = status_for(metric, float(mean), config.entities[entity], "site")
    status = figure(config, metric, dict(zip(today["entity"], today["mean"].astype(float), strict=True))).status
    th = metric.thresholds
    return {
        "metric": metric.key, "aggregation": metric.aggregation, "value": value, "previous": previous,
        "baseline": baseline, "baseline_days": len(base),
        "change_day": None if value is None or previous is None else value - previous,
        "change_baseline": None if value is None or baseline is None else value - baseline,
        "status": status, "direction": th.direction if th else None,
        "warning": th.warning if th else None, "critical": th.critical if th else None,
        "sites": len(sites),
        "critical_sites": sorted(e for e, s in sites.items() if s == "critical"),
        "warning_sites": sorted(e for e, s in sites.items() if s == "warning"),
        "history": [[(day - timedelta(days=k)).isoformat(), per_day.get(day - timedelta(days=k))]
                    for k in range(BASELINE_DAYS, -1, -1)],
    }


def notable(ind: dict[str, Any]) -> bool:
    """Worth a sentence: out of its normal band, sites in breach, or a change of 10 % from the baseline."""
    if ind["value"] is None:
        return False
    if ind["status"] in ("warning", "critical") or ind["critical_sites"] or ind["warning_sites"]:
        return True
    base, change = ind["baseline"], ind["change_baseline"]
    return base is not None and base != 0 and abs(change) >= NOTABLE_CHANGE * abs(base)


def breaches(config: Config, rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Every run of readings beyond the warning level (entity, metric, start, end, duration_s, peak,
    threshold crossed at the peak, excess of the peak relative to the warning level, critical)."""
    runs = []
    for (entity, key), g in rows.groupby(["entity", "metric"], sort=True):
        metric = config.metrics[key]
        th = metric.thresholds_for(config.entities[entity])
        if th is None:
            continue
        sign = 1.0 if th.direction == "above" else -1.0
        values = g["value"].astype(float).to_numpy()
        stamps = list(g["ts"])
        beyond = sign * (values - th.warning) >= 0
        edges = np.flatnonzero(np.diff(np.concatenate(([0], beyond.astype(np.int8), [0]))))
        for first, stop in zip(edges[::2], edges[1::2], strict=True):  # runs [first, stop)
            peak_i = first + int(np.argmax(sign * values[first:stop]))
            peak = float(values[peak_i])
            critical = bool(sign * (peak - th.critical) >= 0)
            start, last = stamps[first], stamps[stop - 1]
            duration = (last - start).total_seconds() + metric.cadence.total_seconds()
            runs.append({"entity": entity, "metric": key, "start": _iso(start), "end": _iso(last),
                         "duration_s": duration, "peak": peak, "peak_at": _iso(stamps[peak_i]),
                         "threshold": th.critical if critical else th.warning,
                         "excess": sign * (peak - th.warning) / max(abs(th.warning), 1e-9), "critical": critical,
                         "readings": int(stop - first)})
    return runs


def _alerts(alerts: pd.DataFrame, now: datetime) -> dict[str, Any]:
    if alerts.empty:
        return {"total": 0, "critical": 0, "warning": 0, "unresolved": 0, "acknowledged": 0,
                "ack_median_s": None, "longest": None, "open": []}
    firing = pd.to_datetime(alerts["firing_since"], utc=True)
    resolved = pd.to_datetime(alerts["resolved_at"], utc=True)
    acked = pd.to_datetime(alerts["acknowledged_at"], utc=True)
    duration = (resolved.fillna(pd.Timestamp(now)) - firing).dt.total_seconds()
    ack_s = (acked - firing).dt.total_seconds().dropna()
    i = int(duration.to_numpy().argmax())
    row = alerts.iloc[i]
    unresolved = alerts[resolved.isna().to_numpy()]
    return {
        "total": int(len(alerts)), "critical": int((alerts["severity"] == "critical").sum()),
        "warning": int((alerts["severity"] == "warning").sum()), "unresolved": int(len(unresolved)),
        "acknowledged": int(len(ack_s)), "ack_median_s": float(median(ack_s)) if len(ack_s) else None,
        "longest": {"id": int(row["id"]), "rule": row["rule"], "subject": row["subject"],
                    "metric": _text(row["metric"]), "severity": row["severity"], "duration_s": float(duration.iloc[i]),
                    "resolved": not pd.isna(resolved.iloc[i]), "firing_since": _iso(firing.iloc[i])},
        "open": [{"id": int(r["id"]), "rule": r["rule"], "subject": r["subject"], "metric": _text(r["metric"]),
                  "severity": r["severity"]} for r in unresolved.to_dict("records")][:5],
    }


def _expected_per_day(metric: Metric) -> int:
    return max(1, int(86400 // max(1, round(metric.cadence.total_seconds()))))


def _completeness(config: Config, counts: pd.DataFrame) -> tuple[dict[str, dict], list[dict]]:
    got = {(e, m): int(n) for e, m, n in zip(counts["entity"], counts["metric"], counts["n"], strict=True)}
    feed_of = {(e, m): f for e, m, f in zip(counts["entity"], counts["metric"], counts["feed"], strict=True)}
    domains: dict[str, dict] = {d.key: {"expected": 0, "received": 0} for d in config.priority_domains}
    feeds: dict[str, dict] = {f.name: {"feed": f.name, "series": 0, "expected": 0, "received": 0}
                              for f in config.feeds if f.enabled}
    for entity in config.region.entities:
        if not config.is_priority_entity(entity.id):
            continue
        domain = config.entity_domain(entity.id)
        for key in config.entity_metrics(entity.id):
            expected = _expected_per_day(config.metrics[key])
            received = min(got.get((entity.id, key), 0), expected)
            domains[domain]["expected"] += expected
            domains[domain]["received"] += received
            if (feed := feed_of.get((entity.id, key))) in feeds:
                feeds[feed]["series"] += 1
                feeds[feed]["expected"] += expected
                feeds[feed]["received"] += received
    for part in (*domains.values(), *feeds.values()):
        part["pct"] = 100.0 * part["received"] / part["expected"] if part["expected"] else None
    return domains, list(feeds.values())


def _plan(config: Config, values: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for metric in config.catalog.metrics:
        if not metric.targets:
            continue
        mine = values[values["metric"] == metric.key]
        value = _num(_combine(mine["value"].astype(float), metric.aggregation)) if not mine.empty else None
        as_of = _iso(pd.to_datetime(mine["ts"], utc=True).max()) if not mine.empty else None
        rows.append({"metric": metric.key, "value": value, "as_of": as_of,
                     "targets": [{"year": t.year, "value": t.value,
                                  "progress_pct": None if value is None or t.value == 0 else 100.0 * value / t.value}
                                 for t in metric.targets]})
    return rows


def compute(config: Config, db: ConnectionPool, day: date, now: datetime | None = None) -> dict[str, Any]:
    """Every number of the brief for `day` (a local calendar day in the brief's time zone)."""
    now = now or datetime.now(UTC)
    tz = config.settings.brief.timezone
    start, end = day_window(day, tz)
    base_start, _ = day_window(day - timedelta(days=BASELINE_DAYS), tz)
    priority = [d.key for d in config.priority_domains]
    heads = {d: headline_metrics(config, d) for d in priority}
    means = brief_queries.daily_means(db, [m.key for ms in heads.values() for m in ms], base_start, end, tz)
    means["day"] = pd.to_datetime(means["day"]).dt.date if not means.empty else means["day"]
    watched = [m.key for m in config.catalog.metrics if m.thresholds and m.domain in priority]
    runs = breaches(config, brief_queries.readings_between(db, watched, start, end))
    history = alert_history(db, start, end)
    if not history.empty:
        firing = pd.to_datetime(history["firing_since"], utc=True)
        history = history[firing.notna() & (firing >= pd.Timestamp(start)) & (firing < pd.Timestamp(end))]
    domain_counts, feeds = _completeness(config, brief_queries.series_counts(db, start, end))
    domains = []
    for key in priority:
        mine = [r for r in runs if config.metrics[r["metric"]].domain == key]
        largest = max(mine, key=lambda r: (r["critical"], r["excess"]), default=None)
        longest = max(mine, key=lambda r: (r["duration_s"], r["excess"]), default=None)
        alerts = history[history["domain"] == key] if not history.empty else history
        domains.append({
            "key": key,
            "indicators": [_indicator(config, m, means, day) for m in heads[key]],
            "alerts": _alerts(alerts, now),
            "breaches": {"count": len(mine), "largest": largest, "longest": longest},
            "completeness": domain_counts[key],
        })
    other = history[~history["domain"].isin(priority)] if not history.empty else history
    total_expected = sum(c["expected"] for c in domain_counts.values())
    total_received = sum(c["received"] for c in domain_counts.values())
    return {
        "date": day.isoformat(), "timezone": tz, "start": start.isoformat(), "end": end.isoformat(),
        "generated_at": now.astimezone(UTC).isoformat(),
        "domains": domains,
        "alerts": _alerts(history, now),
        "other_alerts": _alerts(other, now),
        "completeness": {"expected": total_expected, "received": total_received,
                         "pct": 100.0 * total_received / total_expected if total_expected else None},
        "feeds": feeds,
        "missing_feeds": [f["feed"] for f in feeds if f["received"] == 0],
        "plan": _plan(config, brief_queries.values_as_of(db, [m.key for m in config.catalog.metrics if m.targets],
                                                         end)),
    }
