"""Hostile input at every entry point: a corpus (tests/fixtures/hostile/ plus a few generated giants)
and hypothesis-generated junk. Each input gets a clear error or a dead letter with its reason; nothing
crashes; valid input alongside keeps flowing.

Entry points: every parser, the ingest path into PostgreSQL, MQTT through the broker (topic tricks
included), HTTP push (bodies and headers), HTTP poll responses (a local server), config files, and
the web pages' URL parameters and Dash callbacks through the real server.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import flask
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ioc.config import ConfigError, FeedSpec, copy_config, load_config
from ioc.feed_health import FeedHealth
from ioc.ingest import Ingestor
from ioc.runtime import Runtime
from ioc.transports.contract import Parsed, ParserContext, build_parser
from ioc.transports.http_poll import HttpPoller
from ioc.transports.mqtt import BrokerAddress, Publisher
from tests.support import RUN_ID, add_feeds, drop_database, isolated_config, native_payload, serve
from tests.waiting import wait_until

HOSTILE = Path(__file__).parent / "fixtures" / "hostile"
EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples" / "feeds-department.yaml"


def corpus() -> dict[str, bytes]:
    """The stored corpus plus inputs too big to keep as files."""
    items = {p.name: p.read_bytes() for p in sorted(HOSTILE.iterdir())}
    items["deep_arrays"] = b"[" * 100_000 + b"]" * 100_000
    items["deep_objects"] = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    items["huge_string"] = json.dumps({"entity": "A" * 400_000, "ts": 1795741200, "values": {"x": 1}}).encode()
    items["many_keys"] = json.dumps({"ts": 1795741200, "values": {f"m{i}": i for i in range(50_000)}}).encode()
    items["many_items"] = json.dumps([{"ts": 1795741200, "values": {"x": 1}}] * 20_000).encode()
    return items


CORPUS = corpus()


@pytest.fixture(scope="module")
def parsers(test_config) -> dict[str, object]:
    """Every registered parser, configured as a real feed would be."""
    import feeds  # noqa: F401  (registers the parsers)

    ctx = ParserContext(test_config)
    department = {f["parser"]: f["options"] for f in yaml.safe_load(EXAMPLES.read_text(encoding="utf-8"))}
    options = {"native": {}, "senml": {}, "ngsi_ld": {}, **department,
               "openmeteo_forecast": {"entities": ["wx-bgc"]}, "openmeteo_air_quality": {"entities": ["air-bgc-01"]},
               "openmeteo_flood": {"entities": ["gauge-plt"]}}
    from ioc.transports.contract import PARSERS

    assert set(options) == set(PARSERS), "a parser without hostile-input coverage"
    return {name: build_parser(name, opts, ctx) for name, opts in options.items()}


def check_parsed(out: Parsed) -> None:
    """A parser's answer: readings that are well-formed, or errors that say why."""
    assert isinstance(out, Parsed)
    for r in out.readings:
        assert isinstance(r.entity, str) and isinstance(r.metric, str)
        assert r.ts.tzinfo is not None and isinstance(r.value, float)
    for e in out.errors:
        assert e.reason and len(e.excerpt) < 2_000


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_parser_survives_the_corpus(parsers, name):
    for parser in parsers.values():
        check_parsed(parser("hostile", CORPUS[name]))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30)
_hostile_text = st.sampled_from(["<script>alert(1)</script>", "'; DROP TABLE readings; --", "\x00", "\ud800",
                                 "../..", "+", "#", "", "9999-12-31T23:59:59+00:00", "NaN", "1e400"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=300),
                 _json.map(lambda d: json.dumps(d, allow_nan=True).encode()),
                 st.dictionaries(st.sampled_from(["entity", "ts", "values", "n", "v", "t", "bn", "bt", "id", "type"]),
                                 _json | _hostile_text, max_size=6).map(lambda d: json.dumps(d).encode())))
def test_every_parser_survives_generated_junk(parsers, payload):
    for parser in parsers.values():
        check_parsed(parser("junk", payload))


def test_the_ingest_path_turns_the_corpus_into_dead_letters_and_keeps_storing(clean_db, parsers):
    """Parser → validation → writer → PostgreSQL with every corpus input, valid readings in between."""
    rt = clean_db
    for name, payload in CORPUS.items():
        for parser_name, parser in parsers.items():
            result = rt.ingestor.ingest(f"hostile:{name}:{parser_name}", payload, parser, feed="mqtt-native")
            assert result.accepted == 0 or name.startswith("bom_utf8"), (name, parser_name)
        rt.ingestor.ingest("valid", native_payload(rt, 1), parsers["native"], feed="mqtt-native")
    assert rt.writer.flush(60)
    assert rt.writer._thread.is_alive()
    with rt.db.connection() as conn:
        reasons = conn.execute("SELECT count(*), count(DISTINCT reason) FROM dead_letters").fetchone()
        stored = conn.execute("SELECT count(*) FROM readings").fetchone()[0]
    assert reasons[0] > len(CORPUS) and reasons[1] > 20  # each rejection with its reason
    assert stored >= 1  # the valid readings (the same series and minute) were stored


