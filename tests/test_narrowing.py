"""Narrowing never widens: an officer's readable domains bound every query, and an empty set means nothing.
The data callbacks are replayed on the real server for an officer of education with health's filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dash._utils import split_callback_id

from ioc import alert_queries as aq
from ioc.alerts import actions
from ioc.auth import User
from tests.support import RUN_ID
from tests.test_domain_pages import page_module
from tests.test_security import session_for

OFFICER = User("hoa", "Nguyễn Thị Hoa", "officer", ("education",))


@pytest.fixture(scope="module")
def two_domains(simulated):
    """A firing alert in health and one in education, a note and a silence on each."""
    db, config = simulated.db, simulated.config
    hospital = next(e.id for e in config.region.entities if config.kinds[e.kind].domain == "health")
    school = next(e.id for e in config.region.entities if config.kinds[e.kind].domain == "education")
    ids = {}
    with db.connection() as conn:
        for domain, subject in (("health", hospital), ("education", school)):
            ids[domain] = conn.execute(
                "INSERT INTO alerts (rule, subject, domain, state, severity, value, threshold, pending_since, "
                "firing_since, last_active) VALUES (%s, %s, %s, 'firing', 'critical', 97, 95, now(), now(), now()) "
                "RETURNING id", (f"narrow-{RUN_ID}-{domain}", subject, domain)).fetchone()[0]
    for domain in ids:
        actions.note(db, "Trực ban", f"note-{domain}-{RUN_ID}", ids[domain])
        now = datetime.now(UTC)
        actions.create_silence(db, "Trực ban", f"maint-{domain}-{RUN_ID}", now, now + timedelta(hours=1),
                               domain=domain)
    return {"ids": ids, "hospital": hospital, "school": school}


def test_an_empty_readable_set_reads_nothing(simulated, two_domains):
    db, since = simulated.db, datetime.now(UTC) - timedelta(hours=1)
    health = two_domains["ids"]["health"]
    assert health in set(aq.active_alerts(db)["id"])  # unnarrowed: everything
    for nothing in ([], (), set()):
        assert aq.active_alerts(db, domain=nothing).empty
        assert aq.alert_history(db, since, datetime.now(UTC), domain=nothing).empty
        assert aq.firing_counts(db, list(nothing))["firing"] == 0
        assert aq.silences(db, datetime.now(UTC), list(nothing)).empty
        assert aq.shift_log(db, since, domains=list(nothing)).empty
        assert all(aq.handover(db, since, domains=list(nothing))["counts"][k] == 0
                   for k in ("started_firing", "unacknowledged", "silences", "notes"))
    assert set(aq.active_alerts(db, domain=["education"])["domain"]) == {"education"}
    assert set(aq.shift_log(db, since, domains=["education"])["alert_id"].dropna()) <= {two_domains["ids"]["education"]}


def test_an_officer_cannot_note_another_domains_alert(simulated, two_domains):
    with pytest.raises(actions.ActionError) as refused:
        actions.note(simulated.db, OFFICER, "không phải việc của tôi", two_domains["ids"]["health"])
    assert refused.value.key == "action.no_alert"  # as if it did not exist
    actions.note(simulated.db, OFFICER, "của tôi", two_domains["ids"]["education"])


def _replay(session, web_url: str, web_app, output_key: str, values: dict, changed: str) -> str:
    """POST one callback as the browser would, with `values` for its inputs and states (by "id.prop")."""
    entry = web_app.callback_map[output_key]
    outputs = split_callback_id(output_key)

    def items(kind: str) -> list[dict]:
        return [{"id": i["id"], "property": i["property"], "value": values.get(f"{i['id']}.{i['property']}")}
                for i in entry.get(kind, [])]

    body = {"output": output_key, "outputs": outputs, "inputs": items("inputs"), "state": items("state"),
            "changedPropIds": [changed]}
    answer = session.post(web_url + "/_dash-update-component", json=body)
    assert answer.status_code in (200, 204), (output_key, answer.status_code, answer.text[:300])
    return answer.text


def _key(web_app, fragment: str) -> str:
    return next(k for k in web_app.callback_map if fragment in k)


def test_every_data_callback_replayed_for_an_officer_with_another_domains_filters(web_url, web_app, simulated,
                                                                                  people, two_domains):
    session = session_for(web_url, "hoa")  # education only
    config = simulated.config
    health = two_domains["ids"]["health"]
    hospitals = [e.id for e in config.region.entities if config.kinds[e.kind].domain == "health"]

    def no_health(text: str, where: str) -> None:
        assert f"narrow-{RUN_ID}-health" not in text and f"note-health-{RUN_ID}" not in text, where
        assert f"maint-health-{RUN_ID}" not in text, where
        assert not any(f'"{h}"' in text for h in hospitals), where

    # /alerts: the domain filter set to health, to a list with health, and cleared (grids feed the CSV export)
    refresh = _key(web_app, "alerts-active-grid.rowData")
    for domain in ("health", ["health"], ["health", "education"], None, ""):
        text = _replay(session, web_url, web_app, refresh, {"alerts-tick.n_intervals": 1, "alerts-domain.value": domain,
                                                            "alerts-range.value": "24h", "alerts-lang.data": "vi"},
                       "alerts-domain.value")
        no_health(text, f"/alerts domain={domain!r}")
        if domain != "health" and domain != ["health"]:
            assert f"narrow-{RUN_ID}-education" in text, domain  # their own domain is still there
    # /alerts: another domain's alert opened by id, and acted upon
    detail = _key(web_app, "alerts-detail.children")
    text = _replay(session, web_url, web_app, detail, {"alerts-selected.data": health, "alerts-lang.data": "vi"},
                   "alerts-selected.data")
    no_health(text, "alert detail")
    act = _key(web_app, "alerts-action-result.children")
    for button in ("alerts-ack", "alerts-assign", "alerts-comment", "alerts-silence"):
        text = _replay(session, web_url, web_app, act, {f"{button}.n_clicks": 1, "alerts-selected.data": health,
                                                        "alerts-ack-comment.value": "x", "alerts-assignee.value": "x",
                                                        "alerts-comment-body.value": "x",
                                                        "alerts-silence-matcher.value": "domain",
                                                        "alerts-silence-duration.value": 1,
                                                        "alerts-silence-reason.value": "x", "alerts-lang.data": "vi"},
                       f"{button}.n_clicks")
        assert "alert-danger" in text, button  # refused
    with simulated.db.connection() as conn:
        assert conn.execute("SELECT acknowledged_at IS NULL AND assigned_to IS NULL FROM alerts WHERE id = %s",
                            (health,)).fetchone()[0]
    # /shift: the log and the handover, every period; a note on another domain's alert
    shift = _key(web_app, "shift-grid.rowData")
    for hours in (4, 8, 12, 24):
        text = _replay(session, web_url, web_app, shift, {"shift-tick.n_intervals": 1, "shift-period.value": hours,
                                                          "shift-lang.data": "vi"}, "shift-period.value")
        no_health(text, f"/shift {hours}h")
        assert f"note-education-{RUN_ID}" in text
    note = _key(web_app, "shift-result.children")
    text = _replay(session, web_url, web_app, note, {"shift-submit.n_clicks": 1, "shift-body.value": "chen ngang",
                                                     "shift-alert.value": health, "shift-lang.data": "vi"},
                   "shift-submit.n_clicks")
    assert "alert-danger" in text
    with simulated.db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM shift_log WHERE body = 'chen ngang'").fetchone()[0] == 0
    # /manual: health's sites offered, and a health figure entered
    sites = _key(web_app, "manual-entity.options")
    no_health(_replay(session, web_url, web_app, sites, {"manual-domain.value": "health", "manual-lang.data": "vi"},
                      "manual-domain.value"), "/manual sites")
    entry = _key(web_app, "manual-result.children")
    metric = config.entity_metrics(hospitals[0])[0]
    text = _replay(session, web_url, web_app, entry, {"manual-submit.n_clicks": 1, "manual-entity.value": hospitals[0],
                                                      "manual-metric.value": metric, "manual-value.value": 50,
                                                      "manual-time.value": datetime.now(UTC).isoformat(),
                                                      "manual-lang.data": "vi"}, "manual-submit.n_clicks")
    no_health(text.replace(f'"{hospitals[0]}"', ""), "/manual entry")  # the refusal may name what was asked
    assert "alert-danger" in text or "alert-warning" in text
    # /wall: a health view asked for by an education officer
    wall = _key(web_app, "wall-body.children")
    text = _replay(session, web_url, web_app, wall, {"wall-tick.n_intervals": 1, "wall-view.data": 0,
                                                     "wall-screen.data": {"width": 1920, "height": 1080},
                                                     "wall-lang.data": "vi",
                                                     "wall-plan.data": {"views": ["domain:health"], "interval": 30}},
                   "wall-tick.n_intervals")
    assert not any(f'"{h}"' in text for h in hospitals), "/wall domain:health"
    # The navbar badge counts only readable alerts.
    badge = _key(web_app, "alert-badge.children")
    text = _replay(session, web_url, web_app, badge, {"alert-badge-tick.n_intervals": 1, "lang-effective.data": "vi"},
                   "alert-badge-tick.n_intervals")
    assert str(health) not in text.split("critical-seen")[-1]


def test_rules_and_feeds_show_an_officer_only_their_domains(web_app, simulated):
    """/rules (and its CSV export, the same rows) and /feeds list the officer's domains' rules and feeds, and
    those of no single domain; another domain's rule cannot be opened in the editor either."""
    import flask

    from ioc.alerts import store
    from ioc.alerts.rules import Rule

    config, db = simulated.config, simulated.db
    rules = {r["name"]: r["definition"] for r in aq.records(aq.alert_rules(db))}
    domain_of = {name: store.rule_domain(config, Rule.model_validate(d)) for name, d in rules.items()}
    health_rule = next(n for n, d in domain_of.items() if d == "health")
    rules_page, feeds_page = page_module("rules"), page_module("feeds")
    with web_app.server.test_request_context("/"):
        flask.g.user = OFFICER
        shown = {r["name"] for r in rules_page._rows(config, db, "vi")}
        feeds = {r["feed"] for r in feeds_page.feed_rows(config, db, "vi", datetime.now(UTC))}
        editor, _ = rules_page.show_rule([{"name": health_rule}], "vi")
    assert shown and all(domain_of[n] in (None, "education") for n in shown)
    assert health_rule not in shown and editor == ""
    specs = {f.name: f for f in config.feeds}
    assert all(specs[f].domain in (None, "education") for f in feeds)
    with web_app.server.test_request_context("/"):
        flask.g.user = User("an", "Trực ban", "operator")
        assert health_rule in {r["name"] for r in rules_page._rows(config, db, "vi")}

