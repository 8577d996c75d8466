import time

from django.core.management.base import BaseCommand, CommandError

from labeling.actions.suggestions import suggest_labels
from labeling.models import Taxonomy


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
        found = Taxonomy.objects.filter(key=taxonomy, active=True).first()
        if found is None:
            raise CommandError(f"no active taxonomy {taxonomy!r}")
        started = time.perf_counter()
        result = suggest_labels(found, train=train)
        self.stdout.write(
            f"{result.suggestions} suggestions for {result.incidents} undecided incidents with {result.version} "
            f"in {time.perf_counter() - started:.1f} s."
        )
