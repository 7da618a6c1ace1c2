"""Visible strings and local formats: Vietnamese first, English second.

Every string a layout shows comes from `MESSAGES` (through `t`) or from a config `Text` field.
Numbers use the Vietnamese convention in Vietnamese (1.234,5) and the English one in English
(1,234.5); times are stored in UTC and shown in the configured zone (Asia/Ho_Chi_Minh).
"""

from __future__ import annotations

import logging
import math
import os
import sys
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

LANGS = ("vi", "en")
DEFAULT_LANG = "vi"
DEFAULT_TZ = "Asia/Ho_Chi_Minh"
DASH = "—"

MESSAGES: dict[str, dict[str, str]] = {
    # application shell
    "app.title": {"vi": "IOC Bắc Giang", "en": "IOC Bắc Giang"},
    "app.subtitle": {"vi": "Trung tâm điều hành thông minh", "en": "Intelligent Operations Center"},
    "nav.overview": {"vi": "Tổng quan", "en": "Overview"},
    "nav.wall": {"vi": "Màn hình lớn", "en": "Wall"},
    "nav.alerts": {"vi": "Cảnh báo", "en": "Alerts"},
    "nav.brief": {"vi": "Bản tin", "en": "Brief"},
    "nav.feeds": {"vi": "Nguồn dữ liệu", "en": "Feeds"},
    "nav.domain": {"vi": "Lĩnh vực", "en": "Domain"},
    "nav.language": {"vi": "Ngôn ngữ", "en": "Language"},
    "nav.clock": {"vi": "Giờ Việt Nam", "en": "Vietnam time"},
    "lang.vi": {"vi": "VI", "en": "VI"},
    "lang.en": {"vi": "EN", "en": "EN"},
    "lang.vi.long": {"vi": "Tiếng Việt", "en": "Vietnamese"},
    "lang.en.long": {"vi": "Tiếng Anh", "en": "English"},
    "page.not_found": {"vi": "Không tìm thấy trang", "en": "Page not found"},
    # --- wall screen (panels/wall.py) ---
    "wall.title": {"vi": "Màn hình điều hành", "en": "Operations wall"},
    "wall.view.overview": {"vi": "Toàn tỉnh", "en": "Whole province"},
    "wall.view.domain": {"vi": "Lĩnh vực {name}", "en": "{name}"},
    "wall.view.area": {"vi": "{name}", "en": "{name}"},
    "wall.view.position": {"vi": "Màn {i}/{n}", "en": "View {i} of {n}"},
    "wall.view.next": {"vi": "chuyển màn sau {seconds} giây", "en": "next view in {seconds} s"},
    "wall.views.ignored": {"vi": "Bỏ qua màn không hợp lệ: {views}", "en": "Unknown views ignored: {views}"},
    "wall.interval.ignored": {"vi": "Thời gian mỗi màn không hợp lệ ({value}), dùng {seconds} giây",
                              "en": "Invalid view interval ({value}), using {seconds} s"},
    "wall.refreshed": {"vi": "Cập nhật lúc {time}", "en": "Updated at {time}"},
    "wall.error": {"vi": "Không đọc được dữ liệu — các ô hiển thị là không có dữ liệu",
                   "en": "Data could not be read — tiles show no data"},
    "wall.offline": {"vi": "Không kết nối được máy chủ", "en": "Server unreachable"},
    "wall.offline.note": {"vi": "Số liệu trên màn hình có thể đã cũ. Màn hình sẽ tự kết nối lại.",
                          "en": "The figures on screen may be out of date. The screen reconnects by itself."},
    "wall.offline.duration": {"vi": "Mất kết nối đã {duration}", "en": "Disconnected for {duration}"},
    "wall.alerts.title": {"vi": "Cảnh báo", "en": "Alerts"},
    "wall.alerts.none": {"vi": "Không có cảnh báo nào đang hoạt động", "en": "No active alerts"},
    "wall.alerts.more": {"vi": "và {n} cảnh báo khác", "en": "and {n} more"},
    "wall.alerts.new": {"vi": "Mới", "en": "New"},
    "wall.alerts.for": {"vi": "đã {duration}", "en": "for {duration}"},
    "wall.alerts.value": {"vi": "{value} ({threshold} {limit})", "en": "{value} ({threshold} {limit})"},
    "wall.health.title": {"vi": "Nguồn dữ liệu", "en": "Data feeds"},
    "wall.health.problem": {"vi": "Cần kiểm tra: {names}", "en": "Check: {names}"},
    "wall.health.all_ok": {"vi": "Tất cả nguồn đang hoạt động tốt", "en": "All feeds are healthy"},
    "wall.area.critical": {"vi": "{n} nguy hiểm", "en": "{n} critical"},
    "wall.area.warning": {"vi": "{n} cảnh báo", "en": "{n} warning"},
    "wall.map.title": {"vi": "Trạng thái theo địa bàn", "en": "Status by area"},
    "wall.map.domain": {"vi": "Trạng thái {name} theo địa bàn", "en": "{name} status by area"},
    "wall.map.area": {"vi": "Các điểm đo tại {name}", "en": "Sites in {name}"},
    "wall.trend.up": {"vi": "Tăng so với 1 giờ trước", "en": "Up on an hour ago"},
    "wall.trend.down": {"vi": "Giảm so với 1 giờ trước", "en": "Down on an hour ago"},
    "wall.trend.flat": {"vi": "Không đổi so với 1 giờ trước", "en": "Steady on an hour ago"},
    # --- end wall ---
    # overview page
    "overview.title": {"vi": "Tổng quan toàn tỉnh", "en": "Province overview"},
    "overview.no_metrics": {
        "vi": "Chưa có chỉ số chính cho lĩnh vực này",
        "en": "No headline metrics for this domain",
    },
    "overview.error": {
        "vi": "Không tải được dữ liệu — đang hiển thị trạng thái không có dữ liệu",
        "en": "Data could not be loaded — showing no-data state",
    },
    "overview.offline": {
        "vi": "Mất kết nối với máy chủ — số liệu dưới đây có thể đã cũ",
        "en": "Lost connection to the server — the figures below may be out of date",
    },
    "overview.refreshed": {"vi": "Làm mới lúc", "en": "Refreshed at"},
    "overview.chart_window": {"vi": "Biểu đồ {hours} giờ gần nhất", "en": "Last {hours} h"},
    # --- domain and entity pages (panels/domain.py, panels/entity.py) ---
    "domain.unknown": {"vi": "Không có lĩnh vực “{value}”. Chọn một lĩnh vực:",
                       "en": "There is no domain “{value}”. Choose a domain:"},
    "domain.unknown_area": {"vi": "Không có địa bàn “{value}” — đang hiển thị toàn tỉnh.",
                            "en": "There is no area “{value}” — showing the whole province."},
    "domain.unknown_metric": {"vi": "Chỉ số “{value}” không thuộc lĩnh vực này — đang hiển thị chỉ số mặc định.",
                              "en": "Metric “{value}” is not in this domain — showing the default metric."},
    "domain.bad_range": {"vi": "Khoảng thời gian không hợp lệ — đang hiển thị 24 giờ gần nhất.",
                         "en": "Invalid time range — showing the last 24 hours."},
    "domain.range.label": {"vi": "Khoảng thời gian", "en": "Time range"},
    "domain.range.1h": {"vi": "1 giờ", "en": "1 h"},
    "domain.range.24h": {"vi": "24 giờ", "en": "24 h"},
    "domain.range.7d": {"vi": "7 ngày", "en": "7 days"},
    "domain.range.30d": {"vi": "30 ngày", "en": "30 days"},
    "domain.range.custom": {"vi": "Tùy chọn", "en": "Custom"},
    "domain.range.from": {"vi": "Từ", "en": "From"},
    "domain.range.to": {"vi": "Đến", "en": "To"},
    "domain.range.apply": {"vi": "Xem", "en": "Apply"},
    "domain.range.span": {"vi": "{start} – {end}", "en": "{start} – {end}"},
    "domain.metric": {"vi": "Chỉ số", "en": "Metric"},
    "domain.map": {"vi": "Bản đồ trạng thái", "en": "Status map"},
    "domain.map_hint": {"vi": "Nhấn vào một địa bàn để xem chi tiết, vào một điểm để mở trang đơn vị.",
                        "en": "Click an area to drill in, a point to open the site's page."},
    "domain.chart": {"vi": "{metric} — {area}", "en": "{metric} — {area}"},
    "domain.chart_note": {"vi": "Mỗi điểm: trung bình {bucket}. Vùng tô màu: thời gian có cảnh báo.",
                          "en": "Each point: {bucket} average. Shaded: time under alert."},
    "domain.by_area": {"vi": "{metric} theo địa bàn (hiện tại)", "en": "{metric} by area (now)"},
    "domain.by_site": {"vi": "{metric} theo đơn vị (hiện tại)", "en": "{metric} by site (now)"},
    "domain.bars_hint": {"vi": "Nhấn vào một cột để xem chi tiết.", "en": "Click a bar to drill in."},
    "domain.sites": {"vi": "Đơn vị và điểm đo", "en": "Sites"},
    "domain.export": {"vi": "Xuất CSV", "en": "Export CSV"},
    "domain.empty": {"vi": "Không có đơn vị nào", "en": "No sites"},
    "domain.col.name": {"vi": "Tên", "en": "Name"},
    "domain.col.area": {"vi": "Địa bàn", "en": "Area"},
    "domain.col.kind": {"vi": "Loại", "en": "Type"},
    "domain.col.status": {"vi": "Trạng thái", "en": "Status"},
    "domain.col.age": {"vi": "Cập nhật", "en": "Updated"},
    "domain.views": {"vi": "Theo dõi chuyên đề", "en": "Focus views"},
    "domain.view.per_site": {"vi": "{metric} từng trạm so với mức báo động",
                             "en": "{metric} per station against its alarm levels"},
    "domain.view.map": {"vi": "{metric} trên bản đồ (kích thước theo số lượng)",
                        "en": "{metric} on the map (size by count)"},
    "domain.view.school_days": {"vi": "Số liệu của ngày học gần nhất (thứ Hai – thứ Bảy).",
                                "en": "Figures of the latest school day (Monday – Saturday)."},
    "domain.view.in_season": {"vi": "Đang trong mùa vải (tháng 5 – tháng 7).",
                              "en": "Lychee season (May – July)."},
    "domain.view.out_of_season": {"vi": "Ngoài mùa vải (tháng 5 – tháng 7): số liệu của mùa gần nhất.",
                                  "en": "Out of lychee season (May – July): figures of the latest season."},
    "domain.level.bd1": {"vi": "BĐ1", "en": "Alarm 1"},
    "domain.level.bd2": {"vi": "BĐ2", "en": "Alarm 2"},
    "domain.level.bd3": {"vi": "BĐ3", "en": "Alarm 3"},
    "domain.count": {"vi": "{metric}: {value}", "en": "{metric}: {value}"},
    "entity.unknown": {"vi": "Không có đơn vị hoặc điểm đo “{value}”.", "en": "There is no site “{value}”."},
    "entity.kind": {"vi": "Loại", "en": "Type"},
    "entity.area": {"vi": "Địa bàn", "en": "Area"},
    "entity.attrs": {"vi": "Thông tin", "en": "Details"},
    "entity.metrics": {"vi": "Chỉ số", "en": "Metrics"},
    "entity.alerts": {"vi": "Cảnh báo", "en": "Alerts"},
    "entity.alerts.active": {"vi": "Đang cảnh báo", "en": "Active"},
    "entity.alerts.recent": {"vi": "Trong khoảng thời gian", "en": "In the period"},
    "entity.alerts.none": {"vi": "Không có cảnh báo nào.", "en": "No alerts."},
    "entity.feed": {"vi": "Tình trạng nguồn dữ liệu", "en": "Feed health"},
    "entity.feed.none": {"vi": "Chưa nhận dữ liệu từ nguồn nào.", "en": "No feed has reported yet."},
    "entity.feed.since": {"vi": "từ {time}", "en": "since {time}"},
    "entity.feed.last": {"vi": "Lần nhận gần nhất: {time}", "en": "Last success: {time}"},
    "entity.feed.rate": {"vi": "{n} số đọc/phút", "en": "{n} readings/min"},
    "entity.feed.error": {"vi": "Lỗi gần nhất: {error}", "en": "Last error: {error}"},
    "entity.map": {"vi": "Vị trí", "en": "Location"},
    "attr.beds": {"vi": "Số giường kế hoạch", "en": "Planned beds"},
    "attr.cameras": {"vi": "Số camera", "en": "Cameras"},
    "attr.capacity_mcm": {"vi": "Dung tích (triệu m³)", "en": "Capacity (million m³)"},
    "attr.area_ha": {"vi": "Diện tích (ha)", "en": "Area (ha)"},
    "attr.bd1": {"vi": "Mức báo động 1 (m)", "en": "Alarm level 1 (m)"},
    "attr.bd2": {"vi": "Mức báo động 2 (m)", "en": "Alarm level 2 (m)"},
    "attr.bd3": {"vi": "Mức báo động 3 (m)", "en": "Alarm level 3 (m)"},
    "attr.students": {"vi": "Số học sinh", "en": "Students"},
    "attr.teachers": {"vi": "Số giáo viên", "en": "Teachers"},
    "attr.schools": {"vi": "Số trường", "en": "Schools"},
    # --- end domain ---
    # tiles
    "tile.updated": {"vi": "Cập nhật", "en": "Updated"},
    "tile.stale": {"vi": "Dữ liệu cũ", "en": "Stale"},
    "tile.nodata": {"vi": "Không có dữ liệu", "en": "No data"},
    "tile.sources": {"vi": "{n} nguồn", "en": "{n} sources"},
    "tile.stale_sources": {"vi": "{n}/{total} nguồn chậm", "en": "{n}/{total} sources late"},
    # --- daily brief (ioc/brief, panels/brief.py) ---
    "brief.title": {"vi": "Bản tin điều hành ngày {date}", "en": "Daily brief for {date}"},
    "brief.archive": {"vi": "Lưu trữ bản tin", "en": "Brief archive"},
    "brief.archive_help": {"vi": "Mỗi sáng bản tin về ngày hôm trước được lập lúc {at}.",
                           "en": "Each morning at {at} the brief for the previous day is built."},
    "brief.none": {"vi": "Chưa có bản tin nào.", "en": "No brief has been built yet."},
    "brief.missing_day": {"vi": "Chưa có bản tin cho ngày này.", "en": "There is no brief for this day yet."},
    "brief.bad_date": {"vi": "Ngày không hợp lệ.", "en": "Not a valid date."},
    "brief.summary": {"vi": "Tóm tắt", "en": "Summary"},
    "brief.quiet": {"vi": "Không có diễn biến đáng chú ý.", "en": "Nothing notable."},
    "brief.generated": {"vi": "Lập lúc {time}", "en": "Generated {time}"},
    "brief.page": {"vi": "Trang {n}/{total}", "en": "Page {n} of {total}"},
    "brief.pdf": {"vi": "Tải PDF", "en": "Download PDF"},
    "brief.print": {"vi": "In", "en": "Print"},
    "brief.other_lang": {"vi": "Bản tiếng Anh", "en": "Vietnamese edition"},
    "brief.col.day": {"vi": "Ngày", "en": "Day"},
    "brief.col.lang": {"vi": "Ngôn ngữ", "en": "Language"},
    "brief.col.generated": {"vi": "Lập lúc", "en": "Generated"},
    "brief.col.emailed": {"vi": "Đã gửi thư", "en": "E-mailed"},
    "brief.col.indicator": {"vi": "Chỉ số", "en": "Indicator"},
    "brief.col.value": {"vi": "Hôm qua", "en": "Yesterday"},
    "brief.col.vs_day": {"vi": "So với hôm trước", "en": "vs day before"},
    "brief.col.vs_base": {"vi": "So với TB 7 ngày", "en": "vs 7-day avg"},
    "brief.col.status": {"vi": "Trạng thái", "en": "Status"},
    "brief.col.trend": {"vi": "8 ngày", "en": "8 days"},
    "brief.col.feed": {"vi": "Nguồn dữ liệu", "en": "Feed"},
    "brief.col.received": {"vi": "Đã nhận", "en": "Received"},
    "brief.col.expected": {"vi": "Dự kiến", "en": "Expected"},
    "brief.col.share": {"vi": "Tỷ lệ", "en": "Share"},
    "brief.col.target": {"vi": "Chỉ tiêu", "en": "Target"},
    "brief.col.as_of": {"vi": "Số liệu ngày", "en": "As of"},
    "brief.col.figure": {"vi": "Số liệu", "en": "Figure"},
    "brief.col.progress": {"vi": "Đạt", "en": "Achieved"},
    "brief.alerts": {"vi": "Cảnh báo", "en": "Alerts"},
    "brief.completeness": {"vi": "Độ đầy đủ số liệu theo nguồn", "en": "Data completeness by feed"},
    "brief.completeness_domain": {"vi": "Số liệu nhận được: {pct}", "en": "Readings received: {pct}"},
    "brief.plan": {"vi": "Tiến độ chỉ tiêu Kế hoạch chuyển đổi số (2020)",
                   "en": "Progress toward the 2020 digital-transformation plan targets"},
    "brief.plan_note": {
        "vi": ("Số liệu tính từ dữ liệu hồ sơ trong 30 ngày hoặc nhập tại trang Nhập số liệu; chỉ tiêu theo Kế hoạch"
               " của UBND tỉnh (6/2020); mức độ 3, 4 nay là dịch vụ công trực tuyến một phần, toàn trình"
               " (Nghị định 42/2022/NĐ-CP)."),
        "en": ("Figures computed from 30 days of dossier data or entered on the Manual entry page; targets from"
               " the provincial plan (June 2020); levels 3 and 4 are now online services 'partly online' and"
               " 'end to end' (Decree 42/2022/NĐ-CP).")},
    "brief.not_entered": {"vi": "chưa nhập", "en": "not entered"},
    "brief.no_readings": {"vi": "không có số liệu", "en": "no readings"},
    "brief.by_year": {"vi": "{value} năm {year}", "en": "{value} by {year}"},
    "brief.points": {"vi": "{n} điểm %", "en": "{n} pts"},
    "brief.s.value.avg": {"vi": "{label} trung bình {value}", "en": "{label} averaged {value}"},
    "brief.s.value.last": {"vi": "{label} trung bình {value}", "en": "{label} averaged {value}"},
    "brief.s.value.sum": {"vi": "{label} tổng cộng {value}", "en": "{label} totalled {value}"},
    "brief.s.value.max": {"vi": "{label} cao nhất {value}", "en": "{label} reached {value} at the highest site"},
    "brief.s.value.min": {"vi": "{label} thấp nhất {value}", "en": "{label} fell to {value} at the lowest site"},
    "brief.s.base.up": {"vi": "cao hơn {delta} so với trung bình 7 ngày ({baseline})",
                        "en": "{delta} above its 7-day average ({baseline})"},
    "brief.s.base.down": {"vi": "thấp hơn {delta} so với trung bình 7 ngày ({baseline})",
                          "en": "{delta} below its 7-day average ({baseline})"},
    "brief.s.delta_points": {"vi": "{n} điểm phần trăm", "en": "{n} points"},
    "brief.s.sites.critical": {"vi": "{n} nơi ở mức nguy hiểm ({names})",
                               "en": "{n} {sites} at critical level ({names})"},
    "brief.s.sites.warning": {"vi": "{n} nơi ở mức cảnh báo ({names})", "en": "{n} {sites} at warning level ({names})"},
    "brief.s.sites.critical_at": {"vi": "{n} nơi từ {threshold} trở lên ({names})",
                                  "en": "{n} {sites} at or above {threshold} ({names})"},
    "brief.s.sites.critical_below": {"vi": "{n} nơi từ {threshold} trở xuống ({names})",
                                     "en": "{n} {sites} at or below {threshold} ({names})"},
    "brief.s.more": {"vi": "và {n} nơi khác", "en": "and {n} more"},
    "brief.s.alerts": {"vi": "{n} cảnh báo trong ngày ({critical} nguy hiểm, {warning} cảnh báo)",
                       "en": "{n} {alerts} during the day ({critical} critical, {warning} warning)"},
    "brief.s.alerts_open": {"vi": "{n} chưa kết thúc", "en": "{n} still open"},
    "brief.s.alerts_ack": {"vi": "{n}/{total} đã được xác nhận, trung vị sau {duration}",
                           "en": "{n} of {total} acknowledged, after {duration} (median)"},
    "brief.s.alerts_no_ack": {"vi": "0/{total} được xác nhận", "en": "0 of {total} acknowledged"},
    "brief.s.alert_longest": {"vi": "Cảnh báo dài nhất: {what} tại {subject}, {duration}",
                              "en": "Longest alert: {what} at {subject}, {duration}"},
    "brief.s.still_open": {"vi": "chưa kết thúc", "en": "still open"},
    "brief.s.breach_largest": {
        "vi": "Vượt ngưỡng lớn nhất: {label} tại {entity} đạt {value} lúc {time} (ngưỡng {threshold})",
        "en": "Largest breach: {label} at {entity} reached {value} at {time} (level {threshold})"},
    "brief.s.breach_longest": {"vi": "Vượt ngưỡng lâu nhất: {label} tại {entity}, kéo dài {duration} từ {time}",
                               "en": "Longest breach: {label} at {entity}, {duration} from {time}"},
    "brief.s.domain_partial": {"vi": "Chỉ nhận được {pct} số liệu dự kiến của lĩnh vực ({received}/{expected})",
                               "en": "Only {pct} of the expected readings arrived ({received} of {expected})"},
    "brief.s.domain_empty": {"vi": "Không nhận được số liệu nào của lĩnh vực (dự kiến {expected})",
                             "en": "No readings arrived for this domain ({expected} expected)"},
    "brief.s.day_alerts": {"vi": "Trong ngày có {n} cảnh báo, {critical} ở mức nguy hiểm; {open} chưa kết thúc",
                           "en": "{n} {alerts} during the day, {critical} critical; {open} still open"},
    "brief.s.day_partial": {"vi": "Chỉ nhận được {pct} số liệu dự kiến ({received}/{expected})",
                            "en": "Only {pct} of the expected readings arrived ({received} of {expected})"},
    "brief.s.day_empty": {"vi": "Không nhận được số liệu nào trong ngày (dự kiến {expected})",
                          "en": "No readings arrived during the day ({expected} expected)"},
    "brief.s.missing_feeds": {"vi": "{n} nguồn không gửi số liệu: {feeds}",
                              "en": "{n} {feeds_word} sent no readings: {feeds}"},
    "brief.s.critical_indicators": {"vi": "{n} chỉ số ở mức nguy hiểm: {names}",
                                    "en": "{n} {indicators} at critical level: {names}"},
    "brief.w.site": {"vi": "nơi", "en": "site"},
    "brief.w.sites": {"vi": "nơi", "en": "sites"},
    "brief.w.alert": {"vi": "cảnh báo", "en": "alert"},
    "brief.w.alerts": {"vi": "cảnh báo", "en": "alerts"},
    "brief.w.feed": {"vi": "nguồn", "en": "feed"},
    "brief.w.feeds": {"vi": "nguồn", "en": "feeds"},
    "brief.w.indicator": {"vi": "chỉ số", "en": "indicator"},
    "brief.w.indicators": {"vi": "chỉ số", "en": "indicators"},
    "brief.mail.subject": {"vi": "{app}: Báo cáo nhanh ngày {date}", "en": "{app}: rapid report for {date}"},
    "brief.mail.body": {"vi": "Kính gửi lãnh đạo,\n\n{issuer} gửi Báo cáo nhanh ngày {date} (tệp PDF đính kèm)."
                              "\n\n{summary}\n",
                        "en": "Dear leaders,\n\n{issuer} sends the rapid report for {date} (PDF attached)."
                              "\n\n{summary}\n"},
    # --- end brief ---
    # --- the brief as an administrative report (ioc/brief/sentences.py, Decree 30/2020/NĐ-CP layout) ---
    "brief.report_title": {"vi": "Báo cáo nhanh tình hình các lĩnh vực trọng điểm ngày {date}",
                           "en": "Rapid report on the situation in the priority sectors on {date}"},
    "brief.report_subject": {"vi": "Tình hình các lĩnh vực trọng điểm ngày {date}",
                             "en": "The situation in the priority sectors on {date}"},
    "brief.nation": {"vi": "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "en": "SOCIALIST REPUBLIC OF VIET NAM"},
    "brief.motto": {"vi": "Độc lập - Tự do - Hạnh phúc", "en": "Independence - Freedom - Happiness"},
    "brief.kind": {"vi": "BÁO CÁO NHANH", "en": "RAPID REPORT"},
    "brief.number": {"vi": "Số: ……/BC-IOC", "en": "No.: ……/BC-IOC"},
    "brief.recipients": {"vi": "Nơi nhận:", "en": "Recipients:"},
    "brief.signed_by_system": {"vi": "(Báo cáo do hệ thống lập tự động lúc {time})",
                               "en": "(Report built automatically by the system at {time})"},
    "brief.sec.general": {"vi": "TÌNH HÌNH CHUNG", "en": "GENERAL SITUATION"},
    "brief.sec.domains": {"vi": "TÌNH HÌNH CÁC LĨNH VỰC", "en": "THE SECTORS"},
    "brief.sec.issues": {"vi": "NHỮNG VẤN ĐỀ CẦN LƯU Ý", "en": "ISSUES TO NOTE"},
    "brief.sec.data": {"vi": "TÌNH TRẠNG SỐ LIỆU", "en": "STATE OF THE DATA"},
    "brief.sec.plan": {"vi": "TIẾN ĐỘ CHỈ TIÊU KẾ HOẠCH CHUYỂN ĐỔI SỐ", "en": "DIGITAL-TRANSFORMATION PLAN TARGETS"},
    "brief.col.figure_day": {"vi": "Ngày {date}", "en": "On {date}"},
    "brief.col.how": {"vi": "Cách tính", "en": "Measure"},
    "brief.col.vs_prev": {"vi": "So với ngày trước", "en": "vs day before"},
    "brief.col.vs_7d": {"vi": "So với TB 7 ngày", "en": "vs 7-day mean"},
    "brief.col.vs_year": {"vi": "So với cùng kỳ", "en": "vs a year earlier"},
    "brief.col.assessment": {"vi": "Đánh giá", "en": "Assessment"},
    "brief.col.issue": {"vi": "Vấn đề", "en": "Issue"},
    "brief.col.agency": {"vi": "Đơn vị chủ trì", "en": "Lead agency"},
    "brief.how.day_total": {"vi": "tổng trong ngày", "en": "day total"},
    "brief.how.mean": {"vi": "trung bình ngày", "en": "daily mean"},
    "brief.how.max": {"vi": "cao nhất trong ngày", "en": "daily maximum"},
    "brief.how.min": {"vi": "thấp nhất trong ngày", "en": "daily minimum"},
    "brief.how.last": {"vi": "số liệu cuối ngày", "en": "end of day"},
    "brief.how.aqi": {"vi": "chỉ số ngày, trạm cao nhất", "en": "daily index, worst station"},
    "brief.no_figure": {"vi": "chưa có số liệu", "en": "no data yet"},
    "brief.computed": {"vi": "tính từ số liệu", "en": "computed from data"},
    "brief.no_issues": {
        "vi": "Không có chỉ số nào vượt ngưỡng trong ngày.",
        "en": "No figure crossed a threshold in the day."},
    "brief.no_data_notes": {"vi": "Các nguồn số liệu hoạt động đầy đủ trong ngày.",
                            "en": "Every data source reported in full during the day."},
    "brief.r.more": {"vi": "và {n} nơi khác", "en": "and {n} more"},
    "brief.r.counts": {"vi": "Số liệu trong ngày: {items}", "en": "Counts for the day: {items}"},
    "brief.r.vs_day": {"vi": "so với ngày trước {how}", "en": "{how} on the day before"},
    "brief.r.vs_base": {"vi": "so với trung bình 7 ngày {how}", "en": "{how} on the 7-day mean"},
    "brief.r.vs_year": {"vi": "so với cùng kỳ năm trước {how}", "en": "{how} on the same day last year"},
    "brief.r.same": {"vi": "không đổi", "en": "unchanged"},
    "brief.r.up": {"vi": "tăng {delta}", "en": "up {delta}"},
    "brief.r.down": {"vi": "giảm {delta}", "en": "down {delta}"},
    "brief.r.aqi": {"vi": "Chỉ số chất lượng không khí VN_AQI ngày cao nhất {value} (mức {band}) tại {site}",
                    "en": "The daily air quality index VN_AQI was highest at {value} ({band}) at {site}"},
    "brief.r.figure.day_total": {"vi": "{label} trong ngày: {value}", "en": "{label} in the day: {value}"},
    "brief.r.figure.day_total_max": {"vi": "{label} trong ngày lớn nhất {value}",
                                     "en": "{label} in the day: highest {value}"},
    "brief.r.figure.day_total_min": {"vi": "{label} trong ngày nhỏ nhất {value}",
                                     "en": "{label} in the day: lowest {value}"},
    "brief.r.figure.mean": {"vi": "{label} trung bình ngày {value}", "en": "{label}: a daily mean of {value}"},
    "brief.r.figure.max": {"vi": "{label} cao nhất {value}", "en": "{label} peaked at {value}"},
    "brief.r.figure.min": {"vi": "{label} thấp nhất {value}", "en": "{label} fell to {value}"},
    "brief.r.figure.last": {"vi": "{label} cuối ngày {value}", "en": "{label} at the end of the day: {value}"},
    "brief.r.at": {"vi": "tại {site}", "en": "at {site}"},
    "brief.r.reached.warning": {"vi": "có lúc ở mức cảnh báo", "en": "at warning level at times"},
    "brief.r.reached.critical": {"vi": "có lúc ở mức nguy hiểm", "en": "at critical level at times"},
    "brief.r.accidents": {"vi": "Xảy ra {n} vụ tai nạn giao thông, làm chết {deaths} người, bị thương {injured} người",
                          "en": "{n} road accidents killed {deaths} and injured {injured} people"},
    "brief.r.accidents_prev": {"vi": "ngày trước: {n} vụ, {deaths} người chết, {injured} người bị thương",
                               "en": "the day before: {n} accidents, {deaths} killed, {injured} injured"},
    "brief.r.accidents_year": {"vi": "cùng kỳ năm trước: {n} vụ, {deaths} người chết, {injured} người bị thương",
                               "en": "same day last year: {n} accidents, {deaths} killed, {injured} injured"},
    "brief.r.gauge": {"vi": "{gauge}: mực nước cao nhất {value} lúc {time}",
                      "en": "{gauge}: highest water level {value} at {time}"},
    "brief.r.gauge_above": {"vi": "trên {level} ({threshold})", "en": "above {level} ({threshold})"},
    "brief.r.gauge_below": {"vi": "dưới BĐ1 ({threshold}) {gap}", "en": "{gap} below BĐ1 ({threshold})"},
    "brief.r.level.warning": {"vi": "cảnh báo", "en": "warning"},
    "brief.r.level.critical": {"vi": "nguy hiểm", "en": "critical"},
    "brief.r.issue.above": {
        "vi": ("{label} tại {site} lên tới {value} lúc {time}, vượt ngưỡng {level}"
               " ({threshold}); tổng thời gian vượt ngưỡng {duration}"),
        "en": ("{label} at {site} rose to {value} at {time}, above the {level} level"
               " ({threshold}); {duration} beyond the threshold in all")},
    "brief.r.issue.below": {
        "vi": ("{label} tại {site} xuống tới {value} lúc {time}, dưới ngưỡng {level}"
               " ({threshold}); tổng thời gian dưới ngưỡng {duration}"),
        "en": ("{label} at {site} fell to {value} at {time}, below the {level} level"
               " ({threshold}); {duration} beyond the threshold in all")},
    "brief.r.issue_runs": {"vi": "({n} lần trong ngày)", "en": "({n} times in the day)"},
    "brief.r.silent_day_one": {"vi": "{site} không gửi số liệu cả ngày", "en": "{site} sent no data all day"},
    "brief.r.silent_day": {"vi": "{n} {kind} không gửi số liệu cả ngày ({names})",
                           "en": "{n} sites of kind {kind} sent no data all day ({names})"},
    "brief.r.silent_once": {
        "vi": "{site} mất kết nối {duration} ({spans})",
        "en": "{site} was out of contact for {duration} ({spans})"},
    "brief.r.silent_many": {"vi": "{site} mất kết nối {n} lần, tổng cộng {duration} ({spans})",
                            "en": "{site} was out of contact {n} times, {duration} in all ({spans})"},
    "brief.r.domain_empty": {"vi": "Không nhận được số liệu nào của lĩnh vực trong ngày",
                             "en": "No data of this sector arrived during the day"},
    "brief.r.domain_partial": {"vi": "Lĩnh vực {domain} chỉ nhận được {pct} số liệu dự kiến",
                               "en": "The {domain} sector received only {pct} of the expected data"},
    "brief.r.alerts": {"vi": ("Trong ngày, hệ thống ghi nhận {n} cảnh báo, trong đó {critical} ở mức nguy hiểm;"
                              " {open} cảnh báo chưa kết thúc"),
                       "en": ("During the day the system raised {n} alerts, {critical} of them"
                              " critical; {open} still open")},
    "brief.r.no_alerts": {"vi": "Trong ngày không phát sinh cảnh báo", "en": "No alert was raised during the day"},
    "brief.r.issues": {"vi": "Có {n} vấn đề cần lưu ý (mục III)", "en": "{n} issues need attention (section III)"},
    "brief.r.critical": {
        "vi": "Các chỉ số có lúc ở mức nguy hiểm: {names}",
        "en": "Figures at critical level at times: {names}"},
    "brief.r.partial": {"vi": "Số liệu nhận được chỉ đạt {pct} so với dự kiến (mục IV)",
                        "en": "Only {pct} of the expected data arrived (section IV)"},
    # --- end of the administrative report ---
    # status
    "feeds.title": {"vi": "Tình trạng nguồn dữ liệu", "en": "Feed health"},
    "feeds.summary": {"vi": "{ok} tốt · {late} chậm · {failing} lỗi · {disabled} tắt",
                      "en": "{ok} ok · {late} late · {failing} failing · {disabled} disabled"},
    "feeds.col.feed": {"vi": "Nguồn", "en": "Feed"},
    "feeds.col.transport": {"vi": "Kênh", "en": "Transport"},
    "feeds.col.state": {"vi": "Trạng thái", "en": "State"},
    "feeds.col.last_success": {"vi": "Lần nhận tốt gần nhất", "en": "Last success"},
    "feeds.col.last_error": {"vi": "Lỗi gần nhất", "en": "Last error"},
    "feeds.col.readings": {"vi": "Số đo/phút", "en": "Readings/min"},
    "feeds.col.dead": {"vi": "Bản tin lỗi/phút", "en": "Dead letters/min"},
    "feeds.col.stale_after": {"vi": "Coi là chậm sau", "en": "Late after"},
    "nav.manual": {"vi": "Nhập số liệu", "en": "Manual entry"},
    "manual.title": {"vi": "Nhập số liệu thủ công", "en": "Manual entry"},
    "manual.help": {"vi": "Số liệu nhận qua điện thoại hoặc văn bản. Nhập lại cùng thời điểm để sửa; "
                          "mọi lần nhập đều được lưu vết.",
                    "en": "Figures received by phone or on paper. Enter the same time again to correct; "
                          "every entry is kept in the trail."},
    "manual.domain": {"vi": "Lĩnh vực", "en": "Domain"},
    "manual.entity": {"vi": "Đơn vị / điểm đo", "en": "Site"},
    "manual.metric": {"vi": "Chỉ tiêu", "en": "Metric"},
    "manual.time": {"vi": "Thời điểm (giờ Việt Nam)", "en": "Time (Vietnam time)"},
    "manual.value": {"vi": "Giá trị", "en": "Value"},
    "manual.who": {"vi": "Người nhập", "en": "Entered by"},
    "manual.note": {"vi": "Ghi chú", "en": "Note"},
    "manual.submit": {"vi": "Lưu", "en": "Save"},
    "manual.saved": {"vi": "Đã lưu: {metric} = {value} lúc {time}", "en": "Saved: {metric} = {value} at {time}"},
    "manual.missing": {"vi": "Hãy điền đủ đơn vị, chỉ tiêu, thời điểm, giá trị và người nhập.",
                       "en": "Fill in site, metric, time, value and who is entering."},
    "manual.refused": {"vi": "Không lưu được: {reason}", "en": "Not saved: {reason}"},
    "manual.recent": {"vi": "Các lần nhập gần đây", "en": "Recent entries"},
    "manual.col.entered_at": {"vi": "Nhập lúc", "en": "Entered at"},
    "manual.col.previous": {"vi": "Giá trị trước", "en": "Previous value"},
    "alert.nodata": {"vi": "không có dữ liệu mới", "en": "no recent data"},
    "alert.threshold": {"vi": "ngưỡng", "en": "threshold"},
    # --- alert text (ioc/alerts/text.py): one renderer for events, the wall and e-mails ---
    "alert.text.threshold": {"vi": "{metric} – {subject}: {value} {unit} (ngưỡng {threshold})",
                             "en": "{metric} – {subject}: {value} {unit} (threshold {threshold})"},
    "alert.text.nodata": {"vi": "{metric} – {subject}: không có dữ liệu mới",
                          "en": "{metric} – {subject}: no recent data"},
    "alert.text.feed_silent": {"vi": "Nguồn dữ liệu {subject}: không hoạt động", "en": "Feed {subject}: silent"},
    "alert.kind.firing": {"vi": "Mới", "en": "New"},
    "alert.kind.escalated": {"vi": "Nâng mức", "en": "Escalated"},
    "alert.kind.resolved": {"vi": "Đã hết", "en": "Resolved"},
    "alert.kind.repeat": {"vi": "Nhắc lại", "en": "Reminder"},
    "alert.mail.subject": {"vi": "{n} cảnh báo – {domain}", "en": "{n} alert(s) – {domain}"},
    "alert.mail.heading": {"vi": "{title} – {n} cảnh báo, lĩnh vực {domain} (mức cao nhất: {severity})",
                           "en": "{title} – {n} alert(s), domain {domain} (highest level: {severity})"},
    "alert.mail.subject_label": {"vi": "Đối tượng", "en": "Subject"},
    "alert.mail.area": {"vi": "Khu vực", "en": "Area"},
    "alert.mail.value": {"vi": "Giá trị", "en": "Value"},
    "alert.mail.threshold": {"vi": "Ngưỡng", "en": "Threshold"},
    "alert.mail.id": {"vi": "Mã cảnh báo", "en": "Alert id"},
    "alert.mail.zone": {"vi": "Giờ theo múi {tz}.", "en": "Times in {tz}."},
    "action.rule_message_field": {"vi": "Lời nhắn chỉ được dùng các trường {fields}; không có trường {field}",
                                  "en": "The message may only use the fields {fields}; there is no field {field}"},
    "action.rule_message_brace": {"vi": "Lời nhắn có dấu ngoặc nhọn lẻ: mỗi trường viết như {example}",
                                  "en": "The message has an unpaired curly bracket: write each field as {example}"},
    "rules.broken": {"vi": "Lỗi khi đánh giá: {reason}", "en": "Broken: {reason}"},
    "rules.col.broken": {"vi": "Tình trạng", "en": "Status"},
    "badge.title": {"vi": "{firing} cảnh báo đang hoạt động · {critical} nguy hiểm · {unacked} chưa tiếp nhận",
                    "en": "{firing} firing · {critical} critical · {unacked} unacknowledged"},
    "badge.sound": {"vi": "Bật/tắt chuông báo cảnh báo nguy hiểm", "en": "Sound for critical alerts on/off"},
    "nav.rules": {"vi": "Quy tắc cảnh báo", "en": "Alert rules"},
    "rules.title": {"vi": "Quy tắc cảnh báo", "en": "Alert rules"},
    "rules.help": {"vi": "Chọn một quy tắc để sửa (YAML). Quy tắc do người sửa được giữ qua các lần khởi động; "
                         "\"Khôi phục\" đưa về bản trong tệp cấu hình. Mọi thay đổi đều được lưu lịch sử.",
                   "en": "Select a rule to edit it (YAML). Rules edited by people survive restarts; \"Revert\" "
                         "returns to the configuration file's version. Every change is kept in the history."},
    "rules.col.name": {"vi": "Tên", "en": "Name"},
    "rules.col.condition": {"vi": "Điều kiện", "en": "Condition"},
    "rules.col.metric": {"vi": "Chỉ tiêu / nguồn", "en": "Metric / feed"},
    "rules.col.levels": {"vi": "Ngưỡng cảnh báo / nguy hiểm", "en": "Warning / critical"},
    "rules.col.for": {"vi": "Chờ (for)", "en": "For"},
    "rules.col.source": {"vi": "Nguồn", "en": "Source"},
    "rules.col.updated": {"vi": "Cập nhật", "en": "Updated"},
    "rules.editor": {"vi": "Định nghĩa quy tắc (YAML)", "en": "Rule definition (YAML)"},
    "rules.save": {"vi": "Lưu quy tắc", "en": "Save rule"},
    "rules.revert": {"vi": "Khôi phục bản cấu hình", "en": "Revert to config"},
    "rules.saved": {"vi": "Đã lưu quy tắc {name}; bộ đánh giá áp dụng ngay.",
                    "en": "Rule {name} saved; the engine applies it at once."},
    "rules.reverted": {"vi": "Đã khôi phục quy tắc {name}.", "en": "Rule {name} reverted."},
    "rules.refused": {"vi": "Không lưu được: {reason}", "en": "Not saved: {reason}"},
    "rules.history": {"vi": "Lịch sử thay đổi", "en": "Change history"},
    "rules.removed": {"vi": "(đã xoá)", "en": "(removed)"},
    "action.forbidden": {"vi": "bạn không có quyền thực hiện thao tác này",
                         "en": "you are not allowed to do this"},
    "action.who_required": {"vi": "cần ghi tên người thực hiện", "en": "who is acting is required"},
    "action.not_active": {"vi": "cảnh báo #{alert} không còn hoạt động hoặc đã được tiếp nhận",
                          "en": "alert #{alert} is not active or is already acknowledged"},
    "action.no_alert": {"vi": "không có cảnh báo #{alert}", "en": "no alert #{alert}"},
    "action.empty_comment": {"vi": "nội dung trao đổi đang trống", "en": "the comment is empty"},
    "action.silence_reason": {"vi": "cần ghi lý do tạm dừng thông báo", "en": "a silence needs a reason"},
    "action.silence_matcher": {"vi": "cần chọn quy tắc, lĩnh vực, địa bàn hoặc đối tượng",
                               "en": "a silence needs a rule, domain, area or subject"},
    "action.silence_order": {"vi": "thời điểm kết thúc phải sau thời điểm bắt đầu",
                             "en": "a silence must end after it starts"},
    "action.window_incomplete": {"vi": "khung bảo trì cần ngày trong tuần, giờ bắt đầu và thời lượng",
                                 "en": "a maintenance window needs weekdays, a daily start and a length"},
    "action.weekdays": {"vi": "ngày trong tuần từ 0 (thứ Hai) đến 6 (Chủ nhật)",
                        "en": "weekdays are 0 (Monday) to 6 (Sunday)"},
    "action.window_length": {"vi": "khung bảo trì dài từ 1 đến 1440 phút",
                             "en": "a daily window lasts 1 to 1440 minutes"},
    "action.no_silence": {"vi": "không có lệnh tạm dừng #{silence} đang hiệu lực",
                          "en": "no silence #{silence} in force"},
    "action.empty_note": {"vi": "ghi chú đang trống", "en": "the note is empty"},
    "action.rule_invalid": {"vi": "quy tắc không hợp lệ ở {where}: {reason}",
                            "en": "invalid rule at {where}: {reason}"},
    "action.select_rule": {"vi": "hãy chọn một quy tắc", "en": "select a rule"},
    "action.rule_yaml": {"vi": "YAML không hợp lệ: {reason}", "en": "invalid YAML: {reason}"},
    "action.rule_mapping": {"vi": "quy tắc phải là một bảng khoá: giá trị (YAML)",
                            "en": "the rule must be a YAML mapping"},
    "action.no_rule": {"vi": "không có quy tắc {rule}", "en": "no rule {rule}"},
    "unit.day": {"vi": "ngày", "en": "d"},
    "unit.hour": {"vi": "giờ", "en": "h"},
    "unit.minute": {"vi": "phút", "en": "min"},
    "unit.second": {"vi": "giây", "en": "s"},
    "feed_state.ok": {"vi": "Tốt", "en": "OK"},
    "feed_state.late": {"vi": "Chậm", "en": "Late"},
    "feed_state.failing": {"vi": "Lỗi", "en": "Failing"},
    "feed_state.disabled": {"vi": "Đã tắt", "en": "Disabled"},
    "feed_state.waiting": {"vi": "Đang chờ", "en": "Waiting"},
    "status.ok": {"vi": "Bình thường", "en": "Normal"},
    "status.warning": {"vi": "Cảnh báo", "en": "Warning"},
    "status.critical": {"vi": "Nguy hiểm", "en": "Critical"},
    "status.nodata": {"vi": "Không có dữ liệu", "en": "No data"},
    # --- map (panels/_map.py) ---
    "map.areas": {"vi": "Địa bàn", "en": "Areas"},
    "map.sites": {"vi": "Điểm đo", "en": "Sites"},
    "map.counts": {"vi": "{critical} nguy hiểm · {warning} cảnh báo · {stale} chậm",
                   "en": "{critical} critical · {warning} warning · {stale} late"},
    "map.population": {"vi": "Dân số: {n}", "en": "Population: {n}"},
    # --- end map ---
    # chart
    "chart.nodata": {"vi": "Không có dữ liệu", "en": "No data"},
    "chart.warning": {"vi": "Ngưỡng cảnh báo", "en": "Warning threshold"},
    "chart.critical": {"vi": "Ngưỡng nguy hiểm", "en": "Critical threshold"},
    "chart.time": {"vi": "Thời gian", "en": "Time"},
    # ages
    "age.just_now": {"vi": "vừa xong", "en": "just now"},
    "age.seconds": {"vi": "{n} giây trước", "en": "{n} s ago"},
    "age.minutes": {"vi": "{n} phút trước", "en": "{n} min ago"},
    "age.hours": {"vi": "{n} giờ trước", "en": "{n} h ago"},
    "age.days": {"vi": "{n} ngày trước", "en": "{n} d ago"},
    # --- login, users, audit (ioc/auth) ---
    "auth.title": {"vi": "Đăng nhập", "en": "Sign in"},
    "auth.username": {"vi": "Tên đăng nhập", "en": "Username"},
    "auth.password": {"vi": "Mật khẩu", "en": "Password"},
    "auth.sign_in": {"vi": "Đăng nhập", "en": "Sign in"},
    "auth.sign_out": {"vi": "Đăng xuất", "en": "Sign out"},
    "auth.invalid": {"vi": "Sai tên đăng nhập hoặc mật khẩu", "en": "Wrong username or password"},
    # access control (issue #14): throttled sign-in, human refusal pages
    "auth.wait": {"vi": "Đăng nhập sai nhiều lần — vui lòng thử lại sau {seconds} giây",
                  "en": "Too many failed sign-ins — please try again in {seconds} seconds"},
    "auth.forbidden_title": {"vi": "Không có quyền truy cập", "en": "Access denied"},
    "auth.kiosk_title": {"vi": "Không mở được màn hình lớn", "en": "The wall screen cannot open"},
    "auth.unavailable": {"vi": "Tạm thời không kiểm tra được phiên đăng nhập — vui lòng thử lại",
                         "en": "Sign-in cannot be checked right now — please try again"},
    "auth.csrf": {"vi": "Phiên làm việc đã hết hạn — vui lòng tải lại trang",
                  "en": "Your session expired — please reload the page"},
    "auth.required": {"vi": "Cần đăng nhập", "en": "Sign-in required"},
    "auth.forbidden": {"vi": "Bạn không có quyền xem nội dung này", "en": "You are not allowed to see this"},
    "auth.kiosk_invalid": {"vi": "Mã màn hình không hợp lệ hoặc đã bị thu hồi",
                           "en": "Unknown or revoked wall-screen token"},
    "auth.role.operator": {"vi": "Trực ban", "en": "Operator"},
    "auth.role.officer": {"vi": "Cán bộ chuyên ngành", "en": "Domain officer"},
    "auth.role.leader": {"vi": "Lãnh đạo", "en": "Leader"},
    "auth.role.admin": {"vi": "Quản trị", "en": "Administrator"},
    "auth.role.kiosk": {"vi": "Màn hình lớn", "en": "Wall screen"},
    "nav.audit": {"vi": "Nhật ký thay đổi", "en": "Audit log"},
    "nav.group.system": {"vi": "Hệ thống", "en": "System"},
    "users.title": {"vi": "Người dùng và màn hình lớn", "en": "Users and wall screens"},
    "users.col.username": {"vi": "Tên đăng nhập", "en": "Username"},
    "users.col.name": {"vi": "Họ tên", "en": "Name"},
    "users.col.role": {"vi": "Vai trò", "en": "Role"},
    "users.col.domains": {"vi": "Lĩnh vực", "en": "Domains"},
    "users.col.active": {"vi": "Hoạt động", "en": "Active"},
    "users.col.last_login": {"vi": "Đăng nhập gần nhất", "en": "Last sign-in"},
    "users.col.id": {"vi": "Số", "en": "No."},
    "users.col.created": {"vi": "Tạo lúc", "en": "Created"},
    "users.col.last_used": {"vi": "Dùng gần nhất", "en": "Last used"},
    "users.col.revoked": {"vi": "Thu hồi lúc", "en": "Revoked"},
    "users.yes": {"vi": "Có", "en": "Yes"},
    "users.no": {"vi": "Không", "en": "No"},
    "users.add": {"vi": "Thêm người dùng", "en": "Add user"},
    "users.update": {"vi": "Cập nhật", "en": "Update"},
    "users.toggle": {"vi": "Khóa / mở khóa", "en": "Disable / enable"},
    "users.saved": {"vi": "Đã lưu người dùng {user}", "en": "User {user} saved"},
    "users.refused": {"vi": "Không lưu được: {reason}", "en": "Not saved: {reason}"},
    "users.kiosk": {"vi": "Mã đăng nhập màn hình lớn", "en": "Wall-screen tokens"},
    "users.kiosk_help": {"vi": "Màn hình lớn mở địa chỉ /kiosk?token=… và chỉ xem được màn hình giám sát.",
                         "en": "A wall screen opens /kiosk?token=… and can only show the wall views."},
    "users.kiosk_name": {"vi": "Tên màn hình", "en": "Screen name"},
    "users.kiosk_add": {"vi": "Tạo mã", "en": "Create token"},
    "users.kiosk_revoke": {"vi": "Thu hồi mã đã chọn", "en": "Revoke selected"},
    "users.kiosk_created": {"vi": "Địa chỉ cho màn hình (chỉ hiện một lần): ",
                            "en": "Address for the screen (shown only once): "},
    "users.kiosk_revoked": {"vi": "Đã thu hồi mã", "en": "Token revoked"},
    "users.kiosk_select": {"vi": "chọn một mã trong bảng", "en": "select a token in the table"},
    "nav.users": {"vi": "Người dùng", "en": "Users"},
    "audit.title": {"vi": "Nhật ký thay đổi", "en": "Audit log"},
    "audit.col.at": {"vi": "Thời điểm", "en": "When"},
    "audit.col.actor": {"vi": "Người thực hiện", "en": "Who"},
    "audit.col.action": {"vi": "Thao tác", "en": "Action"},
    "audit.col.target": {"vi": "Đối tượng", "en": "Target"},
    "audit.col.before": {"vi": "Trước", "en": "Before"},
    "audit.col.after": {"vi": "Sau", "en": "After"},
    # --- end auth ---
    # --- /alerts and /shift (panels/alerts.py, panels/shift.py) ---
    "nav.shift": {"vi": "Giao ca", "en": "Shift log"},
    "alerts.title": {"vi": "Cảnh báo", "en": "Alerts"},
    "alerts.summary": {"vi": "{firing} đang cảnh báo · {pending} đang chờ · {critical} nguy hiểm · "
                             "{unacked} chưa tiếp nhận",
                       "en": "{firing} firing · {pending} pending · {critical} critical · {unacked} unacknowledged"},
    "alerts.filter.domain": {"vi": "Lĩnh vực: tất cả", "en": "Domain: all"},
    "alerts.filter.area": {"vi": "Địa bàn: tất cả", "en": "Area: all"},
    "alerts.filter.severity": {"vi": "Mức độ: tất cả", "en": "Severity: all"},
    "alerts.filter.state": {"vi": "Trạng thái: tất cả", "en": "State: all"},
    "alerts.state.pending": {"vi": "Đang chờ", "en": "Pending"},
    "alerts.state.firing": {"vi": "Đang cảnh báo", "en": "Firing"},
    "alerts.state.resolved": {"vi": "Đã kết thúc", "en": "Resolved"},
    "alerts.active": {"vi": "Cảnh báo đang hoạt động", "en": "Active alerts"},
    "alerts.history": {"vi": "Lịch sử cảnh báo", "en": "Alert history"},
    "alerts.range.24h": {"vi": "24 giờ", "en": "24 h"},
    "alerts.range.7d": {"vi": "7 ngày", "en": "7 days"},
    "alerts.range.30d": {"vi": "30 ngày", "en": "30 days"},
    "alerts.export": {"vi": "Xuất CSV", "en": "Export CSV"},
    "alerts.empty": {"vi": "Không có cảnh báo nào đang hoạt động", "en": "No active alerts"},
    "alerts.history_empty": {"vi": "Không có cảnh báo trong khoảng thời gian này",
                             "en": "No alerts in this period"},
    "alerts.flapping": {"vi": "Dao động", "en": "Flapping"},
    "alerts.col.severity": {"vi": "Mức độ", "en": "Severity"},
    "alerts.col.state": {"vi": "Trạng thái", "en": "State"},
    "alerts.col.flapping": {"vi": "Dao động", "en": "Flapping"},
    "alerts.col.what": {"vi": "Chỉ số / quy tắc", "en": "Metric / rule"},
    "alerts.col.rule": {"vi": "Quy tắc", "en": "Rule"},
    "alerts.col.subject": {"vi": "Đối tượng", "en": "Subject"},
    "alerts.col.domain": {"vi": "Lĩnh vực", "en": "Domain"},
    "alerts.col.area": {"vi": "Địa bàn", "en": "Area"},
    "alerts.col.value": {"vi": "Giá trị", "en": "Value"},
    "alerts.col.threshold": {"vi": "Ngưỡng", "en": "Threshold"},
    "alerts.col.since": {"vi": "Từ lúc", "en": "Since"},
    "alerts.col.resolved_at": {"vi": "Kết thúc lúc", "en": "Resolved at"},
    "alerts.col.duration": {"vi": "Thời lượng", "en": "Duration"},
    "alerts.col.acknowledged_by": {"vi": "Người tiếp nhận", "en": "Acknowledged by"},
    "alerts.col.assigned_to": {"vi": "Giao cho", "en": "Assigned to"},
    "alerts.select_hint": {"vi": "Chọn một cảnh báo trong bảng để xem chi tiết và xử lý",
                           "en": "Select an alert in a table to see its details and act on it"},
    "alerts.detail.not_found": {"vi": "Không tìm thấy cảnh báo #{id}", "en": "No alert #{id}"},
    "alerts.detail.no_chart": {"vi": "Cảnh báo này không có biểu đồ số liệu", "en": "No metric chart for this alert"},
    "alerts.detail.crossing": {"vi": "Vượt ngưỡng", "en": "Crossing"},
    "alerts.detail.pending_since": {"vi": "Phát hiện lúc", "en": "Pending since"},
    "alerts.detail.firing_since": {"vi": "Bắt đầu cảnh báo", "en": "Firing since"},
    "alerts.detail.events": {"vi": "Diễn biến", "en": "Events"},
    "alerts.detail.comments": {"vi": "Trao đổi", "en": "Comments"},
    "alerts.detail.no_comments": {"vi": "Chưa có trao đổi", "en": "No comments yet"},
    "alerts.event.pending": {"vi": "Phát hiện", "en": "Pending"},
    "alerts.event.firing": {"vi": "Bắt đầu cảnh báo", "en": "Firing"},
    "alerts.event.escalated": {"vi": "Tăng mức", "en": "Escalated"},
    "alerts.event.deescalated": {"vi": "Giảm mức", "en": "De-escalated"},
    "alerts.event.resolved": {"vi": "Kết thúc", "en": "Resolved"},
    "alerts.event.cancelled": {"vi": "Hủy (chưa đủ thời gian)", "en": "Cancelled"},
    "alerts.event.acknowledged": {"vi": "Tiếp nhận", "en": "Acknowledged"},
    "alerts.event.assigned": {"vi": "Giao việc", "en": "Assigned"},
    "alerts.event.comment": {"vi": "Trao đổi", "en": "Comment"},
    "alerts.event.flapping": {"vi": "Dao động", "en": "Flapping"},
    "alerts.actions": {"vi": "Xử lý cảnh báo", "en": "Act on this alert"},
    "alerts.ack": {"vi": "Tiếp nhận", "en": "Acknowledge"},
    "alerts.ack_comment": {"vi": "Ghi chú khi tiếp nhận", "en": "Acknowledgement note"},
    "alerts.assign": {"vi": "Giao việc", "en": "Assign"},
    "alerts.assignee": {"vi": "Giao cho", "en": "Assignee"},
    "alerts.comment": {"vi": "Gửi trao đổi", "en": "Add comment"},
    "alerts.comment_body": {"vi": "Nội dung trao đổi", "en": "Comment"},
    "alerts.silence": {"vi": "Tạm dừng thông báo", "en": "Silence"},
    "alerts.silence.help": {"vi": "Tạm dừng chỉ ngừng gửi thông báo; cảnh báo vẫn hiển thị.",
                            "en": "A silence holds notifications only; the alert still shows."},
    "alerts.silence.matcher": {"vi": "Áp dụng cho", "en": "Applies to"},
    "alerts.silence.this": {"vi": "Quy tắc này tại đối tượng này", "en": "This rule on this subject"},
    "alerts.silence.domain": {"vi": "Cả lĩnh vực", "en": "The whole domain"},
    "alerts.silence.duration": {"vi": "Trong", "en": "For"},
    "alerts.silence.reason": {"vi": "Lý do", "en": "Reason"},
    "alerts.hours": {"vi": "{n} giờ", "en": "{n} h"},
    "alerts.silences.title": {"vi": "Đang tạm dừng thông báo", "en": "Silences"},
    "alerts.silences.none": {"vi": "Không có", "en": "None"},
    "alerts.silences.until": {"vi": "đến {time}", "en": "until {time}"},
    "alerts.silences.from": {"vi": "từ {time}", "en": "from {time}"},
    "alerts.no_selection": {"vi": "Chưa chọn cảnh báo", "en": "No alert selected"},
    "alerts.refused": {"vi": "Không thực hiện được: {reason}", "en": "Not done: {reason}"},
    "alerts.done.ack": {"vi": "Đã tiếp nhận cảnh báo #{id}", "en": "Alert #{id} acknowledged"},
    "alerts.done.assign": {"vi": "Đã giao cảnh báo #{id} cho {who}", "en": "Alert #{id} assigned to {who}"},
    "alerts.done.comment": {"vi": "Đã gửi trao đổi cho cảnh báo #{id}", "en": "Comment added to alert #{id}"},
    "alerts.done.silence": {"vi": "Đã tạm dừng thông báo đến {time}", "en": "Notifications held until {time}"},
    "shift.title": {"vi": "Sổ giao ca", "en": "Shift log"},
    "shift.add": {"vi": "Thêm ghi chép", "en": "Add a note"},
    "shift.body": {"vi": "Nội dung", "en": "Note"},
    "shift.alert_id": {"vi": "Mã cảnh báo (không bắt buộc)", "en": "Alert # (optional)"},
    "shift.submit": {"vi": "Lưu ghi chép", "en": "Save note"},
    "shift.saved": {"vi": "Đã lưu ghi chép", "en": "Note saved"},
    "shift.log": {"vi": "Ghi chép trong ca", "en": "Notes in this period"},
    "shift.empty": {"vi": "Chưa có ghi chép", "en": "No notes yet"},
    "shift.col.at": {"vi": "Thời gian", "en": "Time"},
    "shift.col.author": {"vi": "Người ghi", "en": "Author"},
    "shift.col.alert": {"vi": "Cảnh báo", "en": "Alert"},
    "shift.col.body": {"vi": "Nội dung", "en": "Note"},
    "shift.handover": {"vi": "Tóm tắt giao ca", "en": "Handover summary"},
    "shift.last_hours": {"vi": "{n} giờ qua", "en": "Last {n} h"},
    "shift.period_text": {"vi": "Từ {since} đến {until}", "en": "From {since} to {until}"},
    "shift.h.started_firing": {"vi": "Bắt đầu cảnh báo", "en": "Started firing"},
    "shift.h.resolved": {"vi": "Đã kết thúc", "en": "Resolved"},
    "shift.h.unacknowledged": {"vi": "Đang cảnh báo, chưa tiếp nhận", "en": "Firing, unacknowledged"},
    "shift.h.acknowledged": {"vi": "Đã tiếp nhận", "en": "Acknowledged"},
    "shift.h.silences": {"vi": "Tạm dừng thông báo đã tạo", "en": "Silences created"},
    "shift.h.notes": {"vi": "Ghi chép", "en": "Notes"},
    "shift.h.none": {"vi": "Không có", "en": "None"},
    "shift.h.by": {"vi": "bởi {who}", "en": "by {who}"},
    # --- ioc/status.py: judging, explaining (branch wall, issue #12) ---
    "status.level.warning": {"vi": "ngưỡng cảnh báo", "en": "the warning level"},
    "status.level.critical": {"vi": "ngưỡng nguy hiểm", "en": "the critical level"},
    "status.position.above": {"vi": "trên {level} {gap}", "en": "{gap} above {level}"},
    "status.position.below": {"vi": "dưới {level} {gap}", "en": "{gap} below {level}"},
    "tile.worst": {"vi": "Nặng nhất: {name} {value}", "en": "Worst: {name} {value}"},
    "tile.closest": {"vi": "Gần ngưỡng nhất: {name} {value}", "en": "Closest to its levels: {name} {value}"},
    "alerts.nodata_for": {"vi": "không có dữ liệu {duration}", "en": "no data for {duration}"},
    "rules.feed": {"vi": "Nguồn dữ liệu {name}", "en": "Feed {name}"},
    "rules.cond.above": {"vi": "Vượt ngưỡng", "en": "Above"},
    "rules.source.config": {"vi": "Tệp cấu hình", "en": "Config file"},
    "rules.cond.below": {"vi": "Dưới ngưỡng", "en": "Below"},
    "rules.cond.outside": {"vi": "Ngoài khoảng cho phép", "en": "Outside the band"},
    "rules.cond.rate_of_change": {"vi": "Thay đổi nhanh", "en": "Rate of change"},
    "rules.cond.nodata": {"vi": "Mất dữ liệu", "en": "No recent data"},
    "rules.cond.feed_silent": {"vi": "Nguồn dữ liệu im lặng", "en": "Feed silent"},
}


# AG Grid's own words (pagination, filter menus, loading, empty table) in Vietnamese; English is its default.
AG_GRID_VI = {
    "noRowsToShow": "Không có dòng nào", "loadingOoo": "Đang tải…", "page": "Trang", "more": "nhiều hơn",
    "to": "đến", "of": "trên", "next": "Sau", "last": "Cuối", "first": "Đầu", "previous": "Trước",
    "firstPage": "Trang đầu", "lastPage": "Trang cuối", "nextPage": "Trang sau", "previousPage": "Trang trước",
    "pageSizeSelectorLabel": "Số dòng mỗi trang:", "ariaPageSizeSelectorLabel": "Số dòng mỗi trang",
    "pageLastRowUnknown": "?", "filterOoo": "Lọc…", "searchOoo": "Tìm…", "selectAll": "(Chọn tất cả)",
    "selectAllSearchResults": "(Chọn mọi kết quả)", "blanks": "(Trống)", "noMatches": "Không có kết quả",
    "equals": "Bằng", "notEqual": "Khác", "blank": "Trống", "notBlank": "Không trống",
    "empty": "Chọn một điều kiện", "lessThan": "Nhỏ hơn", "greaterThan": "Lớn hơn",
    "lessThanOrEqual": "Nhỏ hơn hoặc bằng", "greaterThanOrEqual": "Lớn hơn hoặc bằng", "inRange": "Trong khoảng",
    "inRangeStart": "Từ", "inRangeEnd": "Đến", "contains": "Chứa", "notContains": "Không chứa",
    "startsWith": "Bắt đầu bằng", "endsWith": "Kết thúc bằng", "before": "Trước", "after": "Sau",
    "andCondition": "VÀ", "orCondition": "HOẶC", "applyFilter": "Áp dụng", "resetFilter": "Đặt lại",
    "clearFilter": "Xóa", "cancelFilter": "Hủy", "dateFormatOoo": "dd/mm/yyyy", "filterConditions": "Điều kiện",
    "ariaFilterInput": "Ô lọc", "ariaFilterValue": "Giá trị lọc", "ariaFilteringOperator": "Phép lọc",
    "ariaColumn": "Cột", "ariaRowSelect": "Nhấn Space để chọn dòng", "ariaSearch": "Tìm",
    "pinColumn": "Ghim cột", "autosizeThisColumn": "Tự chỉnh độ rộng cột này",
    "autosizeAllColumns": "Tự chỉnh mọi cột", "resetColumns": "Đặt lại các cột", "sortAscending": "Sắp xếp tăng",
    "sortDescending": "Sắp xếp giảm", "sortUnSort": "Bỏ sắp xếp", "columns": "Cột", "filters": "Bộ lọc",
    "columnFilter": "Lọc cột", "ariaLabelColumnFilter": "Lọc cột", "ariaLabelColumnMenu": "Trình đơn cột",
    "ariaSortableColumn": "Nhấn Enter để sắp xếp", "ariaFilterMenuOpen": "Mở bộ lọc",
}


def _strict() -> bool:
    """Unknown keys raise under pytest (or IOC_I18N_STRICT=1); in production they show the key."""
    return os.environ.get("IOC_I18N_STRICT") == "1" or "pytest" in sys.modules


def normalize_lang(lang: str | None, default: str = DEFAULT_LANG) -> str:
    """Return a supported language code ('vi' or 'en'); anything else gives the default."""
    if isinstance(lang, str):
        code = lang.strip().lower()[:2]
        if code in LANGS:
            return code
    return default if default in LANGS else DEFAULT_LANG


def t(key: str, lang: str | None = DEFAULT_LANG, **params: object) -> str:
    """The message `key` in `lang`, formatted with `params` ({n}, {total}...).

    An unknown key raises KeyError in tests; in production it is logged once and the key is shown.
    """
    entry = MESSAGES.get(key)
    if entry is None:
        if _strict():
            raise KeyError(f"unknown i18n key: {key!r}")
        _warn_unknown(key)
        return key
    text = entry[normalize_lang(lang)]
    return text.format(**params) if params else text


@lru_cache(maxsize=256)
def _warn_unknown(key: str) -> None:
    log.warning("i18n: unknown message key %r", key)


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True


def auto_decimals(value: float) -> int:
    """Decimals that suit the magnitude: 1234 → 0, 12.3 → 1, 1.23 → 2."""
    magnitude = abs(value)
    if magnitude >= 100 or float(value).is_integer():
        return 0
    if magnitude >= 10:
        return 1
    return 2


def format_number(value: float | int | None, lang: str | None = DEFAULT_LANG,
                  decimals: int | None = None) -> str:
    """1234.5 → '1.234,5' (vi) or '1,234.5' (en); None/NaN → '—'."""
    if _is_missing(value):
        return DASH
    number = float(value)  # type: ignore[arg-type]
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    places = auto_decimals(number) if decimals is None else max(0, decimals)
    rounded = Decimal(repr(number)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{rounded:,.{places}f}"  # half up, as people round (1234.5 → 1,235), not to even
    if decimals is None and "." in text:
        text = text.rstrip("0").rstrip(".")  # auto mode: 7.10 → 7.1
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]  # no "-0"
    if normalize_lang(lang) == "vi":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def format_value(value: float | None, unit: str, lang: str | None = DEFAULT_LANG,
                 decimals: int | None = None) -> str:
    """A number with its unit: '1.234,5 µg/m³'; '%' sticks to the number; missing → '—'."""
    text = format_number(value, lang, decimals)
    if text == DASH or not unit:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


def format_age(seconds: float | None, lang: str | None = DEFAULT_LANG) -> str:
    """5 → '5 giây trước' / '5 s ago'; 180 → '3 phút trước'; 7200 → '2 giờ trước'; missing → '—'."""
    if _is_missing(seconds):
        return DASH
    secs = max(0.0, float(seconds))  # type: ignore[arg-type]
    if secs < 1:
        return t("age.just_now", lang)
    if secs < 60:
        return t("age.seconds", lang, n=int(secs))
    if secs < 3600:
        return t("age.minutes", lang, n=int(secs // 60))
    if secs < 86400:
        return t("age.hours", lang, n=int(secs // 3600))
    return t("age.days", lang, n=int(secs // 86400))


def format_duration(seconds: float, lang: str | None = DEFAULT_LANG) -> str:
    """90 → '1 phút 30 giây' / '1 min 30 s'; 7200 → '2 giờ' / '2 h' (the two largest units)."""
    units = [(86400, "unit.day"), (3600, "unit.hour"), (60, "unit.minute"), (1, "unit.second")]
    parts, rest = [], int(seconds)
    for size, key in units:
        if rest >= size and len(parts) < 2:
            parts.append(f"{rest // size} {t(key, lang)}")
            rest %= size
    return " ".join(parts) or f"0 {t('unit.second', lang)}"


@lru_cache(maxsize=16)
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def to_local(ts_utc: datetime, tz: str = DEFAULT_TZ) -> datetime:
    """A UTC instant in the local zone (a naive datetime is taken as UTC). Works for pandas Timestamps."""
    if ts_utc.tzinfo is None:
        ts_utc = ts_utc.replace(tzinfo=UTC)
    return ts_utc.astimezone(_zone(tz))


_FORMATS = {
    ("vi", "time"): "%H:%M:%S",
    ("en", "time"): "%H:%M:%S",
    ("vi", "date"): "%d/%m/%Y",
    ("en", "date"): "%Y-%m-%d",
    ("vi", "datetime"): "%H:%M:%S %d/%m/%Y",
    ("en", "datetime"): "%Y-%m-%d %H:%M:%S",
    ("vi", "short"): "%H:%M %d/%m",
    ("en", "short"): "%d %b %H:%M",
}


def format_time(ts_utc: datetime | None, lang: str | None = DEFAULT_LANG, tz: str = DEFAULT_TZ,
                style: str = "datetime") -> str:
    """A UTC instant as local text: style 'time', 'date', 'datetime' or 'short'; missing → '—'."""
    if ts_utc is None or _is_nat(ts_utc):
        return DASH
    return to_local(ts_utc, tz).strftime(_FORMATS[(normalize_lang(lang), style)])


def _is_nat(value: object) -> bool:
    try:
        return value != value  # NaT and NaN are not equal to themselves
    except (TypeError, ValueError):
        return False


# --- the region's own name (config/region*.yaml `identity`) -----------------------------------

def use_short_name(vi: str, en: str) -> None:
    """The product's title ("IOC Bắc Giang", "IOC Bắc Ninh") is the active region's, set when config loads."""
    MESSAGES["app.title"] = {"vi": vi, "en": en}
