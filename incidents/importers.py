"""Read incident files into checked records: pure, no ORM, no database.

Formats (PRODUCT.md §4), chosen by the caller, never guessed:

- ``jsonl``: one incident per line, keyed by the API's field names (``INCIDENT_FIELDS`` plus
  ``updates``, a list of ``{"stage", "posted_at", "body"}``). Blank lines are skipped.
- ``csv``: a header row of the same names; ``tags`` and ``updates`` cells hold JSON lists,
  an empty cell is a missing value.
- ``statuspage``: the incidents JSON of an Atlassian Statuspage page, mapped as below.

Both jsonl and csv may carry what the exporter writes besides: ``ttd_minutes``,
``ttm_minutes``, ``ttr_minutes`` (derived, ignored) and ``label.<taxonomy>.<dimension>``
columns (ignored here: labels come in through ``import_labels``). Any other unknown name is
an error, so a misspelt column never drops data silently. Naive date-times are read as UTC.

Statuspage mapping:

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
  fallback, the first ``identified`` update; otherwise none.
- mitigated_at: Statuspage has no mitigation time. A ``monitoring`` update means a fix is
  applied and being watched, the best proxy: the page's ``monitoring_at`` if given, else the
  first ``monitoring`` update, else ``resolved_at``.
- resolved_at: ``resolved_at``, else the first ``resolved`` update.
- summary: the first update's body (what users were told first); postmortem: the bodies of
  the ``postmortem`` updates; updates: every update, oldest first.
- A time before started_at (say resolved before created) rejects the record with the field
  named, since the constraint on Incident would refuse it and guessing would invent data.
"""

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from incidents.choices import IncidentStatus, Modality, Severity, UpdateStage

FORMATS = ("jsonl", "csv", "statuspage")

# The API's writable field names, in the order the API and the exports show them.
INCIDENT_FIELDS = (
    "source",
    "external_id",
    "title",
    "summary",
    "postmortem",
    "severity",
    "status",
    "service",
    "model_name",
    "modality",
    "region",
    "endpoint",
    "started_at",
    "detected_at",
    "mitigated_at",
    "resolved_at",
    "tags",
    "customer_impact",
)
UPDATE_FIELDS = ("stage", "posted_at", "body")
DERIVED_FIELDS = ("ttd_minutes", "ttm_minutes", "ttr_minutes")
IGNORED_FIELDS = ("id", "url", "created_at", "updated_at", *DERIVED_FIELDS)
LABEL_PREFIX = "label."
REQUIRED_FIELDS = ("source", "external_id", "title", "started_at")
TIME_FIELDS = ("detected_at", "mitigated_at", "resolved_at")

# Lengths of Incident's columns (a test keeps them equal to the model's max_length).
MAX_LENGTHS = {"source": 64, "external_id": 255, "title": 500, "service": 200, "model_name": 200, "region": 100,
               "endpoint": 300}  # fmt: skip
MAX_TAG_LENGTH = 100
# Long texts are capped so the full-text document (PostgreSQL tsvector, at most 1 MB) fits.
MAX_TEXT_LENGTH = 100_000
LONG_TEXT_FIELDS = ("summary", "postmortem", "customer_impact")

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


class ImportFileError(ValueError):
    """The file as a whole cannot be read; nothing in it may be imported."""


@dataclass(frozen=True)
class RowError:
    """Why one row (a line, or an index in a JSON list) was rejected."""

    position: str
    field: str
    reason: str

    def __str__(self):
        where = f"{self.position}, field {self.field}" if self.field else self.position
        return f"{where}: {self.reason}"

    def as_dict(self):
        return {"position": self.position, "field": self.field, "reason": self.reason}


@dataclass
class Record:
    """One checked incident: model field values, its timeline and their hash."""

    position: str
    fields: dict
    updates: list = field(default_factory=list)
    content_hash: str = ""

    @property
    def key(self):
        return (self.fields["source"], self.fields["external_id"])


_SEVERITIES = frozenset(Severity.values)


class _Invalid(ValueError):
    """A value that cannot be used; the message is the reason shown to the user."""


def size_problem(size, limit):
    """Say why a file of `size` bytes cannot be imported, or return None."""
    if size == 0:
        return "the file is empty (0 bytes)"
    if limit is not None and size > limit:
        return f"the file is {_megabytes(size)}, above the import limit of {_megabytes(limit)} (IMPORT_MAX_BYTES)"
    return None


def _megabytes(size):
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size:,} bytes"


@dataclass
class Rows:
    """What read_records returns: the number of rows (for progress), then the items."""

    total: int
    items: Iterator

    def __iter__(self):
        return iter(self.items)


