"""A realistic, seedable simulator of every metric of every entity in the configured region.

Why it is built this way:
- Every value is a pure function of (seed, entity, metric, cadence slot): "state" such as a rain event, a
  river rising hours later or a hospital drifting toward overload is itself derived from seeded hashes of
  time, so a backfill of N days and live generation produce exactly the same series, and a repeated slot
  repeats its value.
- Values are computed with vectorised numpy over (entities x slots), so a backfill runs at hundreds of
  thousands of readings per second; only the final `Reading` objects are built in Python.
- Rhythms use local time (Asia/Ho_Chi_Minh is UTC+7 all year, no DST), timestamps are UTC on the cadence grid.
- Models read entity attrs (beds, peak_vc, bd1..bd3, catchment, lychee_peak_t, ...) with defaults, so any
  region file works (the two-tier layout included); an unknown metric gets a generic noisy model.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np

import ioc.holidays as holidays
import ioc.vn_aqi as vn_aqi
from ioc.config import Config, Metric, SimulatorSettings
from ioc.models import Reading

LOCAL_OFFSET_S = 7 * 3600  # Asia/Ho_Chi_Minh: UTC+7 all year
CHUNK_MAX = 10_000  # readings per chunk yielded by backfill
MAX_CATCHUP_S = 86_400  # readings_at fills missed slots up to one day back; older gaps are backfill's job

# Metrics driven only by the weather model (rain, rivers, floods, heat, air): never given random threshold
# crossings, so that a flooded road always follows heavy rain and a river rise always lags its catchment's rain.
# Their extremes come from the storms of the rain model instead.
PHYSICAL = frozenset({
    "rainfall_24h", "rainfall_day", "river_level", "river_discharge", "flooded_road_points", "disaster_risk_level",
    "reservoir_level_pct", "schools_closed", "temp_daily_mean", "temp_max", "humidity", "pm25", "pm10", "vn_aqi"})

# Volumes scale with the population each entity serves (its area's, in units of 100,000 residents; the default
# region totals ~1.8 M, the 2019 census count of Bắc Giang, ~1.9 M today). Rates per 100,000 residents per day,
# each with its basis (national figures divided by ~100 M people, rounded):
# - 113 police calls ~8: genuine calls only (hotlines log many more nuisance calls); ~150 a day province-wide.
# - 114 fire & rescue calls ~0.6; 115 emergency-medicine calls ~3 (≈1 transport per 1,000 people a month).
# - public-order incidents ~0.3: ~40,000 criminal cases a year nationally, plus administrative public-order cases.
# - road accidents ~0.065 incl. minor collisions (≈23,000 a year nationally), ~0.03 deaths (≈11,000 a year).
# - fires ~0.008 (≈3,000 a year nationally), rescues ~0.003.
PER_100K_DAY = {"calls_113": 8.0, "calls_114": 0.6, "calls_115": 3.0, "security_incidents": 0.3,
                "road_accidents": 0.065, "fire_incidents": 0.008, "rescue_incidents": 0.003}

# Display precision per metric (decimals); counts are integers. Unlisted metrics keep 2 decimals.
_DECIMALS = {
    "students_enrolled": 0, "schools_closed": 0, "student_teacher_ratio": 1, "dengue_cases": 0,
    "notifiable_outbreaks": 0, "vn_aqi": 0, "pm25": 1, "pm10": 1, "heavy_vehicle_volume": 0,
    "road_accidents": 0, "flooded_road_points": 0, "camera_violations": 0, "speed_ratio": 3, "vc_ratio": 3,
    "rainfall_24h": 1, "river_level": 2, "temp_daily_mean": 1, "temp_max": 1, "disaster_risk_level": 0,
    "lychee_harvest": 0, "lychee_price": -2, "animal_disease_outbreaks": 0, "info_security_alerts": 0,
    "calls_113": 0, "calls_114": 0, "calls_115": 0, "security_incidents": 0, "fire_incidents": 0,
    "rescue_incidents": 0, "road_accident_deaths": 0, "road_accident_injuries": 0, "outpatient_visits": 0,
    "inpatients": 0, "referrals_out": 0, "inpatient_deaths": 0, "hfmd_cases": 0, "rainfall_1h": 1,
    "dossiers_received": 0, "dossiers_on_time": 0, "dossiers_late": 0, "dossiers_online_full": 0,
    "dossiers_online_partial": 0, "fire_response_time": 1,
    "ed_los_p90": 2, "humidity": 0, "river_discharge": 1,
}
_PCT_DECIMALS = 1


def _skey(text: str) -> int:
    """A stable 64-bit key for a string (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)


def _mix(x: np.ndarray) -> np.ndarray:
    # splitmix64 finaliser: cheap, vectorisable, good avalanche
    x = x ^ (x >> _S30)
    x = x * _M1
    x = x ^ (x >> _S27)
    x = x * _M2
    return x ^ (x >> _S31)


def _hash(*keys) -> np.ndarray:
    h = None
    for key in keys:
        k = np.atleast_1d(np.asarray(key))
        k = k.astype(np.uint64) if k.dtype != np.uint64 else k
        h = _mix(k + _GOLD) if h is None else _mix(h ^ (k + _GOLD))
    return h


def _uniform(*keys) -> np.ndarray:
    """Uniform [0, 1) from the keys (arrays broadcast)."""
    return (_hash(*keys) >> _S11).astype(np.float64) * (1.0 / 9007199254740992.0)


def _normal(*keys) -> np.ndarray:
    u1 = _uniform(*keys, 101)
    u2 = _uniform(*keys, 202)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def _poisson(lam: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Poisson counts by inverse CDF (normal approximation for large means)."""
    lam = np.broadcast_to(np.asarray(lam, dtype=float), u.shape)
    out = np.zeros(u.shape)
    small = lam <= 30
    if small.any():
        ls, us = lam[small], u[small]
        k = np.zeros(ls.shape)
        p = np.exp(-ls)
        cdf = p.copy()
        active = us > cdf
        kmax = int(ls.max() + 6 * math.sqrt(ls.max() + 1) + 10)
        for i in range(1, kmax):
            if not active.any():
                break
            p = p * ls / i
            k = np.where(active, i, k)
            cdf = cdf + p
            active &= us > cdf
        out[small] = k
    if (~small).any():
        ll, ul = lam[~small], np.clip(u[~small], 1e-9, 1 - 1e-9)
        # Acklam-free probit: a logistic approximation is close enough for counts this large
        z = np.log(ul / (1 - ul)) / 1.702
        out[~small] = np.maximum(0, np.round(ll + np.sqrt(ll) * z))
    return out


def _local(t: np.ndarray):
    """Local day number, hour of day (float), weekday (Mon=0), day of year, month, day of month."""
    loc = t + LOCAL_OFFSET_S
    day = np.floor(loc / 86400.0).astype(np.int64)
    hour = (loc - day * 86400.0) / 3600.0
    dow = (day + 3) % 7  # 1970-01-01 was a Thursday
    d = day.astype("datetime64[D]")
    year = d.astype("datetime64[Y]")
    doy = (d - year.astype("datetime64[D]")).astype(np.int64) + 1
    month = (d.astype("datetime64[M]") - year.astype("datetime64[M]")).astype(np.int64) + 1
    dom = (d - d.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    return day, hour, dow, doy, month, dom, year.astype(np.int64) + 1970


def _wet(doy: np.ndarray) -> np.ndarray:
    """Rainy-season weight: 0 in mid-January, 1 in mid-July (north Vietnam monsoon)."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * (doy - 15) / 365.25)


def _bump(x: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - centre) / width) ** 2)


