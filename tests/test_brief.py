"""The daily brief: a known day seeded into a fresh database; every number checked against an independent
SQL computation; the PDF read back with pdftotext; a day without data; rebuilds; the CLI; e-mail."""

from __future__ import annotations

import copy
import email
import re
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ioc import manual
from ioc.brief import service
from ioc.brief.compute import compute, day_window
from ioc.brief_queries import brief, brief_archive, brief_pdf
from ioc.config import BriefSettings, SmtpSettings, load_config
from ioc.ingest import Validator
from ioc.models import Batch, Reading
from ioc.runtime import Runtime
from ioc.services import free_port
from tests.support import PASSWORD, ROOT, RUN_ID, drop_database, isolated_config, sign_in

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
FEED = "mqtt-native"
DAY = (datetime.now(TZ) - timedelta(days=1)).date()  # the seeded day: yesterday, as at 06:00 this morning
QUARTER = timedelta(minutes=15)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), TZ).astimezone(UTC)


def pdf_text(document: bytes, tmp_path: Path) -> str:
    path = tmp_path / "brief.pdf"
    path.write_bytes(document)
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True)
    return " ".join(out.stdout.decode("utf-8").split())


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, pg_server_url, mqtt_url):
    """A fresh database holding one known week: hospitals' bed occupancy, two schools' attendance, alerts
    and plan figures typed in on /manual. Other domains have no data at all."""
    folder = isolated_config(tmp_path_factory.mktemp("brief-config"), pg_server_url, mqtt_url, "brief")
    config = load_config(folder, environ={})
    rt = Runtime(config, with_simulator=False).open_storage()
    hospitals = [e.id for e in config.region.entities if e.kind == "hospital"][:3]
    schools = [e.id for e in config.region.entities if e.kind == "school"][:2]
    readings = []
    for back in range(7, -1, -1):
        day = DAY - timedelta(days=back)
        start = local(day, 0)
        for slot in range(96):  # bed occupancy every 15 minutes
            ts = start + slot * QUARTER
            if back:
                values = [80.0, 82.0, 70.0]
            else:
                values = [97.0, 96.0 if slot % 2 == 0 else None, 90.0 if 40 <= slot < 48 else 70.0]
            readings += [Reading(h, "bed_occupancy", ts, v) for h, v in zip(hospitals, values, strict=True)
                         if v is not None]
        for hour in range(24):  # attendance hourly
            ts = start + timedelta(hours=hour)
            readings += [Reading(schools[0], "attendance_rate", ts, 95.0),
                         Reading(schools[1], "attendance_rate", ts, 88.0 if not back else 95.0)]
    rt.writer.submit(Batch(readings, feed=FEED))
    assert rt.writer.flush(30)
    alerts = [  # rule, subject, domain, severity, firing, resolved, acknowledged
        ("catalog:bed_occupancy", hospitals[0], "health", "critical", local(DAY, 8), local(DAY, 10, 30),
         local(DAY, 8, 5)),
        ("catalog:bed_occupancy", hospitals[1], "health", "warning", local(DAY, 14), None, None),
        ("catalog:attendance_rate", schools[1], "education", "critical", local(DAY, 7), local(DAY, 9),
         local(DAY, 7, 20)),
        ("catalog:rainfall_24h", "wx-bgc", "agriculture", "warning", local(DAY, 0) - timedelta(hours=1),
         local(DAY, 2), None),  # fired the day before: not the day's
        ("mqtt-silent", FEED, None, "warning", local(DAY, 3), local(DAY, 3, 10), None),
    ]
    with rt.db.connection() as conn:
        for rule, subject, domain, severity, firing, resolved, acked in alerts:
            metric = rule.removeprefix("catalog:") if rule.startswith("catalog:") else None  # as the engine writes
            conn.execute("INSERT INTO alerts (rule, metric, condition, subject, domain, state, severity, "
                         "pending_since, firing_since, last_active, resolved_at, acknowledged_at, acknowledged_by) "
                         "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                         (rule, metric, "above" if metric else "feed_silent", subject, domain,
                          "resolved" if resolved else "firing", severity, firing, firing, resolved or firing, resolved,
                          acked, "trực ban" if acked else None))
    validator = Validator(config)
    plan = "plan-BG"
    manual.submit(validator, rt.writer.submit, plan, "online_services_level3_pct", local(DAY, 9), 56.5, "Sở KH&CN")
    manual.submit(validator, rt.writer.submit, plan, "new_5g_stations", local(DAY - timedelta(days=3), 9), 1250,
                  "Sở KH&CN")
    # entered this morning, after the day: not yesterday's figure
    manual.submit(validator, rt.writer.submit, plan, "online_services_level3_pct",
                  datetime.now(UTC) - timedelta(minutes=1), 60, "Sở KH&CN")
    rt.hospitals, rt.schools, rt.folder = hospitals, schools, folder
    yield rt
    rt.stop()
    drop_database(pg_server_url, f"ioc_test_{RUN_ID}_brief")