def read_records(content, fmt, *, default_source="", max_bytes=None):
    """Check the file as a whole, then return its Rows: Record and RowError items, lazily.

    Raises ImportFileError before returning when the file is unusable (empty, too big, not
    UTF-8, not JSON, a CSV header without a required column), so nothing gets written.
    """
    if fmt not in FORMATS:
        raise ImportFileError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    problem = size_problem(len(content), max_bytes)
    if problem:
        raise ImportFileError(problem)
    text = _decode(content)
    if fmt == "jsonl":
        total, rows = _jsonl_rows(text)
    elif fmt == "csv":
        total, rows = _csv_rows(text, has_default_source=bool(default_source))
    else:
        total, rows = _statuspage_rows(text, default_source)
    return Rows(total, _checked(rows, default_source))


def _decode(content):
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        line = content.count(b"\n", 0, error.start) + 1
        column = error.start - (content.rfind(b"\n", 0, error.start) + 1) + 1
        byte = content[error.start : error.start + 1].hex()
        raise ImportFileError(f"line {line}, column {column}: invalid UTF-8 (byte 0x{byte})") from None
    return text.removeprefix("\ufeff")


def _checked(rows, default_source):
    """Clean each raw row and reject a second row with an already seen (source, external_id)."""
    seen = {}
    for position, item in rows:
        if isinstance(item, RowError):
            yield item
            continue
        record, errors = item if isinstance(item, tuple) else clean_record(position, item, default_source)
        if record is not None:
            first = seen.setdefault(record.key, position)
            if first != position:
                errors = [
                    RowError(position, "external_id", f"{record.key[1]!r} of source {record.key[0]!r} repeats {first}")
                ]
        if errors:
            yield from errors
        else:
            yield record


# Readers: each yields (position, item); the item is a raw dict to clean, a RowError, or an
# already cleaned (Record or None, [RowError, ...]) pair.


def _jsonl_rows(text):
    # split("\n"), not splitlines(): JSON text may hold U+2028 and other "line breaks".
    lines = text.split("\n")
    return sum(1 for line in lines if line.strip()), _jsonl_items(lines)


def _jsonl_items(lines):
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        position = f"line {number}"
        try:
            raw = json.loads(line)
        except ValueError as error:
            yield position, RowError(position, "", f"not valid JSON: {error}")
            continue
        if not isinstance(raw, dict):
            yield position, RowError(position, "", f"expected a JSON object, found {_kind(raw)}")
            continue
        yield position, raw


def _csv_rows(text, *, has_default_source):
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise ImportFileError("line 1: no header row") from None
    except csv.Error as error:
        raise ImportFileError(f"line 1: unreadable header: {error}") from None
    _check_header(header, has_default_source)
    return _count_csv_rows(text), _csv_body(reader, header)


def _count_csv_rows(text):
    """Count the non-blank records after the header; an estimate where the CSV is broken."""
    try:
        return sum(1 for cells in csv.reader(io.StringIO(text, newline="")) if any(cells)) - 1
    except csv.Error:
        return text.count("\n")


def _check_header(header, has_default_source):
    known = {*INCIDENT_FIELDS, "updates", *IGNORED_FIELDS}
    unknown = [name for name in header if name not in known and not name.startswith(LABEL_PREFIX)]
    if unknown:
        raise ImportFileError(f"line 1 (header): unknown column {', '.join(map(repr, unknown))}")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ImportFileError(f"line 1 (header): column {', '.join(map(repr, repeated))} appears twice")
    needed = [name for name in REQUIRED_FIELDS if not (name == "source" and has_default_source)]
    missing = [name for name in needed if name not in header]
    if missing:
        raise ImportFileError(f"line 1 (header): missing required column {', '.join(map(repr, missing))}")


def _csv_body(reader, header):
    start = reader.line_num + 1
    while True:
        position = f"line {start}"
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield position, RowError(position, "", f"unreadable CSV: {error}")
            start = reader.line_num + 1
            continue
        start = reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            yield position, RowError(position, "", f"has {len(cells)} fields; the header has {len(header)}")
            continue
        yield position, _csv_values(position, dict(zip(header, cells, strict=True)))


def _csv_values(position, row):
    """Turn CSV cells into the values a JSON line would hold: empty is missing, lists are JSON."""
    values = {name: cell for name, cell in row.items() if cell != ""}
    for name in ("tags", "updates"):
        if name in values:
            try:
                values[name] = json.loads(values[name])
            except ValueError as error:
                return RowError(position, name, f"not a JSON list: {error}")
    return values


