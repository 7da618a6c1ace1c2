"""The brief's numbers for one local day, as plain data (JSON-ready, language-neutral).

Every figure follows its metric's semantics (metrics.yaml `over_time`, `across`; tests recompute them from the
readings on their own):
- A site's figure for a day by `over_time`: day_total = the sum of its readings (each one counts the events of
  its interval: accidents, calls, the hour's rain), mean, max, min or last.
- Sites combine by `across`: sum, mean, weighted_mean (by the entity attribute `weight`), max or min (the site
  that reached it is named). River gauges (`worst_site`) are never combined: each gauge's peak is read
  against its own BĐ levels.
- VN_AQI: the daily index of Decision 1459/QĐ-TCMT (ioc.vn_aqi.daily_aqi_from_hourly) from each air
  station's hourly PM2.5 / PM10 means, the worst station named, with its band.
- Each figure is compared with the day before, the mean of the 7 days before (those with a figure) and the
  same calendar day a year earlier ("cùng kỳ"), where those exist.
- Status: the worst of the day's readings against each site's own levels (critical, warning, ok).
- Breaches: runs of consecutive readings of one site and metric beyond its warning level, in the metric's
  direction (above or below); each names the agency that answers for it, from the rule's `team` label or its
  domain's agency (region identity).
- Silences: stretches of a day in which a site sent nothing for more than an hour (and three of its shortest
  cadences), said in plain words.
- Plan: each target's figure: computed from day totals (`computed_from`, e.g. the online dossier share) or
  the latest figure entered by the end of the day.
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

from ioc import brief_queries, holidays, vn_aqi
from ioc.alert_queries import alert_history
from ioc.alerts.rules import load_rules
from ioc.config import Config, Metric
from ioc.status import judge, worst

BASELINE_DAYS = 7
NOTABLE_CHANGE = 0.10     # a change of 10 % of the baseline is worth a sentence
COMPLETE_ENOUGH = 95.0    # below this share of expected readings, a domain is named
HEADLINES_MAX = 5
SILENCE_MIN = timedelta(hours=1)  # a site silent longer than this (and 3 cadences) is named
BREACHES_MAX = 12         # the longest list of "vấn đề cần lưu ý" a leader reads


def day_window(day: date, tz: str) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar day, as UTC instants."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def same_day_last_year(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _iso(ts: Any) -> str | None:
    return None if ts is None or pd.isna(ts) else pd.Timestamp(ts).tz_convert(UTC).isoformat()


def brief_metrics(config: Config, domain: str) -> list[Metric]:
    """The rows of a domain's table: its headline metrics and every other metric counted in day totals, in the
    catalog's order (so that accidents, deaths and injuries, or the dossier counts, stand together)."""
    mine = [m for m in config.catalog.metrics if m.domain == domain]
    heads = [m.key for m in mine if m.headline][:HEADLINES_MAX]
    return [m for m in mine if m.key in heads or (not m.headline and m.over_time == "day_total")]


_SITE_COLUMN = {"day_total": "total", "mean": "mean", "max": "max", "min": "min", "last": "last"}


def _site_values(metric: Metric, stats: pd.DataFrame, aqi: dict[tuple[str, date], int]) -> dict[date, dict]:
    """{day: {entity: the site's figure}} by the metric's `over_time` (VN_AQI: its daily index)."""
    out: dict[date, dict] = {}
    if metric.key == "vn_aqi":
        for (entity, day), value in aqi.items():
            out.setdefault(day, {})[entity] = float(value)
        return out
    column = _SITE_COLUMN[metric.over_time]
    for entity, day, value in zip(stats["entity"], stats["day"], stats[column], strict=True):
        out.setdefault(day, {})[entity] = float(value)
    return out


def _combine(config: Config, metric: Metric, sites: dict[str, float]) -> tuple[float | None, str | None]:
    """The figure of many sites by `across`, and the site that gave it (max/min/worst_site)."""
    if not sites:
        return None, None
    across = metric.across
    if across == "worst_site":  # the site furthest toward its own warning level (gauges on their own datums)
        def margin(entity: str) -> float:
            th = metric.thresholds_for(config.entities[entity])
            return (sites[entity] - th.warning) * (1 if th.direction == "above" else -1)
        entity = max(sites, key=margin)
        return sites[entity], entity
    if across == "sum":
        return sum(sites.values()), None
    if across == "weighted_mean":
        weights = {e: float(config.entities[e].attrs.get(metric.weight, 0) or 0) for e in sites}
        total = sum(weights.values())
        if total > 0:
            return sum(sites[e] * weights[e] for e in sites) / total, None
        return sum(sites.values()) / len(sites), None
    if across == "mean":
        return sum(sites.values()) / len(sites), None
    entity = (min if across == "min" else max)(sites, key=sites.__getitem__)
    return sites[entity], entity


