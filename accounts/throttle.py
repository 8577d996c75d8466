"""Slow down password guessing: after a few failures, each further attempt must wait longer.

Counts live in the cache (Redis in production, so every web worker sees the same counts),
per username and per client address, and expire on their own.
"""

import time

from django.core.cache import cache

FREE_ATTEMPTS = 5
FIRST_WAIT_SECONDS = 30
MAX_WAIT_SECONDS = 15 * 60
# Failures are forgotten this long after the last one.
MEMORY_SECONDS = 60 * 60


def _keys(username, address):
    return [f"login-failures:user:{username.strip().lower()}", f"login-failures:addr:{address}"]


def seconds_to_wait(username, address):
    """0 if a login attempt may go ahead now, else how long until it may."""
    now = time.time()
    waits = []
    for key in _keys(username, address):
        failures, last = cache.get(key, (0, 0.0))
        if failures >= FREE_ATTEMPTS:
            wait = min(MAX_WAIT_SECONDS, FIRST_WAIT_SECONDS * 2 ** (failures - FREE_ATTEMPTS))
            waits.append(max(0, int(last + wait - now) + 1))
    return max(waits, default=0)


def record_failure(username, address):
    for key in _keys(username, address):
        failures, _ = cache.get(key, (0, 0.0))
        cache.set(key, (failures + 1, time.time()), MEMORY_SECONDS)


def clear(username, address):
    cache.delete_many(_keys(username, address))
