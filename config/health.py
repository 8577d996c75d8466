"""Is anyone working the queues? A heartbeat the workers write and the pages read.

Beat queues `labeling.tasks.heartbeat` every HEARTBEAT_SECONDS; a worker running it stamps
the cache (Redis). Pages show a banner when the stamp is older than STALE_AFTER_SECONDS or
the cache itself cannot be reached (the broker's Redis is down).
"""

import time

from django.core.cache import cache

HEARTBEAT_KEY = "triage:worker-heartbeat"
HEARTBEAT_SECONDS = 30
# Four missed beats: a busy worker can lag a little without raising the alarm.
STALE_AFTER_SECONDS = 4 * HEARTBEAT_SECONDS


def record_heartbeat():
    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)


def worker_status():
    """'ok', 'stale' (no worker ran the heartbeat lately) or 'unreachable' (no Redis)."""
    try:
        stamp = cache.get(HEARTBEAT_KEY)
    except Exception:  # the cache client raises its own errors when Redis is down
        return "unreachable"
    if stamp is None or time.time() - stamp > STALE_AFTER_SECONDS:
        return "stale"
    return "ok"
