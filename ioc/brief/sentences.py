"""The brief in words: the computed numbers as an administrative report (Decree 30/2020/NĐ-CP layout).

The content has the parts of a "báo cáo": the issuing body under the body it reports to, the national motto,
the place and date line, the title "Báo cáo nhanh tình hình … ngày …", numbered sections (I. general
situation, II. the domains, III. issues to note with the agency that answers for each, IV. the state of the
data, V. plan targets) and the closing "Nơi nhận". Every sentence is a template from `ioc.i18n` filled with
numbers from `compute`; a sentence is written only when its numbers say something, so a quiet day reads as
a quiet day. The English edition translates the same content.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ioc import vn_aqi
from ioc.brief.compute import COMPLETE_ENOUGH, notable
from ioc.config import Config
from ioc.i18n import format_duration, format_number, format_time, format_value, t

NAMES_MAX = 3
ROMAN = ("I", "II", "III", "IV", "V", "VI")
# Day totals read together in one sentence, as a report states them: accidents with their victims, the
# dossiers received with how they were resolved and filed (Decree 42/2022). The sentences are the catalogs'
# "brief.r.together.<first metric>" (+ ".previous", ".last_year"), with each metric's figure by its key.
TOGETHER = {"road_accidents": ("road_accident_deaths", "road_accident_injuries"),
            "dossiers_received": ("dossiers_on_time", "dossiers_late", "dossiers_online_full",
                                  "dossiers_online_partial")}


def _decimals(v: float | None) -> int | None:
    """Leaders read 81.8 %, not 81.84 %: one decimal from 1 up, none from 100 up; small values keep two."""
    if v is None:
        return None
    size = abs(v)
    return 0 if size >= 100 or float(v).is_integer() else (1 if size >= 1 else 2)


def _value(v: float | None, unit: str, lang: str) -> str:
    return format_value(v, unit, lang, _decimals(v))


def _pct(v: float | None, lang: str) -> str:
    return format_value(v, "%", lang, decimals=1 if v is not None and v < 99.95 else 0)


def _signed(d: float | None, unit: str, lang: str) -> str:
    """A change with its sign ('+2 vụ', '−1,5 điểm %'); what rounds to zero is '±0'."""
    if d is None:
        return "—"
    number = format_number(abs(d), lang, _decimals(d))
    sign = "±" if not number.strip("0,.") else ("+" if d > 0 else "−")
    text = t("brief.points", lang, n=number) if unit == "%" else format_value(abs(d), unit, lang, _decimals(d))
    return f"{sign}{text}"


def tone(change: float | None, direction: str | None) -> str:
    """'up'/'down'/'flat' with 'bad' or 'good' by the metric's threshold direction (no direction: neutral)."""
    if change is None:
        return "none"
    if change == 0:
        return "flat"
    way = "up" if change > 0 else "down"
    if direction is None:
        return f"{way}-neutral"
    worse = (change > 0) == (direction == "above")
    return f"{way}-{'bad' if worse else 'good'}"


def _name(config: Config, entity: str | None, lang: str) -> str:
    return config.entities[entity].name.get(lang) if entity in config.entities else (entity or "")


def _names(config: Config, ids: list[str], lang: str) -> str:
    names = [_name(config, i, lang) for i in ids[:NAMES_MAX]]
    if len(ids) > NAMES_MAX:
        names.append(t("brief.r.more", lang, n=len(ids) - NAMES_MAX))
    return ", ".join(names)


def _sentence(text: str) -> str:
    text = text.strip()
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _local(ts: str, lang: str, tz: str, style: str = "time") -> str:
    text = format_time(datetime.fromisoformat(ts), lang, tz, style)
    return text[:5] if style == "time" else text


def _compare(ind: dict[str, Any], unit: str, lang: str) -> str:
    """'so với ngày trước tăng 2 vụ, so với trung bình 7 ngày …, so với cùng kỳ …' for the parts that exist."""
    parts = []
    for key, phrase in (("change_day", "brief.r.vs_day"), ("change_baseline", "brief.r.vs_base"),
                        ("change_year", "brief.r.vs_year")):
        change = ind[key]
        if change is None:
            continue
        if format_number(abs(change), lang, _decimals(change)).strip("0,.") == "":
            how = t("brief.r.same", lang)
        else:
            # a sentence spells the unit out ("điểm phần trăm"), as a report writes it; tables keep "điểm %"
            delta = t("brief.r.points", lang, n=format_number(abs(change), lang, _decimals(change))) if unit == "%" \
                else format_value(abs(change), unit, lang, _decimals(change))
            how = t("brief.r.up" if change > 0 else "brief.r.down", lang, delta=delta)
        parts.append(t(phrase, lang, how=how))
    return "; ".join(parts)


