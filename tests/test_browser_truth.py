"""Every page in a real browser (Debian's Chromium), in both languages, at 1920×1080 and 3840×2160: nothing
overlaps inside a tile, no figure's number or unit is split across lines, every chart is at least 150 px tall,
no known English UI string shows in Vietnamese (nor Vietnamese in English), and once the simulator has warmed up
no tile is stale and nothing says "Không có dữ liệu". Screenshots of each page go to test-output/
(truth-<page>-<lang>-<size>.png)."""

from __future__ import annotations

import pytest

from tests.support import sign_in

VIEWPORTS = {"1080p": (1920, 1080), "4k": (3840, 2160)}
PAGES = ["/", "/wall", "/domain/health", "/domain/agriculture", "/entity/gauge-plt", "/entity/hosp-bgc-01",
         "/alerts", "/rules", "/feeds", "/shift", "/manual", "/users", "/audit", "/brief"]
LIVE = ("/", "/wall")  # pages of live tiles: after warm-up, nothing stale and nothing without data
PLOT = ".js-plotly-plot"

# UI words of ours and of AG Grid that must not show in Vietnamese mode (whole words, case-sensitive).
ENGLISH = ["No Rows To Show", "No data", "Stale", "Updated", "Loading", "Page", "Normal", "Warning", "Critical",
           "sources", "Filter", "Contains", "Equals", "Worst", "config", "Metric", "Feed", "Sign out"]
# Vietnamese UI words that must not show in English mode.
VIETNAMESE = ["Bình thường", "Cảnh báo", "Nguy hiểm", "Không có dữ liệu", "Cập nhật", "nguồn", "Tổng quan",
              "Trang", "Nặng nhất", "Dữ liệu cũ", "Lọc", "Đăng xuất"]

OVERLAPS = """() => {
  const visible = e => { const r = e.getBoundingClientRect(); const s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const out = [];
  for (const tile of document.querySelectorAll('.metric-tile')) {
    if (!visible(tile)) continue;
    const box = tile.getBoundingClientRect();
    const parts = Array.from(tile.children).filter(e => visible(e) && !e.classList.contains('sparkline'));
    for (const part of parts) {
      const r = part.getBoundingClientRect();
      if (r.bottom > box.bottom + 1 || r.top < box.top - 1)
        out.push(`${tile.dataset.metric}: ${part.className} outside`);
    }
    for (let i = 0; i < parts.length; i++) for (let j = i + 1; j < parts.length; j++) {
      const a = parts[i].getBoundingClientRect(), b = parts[j].getBoundingClientRect();
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 1 && h > 1) out.push(`${tile.dataset.metric}: ${parts[i].className} over ${parts[j].className}`);
    }
    // a figure's number and unit are each one unbroken line, inside the tile
    for (const piece of tile.querySelectorAll('.tile-value .nowrap')) {
      const r = piece.getBoundingClientRect();
      if (piece.getClientRects().length > 1) out.push(`${tile.dataset.metric}: '${piece.textContent}' split`);
      if (r.right > box.right + 1) out.push(`${tile.dataset.metric}: '${piece.textContent}' wider than its tile`);
    }
  }
  return out;
}"""

CROWDED = """() => {
  for (const tile of document.querySelectorAll('.metric-tile')) {
    tile.classList.add('stale');
    const state = tile.querySelector('.tile-status, .tile-reason');
    const badge = document.createElement('span');
    badge.className = 'badge stale-badge';
    badge.textContent = 'Dữ liệu cũ';
    if (state) state.replaceWith(badge);
    if (tile.classList.contains('wall-tile')) continue;
    const why = document.createElement('span');
    why.className = 'tile-reason';
    why.textContent = 'Nặng nhất: Trạm thủy văn Phủ Lạng Thương (sông Thương) 4,8 m · dưới BĐ1 0,5 m';
    tile.appendChild(why);
  }
  return (""" + OVERLAPS + """)();
}"""

