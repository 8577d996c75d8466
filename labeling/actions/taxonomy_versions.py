"""New taxonomy versions: rename, merge, split or retire an option that already has labels.

The old version stays as it was, so old labels stay readable; the new version is a copy with
one change, an OptionMapping row per old option says where it went, and the decisions and
current annotations are carried over through that mapping.
"""

from collections import defaultdict

from django.db import transaction
from django.db.models import Max, TextChoices

from accounts import audit
from incidents.models import Incident
from labeling.actions.annotations import LabelError, refresh_decision
from labeling.models import Annotation, Decision, Dimension, Option, OptionMapping, Taxonomy


class Change(TextChoices):
    SAME = "same", "Unchanged"
    RENAME = "rename", "Rename"
    MERGE = "merge", "Merge into another option"
    SPLIT = "split", "Split into several options"
    RETIRE = "retire", "Retire"


@transaction.atomic
def create_version(
    taxonomy, change, dimension_key, option_key, *, new_key="", new_name="", into_key="", parts=(), actor=None
):
    """Make the next version of an active taxonomy with one change applied; return it.

    `rename` takes new_key/new_name, `merge` takes into_key, `split` takes parts
    ([(key, name, description), ...], the first keeps the old option's labels for review),
    `retire` takes nothing: its labels are not carried over.
    """
    old = Taxonomy.objects.select_for_update().get(pk=taxonomy.pk)
    if not old.active:
        raise LabelError(f"{old.key} v{old.version} is not the active version; change the active one")
    new, copies = _copy_taxonomy(old)
    dimension = next((d for d in old.dimensions.all() if d.key == dimension_key), None)
    if dimension is None:
        raise LabelError(f"{old.key} has no dimension {dimension_key!r}")
    source = dimension.options.filter(key=option_key).first()
    if source is None:
        raise LabelError(f"{dimension_key} has no option {option_key!r}")
    targets = _apply(change, dimension, source, copies, new_key, new_name, into_key, parts)
    _write_mappings(copies, targets)
    Taxonomy.objects.filter(pk=old.pk).update(active=False)
    Taxonomy.objects.filter(pk=new.pk).update(active=True)
    carry_over_labels(old, new)
    new.refresh_from_db()
    audit.record(
        actor,
        "taxonomy.version_created",
        new,
        f"{new.key} v{new.version}: {change} {dimension_key}.{option_key}",
        {"change": change, "dimension": dimension_key, "option": option_key, "from_version": old.version},
    )
    return new


def _copy_taxonomy(old):
    """Copy every dimension and option into a new inactive version; return (new, {old option id: copy})."""
    version = Taxonomy.objects.filter(key=old.key).aggregate(latest=Max("version"))["latest"] + 1
    new = Taxonomy.objects.create(
        key=old.key,
        name=old.name,
        description=old.description,
        version=version,
        active=False,
        double_label_share=old.double_label_share,
    )
    new.adjudicators.set(old.adjudicators.all())
    copies = {}
    for dimension in old.dimensions.all():
        new_dimension = Dimension.objects.create(
            taxonomy=new, key=dimension.key, name=dimension.name, description=dimension.description,
            multi=dimension.multi, order=dimension.order,
        )  # fmt: skip
        for option in _parents_first(dimension.options.order_by("order", "pk")):
            copies[option.pk] = Option.objects.create(
                dimension=new_dimension, key=option.key, name=option.name, description=option.description,
                order=option.order, parent=copies.get(option.parent_id),
            )  # fmt: skip
    return new, copies


def _parents_first(options):
    """Options ordered so every parent comes before its children, at any depth."""
    pending, placed, ordered = list(options), set(), []
    while pending:
        ready = [option for option in pending if option.parent_id is None or option.parent_id in placed]
        if not ready:
            raise LabelError("the options' parents form a cycle")
        ordered.extend(ready)
        placed.update(option.pk for option in ready)
        pending = [option for option in pending if option.pk not in placed]
    return ordered


def _apply(change, dimension, source, copies, new_key, new_name, into_key, parts):
    """Apply the change to the copies; return {old option id: (new option or None, change, needs_review)}."""
    copy = copies[source.pk]
    if change == Change.RENAME:
        _require_free_keys(dimension, source, [new_key] if new_key else [])
        copy.key, copy.name = new_key or copy.key, new_name or copy.name
        copy.save(update_fields=["key", "name"])
        return {source.pk: (copy, Change.RENAME, False)}
    if change == Change.MERGE:
        into = dimension.options.filter(key=into_key).exclude(pk=source.pk).first()
        if into is None:
            raise LabelError(f"{dimension.key} has no other option {into_key!r} to merge into")
        if into.pk in _subtree(dimension, source):
            # Refused: the sub-option would become its own parent (or its parent's child), and a
            # label on the broad option does not say which of its sub-options was meant.
            raise LabelError(f"{into_key!r} is under {source.key!r}: an option cannot merge into its own sub-option")
        Option.objects.filter(parent=copy).update(parent=copies[into.pk])
        copy.delete()
        return {source.pk: (copies[into.pk], Change.MERGE, False)}
    if change == Change.SPLIT:
        return _split(dimension, source, copy, parts)
    if change == Change.RETIRE:
        # Deleting the copy deletes the copies under it too, so the whole subtree is retired.
        copy.delete()
        return dict.fromkeys(_subtree(dimension, source), (None, Change.RETIRE, False))
    raise LabelError(f"unknown change {change!r}")


