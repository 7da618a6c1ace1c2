"""VN_AQI per Decision 1459/QĐ-TCMT: breakpoints, interpolation, rounding, NowCast, bands (values by hand)."""

from __future__ import annotations

import math

import pytest

from ioc import vn_aqi
from ioc.vn_aqi import aqi, band, band_name, nowcast, sub_index

LEVELS = [0, 50, 100, 150, 200, 300, 400, 500]


# --------------------------------------------------------------------------- breakpoints and interpolation


@pytest.mark.parametrize("conc, expected", list(zip([0, 25, 50, 80, 150, 250, 350, 500], LEVELS, strict=True)))
def test_pm25_band_edges(conc, expected):
    assert aqi({"pm25": conc}) == expected


@pytest.mark.parametrize("conc, expected", list(zip([0, 50, 150, 250, 350, 420, 500, 600], LEVELS, strict=True)))
def test_pm10_band_edges(conc, expected):
    assert aqi({"pm10": conc}) == expected


@pytest.mark.parametrize("conc, expected", [
    (12.5, 25),    # 0–25 → 0–50: 2 per µg
    (37.5, 75),    # 25–50 → 50–100
    (65, 125),     # 50–80 → 100–150: 50/30 per µg, 15 µg in
    (115, 175),    # 80–150 → 150–200
    (200, 250),    # 150–250 → 200–300
    (300, 350),    # 250–350 → 300–400
    (425, 450),    # 350–500 → 400–500
    (55.7, 110),   # the decision's daily example: 100 + 50/30 × 5.7 = 109.5 → 110 (half up)
    (25.1, 50),    # 50.2 → 50
    (50.3, 101),   # 100 + 50/30 × 0.3 = 100.5 → 101 (half up)
])
def test_pm25_interpolation(conc, expected):
    assert aqi({"pm25": conc}) == expected


@pytest.mark.parametrize("conc, expected", [
    (25, 25), (100, 75), (200, 125), (300, 175), (385, 250), (460, 350), (550, 450),
])
def test_pm10_midpoints(conc, expected):
    assert aqi({"pm10": conc}) == expected


@pytest.mark.parametrize("pollutant, edges", [
    ("o3", [0, 160, 200, 300, 400, 800, 1000, 1200]),
    ("no2", [0, 100, 200, 700, 1200, 2350, 3100, 3850]),
    ("so2", [0, 125, 350, 550, 800, 1600, 2100, 2630]),
    ("co", [0, 10000, 30000, 45000, 60000, 90000, 120000, 150000]),
])
def test_gas_tables_one_hour(pollutant, edges):
    for conc, level in zip(edges, LEVELS, strict=True):
        assert sub_index(pollutant, conc) == pytest.approx(level)
    # with a PM present the gas decides when it is the larger sub-index
    assert aqi({"pm25": 0, pollutant: edges[3]}) == 150


def test_decision_worked_examples():
    # Section 2.3.b: O3 136.1 → 43, PM2.5 NowCast 20.3 → 41, NO2 118.7 → 59.35. The decision prints 60 for NO2,
    # but its own formula gives 59.35, so the hourly index of the example is 59 here.
    assert sub_index("o3", 136.1) == pytest.approx(42.53125)
    assert sub_index("pm25", 20.3) == pytest.approx(40.6)
    assert sub_index("no2", 118.7) == pytest.approx(59.35)
    assert vn_aqi.sub_indices({"o3": 136.1, "no2": 118.7, "pm25": 20.3}) == {"o3": 43, "no2": 59, "pm25": 41}
    assert aqi({"o3": 136.1, "no2": 118.7, "pm25": 20.3}) == 59
    # Section 2.3.c (daily): O3 8h 89.3 → 45 (8-hour table, not covered), O3 1h 114.6 → 36, NO2 130.8 → 65,
    # PM2.5 24 h 55.7 → 110; AQI 110.
    assert vn_aqi.sub_indices({"o3": 114.6, "no2": 130.8, "pm25": 55.7}) == {"o3": 36, "no2": 65, "pm25": 110}
    assert aqi({"o3": 114.6, "no2": 130.8, "pm25": 55.7}) == 110


def test_max_of_sub_indices_and_dominant():
    concentrations = {"pm25": 37.5, "pm10": 200, "o3": 250, "no2": 20, "so2": 5, "co": 400}
    # pm25 75, pm10 125, o3 100 + 50/100 × 50 = 125, no2 10, so2 2, co 2
    assert vn_aqi.sub_indices(concentrations) == {"pm25": 75, "pm10": 125, "o3": 125, "no2": 10, "so2": 2, "co": 2}
    assert aqi(concentrations) == 125
    assert vn_aqi.dominant(concentrations) == "pm10"  # tie with o3: the decision's order puts PM first
    assert aqi({"pm25": 10, "o3": 300}) == 150 and vn_aqi.dominant({"pm25": 10, "o3": 300}) == "o3"


