"""Metric semantics in the catalog: every shipped metric declares what it is and how it combines, and a
catalog that gets it wrong stops start-up naming the metric and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ioc.config import ConfigError, copy_config, load_config
from tests.support import ROOT


def test_every_shipped_metric_declares_its_semantics():
    config = load_config(ROOT / "config", environ={})
    raw = yaml.safe_load((ROOT / "config" / "metrics.yaml").read_text(encoding="utf-8"))["metrics"]
    for item in raw:
        assert {"kind", "across", "over_time"} <= item.keys(), item["key"]
        if item.get("thresholds"):
            assert "scope" in item["thresholds"], item["key"]
    # Site-bound levels on their own datums are never a max across sites.
    assert config.metrics["river_level"].across == "worst_site"
    # Counts add up across districts; a brief reads them as day totals.
    assert (config.metrics["calls_113"].across, config.metrics["calls_113"].over_time) == \
        ("sum", "day_total")
    assert config.metrics["bed_occupancy"].weight == "beds"


def _edit_metric(folder: Path, key: str, change) -> None:
    path = folder / "metrics.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(next(m for m in data["metrics"] if m["key"] == key))
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@pytest.mark.parametrize(("key", "change", "reason"), [
    ("calls_113", lambda m: m.pop("kind"), "Field required"),
    ("calls_113", lambda m: m.update(across="mean"), "a count combines across sites by sum"),
    ("attendance_rate", lambda m: m.update(across="sum", weight=None), "cannot be summed"),
    ("attendance_rate", lambda m: m.pop("weight"), "needs a weight"),
    ("pm25", lambda m: m.update(over_time="day_total"), "only counts and rates add up to a day total"),
    ("river_level", lambda m: m["thresholds"].update(scope="province"), "needs thresholds with scope 'site'"),
    ("pm25", lambda m: m["thresholds"].pop("scope"), "must declare their scope"),
    ("pm25", lambda m: m["thresholds"].update(per_population=100000), "per_population scales counts"),
])
def test_wrong_semantics_stop_start_up(tmp_path, key, change, reason):
    folder = copy_config(tmp_path, {})
    _edit_metric(folder, key, change)
    with pytest.raises(ConfigError) as err:
        load_config(folder, environ={})
    assert err.value.file.endswith("metrics.yaml") and err.value.key.startswith("metrics.")
    assert reason in err.value.reason


def test_weighted_metric_needs_the_weight_on_every_site(tmp_path):
    folder = copy_config(tmp_path, {})
    path = folder / "region.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    hospital = next(e for e in data["entities"] if e["kind"] == "hospital")
    hospital["attrs"].pop("beds")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(folder, environ={})
    assert "weighted by 'beds'" in err.value.reason
