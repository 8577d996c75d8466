"""Read and check taxonomy files (PRODUCT.md §4): pure, no database.

Text limits come from the model fields, so a file that passes here also fits the tables.
"""

import re
from dataclasses import dataclass, field

import yaml
from yaml.composer import ComposerError

from incidents.importers import InvalidValue, check_storable, load_json
from labeling.models import Dimension, Option, Taxonomy

_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")

# The labeling screen shows two levels (category, subcategory). Ten leave room for more while
# the recursive parse, import (actions.import_taxonomy) and export (queries.taxonomy_as_data)
# stay far from Python's recursion limit.
MAX_OPTION_DEPTH = 10


class TaxonomyFileError(ValueError):
    """The file is not a usable taxonomy; the message names the place and the problem."""


@dataclass
class OptionSpec:
    key: str
    name: str
    description: str
    order: int
    children: list = field(default_factory=list)


@dataclass
class DimensionSpec:
    key: str
    name: str
    description: str
    multi: bool
    order: int
    options: list


@dataclass
class TaxonomySpec:
    key: str
    name: str
    description: str
    dimensions: list


class _AliasFreeLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases before they are expanded.

    A taxonomy needs no anchors, and aliases let a few hundred bytes stand for millions of
    options (each level of aliases multiplies them) or for an option inside itself.
    """

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise ComposerError(None, None, "aliases (*name) are not allowed in a taxonomy file", mark)
        return super().compose_node(parent, index)


def parse_taxonomy_text(text, filename="taxonomy"):
    """Parse JSON, or YAML when the name says so, into a checked TaxonomySpec."""
    load = _load_yaml if filename.endswith((".yaml", ".yml")) else _load_json
    try:
        data = load(text, filename)
    except RecursionError:
        raise TaxonomyFileError(f"{filename}: nested too deeply to be a taxonomy") from None
    return parse_taxonomy(data, filename)


def _load_json(text, filename):
    try:
        return load_json(text)
    except ValueError as error:
        raise TaxonomyFileError(f"{filename}: not valid JSON: {error}") from None


def _load_yaml(text, filename):
    try:
        return yaml.load(text, Loader=_AliasFreeLoader)  # noqa: S506 - a SafeLoader
    except yaml.MarkedYAMLError as error:
        if error.problem_mark is None:
            raise TaxonomyFileError(f"{filename}: not valid YAML: {error}") from None
        line = error.problem_mark.line + 1
        raise TaxonomyFileError(f"{filename}: line {line}: not valid YAML: {error.problem}") from None
    except yaml.YAMLError as error:
        raise TaxonomyFileError(f"{filename}: not valid YAML: {error}") from None


def parse_taxonomy(data, where="taxonomy"):
    _require_mapping(data, where)
    dimensions = data.get("dimensions")
    if not isinstance(dimensions, list) or not dimensions:
        raise TaxonomyFileError(f"{where}: 'dimensions' must be a non-empty list")
    specs = [_parse_dimension(item, f"{where}.dimensions[{index}]", index) for index, item in enumerate(dimensions)]
    _require_unique([spec.key for spec in specs], f"{where}.dimensions", "dimension key")
    return TaxonomySpec(
        key=_key(data, where),
        name=_text(data, Taxonomy, "name", where, required=True),
        description=_text(data, Taxonomy, "description", where),
        dimensions=specs,
    )


def _parse_dimension(data, where, order):
    _require_mapping(data, where)
    options = data.get("options")
    if not isinstance(options, list) or not options:
        raise TaxonomyFileError(f"{where}: 'options' must be a non-empty list")
    multi = data.get("multi", False)
    if not isinstance(multi, bool):
        raise TaxonomyFileError(f"{where}.multi: must be true or false, not {multi!r}")
    specs = [_parse_option(item, f"{where}.options[{index}]", index) for index, item in enumerate(options)]
    _require_unique(list(_all_keys(specs)), where, "option key")
    return DimensionSpec(
        key=_key(data, where),
        name=_text(data, Dimension, "name", where, required=True),
        description=_text(data, Dimension, "description", where),
        multi=multi,
        order=order,
        options=specs,
    )


def _parse_option(data, where, order, depth=1):
    _require_mapping(data, where)
    children = data.get("children", [])
    if not isinstance(children, list):
        raise TaxonomyFileError(f"{where}.children: must be a list")
    if children and depth == MAX_OPTION_DEPTH:
        raise TaxonomyFileError(f"{where}.children: options nest at most {MAX_OPTION_DEPTH} levels deep")
    return OptionSpec(
        key=_key(data, where),
        name=_text(data, Option, "name", where, required=True),
        description=_text(data, Option, "description", where),
        order=order,
        children=[
            _parse_option(item, f"{where}.children[{index}]", index, depth + 1) for index, item in enumerate(children)
        ],
    )


def _all_keys(options):
    for option in options:
        yield option.key
        yield from _all_keys(option.children)


def _require_mapping(data, where):
    if not isinstance(data, dict):
        raise TaxonomyFileError(f"{where}: expected an object, got {type(data).__name__}")


def _require_unique(keys, where, what):
    seen = set()
    for key in keys:
        if key in seen:
            raise TaxonomyFileError(f"{where}: {what} {key!r} appears twice")
        seen.add(key)


def is_key(text):
    """Whether `text` may be a taxonomy, dimension or option key: the one rule for files and forms."""
    return _KEY.fullmatch(text) is not None


def _key(data, where):
    key = data.get("key")
    if not isinstance(key, str) or not is_key(key):
        raise TaxonomyFileError(f"{where}.key: {key!r} is not a key (lower-case letters, digits, '_' or '-')")
    return key


def _text(data, model, name, where, required=False):
    """The stripped text of field `name`, refused where `model`'s table could not store it.

    PostgreSQL rejects overlong, NUL and lone-surrogate text with an error that names no
    field; checked here, the message names the place in the file.
    """
    value = data.get(name, "")
    if not isinstance(value, str):
        raise TaxonomyFileError(f"{where}.{name}: must be text, not {type(value).__name__}")
    value = value.strip()
    if required and not value:
        raise TaxonomyFileError(f"{where}.{name}: is required")
    max_length = model._meta.get_field(name).max_length
    if max_length is not None and len(value) > max_length:
        raise TaxonomyFileError(f"{where}.{name}: longer than {max_length} characters")
    try:
        check_storable(value)
    except InvalidValue as error:
        raise TaxonomyFileError(f"{where}.{name}: {error}") from None
    return value
