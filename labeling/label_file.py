"""Read and check label files (PRODUCT.md §4, `import_labels`): pure, no database.

One JSON object a line: `{"incident", "source" (optional), "taxonomy", "dimension", "value",
"annotator", "adjudication" (optional)}`. A bad line is reported with its number and field
and the others are kept; only a file that cannot be decoded at all is refused whole.
"""

import json
from collections import defaultdict
from dataclasses import dataclass

# Longest text a field may hold: the columns these values are looked up in (Incident.external_id
# is 255, Incident.source 64, slugs 64, a Django username 150).
FIELD_LIMITS = {
    "incident": 255,
    "source": 64,
    "taxonomy": 64,
    "dimension": 64,
    "value": 64,
    "annotator": 150,
}
REQUIRED_FIELDS = ("incident", "taxonomy", "dimension", "value", "annotator")


class LabelFileError(ValueError):
    """The file as a whole cannot be read; nothing in it may be imported."""


@dataclass(frozen=True)
class LineError:
    """Why one line was rejected: its number (from 1), the field at fault and the reason."""

    line: int
    field: str
    reason: str

    def __str__(self):
        where = f"line {self.line}, field {self.field}" if self.field else f"line {self.line}"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class LabelLine:
    """One checked line: an annotator's value (or an adjudicator's ruling) on one dimension."""

    line: int
    incident: str
    source: str
    taxonomy: str
    dimension: str
    value: str
    annotator: str
    adjudication: bool = False


@dataclass(frozen=True)
class LabelGroup:
    """The lines that make one annotation: a multi-valued dimension's value set is several lines."""

    lines: tuple

    @property
    def first(self):
        return self.lines[0]

    @property
    def values(self):
        return list(dict.fromkeys(line.value for line in self.lines))


def decode_label_file(content):
    """Decode the file's bytes, or raise LabelFileError when it is not UTF-8 text at all."""
    if not content.strip():
        raise LabelFileError("the file is empty")
    try:
        return content.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        line = content.count(b"\n", 0, error.start) + 1
        raise LabelFileError(f"line {line}: invalid UTF-8") from None


def parse_label_text(text):
    """Return ([LabelLine], [LineError]) for the non-blank lines of the text."""
    lines, errors = [], []
    # split("\n"), not splitlines(): JSON text may hold U+2028 and other "line breaks".
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        parsed = parse_label_line(number, raw)
        (errors if isinstance(parsed, LineError) else lines).append(parsed)
    return lines, errors


def parse_label_line(number, raw):
    """Check one line: a LabelLine, or the LineError of its first problem."""
    try:
        data = json.loads(raw)
    except ValueError as error:
        return LineError(number, "", f"not valid JSON: {error}")
    if not isinstance(data, dict):
        return LineError(number, "", f"expected a JSON object, found {type(data).__name__}")
    values = {}
    for name, limit in FIELD_LIMITS.items():
        value = data.get(name)
        problem = _text_problem(value, limit, required=name in REQUIRED_FIELDS)
        if problem:
            return LineError(number, name, problem)
        values[name] = (value or "").strip()
    adjudication = data.get("adjudication", False)
    if not isinstance(adjudication, bool):
        return LineError(number, "adjudication", f"must be true or false, not {adjudication!r}")
    return LabelLine(line=number, adjudication=adjudication, **values)


def _text_problem(value, limit, required):
    if value is None or (isinstance(value, str) and not value.strip()):
        return "is required" if required else None
    if not isinstance(value, str):
        return f"must be text, not {type(value).__name__}"
    if len(value.strip()) > limit:
        return f"is longer than {limit} characters"
    return None


def group_label_lines(lines):
    """Gather the lines of one annotator, incident, dimension and role into LabelGroups.

    Several lines of the same annotator on the same incident and dimension form one value
    set (a multi-valued dimension such as mitigation); groups keep the file's order.
    """
    groups = defaultdict(list)
    for line in lines:
        key = (line.source, line.incident, line.taxonomy, line.dimension, line.annotator, line.adjudication)
        groups[key].append(line)
    return [LabelGroup(tuple(group)) for group in groups.values()]
