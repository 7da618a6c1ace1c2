"""Configuration: the shipped files validate; mistakes stop start-up naming file, key and reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ioc.config import ConfigError, copy_config, load_config, parse_duration
from tests.support import ROOT


def test_shipped_config_validates():
    config = load_config(ROOT / "config", environ={})
    assert {d.key for d in config.priority_domains} == {"education", "health", "traffic", "agriculture", "security"}
    assert config.settings.http.port == 8050


def test_check_config_command():
    result = subprocess.run([sys.executable, "app.py", "--check-config"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout


def edit(folder: Path, name: str, change) -> None:
    path = folder / name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_misspelt_key_names_file_and_key(tmp_path):
    folder = copy_config(tmp_path, {"ingest": {"batch_max_rowz": 10}})
    with pytest.raises(ConfigError) as err:
        load_config(folder, environ={})
    assert err.value.file.endswith("ioc.yaml")
    assert err.value.key == "ingest.batch_max_rowz"
    assert err.value.reason == "unknown key"


def test_bad_value_names_file_key_and_reason(tmp_path):
    folder = copy_config(tmp_path, {"ui": {"refresh": "soon"}})
    with pytest.raises(ConfigError) as err:
        load_config(folder, environ={})
    assert (err.value.key, "duration" in err.value.reason) == ("ui.refresh", True)


def test_bad_metric_threshold_order(tmp_path):
    folder = copy_config(tmp_path, {})

    def swap(data):
        metric = next(m for m in data["metrics"] if m.get("thresholds"))
        t = metric["thresholds"]
        t["warning"], t["critical"] = t["critical"], t["warning"]
        if t["warning"] == t["critical"]:
            t["critical"] = t["warning"] - 1 if t["direction"] == "above" else t["warning"] + 1

    edit(folder, "metrics.yaml", swap)
    with pytest.raises(ConfigError) as err:
        load_config(folder, environ={})
    assert err.value.file.endswith("metrics.yaml")
    assert err.value.key.startswith("metrics.") and err.value.key.endswith(".thresholds")
    assert "critical must be beyond warning" in err.value.reason


def test_entity_in_unknown_area(tmp_path):
    folder = copy_config(tmp_path, {})
    edit(folder, "region.yaml", lambda data: data["entities"][3].update(area="NOWHERE"))
    with pytest.raises(ConfigError) as err:
        load_config(folder, environ={})
    assert (err.value.key, err.value.reason) == ("entities.3.area", "unknown area 'NOWHERE'")


def test_invalid_yaml_names_line(tmp_path):
    folder = copy_config(tmp_path, {})
    (folder / "ioc.yaml").write_text("http:\n  port: [8050\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(folder, environ={})
    assert "invalid YAML" in err.value.reason and "line" in err.value.reason


def test_environment_overrides(tmp_path):
    folder = copy_config(tmp_path, {})
    config = load_config(folder, environ={"IOC_HTTP_PORT": "9001", "IOC_DATABASE_URL": "postgresql://x/y",
                                          "IOC_MQTT_URL": "mqtt://broker:1884", "IOC_HTTP_HOST": "0.0.0.0"})
    http = config.settings.http
    assert (http.port, http.host) == (9001, "0.0.0.0")
    assert config.settings.database.url == "postgresql://x/y"
    assert config.settings.mqtt.url == "mqtt://broker:1884"
    with pytest.raises(ConfigError) as err:
        load_config(folder, environ={"IOC_HTTP_PORT": "eighty"})
    assert err.value.file == "$IOC_HTTP_PORT"


def test_config_dir_from_environment(tmp_path):
    folder = copy_config(tmp_path, {"http": {"port": 8123}})
    assert load_config(environ={"IOC_CONFIG_DIR": str(folder)}).settings.http.port == 8123


def test_bad_config_stops_app_with_message(tmp_path):
    folder = copy_config(tmp_path, {"mqtt": {"qos": 2}})
    result = subprocess.run([sys.executable, "app.py", "--config-dir", str(folder)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "ioc.yaml: mqtt.qos: unknown key" in result.stderr


@pytest.mark.parametrize(("text", "seconds"), [("500ms", 0.5), ("30s", 30), ("5m", 300), ("1h", 3600),
                                               ("7d", 604800), (12, 12)])
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds
