"""Pieces of the brief page: change arrows."""

from __future__ import annotations

ARROWS = {"up": "▲", "down": "▼", "flat": "", "none": ""}


def arrow(tone: str) -> tuple[str, str]:
    """(arrow character, CSS class) for a change tone such as 'up-bad'."""
    way, _, mood = tone.partition("-")
    return ARROWS.get(way, ""), f"brief-change brief-{mood or 'neutral'}"
