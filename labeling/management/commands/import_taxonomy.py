from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from labeling.actions import LabelError, import_taxonomy
from labeling.taxonomy_file import TaxonomyFileError, parse_taxonomy_text


class Command(BaseCommand):
    help = "Create or update a taxonomy from a JSON or YAML file (PRODUCT.md §4)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file, **options):
        try:
            text = file.read_text(encoding="utf-8")
            spec = parse_taxonomy_text(text, str(file))
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"{file}: cannot read: {error}") from None
        except TaxonomyFileError as error:
            raise CommandError(str(error)) from None
        try:
            taxonomy = import_taxonomy(spec)
        except LabelError as error:
            raise CommandError(f"{file}: {error}") from None
        options_count = sum(dimension.options.count() for dimension in taxonomy.dimensions.all())
        self.stdout.write(
            f"Taxonomy {taxonomy.key!r}: {taxonomy.dimensions.count()} dimensions, {options_count} options."
        )