def _daily_aqi(hourly: pd.DataFrame) -> dict[tuple[str, date], int]:
    """Each air station's daily VN_AQI per day from its hourly PM means."""
    out = {}
    for (entity, day), g in hourly.groupby(["entity", "day"]):
        series = {key: [None] * 24 for key in ("pm25", "pm10")}
        for metric, hour, mean in zip(g["metric"], g["hour"], g["mean"], strict=True):
            series[metric][int(hour)] = float(mean)
        value = vn_aqi.daily_aqi_from_hourly(series)
        if value is not None:
            out[(entity, day)] = value
    return out


def _indicator(config: Config, metric: Metric, stats: pd.DataFrame, aqi: dict, day: date,
               statuses: dict[str, str]) -> dict[str, Any]:
    per_day = _site_values(metric, stats, aqi)
    value, site = _combine(config, metric, per_day.get(day, {}))
    if metric.across == "worst_site" and site is not None:  # compared with the same site's own past
        per_day = {d: {site: v[site]} for d, v in per_day.items() if site in v}

    def on(d: date) -> float | None:
        return _combine(config, metric, per_day.get(d, {}))[0]

    previous, last_year = on(day - timedelta(days=1)), on(same_day_last_year(day))
    base = [v for k in range(1, BASELINE_DAYS + 1) if (v := on(day - timedelta(days=k))) is not None]
    baseline = sum(base) / len(base) if base else None
    th = metric.thresholds
    out = {
        "metric": metric.key, "over_time": metric.over_time, "across": metric.across, "kind": metric.kind,
        "value": value, "site": site, "previous": previous, "baseline": baseline, "baseline_days": len(base),
        "last_year": last_year,
        "change_day": None if value is None or previous is None else value - previous,
        "change_baseline": None if value is None or baseline is None else value - baseline,
        "change_year": None if value is None or last_year is None else value - last_year,
        "status": _status(metric, value, day, statuses.get(metric.key, "ok")),
        "direction": th.direction if th else None, "warning": th.warning if th else None,
        "critical": th.critical if th else None, "sites": len(per_day.get(day, {})),
        "band": vn_aqi.band(value) if metric.key == "vn_aqi" and value is not None else None,
    }
    if metric.across == "worst_site":
        today = stats[stats["day"] == day]
        gauges = []
        for entity, peak, peak_at in sorted(zip(today["entity"], today["max"], today["max_at"], strict=True)):
            attrs = config.entities[entity].attrs
            levels = {k: float(attrs[k]) for k in ("bd1", "bd2", "bd3") if k in attrs}
            reached = [k for k in ("bd3", "bd2", "bd1") if k in levels and peak >= levels[k]]
            gauges.append({"entity": entity, "peak": float(peak), "peak_at": _iso(peak_at), "levels": levels,
                           "reached": reached[0] if reached else None})
        out["gauges"] = gauges
    return out


def notable(ind: dict[str, Any]) -> bool:
    """Worth a sentence of its own: out of its normal band, or (not a day total, which the day's count
    sentence lists) a change of 10 % from the baseline."""
    if ind["value"] is None:
        return False
    if ind["status"] in ("warning", "critical") or ind.get("gauges"):
        return True
    if ind["over_time"] == "day_total":  # a site's day total (the heaviest rain) has its sentence; sums are listed
        return ind["across"] in ("max", "min") and ind["value"] > 0
    base, change = ind["baseline"], ind["change_baseline"]
    return base is not None and base != 0 and abs(change) >= NOTABLE_CHANGE * abs(base)


