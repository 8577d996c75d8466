"""Is anyone working the queues? A heartbeat the workers write and the pages read.

Each worker's main process stamps the cache (Redis) every WORKER_HEARTBEAT_SECONDS
(config.celery.Heartbeat), busy or not. Pages show a banner when the stamp is older than
MISSED_BEATS beats or the cache itself cannot be reached (the broker's Redis is down).
"""

import time

from django.conf import settings
from django.core.cache import cache

HEARTBEAT_KEY = "triage:worker-heartbeat"
# Beats missed before the banner shows: a stamp can lag a little (a restart, a slow Redis).
MISSED_BEATS = 4


def stale_after_seconds():
    return MISSED_BEATS * settings.WORKER_HEARTBEAT_SECONDS


def record_heartbeat():
    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)


def worker_status():
    """'ok', 'stale' (no worker stamped the heartbeat lately) or 'unreachable' (no Redis)."""
    try:
        stamp = cache.get(HEARTBEAT_KEY)
    except Exception:  # the cache client raises its own errors when Redis is down
        return "unreachable"
    if stamp is None or time.time() - stamp > stale_after_seconds():
        return "stale"
    return "ok"
