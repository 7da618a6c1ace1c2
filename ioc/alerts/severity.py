"""The alerts' view of the one severity scale (ioc.status): an alert is a warning or critical, and an
observation with nothing wrong (None) ranks as "ok". The engine, the routing and the messages rank here."""

from __future__ import annotations

from typing import Literal

from ioc.status import RANK

Severity = Literal["warning", "critical"]
SEVERITY_RANK: dict[str | None, int] = {None: RANK["ok"], "warning": RANK["warning"], "critical": RANK["critical"]}

# What a condition says of one observation: (severity or None when all is well, the level crossed).
Judgement = tuple[str | None, float | None]
