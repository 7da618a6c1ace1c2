"""The alerts' severity scale, in one spot: the engine, the notification routing and the messages rank
severities here (the product's status module can take this place without touching its users)."""

from __future__ import annotations

from typing import Literal

Severity = Literal["warning", "critical"]
SEVERITY_RANK: dict[str | None, int] = {None: 0, "warning": 1, "critical": 2}

# What a condition says of one observation: (severity or None when all is well, the level crossed).
Judgement = tuple[str | None, float | None]
