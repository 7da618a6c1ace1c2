"""The ingest hot path draws the same lines as the general one: the native parser's fast path (msgspec)
reads what the general parser reads, reasons included; the validator's fast check agrees with its reasons."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.native import _parse_general, parse
from ioc.ingest import Validator
from ioc.models import Reading
from ioc.transports.contract import Parsed

TOPIC = "ioc/health/hospital-1"

numbers = st.one_of(st.integers(min_value=-(10**25), max_value=10**25), st.floats(allow_nan=True),
                    st.booleans(), st.none(), st.text(max_size=3))
times = st.one_of(st.integers(min_value=-(10**20), max_value=10**20), st.floats(allow_nan=False),
                  st.sampled_from(["2026-11-27T08:00:00+07:00", "2026-11-27T08:00:00", "2026-11-27T01:00:00Z",
                                   "yesterday", ""]), st.booleans(), st.none())
objects = st.fixed_dictionaries(
    {"ts": times, "values": st.one_of(st.dictionaries(st.sampled_from(["bed_occupancy", "pm25", "x"]), numbers,
                                                      max_size=3), numbers)},
    optional={"entity": st.one_of(st.sampled_from(["hospital-2", ""]), st.none(), st.integers()),
              "unit": st.text(max_size=2)})
# Well-formed objects (the fast path's) with the edges of numbers: big integers, floats, 0 and -0.
good_objects = st.fixed_dictionaries(
    {"ts": st.one_of(st.integers(min_value=0, max_value=4 * 10**9), st.floats(min_value=0, max_value=4e9),
                     st.sampled_from(["2026-11-27T08:00:00+07:00", "2026-11-27T01:00:00.123456Z"])),
     "values": st.dictionaries(st.sampled_from(["bed_occupancy", "pm25", "x"]),
                               st.one_of(st.integers(min_value=-(10**25), max_value=10**25),
                                         st.floats(allow_nan=False, allow_infinity=False)), min_size=1, max_size=3)},
    optional={"entity": st.sampled_from(["hospital-2", "site-3"])})
documents = st.one_of(good_objects, st.lists(good_objects, min_size=1, max_size=4), objects,
                      st.lists(st.one_of(good_objects, objects), max_size=4), numbers)


def general(topic: str, payload: bytes) -> Parsed:
    levels = topic.split("/")
    out = Parsed(domain=levels[1])
    _parse_general(payload, levels[2] or None, out)
    return out


@settings(max_examples=400, deadline=None)
@given(documents, st.sampled_from([TOPIC, "ioc/health/"]))
def test_fast_path_reads_what_the_general_path_reads(document, topic):
    payload = json.dumps(document).encode()  # NaN and Infinity included: Python's json reads them back
    fast, slow = parse(topic, payload), general(topic, payload)
    assert fast.readings == slow.readings
    assert fast.errors == slow.errors
    assert fast.domain == slow.domain


def test_a_gateway_batch_shares_its_instants():
    payload = json.dumps([{"entity": f"site-{i}", "ts": 1795741200, "values": {"pm25": i, "pm10": 2.5}}
                          for i in range(3)]).encode()
    parsed = parse("ioc/environment/gateway", payload)
    assert not parsed.errors
    assert [(r.entity, r.metric, r.value) for r in parsed.readings][:2] == [("site-0", "pm25", 0.0),
                                                                         ("site-0", "pm10", 2.5)]
    assert len({r.ts for r in parsed.readings}) == 1 and parsed.readings[0].ts.timestamp() == 1795741200


def test_validator_fast_check_agrees_with_the_reasons(test_config):
    """Validator.valid (one lookup per reading) and Validator.check (the reasons) draw the same line."""
    now = datetime.now(UTC)
    validator = Validator(test_config, clock=lambda: now)
    entity = test_config.region.entities[0]
    kind = test_config.kinds[entity.kind]
    metric = kind.metrics[0]
    low, high = test_config.metrics[metric].valid_range
    other_kind_metric = next(m for m in test_config.metrics if m not in kind.metrics)
    candidates = [Reading(e, m, ts, v)
                  for e in (entity.id, "nobody")
                  for m in (metric, other_kind_metric, "no_such_metric")
                  for ts in (now, now - validator.retention - timedelta(seconds=1), now - validator.retention,
                             now + validator.future, now + validator.future + timedelta(seconds=1))
                  for v in (low, high, low - 1, high + 1, math.nan, math.inf, -math.inf, (low + high) / 2)]
    for domain in (None, kind.domain, "elsewhere"):
        valid, invalid = validator.valid(candidates, domain, now)
        assert valid == [r for r in candidates if validator.check(r, domain, now) is None]
        assert invalid == [r for r in candidates if validator.check(r, domain, now) is not None]
        assert bool(valid) == (domain != "elsewhere")  # the line is drawn somewhere