def test_a_pm_is_required():
    assert aqi({"o3": 300, "no2": 150, "so2": 5, "co": 400}) is None
    assert aqi({}) is None
    assert aqi({"pm25": None, "pm10": math.nan, "o3": 300}) is None
    assert aqi({"pm10": 0, "o3": 300}) == 150
    assert vn_aqi.dominant({"o3": 300}) is None


def test_above_the_top_breakpoint_is_500_and_bad_inputs_are_missing():
    assert aqi({"pm25": 500}) == 500 and aqi({"pm25": 900}) == 500 and aqi({"co": 1e9, "pm10": 1}) == 500
    assert sub_index("pm25", -1) is None and sub_index("pm25", math.inf) is None and sub_index("pm25", None) is None
    with pytest.raises(ValueError, match="unknown pollutant"):
        aqi({"pm2_5": 10})


def test_rounding_is_half_up():
    assert vn_aqi.round_half_up(0.5) == 1 and vn_aqi.round_half_up(1.5) == 2 and vn_aqi.round_half_up(2.5) == 3
    assert vn_aqi.round_half_up(109.49999999999) == 110  # float noise of 109.5
    assert aqi({"pm25": 0.25}) == 1  # 0.5 → 1
    assert aqi({"pm25": 0.24}) == 0  # 0.48 → 0


# --------------------------------------------------------------------------- NowCast


SAMPLE = [26.9, 24.7, 20.5, 23.5, 19.5, 16.5, 19.0, 16.5, 20.3, 22.4, 19.6, 20.6]  # 09:00 → 20:00, section 2.3.a


def test_nowcast_worked_example():
    # w* = 16.5 / 26.9 = 0.613 > 0.5 → w = w*; the decision finds 20.3 µg/m³.
    assert round(nowcast(SAMPLE), 1) == 20.3
    w = 16.5 / 26.9
    c = SAMPLE[::-1]
    expected = sum(w**i * c[i] for i in range(12)) / sum(w**i for i in range(12))
    assert nowcast(SAMPLE) == pytest.approx(expected)


def test_nowcast_weight_floor_of_one_half():
    # w* = 37.5 / 150 = 0.25 ≤ 0.5 → w = 0.5: the current hour 150, eleven earlier hours 37.5.
    values = [37.5] * 11 + [150.0]
    expected = (150 + 37.5 * sum(0.5**i for i in range(1, 12))) / sum(0.5**i for i in range(12))
    assert nowcast(values) == pytest.approx(expected) == pytest.approx(93.7637, abs=1e-4)
    assert aqi({"pm25": nowcast(values)}) == 160  # 150 + 50/70 × 13.76 = 159.8


def test_nowcast_constant_series_and_zeros():
    assert nowcast([42.0] * 12) == pytest.approx(42.0)
    assert nowcast([0.0] * 12) == 0.0
    assert nowcast([5.0, 0.0, 0.0]) == pytest.approx(0.25 * 5 / 1.75)  # Cmin = 0 → w = 1/2; c3 = 5 weighs 1/4
    assert nowcast([30.0, 30.0]) == pytest.approx(30.0)  # fewer than 12 hours is fine


def test_nowcast_needs_two_of_the_three_latest_hours():
    assert nowcast([10.0, None, 20.0]) == pytest.approx((20 + 0.5**2 * 10) / (1 + 0.5**2))
    assert nowcast([10.0] * 10 + [None, 20.0]) is not None
    assert nowcast([10.0] * 9 + [None, None, 20.0]) is None
    assert nowcast([10.0] * 10 + [None, None]) is None
    assert nowcast([20.0]) is None and nowcast([]) is None


def test_nowcast_missing_hours_weigh_nothing_and_only_12_hours_count():
    # c1..c6 = 30, 20, 20, (missing), 20, 20; w* = 20/30 > 0.5 → w = 2/3; the missing c4 keeps its place, weight 0
    w = 2 / 3
    expected = (30 + 20 * (w + w**2 + w**4 + w**5)) / (1 + w + w**2 + w**4 + w**5)
    assert nowcast([20.0, 20.0, None, 20.0, 20.0, 30.0]) == pytest.approx(expected)
    assert nowcast([1000.0] * 5 + [20.0] * 12) == pytest.approx(20.0)  # hours older than 12 are ignored
    assert nowcast([math.nan, 20.0, 20.0]) == pytest.approx(20.0)


