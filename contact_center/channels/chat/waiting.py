"""What a waiting chat customer is told: their expected wait, decided from plain queue figures."""

from __future__ import annotations

import math

__all__ = ["DEFAULT_HANDLE_SECONDS", "expected_wait"]

# Before a queue has finished any contact there is no AHT to go by; a typical chat takes about this long.
DEFAULT_HANDLE_SECONDS = 240.0


def expected_wait(position: int, average_handle_time: float | None, agents_serving: int) -> float:
    """Return the seconds until an agent is likely free for the customer at `position` (1 = next).

    With N agents each finishing a contact every AHT seconds, one frees up every AHT / N seconds on average; the
    customer at position p waits for p of those. With nobody serving, the estimate is infinite.
    """
    if position < 1:
        return 0.0
    if agents_serving < 1:
        return math.inf
    handle = average_handle_time if average_handle_time and average_handle_time > 0 else DEFAULT_HANDLE_SECONDS
    return position * handle / agents_serving
