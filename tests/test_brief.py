"""The daily brief on fixed simulated days: every day total recomputed in the test from the simulator's own
readings, golden texts in Vietnamese and English, the PDF read back (fonts, sections, pages looked at), a data
gap in plain words, no brief before any data, rebuilds, the CLI, e-mail, the page and the catch-up at start."""

from __future__ import annotations

import copy
import email
import os
import subprocess
import sys
import threading
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

import ioc.vn_aqi as vn_aqi
from feeds.simulator import Simulator
from ioc.brief import service
from ioc.brief.compute import breaches, day_window
from ioc.brief.sentences import issue_text
from ioc.brief_queries import brief, brief_archive, brief_pdf
from ioc.config import BriefSettings, SimulatorSettings, SmtpSettings, load_config
from ioc.models import Batch, Reading
from ioc.runtime import Runtime
from ioc.services import free_port
from tests.support import PASSWORD, ROOT, RUN_ID, drop_database, isolated_config, serve, sign_in

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 7, 20)          # a Monday in the rainy season: a storm, rivers over their alarm levels
LAST_YEAR = date(2025, 7, 20)
NOW = datetime(2026, 7, 21, 6, 0, tzinfo=TZ).astimezone(UTC)  # built at 06:00 the next morning
SILENT = "wx-yth"                # Trạm đo mưa Yên Thế: nothing from 10:00 to 13:00 on DAY
GOLDEN = ROOT / "tests" / "fixtures"


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), TZ).astimezone(UTC)


def pdf_text(document: bytes, tmp_path: Path) -> str:
    path = tmp_path / "brief.pdf"
    path.write_bytes(document)
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True)
    return " ".join(out.stdout.decode("utf-8").split())


def simulated(config, start: datetime, end: datetime) -> list[Reading]:
    sim = Simulator(config, SimulatorSettings(seed=42, anomaly_rate=0.002))
    return [r for chunk in sim.backfill(start, end) for r in chunk]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, pg_server_url, mqtt_url):
    """A fresh database holding the simulator's readings for the 8 days up to DAY and for the same day a year
    earlier, a 3-hour silence of one rain station, alerts and plan figures typed in on /manual."""
    folder = isolated_config(tmp_path_factory.mktemp("brief-config"), pg_server_url, mqtt_url, "brief")
    config = load_config(folder, environ={})
    rt = Runtime(config, with_simulator=False).open_storage()
    readings = simulated(config, local(DAY - timedelta(days=8), 0), local(DAY + timedelta(days=1), 0))
    readings += simulated(config, local(LAST_YEAR, 0), local(LAST_YEAR + timedelta(days=1), 0))
    gap = (local(DAY, 10), local(DAY, 13))
    readings = [r for r in readings if not (r.entity == SILENT and gap[0] <= r.ts < gap[1])]
    for i in range(0, len(readings), 20000):
        rt.writer.submit(Batch(readings[i:i + 20000], feed="simulator"))
    assert rt.writer.flush(300)
    with rt.db.connection() as conn:
        for rule, subject, domain, severity, firing, resolved in (
                ("catalog:river_level", "gauge-plt", "agriculture", "critical", local(DAY, 20), None),
                ("catalog:rainfall_24h", "wx-bgc", "agriculture", "critical", local(DAY, 9), local(DAY, 23)),
                ("catalog:bed_occupancy", "hosp-bgc-01", "health", "warning", local(DAY, 8), local(DAY, 9))):
            conn.execute("INSERT INTO alerts (rule, metric, subject, domain, state, severity, pending_since, "
                         "firing_since, last_active, resolved_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                         (rule, rule.removeprefix("catalog:"), subject, domain, "resolved" if resolved else "firing",
                          severity, firing, firing, resolved or firing, resolved))
    # a figure typed in on /manual that day (written directly: the fixed day is older than the raw retention)
    rt.writer.submit(Batch([Reading("plan-BG", "new_5g_stations", local(DAY, 9), 1250.0)], feed="manual"))
    assert rt.writer.flush(30)
    rt.readings, rt.folder = readings, folder
    yield rt
    rt.stop()
    drop_database(pg_server_url, f"ioc_test_{RUN_ID}_brief")


@pytest.fixture(scope="module")
def built(seeded):
    return service.build(seeded.config, seeded.db, DAY, ["vi", "en"], now=NOW)


