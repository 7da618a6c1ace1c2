"""Visible strings and local formats: Vietnamese first, English second.

Every string a layout shows comes from `MESSAGES` (through `t`) or from a config `Text` field.
Numbers use the Vietnamese convention in Vietnamese (1.234,5) and the English one in English
(1,234.5); times are stored in UTC and shown in the configured zone (Asia/Ho_Chi_Minh).
"""

from __future__ import annotations

import logging
import math
import os
import sys
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

LANGS = ("vi", "en")
DEFAULT_LANG = "vi"
DEFAULT_TZ = "Asia/Ho_Chi_Minh"
DASH = "—"

MESSAGES: dict[str, dict[str, str]] = {
    # application shell
    "app.title": {"vi": "IOC Bắc Giang", "en": "IOC Bắc Giang"},
    "app.subtitle": {"vi": "Trung tâm điều hành thông minh", "en": "Intelligent Operations Center"},
    "nav.overview": {"vi": "Tổng quan", "en": "Overview"},
    "nav.wall": {"vi": "Màn hình lớn", "en": "Wall"},
    "nav.alerts": {"vi": "Cảnh báo", "en": "Alerts"},
    "nav.brief": {"vi": "Bản tin", "en": "Brief"},
    "nav.feeds": {"vi": "Nguồn dữ liệu", "en": "Feeds"},
    "nav.domain": {"vi": "Lĩnh vực", "en": "Domain"},
    "nav.language": {"vi": "Ngôn ngữ", "en": "Language"},
    "nav.clock": {"vi": "Giờ Việt Nam", "en": "Vietnam time"},
    "lang.vi": {"vi": "VI", "en": "VI"},
    "lang.en": {"vi": "EN", "en": "EN"},
    "lang.vi.long": {"vi": "Tiếng Việt", "en": "Vietnamese"},
    "lang.en.long": {"vi": "Tiếng Anh", "en": "English"},
    "page.not_found": {"vi": "Không tìm thấy trang", "en": "Page not found"},
    # overview page
    "overview.title": {"vi": "Tổng quan toàn tỉnh", "en": "Province overview"},
    "overview.no_metrics": {
        "vi": "Chưa có chỉ số chính cho lĩnh vực này",
        "en": "No headline metrics for this domain",
    },
    "overview.error": {
        "vi": "Không tải được dữ liệu — đang hiển thị trạng thái không có dữ liệu",
        "en": "Data could not be loaded — showing no-data state",
    },
    "overview.offline": {
        "vi": "Mất kết nối với máy chủ — số liệu dưới đây có thể đã cũ",
        "en": "Lost connection to the server — the figures below may be out of date",
    },
    "overview.refreshed": {"vi": "Làm mới lúc", "en": "Refreshed at"},
    "overview.chart_window": {"vi": "Biểu đồ {hours} giờ gần nhất", "en": "Last {hours} h"},
    # tiles
    "tile.updated": {"vi": "Cập nhật", "en": "Updated"},
    "tile.stale": {"vi": "Dữ liệu cũ", "en": "Stale"},
    "tile.nodata": {"vi": "Không có dữ liệu", "en": "No data"},
    "tile.sources": {"vi": "{n} nguồn", "en": "{n} sources"},
    "tile.stale_sources": {"vi": "{n}/{total} nguồn chậm", "en": "{n}/{total} sources late"},
    # status
    "feeds.title": {"vi": "Tình trạng nguồn dữ liệu", "en": "Feed health"},
    "feeds.summary": {"vi": "{ok} tốt · {late} chậm · {failing} lỗi · {disabled} tắt",
                      "en": "{ok} ok · {late} late · {failing} failing · {disabled} disabled"},
    "feeds.col.feed": {"vi": "Nguồn", "en": "Feed"},
    "feeds.col.transport": {"vi": "Kênh", "en": "Transport"},
    "feeds.col.state": {"vi": "Trạng thái", "en": "State"},
    "feeds.col.last_success": {"vi": "Lần nhận tốt gần nhất", "en": "Last success"},
    "feeds.col.last_error": {"vi": "Lỗi gần nhất", "en": "Last error"},
    "feeds.col.readings": {"vi": "Số đo/phút", "en": "Readings/min"},
    "feeds.col.dead": {"vi": "Bản tin lỗi/phút", "en": "Dead letters/min"},
    "feeds.col.stale_after": {"vi": "Coi là chậm sau", "en": "Late after"},
    "nav.manual": {"vi": "Nhập số liệu", "en": "Manual entry"},
    "manual.title": {"vi": "Nhập số liệu thủ công", "en": "Manual entry"},
    "manual.help": {"vi": "Số liệu nhận qua điện thoại hoặc văn bản. Nhập lại cùng thời điểm để sửa; "
                          "mọi lần nhập đều được lưu vết.",
                    "en": "Figures received by phone or on paper. Enter the same time again to correct; "
                          "every entry is kept in the trail."},
    "manual.domain": {"vi": "Lĩnh vực", "en": "Domain"},
    "manual.entity": {"vi": "Đơn vị / điểm đo", "en": "Site"},
    "manual.metric": {"vi": "Chỉ tiêu", "en": "Metric"},
    "manual.time": {"vi": "Thời điểm (giờ Việt Nam)", "en": "Time (Vietnam time)"},
    "manual.value": {"vi": "Giá trị", "en": "Value"},
    "manual.who": {"vi": "Người nhập", "en": "Entered by"},
    "manual.note": {"vi": "Ghi chú", "en": "Note"},
    "manual.submit": {"vi": "Lưu", "en": "Save"},
    "manual.saved": {"vi": "Đã lưu: {metric} = {value} lúc {time}", "en": "Saved: {metric} = {value} at {time}"},
    "manual.missing": {"vi": "Hãy điền đủ đơn vị, chỉ tiêu, thời điểm, giá trị và người nhập.",
                       "en": "Fill in site, metric, time, value and who is entering."},
    "manual.refused": {"vi": "Không lưu được: {reason}", "en": "Not saved: {reason}"},
    "manual.recent": {"vi": "Các lần nhập gần đây", "en": "Recent entries"},
    "manual.col.entered_at": {"vi": "Nhập lúc", "en": "Entered at"},
    "manual.col.previous": {"vi": "Giá trị trước", "en": "Previous value"},
    "alert.nodata": {"vi": "không có dữ liệu mới", "en": "no recent data"},
    "alert.feed": {"vi": "Nguồn dữ liệu", "en": "Feed"},
    "alert.feed_silent": {"vi": "không hoạt động", "en": "silent"},
    "alert.threshold": {"vi": "ngưỡng", "en": "threshold"},
    "unit.day": {"vi": "ngày", "en": "d"},
    "unit.hour": {"vi": "giờ", "en": "h"},
    "unit.minute": {"vi": "phút", "en": "min"},
    "unit.second": {"vi": "giây", "en": "s"},
    "feed_state.ok": {"vi": "Tốt", "en": "OK"},
    "feed_state.late": {"vi": "Chậm", "en": "Late"},
    "feed_state.failing": {"vi": "Lỗi", "en": "Failing"},
    "feed_state.disabled": {"vi": "Đã tắt", "en": "Disabled"},
    "feed_state.waiting": {"vi": "Đang chờ", "en": "Waiting"},
    "status.ok": {"vi": "Bình thường", "en": "Normal"},
    "status.warning": {"vi": "Cảnh báo", "en": "Warning"},
    "status.critical": {"vi": "Nguy hiểm", "en": "Critical"},
    "status.nodata": {"vi": "Không có dữ liệu", "en": "No data"},
    # chart
    "chart.nodata": {"vi": "Không có dữ liệu", "en": "No data"},
    "chart.warning": {"vi": "Ngưỡng cảnh báo", "en": "Warning threshold"},
    "chart.critical": {"vi": "Ngưỡng nguy hiểm", "en": "Critical threshold"},
    "chart.time": {"vi": "Thời gian", "en": "Time"},
    # ages
    "age.just_now": {"vi": "vừa xong", "en": "just now"},
    "age.seconds": {"vi": "{n} giây trước", "en": "{n} s ago"},
    "age.minutes": {"vi": "{n} phút trước", "en": "{n} min ago"},
    "age.hours": {"vi": "{n} giờ trước", "en": "{n} h ago"},
    "age.days": {"vi": "{n} ngày trước", "en": "{n} d ago"},
}


