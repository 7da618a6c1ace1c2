"""ioc.i18n: the message catalog, number and age formats, local time."""

from __future__ import annotations

import ast
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from ioc.i18n import (
    LANGS,
    MESSAGES,
    format_age,
    format_number,
    format_time,
    format_value,
    normalize_lang,
    t,
    to_local,
)

ROOT = Path(__file__).resolve().parent.parent
UI_FILES = [ROOT / "ioc" / "web.py", *sorted((ROOT / "panels").glob("*.py"))]


def test_every_key_has_vietnamese_and_english():
    for key, entry in MESSAGES.items():
        assert set(entry) == set(LANGS), key
        for lang in LANGS:
            assert entry[lang].strip(), (key, lang)


def _catalog(lang: str):
    from babel.messages.pofile import read_po

    with (ROOT / "ioc" / "locale" / lang / "LC_MESSAGES" / "ioc.po").open("rb") as fh:
        return {m.id: m.string for m in read_po(fh) if m.id}


def test_gettext_catalogs_hold_the_same_keys_and_fillable_texts():
    """A key missing or empty in either language's .po fails; so does a text that cannot be filled."""
    vi, en = _catalog("vi"), _catalog("en")
    assert set(vi) == set(en), set(vi) ^ set(en)
    placeholders = re.compile(r"{(\w+)}")
    for key in vi:
        assert vi[key].strip() and en[key].strip(), key
        names = set(placeholders.findall(vi[key] + en[key]))  # English may need one more (a plural noun)
        for text in (vi[key], en[key]):
            text.format(**dict.fromkeys(names, 1))


def test_numbers_and_dates_follow_cldr():
    assert format_number(1234567.891, "vi", 2) == "1.234.567,89"
    assert format_number(1234567.891, "en", 2) == "1,234,567.89"
    assert format_number(-0.001, "vi", 1) == "0,0"
    assert format_number(7.10, "en") == "7.1"
    noon = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
    assert format_time(noon, "vi", style="date") == "06/12/2026"
    assert format_time(noon, "en", style="short") == "06 Dec 12:00"


def test_vietnamese_strings_are_vietnamese():
    assert t("tile.stale", "vi") == "Dữ liệu cũ"
    assert t("tile.stale", "en") == "Stale"
    assert t("tile.updated", "vi") == "Cập nhật"
    assert t("tile.nodata", "vi") == "Không có dữ liệu"
    statuses = [t(f"status.{s}", "vi") for s in ("ok", "warning", "critical")]
    assert statuses == ["Bình thường", "Cảnh báo", "Nguy hiểm"]


def test_unknown_key_raises_in_tests():
    with pytest.raises(KeyError):
        t("no.such.key", "vi")


def test_unknown_language_falls_back_to_vietnamese():
    assert t("tile.stale", "fr") == "Dữ liệu cũ"
    assert t("tile.stale", None) == "Dữ liệu cũ"
    assert normalize_lang("EN") == "en"
    assert normalize_lang("en-US") == "en"
    assert normalize_lang("xx", "en") == "en"


def test_parameters_are_filled():
    assert t("tile.stale_sources", "vi", n=3, total=40) == "3/40 nguồn chậm"
    assert t("tile.stale_sources", "en", n=3, total=40) == "3/40 sources late"


def test_every_key_used_in_the_ui_exists():
    """Literal keys passed to t(...) in web.py and panels/*.py are all in the catalog."""
    used: set[str] = set()
    for path in UI_FILES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "t"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                used.add(node.args[0].value)
            if (isinstance(node, ast.keyword) and node.arg == "nav_key"
                    and isinstance(node.value, ast.Constant)):
                used.add(node.value.value)
    assert used, "no t(...) calls found"
    assert used <= set(MESSAGES), used - set(MESSAGES)
    for status in ("ok", "warning", "critical", "nodata"):  # built as f"status.{status}"
        assert f"status.{status}" in MESSAGES
    for level in ("warning", "critical"):  # built as f"chart.{level}"
        assert f"chart.{level}" in MESSAGES


@pytest.mark.parametrize(
    ("value", "decimals", "vi", "en"),
    [
        (1234.5, 1, "1.234,5", "1,234.5"),
        (1234567.891, 2, "1.234.567,89", "1,234,567.89"),
        (0.5, 2, "0,50", "0.50"),
        (-1234.5, 1, "-1.234,5", "-1,234.5"),
        (42, 0, "42", "42"),
        (1234.5, None, "1.235", "1,235"),  # auto: no decimals from 100 up
        (12.34, None, "12,3", "12.3"),
        (7.1, None, "7,1", "7.1"),  # auto drops trailing zeros
        (-0.001, 1, "0,0", "0.0"),  # no "-0"
    ],
)
def test_format_number(value, decimals, vi, en):
    assert format_number(value, "vi", decimals) == vi
    assert format_number(value, "en", decimals) == en


def test_format_number_missing():
    for missing in (None, float("nan"), pd.NA, math.nan):
        assert format_number(missing, "vi") == "—"
        assert format_number(missing, "en") == "—"


def test_format_value_with_unit():
    assert format_value(1234.5, "µg/m³", "vi", 1) == "1.234,5 µg/m³"
    assert format_value(95.26, "%", "vi", 1) == "95,3%"
    assert format_value(None, "%", "vi") == "—"
    assert format_value(3, "", "en") == "3"


@pytest.mark.parametrize(
    ("seconds", "vi", "en"),
    [
        (0.2, "vừa xong", "just now"),
        (5, "5 giây trước", "5 s ago"),
        (59.9, "59 giây trước", "59 s ago"),
        (180, "3 phút trước", "3 min ago"),
        (7200, "2 giờ trước", "2 h ago"),
        (3 * 86400 + 5, "3 ngày trước", "3 d ago"),
        (-4, "vừa xong", "just now"),  # clock skew never shows a negative age
    ],
)
def test_format_age(seconds, vi, en):
    assert format_age(seconds, "vi") == vi
    assert format_age(seconds, "en") == en


def test_format_age_missing():
    assert format_age(None, "vi") == "—"
    assert format_age(float("nan"), "en") == "—"


def test_to_local_converts_utc_to_plus_seven():
    local = to_local(datetime(2025, 1, 1, 17, 30, tzinfo=UTC))
    assert local.utcoffset() == timedelta(hours=7)
    assert (local.year, local.month, local.day, local.hour, local.minute) == (2025, 1, 2, 0, 30)
    assert local.isoformat().endswith("+07:00")


def test_to_local_naive_is_utc_and_pandas_works():
    assert to_local(datetime(2025, 6, 1, 0, 0)).hour == 7
    ts = pd.Timestamp("2025-06-01T00:00:00Z")
    assert to_local(ts, "Asia/Ho_Chi_Minh").hour == 7


def test_format_time():
    ts = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert format_time(ts, "vi") == "12:06:07 04/03/2025"
    assert format_time(ts, "en") == "2025-03-04 12:06:07"
    assert format_time(ts, "vi", style="time") == "12:06:07"
    assert format_time(None, "vi") == "—"
    assert format_time(pd.NaT, "en") == "—"


def test_no_hard_coded_vietnamese_in_layouts():
    """Visible strings come from i18n or config: no Vietnamese literal outside ioc/i18n.py."""
    vietnamese = re.compile(r"[ăâđêôơưĂÂĐÊÔƠƯạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]")
    for path in UI_FILES:
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            assert not vietnamese.search(code), f"{path.name}:{lineno}: {line.strip()}"
