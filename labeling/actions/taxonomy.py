"""Writes of taxonomies: import from a file, the default seed."""

from pathlib import Path

from django.db import transaction

from accounts import audit
from labeling.models import Dimension, Option, Taxonomy
from labeling.taxonomy_file import parse_taxonomy_text

DEFAULT_TAXONOMY_FILE = Path(__file__).resolve().parent.parent / "default_taxonomy.json"


@transaction.atomic
def import_taxonomy(spec, actor=None):
    """Create or update the active version of a taxonomy from a checked TaxonomySpec.

    Re-importing the same key updates names, descriptions and order in place and adds new
    dimensions and options; nothing is deleted, so labels on existing options survive.
    """
    taxonomy, _ = Taxonomy.objects.update_or_create(
        key=spec.key,
        active=True,
        defaults={"name": spec.name, "description": spec.description},
    )
    for dimension_spec in spec.dimensions:
        dimension, _ = Dimension.objects.update_or_create(
            taxonomy=taxonomy,
            key=dimension_spec.key,
            defaults={
                "name": dimension_spec.name,
                "description": dimension_spec.description,
                "multi": dimension_spec.multi,
                "order": dimension_spec.order,
            },
        )
        _upsert_options(dimension, dimension_spec.options, parent=None)
    audit.record(actor, "taxonomy.imported", taxonomy, f"imported taxonomy {taxonomy.key} v{taxonomy.version}")
    return taxonomy


def update_taxonomy_settings(form, actor):
    """Save the settings form of a taxonomy (no label changes) and audit it."""
    taxonomy = form.save()
    changes = {field: str(form.cleaned_data[field]) for field in form.changed_data}
    audit.record(
        actor, "taxonomy.settings_changed", taxonomy, f"settings of {taxonomy.key}: {', '.join(changes)}", changes
    )
    return taxonomy


def _upsert_options(dimension, option_specs, parent):
    for option_spec in option_specs:
        option, _ = Option.objects.update_or_create(
            dimension=dimension,
            key=option_spec.key,
            defaults={
                "name": option_spec.name,
                "description": option_spec.description,
                "parent": parent,
                "order": option_spec.order,
            },
        )
        _upsert_options(dimension, option_spec.children, parent=option)


def seed_default_taxonomy():
    """Create or refresh the default taxonomy of PRODUCT.md §3; safe to run any number of times."""
    spec = parse_taxonomy_text(DEFAULT_TAXONOMY_FILE.read_text(), DEFAULT_TAXONOMY_FILE.name)
    return import_taxonomy(spec)