def _statuspage_rows(text, default_source):
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ImportFileError(f"not valid JSON: {error}") from None
    incidents = data.get("incidents") if isinstance(data, dict) else None
    if not isinstance(incidents, list):
        raise ImportFileError("top level: expected an object with an 'incidents' list (a Statuspage incidents JSON)")
    page = data.get("page") if isinstance(data.get("page"), dict) else {}
    source = default_source or _slug(page.get("name"))
    if not source:
        raise ImportFileError("page: no name to use as the source; give one (--source)")
    return len(incidents), (
        (f"incidents[{index}]", from_statuspage(f"incidents[{index}]", item, source))
        for index, item in enumerate(incidents)
    )


def _slug(name):
    text = "".join(char if char.isalnum() else "-" for char in str(name or "").lower())
    return "-".join(part for part in text.split("-") if part)[: MAX_LENGTHS["source"]]


def _kind(value):
    kinds = {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


# Cleaning: one function per kind of value; each raises _Invalid with the reason.


def clean_record(position, raw, default_source=""):
    """Check one raw row (API field names) and return (Record or None, [RowError, ...])."""
    errors = [RowError(position, name, "unknown field") for name in raw if not _known(name)]
    fields = {}
    for name in INCIDENT_FIELDS:
        try:
            fields[name] = _CLEANERS[name](raw.get(name), name)
        except _Invalid as error:
            errors.append(RowError(position, name, str(error)))
    if not fields.get("source") and default_source and "source" not in {error.field for error in errors}:
        fields["source"] = default_source
    try:
        updates = _clean_updates(raw.get("updates"))
    except _Invalid as error:
        updates = []
        field_name, _, reason = str(error).partition(": ")
        errors.append(RowError(position, field_name, reason))
    errors.extend(RowError(position, name, reason) for name, reason in _missing(fields, errors))
    errors.extend(RowError(position, name, reason) for name, reason in check_times(fields))
    if errors:
        return None, errors
    if fields["status"] is None:
        fields["status"] = IncidentStatus.RESOLVED if fields["resolved_at"] else IncidentStatus.INVESTIGATING
    fields["severity"] = Severity.SEV2 if fields["severity"] is None else fields["severity"]
    return Record(position, fields, updates, content_hash(fields, updates)), []


def _known(name):
    return name in INCIDENT_FIELDS or name == "updates" or name in IGNORED_FIELDS or name.startswith(LABEL_PREFIX)


def _missing(fields, errors):
    failed = {error.field for error in errors}
    return [(name, "is required") for name in REQUIRED_FIELDS if name not in failed and not fields.get(name)]


def check_times(fields):
    """Return (field, reason) for each time before started_at, as the model's constraints would."""
    started = fields.get("started_at")
    if started is None:
        return []
    return [
        (name, f"{fields[name].isoformat()} is before started_at {started.isoformat()}")
        for name in TIME_FIELDS
        if fields.get(name) is not None and fields[name] < started
    ]


def _text(value, limit, *, strip=True, numbers=False):
    if value is None:
        return ""
    if numbers and isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise _Invalid(f"expected text, found {_kind(value)}")
    if "\x00" in value:
        raise _Invalid("contains a NUL character, which cannot be stored")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise _Invalid(f"contains an unpaired surrogate {value[error.start]!r}, not Unicode text") from None
    if strip:
        value = value.strip()
    if len(value) > limit:
        raise _Invalid(f"is {len(value):,} characters long; at most {limit:,} are allowed")
    return value


def _severity(value, name):
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"{value!r} is not a severity; use a whole number from 0 (highest) to 4")
    if value not in _SEVERITIES:
        raise _Invalid(f"{value} is not a severity; use 0 (highest) to 4")
    return value


def _choice(choices, blank):
    allowed = frozenset(choices.values)
    listed = ", ".join(choices.values)

    def clean(value, name):
        if value is None or value == "":
            return "" if blank else None
        if not isinstance(value, str) or value not in allowed:
            raise _Invalid(f"{value!r} is not one of {listed}")
        return value

    return clean


def parse_datetime(value):
    """Read an ISO 8601 date-time; naive ones are UTC. Raise _Invalid when it is not one."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _Invalid(f"{value!r} is not an ISO 8601 date-time such as 2024-05-01T12:30:00Z") from None
    else:
        raise _Invalid(f"expected an ISO 8601 date-time text, found {_kind(value)}")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _datetime(value, name):
    return None if value is None or value == "" else parse_datetime(value)


def _tags(value, name):
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Invalid(f"expected a list of text, found {_kind(value)}")
    tags = [_text(tag, MAX_TAG_LENGTH) for tag in value]
    return [tag for tag in tags if tag]


def _clean_updates(value, where="updates"):
    """Check a timeline and return it oldest first; errors read 'updates[2].posted_at: reason'."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Invalid(f"{where}: expected a list of updates, found {_kind(value)}")
    updates = [_clean_update(item, f"{where}[{index}]") for index, item in enumerate(value)]
    return sorted(updates, key=lambda update: update["posted_at"])


