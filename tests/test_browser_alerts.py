"""/alerts and /shift in a real browser against the running product (the `simulated` runtime).

A firing alert is seeded straight into the database (the engine writes them in production) under a
rule of this test's own, so the engine never touches it; the operator acknowledges it through the UI.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from psycopg.types.json import Jsonb

from tests.support import RUN_ID, sign_in

WHO = "Nguyễn Văn An"


@pytest.fixture(scope="module")
def seeded(simulated) -> dict:
    """One firing critical bed-occupancy alert on a hospital, under a rule the engine does not run."""
    config, db = simulated.config, simulated.db
    hospital = next(e for e in config.region.entities if "bed_occupancy" in config.entity_metrics(e.id))
    rule = f"uitest-beds-{RUN_ID}"
    now = datetime.now(UTC)
    with db.connection() as conn:
        # The rule's definition gives the page the metric to chart (the engine runs config rules only).
        conn.execute("INSERT INTO alert_rules (name, definition, source) VALUES (%s, %s, 'test') "
                     "ON CONFLICT (name) DO NOTHING",
                     (rule, Jsonb({"name": rule, "condition": "above", "metric": "bed_occupancy",
                                   "warning": 1, "critical": 2})))
        alert_id = conn.execute(
            "INSERT INTO alerts (rule, metric, subject, domain, area, state, severity, value, threshold, "
            "pending_since, firing_since, last_active) "
            "VALUES (%s, 'bed_occupancy', %s, %s, %s, 'firing', 'critical', 97.5, 95, %s, %s, %s) "
            "RETURNING id",
            (rule, hospital.id, config.entity_domain(hospital.id), hospital.area, now - timedelta(minutes=20),
             now - timedelta(minutes=15), now)).fetchone()[0]
        conn.execute("INSERT INTO alert_events (alert_id, at, kind, detail) VALUES (%s, %s, 'firing', %s)",
                     (alert_id, now - timedelta(minutes=15), Jsonb({"severity": "critical", "value": 97.5,
                                                                    "threshold": 95})))
    return {"id": alert_id, "rule": rule, "entity": hospital}


def _row(page, grid: str, alert_id: int):
    return page.locator(f"#{grid} .ag-center-cols-container .ag-row[row-id='{alert_id}']")


def test_acknowledge_an_alert_from_the_page(page, web_url, simulated, seeded, output_dir):
    sign_in(page, web_url, "an")  # the operator on duty
    alert_id = seeded["id"]
    page.goto(web_url + "/alerts")
    row = _row(page, "alerts-active-grid", alert_id)
    row.wait_for(timeout=20_000)
    assert "Nguy hiểm" in row.inner_text()
    assert seeded["entity"].name.vi in row.inner_text()
    assert "alert-row-critical" in (row.get_attribute("class") or "")
    assert "Cảnh báo" in page.locator("#nav-links").inner_text()

    row.locator(".ag-cell").nth(4).click()
    detail = page.locator(f"#alerts-detail .alert-detail[data-alert-id='{alert_id}']")
    detail.wait_for(timeout=10_000)
    page.wait_for_selector("#alerts-detail-chart .js-plotly-plot")
    assert "Bắt đầu cảnh báo" in page.locator("#alerts-detail .alert-events").inner_text()
    page.wait_for_function(f"window.location.search.includes('alert={alert_id}')")

    page.fill("#alerts-ack-comment", "Đã gọi bệnh viện")
    page.click("#alerts-ack")
    page.wait_for_selector("#alerts-action-result .alert-success", timeout=10_000)
    page.wait_for_function("document.querySelector('#alerts-detail .alert-events').innerText.includes('Tiếp nhận')",
                           timeout=10_000)
    with simulated.db.connection() as conn:
        by, comment = conn.execute("SELECT acknowledged_by, ack_comment FROM alerts WHERE id = %s",
                                   (alert_id,)).fetchone()
        kinds = [k for (k,) in conn.execute("SELECT kind FROM alert_events WHERE alert_id = %s ORDER BY id",
                                            (alert_id,))]
    assert (by, comment) == (WHO, "Đã gọi bệnh viện")
    assert kinds[-1] == "acknowledged"
    page.wait_for_function(
        f"document.querySelector(\"#alerts-active-grid .ag-row[row-id='{alert_id}']\").innerText.includes({WHO!r})",
        timeout=10_000)

    # acknowledging again is refused with the reason, not a crash
    page.click("#alerts-ack")
    page.wait_for_selector("#alerts-action-result .alert-danger", timeout=10_000)
    assert "đã được tiếp nhận" in page.locator("#alerts-action-result").inner_text()

    # a comment lands in the thread
    page.fill("#alerts-comment-body", "Bệnh viện đã chuyển bớt bệnh nhân")
    page.click("#alerts-comment")
    page.wait_for_function("document.querySelector('#alerts-detail').innerText.includes('chuyển bớt bệnh nhân')",
                           timeout=10_000)
    page.screenshot(path=str(output_dir / "alerts.png"), full_page=True)
    foreign = [url for url in page.requests if not url.startswith(web_url) and not url.startswith("data:")]
    assert foreign == []


def test_filters_come_from_the_address(page, web_url, seeded):
    alert_id = seeded["id"]
    page.goto(web_url + f"/alerts?severity=critical&alert={alert_id}")
    _row(page, "alerts-active-grid", alert_id).wait_for(timeout=20_000)
    assert "Nguy hiểm" in page.locator("#alerts-severity").inner_text()
    page.wait_for_selector(f"#alerts-detail .alert-detail[data-alert-id='{alert_id}']")  # opened from ?alert=
    page.goto(web_url + "/alerts?severity=warning&lang=en")
    page.wait_for_selector("#alerts-active-grid .ag-root")
    page.wait_for_timeout(500)
    assert _row(page, "alerts-active-grid", alert_id).count() == 0
    assert "Warning" in page.locator("#alerts-severity").inner_text()


def test_shift_note_and_handover(page, web_url, simulated, seeded, output_dir):
    sign_in(page, web_url, "an")
    alert_id = seeded["id"]
    page.goto(web_url + "/shift")
    page.wait_for_selector("#shift-handover .handover-tile")
    page.fill("#shift-body", "Bàn giao: theo dõi công suất giường bệnh")
    page.fill("#shift-alert", str(alert_id))
    page.click("#shift-submit")
    page.wait_for_selector("#shift-result .alert-success", timeout=10_000)
    page.wait_for_function("document.querySelector('#shift-grid').innerText.includes('theo dõi công suất')",
                           timeout=10_000)
    row_text = page.locator("#shift-grid .ag-row", has_text="theo dõi công suất").first.inner_text()
    assert WHO in row_text and f"#{alert_id}" in row_text
    notes = page.locator("#shift-handover .handover-tile[data-key='notes']")
    page.wait_for_function(
        "Number(document.querySelector(\"#shift-handover .handover-tile[data-key='notes']\").dataset.count) >= 1",
        timeout=10_000)
    assert re.search(r"\d", notes.inner_text())
    with simulated.db.connection() as conn:
        stored = conn.execute("SELECT author, alert_id FROM shift_log WHERE body LIKE %s",
                              ("%theo dõi công suất%",)).fetchone()
    assert stored == (WHO, alert_id)
    # an empty note is refused
    page.fill("#shift-body", "")
    page.click("#shift-submit")
    page.wait_for_selector("#shift-result .alert-danger", timeout=10_000)
    page.screenshot(path=str(output_dir / "shift.png"), full_page=True)
