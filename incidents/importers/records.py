"""Check one incident record (the API's field names) and say, per field, what is wrong: pure.

Every format ends here: each raw row is cleaned field by field into model values, and a
value that cannot be used becomes a RowError naming the field and the reason, so a bad row
is rejected whole and never half-imported.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from incidents.choices import IncidentStatus, Modality, Severity, UpdateStage

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
# A CSV cell holds the severity as text: "0" to "4".
_SEVERITY_TEXTS = {str(severity): severity for severity in Severity.values}


class InvalidValue(ValueError):
    """A value that cannot be used; the message is the reason shown to the user."""


def kind_of(value):
    """A JSON value's type in the words an error message shows a user."""
    kinds = {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


# Cleaning: one function per kind of value; each raises InvalidValue with the reason.


def clean_record(position, raw, default_source=""):
    """Check one raw row (API field names) and return (Record or None, [RowError, ...])."""
    errors = [RowError(position, shown_name(name), "unknown field") for name in raw if not _known(name)]
    fields = {}
    for name in INCIDENT_FIELDS:
        try:
            fields[name] = _CLEANERS[name](raw.get(name), name)
        except InvalidValue as error:
            errors.append(RowError(position, name, str(error)))
    if not fields.get("source") and default_source and "source" not in {error.field for error in errors}:
        fields["source"] = default_source
    try:
        updates = _clean_updates(raw.get("updates"))
    except InvalidValue as error:
        updates = []
        field_name, _, reason = str(error).partition(": ")
        errors.append(RowError(position, field_name, reason))
    errors.extend(RowError(position, name, reason) for name, reason in _missing(fields, errors))
    errors.extend(RowError(position, name, reason) for name, reason in check_times(fields))
    if errors:
        return None, errors
    if fields["status"] is None:
        fields["status"] = IncidentStatus.implied_by(fields["resolved_at"])
    fields["severity"] = Severity.SEV2 if fields["severity"] is None else fields["severity"]
    return Record(position, fields, updates, content_hash(fields, updates)), []


def shown_name(name):
    """Escape a NUL or lone surrogate in a name from the file as \\x00 or \\ud800.

    Errors naming it are stored (ImportBatch.errors), and PostgreSQL's JSON and text refuse
    both: the raw name would roll back the chunk holding the valid rows besides.
    """
    return name.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


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
        raise InvalidValue(f"expected text, found {kind_of(value)}")
    check_storable(value)
    if strip:
        value = value.strip()
    if len(value) > limit:
        raise InvalidValue(f"is {len(value):,} characters long; at most {limit:,} are allowed")
    return value


def check_storable(value):
    """Raise InvalidValue for text PostgreSQL cannot store: a NUL, or an unpaired surrogate."""
    if "\x00" in value:
        raise InvalidValue("contains a NUL character, which cannot be stored")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise InvalidValue(f"contains an unpaired surrogate {value[error.start]!r}, not Unicode text") from None


def _severity(value, name):
    if value is None:
        return None
    if isinstance(value, str):
        # Only the exact texts, never int(): it takes other scripts' digits ("٣"), and
        # str.isdigit() takes "²", which int() then refuses, as it does 5,000 digits.
        value = _SEVERITY_TEXTS.get(value.strip(), value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(f"{value!r} is not a severity; use a whole number from 0 (highest) to 4")
    if value not in _SEVERITIES:
        raise InvalidValue(f"{value} is not a severity; use 0 (highest) to 4")
    return value


def _choice(choices, blank):
    allowed = frozenset(choices.values)
    listed = ", ".join(choices.values)

    def clean(value, name):
        if value is None or value == "":
            return "" if blank else None
        if not isinstance(value, str) or value not in allowed:
            raise InvalidValue(f"{value!r} is not one of {listed}")
        return value

    return clean


def parse_datetime(value):
    """Read an ISO 8601 date-time; naive ones are UTC. Raise InvalidValue when it is not one."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidValue(f"{value!r} is not an ISO 8601 date-time such as 2024-05-01T12:30:00Z") from None
    else:
        raise InvalidValue(f"expected an ISO 8601 date-time text, found {kind_of(value)}")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # the offset takes it past year 1 or 9999, where datetime ends
        raise InvalidValue(f"{value!r} is out of range once converted to UTC (years 1 to 9999)") from None


def optional_datetime(value, name):
    return None if value is None or value == "" else parse_datetime(value)


def _tags(value, name):
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidValue(f"expected a list of text, found {kind_of(value)}")
    tags = [_text(tag, MAX_TAG_LENGTH) for tag in value]
    return [tag for tag in tags if tag]


def _clean_updates(value, where="updates"):
    """Check a timeline and return it oldest first; errors read 'updates[2].posted_at: reason'."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidValue(f"{where}: expected a list of updates, found {kind_of(value)}")
    updates = [_clean_update(item, f"{where}[{index}]") for index, item in enumerate(value)]
    return sorted(updates, key=lambda update: update["posted_at"])


def _clean_update(item, where):
    if not isinstance(item, dict):
        raise InvalidValue(f"{where}: expected an object, found {kind_of(item)}")
    unknown = sorted(set(item) - _UPDATE_KEYS)
    if unknown:
        raise InvalidValue(f"{where}.{shown_name(unknown[0])}: unknown field")
    update = {}
    for name, clean in _UPDATE_CLEANERS:
        try:
            update[name] = clean(item.get(name), name)
        except InvalidValue as error:
            raise InvalidValue(f"{where}.{name}: {error}") from None
        if update[name] is None:
            raise InvalidValue(f"{where}.{name}: is required")
    return update


_UPDATE_KEYS = frozenset({*UPDATE_FIELDS, "id"})
_UPDATE_CLEANERS = (
    ("stage", _choice(UpdateStage, blank=False)),
    ("posted_at", lambda value, name: optional_datetime(value, name)),
    ("body", lambda value, name: _text(value, MAX_TEXT_LENGTH, strip=False)),
)
_CLEANERS = {
    **{name: lambda value, name, limit=limit: _text(value, limit) for name, limit in MAX_LENGTHS.items()},
    "external_id": lambda value, name: _text(value, MAX_LENGTHS["external_id"], numbers=True),
    **{name: lambda value, name: _text(value, MAX_TEXT_LENGTH, strip=False) for name in LONG_TEXT_FIELDS},
    "severity": _severity,
    "status": _choice(IncidentStatus, blank=False),
    "modality": _choice(Modality, blank=True),
    "started_at": optional_datetime,
    "detected_at": optional_datetime,
    "mitigated_at": optional_datetime,
    "resolved_at": optional_datetime,
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
