"""Vietnam's public holidays and school calendar, as data (the simulator's rhythms, the brief's expectations).

Public holidays per the Labour Code 2019 (Bộ luật Lao động 45/2019/QH14), Article 112, in force from 2021:
Tết Dương lịch (1 January, 1 day); Tết Âm lịch (5 days; in practice the Prime Minister's yearly decision gives
public servants a 7–9-day break including weekends); Giỗ Tổ Hùng Vương (10th day of the 3rd lunar month);
Reunification Day (30 April); International Labour Day (1 May); National Day (2 September and one day before or
after it, chosen each year). Lunar dates are listed per year (Gregorian); years outside the lists have no
lunar holidays here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np

# First day of the lunar year (mùng 1 Tết), Gregorian.
TET: dict[int, date] = {y: date.fromisoformat(d) for y, d in (
    (2020, "2020-01-25"), (2021, "2021-02-12"), (2022, "2022-02-01"), (2023, "2023-01-22"), (2024, "2024-02-10"),
    (2025, "2025-01-29"), (2026, "2026-02-17"), (2027, "2027-02-06"), (2028, "2028-01-26"), (2029, "2029-02-13"),
    (2030, "2030-02-03"), (2031, "2031-01-23"), (2032, "2032-02-11"), (2033, "2033-01-31"), (2034, "2034-02-19"),
    (2035, "2035-02-08"))}
# Giỗ Tổ Hùng Vương, 10/3 âm lịch, Gregorian.
HUNG_KINGS: dict[int, date] = {y: date.fromisoformat(d) for y, d in (
    (2020, "2020-04-02"), (2021, "2021-04-21"), (2022, "2022-04-10"), (2023, "2023-04-29"), (2024, "2024-04-18"),
    (2025, "2025-04-07"), (2026, "2026-04-26"), (2027, "2027-04-16"), (2028, "2028-04-04"), (2029, "2029-04-23"),
    (2030, "2030-04-12"))}
# National Day's second day as decided for the year (2021 and 2024: 3 September); other years: 1 September.
NATIONAL_DAY_SECOND: dict[int, date] = {2021: date(2021, 9, 3), 2024: date(2024, 9, 3)}
# The Tết break of public offices around mùng 1: two days before to four after (7 days, the usual decision).
TET_BREAK = (-2, 4)
# Schools close longer: from about a week before Tết to a week after (education offices' calendars).
SCHOOL_TET_BREAK = (-5, 8)
SUMMER_MONTHS = (6, 7, 8)  # the school year runs September–May
SCHOOL_HOURS = (7, 17)     # attendance is taken and reported from 07:00 to 17:00 local time


def public_holidays(year: int) -> dict[date, str]:
    """Every public holiday of a year, with its key (tet, new_year, hung_kings, reunification, labour, national)."""
    days = {date(year, 1, 1): "new_year", date(year, 4, 30): "reunification", date(year, 5, 1): "labour",
            date(year, 9, 2): "national", NATIONAL_DAY_SECOND.get(year, date(year, 9, 1)): "national"}
    if year in HUNG_KINGS:
        days[HUNG_KINGS[year]] = "hung_kings"
    for tet_year in (year, year + 1):  # a Tết break can start in the year before its lunar new year
        if tet_year in TET:
            for k in range(TET_BREAK[0], TET_BREAK[1] + 1):
                d = TET[tet_year] + timedelta(days=k)
                if d.year == year:
                    days[d] = "tet"
    return days


def _epoch_days(days) -> np.ndarray:
    return np.array(sorted(d.toordinal() - date(1970, 1, 1).toordinal() for d in days), dtype=np.int64)


TET_DAYS: np.ndarray = _epoch_days(TET.values())  # days since 1970-01-01 (the simulator's day numbers)
HOLIDAY_DAYS: np.ndarray = _epoch_days({d for y in range(min(TET), max(TET) + 1) for d in public_holidays(y)})


def days_from_tet(day: np.ndarray) -> np.ndarray:
    """Signed days from the nearest mùng 1 Tết for each day number (days since 1970-01-01)."""
    delta = day[..., None] - TET_DAYS
    return np.take_along_axis(delta, np.abs(delta).argmin(axis=-1)[..., None], axis=-1)[..., 0]


def is_holiday(day: np.ndarray) -> np.ndarray:
    return np.isin(day, HOLIDAY_DAYS)


def is_school_day(day: np.ndarray) -> np.ndarray:
    """Monday to Saturday in the school year, outside the schools' Tết break and public holidays."""
    dow = (day + 3) % 7  # 1970-01-01 was a Thursday
    d = day.astype("datetime64[D]")
    month = (d.astype("datetime64[M]") - d.astype("datetime64[Y]").astype("datetime64[M]")).astype(np.int64) + 1
    tet = days_from_tet(day)
    school_tet = (tet >= SCHOOL_TET_BREAK[0]) & (tet <= SCHOOL_TET_BREAK[1])
    return (dow < 6) & ~np.isin(month, SUMMER_MONTHS) & ~school_tet & ~is_holiday(day)


def last_school_time(before: datetime, search_days: int = 120) -> datetime | None:
    """The latest instant at or before `before` (UTC) that was school time, or None within `search_days`
    (the summer break is shorter): where a school-hours source's last figure comes from."""
    offset = timedelta(hours=7)  # Asia/Ho_Chi_Minh
    local = before.astimezone(UTC) + offset
    today = (local.date() - date(1970, 1, 1)).days
    days = np.arange(today, today - search_days, -1)
    for day, school in zip(days, is_school_day(days), strict=True):
        if not school:
            continue
        midnight = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=int(day))
        opens, closes = midnight + timedelta(hours=SCHOOL_HOURS[0]), midnight + timedelta(hours=SCHOOL_HOURS[1])
        if local >= opens:
            return min(local, closes) - offset
    return None


def school_seconds_between(start: datetime, end: datetime) -> float:
    """Seconds of school time (SCHOOL_HOURS, local time, on school days) between two UTC instants: how long
    a school-hours source has been expected to report since `start`."""
    offset = timedelta(hours=7)  # Asia/Ho_Chi_Minh, no daylight saving
    local_start, local_end = start.astimezone(UTC) + offset, end.astimezone(UTC) + offset
    if local_end <= local_start:
        return 0.0
    first, last = local_start.date(), local_end.date()
    days = np.arange((first - date(1970, 1, 1)).days, (last - date(1970, 1, 1)).days + 1)
    total = 0.0
    for day, school in zip(days, is_school_day(days), strict=True):
        if not school:
            continue
        midnight = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=int(day))
        opens, closes = midnight + timedelta(hours=SCHOOL_HOURS[0]), midnight + timedelta(hours=SCHOOL_HOURS[1])
        total += max(0.0, (min(closes, local_end) - max(opens, local_start)).total_seconds())
    return total
