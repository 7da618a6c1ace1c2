"""The overview in a real browser (Debian's Chromium driven by Playwright) against the running product."""

from __future__ import annotations

import re

from tests.support import PAGE_TIMEOUT, sign_in


def test_overview_shows_five_domains_with_values_and_units(page, web_url, simulated, output_dir):
    page.goto(web_url + "/")
    page.wait_for_function("document.querySelectorAll('.metric-tile:not(.status-nodata)').length >= 15",
                           timeout=PAGE_TIMEOUT)
    cards = page.locator(".domain-card")
    assert cards.count() == 5
    titles = " ".join(cards.all_inner_texts())
    for name in ("Giáo dục", "Y tế", "Giao thông", "Nông nghiệp", "An ninh – trật tự"):
        assert name in titles
    config = simulated.config
    for domain in config.domains:
        tiles = page.locator(f".domain-card[data-domain='{domain}'] .metric-tile")
        assert tiles.count() == sum(m.headline and m.domain == domain for m in config.catalog.metrics)
        for tile in tiles.all():
            metric = config.metrics[tile.get_attribute("data-metric")]
            value = tile.locator(".tile-value").inner_text()
            if metric.reports == "school_hours" and value == "—":  # no school now (night, Sunday, holiday)
                continue
            assert re.search(r"\d", value), (metric.key, value)
            assert metric.unit_text("vi") in value, (metric.key, value)
            assert tile.locator(".tile-age").inner_text().strip()
    page.wait_for_function("document.querySelectorAll('.domain-card .js-plotly-plot').length === 5")
    page.screenshot(path=str(output_dir / "overview.png"), full_page=True)
    foreign = [url for url in page.requests if not url.startswith(web_url) and not url.startswith("data:")]
    assert foreign == []


def test_overview_refreshes_by_itself(page, web_url):
    page.goto(web_url + "/")
    page.wait_for_selector(".metric-tile")
    first = page.locator("#overview-refreshed").inner_text()
    page.wait_for_function(f"document.querySelector('#overview-refreshed').innerText !== {first!r}",
                           timeout=12_000)


def test_english_toggle(page, web_url):
    page.goto(web_url + "/?lang=en")
    page.wait_for_selector(".domain-card")
    text = page.locator(".domain-card").first.inner_text()
    assert "Education" in text and "Giáo dục" not in text


def test_feeds_page_shows_every_feed_with_its_state(page, web_url, simulated, output_dir):
    page.goto(web_url + "/feeds")
    page.wait_for_selector(".feeds-grid .ag-row")
    page.wait_for_function("document.querySelector('.feeds-grid').innerText.includes('Tốt')", timeout=15_000)
    text = page.locator(".feeds-grid").inner_text()
    for spec in simulated.config.feeds:
        assert spec.name in text
    row = page.locator(".feeds-grid .ag-center-cols-container .ag-row[row-id='simulator']")
    assert "Tốt" in row.inner_text()
    assert page.locator("#nav-links a[href='/feeds']").text_content() == "Nguồn dữ liệu"  # in the System menu
    page.screenshot(path=str(output_dir / "feeds.png"), full_page=True)


def test_manual_entry_from_the_form(page, web_url, simulated, output_dir):
    sign_in(page, web_url, "hoa")  # the education officer enters her domain's figure
    config = simulated.config
    office = next(e for e in config.region.entities if e.kind == "education_office")
    metric = config.metrics[config.entity_metrics(office.id)[0]]
    page.goto(web_url + "/manual")
    page.wait_for_selector("#manual-domain")
    page.click("#manual-entity")
    page.get_by_role("option", name=office.name.vi, exact=True).click()  # waits for the options to load
    page.wait_for_function("document.querySelector('#manual-entity').innerText.length > 0")
    page.click("#manual-metric")
    page.get_by_role("option", name=f"{metric.label.vi} ({metric.unit_text('vi')})", exact=True).click()
    page.fill("#manual-time", "2026-11-27T07:30")
    page.fill("#manual-value", str(metric.valid_range[0] + 1))
    page.fill("#manual-note", "báo qua điện thoại")
    page.click("#manual-submit")
    page.wait_for_selector("#manual-result .alert-success", timeout=15_000)
    page.wait_for_function("document.querySelector('#manual-grid').innerText.includes('Nguyễn Thị Hoa')")
    page.screenshot(path=str(output_dir / "manual.png"), full_page=True)
    with simulated.db.connection() as conn:
        row = conn.execute("SELECT entity, metric, ts, entered_by FROM manual_entries "
                           "ORDER BY id DESC LIMIT 1").fetchone()
    assert row[:2] == (office.id, metric.key) and row[3] == "Nguyễn Thị Hoa"
    assert row[2].isoformat() == "2026-11-27T00:30:00+00:00"  # 07:30 in Asia/Ho_Chi_Minh


def test_navbar_badge_counts_firing_alerts(page, web_url, simulated):
    with simulated.db.connection() as conn:
        conn.execute("INSERT INTO alerts (rule, subject, domain, state, severity, value, threshold, pending_since, "
                     "firing_since, last_active) VALUES ('badge-test', 'hosp-bgc-01', 'health', 'firing', 'critical', "
                     "97, 95, now(), now(), now())")
        expected = conn.execute("SELECT count(*) FROM alerts WHERE state = 'firing'").fetchone()[0]
    try:
        page.goto(web_url + "/feeds")
        page.wait_for_selector("#alert-badge.alert-badge-critical", timeout=15_000)
        assert int(page.locator("#alert-badge").inner_text()) >= expected
        page.click("#alert-badge")
        page.wait_for_url("**/alerts*")
    finally:
        with simulated.db.connection() as conn:
            conn.execute("UPDATE alerts SET state = 'resolved', resolved_at = now() WHERE rule = 'badge-test'")


def test_rule_edited_in_the_browser_is_stored_with_who(page, web_url, simulated, output_dir):
    page.goto(web_url + "/rules")
    row = page.locator(".ag-center-cols-container .ag-row[row-id='catalog:vn_aqi']")
    row.wait_for()
    row.click()
    page.wait_for_function("document.querySelector('#rules-editor').value.includes('vn_aqi')")
    text = page.input_value("#rules-editor").replace("warning: 101", "warning: 120")
    page.fill("#rules-editor", text)
    page.click("#rules-save")
    page.wait_for_selector("#rules-result .alert-success", timeout=15_000)
    page.screenshot(path=str(output_dir / "rules.png"), full_page=True)
    with simulated.db.connection() as conn:
        definition, source = conn.execute("SELECT definition, source FROM alert_rules "
                                          "WHERE name = 'catalog:vn_aqi'").fetchone()
    assert (definition["warning"], source) == (120.0, "Phạm Thu Hà")
    page.fill("#rules-editor", "name: [broken")
    page.click("#rules-save")
    page.wait_for_selector("#rules-result .alert-danger", timeout=15_000)
