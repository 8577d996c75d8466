"""Demo seeding throughput: `seed_demo` for 10,000 and 100,000 incidents (PRODUCT.md §4).

Target: 100,000 incidents with their timelines, annotations, decisions and search documents
in under 60 s on the 2-core machine. Each size starts from an empty database of its own, so
the runs compare. Prints figures (and the load average, since other work on the machine
slows PostgreSQL too), asserts nothing.
"""

import os
import sys
from io import StringIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import setup_django, timed

COUNTS = (10_000, 100_000)
SEED = 7
# Its own database: emptying the incidents here leaves the 100,000 embedded incidents of
# bench_similar (in triage_bench) alone.
DATABASE = "triage_bench_seed"


def delete_demo_data():
    """Empty the incident tables (and every table that points at them) of this database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE incidents_incident CASCADE")


def seed(count):
    from django.core.management import call_command

    out = StringIO()
    with timed(f"seed_demo --count {count:,}", count, "incidents"):
        call_command("seed_demo", count=count, seed=SEED, stdout=out)
    print(f"  {out.getvalue().strip()}", flush=True)


def main():
    setup_django(DATABASE)
    for count in COUNTS:
        delete_demo_data()
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"load average before the run: {load} ({os.cpu_count()} cores)", flush=True)
        seed(count)


if __name__ == "__main__":
    main()
