from django.core.management.base import BaseCommand
from tqdm import tqdm

from incidents.models import Incident
from incidents.pipeline import EMBED_TASK_SIZE
from labeling import embeddings
from labeling.actions import embed_incidents
from labeling.queries import incidents_with_stale_embeddings
from labeling.tasks import suggest_for_new_vectors


class Command(BaseCommand):
    help = "Embed incidents whose vector is missing or stale (--all: check every incident), here and now."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="Check every incident, not only stale ones.")

    def handle(self, *args, all, **options):
        stale = set(incidents_with_stale_embeddings().values_list("pk", flat=True))
        ids = sorted(Incident.objects.values_list("pk", flat=True)) if all else sorted(stale)
        totals = {"embedded": 0, "unchanged": 0, "changed": 0, "missing": 0}
        self.stdout.write(f"{len(ids)} incidents to check with {embeddings.model_name()} on {embeddings.pick_device()}")
        with tqdm(total=len(ids), unit="incident", disable=not ids) as progress:
            for start in range(0, len(ids), EMBED_TASK_SIZE):
                batch = ids[start : start + EMBED_TASK_SIZE]
                counts = embed_incidents(batch)
                # As the embed task does: the workers refresh the suggestions of what was brought up to date.
                suggest_for_new_vectors([pk for pk in batch if pk in stale])
                for key, value in counts.items():
                    totals[key] += value
                progress.update(len(batch))
        self.stdout.write(
            self.style.SUCCESS(
                "Embedded {embedded}, unchanged {unchanged}, changed meanwhile {changed}, gone {missing}.".format(
                    **totals
                )
            )
        )