# Grid headers: each has words, and none is cut with an ellipsis.
HEADERS = """() => Array.from(document.querySelectorAll('.ag-header-cell')).filter(h => h.offsetParent !== null)
  .flatMap(h => {
    const text = h.querySelector('.ag-header-cell-text');
    // textContent: a grid below the fold (content-visibility) has no rendered innerText yet
    if (!text || !text.textContent.trim()) return [`column ${h.getAttribute('col-id')} has no header`];
    return text.scrollWidth > text.clientWidth + 1 ? [`header '${text.textContent}' is cut`] : [];
  })"""

CHART_HEIGHTS = f"""() => Array.from(document.querySelectorAll('{PLOT}'))
  .filter(e => e.offsetParent !== null)
  .map(e => [e.closest('[data-metric]')?.dataset.metric || e.parentElement.id || e.className,
             Math.round(e.getBoundingClientRect().height)])"""


def _words(text: str, words: list[str]) -> list[str]:
    import re

    return [w for w in words if re.search(rf"(?<![\w]){re.escape(w)}(?![\w])", text)]


def _ready(page, path: str) -> None:
    """Wait for the page's own content (Dash renders after load), then for its charts to be drawn."""
    page.wait_for_selector("#_pages_content > *, #wall-body > *", timeout=60_000)
    if path in LIVE:
        page.wait_for_selector(".metric-tile[data-status]", timeout=60_000)
    if path.startswith(("/domain", "/entity", "/")) and path not in ("/alerts", "/rules", "/feeds", "/shift",
                                                                      "/manual", "/users", "/audit", "/brief"):
        page.wait_for_selector(f"{PLOT} .main-svg", timeout=60_000)
    if path in ("/alerts", "/rules", "/feeds", "/users", "/audit", "/shift", "/manual"):
        page.wait_for_selector(".ag-root", timeout=60_000)
    # A grid draws its header cells first and their words a frame later: wait for the words, however slow.
    page.wait_for_function("""() => Array.from(document.querySelectorAll('.ag-header-cell'))
      .filter(h => h.offsetParent !== null)
      .every(h => (h.querySelector('.ag-header-cell-text')?.textContent || '').trim())""", timeout=60_000)
    page.wait_for_timeout(500)  # let plotly finish its resize to the container


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("size", ["1080p", "4k"])
def test_every_page_tells_the_truth(browser, web_url, people, simulated, output_dir, size, lang):
    width, height = VIEWPORTS[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="vi-VN", bypass_csp=True)
    page = context.new_page()
    problems: list[str] = []
    try:
        sign_in(page, web_url, "ha")
        for path in PAGES:
            page.goto(f"{web_url}{path}?lang={lang}")
            _ready(page, path)
            name = path.strip("/").replace("/", "-") or "overview"
            page.screenshot(path=str(output_dir / f"truth-{name}-{lang}-{size}.png"))
            problems += [f"{path}: {p}" for p in page.evaluate(OVERLAPS)]
            problems += [f"{path}: chart {what} is {h} px tall" for what, h in page.evaluate(CHART_HEIGHTS) if h < 150]
            problems += [f"{path}: {p}" for p in page.evaluate(HEADERS)]
            text = page.locator("body").inner_text()
            foreign = _words(text, ENGLISH if lang == "vi" else VIETNAMESE)
            problems += [f"{path}: '{w}' in {lang}" for w in foreign]
            if path in LIVE:
                stale = page.locator(".stale-badge").count()
                if stale:
                    problems.append(f"{path}: {stale} stale badges")
                if "Không có dữ liệu" in text or "No data" in text:
                    problems.append(f"{path}: says there is no data")
            if path in LIVE:
                # Every tile in its most crowded state — stale, with the longest reason — still overlaps nothing.
                problems += [f"{path} (stale): {p}" for p in page.evaluate(CROWDED)]
            if path == "/":
                overflow = page.evaluate("document.documentElement.scrollHeight - window.innerHeight")
                if overflow > 0:
                    problems.append(f"/: the overview is {overflow} px taller than the screen")
    finally:
        context.close()
    assert problems == []
