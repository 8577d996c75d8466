"""Read incident files into checked records: pure, no ORM, no database.

Formats (PRODUCT.md §4), chosen by the caller, never guessed:

- ``jsonl``: one incident per line, keyed by the API's field names (``INCIDENT_FIELDS`` plus
  ``updates``, a list of ``{"stage", "posted_at", "body"}``). Blank lines are skipped.
- ``csv``: a header row of the same names; ``tags`` and ``updates`` cells hold JSON lists,
  an empty cell is a missing value.
- ``statuspage``: the incidents JSON of an Atlassian Statuspage page, mapped as
  incidents.importers.statuspage says.

Both jsonl and csv may carry what the exporter writes besides: ``ttd_minutes``,
``ttm_minutes``, ``ttr_minutes`` (derived, ignored) and ``label.<taxonomy>.<dimension>``
columns (ignored here: labels come in through ``import_labels``). Any other unknown name is
an error, so a misspelt column never drops data silently. Naive date-times are read as UTC.

Each record is then checked field by field (incidents.importers.records).
"""

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

from incidents.importers import statuspage
from incidents.importers.records import (
    DERIVED_FIELDS,
    IGNORED_FIELDS,
    INCIDENT_FIELDS,
    LABEL_PREFIX,
    LONG_TEXT_FIELDS,
    MAX_LENGTHS,
    MAX_TEXT_LENGTH,
    REQUIRED_FIELDS,
    TIME_FIELDS,
    InvalidValue,
    Record,
    RowError,
    check_storable,
    check_times,
    clean_record,
    kind_of,
)

__all__ = [
    "DERIVED_FIELDS",
    "FORMATS",
    "INCIDENT_FIELDS",
    "LABEL_PREFIX",
    "LONG_TEXT_FIELDS",
    "MAX_LENGTHS",
    "MAX_TEXT_LENGTH",
    "TIME_FIELDS",
    "ImportFileError",
    "InvalidValue",
    "Record",
    "RowError",
    "Rows",
    "check_storable",
    "check_times",
    "load_json",
    "read_records",
    "size_problem",
]

FORMATS = ("jsonl", "csv", "statuspage")


class ImportFileError(ValueError):
    """The file as a whole cannot be read; nothing in it may be imported."""


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

    Raises ImportFileError before returning when the file is unusable (empty or blank, too
    big, not UTF-8, not JSON, a CSV header without a required column), so nothing gets written.
    """
    if fmt not in FORMATS:
        raise ImportFileError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    problem = size_problem(len(content), max_bytes)
    if problem:
        raise ImportFileError(problem)
    text = _decode(content)
    if not text or text.isspace():  # else it would finish as "done, 0 of 0 rows", unexplained
        raise ImportFileError("the file is empty (only blank lines)")
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


def load_json(text):
    """json.loads, with nesting past Python's recursion limit a ValueError like any bad JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _jsonl_rows(text):
    # split("\n"), not splitlines(): JSON text may hold U+2028 and other "line breaks".
    lines = text.split("\n")
    # With no line a JSON object, every line would be refused one by one ("not valid JSON"):
    # most likely another format (a CSV) uploaded as jsonl; say so once, for the file.
    if not any(line.lstrip().startswith("{") for line in lines):
        raise ImportFileError("no line is a JSON object (jsonl holds one incident per line); is the format right?")
    return sum(1 for line in lines if line.strip()), _jsonl_items(lines)


def _jsonl_items(lines):
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        position = f"line {number}"
        try:
            raw = load_json(line)
        except ValueError as error:
            yield position, RowError(position, "", f"not valid JSON: {error}")
            continue
        if not isinstance(raw, dict):
            yield position, RowError(position, "", f"expected a JSON object, found {kind_of(raw)}")
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
                values[name] = load_json(values[name])
            except ValueError as error:
                return RowError(position, name, f"not a JSON list: {error}")
    return values


def _statuspage_rows(text, default_source):
    try:
        data = load_json(text)
    except ValueError as error:
        raise ImportFileError(f"not valid JSON: {error}") from None
    incidents = data.get("incidents") if isinstance(data, dict) else None
    if not isinstance(incidents, list):
        raise ImportFileError("top level: expected an object with an 'incidents' list (a Statuspage incidents JSON)")
    page = data.get("page") if isinstance(data.get("page"), dict) else {}
    source = default_source or statuspage.slug(page.get("name"))
    if not source:
        raise ImportFileError("page: no name to use as the source; give a source (the Source field, or --source)")
    return len(incidents), (
        (f"incidents[{index}]", statuspage.from_statuspage(f"incidents[{index}]", item, source))
        for index, item in enumerate(incidents)
    )