# --- MQTT through the broker -----------------------------------------------------------------------

TOPIC_TRICKS = ["{p}/health/..", "{p}/health/", "{p}//hosp-bgc-01", "{p}/health/hosp-bgc-01/extra", "{p}/../x",
                "{p}/health/<script>", "{p}/health/'; DROP TABLE series; --", "{p}/senml/ ", "{p}/health/\u00e9\u0301",
                "{p}/health/" + "x" * 5000]


def test_mqtt_ingest_end_to_end_with_hostile_messages(clean_db):
    rt = clean_db
    prefix = rt.config.settings.mqtt.topic_prefix
    entity = next(e for e in rt.config.region.entities if rt.config.kinds[e.kind].domain == "health")
    pub = Publisher(BrokerAddress.from_url(rt.config.settings.mqtt.url), rt.config.settings.mqtt)
    pub.connect()
    for wildcard in (f"{prefix}/health/+", f"{prefix}/#"):  # not publishable: refused by the client
        with pytest.raises(ValueError):
            pub.client.publish(wildcard, b"{}", qos=1)
    sent_valid = 0
    for i, payload in enumerate(CORPUS.values()):
        topic = TOPIC_TRICKS[i % len(TOPIC_TRICKS)].format(p=prefix)
        pub.publish(topic, payload)
        pub.publish(f"{prefix}/senml/gw", payload)
        pub.publish(f"{prefix}/health/{entity.id}", payload)
        now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=i)
        metric = rt.config.entity_metrics(entity.id)[0]
        low, high = rt.config.metrics[metric].valid_range
        pub.publish(f"{prefix}/health/{entity.id}",
                    json.dumps({"ts": now.isoformat(), "values": {metric: (low + high) / 2}}).encode())
        sent_valid += 1
    pub.close()
    def stored() -> int:
        with rt.db.connection() as conn:
            return conn.execute("SELECT count(*) FROM readings").fetchone()[0]

    wait_until(lambda: stored() >= sent_valid, timeout=60)
    assert stored() == sent_valid  # every valid reading alongside the hostile ones
    assert rt.mqtt.connected.is_set() and rt.writer._thread.is_alive()
    with rt.db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0] >= len(CORPUS)


# --- HTTP push -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def push_url(tmp_path_factory, pg_server_url, mqtt_url, runtime):
    folder = isolated_config(tmp_path_factory.mktemp("hostile-push"), pg_server_url, mqtt_url, "hostilepush",
                             {"ingest": {"max_payload_bytes": 1_048_576}})
    add_feeds(folder, {"name": "pusher", "transport": "http_push", "parser": "native", "domain": "health",
                       "token_env": "IOC_TEST_HOSTILE_PUSH", "stale_after": "1h"})
    with pytest.MonkeyPatch.context() as env:
        env.setenv("IOC_TEST_HOSTILE_PUSH", "hostile-token")
        rt = Runtime(load_config(folder, environ={}), with_simulator=False).start()
    server = flask.Flask("hostile-push")
    rt.register_http(server)
    url, stop = serve(server, threads=4)
    yield f"{url}/api/v1/readings", rt
    stop()
    rt.stop()
    drop_database(pg_server_url, f"ioc_test_{RUN_ID}_hostilepush")


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_http_push_answers_every_hostile_body_with_a_reason(push_url):
    url, rt = push_url
    auth = {"Authorization": "Bearer hostile-token", "Content-Type": "application/json"}
    for name, payload in CORPUS.items():
        status, body = post(url, payload, auth)
        assert status in (200, 400, 413, 422), (name, status)  # 400: not JSON; 422: nothing valid in it
        answer = json.loads(body)
        if status in (200, 422):
            assert answer["accepted"] == 0 or name.startswith("bom_utf8"), name
            assert answer["rejected"] == len(answer["reasons"][:100]) or answer["rejected"] > 100
        status, body = post(url, native_payload(rt, 1), auth)  # valid alongside
        assert status == 200 and json.loads(body)["accepted"] == 1, name


