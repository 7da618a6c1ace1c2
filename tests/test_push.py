"""HTTP push: POST /api/v1/readings with a token per source, answered after the commit."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import flask
import pytest
from waitress import create_server

from ioc.config import load_config
from ioc.runtime import Runtime
from ioc.services import free_port
from tests.support import RUN_ID, add_feeds, drop_database, isolated_config, native_payload


@pytest.fixture(scope="module")
def push_url(tmp_path_factory, pg_server_url, mqtt_url, runtime):
    folder = isolated_config(tmp_path_factory.mktemp("push-config"), pg_server_url, mqtt_url, "push",
                             {"ingest": {"max_payload_bytes": 4096}})
    add_feeds(folder, {"name": "hospital-a", "transport": "http_push", "parser": "native",
                       "token_env": "IOC_TEST_PUSH_A", "stale_after": "1h"},
              {"name": "hospital-b", "transport": "http_push", "parser": "native",
               "token_env": "IOC_TEST_PUSH_B", "stale_after": "1h"},
              {"name": "gateway-senml", "transport": "http_push", "parser": "senml",
               "token_env": "IOC_TEST_PUSH_SENML", "stale_after": "1h"})
    with pytest.MonkeyPatch.context() as env:
        env.setenv("IOC_TEST_PUSH_A", "token-a")
        env.setenv("IOC_TEST_PUSH_B", "token-b")
        env.setenv("IOC_TEST_PUSH_SENML", "token-senml")
        rt = Runtime(load_config(folder, environ={})).start()
    server = flask.Flask("push-test")
    rt.register_http(server)
    http = create_server(server, host="127.0.0.1", port=free_port(), threads=4)
    threading.Thread(target=http.run, daemon=True).start()
    yield f"http://127.0.0.1:{http.effective_port}/api/v1/readings", rt
    http.close()
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
    assert status == 200 and answer["accepted"] == 0 and answer["reasons"][0].startswith("invalid JSON")
    # One bad message is counted, not a verdict on the feed (the sender could be anyone with the token).
    feed = rt.feed_health.feeds["hospital-b"]
    assert feed.state != "failing" and feed.last_error.startswith("invalid JSON")


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
