import json

from django.core.management.base import BaseCommand, CommandError

from labeling.models import Taxonomy
from labeling.queries import taxonomy_as_data


class Command(BaseCommand):
    help = "Write a taxonomy (the active version, or --taxonomy-version N) as JSON or YAML to stdout."

    def add_arguments(self, parser):
        parser.add_argument("key")
        parser.add_argument("--taxonomy-version", type=int, dest="taxonomy_version", help="default: the active one")
        parser.add_argument("--format", choices=["json", "yaml"], default="json")

    def handle(self, *args, key, taxonomy_version, format, **options):
        versions = Taxonomy.objects.filter(key=key)
        taxonomy = (
            versions.filter(version=taxonomy_version).first()
            if taxonomy_version
            else versions.filter(active=True).first()
        )
        if taxonomy is None:
            raise CommandError(f"No taxonomy {key!r}" + (f" version {taxonomy_version}" if taxonomy_version else ""))
        data = taxonomy_as_data(taxonomy)
        if format == "yaml":
            import yaml

            self.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        else:
            self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False))
