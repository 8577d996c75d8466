"""Read and check label files (PRODUCT.md §4, `import_labels`): pure, no database.

One JSON object a line: `{"incident", "source" (optional), "taxonomy", "dimension", "value",
"annotator", "adjudication" (optional)}`. A bad line is reported with its number and field
and the others are kept (but for the rest of its value set, see `import_labels`); only a file
that cannot be decoded at all is refused whole.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from incidents.importers import InvalidValue, check_storable, load_json

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
    # The line's other fields when only its value is wrong: import_labels refuses the rest of
    # that value set with it, so that a typo never half-replaces a multi-valued label.
    label: "LabelLine | None" = field(default=None, compare=False, repr=False)

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

    key: tuple
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
    """Check one line: a LabelLine, or the LineError of its first problem.

    The value is checked last, so that a line wrong only in its value still names the value
    set it belongs to (`LineError.label`) and the importer can refuse that set whole.
    """
    try:
        data = load_json(raw)
    except ValueError as error:
        return LineError(number, "", f"not valid JSON: {error}")
    if not isinstance(data, dict):
        return LineError(number, "", f"expected a JSON object, found {type(data).__name__}")
    problems = _field_problems(data)
    first = next((name for name, problem in problems.items() if problem), "value")
    if first != "value":
        return LineError(number, first, problems[first])
    line = LabelLine(
        line=number,
        adjudication=data.get("adjudication", False),
        value="" if problems["value"] else data["value"].strip(),
        **{name: (data.get(name) or "").strip() for name in FIELD_LIMITS if name != "value"},
    )
    if problems["value"]:
        return LineError(number, "value", problems["value"], label=line)
    return line


def _field_problems(data):
    """{field: what is wrong with it, or None}, the value last."""
    problems = {
        name: _text_problem(data.get(name), limit, required=name in REQUIRED_FIELDS)
        for name, limit in FIELD_LIMITS.items()
        if name != "value"
    }
    adjudication = data.get("adjudication", False)
    if not isinstance(adjudication, bool):
        problems["adjudication"] = f"must be true or false, not {adjudication!r}"
    problems["value"] = _text_problem(data.get("value"), FIELD_LIMITS["value"], required=True)
    return problems


def _text_problem(value, limit, required):
    if value is None or (isinstance(value, str) and not value.strip()):
        return "is required" if required else None
    if not isinstance(value, str):
        return f"must be text, not {type(value).__name__}"
    if len(value.strip()) > limit:
        return f"is longer than {limit} characters"
    # A NUL or a lone surrogate would abort the whole import at its first query.
    try:
        check_storable(value)
    except InvalidValue as error:
        return str(error)
    return None


def label_group_key(line, incident):
    """The value set a line belongs to: one annotator's, on one incident and dimension, in one role.

    `incident` is the incident the line resolves to, not its text: a line with a source and one
    without can name the same incident, and must then fall in the same set.
    """
    return (incident, line.taxonomy, line.dimension, line.annotator, line.adjudication)


def group_label_lines(lines, incident_of):
    """Gather LabelLines into LabelGroups in the file's order; `incident_of(line)` resolves a line's incident.

    Several lines of the same annotator on the same incident and dimension form one value
    set (a multi-valued dimension such as mitigation).
    """
    groups = defaultdict(list)
    for line in lines:
        groups[label_group_key(line, incident_of(line))].append(line)
    return [LabelGroup(key, tuple(group)) for key, group in groups.items()]