def day_totals(config, readings: list[Reading], day: date) -> dict[str, float]:
    """Each day-total metric's sum over every site for a local day, from the simulator's readings alone."""
    start, end = day_window(day, "Asia/Ho_Chi_Minh")
    totals: dict[str, float] = defaultdict(float)
    for r in readings:
        if start <= r.ts < end and config.metrics[r.metric].over_time == "day_total":
            totals[r.metric] += r.value
    return totals


def indicator(content: dict, key: str) -> dict:
    return next(i for d in content["domains"] for i in d["indicators"] if i["metric"] == key)


def test_day_totals_equal_the_simulators_own_counts(seeded, built):
    config, vi = seeded.config, built["vi"]
    today, before = day_totals(config, seeded.readings, DAY), day_totals(config, seeded.readings, DAY - timedelta(1))
    year = day_totals(config, seeded.readings, LAST_YEAR)
    for key in ("road_accidents", "road_accident_deaths", "road_accident_injuries", "calls_113", "calls_114",
                "calls_115", "outpatient_visits", "dossiers_received", "dossiers_late", "security_incidents"):
        ind = indicator(vi, key)
        assert ind["value"] == pytest.approx(today[key]), key
        assert ind["previous"] == pytest.approx(before[key]), key
        assert ind["last_year"] == pytest.approx(year[key]), key
    assert indicator(vi, "calls_113")["value"] > 50  # ~1.8 M people: about 8 genuine 113 calls per 100,000 a day
    n, deaths, injured = (int(today[k]) for k in ("road_accidents", "road_accident_deaths", "road_accident_injuries"))
    traffic = next(d for d in vi["domains"] if d["key"] == "traffic")
    assert any(s.startswith(f"Xảy ra {n} vụ tai nạn giao thông, làm chết {deaths} người, bị thương {injured} người")
               for s in traffic["sentences"]), traffic["sentences"]


def test_rain_gauges_and_air_follow_their_semantics(seeded, built):
    config, vi = seeded.config, built["vi"]
    start, end = day_window(DAY, "Asia/Ho_Chi_Minh")
    rain: dict[str, float] = defaultdict(float)
    peaks: dict[str, float] = defaultdict(lambda: -1e9)
    hourly: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for r in seeded.readings:
        if not start <= r.ts < end:
            continue
        if r.metric == "rainfall_1h":
            rain[r.entity] += r.value
        elif r.metric == "river_level":
            peaks[r.entity] = max(peaks[r.entity], r.value)
        elif r.metric in ("pm25", "pm10"):
            hourly[(r.entity, r.metric, r.ts.astimezone(TZ).hour)].append(r.value)
    wettest = max(rain, key=rain.get)
    rainfall = indicator(vi, "rainfall_1h")  # the day's rain: the sum of the hours, the wettest station named
    assert rainfall["value"] == pytest.approx(rain[wettest]) and rainfall["site"] == wettest
    gauges = {g["entity"]: g for g in indicator(vi, "river_level")["gauges"]}
    assert set(gauges) == set(peaks)
    for entity, peak in peaks.items():  # each gauge against its own BĐ levels, never a max across datums
        attrs = config.entities[entity].attrs
        assert gauges[entity]["peak"] == pytest.approx(peak)
        reached = [k for k in ("bd3", "bd2", "bd1") if peak >= float(attrs[k])]
        assert gauges[entity]["reached"] == (reached[0] if reached else None)
    daily = {}
    for station in {e for e, _, _ in hourly}:
        series = {m: [sum(v) / len(v) if (v := hourly.get((station, m, h))) else None for h in range(24)]
                  for m in ("pm25", "pm10")}
        daily[station] = vn_aqi.daily_aqi_from_hourly(series)
    worst = max(daily, key=daily.get)
    aqi = indicator(vi, "vn_aqi")
    assert aqi["value"] == daily[worst] and aqi["site"] == worst and aqi["band"] == vn_aqi.band(daily[worst])
    health = next(d for d in vi["domains"] if d["key"] == "health")
    assert any(f"VN_AQI ngày cao nhất {daily[worst]} (mức {vn_aqi.band_name(daily[worst])})" in s
               for s in health["sentences"]) or indicator(vi, "vn_aqi")["status"] == "ok"


