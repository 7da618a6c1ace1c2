"""HTTP push: POST /api/v1/readings with a token per source, answered after the commit."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import flask
import pytest

from ioc.config import load_config
from ioc.runtime import Runtime
from tests.support import RUN_ID, add_feeds, drop_database, isolated_config, native_payload, serve


@pytest.fixture(scope="module")
def push_url(tmp_path_factory, pg_server_url, mqtt_url, runtime):
    folder = isolated_config(tmp_path_factory.mktemp("push-config"), pg_server_url, mqtt_url, "push",
                             {"ingest": {"max_payload_bytes": 4096}})
    add_feeds(folder, {"name": "hospital-a", "transport": "http_push", "parser": "native", "domain": "health",
                       "token_env": "IOC_TEST_PUSH_A", "stale_after": "1h"},
              {"name": "hospital-b", "transport": "http_push", "parser": "native", "domain": "health",
               "token_env": "IOC_TEST_PUSH_B", "stale_after": "1h"},
              {"name": "gateway-senml", "transport": "http_push", "parser": "senml", "domain": "agriculture",
               "token_env": "IOC_TEST_PUSH_SENML", "stale_after": "1h"},
              {"name": "traffic-cams", "transport": "http_push", "parser": "native", "domain": "traffic",
               "token_env": "IOC_TEST_PUSH_TRAFFIC", "stale_after": "1h"})
    with pytest.MonkeyPatch.context() as env:
        env.setenv("IOC_TEST_PUSH_A", "token-a")
        env.setenv("IOC_TEST_PUSH_B", "token-b")
        env.setenv("IOC_TEST_PUSH_SENML", "token-senml")
        env.setenv("IOC_TEST_PUSH_TRAFFIC", "token-traffic")
        rt = Runtime(load_config(folder, environ={})).start()
    server = flask.Flask("push-test")
    rt.register_http(server)
    url, stop = serve(server, threads=4)
    yield f"{url}/api/v1/readings", rt
    stop()
    rt.stop()
    drop_database(pg_server_url, f"ioc_test_{RUN_ID}_push")


def post(url: str, body: bytes, token: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers, method="POST"), timeout=15) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_push_counts_accepted_and_rejected_after_commit(push_url):
    url, rt = push_url
    good = json.loads(native_payload(rt, 2))
    bad = {"entity": "no-such-entity", "ts": good[0]["ts"], "values": {"bed_occupancy": 50}}
    status, answer = post(url, json.dumps(good + [bad]).encode(), "token-a")
    assert status == 200
    assert (answer["feed"], answer["accepted"], answer["rejected"]) == ("hospital-a", 2, 1)
    assert answer["reasons"] == ["unknown entity 'no-such-entity'"]
    with rt.db.connection() as conn:  # answered after the commit: visible at once
        assert conn.execute("SELECT count(*) FROM readings").fetchone()[0] == 2
        assert conn.execute("SELECT DISTINCT feed FROM latest").fetchone()[0] == "hospital-a"
    assert rt.feed_health.feeds["hospital-a"].state == "ok"


def test_push_needs_a_known_token_and_respects_the_size_limit(push_url):
    url, rt = push_url
    assert post(url, b"[]", None)[0] == 401
    assert post(url, b"[]", "token-c")[0] == 401
    status, answer = post(url, b" " * 5000, "token-b")
    assert status == 413 and "too large" in answer["error"]
    status, answer = post(url, b"{not json", "token-b")
    assert status == 400 and answer["error"].startswith("malformed JSON")
    # One bad message is counted, not a verdict on the feed (the sender could be anyone with the token).
    assert rt.feed_health.feeds["hospital-b"].state != "failing"


def test_push_a_senml_pack(push_url):
    url, rt = push_url
    base = int(time.time()) - 120
    pack = [{"bn": "wx-lng:", "bt": base, "n": "rainfall_24h", "u": "mm", "v": 12.4},
            {"n": "rainfall_24h", "t": 60, "u": "mm", "v": 13.0}]
    status, answer = post(url, json.dumps(pack).encode(), "token-senml")
    assert status == 200 and (answer["feed"], answer["accepted"], answer["rejected"]) == ("gateway-senml", 2, 0)
    with rt.db.connection() as conn:
        rows = conn.execute("SELECT r.value FROM readings r JOIN series s ON s.id = r.series_id "
                            "WHERE s.entity = 'wx-lng' AND s.metric = 'rainfall_24h' ORDER BY r.ts").fetchall()
    assert rows == [(12.4,), (13.0,)]


def _payload_of(rt, domain: str, n: int = 1) -> bytes:
    """n readings of one `domain` entity, a minute apart, ending now."""
    from datetime import UTC, datetime, timedelta

    entity = next(e for e in rt.config.region.entities if rt.config.kinds[e.kind].domain == domain)
    metric = rt.config.entity_metrics(entity.id)[0]
    low, high = rt.config.metrics[metric].valid_range
    now = datetime.now(UTC).replace(microsecond=0)
    return json.dumps([{"entity": entity.id, "ts": (now - timedelta(minutes=i)).isoformat(),
                        "values": {metric: (low + high) / 2}} for i in range(n)]).encode()


def test_a_token_writes_only_its_feeds_domain(push_url):
    url, rt = push_url
    for foreign in ("traffic", "education"):
        status, answer = post(url, _payload_of(rt, foreign), "token-a")  # the health department's token
        assert status == 422 and answer["stored"] == 0 and answer["rejected"] == 1, answer
        assert "domain mismatch" in answer["reasons"][0]
    status, answer = post(url, _payload_of(rt, "traffic"), "token-traffic")
    assert status == 200 and answer["stored"] == 1


def test_a_feed_listing_entities_writes_only_those(tmp_path, pg_server_url, mqtt_url):
    from ioc.config import ConfigError

    folder = isolated_config(tmp_path / "cfg", pg_server_url, mqtt_url, "pushentities")
    try:
        config = load_config(folder, environ={})
        hospitals = [e.id for e in config.region.entities if config.kinds[e.kind].domain == "health"][:2]
        add_feeds(folder, {"name": "one-hospital", "transport": "http_push", "domain": "health",
                           "entities": hospitals[:1], "token_env": "IOC_TEST_PUSH_ONE", "stale_after": "1h"})
        config = load_config(folder, environ={})
        with pytest.MonkeyPatch.context() as env:
            env.setenv("IOC_TEST_PUSH_ONE", "token-one")
            rt = Runtime(config, with_simulator=False).start()
        try:
            server = flask.Flask("push-entities")
            rt.register_http(server)
            client = server.test_client()
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            metric = config.entity_metrics(hospitals[0])[0]
            low, high = config.metrics[metric].valid_range
            body = [{"entity": e, "ts": now, "values": {metric: (low + high) / 2}} for e in hospitals]
            answer = client.post("/api/v1/readings", json=body, headers={"Authorization": "Bearer token-one"})
            assert answer.status_code == 200 and answer.json["stored"] == 1 and answer.json["rejected"] == 1
            assert "not one this source may write" in answer.json["reasons"][0]
        finally:
            rt.stop()
        add_feeds(folder, {"name": "wrong-entities", "transport": "http_push", "domain": "traffic",
                           "entities": hospitals[:1], "token_env": "IOC_TEST_PUSH_TWO", "stale_after": "1h"})
        with pytest.raises(ConfigError, match="not an entity of domain 'traffic'"):
            load_config(folder, environ={})
    finally:
        drop_database(pg_server_url, f"ioc_test_{RUN_ID}_pushentities")


def test_push_answers_methods_types_and_malformed_bodies(push_url):
    url, rt = push_url
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        request = urllib.request.Request(url, b"[]" if method != "GET" else None, method=method,
                                         headers={"Authorization": "Bearer token-a"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=15)
        assert refused.value.code == 405 and refused.value.headers["Allow"] == "POST", method
        assert b"<html" not in refused.value.read().lower()  # not the dashboard
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "text/csv"):
        request = urllib.request.Request(url, native_payload(rt, 1), method="POST",
                                         headers={"Authorization": "Bearer token-a", "Content-Type": content_type})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=15)
        assert refused.value.code == 415, content_type
    for body in (b"{not json", b"[1, 2", b"\xff\xfe garbage", b"[" * 100_000):
        status, answer = post(url, body, "token-b")
        assert status in (400, 413) and "error" in answer, body[:10]
    status, answer = post(url, b"", "token-b")
    assert status == 400


def test_a_resend_is_counted_as_duplicate_not_stored(push_url):
    url, rt = push_url
    body = _payload_of(rt, "health", 3)
    first = post(url, body, "token-a")
    assert first[0] == 200 and (first[1]["stored"], first[1]["duplicate"]) == (3, 0), first
    again = post(url, body, "token-a")
    assert again[0] == 200 and (again[1]["stored"], again[1]["duplicate"]) == (0, 3), again
    partly = json.loads(body) + json.loads(_payload_of(rt, "traffic", 1))
    status, answer = post(url, json.dumps(partly).encode(), "token-a")
    assert (answer["stored"], answer["duplicate"], answer["rejected"]) == (0, 3, 1)


def test_refused_tokens_are_logged_as_a_rate(push_url, caplog):
    url, rt = push_url
    rt.push.refused.total = 0  # the next refusal opens a new reporting window
    with caplog.at_level("WARNING", logger="ioc.push"):
        for i in range(200):
            assert post(url, b"[]", f"guess-{i}")[0] == 401
    lines = [r.getMessage() for r in caplog.records if "refused token" in r.getMessage()]
    assert 1 <= len(lines) <= 2, lines  # one line a minute at most, not 200
    assert "by address: 127.0.0.1" in lines[0]
    assert rt.push.refused.total == 200
