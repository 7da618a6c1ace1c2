"""Manual entry: figures that arrive by phone or on paper, checked like any reading, kept with who and
when, and corrected by entering the same (entity, metric, time) again — the audit trail keeps both."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from ioc.ingest import Validator
from ioc.models import Batch, ManualEntry, Reading

FEED = "manual"


class ManualEntryError(ValueError):
    pass


def submit(validator: Validator, submit: Callable[[Batch], None], entity: str, metric: str, ts: datetime, value: float,
           entered_by: str, note: str = "", timeout: float = 10) -> Reading:
    """Validate and store one entry through `submit` (the writer's); returns once it is committed.
    ManualEntryError says what is wrong."""
    entered_by = (entered_by or "").strip()
    if not entered_by:
        raise ManualEntryError("who entered the figure is required")
    if ts.tzinfo is None:
        raise ManualEntryError("the time needs a time zone")
    reading = Reading(entity, metric, ts.astimezone(UTC), float(value))
    domain = validator.entities[entity].domain if entity in validator.entities else None
    if reason := validator.check(reading, domain, datetime.now(UTC)):
        raise ManualEntryError(reason)
    done = threading.Event()
    submit(Batch([], manual=[ManualEntry(reading, entered_by[:200], (note or "").strip()[:2000])],
                        on_commit=done.set, feed=FEED))
    if not done.wait(timeout):
        raise ManualEntryError("not stored yet: the database is not answering")
    return reading