def sql(rt, query: str, *params):
    with rt.db.connection() as conn:
        return conn.execute(query, params).fetchall()


def sql_day_value(rt, metric: str, day: date) -> float | None:
    start, end = day_window(day, "Asia/Ho_Chi_Minh")
    return sql(rt, "SELECT avg(m) FROM (SELECT s.entity, avg(r.value) AS m FROM readings r JOIN series s "
                   "ON s.id = r.series_id WHERE s.metric = %s AND r.ts >= %s AND r.ts < %s GROUP BY s.entity) x",
               metric, start, end)[0][0]


@pytest.fixture(scope="module")
def data(seeded):
    return compute(seeded.config, seeded.db, DAY, now=datetime.now(UTC))


def indicator(data, domain: str, metric: str) -> dict:
    d = next(d for d in data["domains"] if d["key"] == domain)
    return next(i for i in d["indicators"] if i["metric"] == metric)


def test_indicators_equal_independent_sql(seeded, data):
    for domain, metric in (("health", "bed_occupancy"), ("education", "attendance_rate")):
        ind = indicator(data, domain, metric)
        value = sql_day_value(seeded, metric, DAY)
        previous = sql_day_value(seeded, metric, DAY - timedelta(days=1))
        base = [sql_day_value(seeded, metric, DAY - timedelta(days=k)) for k in range(1, 8)]
        baseline = sum(base) / len(base)
        assert ind["value"] == pytest.approx(value)
        assert ind["previous"] == pytest.approx(previous)
        assert ind["baseline"] == pytest.approx(baseline) and ind["baseline_days"] == 7
        assert ind["change_day"] == pytest.approx(value - previous)
        assert ind["change_baseline"] == pytest.approx(value - baseline)
    beds = indicator(data, "health", "bed_occupancy")
    assert beds["value"] == pytest.approx((97 + 96 + (88 * 70 + 8 * 90) / 96) / 3)
    # The levels are a hospital's (scope: site): the province is as bad as its worst hospital (97 %), not
    # its mean (93.7 %) judged against one hospital's levels (ioc/status.py).
    assert beds["status"] == "critical"
    start, end = day_window(DAY, "Asia/Ho_Chi_Minh")
    critical = sql(seeded, "SELECT s.entity FROM readings r JOIN series s ON s.id = r.series_id "
                           "WHERE s.metric = 'bed_occupancy' AND r.ts >= %s AND r.ts < %s "
                           "GROUP BY s.entity HAVING avg(r.value) >= 95 ORDER BY 1", start, end)
    assert beds["critical_sites"] == [r[0] for r in critical] == sorted(seeded.hospitals[:2])
    attendance = indicator(data, "education", "attendance_rate")
    assert attendance["status"] == "critical" and attendance["critical_sites"] == [seeded.schools[1]]
    # a domain with no data at all: no values, no status
    assert all(i["value"] is None and i["status"] == "nodata" for i in
               next(d for d in data["domains"] if d["key"] == "traffic")["indicators"])


