from django.core.management.base import BaseCommand

from labeling.actions import seed_default_taxonomy


class Command(BaseCommand):
    help = "Create or refresh the default taxonomy (idempotent)."

    def handle(self, *args, **options):
        taxonomy = seed_default_taxonomy()
        self.stdout.write(f"Default taxonomy {taxonomy.key!r} v{taxonomy.version} is in place.")
