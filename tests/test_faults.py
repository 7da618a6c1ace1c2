"""The fault scenarios of bench/faults.py at small scale: each starts its own PostgreSQL and
Mosquitto, runs `app.py --ingest-only` as a process, publishes a known set of readings while the
fault happens and compares what is stored with what was published."""

from __future__ import annotations

import pytest

from bench.faults import SCALES, run


@pytest.mark.parametrize("scenario", ["kill9", "pg_down", "broker_restart", "spool_full", "revoke_readings",
                                      "revoke_both", "read_only", "long_outage"])
def test_no_reading_lost_or_stored_twice(scenario):
    [result] = run(SCALES["small"], {scenario}, report=lambda line: None)
    assert result.published == SCALES["small"].readings
    assert (result.stored, result.duplicates, result.lost, result.unexpected) == (result.published, 0, 0, 0), \
        result.line()
    assert not result.failed_check, result.line()  # e.g. the writer shown failing, the catch-up time
    if scenario == "spool_full":
        assert "spool filled" in result.note, result.line()  # the limit was really reached