def breaches(config: Config, rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Every run of readings beyond the warning level, in the metric's direction (entity, metric, start, end,
    duration_s, peak, threshold crossed at the peak, excess relative to the warning level, critical)."""
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
            runs.append({"entity": entity, "metric": key, "direction": th.direction, "start": _iso(start),
                         "end": _iso(last), "duration_s": duration, "peak": peak, "peak_at": _iso(stamps[peak_i]),
                         "threshold": th.critical if critical else th.warning,
                         "excess": sign * (peak - th.warning) / max(abs(th.warning), 1e-9), "critical": critical,
                         "readings": int(stop - first)})
    return runs


def _issues(config: Config, runs: list[dict], teams: dict[str, str]) -> list[dict[str, Any]]:
    """The day's breaches worth a leader's attention, one per (site, metric): the worst run, how many runs and
    their total time, and the agency that answers for it; critical first, then the largest excess."""
    agencies = config.identity.agencies
    grouped: dict[tuple[str, str], list[dict]] = {}
    for run in runs:
        grouped.setdefault((run["entity"], run["metric"]), []).append(run)
    issues = []
    for (_site, key), mine in grouped.items():
        worst = max(mine, key=lambda r: (r["critical"], r["excess"]))
        domain = config.metrics[key].domain
        team = teams.get(key) or config.identity.domain_agencies.get(domain)
        issues.append({**worst, "runs": len(mine), "total_s": sum(r["duration_s"] for r in mine),
                       "domain": domain, "agency": team if team in agencies else None})
    issues.sort(key=lambda i: (not i["critical"], -i["excess"], i["entity"]))
    return issues[:BREACHES_MAX]


def _alerts(alerts: pd.DataFrame, now: datetime) -> dict[str, Any]:
    if alerts.empty:
        return {"total": 0, "critical": 0, "warning": 0, "unresolved": 0, "acknowledged": 0, "ack_median_s": None}
    firing = pd.to_datetime(alerts["firing_since"], utc=True)
    resolved = pd.to_datetime(alerts["resolved_at"], utc=True)
    acked = pd.to_datetime(alerts["acknowledged_at"], utc=True)
    ack_s = (acked - firing).dt.total_seconds().dropna()
    return {"total": int(len(alerts)), "critical": int((alerts["severity"] == "critical").sum()),
            "warning": int((alerts["severity"] == "warning").sum()), "unresolved": int(resolved.isna().sum()),
            "acknowledged": int(len(ack_s)), "ack_median_s": float(median(ack_s)) if len(ack_s) else None}


def _silences(config: Config, stamps: pd.DataFrame, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Each priority site's silences in [start, end): (entity, from, to, seconds); a site that sent nothing all
    day has one silence of the whole day."""
    by_entity = {e: g["ts"].tolist() for e, g in stamps.groupby("entity")} if not stamps.empty else {}
    out = []
    for entity in config.region.entities:
        if not config.is_priority_entity(entity.id):
            continue
        cadence = min(config.metrics[m].cadence for m in config.entity_metrics(entity.id))
        longest = max(SILENCE_MIN, 3 * cadence)
        times = [pd.Timestamp(start)] + by_entity.get(entity.id, []) + [pd.Timestamp(end)]
        for a, b in zip(times, times[1:], strict=False):
            if b - a > longest:
                out.append({"entity": entity.id, "from": _iso(a), "to": _iso(b), "seconds": (b - a).total_seconds(),
                            "whole_day": a == pd.Timestamp(start) and b == pd.Timestamp(end)})
    return out


def _status(metric: Metric, value: float | None, day: date, judged: str) -> str:
    """The day's word for an indicator: a school-hours source has nothing to say on a day without school (summer,
    Sunday, holiday), which is not missing data."""
    if value is None:
        return "no_school" if metric.reports == "school_hours" and not _school_day(day) else "nodata"
    return judged if metric.thresholds else "none"


def _school_day(day: date) -> bool:
    return bool(holidays.is_school_day(np.array([(day - date(1970, 1, 1)).days]))[0])


