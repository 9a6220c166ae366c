"""Counting what a shared limit let through, for the tests that time several processes."""

from __future__ import annotations


def busiest_window(times: list[float], seconds: float) -> int:
    """The most events (requests, granted slots) in any span shorter than `seconds`."""
    ordered = sorted(times)
    best, first = 0, 0
    for last, moment in enumerate(ordered):
        while moment - ordered[first] >= seconds:
            first += 1
        best = max(best, last - first + 1)
    return best