def _figure(config: Config, ind: dict[str, Any], lang: str) -> str:
    """'Tai nạn giao thông trong ngày 3 vụ' / 'Lượng mưa ngày lớn nhất 85,2 mm tại …' by the metric's semantics."""
    metric = config.metrics[ind["metric"]]
    unit = metric.unit_text(lang)
    if metric.key == "vn_aqi":
        return t("brief.r.aqi", lang, value=format_number(ind["value"], lang, 0),
                 band=vn_aqi.band_name(ind["value"], lang), site=_name(config, ind["site"], lang))
    key = f"brief.r.figure.{ind['over_time']}"
    if ind["over_time"] == "day_total" and ind["across"] in ("max", "min"):
        key += f"_{ind['across']}"
    text = t(key, lang, label=metric.label.get(lang), value=_value(ind["value"], unit, lang))
    if ind["site"] and ind["across"] in ("max", "min", "worst_site"):
        text += " " + t("brief.r.at", lang, site=_name(config, ind["site"], lang))
    return text


def indicator_sentence(config: Config, ind: dict[str, Any], lang: str) -> str | None:
    if not notable(ind):
        return None
    unit = config.metrics[ind["metric"]].unit_text(lang)
    text = _figure(config, ind, lang)
    if compare := _compare(ind, unit, lang):
        text += f" ({compare})"
    if ind["status"] in ("warning", "critical"):
        text += "; " + t(f"brief.r.reached.{ind['status']}", lang)
    return _sentence(text)


def together_sentence(config: Config, ind: dict[str, Any], others: dict[str, dict], lang: str) -> str | None:
    """Day totals that belong together (TOGETHER) in one sentence, compared with the day before and a year ago."""
    parts = TOGETHER.get(ind["metric"])
    if not parts or ind["value"] is None or any(p not in others for p in parts):
        return None
    group = [ind, *(others[p] for p in parts)]
    key = f"brief.r.together.{ind['metric']}"

    def figures(field: str) -> dict[str, str]:
        return {g["metric"]: format_number(g[field] or 0, lang, 0) for g in group}

    cmp = [t(f"{key}.{field}", lang, **figures(field)) for field in ("previous", "last_year")
           if ind[field] is not None]
    return _sentence(t(key, lang, **figures("value")) + (f" ({'; '.join(cmp)})" if cmp else ""))


def gauge_sentences(config: Config, ind: dict[str, Any], lang: str, tz: str) -> list[str]:
    """Each river gauge's peak of the day against its own BĐ levels."""
    unit = config.metrics[ind["metric"]].unit_text(lang)
    out = []
    for gauge in ind.get("gauges", []):
        levels = gauge["levels"]
        if gauge["reached"]:
            where = t("brief.r.gauge_above", lang, level=gauge["reached"].upper().replace("BD", "BĐ"),
                      threshold=_value(levels[gauge["reached"]], unit, lang))
        elif "bd1" in levels:
            where = t("brief.r.gauge_below", lang, threshold=_value(levels["bd1"], unit, lang),
                      gap=_value(levels["bd1"] - gauge["peak"], unit, lang))
        else:
            where = ""
        text = t("brief.r.gauge", lang, gauge=_name(config, gauge["entity"], lang),
                 value=_value(gauge["peak"], unit, lang), time=_local(gauge["peak_at"], lang, tz))
        out.append(_sentence(f"{text}, {where}" if where else text))
    return out


