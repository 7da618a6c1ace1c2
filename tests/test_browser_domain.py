"""Domain and entity pages in a real browser (Debian's Chromium, Playwright) against the running product:
province → area → hospital in three clicks, the URL holding the view, the language toggle, no request
to another host; screenshots of every domain page and an entity page in test-output/."""

from __future__ import annotations

from ioc.i18n import MESSAGES
from tests.support import PAGE_TIMEOUT, wait_ready

PLOT = ".js-plotly-plot"


def _foreign(page, web_url) -> list[str]:
    return [u for u in page.requests if not u.startswith(web_url) and not u.startswith(("data:", "blob:"))]


def _wait_domain(page, domain: str, area: str | None = None) -> None:
    selector = f"#domain-page[data-domain='{domain}']" + (f"[data-area='{area}']" if area else "")
    page.wait_for_selector(selector, timeout=PAGE_TIMEOUT)
    wait_ready(page)
    page.wait_for_selector(f"#domain-map {PLOT} .scatterlayer .point", timeout=PAGE_TIMEOUT)
    page.wait_for_selector("#domain-grid .ag-row", state="attached", timeout=PAGE_TIMEOUT)


def _click_point(page, selector: str, index: int) -> None:
    """Click a plotly marker where it is drawn (plotly picks points from the mouse position)."""
    point = page.locator(selector).nth(index)
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def _busiest_hospital_area(config) -> tuple[str, str]:
    hospitals = [e for e in config.region.entities if e.kind == "hospital"]
    counts: dict[str, int] = {}
    for h in hospitals:
        counts[h.area] = counts.get(h.area, 0) + 1
    area = next(a.code for a in config.child_areas("BG") if counts.get(a.code))
    return area, next(h.id for h in hospitals if h.area == area)


def test_province_to_one_hospital_in_three_clicks(page, web_url, simulated, output_dir):
    config = simulated.config
    area, hospital_id = _busiest_hospital_area(config)
    hospital = config.entities[hospital_id]
    page.goto(web_url + "/")
    page.wait_for_selector(".domain-card[data-domain='health'] .domain-title a")
    # 1: the health card's title
    page.click(".domain-card[data-domain='health'] .domain-title a")
    page.wait_for_url("**/domain/health")
    _wait_domain(page, "health")
    assert page.locator("#domain-title").inner_text() == "Y tế"
    # 2: the area on the map (area markers are drawn in the order of the area tree)
    index = [a.code for a in config.child_areas("BG")].index(area)
    area_points = f"#domain-map {PLOT} .scatterlayer .trace:nth-last-child(2) .point"
    _click_point(page, area_points, index)
    page.wait_for_url(f"**/domain/health?area={area}")
    _wait_domain(page, "health", area)
    crumbs = page.locator("#domain-crumbs").inner_text()
    assert "Tỉnh Bắc Giang" in crumbs and config.areas[area][0].name.vi in crumbs
    domain_url = page.url
    # 3: the hospital's row in the table
    page.click(f"#domain-grid .ag-row[row-id='{hospital_id}'] .ag-cell[col-id='name']")
    page.wait_for_url(f"**/entity/{hospital_id}")
    page.wait_for_selector(f"#entity-page[data-entity='{hospital_id}']")
    assert page.locator("#entity-title").inner_text() == hospital.name.vi
    chart = page.locator("#entity-charts [data-metric='bed_occupancy']")
    assert "Công suất sử dụng giường bệnh" in chart.inner_text()
    page.wait_for_selector(f"#entity-charts [data-metric='bed_occupancy'] {PLOT} .scatterlayer .trace")
    page.wait_for_selector("#entity-feeds [data-feed='simulator']")
    page.screenshot(path=str(output_dir / "entity-hospital.png"), full_page=True)
    # The URLs are the views: reloading (or opening a shared link) gives the same page.
    page.reload()
    page.wait_for_selector(f"#entity-page[data-entity='{hospital_id}']")
    assert page.locator("#entity-title").inner_text() == hospital.name.vi
    page.goto(domain_url)
    _wait_domain(page, "health", area)
    # The range is part of the URL too, and a click on a bar drills like the map does.
    page.click("#domain-range label:has-text('7 ngày')")
    page.wait_for_url("**range=7d**")
    page.wait_for_selector("#domain-page[data-range='7d']")
    assert "area=" + area in page.url
    page.click(".crumb-domain")
    _wait_domain(page, "health", "BG")
    page.wait_for_selector(f"#domain-bars {PLOT} .barlayer .point")
    bar_area = page.evaluate("document.querySelector('#domain-bars .js-plotly-plot').data[0].customdata[0][1]")
    _click_point(page, f"#domain-bars {PLOT} .barlayer .point path", 0)
    page.wait_for_url(f"**area={bar_area}**")
    assert _foreign(page, web_url) == []


