from django.core.management.base import BaseCommand
from tqdm import tqdm

from incidents.models import Incident
from incidents.pipeline import EMBED_TASK_SIZE
from labeling import embeddings
from labeling.actions import embed_incidents
from labeling.queries import incidents_with_stale_embeddings


class Command(BaseCommand):
    help = "Embed incidents whose vector is missing or stale (--all: check every incident), here and now."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="Check every incident, not only stale ones.")

    def handle(self, *args, all, **options):
        incidents = Incident.objects.all() if all else incidents_with_stale_embeddings()
        ids = list(incidents.order_by("pk").values_list("pk", flat=True))
        totals = {"embedded": 0, "unchanged": 0, "missing": 0}
        self.stdout.write(f"{len(ids)} incidents to check with {embeddings.model_name()} on {embeddings.pick_device()}")
        with tqdm(total=len(ids), unit="incident", disable=not ids) as progress:
            for start in range(0, len(ids), EMBED_TASK_SIZE):
                counts = embed_incidents(ids[start : start + EMBED_TASK_SIZE])
                for key, value in counts.items():
                    totals[key] += value
                progress.update(min(EMBED_TASK_SIZE, len(ids) - start))
        self.stdout.write(
            self.style.SUCCESS("Embedded {embedded}, unchanged {unchanged}, gone {missing}.".format(**totals))
        )