class _Ctx:
    """The (entity, time) points of one metric being generated, with local-time fields precomputed."""

    def __init__(self, sim: Simulator, ents: np.ndarray, t: np.ndarray, slot: np.ndarray):
        self.sim = sim
        self.e = ents
        self.t = t
        self.slot = slot
        self.ek = sim._ekey[ents]
        self.area = sim._earea[ents]
        self.day, self.hour, self.dow, self.doy, self.month, self.dom, self.year = _local(t)
        self.n = len(ents)

    def attr(self, name: str, default: float) -> np.ndarray:
        return self.sim._attr(name, default)[self.e]


class Simulator:
    """Generate readings for every (entity, metric) of the configuration.

    `readings_at(now)` serves live publishing, `backfill(start, end)` history; both give identical values for
    the same slot. Readings are timezone-aware UTC on each metric's cadence grid (aligned to the Unix epoch).
    """

    def __init__(self, config: Config, settings: SimulatorSettings | None = None):
        self.config = config
        self.settings = settings or SimulatorSettings()
        self.seed = int(self.settings.seed)
        self.anomaly_rate = float(self.settings.anomaly_rate)
        # Plan indicators (non-priority domains) come from manual entry, never from made-up values.
        entities = [e for e in config.region.entities if config.is_priority_entity(e.id)]
        if self.settings.entity_limit is not None:
            entities = entities[: self.settings.entity_limit]
        self.entities = entities
        self._eids = [e.id for e in entities]
        self._ekey = np.array([_skey(e.id) for e in entities], dtype=np.uint64)
        area_codes = list(config.areas)
        self._area_index = {code: i for i, code in enumerate(area_codes)}
        self._akey = np.array([_skey(code) for code in area_codes], dtype=np.uint64)
        self._earea = np.array([self._area_index[e.area] for e in entities], dtype=np.int64)
        self._attr_cache: dict[tuple[str, float], np.ndarray] = {}
        self._rain_cache: dict[tuple[int, int], np.ndarray] = {}
        self._area_pop = self._area_populations()
        self._served = self._served_populations()
        # Series grouped by metric: every entity of a metric shares its cadence grid.
        self.metric_keys: list[str] = []
        self._series: list[tuple[Metric, int, np.ndarray]] = []
        for metric in config.catalog.metrics:
            ents = [i for i, e in enumerate(entities) if metric.key in config.kinds[e.kind].metrics]
            if not ents:
                continue
            cadence = max(1, round(metric.cadence.total_seconds()))
            self.metric_keys.append(metric.key)
            self._series.append((metric, cadence, np.array(ents, dtype=np.int64)))
        self._last_slot: dict[str, int] = {}

    # ---------------------------------------------------------------- public API

    @property
    def series_count(self) -> int:
        return sum(len(ents) for _, _, ents in self._series)

    def readings_at(self, now: datetime) -> list[Reading]:
        """Readings due at `now`: every cadence slot reached since the previous call (the current slot only
        on the first call), for every series. Missed slots are filled up to one day back so series stay
        gap-free; a clock going backwards yields nothing."""
        t_now = _epoch(now)
        parts = []
        for i, (metric, cadence, _) in enumerate(self._series):
            current = math.floor(t_now / cadence)
            last = self._last_slot.get(metric.key)
            if last is None:
                first = current
            elif current > last:
                first = max(last + 1, current - MAX_CATCHUP_S // cadence + 1)
            else:
                continue
            self._last_slot[metric.key] = current
            parts.append(self._generate(i, np.arange(first, current + 1, dtype=np.int64)))
        return self._to_readings(parts)

    def last_school_reports(self, before: datetime) -> list[Reading]:
        """Each school-hours metric's last report at or before `before` (within the school term): what a
        school's latest figure is when the product starts at night, on Sunday or on a holiday."""
        last = holidays.last_school_time(before)
        if last is None:
            return []
        return [r for metric, cadence, _ in self._series if metric.reports == "school_hours"
                for r in self.metric_readings(metric.key, last - timedelta(seconds=cadence), last)]

    def backfill(self, start: datetime, end: datetime) -> Iterator[list[Reading]]:
        """Every cadence slot in [start, end), in time order, as chunks of at most 10,000 readings."""
        t0, t1 = _epoch(start), _epoch(end)
        if t1 <= t0 or not self._series:
            return
        rate = sum(len(ents) / cadence for _, cadence, ents in self._series)  # readings per second of time
        window = max(60.0, min(7 * 86400.0, 0.9 * CHUNK_MAX / rate))
        a = t0
        while a < t1:
            b = min(t1, a + window)
            parts = []
            for i, (_, cadence, _) in enumerate(self._series):
                k0, k1 = math.ceil(a / cadence), math.ceil(b / cadence)
                if k1 > k0:
                    parts.append(self._generate(i, np.arange(k0, k1, dtype=np.int64)))
            readings = self._to_readings(parts)
            for j in range(0, len(readings), CHUNK_MAX):
                yield readings[j: j + CHUNK_MAX]
            a = b

    def metric_readings(self, metric_key: str, start: datetime, end: datetime) -> list[Reading]:
        """One metric's readings in [start, end) for every entity reporting it (the same values as backfill):
        a year of one series without generating every other metric."""
        i = next(i for i, (m, _, _) in enumerate(self._series) if m.key == metric_key)
        cadence = self._series[i][1]
        slots = np.arange(math.ceil(_epoch(start) / cadence), math.ceil(_epoch(end) / cadence), dtype=np.int64)
        return self._to_readings([self._generate(i, slots)]) if len(slots) else []

    # ---------------------------------------------------------------- generation core

    def _generate(self, series_index: int, slots: np.ndarray):
        metric, cadence, ents = self._series[series_index]
        n_e, n_s = len(ents), len(slots)
        e = np.repeat(ents, n_s)
        k = np.tile(slots, n_e)
        t = k.astype(np.float64) * cadence
        ctx = _Ctx(self, e, t, k)
        model = getattr(self, f"_m_{metric.key}", None)
        values = model(ctx) if model is not None else self._m_generic(ctx, metric)
        values = np.asarray(values, dtype=np.float64)
        if self.anomaly_rate > 0 and metric.thresholds is not None and metric.key not in PHYSICAL:
            values = self._anomalies(ctx, metric, values)
        decimals = _DECIMALS.get(metric.key, _PCT_DECIMALS if metric.unit == "%" else 2)
        values = np.round(values, decimals)
        values = np.clip(values, metric.valid_range[0], metric.valid_range[1])
        present = ~np.isnan(values)  # a model returns NaN where the source sends nothing (school at night)
        return (k[present] * cadence, e[present], np.full(int(present.sum()), series_index, dtype=np.int64),
                values[present])

    def _to_readings(self, parts) -> list[Reading]:
        if not parts:
            return []
        ts = np.concatenate([p[0] for p in parts])
        ent = np.concatenate([p[1] for p in parts])
        ser = np.concatenate([p[2] for p in parts])
        val = np.concatenate([p[3] for p in parts])
        order = np.lexsort((ent, ser, ts))
        ts, ent, ser, val = ts[order], ent[order], ser[order], val[order]
        uniq, inverse = np.unique(ts, return_inverse=True)
        stamps = [datetime.fromtimestamp(int(x), UTC) for x in uniq.tolist()]
        eids = self._eids
        mkeys = [m.key for m, _, _ in self._series]
        rows = zip(ent.tolist(), ser.tolist(), inverse.tolist(), val.tolist(), strict=True)
        return [Reading(eids[e], mkeys[s], stamps[i], v) for e, s, i, v in rows]

    def _anomalies(self, c: _Ctx, metric: Metric, values: np.ndarray) -> np.ndarray:
        """Replace a few values by threshold-crossing ones; an episode lasts 3 slots so `for` rules fire."""
        mk = _skey(metric.key)
        hit = _uniform(self.seed, 7001, c.ek, mk, c.slot // 3) < self.anomaly_rate
        if not hit.any():
            return values
        th = metric.thresholds
        warn = np.full(c.n, th.warning)
        crit = np.full(c.n, th.critical)
        if metric.key == "river_level":  # each gauge has its own alarm levels
            warn = c.attr("bd1", th.warning)
            crit = c.attr("bd3", th.critical)
        span = np.abs(crit - warn)
        span = np.where(span > 0, span, np.maximum(np.abs(warn) * 0.1, 1.0))
        u = _uniform(self.seed, 7002, c.ek, mk, c.slot)
        step = span * (0.15 + 1.35 * u)
        bad = warn + step if th.direction == "above" else warn - step
        if _DECIMALS.get(metric.key) == 0:
            bad = np.ceil(bad) if th.direction == "above" else np.floor(bad)
        return np.where(hit & ~np.isnan(values), bad, values)  # no reading stays no reading

    # ---------------------------------------------------------------- shared helpers

    def _attr(self, name: str, default: float) -> np.ndarray:
        key = (name, default)
        if key not in self._attr_cache:
            vals = []
            for e in self.entities:
                raw = e.attrs.get(name, default)
                try:
                    vals.append(float(raw))
                except (TypeError, ValueError):
                    vals.append(default)
            self._attr_cache[key] = np.array(vals, dtype=np.float64)
        return self._attr_cache[key]

    def _area_populations(self) -> np.ndarray:
        """Population of each entity's area in units of 100k (default 1.5 where unknown)."""
        pops = []
        for e in self.entities:
            area = self.config.areas[e.area][0]
            pops.append((area.population or 150_000) / 100_000)
        return np.array(pops, dtype=np.float64)

    def _served_populations(self) -> np.ndarray:
        """Residents each entity serves (units of 100k): the province's population shared among the entities of
        the same kind in proportion to their areas' populations, so that a kind's volumes add up to the
        province's whatever the number of stations (one 115 centre serves everyone)."""
        root = self.config.region.region
        province = root.population or sum((a.population or 150_000) for a in root.children) or 150_000
        weights = self._area_pop.copy()
        kinds = np.array([e.kind for e in self.entities])
        for kind in set(kinds.tolist()):
            mine = kinds == kind
            weights[mine] = weights[mine] / weights[mine].sum()
        return weights * province / 100_000

    def _per_hour(self, c: _Ctx, rate_key: str, profile: np.ndarray, mean_profile: float) -> np.ndarray:
        """Poisson mean of events in the hour for each reading: PER_100K_DAY × residents served × the hour's
        share of the day (profile / its daily mean / 24)."""
        return PER_100K_DAY[rate_key] * self._served[c.e] * profile / mean_profile / 24

    @staticmethod
    def _daily_mean(profile_fn) -> float:
        hours = np.arange(24) + 0.5
        return float(np.mean(profile_fn(hours, np.zeros(24, dtype=np.int64))))

    def _u(self, *keys) -> np.ndarray:
        return _uniform(self.seed, *keys)

    def _n(self, *keys) -> np.ndarray:
        return _normal(self.seed, *keys)

    def _smooth(self, t: np.ndarray, period: float, *keys) -> np.ndarray:
        """Smooth value noise in [-1, 1] with knots every `period` seconds."""
        x = t / period
        k = np.floor(x)
        f = x - k
        f = f * f * (3 - 2 * f)
        ki = k.astype(np.int64)
        a = self._u(*keys, ki)
        b = self._u(*keys, ki + 1)
        return 2 * (a + (b - a) * f) - 1

    # --- weather: rain events per area, shared by rain gauges, rivers, reservoirs, roads and schools

    def _rain_grid(self, h0: int, h1: int) -> np.ndarray:
        """Rain (mm) in each UTC hour h0..h1-1 for every area: shape (areas, hours)."""
        key = (h0, h1)
        cached = self._rain_cache.get(key)
        if cached is not None:
            return cached
        hours = np.arange(h0, h1, dtype=np.int64)[None, :]
        ak = self._akey[:, None]
        total = np.zeros((len(self._akey), h1 - h0))
        # Synoptic systems: one chance per 12-hour block, province-wide, each area getting its own share.
        for back in range(3):
            b = hours // 12 - back
            w = _wet(_local(b * 43200.0)[3])
            occurs = self._u(11, b) < 0.035 + 0.12 * w
            start = b * 12 + np.floor(self._u(12, b) * 8)
            dur = 3 + np.floor(self._u(13, b) * 14)
            amount = np.exp(np.log(3 + 10 * w) + 0.9 * self._n(14, b))
            share = 0.4 + 1.2 * self._u(15, ak, b)
            pos = (hours - start + 0.5) / dur
            inside = (pos > 0) & (pos < 1)
            shape = 2 * (1 - np.abs(2 * pos - 1))  # triangular hyetograph, mean 1
            total += np.where(occurs & inside, amount / dur * shape * share, 0.0)
        # Tropical storms and depressions (June–October): a rare 1–2-day deluge over the whole province, 100–300 mm,
        # the events that bring BĐ alarms, flooded roads and risk bulletins.
        for back in range(3):
            b = hours // 24 // 3 - back  # 3-day blocks
            doy = _local(b * 3 * 86400.0)[3]
            season = (doy >= 160) & (doy <= 290)
            occurs = season & (self._u(16, b) < 0.05)
            start = b * 72 + np.floor(self._u(17, b) * 24)
            dur = 24 + np.floor(self._u(18, b) * 24)
            amount = 100 + 200 * self._u(19, b)
            share = 0.6 + 0.8 * self._u(20, ak, b)
            pos = (hours - start + 0.5) / dur
            inside = (pos > 0) & (pos < 1)
            shape = 2 * (1 - np.abs(2 * pos - 1))
            total += np.where(occurs & inside, amount / dur * shape * share, 0.0)
        # Afternoon convective showers: per area and local day, mostly in the rainy season.
        day, hour, _, doy, *_ = _local(hours * 3600.0)
        w = _wet(doy)
        lh = np.floor(hour)
        occurs = self._u(21, ak, day) < 0.02 + 0.16 * w
        start = 13 + np.floor(self._u(22, ak, day) * 5)
        dur = 1 + np.floor(self._u(23, ak, day) * 3)
        amount = np.exp(np.log(5 + 8 * w) + 0.8 * self._n(24, ak, day))
        total += np.where(occurs & (lh >= start) & (lh < start + dur), amount / dur, 0.0)
        if len(self._rain_cache) > 16:
            self._rain_cache.clear()
        self._rain_cache[key] = total
        return total

    def _rain_window(self, t: np.ndarray, back_hours: int):
        """Rain grid covering `back_hours` before the earliest t to the hour after the latest, and its h0."""
        h0 = int(np.floor(t.min() / 3600)) - back_hours - 1
        h1 = int(np.floor(t.max() / 3600)) + 2
        return self._rain_grid(h0, h1), h0

    def _rain_sum(self, area: np.ndarray, t: np.ndarray, hours: int) -> np.ndarray:
        """Rain (mm) over the `hours` hours before t in each area (partial hours weighted)."""
        grid, h0 = self._rain_window(t, hours)
        cum = np.concatenate([np.zeros((grid.shape[0], 1)), np.cumsum(grid, axis=1)], axis=1)
        hc = np.floor(t / 3600).astype(np.int64) - h0
        f = (t / 3600) - np.floor(t / 3600)
        whole = cum[area, hc] - cum[area, hc - hours]
        return np.maximum(0.0, whole + f * (grid[area, hc] - grid[area, hc - hours]))

    def _catchment_areas(self, ent: int) -> list[int]:
        raw = self.entities[ent].attrs.get("catchment")
        codes = [s.strip() for s in str(raw).split(",")] if raw else []
        return [self._area_index[s] for s in codes if s in self._area_index] or [int(self._earea[ent])]

    def _catchment_response(self, c: _Ctx, kernel_hours: int, kernel_fn) -> np.ndarray:
        """Catchment-mean rain convolved with a response kernel: resp[h] = sum_j rain[h-j] k[j], at each t."""
        grid, h0 = self._rain_window(c.t, kernel_hours)
        out = np.zeros(c.n)
        for ent in np.unique(c.e).tolist():
            rows = np.flatnonzero(c.e == ent)
            rain = grid[self._catchment_areas(ent)].mean(axis=0)
            kernel = kernel_fn(ent, np.arange(kernel_hours, dtype=np.float64))
            resp = np.convolve(rain, kernel)[: len(rain)]
            tt = c.t[rows] / 3600
            hc = np.floor(tt).astype(np.int64) - h0
            f = tt - np.floor(tt)
            out[rows] = resp[hc] * (1 - f) + resp[np.minimum(hc + 1, len(resp) - 1)] * f
        return out

    def _temp(self, area: np.ndarray, offset: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Air temperature (°C): climate, diurnal cycle, synoptic swings, winter cold surges, summer heat."""
        _, hour, _, doy, *_ = _local(t)
        w = _wet(doy)
        clim = 23.3 - 6.8 * np.cos(2 * np.pi * (doy - 15) / 365.25)
        diurnal = 3.6 * np.cos(2 * np.pi * (hour - 14.5) / 24)
        synoptic = 1.8 * self._smooth(t, 2.5 * 86400, 31) + 0.6 * self._smooth(t, 86400, 32, self._akey[area])
        cold = -(1 - w) * 7.0 * np.clip(self._smooth(t, 5 * 86400, 33) - 0.25, 0, None) / 0.75
        heat = w * 4.5 * np.clip(self._smooth(t, 4 * 86400, 34) - 0.3, 0, None) / 0.7
        return clim + offset + diurnal + synoptic + cold + heat

    def _temp_day_matrix(self, c: _Ctx) -> tuple[np.ndarray, np.ndarray]:
        """Hourly temperatures of each reading's local day (n x 24) and the reading's local hour index."""
        day_start = c.day * 86400.0 - LOCAL_OFFSET_S
        tt = day_start[:, None] + np.arange(24)[None, :] * 3600.0
        area = np.broadcast_to(c.area[:, None], tt.shape)
        off = np.broadcast_to(c.attr("temp_offset", 0.0)[:, None], tt.shape)
        temps = self._temp(area.ravel(), off.ravel(), tt.ravel()).reshape(tt.shape)
        rain = self._rain_sum(area.ravel(), tt.ravel(), 3).reshape(tt.shape)
        return temps - 0.35 * np.minimum(rain, 12), np.floor(c.hour).astype(np.int64)

    def _tet_window(self, day: np.ndarray, before: int, after: int) -> np.ndarray:
        tet = holidays.days_from_tet(day)
        return (tet >= -before) & (tet <= after)

    def _traffic_demand(self, c: _Ctx) -> np.ndarray:
        """Demand relative to the weekday peak (≈1 at 8:00 and 18:00 Mon–Fri, ≈0.07 at night)."""
        h, dow = c.hour, c.dow
        daytime = 0.5 / (1 + np.exp(-(h - 6.0) * 2)) / (1 + np.exp((h - 21.5) * 1.5))
        am, pm = _bump(h, 7.9, 0.75), _bump(h, 17.9, 0.85)
        weekday = dow < 5
        am_w = np.where(weekday, 0.43, np.where(dow == 5, 0.2, 0.08))
        pm_w = np.where(weekday, 0.43, np.where(dow == 5, 0.28, 0.25))
        # Public holidays run like a Sunday. Tết: home-going traffic surges the week before (shopping, workers of
        # the industrial parks leaving), the roads empty over the break, and the return surges after it.
        holiday = holidays.is_holiday(c.day)
        am_w = np.where(holiday, 0.08, am_w)
        pm_w = np.where(holiday, 0.25, pm_w)
        tet = holidays.days_from_tet(c.day)
        factor = np.select([(tet >= -7) & (tet <= -3), (tet >= -2) & (tet <= 3), (tet >= 4) & (tet <= 7)],
                           [1.35, 0.5, 1.3], 1.0)
        return (0.07 + daytime + am_w * am + pm_w * pm) * factor

    def _lychee_curve(self, doy: np.ndarray, year: np.ndarray, early: np.ndarray) -> tuple[np.ndarray, ...]:
        """Season shape (0..1), in-season flag and yearly yield/price factors for the lychee models."""
        shift = np.round(np.clip(4 * self._n(41, year), -8, 8))
        centre = np.where(early > 0, 152, 172) + shift
        width = np.where(early > 0, 8, 13)
        lo = np.where(early > 0, 140, 146) + shift
        hi = np.where(early > 0, 176, 207) + shift
        in_season = (doy >= lo) & (doy <= hi)
        shape = np.where(in_season, _bump(doy, centre, width), 0.0)
        yield_f = 0.55 + 0.8 * self._u(42, year)
        return shape, in_season, yield_f, hi

    def _counts(self, c: _Ctx, lam: np.ndarray, salt: int) -> np.ndarray:
        return _poisson(lam, self._u(salt, c.ek, c.t))

    def _online_rate(self, c: _Ctx, salt: int) -> np.ndarray:
        """Share of cameras online: a few faulty units per 6-hour block, rare cluster outages, storms."""
        n = np.maximum(1, c.attr("cameras", 12))
        rain_h = self._rain_sum(c.area, c.t, 1)
        faulty = _poisson(0.06 + 0.03 * rain_h, self._u(salt, c.ek, np.floor(c.t / 21600)))
        outage = self._u(salt + 1, c.ek, np.floor(c.t / 3600)) < 0.003
        lost = np.ceil(n * (0.3 + 0.7 * self._u(salt + 2, c.ek, np.floor(c.t / 3600))))
        faulty = faulty + np.where(outage, lost, 0)
        return 100 * (n - np.minimum(faulty, n)) / n

    # ---------------------------------------------------------------- education

    def _m_attendance_rate(self, c: _Ctx) -> np.ndarray:
        # Taken at the morning roll call and reported through school hours on school days only: no reading at
        # night, on Sundays, holidays or in the summer break (holidays.SCHOOL_HOURS).
        open_now = holidays.is_school_day(c.day) & (c.hour >= holidays.SCHOOL_HOURS[0]) & (
            c.hour < holidays.SCHOOL_HOURS[1])
        morning = c.day * 86400.0 - LOCAL_OFFSET_S + 7 * 3600
        rain = self._rain_sum(c.area, morning, 12)
        value = (96.4 + 0.8 * self._n(51, c.ek) + 0.9 * self._n(52, c.ek, c.day)
                 - 1.3 * (c.dow == 5) - 0.5 * (c.dow == 0) - np.minimum(6.0, 0.05 * rain))
        return np.where(open_now, value, np.nan)

    def _m_students_enrolled(self, c: _Ctx) -> np.ndarray:
        school_year = c.year - (c.month < 9)
        return np.round(c.attr("students", 800) * (1 + 0.015 * self._n(53, c.ek, school_year)))

    def _m_student_teacher_ratio(self, c: _Ctx) -> np.ndarray:
        teachers = np.maximum(1, c.attr("teachers", 40))
        return self._m_students_enrolled(c) / teachers

    def _m_health_screen_flag_pct(self, c: _Ctx) -> np.ndarray:
        term = c.year * 2 + (c.month >= 9)
        return np.maximum(2.0, 14 + 4 * self._n(54, c.ek, term))

    def _m_chronic_absence_pct(self, c: _Ctx) -> np.ndarray:
        week = (c.day + 3) // 7
        tet = self._tet_window(c.day, 10, 14)
        return np.maximum(0.5, 6.0 + 1.6 * self._n(55, c.ek, week) + 2.5 * tet)

    def _m_csdl_sync_rate(self, c: _Ctx) -> np.ndarray:
        return np.minimum(100.0, 98.6 - 1.2 * np.abs(self._n(56, c.ek, c.day)))

    def _m_schools_closed(self, c: _Ctx) -> np.ndarray:
        schools = c.attr("schools", 60)
        rain = self._rain_sum(c.area, c.t, 24)
        flood = np.maximum(0, rain - 90) / 15 * schools / 40
        temps, _ = self._temp_day_matrix(c)
        cold = np.where(temps.mean(axis=1) < 10, schools / 3, 0)  # severe cold: primary schools stay closed
        return np.where(holidays.is_school_day(c.day), np.floor(flood + cold), 0)

    def _m_national_standard_pct(self, c: _Ctx) -> np.ndarray:
        return np.minimum(100.0, 90 + 5 * self._u(57, c.ek) + 0.6 * np.maximum(0, c.year - 2021))

    # ---------------------------------------------------------------- health

    def _tet_care(self, c: _Ctx) -> np.ndarray:
        """Hospital load around Tết relative to normal: patients go home before the holiday (a dip to about −25 %
        on mùng 1), deferred care, injuries and festive illness bring a surge (+15 %) in the two weeks after."""
        tet = holidays.days_from_tet(c.day).astype(float)
        dip = -0.25 * np.exp(-0.5 * (tet / 2.5) ** 2) * (tet <= 4)
        surge = 0.15 * _bump(tet, 10, 4) * (tet > 3)
        return dip + surge

    def _m_bed_occupancy(self, c: _Ctx) -> np.ndarray:
        # Slow waves (per hospital and province-wide) make occupancy drift toward stress for days at a time.
        given = c.attr("base_occupancy", -1)
        base = np.where(given > 0, given, 72 + 14 * self._u(61, c.ek))
        winter = 4.5 * np.cos(2 * np.pi * (c.doy - 15) / 365.25)
        drift = 6.5 * self._smooth(c.t, 9 * 86400, 62, c.ek) + 4.0 * self._smooth(c.t, 14 * 86400, 63)
        weekly = -3.0 * (c.dow == 6) - 1.5 * (c.dow == 5) + 1.0 * (c.dow <= 1)
        daily = -2.5 * _bump(c.hour, 11, 2) + 1.0 * _bump(c.hour, 18, 2)
        level = base + winter + drift + weekly + daily + 0.4 * self._n(64, c.ek, c.t)
        return level * (1 + self._tet_care(c))

    def _m_inpatients(self, c: _Ctx) -> np.ndarray:
        return np.round(self._m_bed_occupancy(c) / 100 * c.attr("beds", 200))

    @staticmethod
    def _clinic_hours(hour: np.ndarray, dow: np.ndarray) -> np.ndarray:
        """Outpatient clinics: 07:00–17:00 Monday–Friday, Saturday morning, with a morning peak."""
        open_ = ((hour >= 7) & (hour < 17) & (dow < 5)) | ((hour >= 7) & (hour < 11.5) & (dow == 5))
        return open_ * (0.6 + _bump(hour, 9, 1.5))

    def _m_outpatient_visits(self, c: _Ctx) -> np.ndarray:
        # About 1.3 examinations a day per planned bed (a provincial hospital with 1,000 beds sees ~1,300 a day);
        # none on holidays; fewer before Tết, more after it.
        per_day = 1.3 * c.attr("beds", 200) * (1 + 1.5 * self._tet_care(c))
        profile = self._clinic_hours(c.hour, c.dow) * ~holidays.is_holiday(c.day)
        mean_open = float(np.mean([self._clinic_hours(np.arange(24) + 0.5, np.full(24, d)).sum() for d in range(7)]))
        return _poisson(per_day * profile / mean_open, self._u(200, c.ek, c.t))

    def _m_referrals_out(self, c: _Ctx) -> np.ndarray:
        # ~1 referral a day per 50 beds at a district centre, fewer at the provincial hospital (the top of the line).
        rate = np.where(c.attr("base_occupancy", -1) > 0, 0.005, 0.02) * c.attr("beds", 200)
        profile = 0.3 + self._clinic_hours(c.hour, c.dow)
        mean_day = float(np.mean([(0.3 + self._clinic_hours(np.arange(24) + 0.5, np.full(24, d))).sum()
                                  for d in range(7)]))
        return _poisson(rate * profile / mean_day, self._u(201, c.ek, c.t))

    def _m_inpatient_deaths(self, c: _Ctx) -> np.ndarray:
        # ~1 death a day per 700 occupied beds (in-hospital mortality well under 1 % of admissions).
        occupied = self._m_bed_occupancy(c) / 100 * c.attr("beds", 200)
        return _poisson(occupied / 700 / 24, self._u(202, c.ek, c.t))

    def _m_calls_115(self, c: _Ctx) -> np.ndarray:
        def profile(hour, dow):
            return 1.0 + 1.2 * _bump(hour, 10, 3) + 1.0 * _bump(hour, 20, 3)
        lam = self._per_hour(c, "calls_115", profile(c.hour, c.dow), self._daily_mean(profile))
        return _poisson(lam * (1 + 0.5 * self._tet_care(c).clip(0)), self._u(203, c.ek, c.t))

    def _m_ed_occupancy(self, c: _Ctx) -> np.ndarray:
        # ED arrivals peak mid-morning and evening; exit block from full wards keeps patients in the ED.
        clinic = 22 * _bump(c.hour, 10, 2.0) + 16 * _bump(c.hour, 20, 2.0) - 12 * _bump(c.hour, 4, 2.5)
        weekend = -5.0 * (c.dow >= 5)
        block = 0.7 * np.maximum(0, self._m_bed_occupancy(c) - 85)
        return (52 + 10 * self._u(65, c.ek) + clinic + weekend + block
                + 6 * self._smooth(c.t, 7200, 66, c.ek) + 3 * self._n(67, c.ek, c.t))

    def _m_ed_los_p90(self, c: _Ctx) -> np.ndarray:
        ed = self._m_ed_occupancy(c)
        bed = self._m_bed_occupancy(c)
        return (2.1 + 0.025 * np.maximum(0, ed - 60) + 0.06 * np.maximum(0, bed - 85)
                + 0.2 * self._smooth(c.t, 6 * 3600, 68, c.ek) + 0.08 * self._n(69, c.ek, c.t))

    def _m_lwbs_rate(self, c: _Ctx) -> np.ndarray:
        ed = self._m_ed_occupancy(c)
        return 1.1 + 0.06 * np.maximum(0, ed - 75) + 0.4 * np.abs(self._n(70, c.ek, c.t))

    def _m_dengue_cases(self, c: _Ctx) -> np.ndarray:
        # Northern dengue season peaks Sep–Nov; some years bring an epidemic wave. Rolling 7-day count, daily.
        season = _bump(c.doy.astype(float), 285, 35)
        wave = 1 + 0.8 * self._smooth(c.day.astype(float), 20, 71)
        lam = self._area_pop[c.e] * (0.25 + 5.0 * season * wave)
        return _poisson(lam, self._u(72, c.ek, c.day))

    def _m_hfmd_cases(self, c: _Ctx) -> np.ndarray:
        # Hand-foot-mouth disease in the north peaks twice a year (March–May and September–November), among
        # small children: a rolling 7-day count, updated daily.
        season = _bump(c.doy.astype(float), 110, 25) + _bump(c.doy.astype(float), 290, 30)
        lam = self._area_pop[c.e] * (0.3 + 4.0 * season)
        return _poisson(lam, self._u(204, c.ek, c.day))

    def _m_notifiable_outbreaks(self, c: _Ctx) -> np.ndarray:
        block = c.day // 5
        active = self._u(73, c.ek, block) < 0.012
        extra = self._u(74, c.ek, block) < 0.2
        return np.where(active, 1 + extra, 0)

    def _m_epi_coverage(self, c: _Ctx) -> np.ndarray:
        return np.minimum(100.0, 97.2 + 1.0 * self._n(75, c.ek, c.year * 12 + c.month))

    def _m_pm25(self, c: _Ctx) -> np.ndarray:
        # Dry-season (winter) haze, morning and evening traffic/cooking peaks, rain washout, site factor.
        season = 14 + 30 * (1 - _wet(c.doy))
        diurnal = 1 + 0.22 * _bump(c.hour, 8, 1.5) + 0.3 * _bump(c.hour, 21, 2) - 0.2 * _bump(c.hour, 14, 2)
        episode = np.exp(0.35 * self._smooth(c.t, 3 * 86400, 81) + 0.15 * self._smooth(c.t, 86400, 82, c.ek))
        washout = np.exp(-0.04 * self._rain_sum(c.area, c.t, 6))
        noise = 1 + 0.05 * self._n(83, c.ek, c.t)
        return np.maximum(1.0, season * diurnal * episode * washout * c.attr("pollution", 1.0) * noise)

    def _m_pm10(self, c: _Ctx) -> np.ndarray:
        return self._m_pm25(c) * (1.7 + 0.15 * self._smooth(c.t, 86400, 84, c.ek)) + 5

    def _m_vn_aqi(self, c: _Ctx) -> np.ndarray:
        # The hourly VN_AQI as the project computes it (ioc.vn_aqi, Decision 1459/QĐ-TCMT): PM2.5 and PM10 as
        # the NowCast of the last 12 hourly means, the index the largest rounded sub-index.
        hours = np.floor(c.t / 3600)[:, None] * 3600 - 3600 * np.arange(vn_aqi.NOWCAST_HOURS)[None, ::-1]
        ents = np.repeat(c.e, vn_aqi.NOWCAST_HOURS)
        past = _Ctx(self, ents, hours.ravel(), np.zeros(ents.size, dtype=np.int64))
        pm25 = self._m_pm25(past).reshape(hours.shape).tolist()
        pm10 = self._m_pm10(past).reshape(hours.shape).tolist()
        return np.array([vn_aqi.aqi({"pm25": vn_aqi.nowcast(a), "pm10": vn_aqi.nowcast(b)})
                         for a, b in zip(pm25, pm10, strict=True)], dtype=float)

    # ---------------------------------------------------------------- traffic

    def _vc(self, c: _Ctx) -> np.ndarray:
        demand = self._traffic_demand(c)
        shape, *_ = self._lychee_curve(c.doy, c.year, np.zeros(c.n))
        lychee = 0.12 * c.attr("lychee_route", 0) * (shape > 0.05) * _bump(c.hour, 15, 4)
        noise = 1 + 0.05 * self._smooth(c.t, 1800, 91, c.ek) + 0.02 * self._n(92, c.ek, c.t)
        rain_h = self._rain_sum(c.area, c.t, 1)
        capacity = 1 - np.minimum(0.25, 0.02 * rain_h)  # wet roads and poor visibility cut capacity
        return c.attr("peak_vc", 0.8) * (demand + lychee) * noise / capacity

    def _m_vc_ratio(self, c: _Ctx) -> np.ndarray:
        return self._vc(c)

    def _m_congestion_index(self, c: _Ctx) -> np.ndarray:
        # BPR-style travel-time curve calibrated so v/c 0.85 ≈ 30% and 1.0 ≈ 60% extra time (the bands).
        vc = self._vc(c)
        incident = self._u(93, c.ek, np.floor(c.t / 1800)) < 0.008
        return 60 * vc**4 + np.where(incident, 25 + 30 * self._u(94, c.ek, np.floor(c.t / 1800)), 0)

    def _m_speed_ratio(self, c: _Ctx) -> np.ndarray:
        free_flow_share = 1 / (1 + self._m_congestion_index(c) / 100)
        return np.minimum(1.05, free_flow_share * (1 + 0.015 * self._n(95, c.ek, c.t)))

    def _m_heavy_vehicle_volume(self, c: _Ctx) -> np.ndarray:
        # Freight runs more evenly over the day than cars; QL31 fills with lychee trucks on season evenings.
        profile = 0.45 + 0.55 * self._traffic_demand(c) + 0.25 * _bump(c.hour, 1, 3)
        shape, *_ = self._lychee_curve(c.doy, c.year, np.zeros(c.n))
        lychee = 1 + 0.9 * c.attr("lychee_route", 0) * shape * (0.5 + _bump(c.hour, 20, 3))
        return c.attr("trucks", 100) * profile * lychee * (1 + 0.08 * self._n(96, c.ek, c.t))

    def _m_road_accidents(self, c: _Ctx) -> np.ndarray:
        # Accidents follow traffic (rush hours, the Tết surges; the demand's daily mean is about 0.45) and rain;
        # the province's total is population-based (PER_100K_DAY).
        demand = self._traffic_demand(c)
        lam = self._per_hour(c, "road_accidents", demand, 0.45) * (1 + 0.05 * self._rain_sum(c.area, c.t, 1))
        return self._counts(c, lam, 97)

    def _m_road_accident_deaths(self, c: _Ctx) -> np.ndarray:
        # Victims of the same accidents (zero without an accident): about 0.45 deaths and 0.8 injured per accident.
        return _poisson(0.45 * self._m_road_accidents(c), self._u(205, c.ek, c.t))

    def _m_road_accident_injuries(self, c: _Ctx) -> np.ndarray:
        return _poisson(0.8 * self._m_road_accidents(c), self._u(206, c.ek, c.t))

    def _m_flooded_road_points(self, c: _Ctx) -> np.ndarray:
        rain6 = self._rain_sum(c.area, c.t, 6)
        return np.floor(np.maximum(0, rain6 - 35) / 12 * 2 * c.attr("flood_prone", 0.3))

    def _m_camera_online_rate(self, c: _Ctx) -> np.ndarray:
        return self._online_rate(c, 110)

    def _m_camera_violations(self, c: _Ctx) -> np.ndarray:
        lam = np.maximum(1, c.attr("cameras", 12)) * 1.1 * self._traffic_demand(c)
        return self._counts(c, lam, 113)

    # ---------------------------------------------------------------- agriculture and hydro-met

    def _m_rainfall_24h(self, c: _Ctx) -> np.ndarray:
        return self._rain_sum(c.area, c.t, 24)

    def _m_rainfall_1h(self, c: _Ctx) -> np.ndarray:
        return self._rain_sum(c.area, c.t, 1)

    def _m_temp_daily_mean(self, c: _Ctx) -> np.ndarray:
        temps, _ = self._temp_day_matrix(c)
        return temps.mean(axis=1)  # the day's mean as estimated (bulletin style), stable through the day

    def _m_temp_max(self, c: _Ctx) -> np.ndarray:
        temps, hour = self._temp_day_matrix(c)
        upto = np.arange(24)[None, :] <= hour[:, None]
        return np.where(upto, temps, -np.inf).max(axis=1)  # highest hourly value since local midnight

    def _m_disaster_risk_level(self, c: _Ctx) -> np.ndarray:
        # Decision 18/2021/QĐ-TTg, as far as the province's stations need it (the catalog's source quotes the
        # articles). A river gauge, read as one of flood zone 1 (Article 45): BĐ1 to below BĐ3 level 1, BĐ3 to
        # below BĐ3 + 1.0 m level 2, and level 3 above that, where clause 2 ends. A rain station: flash flood and
        # landslide level 1 from 100 mm in 24 hours (Article 46, a low- or medium-risk area of zone 1); the
        # higher levels depend on area risk classes the simulator does not model, so it never claims them.
        gauge = np.array([self.entities[i].kind == "river_gauge" for i in c.e.tolist()], dtype=bool)
        out = np.zeros(c.n)
        if (~gauge).any():
            rain = self._rain_sum(c.area[~gauge], c.t[~gauge], 24)
            out[~gauge] = (rain >= 100).astype(float)
        if gauge.any():
            sub = _Ctx(self, c.e[gauge], c.t[gauge], c.slot[gauge])
            stage = self._m_river_level(sub)
            bd1, bd3 = sub.attr("bd1", 4.3), sub.attr("bd3", 6.3)
            out[gauge] = (stage >= bd1).astype(float) + (stage >= bd3) + (stage >= bd3 + 1.0)
        return out

    def _m_river_level(self, c: _Ctx) -> np.ndarray:
        # Catchment rain reaches the gauge through a unit hydrograph peaking `lag_h` hours later and
        # receding over days; the seasonal base flow rises in the rainy season.
        lag = self._attr("lag_h", 12.0)

        def kernel(ent: int, j: np.ndarray) -> np.ndarray:
            tau = max(2.0, float(lag[ent]))
            return (j / tau) * np.exp(1 - j / tau)

        response = self._catchment_response(c, 120, kernel)
        bd1 = c.attr("bd1", float("nan"))
        bd3 = c.attr("bd3", float("nan"))
        ref = np.where(np.isfinite(bd1), bd1, np.where(np.isfinite(bd3), bd3 - 2.0, 4.3))
        base = ref - 3.0 + 1.2 * _wet(c.doy) + 0.15 * self._smooth(c.t, 5 * 86400, 121, c.ek)
        return base + c.attr("rise_per_mm", 0.02) * response + 0.01 * self._n(122, c.ek, c.t)

    def _m_humidity(self, c: _Ctx) -> np.ndarray:
        # Relative humidity (%): highest before dawn, lowest mid-afternoon (the inverse of temperature), moister
        # in the rainy season, drier in north-east monsoon cold surges, near saturation while it rains.
        w = _wet(c.doy)
        diurnal = 10 * np.cos(2 * np.pi * (c.hour - 4.5) / 24)
        dry_surge = -10 * (1 - w) * np.clip(self._smooth(c.t, 5 * 86400, 33) - 0.25, 0, None) / 0.75
        rain = np.minimum(18.0, 4.0 * self._rain_sum(c.area, c.t, 3))
        value = (76 + 6 * w + diurnal + dry_surge + rain + 5 * self._smooth(c.t, 2 * 86400, 125, c.ek)
                 + 1.5 * self._n(126, c.ek, c.t))
        return np.clip(value, 25.0, 100.0)

    def _m_river_discharge(self, c: _Ctx) -> np.ndarray:
        # Discharge follows the gauge's level through a rating curve Q = Q3 * ((h - h0) / (BD3 - h0))^2, h0 a
        # zero-flow stage below the dry-season level; Q3 (attr discharge_bd3, m³/s) is the flow at alarm level 3.
        level = self._m_river_level(c)
        bd1 = c.attr("bd1", float("nan"))
        bd3 = c.attr("bd3", float("nan"))
        ref = np.where(np.isfinite(bd1), bd1, np.where(np.isfinite(bd3), bd3 - 2.0, 4.3))
        top = np.where(np.isfinite(bd3), bd3, ref + 2.0)
        h0 = ref - 3.5
        stage = np.maximum(0.0, level - h0) / np.maximum(0.5, top - h0)
        return c.attr("discharge_bd3", 1500.0) * stage**2

    def _m_reservoir_level_pct(self, c: _Ctx) -> np.ndarray:
        # Storage is low at the end of the dry season (Apr–May), high after the rains (Sep–Oct); big storms
        # add several points over the following days.
        response = self._catchment_response(c, 480, lambda ent, j: np.exp(-j / 200.0))
        base = 69.5 + 17.5 * np.sin(2 * np.pi * (c.doy - 190) / 365.25)
        return base + 0.05 * response + 1.5 * self._smooth(c.t, 10 * 86400, 131, c.ek)

    def _m_lychee_harvest(self, c: _Ctx) -> np.ndarray:
        early = c.attr("lychee_early", 0)
        shape, _, yield_f, _ = self._lychee_curve(c.doy, c.year, early)
        rain_day = self._rain_sum(c.area, c.t, 24)
        noise = np.maximum(0, 1 + 0.12 * self._n(141, c.ek, c.day))
        harvest = c.attr("lychee_peak_t", 0) * yield_f * shape * noise * np.where(rain_day > 30, 0.6, 1.0)
        return np.where(harvest >= 0.5, harvest, 0.0)

    def _m_lychee_price(self, c: _Ctx) -> np.ndarray:
        # Prices open high, fall as the main harvest peaks, recover at the tail; off-season the latest
        # season's closing quote is repeated.
        early = c.attr("lychee_early", 0)
        shape, in_season, _, hi = self._lychee_curve(c.doy, c.year, np.zeros(c.n))
        before = (~in_season) & (c.doy < hi)
        qyear = np.where(before, c.year - 1, c.year)
        qdoy = np.where(in_season, c.doy, self._lychee_curve(c.doy, qyear, np.zeros(c.n))[3])
        qshape = np.where(in_season, shape, self._lychee_curve(qdoy, qyear, np.zeros(c.n))[0])
        qday = np.where(in_season, c.day, c.day - np.where(before, c.doy + 365 - qdoy, c.doy - qdoy))
        level = 30000 * np.exp(0.2 * self._n(151, qyear))
        price = level * (1.3 - 0.6 * qshape) * (1 + 0.06 * self._n(152, qday)) * (1 + 0.1 * early)
        return price * (1 + 0.03 * self._n(153, c.ek, qday))

    def _m_animal_disease_outbreaks(self, c: _Ctx) -> np.ndarray:
        block = c.day // 7
        active = self._u(161, c.ek, block) < 0.04
        spread = self._u(162, c.ek, block) < 0.25
        return np.where(active, 1 + spread * (1 + np.floor(3 * self._u(163, c.ek, block))), 0)

    # ---------------------------------------------------------------- safety and security

    def _m_field_reports_on_time(self, c: _Ctx) -> np.ndarray:
        monday_backlog = -1.5 * (c.dow == 0) * _bump(c.hour, 10, 3)
        return np.minimum(100.0, 97.4 + 1.0 * self._smooth(c.t, 8 * 3600, 171, c.ek) + monday_backlog
                          + 0.3 * self._n(172, c.ek, c.t))

    def _m_citizen_satisfaction(self, c: _Ctx) -> np.ndarray:
        return np.minimum(100.0, 93.0 + 1.8 * self._n(173, c.ek, (c.day + 3) // 7))

    def _dossier_volume(self, c: _Ctx, salt: int) -> np.ndarray:
        """Dossiers received in the hour: office hours (07:30–17:00 Monday–Friday, Saturday morning at the
        province's centre), none on holidays; the province's centre ~400 a day, a district's ~60, a commune's ~20."""
        level = np.array([str(self.entities[i].attrs.get("level", "district")) for i in c.e.tolist()])
        per_day = np.select([level == "province", level == "commune"], [400.0, 20.0], 60.0)
        saturday = (level == "province") & (c.dow == 5) & (c.hour >= 7.5) & (c.hour < 11.5)
        weekday = (c.dow < 5) & (c.hour >= 7.5) & (c.hour < 17)
        open_ = (weekday | saturday) & ~holidays.is_holiday(c.day)
        month_end = 1 + 0.3 * (c.dom >= 26)
        return _poisson(per_day / 9.5 * open_ * month_end * (1 + 0.6 * _bump(c.hour, 9.5, 1.2)) / 1.3,
                        self._u(salt, c.ek, c.t))

    def _m_dossiers_received(self, c: _Ctx) -> np.ndarray:
        return self._dossier_volume(c, 174)

    def _m_dossiers_on_time(self, c: _Ctx) -> np.ndarray:
        # Dossiers resolved in the hour track those received (most are settled within days); ~98 % on time.
        resolved = self._dossier_volume(c, 176)
        return resolved - self._m_dossiers_late(c)

    def _m_dossiers_late(self, c: _Ctx) -> np.ndarray:
        resolved = self._dossier_volume(c, 176)
        late_share = 0.015 + 0.02 * (c.dom >= 26)
        return np.minimum(resolved, _poisson(resolved * late_share, self._u(177, c.ek, c.t)))

    def _online(self, c: _Ctx) -> tuple[np.ndarray, np.ndarray]:
        """Of the dossiers received: filed online end to end (~30 %, rising with the years) and partly online
        (~40 %); the rest at the counter."""
        received = self._m_dossiers_received(c)
        years = np.clip(c.year - 2024, 0, 5)
        full = _poisson(received * (0.30 + 0.04 * years), self._u(178, c.ek, c.t))
        full = np.minimum(full, received)
        partial = np.minimum(received - full, _poisson(received * 0.40, self._u(179, c.ek, c.t)))
        return full, partial

    def _m_dossiers_online_full(self, c: _Ctx) -> np.ndarray:
        return self._online(c)[0]

    def _m_dossiers_online_partial(self, c: _Ctx) -> np.ndarray:
        return self._online(c)[1]

    def _m_info_security_alerts(self, c: _Ctx) -> np.ndarray:
        return self._counts(c, np.full(c.n, 0.01), 175)

    def _m_calls_113(self, c: _Ctx) -> np.ndarray:
        def profile(hour, dow):
            return 1.0 + 0.8 * _bump(hour, 11, 3) + 1.6 * _bump(hour, 21, 2.5) + 0.3 * (dow >= 5)
        lam = self._per_hour(c, "calls_113", profile(c.hour, c.dow), self._daily_mean(profile))
        return _poisson(lam * (1 + 0.03 * self._rain_sum(c.area, c.t, 1)), self._u(181, c.ek, c.t))

    def _m_calls_114(self, c: _Ctx) -> np.ndarray:
        # Fire and rescue calls: the fires and rescues of the hour, reported by a few callers each, plus false alarms.
        events = self._m_fire_incidents(c) + self._m_rescue_incidents(c)
        false_alarms = _poisson(self._per_hour(c, "calls_114", np.ones(c.n), 1.0), self._u(186, c.ek, c.t))
        return events * (1 + np.floor(3 * self._u(187, c.ek, c.t))) + false_alarms

    def _m_security_incidents(self, c: _Ctx) -> np.ndarray:
        def profile(hour, dow):
            return 0.4 + _bump(np.where(hour < 12, hour + 24, hour), 22.5, 2.5) + 0.3 * (dow >= 5)
        lam = self._per_hour(c, "security_incidents", profile(c.hour, c.dow), self._daily_mean(profile))
        return self._counts(c, lam, 182)

    def _m_fire_incidents(self, c: _Ctx) -> np.ndarray:
        dry = (1 + 1.5 * (1 - _wet(c.doy))) / 1.75
        tet = np.where(self._tet_window(c.day, 3, 10), 2.5, 1.0)  # incense, firecrackers, heaters
        return self._counts(c, self._per_hour(c, "fire_incidents", dry * tet, 1.0), 183)

    def _m_rescue_incidents(self, c: _Ctx) -> np.ndarray:
        # Drownings in the summer, traffic entrapments, collapses: more in the rainy season.
        wet = 0.5 + _wet(c.doy)
        return self._counts(c, self._per_hour(c, "rescue_incidents", wet, 1.0), 188)

    def _m_fire_response_time(self, c: _Ctx) -> np.ndarray:
        return (9 + 2.5 * self._smooth(c.t, 86400, 184, c.ek) + 3 * self._traffic_demand(c)
                + 0.8 * self._n(185, c.ek, c.t))

    def _m_security_camera_online_rate(self, c: _Ctx) -> np.ndarray:
        return self._online_rate(c, 190)

    # ---------------------------------------------------------------- fallback

    def _m_generic(self, c: _Ctx, metric: Metric) -> np.ndarray:
        """A metric without a dedicated model: a noisy value on the healthy side of its bands."""
        lo, hi = metric.valid_range
        mk = _skey(metric.key)
        if metric.thresholds is None:
            base, amp = lo + 0.3 * (hi - lo), 0.05 * (hi - lo)
        else:
            w = metric.thresholds.warning
            base = (lo + w) / 2 if metric.thresholds.direction == "above" else (w + hi) / 2
            amp = 0.3 * abs(w - base)
        noise = 0.2 * amp * self._n(198, c.ek, mk, c.t)
        return base + amp * self._smooth(c.t, 3600, 199, c.ek, mk) + noise


def _epoch(value: datetime) -> float:
    if value.tzinfo is None:
        raise ValueError("simulator times must be timezone-aware")
    return value.timestamp()
