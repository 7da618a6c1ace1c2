"""Manual entry: validated like any reading, corrections replace the value and keep the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ioc import manual, queries
from ioc.ingest import Validator


def test_entry_then_correction_keeps_the_trail(clean_db):
    rt = clean_db
    with rt.db.connection() as conn:
        conn.execute("TRUNCATE manual_entries")
    entity = next(e for e in rt.config.region.entities if e.kind == "education_office")
    metric = rt.config.entity_metrics(entity.id)[0]
    low, high = rt.config.metrics[metric].valid_range
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    validator = Validator(rt.config)
    manual.submit(validator, rt.writer.submit, entity.id, metric, day, low + 1, "Nguyễn Văn An", "qua điện thoại")
    manual.submit(validator, rt.writer.submit, entity.id, metric, day, low + 2, "Trần Thị Bình", "sửa số liệu")
    with rt.db.connection() as conn:
        value, feed = conn.execute(
            "SELECT r.value, l.feed FROM readings r JOIN series s ON s.id = r.series_id "
            "JOIN latest l ON l.series_id = s.id WHERE s.entity = %s AND s.metric = %s AND r.ts = %s",
            (entity.id, metric, day)).fetchone()
    assert (value, feed) == (low + 2, "manual")
    trail = queries.manual_entries(rt.db)
    assert list(trail["entered_by"]) == ["Trần Thị Bình", "Nguyễn Văn An"]
    assert list(trail["previous_value"].fillna(-1)) == [low + 1, -1]
    assert list(trail["note"]) == ["sửa số liệu", "qua điện thoại"]


@pytest.mark.parametrize(("change", "reason"), [
    ({"value": 1e12}, "outside its valid range"),
    ({"metric": "bed_occupancy"}, "is not reported by entities of kind"),
    ({"entity": "nowhere"}, "unknown entity"),
    ({"entered_by": "  "}, "who entered the figure is required"),
    ({"ts": datetime.now(UTC) + timedelta(days=1)}, "in the future"),
])
def test_bad_entries_are_refused_with_the_reason(clean_db, change, reason):
    rt = clean_db
    entity = next(e for e in rt.config.region.entities if e.kind == "education_office")
    entry = {"entity": entity.id, "metric": rt.config.entity_metrics(entity.id)[0],
             "ts": datetime.now(UTC) - timedelta(hours=1), "value": 1.0, "entered_by": "An"} | change
    with pytest.raises(manual.ManualEntryError, match=reason):
        manual.submit(Validator(rt.config), rt.writer.submit, **entry)
