"""Map an Atlassian Statuspage incidents JSON to incident records: pure.

- ``id`` → external_id; ``name`` → title; ``components[].name`` → service (joined with
  ", " in page order; names past 200 characters become "+N more") and tags (every name).
- ``impact`` → severity: critical 0, major 1, minor 2, none 3, maintenance 4.
- ``status`` and each update's ``status`` → IncidentStatus / UpdateStage; Statuspage's
  maintenance states map to the nearest: scheduled and in_progress → investigating,
  verifying → monitoring, completed → resolved.
- started_at: ``created_at``; when an update was posted before it (a back-dated incident)
  or the page gives an earlier ``started_at``, the earliest of these, since impact had begun.
- detected_at: where the page gives a ``started_at`` before ``created_at``, the
  ``created_at`` (the team posted the incident, so it had detected it); otherwise, as a
  fallback, the first ``identified`` or ``monitoring`` update, whichever came first (pages
  skip ``identified`` or post it late, but a fix being monitored was identified by then);
  otherwise none.
- mitigated_at: Statuspage has no mitigation time. A ``monitoring`` update means a fix is
  applied and being watched, the best proxy: the page's ``monitoring_at`` if given, else the
  first ``monitoring`` update, else ``resolved_at``.
- resolved_at: ``resolved_at``, else the first ``resolved`` update.
- summary: the first update's body (what users were told first); postmortem: the bodies of
  the ``postmortem`` updates; updates: every update, oldest first.
- A time before started_at (say resolved before created) rejects the record with the field
  named, since the constraint on Incident would refuse it and guessing would invent data.
"""

from incidents.choices import IncidentStatus
from incidents.importers.records import MAX_LENGTHS, InvalidValue, RowError, clean_record, kind_of, optional_datetime

STATUSPAGE_IMPACT = {"critical": 0, "major": 1, "minor": 2, "none": 3, "maintenance": 4}
STATUSPAGE_STATES = {
    **{value: value for value in IncidentStatus.values},
    "scheduled": "investigating",
    "in_progress": "investigating",
    "verifying": "monitoring",
    "completed": "resolved",
}
# Where a statuspage record's value came from, so errors name the field of the file.
_STATUSPAGE_NAMES = {
    "external_id": "id",
    "title": "name",
    "severity": "impact",
    "started_at": "created_at",
    "service": "components",
    "tags": "components",
    "summary": "incident_updates",
    "postmortem": "incident_updates",
    "mitigated_at": "incident_updates",
    "detected_at": "incident_updates",
}


def slug(name):
    """A source key made of a page's name: lower case, words joined by hyphens."""
    text = "".join(char if char.isalnum() else "-" for char in str(name or "").lower())
    return "-".join(part for part in text.split("-") if part)[: MAX_LENGTHS["source"]]


def from_statuspage(position, item, source):
    """Map one Statuspage incident; return (Record or None, errors named as in the file)."""
    if not isinstance(item, dict):
        return None, [RowError(position, "", f"expected an incident object, found {kind_of(item)}")]
    try:
        raw = _statuspage_values(item, source)
    except InvalidValue as error:
        name, _, reason = str(error).partition(": ")
        return None, [RowError(position, name, reason)]
    record, errors = clean_record(position, raw)
    # A time taken from another (mitigated from resolved) repeats that one's error: drop it.
    given = {error.reason for error in errors if error.field not in ("detected_at", "mitigated_at")}
    errors = [
        error for error in errors if error.field not in ("detected_at", "mitigated_at") or error.reason not in given
    ]
    return record, [
        RowError(position, _STATUSPAGE_NAMES.get(error.field, error.field), error.reason) for error in errors
    ]


def _statuspage_values(item, source):
    updates = _statuspage_updates(item.get("incident_updates"))
    created = _page_time(item, "created_at")
    if created is None:
        raise InvalidValue("created_at: is required")
    page_start = _page_time(item, "started_at")
    resolved = _page_time(item, "resolved_at") or _first(updates, "resolved")
    earliest_update = updates[0]["posted_at"] if updates else None
    names = _component_names(item.get("components"))
    return {
        "source": source,
        "external_id": item.get("id"),
        "title": item.get("name"),
        "severity": _impact(item.get("impact")),
        "status": _page_state(item.get("status"), "status"),
        "service": _service(names),
        "tags": names,
        "started_at": min(time for time in (created, page_start, earliest_update) if time is not None),
        "detected_at": created if page_start and page_start < created else _identified(updates),
        "mitigated_at": _page_time(item, "monitoring_at") or _first(updates, "monitoring") or resolved,
        "resolved_at": resolved,
        "summary": updates[0]["body"] if updates else "",
        "postmortem": "\n\n".join(update["body"] for update in updates if update["stage"] == "postmortem"),
        "updates": updates,
    }


def _page_time(item, name, where=None):
    try:
        return optional_datetime(item.get(name), name)
    except InvalidValue as error:
        raise InvalidValue(f"{where or name}: {error}") from None


def _impact(value):
    if value is None:
        raise InvalidValue("impact: is required")
    if not isinstance(value, str) or value not in STATUSPAGE_IMPACT:
        raise InvalidValue(f"impact: {value!r} is not one of {', '.join(STATUSPAGE_IMPACT)}")
    return STATUSPAGE_IMPACT[value]


def _page_state(value, where):
    if not isinstance(value, str) or value not in STATUSPAGE_STATES:
        raise InvalidValue(f"{where}: {value!r} is not one of {', '.join(STATUSPAGE_STATES)}")
    return STATUSPAGE_STATES[value]


def _statuspage_updates(value):
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidValue(f"incident_updates: expected a list, found {kind_of(value)}")
    updates = []
    for index, update in enumerate(value):
        where = f"incident_updates[{index}]"
        if not isinstance(update, dict):
            raise InvalidValue(f"{where}: expected an object, found {kind_of(update)}")
        posted = _page_time(update, "created_at", f"{where}.created_at") if update.get("created_at") else None
        if posted is None:
            raise InvalidValue(f"{where}.created_at: is required")
        stage = _page_state(update.get("status"), f"{where}.status")
        updates.append({"stage": stage, "posted_at": posted, "body": update.get("body") or ""})
    return sorted(updates, key=lambda update: update["posted_at"])


def _first(updates, stage):
    return next((update["posted_at"] for update in updates if update["stage"] == stage), None)


def _identified(updates):
    """When the cause was known: a monitoring update posted before any identified one says so too.

    Taking the identified update alone made time to detect exceed time to mitigate on pages
    that post "monitoring" first (three incidents of OpenAI's public status page).
    """
    times = [time for time in (_first(updates, "identified"), _first(updates, "monitoring")) if time is not None]
    return min(times, default=None)


def _component_names(value):
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidValue(f"components: expected a list, found {kind_of(value)}")
    names = [component.get("name") if isinstance(component, dict) else component for component in value]
    if not all(isinstance(name, str) for name in names):
        raise InvalidValue("components: each component needs a text 'name'")
    return list(dict.fromkeys(name.strip() for name in names if name.strip()))


def _service(names):
    """Join component names; past the column's length, keep whole names and count the rest."""
    limit = MAX_LENGTHS["service"]
    for kept in range(len(names), 0, -1):
        rest = len(names) - kept
        text = ", ".join(names[:kept]) + (f" +{rest} more" if rest else "")
        if len(text) <= limit:
            return text
    return ""
