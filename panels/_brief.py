"""Pieces of the brief page: an 8-day sparkline as an inline SVG image (no request, prints crisply)."""

from __future__ import annotations

import base64
from typing import Any

INK, MUTED = "#1b2631", "#5d6d7e"


def sparkline_src(history: list[list[Any]], width: int = 96, height: int = 24) -> str:
    """A data: URI of an SVG line through the days' values (gaps skipped), the last day marked."""
    values = [v for _, v in history if v is not None]
    body = ""
    if values:
        low, high = min(values), max(values)
        span = (high - low) or 1.0
        step = (width - 4) / max(1, len(history) - 1)
        points = [(2 + i * step, height - 3 - (height - 6) * (v - low) / span)
                  for i, (_, v) in enumerate(history) if v is not None]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        x, y = points[-1]
        body = (f'<polyline points="{path}" fill="none" stroke="{MUTED}" stroke-width="1.4"/>'
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.4" fill="{INK}"/>')
    else:
        body = (f'<line x1="2" y1="{height / 2}" x2="{width - 2}" y2="{height / 2}" stroke="#d5d8dc" '
                'stroke-dasharray="3 3"/>')
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">{body}</svg>'
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


ARROWS = {"up": "▲", "down": "▼", "flat": "", "none": ""}


def arrow(tone: str) -> tuple[str, str]:
    """(arrow character, CSS class) for a change tone such as 'up-bad'."""
    way, _, mood = tone.partition("-")
    return ARROWS.get(way, ""), f"brief-change brief-{mood or 'neutral'}"
