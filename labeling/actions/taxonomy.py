"""Writes of taxonomies: import from a file, the default seed."""

from pathlib import Path

from django.db import transaction
from django.db.models import Count

from accounts import audit
from labeling.actions.annotations import LabelError
from labeling.models import Annotation, Decision, Dimension, Option, Taxonomy
from labeling.taxonomy_file import parse_taxonomy_text

DEFAULT_TAXONOMY_FILE = Path(__file__).resolve().parent.parent / "default_taxonomy.json"


@transaction.atomic
def import_taxonomy(spec, actor=None):
    """Create or update the active version of a taxonomy from a checked TaxonomySpec.

    Re-importing the same key updates names, descriptions and order in place and adds new
    dimensions and options; nothing is deleted, so labels on existing options survive.
    A multi-valued dimension becomes single-valued only while no incident holds several
    of its values (LabelError otherwise).
    """
    _refuse_single_valued_with_several_values(spec)
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


def _refuse_single_valued_with_several_values(spec):
    """Refuse making a labeled multi-valued dimension single-valued.

    Its incidents would keep several decisions on a dimension that takes one value, which the
    labeling screen, agreement and dashboards do not expect.
    """
    becoming_single = [dimension_spec.key for dimension_spec in spec.dimensions if not dimension_spec.multi]
    dimensions = Dimension.objects.filter(
        taxonomy__key=spec.key, taxonomy__active=True, multi=True, key__in=becoming_single
    )
    for dimension in dimensions:
        incident_ids = _incidents_with_several_values(dimension)
        if incident_ids:
            raise LabelError(
                f"{dimension.key}: cannot become single-valued, {len(incident_ids)} "
                f"incident{'s hold' if len(incident_ids) > 1 else ' holds'} several values"
            )


def _incidents_with_several_values(dimension):
    """Ids of incidents with several decided options, or a current annotation of several options."""
    decided = (
        Decision.objects.filter(dimension=dimension)
        .values("incident_id")
        .annotate(option_count=Count("option_id"))
        .filter(option_count__gt=1)
        .values_list("incident_id", flat=True)
    )
    annotated = (
        Annotation.objects.filter(dimension=dimension, is_current=True)
        .annotate(option_count=Count("options"))
        .filter(option_count__gt=1)
        .values_list("incident_id", flat=True)
    )
    return set(decided) | set(annotated)


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
