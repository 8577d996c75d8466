"""Writes of label files: human annotations and the decisions they imply (PRODUCT.md §4)."""

from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction

from accounts.actions import create_user_with_role
from accounts.roles import Role
from incidents.models import Incident
from labeling.actions.annotations import LabelError, save_annotation
from labeling.choices import AnnotationSource
from labeling.label_file import LineError, group_label_lines
from labeling.models import Dimension, Option, Taxonomy


@dataclass
class LabelImportResult:
    """What an import did: annotations written or already there, users made, lines refused."""

    created: int = 0
    unchanged: int = 0
    users_created: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    @property
    def rejected_lines(self):
        return len({error.line for error in self.errors})


@transaction.atomic
def import_labels(lines):
    """Save the checked LabelLines of a file as imported annotations; return a LabelImportResult.

    Lines naming an unknown incident, taxonomy, dimension or option are refused one by one
    and the rest are kept. Each annotator's value goes through `save_annotation`, which
    leaves a value already held unchanged, so importing the same file twice changes nothing.
    """
    result = LabelImportResult()
    lookup = _Lookup.for_lines(lines)
    good = []
    for line in lines:
        error = _lookup_error(line, lookup)
        if error is None:
            good.append(line)
        else:
            result.errors.append(error)
    groups = group_label_lines(good)
    users = _users(sorted({group.first.annotator for group in groups}), result)
    for group in groups:
        _save_group(group, lookup, users, result)
    result.errors.sort(key=lambda error: error.line)
    return result


@dataclass
class _Lookup:
    """The rows the lines name, fetched once: incidents, dimensions and their options."""

    incidents: dict
    taxonomies: set
    dimensions: dict
    options: dict

    @classmethod
    def for_lines(cls, lines):
        keys = {line.taxonomy for line in lines}
        taxonomies = set(Taxonomy.objects.filter(key__in=keys, active=True).values_list("key", flat=True))
        dimensions = _dimensions(taxonomies)
        return cls(_incidents(lines), taxonomies, dimensions, _options(dimensions.values()))


def _lookup_error(line, lookup):
    """The LineError of the first name on the line that matches nothing, or None."""
    found = lookup.incidents.get((line.source, line.incident), [])
    if not found:
        where = f" of source {line.source!r}" if line.source else ""
        return LineError(line.line, "incident", f"no incident {line.incident!r}{where}")
    if len(found) > 1:
        sources = ", ".join(sorted(incident.source for incident in found))
        return LineError(line.line, "source", f"incident {line.incident!r} exists in {sources}: name the source")
    if line.taxonomy not in lookup.taxonomies:
        return LineError(line.line, "taxonomy", f"no active taxonomy {line.taxonomy!r}")
    dimension = lookup.dimensions.get((line.taxonomy, line.dimension))
    if dimension is None:
        return LineError(line.line, "dimension", f"taxonomy {line.taxonomy!r} has no dimension {line.dimension!r}")
    if (dimension.pk, line.value) not in lookup.options:
        return LineError(line.line, "value", f"{line.value!r} is not an option of {line.dimension!r}")
    return None


def _incidents(lines):
    """{(source or "", external_id): [Incident]}: a line without source matches every source."""
    external_ids = {line.incident for line in lines}
    found = defaultdict(list)
    for incident in Incident.objects.filter(external_id__in=external_ids).only("pk", "source", "external_id"):
        found[(incident.source, incident.external_id)].append(incident)
        found[("", incident.external_id)].append(incident)
    return found


def _dimensions(taxonomy_keys):
    """{(taxonomy key, dimension key): Dimension} of these active taxonomies."""
    keys = taxonomy_keys
    dimensions = Dimension.objects.filter(taxonomy__key__in=keys, taxonomy__active=True).select_related("taxonomy")
    return {(dimension.taxonomy.key, dimension.key): dimension for dimension in dimensions}


def _options(dimensions):
    options = Option.objects.filter(dimension__in=list(dimensions))
    return {(option.dimension_id, option.key): option for option in options}


def _users(usernames, result):
    """{username: user}: existing users as they are; missing ones created with the analyst role."""
    users = {user.username: user for user in get_user_model().objects.filter(username__in=usernames)}
    for username in usernames:
        if username not in users:
            users[username], _ = create_user_with_role(username, Role.ANALYST)
            result.users_created.append(username)
    return users


def _save_group(group, lookup, users, result):
    line = group.first
    incident = lookup.incidents[(line.source, line.incident)][0]
    dimension = lookup.dimensions[(line.taxonomy, line.dimension)]
    options = [lookup.options[(dimension.pk, value)] for value in group.values]
    try:
        _, created = save_annotation(
            incident,
            dimension,
            users[line.annotator],
            options,
            source=AnnotationSource.IMPORT,
            adjudication=line.adjudication,
        )
    except LabelError as error:
        result.errors.extend(LineError(member.line, "value", str(error)) for member in group.lines)
        return
    if created:
        result.created += 1
    else:
        result.unchanged += 1