@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer <script>alert(1)</script>"},
    {"Authorization": "Bearer " + "x" * 8000},
    {"Authorization": "Basic aG9zdGlsZTp0b2tlbg=="},
    {"Authorization": "Bearer hostile-token\u00e9".encode("utf-8").decode("latin-1")},
    {"Authorization": "Bearer hostile-token", "Content-Type": "text/html; charset=utf-7"},
    {"Authorization": "Bearer hostile-token", "Content-Encoding": "gzip"},
    {"Authorization": "Bearer hostile-token", "Transfer-Encoding": "chunked"},
    {},
])
def test_http_push_hostile_headers(push_url, headers):
    url, rt = push_url
    status, body = post(url, native_payload(rt, 1), headers)
    assert status in (200, 400, 401, 411, 413, 415), status
    assert json.loads(body) if body.strip().startswith(b"{") else True


# --- HTTP poll responses -----------------------------------------------------------------------

def test_http_poll_answers_are_dead_letters_or_failures(clean_db, parsers, api):
    rt = clean_db
    health = FeedHealth([])
    for parser_name in ("json_mapping", "csv_table", "native"):
        spec = FeedSpec(name="hostile-poll", transport="http_poll", parser=parser_name,
                        url=f"http://127.0.0.1:{api.server_port}/data", interval="1m", stale_after="1h",
                        retries=0, timeout="5s")
        health = FeedHealth([spec])
        poller = HttpPoller(spec, parsers[parser_name], Ingestor(rt.config, rt.writer, health=health), 1 << 20)
        for payload in CORPUS.values():
            for content_type in ("application/json", "text/csv; charset=utf-8", "text/html"):
                api.routes["/data"] = (200, payload, {"Content-Type": content_type})
                poller.poll()  # never raises
        for status in (204, 301, 404, 500):
            api.routes["/data"] = (status, b"<html><script>alert(1)</script></html>", {"Location": "javascript:x"})
            poller.poll()
        assert health.feeds["hostile-poll"].last_error  # the failure is recorded with its reason
    assert rt.writer.flush(60) and rt.writer._thread.is_alive()


# --- config files --------------------------------------------------------------------------------

CONFIG_FILES = ["ioc.yaml", "feeds.yaml", "region.yaml", "metrics.yaml"]
HOSTILE_YAML = {
    "invalid_utf8": b"http:\n  port: \xff\xfe\n",
    "bom": b"\xef\xbb\xbfhttp:\n  port: 8050\n",
    "utf16": "http:\n  port: 8050\n".encode("utf-16"),
    "deep_nesting": b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "deep_mapping": b"".join(b"  " * i + b"k:\n" for i in range(2000)),
    "huge_number": b"http:\n  port: 1" + b"0" * 5000 + b"\n",
    "float_port": b"http:\n  port: 1e400\n",
    "nan": b"http:\n  port: .nan\ningest:\n  batch_max_rows: .inf\n",
    "duplicate_keys": b"http:\n  port: 8050\nhttp:\n  port: 9000\n",
    "tabs": b"http:\n\tport: 8050\n",
    "html": b"ui:\n  language: <script>alert(1)</script>\n",
    "sql": b"database:\n  url: \"'; DROP TABLE x; --\"\n",
    "python_tag": b"http: !!python/object/apply:os.system ['echo pwned']\n",
    "alias_loop": b"a: &a [*a]\n",
    "scalar": b"just text\n",
    "list": b"- 1\n- 2\n",
    "huge_string": b"ui:\n  timezone: " + b"x" * 1_000_000 + b"\n",
    "nul": b"ui:\n  timezone: \"a\\0b\"\n",
    "empty": b"",
    "far_duration": b"storage:\n  raw_retention: 99999999999d\n",
    "negative": b"ingest:\n  queue_max_messages: -1\n  spool_max_bytes: -5\n",
}


@pytest.mark.parametrize("file", CONFIG_FILES)
def test_hostile_config_files_give_a_config_error(tmp_path, file):
    for name, content in HOSTILE_YAML.items():
        folder = copy_config(tmp_path / f"{file}-{name}", {})
        (folder / file).write_bytes(content)
        try:
            load_config(folder, environ={})
        except ConfigError as exc:
            assert exc.file.endswith(file) and exc.reason, (file, name)
            assert len(str(exc)) < 2_000, (file, name)
        # Loading fine is acceptable only for the harmless ones.
        else:
            assert name in ("bom", "empty") or (file != "ioc.yaml" and name in ("tabs",)), (file, name)


