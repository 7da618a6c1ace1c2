"""The brief in words: the computed numbers turned into labelled, formatted content and sentences.

Every sentence is a template from `ioc.i18n` filled with numbers from `compute`; a sentence is written
only when its numbers say something (a band crossed, sites in breach, a 10 % move from the baseline,
alerts, breaches, missing data), so a quiet day reads as a quiet day.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ioc.brief.compute import COMPLETE_ENOUGH, notable
from ioc.config import Config
from ioc.i18n import format_duration, format_number, format_time, format_value, t

NAMES_MAX = 3


def _decimals(v: float | None) -> int | None:
    """Leaders read 81.8 %, not 81.84 %: one decimal from 1 up, none from 100 up; small ratios keep two."""
    if v is None:
        return None
    size = abs(v)
    return 0 if size >= 100 or float(v).is_integer() else (1 if size >= 1 else 2)


def _value(v: float | None, unit: str, lang: str) -> str:
    return format_value(v, unit, lang, _decimals(v))


def _pct(v: float | None, lang: str) -> str:
    return format_value(v, "%", lang, decimals=1 if v is not None and v < 99.95 else 0)


def _delta(d: float, unit: str, lang: str) -> str:
    """A difference without sign: '5 điểm phần trăm' for a percentage, else the value with its unit."""
    if unit == "%":
        return t("brief.s.delta_points", lang, n=format_number(abs(d), lang, _decimals(d)))
    return format_value(abs(d), unit, lang, _decimals(d))


def _signed(d: float | None, unit: str, lang: str) -> str:
    if d is None:
        return "—"
    number = format_number(abs(d), lang, _decimals(d))
    sign = "±" if not number.strip("0,.") else ("+" if d > 0 else "−")  # what rounds to zero has no direction
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


def _names(config: Config, ids: list[str], lang: str) -> str:
    names = [config.entities[i].name.get(lang) if i in config.entities else i for i in ids[:NAMES_MAX]]
    if len(ids) > NAMES_MAX:
        names.append(t("brief.s.more", lang, n=len(ids) - NAMES_MAX))
    return ", ".join(names)


def _w(word: str, n: int, lang: str) -> str:
    """The counted noun in the right number (English has one; Vietnamese nouns do not change)."""
    return t(f"brief.w.{word}" if n == 1 else f"brief.w.{word}s", lang)


def _sentence(parts: list[str]) -> str:
    head, *rest = [p for p in parts if p]
    text = head + ("; " + "; ".join(rest) if rest else "")
    return text[0].upper() + text[1:] + "."


def indicator_sentence(config: Config, ind: dict[str, Any], lang: str) -> str | None:
    if not notable(ind):
        return None
    metric = config.metrics[ind["metric"]]
    unit = metric.unit_text(lang)
    main = t(f"brief.s.value.{ind['aggregation']}", lang, label=metric.label.get(lang),
             value=_value(ind["value"], unit, lang))
    change, base = ind["change_baseline"], ind["baseline"]
    if change:
        main += ", " + t("brief.s.base.up" if change > 0 else "brief.s.base.down", lang,
                         delta=_delta(change, unit, lang), baseline=_value(base, unit, lang))
    parts = [main]
    own_levels = any(metric.key in config.entities[e].thresholds
                     for e in ind["critical_sites"] + ind["warning_sites"])
    if ind["critical_sites"]:
        n, names = len(ind["critical_sites"]), _names(config, ind["critical_sites"], lang)
        if own_levels:
            parts.append(t("brief.s.sites.critical", lang, n=n, sites=_w("site", n, lang), names=names))
        else:
            key = "brief.s.sites.critical_at" if ind["direction"] == "above" else "brief.s.sites.critical_below"
            parts.append(t(key, lang, n=n, sites=_w("site", n, lang), threshold=_value(ind["critical"], unit, lang),
                           names=names))
    if ind["warning_sites"]:
        n = len(ind["warning_sites"])
        parts.append(t("brief.s.sites.warning", lang, n=n, sites=_w("site", n, lang),
                       names=_names(config, ind["warning_sites"], lang)))
    return _sentence(parts)


def _what(config: Config, alert: dict[str, Any], lang: str) -> str:
    metric = config.metrics.get(alert.get("metric") or "")
    return metric.label.get(lang) if metric else alert["rule"]


def _subject(config: Config, subject: str, lang: str) -> str:
    return config.entities[subject].name.get(lang) if subject in config.entities else subject


def alert_sentences(config: Config, alerts: dict[str, Any], lang: str) -> list[str]:
    if not alerts["total"]:
        return []
    parts = [t("brief.s.alerts", lang, n=alerts["total"], alerts=_w("alert", alerts["total"], lang),
               critical=alerts["critical"], warning=alerts["warning"])]
    if alerts["unresolved"]:
        parts.append(t("brief.s.alerts_open", lang, n=alerts["unresolved"]))
    if alerts["acknowledged"]:
        parts.append(t("brief.s.alerts_ack", lang, n=alerts["acknowledged"], total=alerts["total"],
                       duration=format_duration(alerts["ack_median_s"], lang)))
    else:
        parts.append(t("brief.s.alerts_no_ack", lang, total=alerts["total"]))
    longest = alerts["longest"]
    text = t("brief.s.alert_longest", lang, what=_what(config, longest, lang),
             subject=_subject(config, longest["subject"], lang), duration=format_duration(longest["duration_s"], lang))
    if not longest["resolved"]:
        text += f" ({t('brief.s.still_open', lang)})"
    return [_sentence(parts), _sentence([text])]


def breach_sentences(config: Config, breaches: dict[str, Any], lang: str, tz: str) -> list[str]:
    out = []
    largest, longest = breaches["largest"], breaches["longest"]
    if largest:
        metric = config.metrics[largest["metric"]]
        unit = metric.unit_text(lang)
        out.append(_sentence([t("brief.s.breach_largest", lang, label=metric.label.get(lang),
                                entity=_subject(config, largest["entity"], lang),
                                value=_value(largest["peak"], unit, lang),
                                time=format_time(datetime.fromisoformat(largest["peak_at"]), lang, tz, "time")[:5],
                                threshold=_value(largest["threshold"], unit, lang))]))
    if longest and longest is not largest and longest != largest:
        metric = config.metrics[longest["metric"]]
        out.append(_sentence([t("brief.s.breach_longest", lang, label=metric.label.get(lang),
                                entity=_subject(config, longest["entity"], lang),
                                duration=format_duration(longest["duration_s"], lang),
                                time=format_time(datetime.fromisoformat(longest["start"]), lang, tz, "time")[:5])]))
    return out


def completeness_sentence(part: dict[str, Any], lang: str, empty_key: str, partial_key: str) -> str | None:
    if not part["expected"]:
        return None
    if part["received"] == 0:
        return _sentence([t(empty_key, lang, expected=format_number(part["expected"], lang))])
    if part["pct"] < COMPLETE_ENOUGH:
        return _sentence([t(partial_key, lang, pct=_pct(part["pct"], lang),
                            received=format_number(part["received"], lang),
                            expected=format_number(part["expected"], lang))])
    return None


def localize(config: Config, data: dict[str, Any], lang: str) -> dict[str, Any]:
    """The stored content of a brief in one language: the numbers plus their labels, texts and sentences."""
    tz = data["timezone"]
    day = date.fromisoformat(data["date"])
    day_text = day.strftime("%d/%m/%Y") if lang == "vi" else day.isoformat()
    domains = []
    critical_names = []
    for d in data["domains"]:
        sentences = [s for ind in d["indicators"] if (s := indicator_sentence(config, ind, lang))]
        sentences += alert_sentences(config, d["alerts"], lang)
        sentences += breach_sentences(config, d["breaches"], lang, tz)
        if s := completeness_sentence(d["completeness"], lang, "brief.s.domain_empty", "brief.s.domain_partial"):
            sentences.append(s)
        indicators = []
        for ind in d["indicators"]:
            metric = config.metrics[ind["metric"]]
            unit = metric.unit_text(lang)
            if ind["status"] == "critical":
                critical_names.append(metric.label.get(lang))
            vs_day, vs_base = _signed(ind["change_day"], unit, lang), _signed(ind["change_baseline"], unit, lang)
            indicators.append({**ind, "label": metric.label.get(lang), "unit": unit,
                               "value_text": _value(ind["value"], unit, lang),
                               "vs_day_text": vs_day, "vs_base_text": vs_base,
                               "vs_day_tone": "flat" if vs_day.startswith("±") else tone(ind["change_day"],
                                                                                       ind["direction"]),
                               "vs_base_tone": "flat" if vs_base.startswith("±") else tone(ind["change_baseline"],
                                                                                         ind["direction"]),
                               "status_text": t(f"status.{ind['status']}", lang)})
        comp = d["completeness"]
        domains.append({**d, "name": config.domains[d["key"]].name.get(lang), "indicators": indicators,
                        "sentences": sentences,
                        "completeness_text": t("brief.completeness_domain", lang, pct=_pct(comp["pct"], lang))})
    summary = []
    a = data["alerts"]
    if a["total"]:
        summary.append(_sentence([t("brief.s.day_alerts", lang, n=a["total"], alerts=_w("alert", a["total"], lang),
                                    critical=a["critical"], open=a["unresolved"])]))
    if critical_names:
        n = len(critical_names)
        summary.append(_sentence([t("brief.s.critical_indicators", lang, n=n, indicators=_w("indicator", n, lang),
                                    names=", ".join(critical_names))]))
    if s := completeness_sentence(data["completeness"], lang, "brief.s.day_empty", "brief.s.day_partial"):
        summary.append(s)
    if data["missing_feeds"]:
        n = len(data["missing_feeds"])
        summary.append(_sentence([t("brief.s.missing_feeds", lang, n=n, feeds_word=_w("feed", n, lang),
                                    feeds=", ".join(data["missing_feeds"]))]))
    feeds = [{**f, "pct_text": _pct(f["pct"], lang) if f["series"] else t("brief.no_readings", lang),
              "received_text": format_number(f["received"], lang),
              "expected_text": format_number(f["expected"], lang) if f["series"] else "—"} for f in data["feeds"]]
    plan = []
    for row in data["plan"]:
        metric = config.metrics[row["metric"]]
        unit = metric.unit_text(lang)
        plan.append({**row, "label": metric.label.get(lang),
                     "value_text": _value(row["value"], unit, lang) if row["value"] is not None
                     else t("brief.not_entered", lang),
                     "as_of_text": format_time(datetime.fromisoformat(row["as_of"]), lang, tz, "date")
                     if row["as_of"] else "—",
                     "targets": [{**tg, "text": t("brief.by_year", lang, value=_value(tg["value"], unit, lang),
                                                  year=tg["year"]),
                                  "progress_text": _pct(tg["progress_pct"], lang)} for tg in row["targets"]]})
    generated = datetime.fromisoformat(data["generated_at"])
    return {**data, "lang": lang, "date_text": day_text, "title": t("brief.title", lang, date=day_text),
            "generated_text": t("brief.generated", lang, time=format_time(generated, lang, tz)),
            "summary": summary, "domains": domains, "feeds": feeds, "plan": plan}