def _strict() -> bool:
    """Unknown keys raise under pytest (or IOC_I18N_STRICT=1); in production they show the key."""
    return os.environ.get("IOC_I18N_STRICT") == "1" or "pytest" in sys.modules


def normalize_lang(lang: str | None, default: str = DEFAULT_LANG) -> str:
    """Return a supported language code ('vi' or 'en'); anything else gives the default."""
    if isinstance(lang, str):
        code = lang.strip().lower()[:2]
        if code in LANGS:
            return code
    return default if default in LANGS else DEFAULT_LANG


def t(key: str, lang: str | None = DEFAULT_LANG, **params: object) -> str:
    """The message `key` in `lang`, formatted with `params` ({n}, {total}...).

    An unknown key raises KeyError in tests; in production it is logged once and the key is shown.
    """
    entry = MESSAGES.get(key)
    if entry is None:
        if _strict():
            raise KeyError(f"unknown i18n key: {key!r}")
        _warn_unknown(key)
        return key
    text = entry[normalize_lang(lang)]
    return text.format(**params) if params else text


@lru_cache(maxsize=256)
def _warn_unknown(key: str) -> None:
    log.warning("i18n: unknown message key %r", key)


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True


def auto_decimals(value: float) -> int:
    """Decimals that suit the magnitude: 1234 → 0, 12.3 → 1, 1.23 → 2."""
    magnitude = abs(value)
    if magnitude >= 100 or float(value).is_integer():
        return 0
    if magnitude >= 10:
        return 1
    return 2


