"""The one renderer of alert text: rule messages are data (named fields only), wording from ioc/i18n.py,
names from the config (the province from the region, never a hard-coded one)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ioc.alerts.events import AlertEvent
from ioc.alerts.text import AlertText, Facts, fill, template_problem
from ioc.config import load_config
from tests.support import ROOT


@pytest.fixture(scope="module")
def text() -> AlertText:
    return AlertText(load_config(ROOT / "config", environ={}))


@pytest.mark.parametrize("template, problem", [
    ("{subject}: {value} {unit} > {threshold} ({metric}, {area})", None),
    ("no fields at all", None),
    ("{nope}", "action.rule_message_field"),
    ("{value.__class__.__mro__}", "action.rule_message_field"),
    ("{value:>99999}", "action.rule_message_field"),
    ("{0}", "action.rule_message_field"),
    ("{}", "action.rule_message_field"),
    ("open { only", "action.rule_message_brace"),
    ("close } only", "action.rule_message_brace"),
])
def test_templates_are_checked(template, problem):
    found = template_problem(template)
    assert (found[0] if found else None) == problem


def test_fill_substitutes_and_never_formats():
    assert fill("{subject} {value}", {"subject": "A", "value": "1"}) == "A 1"
    assert fill("{nope} {value.__class__}", {"value": "1"}) == "{nope} {value.__class__}"
    assert fill("{subject}", {"subject": "{value}", "value": "x"}) == "{value}"  # values are not re-read


def test_sentences_per_condition(text):
    config = text.config
    station = next(e for e in config.region.entities if e.kind == "air_station")
    facts = Facts("above", "catalog:vn_aqi", station.id, "vn_aqi", station.area, 180.0, 151.0)
    metric = config.metrics["vn_aqi"]
    assert text.sentence(facts, "vi") == (f"{metric.label.vi} – {station.name.vi}: 180 {metric.unit_text('vi')} "
                                          "(ngưỡng 151)")
    silent = Facts("nodata", "r", station.id, "vn_aqi", station.area, 4000.0, 900.0)
    assert text.sentence(silent, "en").endswith(": no recent data")
    what, _ = text.headline(silent, "vi")
    assert "4" not in what  # the time without data is never shown as a value of the metric
    feed = Facts("feed_silent", "r", "simulator")
    assert text.sentence(feed, "vi") == "Nguồn dữ liệu simulator: không hoạt động"
    own = Facts("above", "r", station.id, "vn_aqi", None, 180.0, 151.0,
                {"vi": "{subject} ô nhiễm {value}", "en": "{subject} polluted {value}"})
    assert text.sentence(own, "en") == f"{station.name.en} polluted 180"


def test_mail_names_the_province_from_the_region(text):
    event = AlertEvent("firing", 7, "catalog:vn_aqi", "x", "Trạm X", "Station X", "environment", None, "critical",
                       180.0, 151.0, datetime(2025, 5, 20, 7, 5, tzinfo=UTC), "vi text", "en text")
    body = text.mail_body([event], "critical", "environment", "Asia/Ho_Chi_Minh")
    region = text.config.region.region.name
    assert f"IOC {region.vi} – 1 cảnh báo" in body and f"IOC {region.en} – 1 alert(s)" in body
    assert body.index("vi text") < body.index("en text") and "Nguy hiểm · Mới" in body