def test_every_domain_page_with_its_views(page, web_url, simulated, output_dir):
    config = simulated.config
    nav = page.locator("#nav-links")
    for domain in config.priority_domains:  # the plan targets' domain has no simulated data
        page.goto(web_url + f"/domain/{domain.key}")
        _wait_domain(page, domain.key)
        if domain.key != "education":  # attendance is sent in school hours only: at night or on Sunday, no line
            page.wait_for_selector(f"#domain-chart {PLOT} .scatterlayer .trace", state="attached",
                                   timeout=PAGE_TIMEOUT)
        assert page.locator("#domain-tiles .metric-tile").count() >= 3
        views = page.locator("#domain-views .drill-view")
        if domain.key == "education":  # its view is the page's own bars (attendance by area), with its note
            assert "ngày học gần nhất" in page.locator("#domain-bars").inner_text()
        else:
            assert views.count() >= 1
        # each view arrives from its own callback
        page.wait_for_function(f"document.querySelectorAll('#domain-views .drill-view-body .drill-section')"
                               f".length === {views.count()}", timeout=PAGE_TIMEOUT)
        page.locator("#domain-grid").scroll_into_view_if_needed()  # the grid draws its rows once in view
        page.wait_for_selector("#domain-grid .ag-row", timeout=PAGE_TIMEOUT)
        page.wait_for_timeout(300)  # plotly finishes drawing the last figures
        page.screenshot(path=str(output_dir / f"domain-{domain.key}.png"), full_page=True)
    # The navbar's domain menu lists the five domains.
    domains_menu = nav.locator("li:not([data-page^='group:']) > .nav-menu")
    domains_menu.locator("summary").click()
    assert [x.strip() for x in domains_menu.locator(".nav-menu-list a").all_inner_texts()] == \
        [d.name.vi for d in config.catalog.domains]
    page.goto(web_url + "/domain/agriculture?metric=river_level&range=7d")
    _wait_domain(page, "agriculture")
    page.wait_for_selector("#domain-chart .drill-multiple", timeout=PAGE_TIMEOUT)
    page.screenshot(path=str(output_dir / "domain-agriculture-river-levels.png"), full_page=True)
    page.goto(web_url + "/domain/nowhere")
    page.wait_for_selector(".domain-choices")
    assert "Không có lĩnh vực “nowhere”" in page.locator("#domain-page").inner_text()
    assert _foreign(page, web_url) == []


# Vietnamese labels of these pages that must not survive the switch to English.
_LABEL_KEYS = [k for k in MESSAGES if k.startswith(("domain.", "entity.", "status.", "tile.", "nav.", "attr."))
               and MESSAGES[k]["vi"] != MESSAGES[k]["en"] and "{" not in MESSAGES[k]["vi"]
               and len(MESSAGES[k]["vi"]) > 3]


def _vietnamese_left(text: str) -> list[str]:
    return [MESSAGES[k]["vi"] for k in _LABEL_KEYS if MESSAGES[k]["vi"] in text]


def test_english_toggle_changes_every_label(page, web_url, simulated, output_dir):
    area, hospital_id = _busiest_hospital_area(simulated.config)
    page.goto(web_url + f"/domain/health?area={area}")
    _wait_domain(page, "health", area)
    assert _vietnamese_left(page.locator("#app-shell").inner_text())  # the check sees Vietnamese when present
    page.click("#lang-en")
    page.wait_for_selector("#domain-page[data-lang='en']")
    _wait_domain(page, "health", area)
    text = page.locator("#app-shell").inner_text()
    assert _vietnamese_left(text) == []
    for label in ("Health", "Time range", "Status map", "Sites", "Export CSV", "Name", "Area", "Type", "Updated",
                  "Bed occupancy (of planned beds) by site (now)"):
        assert label in text, label
    page.screenshot(path=str(output_dir / "domain-health-en.png"), full_page=True)
    page.click(f"#domain-grid .ag-row[row-id='{hospital_id}'] .ag-cell[col-id='name']")
    page.wait_for_selector(f"#entity-page[data-entity='{hospital_id}'][data-lang='en']")
    text = page.locator("#app-shell").inner_text()
    assert _vietnamese_left(text) == []
    assert "Feed health" in text and "Bed occupancy (of planned beds)" in text and "Planned beds" in text
    assert _foreign(page, web_url) == []