def issue_text(config: Config, issue: dict[str, Any], lang: str, tz: str) -> str:
    metric = config.metrics[issue["metric"]]
    unit = metric.unit_text(lang)
    level = t("brief.r.level.critical" if issue["critical"] else "brief.r.level.warning", lang)
    text = t(f"brief.r.issue.{issue['direction']}", lang, label=metric.label.get(lang),
             site=_name(config, issue["entity"], lang), value=_value(issue["peak"], unit, lang),
             time=_local(issue["peak_at"], lang, tz), level=level, threshold=_value(issue["threshold"], unit, lang),
             duration=format_duration(issue["total_s"], lang))
    if issue["runs"] > 1:
        text += " " + t("brief.r.issue_runs", lang, n=issue["runs"])
    return _sentence(text)


def silence_sentences(config: Config, silences: list[dict[str, Any]], lang: str, tz: str) -> list[str]:
    """'Trạm đo mưa Lục Ngạn mất kết nối 3 giờ (10:00–13:00)'; sites silent all day grouped by kind."""
    whole: dict[str, list[str]] = {}
    partial: dict[str, list[dict]] = {}
    for s in silences:
        if s["whole_day"]:
            whole.setdefault(config.entities[s["entity"]].kind, []).append(s["entity"])
        else:
            partial.setdefault(s["entity"], []).append(s)
    out = []
    for kind, ids in whole.items():
        if len(ids) == 1:
            out.append(_sentence(t("brief.r.silent_day_one", lang, site=_name(config, ids[0], lang))))
        else:
            out.append(_sentence(t("brief.r.silent_day", lang, n=len(ids),
                                   kind=config.kinds[kind].name.get(lang).lower() if lang == "vi"
                                   else config.kinds[kind].name.get(lang), names=_names(config, ids, lang))))
    for entity, gaps in partial.items():
        total = sum(g["seconds"] for g in gaps)
        spans = ", ".join(f"{_local(g['from'], lang, tz)}–{_local(g['to'], lang, tz)}" for g in gaps[:3])
        key = "brief.r.silent_once" if len(gaps) == 1 else "brief.r.silent_many"
        out.append(_sentence(t(key, lang, site=_name(config, entity, lang), duration=format_duration(total, lang),
                               n=len(gaps), spans=spans)))
    return out


def _date_line(config: Config, when: date, lang: str) -> str:
    place = config.identity.place.get(lang)
    if lang == "vi":
        return f"{place}, ngày {when.day:02d} tháng {when.month:02d} năm {when.year}"
    return f"{place}, {when.day} {when.strftime('%B')} {when.year}"