def test_alerts_equal_independent_sql(seeded, data):
    start, end = day_window(DAY, "Asia/Ho_Chi_Minh")
    now = datetime.fromisoformat(data["generated_at"])
    for d in data["domains"]:
        total, critical, warning, unresolved, acked, ack_median, longest = sql(seeded, """
            SELECT count(*), count(*) FILTER (WHERE severity = 'critical'),
                   count(*) FILTER (WHERE severity = 'warning'),
                   count(*) FILTER (WHERE resolved_at IS NULL), count(acknowledged_at),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM acknowledged_at - firing_since)),
                   max(extract(epoch FROM coalesce(resolved_at, %s) - firing_since))
            FROM alerts WHERE domain = %s AND firing_since >= %s AND firing_since < %s""", now, d["key"], start, end)[0]
        a = d["alerts"]
        assert (a["total"], a["critical"], a["warning"], a["unresolved"], a["acknowledged"]) == \
            (total, critical, warning, unresolved, acked), d["key"]
        assert a["ack_median_s"] == (pytest.approx(float(ack_median)) if ack_median is not None else None)
        assert (a["longest"]["duration_s"] if a["longest"] else None) == \
            (pytest.approx(float(longest)) if longest is not None else None)
    health = next(d for d in data["domains"] if d["key"] == "health")["alerts"]
    assert (health["total"], health["critical"], health["unresolved"], health["ack_median_s"]) == (2, 1, 1, 300)
    assert data["alerts"]["total"] == sql(seeded, "SELECT count(*) FROM alerts WHERE firing_since >= %s "
                                                  "AND firing_since < %s", start, end)[0][0] == 4


def test_breaches_equal_independent_sql(seeded, data):
    start, end = day_window(DAY, "Asia/Ho_Chi_Minh")
    runs = sql(seeded, """
        WITH flagged AS (
            SELECT s.entity, r.ts, r.value, r.value >= 85 AS beyond,
                   row_number() OVER (PARTITION BY s.entity ORDER BY r.ts)
                   - row_number() OVER (PARTITION BY s.entity, r.value >= 85 ORDER BY r.ts) AS grp
            FROM readings r JOIN series s ON s.id = r.series_id
            WHERE s.metric = 'bed_occupancy' AND r.ts >= %s AND r.ts < %s)
        SELECT entity, extract(epoch FROM max(ts) - min(ts)) + 900 AS duration, max(value) AS peak
        FROM flagged WHERE beyond GROUP BY entity, grp ORDER BY duration DESC, peak DESC""", start, end)
    health = next(d for d in data["domains"] if d["key"] == "health")["breaches"]
    assert health["count"] == len(runs) == 3
    assert (health["longest"]["entity"], health["longest"]["duration_s"]) == (runs[0][0], pytest.approx(runs[0][1]))
    assert health["longest"]["duration_s"] == 86400
    largest = max(runs, key=lambda r: r[2])
    assert (health["largest"]["entity"], health["largest"]["peak"]) == (largest[0], largest[2]) == \
        (seeded.hospitals[0], 97.0)
    two_hours = next(r for r in runs if r[0] == seeded.hospitals[2])
    assert two_hours[1] == 7200  # 10:00–12:00, eight readings of 15 minutes


