"""Writes of label files: human annotations and the decisions they imply (PRODUCT.md §4)."""

from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.actions import create_user_with_role
from accounts.roles import Role
from incidents.models import Incident
from labeling.actions.annotations import LabelError, check_options, save_annotation
from labeling.choices import AnnotationSource
from labeling.label_file import LineError, group_label_lines, label_group_key
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
def import_labels(lines, parse_errors=()):
    """Save the checked LabelLines of a file as imported annotations; return a LabelImportResult.

    Lines naming an unknown incident, taxonomy, dimension or option are refused one by one.
    So is the rest of a refused line's value set (`parse_errors` bring those refused for their
    value when the file was read): its stored value stays whole rather than half-replaced.
    Other value sets are kept. Each goes through `save_annotation`, which leaves a value
    already held unchanged, so importing the same file twice changes nothing.
    """
    result = LabelImportResult()
    wrong_values = [error.label for error in parse_errors if error.label is not None]
    lookup = _Lookup.for_lines([*lines, *wrong_values])
    good, refused = [], list(wrong_values)
    for line in lines:
        error = _lookup_error(line, lookup)
        if error is None:
            good.append(line)
        else:
            result.errors.append(error)
            refused.append(line)
    refused_in_set = _refused_line_numbers_by_set(refused, lookup)
    for group in group_label_lines(good, lookup.incident_of):
        if group.key in refused_in_set:
            _refuse_group(group, refused_in_set[group.key], result)
        else:
            _save_group(group, lookup, result)
    result.errors.sort(key=lambda error: error.line)
    return result


@dataclass
class _Lookup:
    """The rows the lines name, fetched once: incidents, dimensions, options and annotators."""

    incidents: dict
    taxonomies: set
    dimensions: dict
    options: dict
    users: dict

    @classmethod
    def for_lines(cls, lines):
        keys = {line.taxonomy for line in lines}
        taxonomies = set(Taxonomy.objects.filter(key__in=keys, active=True).values_list("key", flat=True))
        dimensions = _dimensions(taxonomies)
        users = get_user_model().objects.filter(username__in={line.annotator for line in lines})
        return cls(
            _incidents(lines),
            taxonomies,
            dimensions,
            _options(dimensions.values()),
            {user.username: user for user in users},
        )

    def incident_of(self, line):
        """The one incident the line names, or None when it names none or several."""
        found = self.incidents.get((line.source, line.incident), [])
        return found[0] if len(found) == 1 else None


def _lookup_error(line, lookup):
    """The LineError of the first name on the line that matches nothing (or names a user it cannot make), or None."""
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
    if line.annotator not in lookup.users:
        return _username_error(line)
    return None


def _username_error(line):
    """The LineError of an annotator the import cannot create: Django's own username rules, or None."""
    try:
        get_user_model()._meta.get_field("username").run_validators(line.annotator)
    except ValidationError as error:
        reason = f"{line.annotator!r} is not a valid username: {' '.join(error.messages)}"
        return LineError(line.line, "annotator", reason)
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


def _refused_line_numbers_by_set(refused, lookup):
    """{value set key: [numbers of its refused lines]}, for the refused lines whose incident is known."""
    numbers = defaultdict(list)
    for line in refused:
        incident = lookup.incident_of(line)
        if incident is not None:
            numbers[label_group_key(line, incident)].append(line.line)
    return numbers


def _refuse_group(group, refused_numbers, result):
    """Report the lines of a value set that are not applied because another of its lines was refused."""
    numbers = ", ".join(map(str, refused_numbers))
    reason = f"not applied: its value set has refused line{'s' if len(refused_numbers) > 1 else ''} {numbers}"
    result.errors.extend(LineError(line.line, "", reason) for line in group.lines)


def _save_group(group, lookup, result):
    """Save one value set; a new annotator's user is created only once the value is known to fit."""
    line = group.first
    dimension = lookup.dimensions[(line.taxonomy, line.dimension)]
    try:
        options = check_options(dimension, [lookup.options[(dimension.pk, value)] for value in group.values])
    except LabelError as error:
        result.errors.extend(LineError(member.line, "value", str(error)) for member in group.lines)
        return
    _, created = save_annotation(
        lookup.incident_of(line),
        dimension,
        _annotator(line.annotator, lookup, result),
        options,
        source=AnnotationSource.IMPORT,
        adjudication=line.adjudication,
    )
    if created:
        result.created += 1
    else:
        result.unchanged += 1


def _annotator(username, lookup, result):
    """The annotator's user: an existing one as it is, a missing one created with the analyst role."""
    if username not in lookup.users:
        lookup.users[username], _ = create_user_with_role(username, Role.ANALYST)
        result.users_created.append(username)
    return lookup.users[username]