def test_issues_name_the_lead_agency_and_gaps_are_plain_words(built):
    vi, en = built["vi"], built["en"]
    assert vi["issues"], "a storm day has breaches"
    agencies = {i["agency_text"] for i in vi["issues"]}
    assert "Ban Chỉ huy PCTT và TKCN tỉnh" in agencies  # rainfall and rivers: the rule's team label
    assert all(("lên tới" in i["text"]) == (i["direction"] == "above") for i in vi["issues"])
    assert "Trạm đo mưa Yên Thế mất kết nối 3 giờ 15 phút (09:45–13:00)." in vi["data_notes"]
    assert "Yên Thế rain station was out of contact for 3 h 15 min (09:45–13:00)." in en["data_notes"]
    feeds = {f.name for f in load_config(ROOT / "config", environ={}).feeds}
    text = " ".join([*vi["summary"], *vi["data_notes"], *(s for d in vi["domains"] for s in d["sentences"])])
    assert not any(name in text for name in feeds)  # never a feed id


def test_a_breach_is_its_run_from_the_warning_level_and_its_peak_level(test_config):
    """One run of a site's readings from the warning level on; its peak exactly at the critical level reads
    'ở mức nguy hiểm (ngưỡng 5 điểm)', never 'above' it; its time is the time at warning level or worse."""
    metric = test_config.metrics["flooded_road_points"]
    site = next(e for e in test_config.region.entities if "flooded_road_points" in test_config.entity_metrics(e.id))
    levels = metric.thresholds_for(site)
    start, step = local(DAY, 12), metric.cadence
    values = [levels.warning - 1, levels.warning, levels.critical, levels.warning, levels.warning - 1]
    rows = pd.DataFrame({"entity": site.id, "metric": metric.key, "value": values,
                         "ts": [start + i * step for i in range(len(values))]})
    (run,) = breaches(test_config, rows)
    assert run["critical"] and run["peak"] == levels.critical and run["threshold"] == levels.critical
    assert run["duration_s"] == 3 * step.total_seconds()
    issue = {**run, "runs": 1, "total_s": run["duration_s"]}
    text = issue_text(test_config, issue, "vi", "Asia/Ho_Chi_Minh")
    assert f"ở mức nguy hiểm (ngưỡng {levels.critical:.0f} điểm)" in text and "vượt" not in text
    assert "từ mức cảnh báo trở lên" in text
    assert "at the critical level" in issue_text(test_config, issue, "en", "Asia/Ho_Chi_Minh")


