"""What the suggestion commands share: the taxonomy their --taxonomy names."""

from django.core.management.base import CommandError

from labeling.models import Taxonomy


def active_taxonomy(key):
    """The active version of taxonomy `key`; a CommandError that names the key when there is none."""
    found = Taxonomy.objects.filter(key=key, active=True).first()
    if found is None:
        raise CommandError(f"no active taxonomy {key!r}")
    return found