def test_completeness_equals_independent_sql(seeded, data):
    start, end = day_window(DAY, "Asia/Ho_Chi_Minh")
    expected, received = sql(seeded, """
        SELECT sum(floor(86400 / extract(epoch FROM m.cadence))),
               sum(least(coalesce(c.n, 0), floor(86400 / extract(epoch FROM m.cadence))))
        FROM series s JOIN latest l ON l.series_id = s.id JOIN metrics m ON m.key = s.metric
        LEFT JOIN (SELECT series_id, count(*) AS n FROM readings WHERE ts >= %s AND ts < %s GROUP BY 1) c
          ON c.series_id = s.id
        WHERE l.feed = %s""", start, end, FEED)[0]
    feed = next(f for f in data["feeds"] if f["feed"] == FEED)
    assert (feed["expected"], feed["received"]) == (int(expected), int(received)) == \
        (3 * 96 + 2 * 24, 96 + 48 + 96 + 48)
    assert data["missing_feeds"] == ["mqtt-senml"]  # enabled, nothing received; disabled feeds are not expected
    health = next(d for d in data["domains"] if d["key"] == "health")["completeness"]
    per_series = {m.key: 86400 // int(m.cadence.total_seconds()) for m in seeded.config.metrics.values()}
    health_expected = sum(per_series[m] for e in seeded.config.region.entities
                          if seeded.config.entity_domain(e.id) == "health" for m in seeded.config.entity_metrics(e.id))
    assert (health["expected"], health["received"]) == (health_expected, 96 + 48 + 96)


def test_plan_progress_uses_the_figure_known_at_the_end_of_the_day(seeded, data):
    _, end = day_window(DAY, "Asia/Ho_Chi_Minh")
    rows = {r["metric"]: r for r in data["plan"]}
    assert set(rows) == {m.key for m in seeded.config.metrics.values() if m.targets}
    for key, row in rows.items():
        found = sql(seeded, "SELECT r.value FROM readings r JOIN series s ON s.id = r.series_id "
                            "WHERE s.metric = %s AND r.ts < %s ORDER BY r.ts DESC LIMIT 1", key, end)
        assert row["value"] == (found[0][0] if found else None), key
    level3 = rows["online_services_level3_pct"]
    assert level3["value"] == 56.5
    assert [(t["year"], t["value"], t["progress_pct"]) for t in level3["targets"]] == \
        [(2025, 70, pytest.approx(56.5 / 70 * 100)), (2030, 100, pytest.approx(56.5))]
    assert rows["new_5g_stations"]["targets"][0]["progress_pct"] == pytest.approx(1250 / 3000 * 100)
    assert rows["agencies_on_wan_pct"]["value"] is None


def test_sentences_say_only_what_the_numbers_say(seeded):
    content = service.build(seeded.config, seeded.db, DAY, ["vi", "en"])
    vi, en = content["vi"], content["en"]
    health = next(d for d in vi["domains"] if d["key"] == "health")
    beds = health["sentences"][0]
    assert beds.startswith("Công suất sử dụng giường bệnh trung bình 88,2%, cao hơn 10,9 điểm phần trăm so với "
                           "trung bình 7 ngày (77,3%); 2 nơi từ 95% trở lên (")
    assert "Trong ngày có 4 cảnh báo, 2 ở mức nguy hiểm; 1 chưa kết thúc." in vi["summary"]
    assert "1 nguồn không gửi số liệu: mqtt-senml." in vi["summary"]
    assert any(s.startswith("Vượt ngưỡng lớn nhất: Công suất sử dụng giường bệnh tại ") and "đạt 97%" in s
               for s in health["sentences"])
    en_beds = next(d for d in en["domains"] if d["key"] == "health")["sentences"][0]
    assert en_beds.startswith("Inpatient bed occupancy averaged 88.2%, 10.9 points above its 7-day average (77.3%); "
                              "2 sites at or above 95% (")
    traffic = next(d for d in vi["domains"] if d["key"] == "traffic")
    assert traffic["sentences"] == ["Không nhận được số liệu nào của lĩnh vực (dự kiến 9.288)."]
    for domain in vi["domains"]:  # every sentence carries a number
        assert all(re.search(r"\d", s) for s in domain["sentences"]), domain["sentences"]
    assert all(re.search(r"\d", s) for s in vi["summary"])


def test_pdf_holds_the_key_figures_with_diacritics(seeded, tmp_path, output_dir):
    service.build(seeded.config, seeded.db, DAY, ["vi"])
    document = brief_pdf(seeded.db, DAY, "vi")
    assert document.startswith(b"%PDF")
    (output_dir / "brief.pdf").write_bytes(document)
    text = pdf_text(document, tmp_path)
    assert f"Bản tin điều hành ngày {DAY:%d/%m/%Y}" in text
    assert "Công suất sử dụng giường bệnh trung bình 88,2%" in text
    assert "Trong ngày có 4 cảnh báo, 2 ở mức nguy hiểm; 1 chưa kết thúc." in text
    assert "Dịch vụ công trực tuyến mức độ 3" in text and "56,5%" in text and "70% năm 2025" in text
    assert "An ninh – trật tự" in text and "Nông nghiệp" in text
    assert re.search(r"Trang 1/\d", text) and "Lập lúc" in text
    fonts = subprocess.run(["pdffonts", str(tmp_path / "brief.pdf")], capture_output=True, check=True).stdout.decode()
    assert "BeVietnamPro" in fonts and " yes " in fonts  # embedded
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", str(tmp_path / "brief.pdf"),
                    str(output_dir / "brief-pdf-page")], check=True)


