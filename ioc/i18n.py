"""Visible strings and local formats: Vietnamese first, English second.

Every string a layout shows comes from the gettext catalogs in `ioc/locale/<lang>/LC_MESSAGES/ioc.po`
(through `t`) or from a config `Text` field. The catalogs are keyed by a symbolic id ("wall.title"), so
code names a message and a translator's tool (Poedit, Weblate, `pybabel`) edits its text; the English
catalog carries the Vietnamese text as a comment beside each entry. Numbers, dates and times are
formatted by Babel from CLDR data for `vi_VN` and `en` (1.234,5 and 1,234.5); times are stored in UTC
and shown in the configured zone (Asia/Ho_Chi_Minh).
"""

from __future__ import annotations

import logging
import math
import os
import sys
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

log = logging.getLogger(__name__)

LANGS = ("vi", "en")
DEFAULT_LANG = "vi"
DEFAULT_TZ = "Asia/Ho_Chi_Minh"
DASH = "—"
LOCALES = {"vi": "vi_VN", "en": "en"}  # CLDR locales behind the two UI languages
CATALOG_DIR = Path(__file__).resolve().parent / "locale"


def _load_catalogs() -> dict[str, dict[str, str]]:
    """Every message id with its text per language, read from the .po catalogs once at import."""
    texts: dict[str, dict[str, str]] = {}
    for lang in LANGS:
        with (CATALOG_DIR / lang / "LC_MESSAGES" / "ioc.po").open("rb") as fh:
            catalog = read_po(fh, locale=LOCALES[lang], domain="ioc")
        for message in catalog:
            if message.id and message.string:
                texts.setdefault(message.id, {})[lang] = message.string
    return texts


MESSAGES: dict[str, dict[str, str]] = _load_catalogs()


# AG Grid's own words (pagination, filter menus, loading, empty table) in Vietnamese; English is its default.
AG_GRID_VI = {
    "noRowsToShow": "Không có dòng nào", "loadingOoo": "Đang tải…", "page": "Trang", "more": "nhiều hơn",
    "to": "đến", "of": "trên", "next": "Sau", "last": "Cuối", "first": "Đầu", "previous": "Trước",
    "firstPage": "Trang đầu", "lastPage": "Trang cuối", "nextPage": "Trang sau", "previousPage": "Trang trước",
    "pageSizeSelectorLabel": "Số dòng mỗi trang:", "ariaPageSizeSelectorLabel": "Số dòng mỗi trang",
    "pageLastRowUnknown": "?", "filterOoo": "Lọc…", "searchOoo": "Tìm…", "selectAll": "(Chọn tất cả)",
    "selectAllSearchResults": "(Chọn mọi kết quả)", "blanks": "(Trống)", "noMatches": "Không có kết quả",
    "equals": "Bằng", "notEqual": "Khác", "blank": "Trống", "notBlank": "Không trống",
    "empty": "Chọn một điều kiện", "lessThan": "Nhỏ hơn", "greaterThan": "Lớn hơn",
    "lessThanOrEqual": "Nhỏ hơn hoặc bằng", "greaterThanOrEqual": "Lớn hơn hoặc bằng", "inRange": "Trong khoảng",
    "inRangeStart": "Từ", "inRangeEnd": "Đến", "contains": "Chứa", "notContains": "Không chứa",
    "startsWith": "Bắt đầu bằng", "endsWith": "Kết thúc bằng", "before": "Trước", "after": "Sau",
    "andCondition": "VÀ", "orCondition": "HOẶC", "applyFilter": "Áp dụng", "resetFilter": "Đặt lại",
    "clearFilter": "Xóa", "cancelFilter": "Hủy", "dateFormatOoo": "dd/mm/yyyy", "filterConditions": "Điều kiện",
    "ariaFilterInput": "Ô lọc", "ariaFilterValue": "Giá trị lọc", "ariaFilteringOperator": "Phép lọc",
    "ariaColumn": "Cột", "ariaRowSelect": "Nhấn Space để chọn dòng", "ariaSearch": "Tìm",
    "pinColumn": "Ghim cột", "autosizeThisColumn": "Tự chỉnh độ rộng cột này",
    "autosizeAllColumns": "Tự chỉnh mọi cột", "resetColumns": "Đặt lại các cột", "sortAscending": "Sắp xếp tăng",
    "sortDescending": "Sắp xếp giảm", "sortUnSort": "Bỏ sắp xếp", "columns": "Cột", "filters": "Bộ lọc",
    "columnFilter": "Lọc cột", "ariaLabelColumnFilter": "Lọc cột", "ariaLabelColumnMenu": "Trình đơn cột",
    "ariaSortableColumn": "Nhấn Enter để sắp xếp", "ariaFilterMenuOpen": "Mở bộ lọc",
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
    lang = normalize_lang(lang)
    text = entry.get(lang) or entry.get(DEFAULT_LANG) or key  # a catalog gap shows the other language
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
    # half up, as people round (1234.5 → 1,235), not to even; auto mode drops trailing zeros (7.10 → 7.1)
    rounded = Decimal(repr(number)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)  # no "-0"
    fraction = ("#" if decimals is None else "0") * places
    pattern = f"#,##0.{fraction}" if places else "#,##0"
    return format_decimal(rounded, format=pattern, locale=LOCALES[normalize_lang(lang)],
                          decimal_quantization=False)


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


_PATTERNS = {  # CLDR date patterns (not strftime): dd/MM/yyyy for Vietnamese readers
    ("vi", "time"): "HH:mm:ss",
    ("en", "time"): "HH:mm:ss",
    ("vi", "date"): "dd/MM/yyyy",
    ("en", "date"): "yyyy-MM-dd",
    ("vi", "datetime"): "HH:mm:ss dd/MM/yyyy",
    ("en", "datetime"): "yyyy-MM-dd HH:mm:ss",
    ("vi", "short"): "HH:mm dd/MM",
    ("en", "short"): "dd MMM HH:mm",
}


def format_time(ts_utc: datetime | None, lang: str | None = DEFAULT_LANG, tz: str = DEFAULT_TZ,
                style: str = "datetime") -> str:
    """A UTC instant as local text: style 'time', 'date', 'datetime' or 'short'; missing → '—'."""
    if ts_utc is None or _is_nat(ts_utc):
        return DASH
    lang = normalize_lang(lang)
    return format_datetime(to_local(ts_utc, tz), _PATTERNS[(lang, style)], locale=LOCALES[lang])


def _is_nat(value: object) -> bool:
    try:
        return value != value  # NaT and NaN are not equal to themselves
    except (TypeError, ValueError):
        return False


# --- the region's own name (config/region*.yaml `identity`) -----------------------------------

def use_short_name(vi: str, en: str) -> None:
    """The product's title ("IOC Bắc Giang", "IOC Bắc Ninh") is the active region's, set when config loads."""
    MESSAGES["app.title"] = {"vi": vi, "en": en}
