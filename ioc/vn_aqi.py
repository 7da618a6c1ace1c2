"""The Vietnamese air quality index VN_AQI, per Decision 1459/QĐ-TCMT (Vietnam Environment Administration,
12 Nov 2019, "Hướng dẫn kỹ thuật tính toán và công bố chỉ số chất lượng không khí Việt Nam"). Pure functions.

What the decision prescribes (section numbers of its annex):

- 2.1.b  Inputs SO2, CO, NO2, O3, PM10, PM2.5; the index is the largest sub-index; at least one of PM10, PM2.5
  is mandatory (otherwise there is no index: `aqi()` returns None).
- 2.2.1.a Hourly index: PM2.5 and PM10 enter as their NowCast over the last 12 hourly means c1..c12 (c1 = the
  current hour): w* = Cmin/Cmax over the 12 values; w = 1/2 if w* <= 1/2, else w = w*;
  NowCast = sum(w^(i-1) * ci) / sum(w^(i-1)); a missing ci gets weight 0; NowCast exists only if at least
  2 of c1, c2, c3 exist. (For w = 1/2 the decision writes sum((1/2)^i * ci) without the denominator; that is
  the same weighted mean up to a factor 1 - 2^-12 when all 12 hours exist, and only the normalised form stays a
  mean when hours are missing, so the normalised form is used for both cases.)
- 2.2.1.b Sub-index by linear interpolation between the breakpoints of Table 2 (Bảng 2):
  AQIx = (I[i+1] - I[i]) / (BP[i+1] - BP[i]) * (Cx - BP[i]) + I[i]; O3 uses the 1-hour column for the hourly
  index; SO2, CO, NO2 and O3 use the hour's mean, PM the NowCast. Table 2's last level reads "≥", so a
  concentration at or above the top breakpoint gives 500 (no extrapolation).
- 2.2.1.c AQI = max of the sub-indices, "rounded to an integer" (làm tròn thành số nguyên): half-up rounding is
  used. Rounding commutes with max, so the sub-indices may be rounded first or last.
- 2.2.2 Daily index (AQI ngày): PM2.5 and PM10 as their 24-hour mean (the hourly means of hours ending 01:00 …
  24:00); SO2, NO2 and CO as the day's highest hourly mean; O3 as the larger of the sub-index of the day's highest
  hourly mean (1-hour column) and of the day's highest 8-hour mean (8-hour column; an 8-hour mean is the mean of
  8 consecutive hourly means, 24 of them per day, the first reaching back 7 hours into the day before). Above
  400 µg/m³ the 8-hour column has no level: only the 1-hour sub-index counts then. The daily index is the largest
  sub-index, rounded. Worked example (2.3.c): O3 8h 89.3 → 45, O3 1h 114.6 → 36, NO2 130.8 → 65, PM2.5 55.7 → 110.
- 1.4 / Table 1 (Bảng 1) bands: 0–50 Tốt, 51–100 Trung bình, 101–150 Kém, 151–200 Xấu, 201–300 Rất xấu,
  301–500 Nguy hại (RGB 0;228;0 · 255;255;0 · 255;126;0 · 255;0;0 · 143;63;151 · 126;0;35).

Table 2, µg/m³ for every pollutant (CO too: 10,000 µg/m³ = 10 mg/m³), I = 0/50/100/150/200/300/400/500:

    PM2.5    0   25    50    80   150   250   350   500
    PM10     0   50   150   250   350   420   500   600
    O3 (1h)  0  160   200   300   400   800  1000  1200
    O3 (8h)  0  100   120   170   210   400     -     -
    NO2      0  100   200   700  1200  2350  3100  3850
    SO2      0  125   350   550   800  1600  2100  2630
    CO       0 10000 30000 45000 60000 90000 120000 150000

Sources (all public). The decision's PDF itself was not fetched here; it is published at
https://vea.mae.gov.vn/Data/files/QD%201459%20TCMT%20ngay%2012_11_2019%20AQI(1).pdf and announced at
https://cem.gov.vn/tin-tuc-moi-truong/ (item "tong-cuc-moi-truong-ban-hanh-huong-dan-ky-thuat-tinh-toan-va-cong-bo-
chi-so-chat-luong-khong-khi-viet-nam", domain-catalog §3.2).

  [A] github.com/qnguyenle075/hcmc-air-quality, data/processed/qd_1459_vn_aqi.md — a hand-checked transcription
      of the decision's PDF (Tables 1, 2, section 2.2 formulas, the worked examples of 2.3), and its
      src/tools/vn_aqi.py, which implements it.
  [B] a public PySpark job (code search: find_string "BP_O3_1H"), 1-hour tables for all six pollutants and the
      NowCast with the 2-of-3 rule and w = max(1/2, w*).
  [C] a public Java service `AqiCalculatorService` "VN_AQI (QĐ 1459/QĐ-TCMT)" (code search: find_string
      "AqiCalculatorService"), 1-hour tables for all six pollutants.
  [D] further public implementations that only have PM2.5/PM10 (e.g. a C# `AqiCalculator` and several Python
      scripts citing 1459) — they agree on PM2.5 and PM10.

Confirmed by ≥ 2 independent sources: every value of the table above — PM2.5 and PM10 by [A], [B], [C], [D]
(and domain-catalog §3.2); O3 (1h), NO2, SO2 and CO by [A], [B] and [C]. Disagreeing sources, not followed:
the C# `AqiCalculator` of [D] lists NO2 2340/3000/3750 and SO2 500/650/800/1060/1340 for the upper levels, and
another Python module shifts the O3 column and gives CO in mg/m³ over 8 h; both contradict [A]–[C] and the
transcribed Table 2. The NowCast rules above are from [A] and [B]. Worked examples of the decision ([A], 2.3):
NowCast 20.3 µg/m³ from the 12 sample hours; hourly sub-indices O3 136.1 → 43, PM2.5 20.3 → 41, NO2 118.7 →
59.35 (the decision prints 60: its own arithmetic gives 59.35, so 59 here); daily example 55.7 PM2.5 → 110.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

INDEX_LEVELS: tuple[int, ...] = (0, 50, 100, 150, 200, 300, 400, 500)

# Table 2 of Decision 1459/QĐ-TCMT, µg/m³, one breakpoint per index level above (1-hour O3 column).
BREAKPOINTS: dict[str, tuple[float, ...]] = {
    "pm25": (0, 25, 50, 80, 150, 250, 350, 500),
    "pm10": (0, 50, 150, 250, 350, 420, 500, 600),
    "o3": (0, 160, 200, 300, 400, 800, 1000, 1200),
    "no2": (0, 100, 200, 700, 1200, 2350, 3100, 3850),
    "so2": (0, 125, 350, 550, 800, 1600, 2100, 2630),
    "co": (0, 10_000, 30_000, 45_000, 60_000, 90_000, 120_000, 150_000),
}
POLLUTANTS: tuple[str, ...] = tuple(BREAKPOINTS)
# The 8-hour O3 column of Table 2 ends at index 300 (400 µg/m³); its levels 400 and 500 are "-".
O3_8H_BREAKPOINTS: tuple[float, ...] = (0, 100, 120, 170, 210, 400)
EIGHT_HOURS = 8
PM: tuple[str, ...] = ("pm25", "pm10")
NOWCAST_HOURS = 12


@dataclass(frozen=True)
class Band:
    key: str
    low: int
    high: int
    vi: str
    en: str
    rgb: tuple[int, int, int]


# Table 1 of the decision.
BANDS: tuple[Band, ...] = (
    Band("good", 0, 50, "Tốt", "Good", (0, 228, 0)),
    Band("moderate", 51, 100, "Trung bình", "Moderate", (255, 255, 0)),
    Band("poor", 101, 150, "Kém", "Poor", (255, 126, 0)),
    Band("bad", 151, 200, "Xấu", "Bad", (255, 0, 0)),
    Band("very_bad", 201, 300, "Rất xấu", "Very bad", (143, 63, 151)),
    Band("hazardous", 301, 500, "Nguy hại", "Hazardous", (126, 0, 35)),
)


def _value(x: object) -> float | None:
    """A usable concentration, or None for missing (None, NaN, infinite, negative, not a number)."""
    if x is None or isinstance(x, bool) or not isinstance(x, int | float):
        return None
    x = float(x)
    return x if math.isfinite(x) and x >= 0 else None


def round_half_up(x: float) -> int:
    """Round to the nearest integer, halves up (rounded at 9 decimals first so 109.49999999 counts as 109.5)."""
    return math.floor(round(x, 9) + 0.5)


def sub_index(pollutant: str, concentration: float | None) -> float | None:
    """The unrounded sub-index AQIx of one pollutant (µg/m³; PM as NowCast for the hourly index), or None."""
    bps = BREAKPOINTS.get(pollutant)
    if bps is None:
        raise ValueError(f"unknown pollutant '{pollutant}' (known: {', '.join(POLLUTANTS)})")
    c = _value(concentration)
    if c is None:
        return None
    if c >= bps[-1]:
        return float(INDEX_LEVELS[-1])
    for i in range(len(bps) - 1):
        if c <= bps[i + 1]:
            lo, hi = bps[i], bps[i + 1]
            return (INDEX_LEVELS[i + 1] - INDEX_LEVELS[i]) / (hi - lo) * (c - lo) + INDEX_LEVELS[i]
    return float(INDEX_LEVELS[-1])  # unreachable: c < bps[-1] is inside some segment


def o3_8h_sub_index(concentration: float | None) -> float | None:
    """The unrounded sub-index of an 8-hour O3 mean (µg/m³); None above 400 µg/m³, where Table 2 has no level
    and the decision counts the 1-hour sub-index only."""
    c = _value(concentration)
    if c is None or c > O3_8H_BREAKPOINTS[-1]:
        return None
    bps = O3_8H_BREAKPOINTS
    for i in range(len(bps) - 1):
        if c <= bps[i + 1]:
            return (INDEX_LEVELS[i + 1] - INDEX_LEVELS[i]) / (bps[i + 1] - bps[i]) * (c - bps[i]) + INDEX_LEVELS[i]
    return None  # unreachable: c <= 400


def max_8h_mean(hourly: Sequence[float | None]) -> float | None:
    """The day's highest 8-hour mean of O3 from hourly means in time order: 7 hours of the day before, then the
    day's 24 (31 values; fewer are used as given). Each window needs at least 6 of its 8 hours (the decision
    does not say how to treat gaps; 6 of 8 is the common 75 % rule), else it has no mean."""
    values = [_value(x) for x in hourly]
    best = None
    for end in range(EIGHT_HOURS, len(values) + 1):
        window = [v for v in values[end - EIGHT_HOURS:end] if v is not None]
        if len(window) >= 6:
            mean = sum(window) / len(window)
            best = mean if best is None else max(best, mean)
    return best


def daily_aqi(pm25_24h: float | None = None, pm10_24h: float | None = None, o3_1h_max: float | None = None,
              o3_8h_max: float | None = None, no2_1h_max: float | None = None, so2_1h_max: float | None = None,
              co_1h_max: float | None = None) -> int | None:
    """The daily VN_AQI (2.2.2): PM as 24-hour means, gases as the day's highest hourly mean, O3 also as its
    highest 8-hour mean; None when neither PM is present."""
    subs = sub_indices({"pm25": pm25_24h, "pm10": pm10_24h, "o3": o3_1h_max, "no2": no2_1h_max,
                        "so2": so2_1h_max, "co": co_1h_max})
    if not any(p in subs for p in PM):
        return None
    eight = o3_8h_sub_index(o3_8h_max)
    if eight is not None:
        subs["o3_8h"] = round_half_up(eight)
    return max(subs.values())


def daily_aqi_from_hourly(hourly: Mapping[str, Sequence[float | None]],
                          o3_previous_7h: Sequence[float | None] = ()) -> int | None:
    """The daily VN_AQI from one day's 24 hourly means per pollutant (keys of BREAKPOINTS; None = missing hour)
    and, for O3's 8-hour windows, the 7 hourly means before the day. A PM mean needs 18 of 24 hours (75 %)."""
    def mean(key: str) -> float | None:
        present = [v for v in (_value(x) for x in hourly.get(key, ())) if v is not None]
        return sum(present) / len(present) if len(present) >= 18 else None

    def peak(key: str) -> float | None:
        present = [v for v in (_value(x) for x in hourly.get(key, ())) if v is not None]
        return max(present) if present else None

    o3 = list(hourly.get("o3", ()))
    return daily_aqi(pm25_24h=mean("pm25"), pm10_24h=mean("pm10"), o3_1h_max=peak("o3"),
                     o3_8h_max=max_8h_mean([*o3_previous_7h, *o3]) if o3 else None,
                     no2_1h_max=peak("no2"), so2_1h_max=peak("so2"), co_1h_max=peak("co"))


