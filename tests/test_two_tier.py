"""The two-tier province (after the 2025 reform: province → communes/wards) runs end to end: the product starts
with `region_file: region-two-tier.yaml` (disabled feeds name entities of the default layout and do not block
it), every page opens in a browser under the region's own title, and the brief is built and rendered."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import dash
import pytest

from ioc.brief import service
from ioc.config import DEFAULT_CONFIG_DIR, load_config
from ioc.i18n import t
from ioc.runtime import Runtime
from ioc.services import free_port
from tests.support import PASSWORD, RUN_ID, drop_database, isolated_config, serve, sign_in

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture(scope="module", autouse=True)
def default_title_after():
    """The product's title is the active region's (process-wide): give the next modules theirs back."""
    yield
    load_config(DEFAULT_CONFIG_DIR, environ={})


@pytest.fixture(scope="module")
def two_tier(tmp_path_factory, pg_server_url, mqtt_url) -> Iterator[Runtime]:
    folder = isolated_config(tmp_path_factory.mktemp("two-tier"), pg_server_url, mqtt_url, "twotier",
                             {"http": {"port": free_port()}},
                             feeds={"simulator": {"options": {"backfill": "26h", "interval": "1s"}}})
    settings = folder / "ioc.yaml"
    settings.write_text(settings.read_text(encoding="utf-8").replace("region_file: region.yaml",
                                                                     "region_file: region-two-tier.yaml"),
                        encoding="utf-8")
    config = load_config(folder, environ={})
    assert not all(f.enabled for f in config.feeds)  # disabled feeds naming wx-bgc, air-bgc-01… are configured
    rt = Runtime(config).start()
    yield rt
    rt.stop()
    drop_database(pg_server_url, f"ioc_test_{RUN_ID}_twotier")


@pytest.fixture(scope="module")
def two_tier_url(two_tier: Runtime) -> Iterator[str]:
    from ioc.auth import store as auth_store
    from ioc.web import create_app

    app = create_app(two_tier.config, two_tier)
    two_tier.register_http(app.server)
    auth_store.add_user(two_tier.db, "thu", PASSWORD, "admin", display_name="Trần Thị Thu", actor="tests")
    url, stop = serve(app.server, threads=4, port=two_tier.config.settings.http.port)
    yield url
    stop()


def test_the_region_names_the_product(two_tier):
    assert t("app.title", "vi") == "IOC Bắc Ninh" and t("app.title", "en") == "Bắc Ninh IOC"
    assert two_tier.config.identity.authority.vi == "UBND tỉnh Bắc Ninh"


def test_every_page_opens_under_the_two_tier_region(two_tier, two_tier_url, browser, output_dir):
    config = two_tier.config
    deadline = datetime.now(UTC) + timedelta(seconds=120)
    while datetime.now(UTC) < deadline and not service.has_data(config, two_tier.db,
                                                                 datetime.now(TZ).date() - timedelta(days=1)):
        threading.Event().wait(0.5)
    day = datetime.now(TZ).date() - timedelta(days=1)
    built = service.build(config, two_tier.db, day, ["vi"])
    assert built["vi"]["authority"] == "UBND tỉnh Bắc Ninh" and built["vi"]["date_line"].startswith("Bắc Ninh, ngày")
    entity = next(e.id for e in config.region.entities if e.kind == "river_gauge")
    fill = {"<domain>": "agriculture", "<entity_id>": entity, "<day>": day.isoformat()}
    paths = []
    for page in dash.page_registry.values():
        path = page.get("path_template") or page["path"]
        for key, value in fill.items():
            path = path.replace(key, value)
        paths.append(path)
    assert {"/", "/wall", "/domain/agriculture", f"/entity/{entity}", f"/brief/{day}"} <= set(paths)
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN", bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        sign_in(page, two_tier_url, "thu")
        for path in sorted(set(paths)):
            response = page.goto(two_tier_url + path)
            assert response is not None and response.ok, path
            page.wait_for_selector("#_pages_content > *", timeout=30_000)
            page.wait_for_load_state("networkidle", timeout=30_000)
            text = page.inner_text("body")
            assert "Không tìm thấy trang" not in text and "Traceback" not in text, path
            # the navbar's brand (page titles are fixed when a process first imports the pages)
            if page.locator("#brand-title").count():
                assert page.inner_text("#brand-title") == "IOC Bắc Ninh", path
            assert "IOC Bắc Giang" not in text, path
            name = path.strip("/").replace("/", "-") or "overview"
            page.screenshot(path=str(output_dir / f"two-tier-{name}.png"))
        page.goto(f"{two_tier_url}/brief/{day}?lang=vi")
        page.wait_for_selector(".brief-letterhead", timeout=30_000)
        brief_text = page.inner_text(".brief")
        assert "UBND TỈNH BẮC NINH" in brief_text and "Nơi nhận:" in brief_text
        assert "Bắc Ninh, ngày" in brief_text
    finally:
        context.close()
    assert not errors, errors


def test_feeds_are_checked_against_the_active_region_when_they_run(tmp_path):
    from ioc.config import ConfigError, copy_config
    from ioc.transports.contract import feed_parsers

    folder = copy_config(tmp_path / "two-tier", {"region_file": "region-two-tier.yaml"})
    config = load_config(folder, environ={})
    parsers = feed_parsers(config)  # disabled feeds naming the default layout's stations do not block start-up
    assert "openmeteo-weather" not in parsers and "simulator" in parsers
    enabled = copy_config(tmp_path / "enabled", {"region_file": "region-two-tier.yaml"},
                          feeds={"openmeteo-weather": {"enabled": True}})
    with pytest.raises(ConfigError) as err:
        feed_parsers(load_config(enabled, environ={}))
    assert "unknown entity 'wx-bgc'" in err.value.reason and err.value.key.startswith("feeds.")