def localize(config: Config, data: dict[str, Any], lang: str) -> dict[str, Any]:
    """The stored content of a brief in one language: the numbers plus their labels, texts and sentences."""
    tz = data["timezone"]
    day = date.fromisoformat(data["date"])
    day_text = day.strftime("%d/%m/%Y")
    generated = datetime.fromisoformat(data["generated_at"])
    identity = config.identity
    domains = []
    critical_names = []
    for number, d in enumerate(data["domains"], start=1):
        by_key = {ind["metric"]: ind for ind in d["indicators"]}
        hidden = {p for ind in d["indicators"] for p in TOGETHER.get(ind["metric"], ())}
        sentences = []
        counts = [ind for ind in d["indicators"] if ind["over_time"] == "day_total" and ind["across"] == "sum"
                  and ind["value"] is not None
                  and ind["metric"] not in hidden and ind["metric"] not in TOGETHER]
        if counts:
            sentences.append(_sentence(t("brief.r.counts", lang, items="; ".join(
                f"{config.metrics[i['metric']].label.get(lang)} "
                f"{_value(i['value'], config.metrics[i['metric']].unit_text(lang), lang)}" for i in counts))))
        for ind in d["indicators"]:
            if ind["metric"] in hidden:
                continue
            if s := together_sentence(config, ind, by_key, lang):
                sentences.append(s)
            elif ind.get("gauges"):
                sentences += gauge_sentences(config, ind, lang, tz)
            elif s := indicator_sentence(config, ind, lang):
                sentences.append(s)
        comp = d["completeness"]
        if comp["expected"] and comp["received"] == 0:
            sentences = [_sentence(t("brief.r.domain_empty", lang))]
        rows = []
        for ind in d["indicators"]:
            metric = config.metrics[ind["metric"]]
            unit = metric.unit_text(lang)
            if ind["status"] == "critical":
                critical_names.append(metric.label.get(lang))
            value_text = _value(ind["value"], unit, lang)
            if ind["band"]:
                value_text += f" ({vn_aqi.band_name(ind['value'], lang)})"
            texts = {k: _signed(ind[k], unit, lang) for k in ("change_day", "change_baseline", "change_year")}
            rows.append({**ind, "label": metric.label.get(lang), "unit": unit, "value_text": value_text,
                         "how_text": " · ".join(filter(None, (
                             t("brief.how.aqi" if ind["band"] else f"brief.how.{ind['over_time']}", lang),
                             _name(config, ind["site"], lang) if ind["site"] else None))),
                         "vs_day_text": texts["change_day"], "vs_base_text": texts["change_baseline"],
                         "vs_year_text": texts["change_year"],
                         **{f"{k}_tone": "flat" if texts[k].startswith("±") else tone(ind[k], ind["direction"])
                            for k in ("change_day", "change_baseline", "change_year")},
                         "status_text": "—" if ind["status"] == "none" else t(f"brief.status.{ind['status']}", lang)
                         if ind["status"] == "no_school" else t(f"status.{ind['status']}", lang)})
        domains.append({**d, "number": str(number), "name": config.domains[d["key"]].name.get(lang),
                        "indicators": rows, "sentences": sentences or [t("brief.quiet", lang)],
                        "completeness_text": t("brief.completeness_domain", lang, pct=_pct(comp["pct"], lang))})
    summary = []
    a = data["alerts"]
    summary.append(_sentence(t("brief.r.alerts", lang, n=a["total"], critical=a["critical"], open=a["unresolved"])
                             if a["total"] else t("brief.r.no_alerts", lang)))
    if data["issues"]:
        summary.append(_sentence(t("brief.r.issues", lang, n=len(data["issues"]))))
    if critical_names:
        summary.append(_sentence(t("brief.r.critical", lang, names=", ".join(critical_names))))
    comp = data["completeness"]
    if comp["expected"] and comp["pct"] is not None and comp["pct"] < COMPLETE_ENOUGH:
        summary.append(_sentence(t("brief.r.partial", lang, pct=_pct(comp["pct"], lang))))
    agencies = identity.agencies
    issues = [{**i, "text": issue_text(config, i, lang, tz),
               "agency_text": agencies[i["agency"]].get(lang) if i["agency"] else "—"} for i in data["issues"]]
    data_notes = silence_sentences(config, data["silences"], lang, tz)
    for d in domains:
        c = d["completeness"]
        if c["expected"] and c["pct"] is not None and 0 < c["pct"] < COMPLETE_ENOUGH:
            data_notes.append(_sentence(t("brief.r.domain_partial", lang, domain=d["name"], pct=_pct(c["pct"], lang))))
    plan = []
    for row in data["plan"]:
        metric = config.metrics[row["metric"]]
        unit = metric.unit_text(lang)
        plan.append({**row, "label": metric.label.get(lang),
                     "value_text": _value(row["value"], unit, lang) if row["value"] is not None
                     else t("brief.no_figure" if row["computed"] else "brief.not_entered", lang),
                     "as_of_text": (t("brief.computed", lang) if row["computed"] else
                                    format_time(datetime.fromisoformat(row["as_of"]), lang, tz, "date"))
                     if row["as_of"] else "—",
                     "targets": [{**tg, "text": t("brief.by_year", lang, value=_value(tg["value"], unit, lang),
                                                  year=tg["year"]),
                                  "progress_text": _pct(tg["progress_pct"], lang)} for tg in row["targets"]]})
    sections = [t(f"brief.sec.{k}", lang) for k in ("general", "domains", "issues", "data", "plan")]
    return {**data, "lang": lang, "date_text": day_text,
            "title": t("brief.report_title", lang, date=day_text),
            "subject": t("brief.report_subject", lang, date=day_text),
            "authority": identity.authority.get(lang), "issuer": identity.title.get(lang),
            "short_name": identity.short_name.get(lang),
            "date_line": _date_line(config, generated.astimezone(ZoneInfo(tz)).date(), lang),
            "generated_text": t("brief.generated", lang, time=format_time(generated, lang, tz)),
            "sections": [f"{ROMAN[i]}. {name}" for i, name in enumerate(sections)],
            "summary": summary, "domains": domains, "issues": issues, "data_notes": data_notes,
            "plan": plan, "recipients": [r.get(lang) for r in identity.recipients]}