def _golden_text(content: dict) -> str:
    lines = [content["title"], content["date_line"], *content["sections"][:1], *content["summary"]]
    for d in content["domains"]:
        lines.append(f"{d['number']}. {d['name']}")
        lines += d["sentences"]
        lines += [f"| {i['label']} | {i['value_text']} | {i['vs_day_text']} | {i['vs_base_text']} | "
                  f"{i['vs_year_text']} | {i['status_text']}" for i in d["indicators"]]
    lines += [f"{i['text']} [{i['agency_text']}]" for i in content["issues"]]
    lines += content["data_notes"]
    lines += [f"{p['label']}: {p['value_text']}" for p in content["plan"]]
    lines += content["recipients"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_golden_brief(built, lang):
    """The whole text of the day's brief, as approved; IOC_UPDATE_GOLDEN=1 rewrites it after a reviewed change."""
    path = GOLDEN / f"brief-{DAY}-{lang}.txt"
    text = _golden_text(built[lang])
    if os.environ.get("IOC_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_english_is_the_same_report(built):
    vi, en = built["vi"], built["en"]
    assert [len(d["sentences"]) for d in vi["domains"]] == [len(d["sentences"]) for d in en["domains"]]
    assert len(vi["issues"]) == len(en["issues"]) and len(vi["data_notes"]) == len(en["data_notes"])
    assert en["title"] == f"Rapid report on the situation in the priority sectors on {DAY:%d/%m/%Y}"
    assert vi["title"] == f"Báo cáo nhanh tình hình các lĩnh vực trọng điểm ngày {DAY:%d/%m/%Y}"


def test_pdf_is_an_administrative_report_with_every_font_embedded(seeded, built, tmp_path, output_dir):
    for lang in ("vi", "en"):
        document = brief_pdf(seeded.db, DAY, lang)
        path = tmp_path / f"brief-{lang}.pdf"
        path.write_bytes(document)
        fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True).stdout
        rows = fonts.splitlines()[2:]
        assert rows and all(row.split()[-5] == "yes" for row in rows), fonts  # the "emb" column
        assert "Helvetica" not in fonts
        subprocess.run(["pdftoppm", "-png", "-r", "70", str(path), str(output_dir / f"brief-{DAY}-{lang}")],
                       check=True)
    text = pdf_text(brief_pdf(seeded.db, DAY, "vi"), tmp_path)
    for part in ("UBND TỈNH BẮC GIANG", "TRUNG TÂM GIÁM SÁT, ĐIỀU HÀNH THÔNG MINH TỈNH BẮC GIANG",
                 "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
                 "Bắc Giang, ngày 21 tháng 07 năm 2026", "BÁO CÁO NHANH",
                 f"Tình hình các lĩnh vực trọng điểm ngày {DAY:%d/%m/%Y}", "I. TÌNH HÌNH CHUNG",
                 "II. TÌNH HÌNH CÁC LĨNH VỰC", "III. NHỮNG VẤN ĐỀ CẦN LƯU Ý", "IV. TÌNH TRẠNG SỐ LIỆU",
                 "V. TIẾN ĐỘ CHỈ TIÊU KẾ HOẠCH CHUYỂN ĐỔI SỐ", "Nơi nhận:", "Lưu: VT, IOC", "So với cùng kỳ",
                 "Trạm đo mưa Yên Thế mất kết nối 3 giờ 15 phút"):
        assert part in text, part
    assert text.index("I. TÌNH HÌNH CHUNG") < text.index("III. NHỮNG VẤN ĐỀ") < text.index("Nơi nhận:")
    assert "8 ngày" not in text  # the sparkline column is gone
    pages = sorted(output_dir.glob(f"brief-{DAY}-vi-*.png"))
    assert pages  # looked at by eye: letterhead, tables, closing


def test_plan_figures_are_computed_where_data_exists(seeded, built):
    rows = {r["metric"]: r for r in built["vi"]["plan"]}
    start = local(DAY + timedelta(days=1), 0) - timedelta(days=30)
    end = local(DAY + timedelta(days=1), 0)
    online = [r for r in seeded.readings if start <= r.ts < end]
    received = sum(r.value for r in online if r.metric == "dossiers_received")
    full = sum(r.value for r in online if r.metric == "dossiers_online_full")
    partial = sum(r.value for r in online if r.metric == "dossiers_online_partial")
    assert rows["online_full_dossiers_pct"]["computed"] and rows["online_dossiers_pct"]["computed"]
    assert rows["online_full_dossiers_pct"]["value"] == pytest.approx(100 * full / received)
    assert rows["online_dossiers_pct"]["value"] == pytest.approx(100 * (full + partial) / received)
    assert rows["new_5g_stations"]["value"] == 1250 and not rows["new_5g_stations"]["computed"]
    assert rows["residential_5g_coverage_pct"]["value_text"] == "chưa nhập"  # paper figures only are typed in


def test_no_brief_before_any_data(seeded):
    assert service.build(seeded.config, seeded.db, LAST_YEAR - timedelta(days=3), ["vi"]) == {}
    assert brief(seeded.db, LAST_YEAR - timedelta(days=3), "vi") is None
    assert service.has_data(seeded.config, seeded.db, LAST_YEAR)


def test_rebuilding_a_day_replaces_it(seeded):
    service.build(seeded.config, seeded.db, DAY, ["vi"])
    first = brief(seeded.db, DAY, "vi")["generated_at"]
    service.build(seeded.config, seeded.db, DAY, ["vi"])
    archive = brief_archive(seeded.db)
    assert len(archive[(archive["day"] == DAY) & (archive["lang"] == "vi")]) == 1
    assert brief(seeded.db, DAY, "vi")["generated_at"] > first


def test_a_day_without_data_after_data_began_is_an_honest_brief(seeded, tmp_path):
    empty = DAY - timedelta(days=40)  # between last year's day and this month's: the product was off
    content = service.build(seeded.config, seeded.db, empty, ["vi"], now=NOW)["vi"]
    assert all(i["value"] is None for d in content["domains"] for i in d["indicators"])
    assert all(d["sentences"] == ["Không nhận được số liệu nào của lĩnh vực trong ngày."] for d in content["domains"])
    assert any(n.startswith("Trạm đo mưa") or "trạm khí tượng không gửi số liệu cả ngày" in n
               for n in content["data_notes"]), content["data_notes"]  # grouped by kind, a few names each
    text = pdf_text(brief_pdf(seeded.db, empty, "vi"), tmp_path)
    assert "không gửi số liệu cả ngày" in text and "chưa nhập" in text


def test_cli_builds_a_day_with_the_product_configuration(seeded, tmp_path):
    out = tmp_path / "cli.pdf"
    run = subprocess.run([sys.executable, "app.py", "--config-dir", str(seeded.folder), "brief", "--date",
                          DAY.isoformat(), "--lang", "en", "--out", str(out)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"written to {out}" in run.stdout
    text = pdf_text(out.read_bytes(), tmp_path)
    assert f"The situation in the priority sectors on {DAY:%d/%m/%Y}" in text and "Recipients:" in text
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
        service.scheduled_build(config, seeded.db, DAY)  # built now: counts the day's 3 alerts
        assert arrived.wait(10)
    finally:
        controller.stop()
    mail = email.message_from_bytes(received[0], policy=email.policy.default)
    assert mail["To"] == "lanhdao@bacgiang.gov.vn"
    assert mail["Subject"].endswith(f"IOC Bắc Giang: Báo cáo nhanh ngày {DAY:%d/%m/%Y}")
    attachment = next(mail.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"brief-{DAY}-vi.pdf"
    assert attachment.get_content() == brief_pdf(seeded.db, DAY, "vi")
    assert "Trong ngày, hệ thống ghi nhận 3 cảnh báo" in mail.get_body(("plain",)).get_content()
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
    from ioc.auth import store as auth_store
    from ioc.brief import web as brief_web
    from ioc.web import create_app

    service.build(seeded.config, seeded.db, DAY, ["vi", "en"], now=NOW)
    auth_store.add_user(seeded.db, "nam", PASSWORD, "leader", display_name="Hoàng Văn Nam", actor="tests")
    auth_store.add_user(seeded.db, "an", PASSWORD, "operator", display_name="Nguyễn Văn An", actor="tests")
    app = create_app(seeded.config, seeded)
    brief_web.register(app.server, seeded)
    url, stop = serve(app.server, threads=4)
    yield url
    stop()


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
        assert "Trong ngày, hệ thống ghi nhận 3 cảnh báo, trong đó 2 ở mức nguy hiểm" in summary
        assert "Báo cáo nhanh" not in page.inner_text(".brief-title")  # "BÁO CÁO NHANH" above, then the subject
        assert "Nơi nhận:" in page.inner_text("#brief-closing")
        assert "mất kết nối 3 giờ 15 phút" in page.inner_text("#brief-data")
        assert page.locator("#brief-traffic tr[data-metric='road_accidents']").count() == 1
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
                             {"brief": {"catch_up_delay": "0s", "catch_up_days": 3, "languages": ["vi", "en"]},
                              "http": {"port": free_port()}})
    config = load_config(folder, environ={})
    due = service.last_due_day(config, datetime.now(UTC))
    first = Runtime(config, with_simulator=False).open_storage()
    # The data begins with a lone figure two days before the due day (a feed's last value from before the
    # product started: that day is not briefed), then the simulator's readings from the day before the due
    # day's evening on; that day holds less than a quarter of its readings but comes after the data began.
    lone = [Reading("wx-bgc", "rainfall_1h", local(due - timedelta(days=2), 16), 0.0)]
    readings = lone + simulated(config, local(due - timedelta(days=1), 18), local(due - timedelta(days=1), 20))
    for i in range(0, len(readings), 20000):
        first.writer.submit(Batch(readings[i:i + 20000], feed="simulator"))
    assert first.writer.flush(60)
    assert not service.has_data(config, first.db, due - timedelta(days=2))
    assert service.has_data(config, first.db, due - timedelta(days=1))
    first.stop()
    rt = Runtime(config, with_simulator=False).start()
    try:
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