def _expected_per_day(metric: Metric, day: date) -> int:
    """Readings a series should send in a day: one per cadence, within school hours for school-hours sources."""
    seconds = max(1, round(metric.cadence.total_seconds()))
    if metric.reports == "school_hours":
        if not _school_day(day):
            return 0
        open_s = (holidays.SCHOOL_HOURS[1] - holidays.SCHOOL_HOURS[0]) * 3600
        return max(1, int(open_s // seconds))
    return max(1, int(86400 // seconds))


def _completeness(config: Config, stats: pd.DataFrame, day: date) -> dict[str, dict]:
    """Per priority domain: readings received in the day over one per cadence per series (at most one per
    cadence counted)."""
    today = stats[stats["day"] == day]
    got = {(e, m): int(n) for e, m, n in zip(today["entity"], today["metric"], today["n"], strict=True)}
    domains: dict[str, dict] = {d.key: {"expected": 0, "received": 0} for d in config.priority_domains}
    for entity in config.region.entities:
        if not config.is_priority_entity(entity.id):
            continue
        domain = config.entity_domain(entity.id)
        for key in config.entity_metrics(entity.id):
            expected = _expected_per_day(config.metrics[key], day)
            domains[domain]["expected"] += expected
            domains[domain]["received"] += min(got.get((entity.id, key), 0), expected)
    for part in domains.values():
        part["pct"] = 100.0 * part["received"] / part["expected"] if part["expected"] else None
    return domains


def day_completeness(config: Config, db: ConnectionPool, day: date) -> dict[str, dict]:
    """Per priority domain: the readings received in `day` against those expected (see _completeness)."""
    tz = config.settings.brief.timezone
    start, end = day_window(day, tz)
    return _completeness(config, brief_queries.daily_stats(db, sorted(config.metrics), [(start, end)], tz), day)


def overall(completeness: dict[str, dict]) -> dict[str, Any]:
    """The domains' completeness added up: expected, received and their share in %."""
    expected = sum(c["expected"] for c in completeness.values())
    received = sum(c["received"] for c in completeness.values())
    return {"expected": expected, "received": received, "pct": 100.0 * received / expected if expected else None}


def _plan(config: Config, db: ConnectionPool, end: datetime) -> list[dict[str, Any]]:
    rows = []
    entered = [m.key for m in config.catalog.metrics if m.targets and not m.computed_from]
    values = brief_queries.values_as_of(db, entered, end)
    for metric in config.catalog.metrics:
        if not metric.targets:
            continue
        if metric.computed_from:
            rule = metric.computed_from
            totals = brief_queries.totals_between(db, [*rule.numerator, rule.denominator], end - rule.window, end)
            denominator = totals.get(rule.denominator)
            value = (100.0 * sum(totals.get(k, 0.0) for k in rule.numerator) / denominator
                     if denominator else None)
            as_of, computed = (_iso(pd.Timestamp(end)) if value is not None else None), True
        else:
            mine = values[values["metric"] == metric.key]
            value = _num(mine["value"].astype(float).mean()) if not mine.empty else None
            as_of = _iso(pd.to_datetime(mine["ts"], utc=True).max()) if not mine.empty else None
            computed = False
        rows.append({"metric": metric.key, "value": value, "as_of": as_of, "computed": computed,
                     "targets": [{"year": t.year, "value": t.value,
                                  "progress_pct": None if value is None or t.value == 0 else 100.0 * value / t.value}
                                 for t in metric.targets]})
    return rows


def _statuses(config: Config, rows: pd.DataFrame) -> dict[str, str]:
    """Per metric: the worst of the day's readings against each site's own levels."""
    out: dict[str, list[str]] = {}
    for (entity, key), g in rows.groupby(["entity", "metric"]):
        th = config.metrics[key].thresholds_for(config.entities[entity])
        if th is None:
            continue
        peak = g["value"].max() if th.direction == "above" else g["value"].min()
        out.setdefault(key, []).append(judge(float(peak), th))
    return {k: worst(v) for k, v in out.items()}


def compute(config: Config, db: ConnectionPool, day: date, now: datetime | None = None) -> dict[str, Any]:
    """Every number of the brief for `day` (a local calendar day in the brief's time zone)."""
    now = now or datetime.now(UTC)
    tz = config.settings.brief.timezone
    start, end = day_window(day, tz)
    base_start, _ = day_window(day - timedelta(days=BASELINE_DAYS), tz)
    year_start, year_end = day_window(same_day_last_year(day), tz)
    priority = [d.key for d in config.priority_domains]
    rows_of = {d: brief_metrics(config, d) for d in priority}
    keys = sorted({m.key for ms in rows_of.values() for m in ms})
    stats = brief_queries.daily_stats(db, keys, [(base_start, end), (year_start, year_end)], tz)
    hourly = pd.concat([brief_queries.hourly_means(db, ["pm25", "pm10"], base_start, end, tz),
                        brief_queries.hourly_means(db, ["pm25", "pm10"], year_start, year_end, tz)])
    aqi = _daily_aqi(hourly) if not hourly.empty else {}
    watched = [m.key for m in config.catalog.metrics if m.thresholds and m.domain in priority]
    readings = brief_queries.readings_between(db, watched, start, end)
    statuses = _statuses(config, readings)
    runs = breaches(config, readings)
    teams: dict[str, str] = {}
    for rule in load_rules(config).rules:  # as configured, then as stored (edits on /rules win)
        if rule.metric and "team" in rule.labels:
            teams.setdefault(rule.metric, rule.labels["team"])
    teams |= brief_queries.rule_teams(db)
    history = alert_history(db, start, end)
    if not history.empty:
        firing = pd.to_datetime(history["firing_since"], utc=True)
        history = history[firing.notna() & (firing >= pd.Timestamp(start)) & (firing < pd.Timestamp(end))]
    completeness = day_completeness(config, db, day)
    domains = []
    for key in priority:
        metric_stats = {m.key: stats[stats["metric"] == m.key] for m in rows_of[key]}
        alerts = history[history["domain"] == key] if not history.empty else history
        domains.append({
            "key": key,
            "indicators": [_indicator(config, m, metric_stats[m.key], aqi, day, statuses) for m in rows_of[key]],
            "alerts": _alerts(alerts, now),
            "breaches": len([r for r in runs if config.metrics[r["metric"]].domain == key]),
            "completeness": completeness[key],
        })
    return {
        "date": day.isoformat(), "timezone": tz, "start": start.isoformat(), "end": end.isoformat(),
        "generated_at": now.astimezone(UTC).isoformat(),
        "domains": domains,
        "alerts": _alerts(history, now),
        "issues": _issues(config, runs, teams),
        "silences": _silences(config, brief_queries.entity_stamps(db, start, end), start, end),
        "completeness": overall(completeness),
        "plan": _plan(config, db, end),
    }
