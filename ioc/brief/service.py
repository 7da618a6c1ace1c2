"""Build, store, mail and schedule the daily brief.

`build` computes the numbers once, words them per language, renders the PDF from that content and stores
both (a rebuilt day replaces its row). The runtime schedules `scheduled_build` daily at `brief.at` local
time for yesterday, and `catch_up` once at start for days whose build time passed while it was down.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from zoneinfo import ZoneInfo

from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from ioc import brief_queries
from ioc.brief import pdf
from ioc.brief.compute import compute, day_completeness, day_window, overall
from ioc.brief.sentences import localize
from ioc.config import Config
from ioc.i18n import t
from ioc.mail import send_mail

log = logging.getLogger(__name__)

FIRST_DAY_MIN_PCT = 25.0  # see has_data


def _jsonable(content: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(content, default=str))


def build(config: Config, db: ConnectionPool, day: date, langs: list[str] | None = None,
          now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """Build and store the brief of `day` in each language; returns {lang: content}."""
    now = now or datetime.now(UTC)
    if not has_data(config, db, day):
        log.info("daily brief for %s not built: the data began after that day, or late in it", day)
        return {}
    data = compute(config, db, day, now)
    built = {}
    for lang in langs or config.settings.brief.languages:
        content = _jsonable(localize(config, data, lang))
        document = pdf.render(content)
        with db.connection() as conn:
            conn.execute("INSERT INTO briefs (day, lang, content, pdf, generated_at) VALUES (%s, %s, %s, %s, %s) "
                         "ON CONFLICT (day, lang) DO UPDATE SET content = excluded.content, pdf = excluded.pdf, "
                         "generated_at = excluded.generated_at, emailed_at = NULL",
                         (day, lang, Jsonb(content), document, now))
        built[lang] = content
    log.info("daily brief for %s built (%s)", day, ", ".join(built))
    return built


def has_data(config: Config, db: ConnectionPool, day: date) -> bool:
    """A day can be briefed once readings exist from before its end (never a day before any data). The day the
    data began is briefed only when it holds FIRST_DAY_MIN_PCT of a day's readings: a handful is the product's
    first hours, or a feed's last figure from before the product started (a school's Saturday attendance sent
    on Monday), not a day to report on. Every later day is briefed, an outage included (an honest brief)."""
    first = brief_queries.first_reading(db)
    start, end = day_window(day, config.settings.brief.timezone)
    if first is None or first >= end:
        return False
    if first < start:
        return True
    share = overall(day_completeness(config, db, day))["pct"]
    return share is not None and share >= FIRST_DAY_MIN_PCT


def email(config: Config, db: ConnectionPool, day: date, lang: str) -> None:
    """Send the stored brief's PDF to the configured recipients and record when."""
    relay = config.settings.brief.email
    stored, document = brief_queries.brief(db, day, lang), brief_queries.brief_pdf(db, day, lang)
    if relay is None or stored is None or document is None:
        return
    content = stored["content"]
    mail = EmailMessage()
    subject = t("brief.mail.subject", lang, app=content["short_name"], date=content["date_text"])
    mail["Subject"] = f"{relay.subject_prefix} {subject}".strip()
    mail["From"] = relay.sender
    mail["To"] = ", ".join(relay.recipients)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=relay.sender.rsplit("@", 1)[-1])
    summary = "\n".join(f"- {s}" for s in content["summary"]) or t("brief.quiet", lang)
    mail.set_content(t("brief.mail.body", lang, issuer=content["issuer"], date=content["date_text"], summary=summary),
                     charset="utf-8")
    mail.add_attachment(document, maintype="application", subtype="pdf", filename=f"brief-{day}-{lang}.pdf")
    send_mail(relay, mail)
    with db.connection() as conn:
        conn.execute("UPDATE briefs SET emailed_at = now() WHERE day = %s AND lang = %s", (day, lang))
    log.info("daily brief for %s (%s) e-mailed to %d recipients", day, lang, len(relay.recipients))


def last_due_day(config: Config, now: datetime) -> date:
    """The latest day whose brief should exist at `now`: yesterday once today's build time has passed."""
    settings = config.settings.brief
    local = now.astimezone(ZoneInfo(settings.timezone))
    hour, minute = (int(x) for x in settings.at.split(":"))
    passed = (local.hour, local.minute) >= (hour, minute)
    return local.date() - timedelta(days=1 if passed else 2)


def scheduled_build(config: Config, db: ConnectionPool, day: date | None = None) -> None:
    """The daily job: build the due day's brief in every language, then mail it when configured."""
    day = day or last_due_day(config, datetime.now(UTC))
    try:
        if not build(config, db, day):
            return
    except Exception:
        log.exception("daily brief for %s could not be built", day)
        return
    if config.settings.brief.email is not None:
        for lang in config.settings.brief.languages:
            try:
                email(config, db, day, lang)
            except Exception as exc:  # the brief stays in the archive; the next start does not resend it
                log.error("daily brief for %s (%s) could not be e-mailed: %s", day, lang, exc)


def catch_up(config: Config, db: ConnectionPool, now: datetime | None = None) -> list[date]:
    """Build the briefs missed while the server was down (up to `catch_up_days` back); returns the days built.
    The most recent one is mailed like a scheduled build; older ones are archived only."""
    now = now or datetime.now(UTC)
    settings = config.settings.brief
    last = last_due_day(config, now)
    first = last - timedelta(days=max(0, settings.catch_up_days - 1))
    built = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        if all(day in brief_queries.brief_days(db, day, lang) for lang in settings.languages):
            continue
        if not has_data(config, db, day):  # the product started after (or late in) this day
            continue
        if day == last:
            scheduled_build(config, db, day)
        else:
            build(config, db, day)
        built.append(day)
    if built:
        log.info("caught up %d missed daily brief(s): %s", len(built), ", ".join(map(str, built)))
    return built


def schedule(scheduler, config: Config, db: ConnectionPool) -> None:
    """Add the daily build (cron at `brief.at` local time) and a one-off catch-up shortly after start."""
    from apscheduler.triggers.cron import CronTrigger

    settings = config.settings.brief
    if not settings.enabled:
        return
    hour, minute = (int(x) for x in settings.at.split(":"))
    scheduler.add_job(scheduled_build, CronTrigger(hour=hour, minute=minute, timezone=ZoneInfo(settings.timezone)),
                      args=[config, db], id="daily-brief", max_instances=1, coalesce=True, misfire_grace_time=3600)
    scheduler.add_job(catch_up, "date", run_date=datetime.now(UTC) + settings.catch_up_delay, args=[config, db],
                      id="daily-brief-catch-up", max_instances=1, misfire_grace_time=None)
