"""The one way tests wait: for a condition, with a generous timeout, never for a fixed time.

A busy machine makes things slow, not wrong: the timeout only bounds how long a test waits before it
reports a failure, so it is long (30 s by default), and a passing test returns as soon as the
condition holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
TIMEOUT = 30.0


def wait_until(predicate: Callable[[], T], timeout: float = TIMEOUT, interval: float = 0.02) -> T:
    """The first truthy value of `predicate()` within `timeout` seconds, else its last (falsy) value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(interval)
    return predicate()
