"""Set-up shared by the benchmarks: their own database on the embedded server, migrated."""

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(database="triage_bench"):
    """Point Django at a benchmark database (never the one `make run` uses) and migrate it."""
    sys.path.insert(0, str(ROOT))
    if not os.environ.get("DATABASE_URL"):
        os.environ["TRIAGE_EMBEDDED_DB"] = database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("seed_taxonomy", verbosity=0)


@contextmanager
def timed(label, count=None, unit="items"):
    started = time.perf_counter()
    yield
    elapsed = time.perf_counter() - started
    rate = f", {count / elapsed:,.0f} {unit}/s" if count else ""
    print(f"{label}: {elapsed:.2f} s{rate}", flush=True)
