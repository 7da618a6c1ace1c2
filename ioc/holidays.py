"""Vietnam's public holidays and school calendar (the simulator's rhythms, the brief's expectations).

Public holidays come from the `holidays` library (vacanza/holidays, MIT): the Labour Code's days (2019 code,
Article 112: Tết Dương lịch, five days of Tết Âm lịch, Giỗ Tổ Hùng Vương on 10/3 âm lịch, 30 April, 1 May, and
National Day with its second day before or after 2 September), Vietnam Cultural Day (24 November, from 2026),
days moved by the Prime Minister's yearly decisions, and days off in lieu, for any year, from its own
Vietnamese lunisolar calendar (UTC+7, which differs from the Chinese one in some years). What is ours: the
schools' calendar below, which no library has.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import holidays as calendars
import numpy as np

# Schools close longer than offices around Tết: from about a week before mùng 1 to a week after (education
# offices' calendars).
SCHOOL_TET_BREAK = (-5, 8)
SUMMER_MONTHS = (6, 7, 8)  # the school year runs September–May
SCHOOL_HOURS = (7, 17)     # attendance is taken and reported from 07:00 to 17:00 local time

# The library's English names, by the key this project uses for them (a day "in lieu" keeps its holiday's key).
_KEYS = (("lunar new year", "tet"), ("hung kings", "hung_kings"), ("reunification", "reunification"),
         ("labor day", "labour"), ("national day", "national"), ("new year's day", "new_year"),
         ("cultural day", "culture"), ("day off", "day_off"))
_EPOCH = date(1970, 1, 1).toordinal()


def _key(name: str) -> str:
    lowered = name.lower()
    return next((key for part, key in _KEYS if part in lowered), "other")


@lru_cache(maxsize=256)
def public_holidays(year: int) -> dict[date, str]:
    """Every public holiday of a year (days offices close), with its key (tet, new_year, hung_kings,
    reunification, labour, national, culture, day_off)."""
    days = calendars.country_holidays("VN", years=year, language="en_US")
    return {day: _key(name.split("; ")[0]) for day, name in sorted(days.items())}


@lru_cache(maxsize=256)
def lunar_new_year(year: int) -> date:
    """Mùng 1 Tết of a Gregorian year."""
    return next(day for day, name in calendars.country_holidays("VN", years=year, language="en_US").items()
                if "Lunar New Year" in name.split("; "))


def _years(day: np.ndarray) -> tuple[int, int]:
    days = np.asarray(day, dtype=np.int64)
    if days.size == 0:
        return 1970, 1970
    first, last = (date.fromordinal(int(d) + _EPOCH).year for d in (days.min(), days.max()))
    return first, last


def _day_numbers(days) -> np.ndarray:
    return np.array(sorted(d.toordinal() - _EPOCH for d in days), dtype=np.int64)


@lru_cache(maxsize=64)
def _tet_days(first: int, last: int) -> np.ndarray:
    return _day_numbers(lunar_new_year(y) for y in range(first - 1, last + 2))


@lru_cache(maxsize=64)
def _holiday_days(first: int, last: int) -> np.ndarray:
    return _day_numbers(d for y in range(first, last + 1) for d in public_holidays(y))


def days_from_tet(day: np.ndarray) -> np.ndarray:
    """Signed days from the nearest mùng 1 Tết for each day number (days since 1970-01-01)."""
    delta = np.asarray(day)[..., None] - _tet_days(*_years(day))
    return np.take_along_axis(delta, np.abs(delta).argmin(axis=-1)[..., None], axis=-1)[..., 0]


def is_holiday(day: np.ndarray) -> np.ndarray:
    return np.isin(day, _holiday_days(*_years(day)))


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