# --------------------------------------------------------------------------- bands


@pytest.mark.parametrize("value, key, vi", [
    (0, "good", "Tốt"), (50, "good", "Tốt"), (51, "moderate", "Trung bình"), (100, "moderate", "Trung bình"),
    (101, "poor", "Kém"), (150, "poor", "Kém"), (151, "bad", "Xấu"), (200, "bad", "Xấu"),
    (201, "very_bad", "Rất xấu"), (300, "very_bad", "Rất xấu"), (301, "hazardous", "Nguy hại"),
    (500, "hazardous", "Nguy hại"), (650, "hazardous", "Nguy hại"),
    (50.4, "good", "Tốt"), (50.5, "moderate", "Trung bình"),
])
def test_bands(value, key, vi):
    assert band(value) == key
    assert band_name(value) == vi


def test_band_details_and_errors():
    assert band_name(120, "en") == "Poor"
    assert [b.rgb for b in vn_aqi.BANDS] == [(0, 228, 0), (255, 255, 0), (255, 126, 0), (255, 0, 0),
                                             (143, 63, 151), (126, 0, 35)]
    for bad in (-1, math.nan, None, "12"):
        with pytest.raises(ValueError):
            band(bad)


# --------------------------------------------------------------------------- daily index and O3 8 h (2.2.2)

# The decision's worked example of 8-hour means (2.2.2.a): hourly O3 from 18:00 the day before to 00:00 (31 values).
O3_EXAMPLE = [15.7, 14.2, 17.7, 18.9, 19.3, 15.7, 19.7, 22.6, 27.1, 29.0, 31.9, 25.3, 34.7, 35.2, 41.6, 45.7,
              49.2, 55.8, 69.6, 78.3, 91.5, 97.7, 81.2, 71.8, 43.5, 34.3, 21.5, 20.5, 19.4, 20.4, 21.3]


def test_max_8h_mean_is_the_decisions_worked_example():
    assert vn_aqi.max_8h_mean(O3_EXAMPLE[-31:]) == pytest.approx(74.4, abs=0.05)


@pytest.mark.parametrize("concentration, expected", [
    (0, 0), (50, 25), (100, 50), (110, 75), (120, 100), (145, 125), (170, 150), (210, 200), (305, 250),
    (400, 300),
])
def test_o3_8h_sub_index_table(concentration, expected):
    assert vn_aqi.o3_8h_sub_index(concentration) == pytest.approx(expected)


def test_o3_8h_has_no_level_above_400():
    assert vn_aqi.o3_8h_sub_index(400.1) is None
    # Then only the 1-hour O3 counts: 8 h 450 (no level), 1 h 450 → (450-400)/(800-400)*100+200 = 212.5 → 213
    assert vn_aqi.daily_aqi(pm25_24h=10, o3_1h_max=450, o3_8h_max=450) == 213


def test_daily_index_worked_example():
    # 2.3.c: O3 8 h 89.3 → 45, O3 1 h 114.6 → 36, NO2 130.8 → 65, PM2.5 55.7 → 110; AQI ngày = 110
    assert vn_aqi.daily_aqi(pm25_24h=55.7, o3_1h_max=114.6, o3_8h_max=89.3, no2_1h_max=130.8) == 110
    assert round(vn_aqi.o3_8h_sub_index(89.3)) == 45


def test_daily_index_o3_8h_can_decide():
    # PM2.5 24 h 20 → 40; O3 1 h max 180 → 75; O3 8 h max 165 → (165-120)/(170-120)*50+100 = 145
    assert vn_aqi.daily_aqi(pm25_24h=20, o3_1h_max=180, o3_8h_max=165) == 145


def test_daily_index_needs_pm():
    assert vn_aqi.daily_aqi(o3_1h_max=300, o3_8h_max=200) is None


def test_daily_index_from_hourly_means():
    pm25 = [30.0] * 12 + [60.0] * 12          # 24 h mean 45 → 90
    o3 = [40.0] * 16 + [190.0] * 8            # 1 h max 190 → 87.5; 8 h max 190 → 175
    day = vn_aqi.daily_aqi_from_hourly({"pm25": pm25, "o3": o3}, o3_previous_7h=[40.0] * 7)
    assert day == 175
    # A PM mean needs 18 of 24 hours
    assert vn_aqi.daily_aqi_from_hourly({"pm25": [30.0] * 17 + [None] * 7}) is None
    assert vn_aqi.daily_aqi_from_hourly({"pm25": [30.0] * 18 + [None] * 6}) == 60