def test_rebuilding_a_day_replaces_it(seeded):
    service.build(seeded.config, seeded.db, DAY, ["vi"])
    first = brief(seeded.db, DAY, "vi")["generated_at"]
    service.build(seeded.config, seeded.db, DAY, ["vi"])
    archive = brief_archive(seeded.db)
    assert len(archive[(archive["day"] == DAY) & (archive["lang"] == "vi")]) == 1
    assert brief(seeded.db, DAY, "vi")["generated_at"] > first


def test_a_day_without_data_is_an_honest_brief(seeded, tmp_path):
    empty = DAY - timedelta(days=40)
    content = service.build(seeded.config, seeded.db, empty, ["vi"])["vi"]
    assert content["missing_feeds"] == [FEED, "mqtt-senml"]
    assert content["summary"][0].startswith("Không nhận được số liệu nào trong ngày (dự kiến ")
    assert "2 nguồn không gửi số liệu: mqtt-native, mqtt-senml." in content["summary"]
    assert all(i["value"] is None for d in content["domains"] for i in d["indicators"])
    assert all(t["progress_pct"] is None for row in content["plan"] for t in row["targets"])  # before any entry
    text = pdf_text(brief_pdf(seeded.db, empty, "vi"), tmp_path)
    assert "2 nguồn không gửi số liệu: mqtt-native, mqtt-senml." in text and "chưa nhập" in text