def test_hostile_environment_overrides_give_a_config_error():
    for value in ("1e400", "NaN", "<script>", "\x00", "99999999999999999999"):
        with pytest.raises(ConfigError, match="port"):
            load_config(environ={"IOC_HTTP_PORT": value})


def test_parsed_values_are_finite_or_dead_letters(parsers):
    out = parsers["native"]("t", CORPUS["nan_infinity.json"])
    assert all(math.isfinite(r.value) for r in out.readings)


# --- web pages: URL parameters and Dash callbacks through the real server ----------------------------

XSS = "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=1</script>"
HOSTILE_VALUES = [XSS, "'; DROP TABLE alerts; --", "javascript:window.__pwned=1", "\x00\ud800", "../../etc/passwd",
                  "x" * 100_000, 1e308, -1, 2**63, True, None, [], {}, [[[[[[[[]]]]]]]], {"$gt": ""},
                  {"id": XSS, "rule": XSS, "subject": XSS}, [{"id": XSS}], "9999-12-31T23:59:59", "0001-01-01"]
PAGES = ["/", "/alerts", "/shift", "/rules", "/feeds", "/manual"]
QUERIES = ["?lang=" + urllib.parse.quote(XSS), "?lang=en&lang=vi&lang=%00", "?" + "a=" + "x" * 6000,
           "?domain=../..&area=%27%3B--&state=%3Cscript%3E", "?%ff%fe=%c0%af", "?lang=en#<script>"]


def _targets(spec: str) -> list[dict]:
    """'id.prop' or '..a.p...b.q..' (several outputs) as Dash's request wants them."""
    parts = spec.strip(".").split("...") if spec.startswith("..") else [spec]
    return [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]} for p in parts]


def _rendered_html(node) -> list[str]:
    """Values in a callback answer that would be rendered as HTML or followed as links."""
    found = []
    if isinstance(node, dict):
        props = node.get("props", {})
        if props.get("dangerously_allow_html"):
            found.append(str(props.get("children")))
        for key in ("srcDoc", "href", "src"):
            if isinstance(props.get(key), str) and props[key].lower().lstrip().startswith(("javascript:", "<")):
                found.append(props[key])
        for value in node.values():
            found.extend(_rendered_html(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_rendered_html(value))
    return found


def test_every_dash_callback_answers_hostile_inputs_without_500(web_url, people):
    from tests.test_security import session_for

    admin = session_for(web_url, "ha")  # every callback is open to an admin: each one is fuzzed
    dependencies = admin.get(f"{web_url}/_dash-dependencies", timeout=30).json()
    fuzzed, failures = 0, []
    for dep in dependencies:
        if dep.get("clientside_function"):
            continue  # runs in the browser: covered by the page loads below
        outputs = _targets(dep["output"])
        if any(o["id"].startswith("{") for o in outputs) or any(i["id"].startswith("{") for i in dep["inputs"]):
            continue  # pattern-matching ids: their inputs are fuzzed by the page loads below
        for value in HOSTILE_VALUES:
            body = {"output": dep["output"], "outputs": outputs if dep["output"].startswith("..") else outputs[0],
                    "inputs": [{**i, "value": value} for i in dep["inputs"]],
                    "state": [{**s, "value": value} for s in dep["state"]],
                    "changedPropIds": [f"{i['id']}.{i['property']}" for i in dep["inputs"][:1]]}
            reply = admin.post(f"{web_url}/_dash-update-component", json=body, timeout=30)
            status, answer = reply.status_code, reply.content
            if status not in (200, 204, 400):
                failures.append((dep["output"][:80], repr(value)[:60], status))
            elif status == 200 and _rendered_html(json.loads(answer)):
                failures.append((dep["output"][:80], repr(value)[:60], "renders HTML"))
            fuzzed += 1
    assert failures == [], "\n".join(map(str, failures))
    assert fuzzed > 100


def test_pages_with_hostile_url_parameters(web_url, page):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for path in PAGES:
        for query in QUERIES:
            status = page.goto(f"{web_url}{path}{query}").status
            assert status == 200, (path, query, status)
            page.wait_for_selector("#nav-links", timeout=30_000)
            page.wait_for_timeout(300)
            assert page.evaluate("window.__pwned") is None, (path, query)
            assert page.locator("img[src=x]").count() == 0, (path, query)
    for path in ("/../../etc/passwd", "/%00", "/<script>", "/alerts/" + "x" * 3000, "/_dash-layout?x=%ff"):
        request = urllib.request.Request(f"{web_url}{urllib.parse.quote(path, safe='/?=%')}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert status < 500, (path, status)
    assert dialogs == []
