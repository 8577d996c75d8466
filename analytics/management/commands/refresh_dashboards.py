"""`manage.py refresh_dashboards`: rebuild every dashboard fact now, in batches, with progress.

The periodic task keeps the facts current; this is for a first build of a big database
(after `seed_demo --count 1000000`, say) or after restoring one, when waiting for the task's
catch-up is not wanted.
"""

import time

from django.core.management.base import BaseCommand
from tqdm import tqdm

from analytics import actions
from incidents.models import Incident


class Command(BaseCommand):
    help = "Rebuild the dashboard facts of every incident (the periodic task keeps them current)."

    def handle(self, *args, **options):
        started = time.perf_counter()
        total = Incident.objects.count()
        with tqdm(total=total, unit="incidents", disable=options["verbosity"] == 0) as bar:
            batches = actions.refresh_all_facts(progress=lambda done, _last: bar.update(min(done, total) - bar.n))
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"Refreshed the dashboard facts of {total:,} incidents in {batches} batches, {elapsed:.1f} s."
        )
