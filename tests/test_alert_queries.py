"""ioc.alert_queries against the real database. Alert rows are inserted directly (the engine writes them
in production); people's actions go through ioc.alerts.actions. The runtime's own engine writes
alerts too, so every check looks only at this test's rows (unique rule names, authors, reasons)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from ioc import alert_queries as aq
from ioc.alerts import actions
from ioc.models import Batch, Reading


def _entity(rt, domain: str | None = None, skip: int = 0):
    entities = [e for e in rt.config.region.entities if domain is None or rt.config.entity_domain(e.id) == domain]
    return entities[skip]


def insert_alert(db, rule: str, entity, config, state: str = "firing", severity: str = "warning",
                 pending_since: datetime | None = None, firing_since: datetime | None = None,
                 resolved_at: datetime | None = None, value: float = 90.0, threshold: float = 85.0,
                 flapping: bool = False, metric: str | None = None) -> int:
    pending_since = pending_since or datetime.now(UTC) - timedelta(minutes=5)
    if state != "pending" and firing_since is None:
        firing_since = pending_since
    with db.connection() as conn:
        return conn.execute(
            "INSERT INTO alerts (rule, metric, subject, domain, area, state, severity, value, threshold, "
            "pending_since, firing_since, last_active, resolved_at, flapping) "
            "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id",
            (rule, metric, entity.id, config.entity_domain(entity.id), entity.area, state, severity, value,
             threshold, pending_since, firing_since, resolved_at or firing_since or pending_since, resolved_at,
             flapping)).fetchone()[0]


@pytest.fixture
def tag() -> str:
    return "qtest-" + secrets.token_hex(3)


def test_active_alerts_filters_and_order(runtime, tag):
    db, config = runtime.db, runtime.config
    health, traffic = _entity(runtime, "health"), _entity(runtime, "traffic")
    now = datetime.now(UTC)
    crit = insert_alert(db, tag, health, config, severity="critical", pending_since=now - timedelta(minutes=30))
    warn = insert_alert(db, tag + "-b", health, config, pending_since=now - timedelta(minutes=1), flapping=True)
    pend = insert_alert(db, tag, traffic, config, state="pending")
    done = insert_alert(db, tag + "-c", health, config, state="resolved", resolved_at=now)

    df = aq.active_alerts(db)
    assert list(df.columns) == aq.ALERT_COLUMNS
    mine = df[df["id"].isin([crit, warn, pend, done])]
    assert list(mine["id"]) == [crit, warn, pend]  # critical first, then firing before pending
    assert bool(mine.set_index("id").loc[warn, "flapping"]) is True
    assert set(aq.active_alerts(db, severity="critical")["severity"]) == {"critical"}
    assert pend not in set(aq.active_alerts(db, state="firing")["id"])
    assert set(aq.active_alerts(db, state="pending")["state"]) <= {"pending"}
    by_domain = aq.active_alerts(db, domain="traffic")
    assert pend in set(by_domain["id"]) and crit not in set(by_domain["id"])
    by_area = aq.active_alerts(db, area=[health.area, "no-such-area"])
    assert {crit, warn} <= set(by_area["id"]) and set(by_area["area"]) == {health.area}
    assert aq.active_alerts(db, domain="no-such-domain").empty


def test_alert_history_overlaps_the_window(runtime, tag):
    db, config = runtime.db, runtime.config
    entity = _entity(runtime, "health")
    start = datetime(2021, 3, 1, tzinfo=UTC)
    end = start + timedelta(days=1)
    before = insert_alert(db, tag, entity, config, state="resolved", pending_since=start - timedelta(hours=5),
                          resolved_at=start - timedelta(hours=1))
    across = insert_alert(db, tag, entity, config, state="resolved", pending_since=start - timedelta(hours=2),
                          resolved_at=start + timedelta(hours=1), severity="critical")
    inside = insert_alert(db, tag, entity, config, state="resolved", pending_since=start + timedelta(hours=3),
                          resolved_at=start + timedelta(hours=4))
    after = insert_alert(db, tag, entity, config, state="resolved", pending_since=end + timedelta(hours=1),
                         resolved_at=end + timedelta(hours=2))

    df = aq.alert_history(db, start, end)
    assert list(df.columns) == aq.HISTORY_COLUMNS
    ids = set(df["id"])
    assert {across, inside} <= ids and not {before, after} & ids
    assert list(df[df["id"].isin([across, inside])]["id"]) == [inside, across]  # newest first
    row = df.set_index("id").loc[across]
    assert row["resolved_at"] == start + timedelta(hours=1)
    assert set(aq.alert_history(db, start, end, severity="critical")["id"]) & {across, inside} == {across}
    # an alert still active today overlaps any window that reaches now
    active = insert_alert(db, tag + "-now", entity, config)
    assert active in set(aq.alert_history(db, datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC))["id"])


def test_detail_holds_the_row_its_events_and_comments(runtime, tag):
    db, config = runtime.db, runtime.config
    entity = _entity(runtime, "health")
    alert_id = insert_alert(db, tag, entity, config, severity="critical")
    actions.acknowledge(db, alert_id, "Lan", "on my way")
    actions.assign(db, alert_id, "Lan", "Minh")
    actions.comment(db, alert_id, "Minh", "first")
    actions.comment(db, alert_id, "Lan", "second")
    with pytest.raises(actions.ActionError):
        actions.acknowledge(db, alert_id, "Lan")

    found = aq.alert_detail(db, alert_id)
    alert = found["alert"]
    assert (alert["id"], alert["rule"], alert["subject"], alert["severity"]) == (alert_id, tag, entity.id, "critical")
    assert (alert["acknowledged_by"], alert["ack_comment"], alert["assigned_to"]) == ("Lan", "on my way", "Minh")
    assert alert["acknowledged_at"] is not None and alert["metric"] is None  # written without one
    assert list(found["events"]["kind"]) == ["acknowledged", "assigned", "comment", "comment"]
    assert found["events"].iloc[0]["detail"] == {"by": "Lan", "comment": "on my way"}
    assert list(found["comments"]["body"]) == ["first", "second"]
    assert list(found["comments"]["author"]) == ["Minh", "Lan"]
    assert aq.alert_detail(db, 10**12) is None

    # the alert records its metric (the engine writes it from the rule)
    catalog = insert_alert(db, "catalog:bed_occupancy", entity, config, state="resolved",
                           resolved_at=datetime.now(UTC), metric="bed_occupancy")
    assert aq.alert_detail(db, catalog)["alert"]["metric"] == "bed_occupancy"
    assert aq.alert_detail(db, catalog)["events"].empty


def test_silences_in_force_and_upcoming(runtime, tag):
    db = runtime.db
    now = datetime.now(UTC)
    in_force = actions.create_silence(db, "Lan", tag, now - timedelta(minutes=5), now + timedelta(hours=1), rule=tag)
    upcoming = actions.create_silence(db, "Lan", tag, now + timedelta(hours=2), now + timedelta(hours=3),
                                      domain="health")
    actions.create_silence(db, "Lan", tag, now - timedelta(hours=3), now - timedelta(hours=2), rule=tag)  # over
    expired = actions.create_silence(db, "Lan", tag, now - timedelta(minutes=5), now + timedelta(hours=1),
                                     subject="x")
    with db.connection() as conn:
        conn.execute("UPDATE silences SET expired_at = now() WHERE id = %s", (expired,))

    df = aq.silences(db, now)
    mine = df[df["reason"] == tag].set_index("id")
    assert list(mine.index) == [in_force, upcoming]
    assert bool(mine.loc[in_force, "in_force"]) is True and bool(mine.loc[upcoming, "in_force"]) is False
    assert mine.loc[upcoming, "domain"] == "health"
    assert set(aq.SILENCE_COLUMNS) <= set(df.columns)


def test_shift_log_newest_first_with_the_alert(runtime, tag):
    db, config = runtime.db, runtime.config
    entity = _entity(runtime, "health")
    alert_id = insert_alert(db, tag, entity, config)
    since = datetime.now(UTC) - timedelta(seconds=5)
    actions.note(db, tag, "quiet night")
    actions.note(db, tag, "called the hospital", alert_id)
    with pytest.raises(actions.ActionError):
        actions.note(db, "", "no author")

    df = aq.shift_log(db, since)
    mine = df[df["author"] == tag]
    assert list(mine["body"]) == ["called the hospital", "quiet night"]
    tied = mine.iloc[0]
    assert (tied["alert_id"], tied["rule"], tied["subject"]) == (alert_id, tag, entity.id)
    assert pd.isna(mine.iloc[1]["alert_id"])
    assert aq.shift_log(db, datetime.now(UTC) + timedelta(hours=1)).empty


def test_handover_summarises_the_shift(runtime, tag):
    db, config = runtime.db, runtime.config
    entity, other = _entity(runtime, "health"), _entity(runtime, "health", skip=1)
    now = datetime.now(UTC)
    since = now - timedelta(hours=8)
    # before the shift, still firing, nobody acknowledged: carried over
    carried = insert_alert(db, tag + "-old", entity, config, pending_since=now - timedelta(hours=20))
    # started during the shift: one critical resolved, one acknowledged, one left alone
    resolved = insert_alert(db, tag + "-r", entity, config, state="resolved", severity="critical",
                            pending_since=now - timedelta(hours=3), resolved_at=now - timedelta(hours=1))
    acked = insert_alert(db, tag + "-a", other, config, pending_since=now - timedelta(hours=2))
    alone = insert_alert(db, tag + "-n", other, config, pending_since=now - timedelta(hours=1))
    pending = insert_alert(db, tag + "-p", other, config, state="pending")  # not firing: not counted
    who = f"Lan-{tag}"
    actions.acknowledge(db, acked, who, "checking")
    silence = actions.create_silence(db, who, tag, now, now + timedelta(hours=1), rule=tag + "-n")
    actions.note(db, who, "handover note", alone)

    summary = aq.handover(db, since, datetime.now(UTC) + timedelta(seconds=1))
    assert set(summary["counts"]) >= {"started_firing", "resolved", "unacknowledged", "acknowledged", "silences",
                                      "notes", "started_critical"}
    for key in ("started_firing", "resolved", "unacknowledged", "acknowledged", "silences", "notes"):
        assert summary["counts"][key] == len(summary[key])

    def ids(key):
        return {r["id"] for r in summary[key]} & {carried, resolved, acked, alone, pending}

    assert ids("started_firing") == {resolved, acked, alone}
    assert ids("resolved") == {resolved}
    assert ids("unacknowledged") == {carried, alone}
    assert ids("acknowledged") == {acked}
    ack = next(r for r in summary["acknowledged"] if r["id"] == acked)
    assert (ack["acknowledged_by"], ack["ack_comment"]) == (who, "checking")
    assert summary["acknowledged_by"][who] == 1
    assert [s["id"] for s in summary["silences"] if s["created_by"] == who] == [silence]
    notes = [n for n in summary["notes"] if n["author"] == who]
    assert [(n["body"], n["alert_id"]) for n in notes] == [("handover note", alone)]
    started_critical = [r for r in summary["started_firing"] if r["severity"] == "critical"]
    assert summary["counts"]["started_critical"] == len(started_critical)
    # no NaN/NaT in the lists: missing values are None
    res = next(r for r in summary["started_firing"] if r["id"] == alone)
    assert res["resolved_at"] is None

    # a shift that ended before any of this started: nothing of ours
    earlier = aq.handover(db, now - timedelta(days=3), now - timedelta(days=2))
    assert not {r["id"] for key in ("started_firing", "resolved", "acknowledged") for r in earlier[key]} & {
        carried, resolved, acked, alone}
    assert carried not in {r["id"] for r in earlier["unacknowledged"]}  # it had not started firing yet


def test_entity_series_is_one_entity(clean_db):
    rt = clean_db
    metric = "bed_occupancy"
    a, b = [e.id for e in rt.config.region.entities if metric in rt.config.entity_metrics(e.id)][:2]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    rt.writer.submit(Batch([Reading(a, metric, now - timedelta(minutes=9), 80.0),
                            Reading(a, metric, now - timedelta(minutes=8), 90.0),
                            Reading(a, metric, now - timedelta(minutes=2), 70.0),
                            Reading(b, metric, now - timedelta(minutes=8), 10.0)]))
    assert rt.writer.flush()
    df = aq.raw_series(rt.db, a, metric, now - timedelta(minutes=30), now, timedelta(minutes=1))
    assert list(df.columns) == ["bucket", "value"]
    assert list(df["value"]) == [80.0, 90.0, 70.0]
    assert str(df["bucket"].dt.tz) == "UTC"
    empty = aq.raw_series(rt.db, a, metric, now - timedelta(days=400), now - timedelta(days=399),
                             timedelta(minutes=5))
    assert empty.empty and list(empty.columns) == ["bucket", "value"]
