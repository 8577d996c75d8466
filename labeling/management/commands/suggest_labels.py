import time

from django.core.management.base import BaseCommand

from labeling.actions.suggestions import suggest_labels
from labeling.management.arguments import active_taxonomy


class Command(BaseCommand):
    help = (
        "(Re)compute suggestions for every incident without a decision in a taxonomy, training "
        "the suggestion model first when enough new decisions arrived (PRODUCT.md §4)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--taxonomy", required=True, help="Key of the active taxonomy.")
        parser.add_argument(
            "--no-train", dest="train", action="store_false", help="Use the latest trained model as it is."
        )

    def handle(self, *args, taxonomy, train, **options):
        found = active_taxonomy(taxonomy)
        started = time.perf_counter()
        result = suggest_labels(found, train=train)
        self.stdout.write(
            f"{result.suggestions} suggestions for {result.incidents} undecided incidents with {result.version} "
            f"in {time.perf_counter() - started:.1f} s."
        )
