"""Write incidents as JSON lines or CSV: pure, no ORM; the input is plain records.

The files are what incidents.importers reads back: the API's field names, date-times in
ISO 8601 UTC, ``tags`` and ``updates`` as JSON lists (in CSV cells too), then the derived
``ttd_minutes``, ``ttm_minutes`` and ``ttr_minutes``, and one ``label.<taxonomy>.<dimension>``
column per decided dimension: the decided option keys, a list in JSON lines and joined by
"|" in CSV. The importer ignores the derived and label columns; labels travel through
``import_labels``.
"""

import csv
import io
import json
from datetime import UTC, datetime

from incidents.importers import DERIVED_FIELDS, INCIDENT_FIELDS, LABEL_PREFIX

FORMATS = ("jsonl", "csv")
CONTENT_TYPES = {"jsonl": "application/x-ndjson; charset=utf-8", "csv": "text/csv; charset=utf-8"}
LABEL_SEPARATOR = "|"


def label_column(taxonomy_key, dimension_key):
    return f"{LABEL_PREFIX}{taxonomy_key}.{dimension_key}"


def export_columns(label_columns=()):
    """The columns of an export, in order: fields, derived durations, timeline, labels."""
    return [*INCIDENT_FIELDS, *DERIVED_FIELDS, "updates", *label_columns]


def jsonl_lines(records, label_columns=()):
    """Yield one JSON line per record, keys in export order, labels present or empty lists."""
    columns = export_columns(label_columns)
    for record in records:
        row = {name: _json_value(record.get(name, [] if name in label_columns else None)) for name in columns}
        yield json.dumps(row, ensure_ascii=False) + "\n"


def csv_lines(records, label_columns=()):
    """Yield the header line, then one CSV line per record."""
    columns = export_columns(label_columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def line(cells):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    yield line(columns)
    for record in records:
        yield line([_csv_cell(name, record.get(name)) for name in columns])


def _json_value(value):
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    return value


def _csv_cell(name, value):
    if value is None:
        return ""
    if name.startswith(LABEL_PREFIX):
        return LABEL_SEPARATOR.join(value)
    if isinstance(value, list):
        return json.dumps(_json_value(value), ensure_ascii=False)
    if isinstance(value, datetime):
        return format_datetime(value)
    return value


def duration_minutes(delta):
    """A duration in minutes (two decimals), as the exports and the API show it."""
    return None if delta is None else round(delta.total_seconds() / 60, 2)


def format_datetime(value):
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