def test_cli_builds_a_day_with_the_product_configuration(seeded, tmp_path):
    out = tmp_path / "cli.pdf"
    run = subprocess.run([sys.executable, "app.py", "--config-dir", str(seeded.folder), "brief", "--date",
                          DAY.isoformat(), "--lang", "en", "--out", str(out)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"written to {out}" in run.stdout
    text = pdf_text(out.read_bytes(), tmp_path)
    assert f"Daily brief for {DAY.isoformat()}" in text and "Inpatient bed occupancy averaged 88.2%" in text
    assert brief(seeded.db, DAY, "en")["content"]["lang"] == "en"
    bad = subprocess.run([sys.executable, "app.py", "--config-dir", str(seeded.folder), "brief", "--date", "27/11"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "not a date" in bad.stderr


def test_email_reaches_a_local_smtp_server_with_the_pdf(seeded):
    from aiosmtpd.controller import Controller

    received: list[bytes] = []
    arrived = threading.Event()

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's API)
            received.append(envelope.content)
            arrived.set()
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = copy.copy(seeded.config)
        config.settings = config.settings.model_copy(update={"brief": BriefSettings(
            email=SmtpSettings(host="127.0.0.1", port=port,
                               sender="ioc@bacgiang.gov.vn", recipients=["lanhdao@bacgiang.gov.vn"]))})
        service.scheduled_build(config, seeded.db, DAY)
        assert arrived.wait(10)
    finally:
        controller.stop()
    mail = email.message_from_bytes(received[0], policy=email.policy.default)
    assert mail["To"] == "lanhdao@bacgiang.gov.vn"
    assert f"Bản tin điều hành ngày {DAY:%d/%m/%Y}" in mail["Subject"]
    attachment = next(mail.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"brief-{DAY}-vi.pdf"
    assert attachment.get_content() == brief_pdf(seeded.db, DAY, "vi")
    assert "Trong ngày có 4 cảnh báo" in mail.get_body(("plain",)).get_content()
    assert brief(seeded.db, DAY, "vi")["emailed_at"] is not None


def test_last_due_day_follows_the_build_time():
    config = load_config(ROOT / "config", environ={})
    before = datetime(2026, 3, 10, 5, 59, tzinfo=TZ)
    after = datetime(2026, 3, 10, 6, 0, tzinfo=TZ)
    assert service.last_due_day(config, before) == date(2026, 3, 8)
    assert service.last_due_day(config, after) == date(2026, 3, 9)


@pytest.fixture(scope="module")
def brief_url(seeded):
    """The product's web app over the seeded database (same app factory and WSGI server as app.py)."""
    from waitress import create_server

    from ioc.auth import store as auth_store
    from ioc.brief import web as brief_web
    from ioc.web import create_app

    service.build(seeded.config, seeded.db, DAY, ["vi", "en"])
    auth_store.add_user(seeded.db, "nam", PASSWORD, "leader", display_name="Hoàng Văn Nam", actor="tests")
    auth_store.add_user(seeded.db, "an", PASSWORD, "operator", display_name="Nguyễn Văn An", actor="tests")
    app = create_app(seeded.config, seeded)
    brief_web.register(app.server, seeded)
    port = free_port()
    server = create_server(app.server, host="127.0.0.1", port=port, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    yield f"http://127.0.0.1:{port}"
    server.close()


def test_brief_page_archive_and_pdf_link(browser, brief_url, output_dir):
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="vi-VN")
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        sign_in(page, brief_url, "an")  # an operator does not read briefs
        assert page.request.get(f"{brief_url}/brief/{DAY}.pdf?lang=vi").status == 403
        sign_in(page, brief_url, "nam")
        page.goto(f"{brief_url}/brief/{DAY}?lang=vi")
        page.wait_for_selector("#brief-summary", timeout=20000)
        summary = page.inner_text("#brief-summary")
        assert "Trong ngày có 4 cảnh báo, 2 ở mức nguy hiểm; 1 chưa kết thúc." in summary
        health = page.inner_text("#brief-health")
        assert "Công suất sử dụng giường bệnh trung bình 88,2%" in health and "+10,9 điểm %" in health
        assert page.locator("#brief-health tr[data-metric='bed_occupancy'] .brief-bad").count() == 2
        page.screenshot(path=str(output_dir / "brief-page.png"), full_page=True)
        page.emulate_media(media="print")
        assert not page.is_visible(".ioc-navbar") and not page.is_visible("#brief-print")
        page.screenshot(path=str(output_dir / "brief-page-print.png"), full_page=True)
        page.emulate_media(media="screen")
        pdf = page.request.get(f"{brief_url}/brief/{DAY}.pdf?lang=vi")
        assert pdf.ok and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF")
        assert page.request.get(f"{brief_url}/brief/1999-01-01.pdf").status == 404
        page.goto(f"{brief_url}/brief?lang=en")
        page.wait_for_selector("#brief-archive", timeout=20000)
        assert page.locator(f"#brief-archive a[href='/brief/{DAY}?lang=en']").count() == 1
        page.goto(f"{brief_url}/brief/1999-01-01")
        page.wait_for_selector("#brief-missing", timeout=20000)
        assert all(url.startswith(brief_url) or url.startswith("data:") for url in requests), requests
    finally:
        context.close()


def test_a_missed_build_is_caught_up_at_start(tmp_path, pg_server_url, mqtt_url):
    folder = isolated_config(tmp_path / "config", pg_server_url, mqtt_url, "briefcu",
                             {"brief": {"catch_up_delay": "0s", "catch_up_days": 2, "languages": ["vi", "en"]},
                              "http": {"port": free_port()}})
    config = load_config(folder, environ={})
    rt = Runtime(config, with_simulator=False).start()
    try:
        due = service.last_due_day(config, datetime.now(UTC))
        deadline = datetime.now(UTC) + timedelta(seconds=60)
        while datetime.now(UTC) < deadline and len(brief_archive(rt.db)) < 4:
            threading.Event().wait(0.2)
        archive = brief_archive(rt.db)
        assert sorted(zip(archive["day"], archive["lang"], strict=True)) == \
            [(due - timedelta(days=1), "en"), (due - timedelta(days=1), "vi"), (due, "en"), (due, "vi")]
        job = rt.scheduler.get_job("daily-brief")
        next_run = job.next_run_time.astimezone(TZ)
        assert (next_run.hour, next_run.minute) == (6, 0)
        assert next_run - datetime.now(TZ) <= timedelta(days=1)
        assert service.catch_up(config, rt.db) == []  # nothing left to catch up
    finally:
        rt.stop()
        drop_database(pg_server_url, f"ioc_test_{RUN_ID}_briefcu")