def format_number(value: float | int | None, lang: str | None = DEFAULT_LANG,
                  decimals: int | None = None) -> str:
    """1234.5 → '1.234,5' (vi) or '1,234.5' (en); None/NaN → '—'."""
    if _is_missing(value):
        return DASH
    number = float(value)  # type: ignore[arg-type]
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    places = auto_decimals(number) if decimals is None else max(0, decimals)
    rounded = Decimal(repr(number)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{rounded:,.{places}f}"  # half up, as people round (1234.5 → 1,235), not to even
    if decimals is None and "." in text:
        text = text.rstrip("0").rstrip(".")  # auto mode: 7.10 → 7.1
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]  # no "-0"
    if normalize_lang(lang) == "vi":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def format_value(value: float | None, unit: str, lang: str | None = DEFAULT_LANG,
                 decimals: int | None = None) -> str:
    """A number with its unit: '1.234,5 µg/m³'; '%' sticks to the number; missing → '—'."""
    text = format_number(value, lang, decimals)
    if text == DASH or not unit:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


def format_age(seconds: float | None, lang: str | None = DEFAULT_LANG) -> str:
    """5 → '5 giây trước' / '5 s ago'; 180 → '3 phút trước'; 7200 → '2 giờ trước'; missing → '—'."""
    if _is_missing(seconds):
        return DASH
    secs = max(0.0, float(seconds))  # type: ignore[arg-type]
    if secs < 1:
        return t("age.just_now", lang)
    if secs < 60:
        return t("age.seconds", lang, n=int(secs))
    if secs < 3600:
        return t("age.minutes", lang, n=int(secs // 60))
    if secs < 86400:
        return t("age.hours", lang, n=int(secs // 3600))
    return t("age.days", lang, n=int(secs // 86400))


def format_duration(seconds: float, lang: str | None = DEFAULT_LANG) -> str:
    """90 → '1 phút 30 giây' / '1 min 30 s'; 7200 → '2 giờ' / '2 h' (the two largest units)."""
    units = [(86400, "unit.day"), (3600, "unit.hour"), (60, "unit.minute"), (1, "unit.second")]
    parts, rest = [], int(seconds)
    for size, key in units:
        if rest >= size and len(parts) < 2:
            parts.append(f"{rest // size} {t(key, lang)}")
            rest %= size
    return " ".join(parts) or f"0 {t('unit.second', lang)}"


@lru_cache(maxsize=16)
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def to_local(ts_utc: datetime, tz: str = DEFAULT_TZ) -> datetime:
    """A UTC instant in the local zone (a naive datetime is taken as UTC). Works for pandas Timestamps."""
    if ts_utc.tzinfo is None:
        ts_utc = ts_utc.replace(tzinfo=UTC)
    return ts_utc.astimezone(_zone(tz))


_FORMATS = {
    ("vi", "time"): "%H:%M:%S",
    ("en", "time"): "%H:%M:%S",
    ("vi", "date"): "%d/%m/%Y",
    ("en", "date"): "%Y-%m-%d",
    ("vi", "datetime"): "%H:%M:%S %d/%m/%Y",
    ("en", "datetime"): "%Y-%m-%d %H:%M:%S",
    ("vi", "short"): "%H:%M %d/%m",
    ("en", "short"): "%d %b %H:%M",
}


def format_time(ts_utc: datetime | None, lang: str | None = DEFAULT_LANG, tz: str = DEFAULT_TZ,
                style: str = "datetime") -> str:
    """A UTC instant as local text: style 'time', 'date', 'datetime' or 'short'; missing → '—'."""
    if ts_utc is None or _is_nat(ts_utc):
        return DASH
    return to_local(ts_utc, tz).strftime(_FORMATS[(normalize_lang(lang), style)])


def _is_nat(value: object) -> bool:
    try:
        return value != value  # NaT and NaN are not equal to themselves
    except (TypeError, ValueError):
        return False


def now_utc() -> datetime:
    return datetime.now(UTC)