def _subtree(dimension, root):
    """Ids of `root` and of every option under it, at any depth."""
    children = defaultdict(list)
    for pk, parent_id in dimension.options.values_list("pk", "parent_id"):
        children[parent_id].append(pk)
    ids, pending = set(), [root.pk]
    while pending:
        pk = pending.pop()
        ids.add(pk)
        pending.extend(children[pk])
    return ids


def _require_free_keys(dimension, source, keys):
    """Refuse keys that another option of the dimension has, or that repeat: keys are unique per dimension."""
    taken = set(dimension.options.exclude(pk=source.pk).values_list("key", flat=True))
    seen = set()
    for key in keys:
        if key in taken:
            raise LabelError(f"{dimension.key} already has an option {key!r}")
        if key in seen:
            raise LabelError(f"the key {key!r} is given twice")
        seen.add(key)


def _split(dimension, source, copy, parts):
    if len(parts) < 2:
        raise LabelError("a split needs at least two parts")
    _require_free_keys(dimension, source, [key for key, _, _ in parts])
    first_key, first_name, first_description = parts[0]
    copy.key, copy.name, copy.description = first_key, first_name, first_description or copy.description
    copy.save(update_fields=["key", "name", "description"])
    for offset, (key, name, description) in enumerate(parts[1:], start=1):
        Option.objects.create(
            dimension=copy.dimension, key=key, name=name, description=description,
            parent=copy.parent, order=copy.order + offset,
        )  # fmt: skip
    return {source.pk: (copy, Change.SPLIT, True)}


def _write_mappings(copies, targets):
    rows = []
    for old_id, copy in copies.items():
        target, change, review = targets.get(old_id, (copy, Change.SAME, False))
        rows.append(OptionMapping(source_id=old_id, target=target, change=change, needs_review=review))
    OptionMapping.objects.bulk_create(rows)


def carry_over_labels(old, new):
    """Carry the decisions and current annotations of `old` over to `new` through the option mappings.

    Decisions are copied in one query: where options map one to one (same, rename, split),
    annotators who agreed still agree. Where a merge or a retirement changed an annotation's
    value, agreement can change too, so the decision of that incident and dimension is worked
    out again from the carried-over annotations (`refresh_decision`), one call per such pair.
    """
    mappings = OptionMapping.objects.filter(source__dimension__taxonomy=old)
    mapping = dict(mappings.filter(target__isnull=False).values_list("source_id", "target_id"))
    lossy = set(mappings.filter(change__in=[Change.MERGE, Change.RETIRE]).values_list("source_id", flat=True))
    new_dimension_ids = dict(new.dimensions.values_list("key", "pk"))
    dimension_of = {pk: new_dimension_ids[key] for pk, key in old.dimensions.values_list("pk", "key")}
    decisions = [
        Decision(
            incident_id=decision.incident_id,
            dimension_id=dimension_of[decision.dimension_id],
            option_id=mapping[decision.option_id],
            method=decision.method,
            decided_by_id=decision.decided_by_id,
            decided_at=decision.decided_at,
        )
        for decision in Decision.objects.filter(dimension__taxonomy=old, option_id__in=mapping)
    ]
    # ignore_conflicts: two old options merged into one new option give one decision row.
    Decision.objects.bulk_create(decisions, ignore_conflicts=True)
    changed = _carry_over_annotations(old, mapping, lossy, dimension_of)
    _refresh_decisions(changed)


def _carry_over_annotations(old, mapping, lossy, dimension_of):
    """Copy the current annotations; return the (incident id, new dimension id) pairs whose values changed."""
    changed = set()
    current = Annotation.objects.filter(dimension__taxonomy=old, is_current=True).prefetch_related("options")
    for annotation in current:
        old_options = {option.pk for option in annotation.options.all()}
        if old_options & lossy:
            changed.add((annotation.incident_id, dimension_of[annotation.dimension_id]))
        options = sorted({mapping[pk] for pk in old_options if pk in mapping})
        if not options:
            continue
        copy = Annotation.objects.create(
            incident_id=annotation.incident_id, dimension_id=dimension_of[annotation.dimension_id],
            annotator_id=annotation.annotator_id, source=annotation.source, is_adjudication=annotation.is_adjudication,
        )  # fmt: skip
        copy.options.set(options)
    return changed


def _refresh_decisions(pairs):
    """Make the decision of each (incident id, dimension id) pair follow its carried-over annotations."""
    incidents = Incident.objects.in_bulk({incident_id for incident_id, _ in pairs})
    dimensions = Dimension.objects.select_related("taxonomy").in_bulk({dimension_id for _, dimension_id in pairs})
    for incident_id, dimension_id in pairs:
        refresh_decision(incidents[incident_id], dimensions[dimension_id])
