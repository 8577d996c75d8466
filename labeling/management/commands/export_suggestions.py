import json

from django.core.management.base import BaseCommand

from labeling.management.arguments import active_taxonomy
from labeling.suggestions.queries import iter_suggestion_records


class Command(BaseCommand):
    help = (
        'Write the stored suggestions of a taxonomy as JSON lines to stdout: {"incident", "source", '
        '"dimension", "value", "score"}, the best value per incident and dimension (every value of a '
        "multi-valued dimension) (PRODUCT.md §4)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--taxonomy", required=True, help="Key of the active taxonomy.")

    def handle(self, *args, taxonomy, **options):
        found = active_taxonomy(taxonomy)
        for record in iter_suggestion_records(found):
            self.stdout.write(json.dumps(record, ensure_ascii=False))