def _clean_update(item, where):
    if not isinstance(item, dict):
        raise _Invalid(f"{where}: expected an object, found {_kind(item)}")
    unknown = sorted(set(item) - _UPDATE_KEYS)
    if unknown:
        raise _Invalid(f"{where}.{unknown[0]}: unknown field")
    update = {}
    for name, clean in _UPDATE_CLEANERS:
        try:
            update[name] = clean(item.get(name), name)
        except _Invalid as error:
            raise _Invalid(f"{where}.{name}: {error}") from None
        if update[name] is None:
            raise _Invalid(f"{where}.{name}: is required")
    return update


_UPDATE_KEYS = frozenset({*UPDATE_FIELDS, "id"})
_UPDATE_CLEANERS = (
    ("stage", _choice(UpdateStage, blank=False)),
    ("posted_at", lambda value, name: _datetime(value, name)),
    ("body", lambda value, name: _text(value, MAX_TEXT_LENGTH, strip=False)),
)
_CLEANERS = {
    **{name: lambda value, name, limit=limit: _text(value, limit) for name, limit in MAX_LENGTHS.items()},
    "external_id": lambda value, name: _text(value, MAX_LENGTHS["external_id"], numbers=True),
    **{name: lambda value, name: _text(value, MAX_TEXT_LENGTH, strip=False) for name in LONG_TEXT_FIELDS},
    "severity": _severity,
    "status": _choice(IncidentStatus, blank=False),
    "modality": _choice(Modality, blank=True),
    "started_at": _datetime,
    "detected_at": _datetime,
    "mitigated_at": _datetime,
    "resolved_at": _datetime,
    "tags": _tags,
}


def content_hash(fields, updates):
    """SHA-256 of a record's content, so re-importing it unchanged can be told apart."""
    payload = [
        [fields[name] for name in INCIDENT_FIELDS],
        [[update["stage"], update["posted_at"], update["body"]] for update in updates],
    ]
    return hashlib.sha256(_HASH_ENCODER.encode(payload).encode("utf-8")).hexdigest()


# Date-times as ISO 8601 (always UTC here): stable across versions, unlike repr().
_HASH_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=datetime.isoformat)


# Statuspage: map one incident of the page to API field names, then clean it like any row.


def from_statuspage(position, item, source):
    """Map one Statuspage incident; return (Record or None, errors named as in the file)."""
    if not isinstance(item, dict):
        return None, [RowError(position, "", f"expected an incident object, found {_kind(item)}")]
    try:
        raw = _statuspage_values(item, source)
    except _Invalid as error:
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
        raise _Invalid("created_at: is required")
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
        "detected_at": created if page_start and page_start < created else _first(updates, "identified"),
        "mitigated_at": _page_time(item, "monitoring_at") or _first(updates, "monitoring") or resolved,
        "resolved_at": resolved,
        "summary": updates[0]["body"] if updates else "",
        "postmortem": "\n\n".join(update["body"] for update in updates if update["stage"] == "postmortem"),
        "updates": updates,
    }


def _page_time(item, name):
    try:
        return _datetime(item.get(name), name)
    except _Invalid as error:
        raise _Invalid(f"{name}: {error}") from None


def _impact(value):
    if value is None:
        raise _Invalid("impact: is required")
    if value not in STATUSPAGE_IMPACT:
        raise _Invalid(f"impact: {value!r} is not one of {', '.join(STATUSPAGE_IMPACT)}")
    return STATUSPAGE_IMPACT[value]


def _page_state(value, where):
    if value not in STATUSPAGE_STATES:
        raise _Invalid(f"{where}: {value!r} is not one of {', '.join(STATUSPAGE_STATES)}")
    return STATUSPAGE_STATES[value]


def _statuspage_updates(value):
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Invalid(f"incident_updates: expected a list, found {_kind(value)}")
    updates = []
    for index, update in enumerate(value):
        where = f"incident_updates[{index}]"
        if not isinstance(update, dict):
            raise _Invalid(f"{where}: expected an object, found {_kind(update)}")
        posted = _page_time(update, "created_at") if update.get("created_at") else None
        if posted is None:
            raise _Invalid(f"{where}.created_at: is required")
        stage = _page_state(update.get("status"), f"{where}.status")
        updates.append({"stage": stage, "posted_at": posted, "body": update.get("body") or ""})
    return sorted(updates, key=lambda update: update["posted_at"])


def _first(updates, stage):
    return next((update["posted_at"] for update in updates if update["stage"] == stage), None)


def _component_names(value):
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Invalid(f"components: expected a list, found {_kind(value)}")
    names = [component.get("name") if isinstance(component, dict) else component for component in value]
    if not all(isinstance(name, str) for name in names):
        raise _Invalid("components: each component needs a text 'name'")
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