def nowcast(values_last_12h: Sequence[float | None]) -> float | None:
    """The NowCast of PM2.5 or PM10 (µg/m³) from hourly means in time order, the LAST being the current hour.

    Only the last 12 values are used; None (or NaN) marks a missing hour. None when fewer than 2 of the 3 most
    recent hours exist.
    """
    recent = [_value(x) for x in list(values_last_12h)[-NOWCAST_HOURS:]][::-1]  # c1 = current hour first
    if sum(c is not None for c in recent[:3]) < 2:
        return None
    present = [c for c in recent if c is not None]
    c_max = max(present)
    if c_max == 0:
        return 0.0
    w_star = min(present) / c_max
    w = 0.5 if w_star <= 0.5 else w_star
    num = den = 0.0
    for i, c in enumerate(recent):
        if c is not None:
            num += w**i * c
            den += w**i
    return num / den


def sub_indices(concentrations: Mapping[str, float | None]) -> dict[str, int]:
    """Rounded sub-index of each pollutant present (keys of BREAKPOINTS; unknown keys are an error)."""
    out: dict[str, int] = {}
    for pollutant, c in concentrations.items():
        value = sub_index(pollutant, c)
        if value is not None:
            out[pollutant] = round_half_up(value)
    return out


def aqi(concentrations: Mapping[str, float | None]) -> int | None:
    """VN_AQI from concentrations in µg/m³ keyed pm25, pm10, o3, no2, so2, co.

    For the hourly index pass PM as its NowCast (see `nowcast`) and the gases as the hour's mean; the daily
    index, with O3's 8-hour rule, is `daily_aqi`.
    None when neither PM2.5 nor PM10 is present.
    """
    subs = sub_indices(concentrations)
    if not any(p in subs for p in PM):
        return None
    return max(subs.values())


def dominant(concentrations: Mapping[str, float | None]) -> str | None:
    """The pollutant with the highest sub-index (ties: the order pm25, pm10, o3, no2, so2, co), or None."""
    subs = sub_indices(concentrations)
    if not any(p in subs for p in PM):
        return None
    return max((p for p in POLLUTANTS if p in subs), key=lambda p: subs[p])


def band_of(value: float) -> Band:
    """The Table 1 band of an index value (values above 500 are hazardous)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"not a VN_AQI value: {value!r}")
    index = round_half_up(value)
    return next((b for b in BANDS if index <= b.high), BANDS[-1])


def band(value: float) -> str:
    """The band key: good, moderate, poor, bad, very_bad or hazardous."""
    return band_of(value).key


def band_name(value: float, lang: str = "vi") -> str:
    """The band's name: Tốt, Trung bình, Kém, Xấu, Rất xấu, Nguy hại (or the English name for lang='en')."""
    b = band_of(value)
    return b.en if lang == "en" else b.vi
