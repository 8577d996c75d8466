"""Read and check taxonomy files (PRODUCT.md §4): pure, no database."""

import json
import re
from dataclasses import dataclass, field

_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


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


def parse_taxonomy_text(text, filename="taxonomy"):
    """Parse JSON, or YAML when the name says so, into a checked TaxonomySpec."""
    try:
        if filename.endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except (ValueError, ImportError) as error:
        raise TaxonomyFileError(f"{filename}: not valid JSON/YAML: {error}") from None
    return parse_taxonomy(data, filename)


def parse_taxonomy(data, where="taxonomy"):
    _require_mapping(data, where)
    dimensions = data.get("dimensions")
    if not isinstance(dimensions, list) or not dimensions:
        raise TaxonomyFileError(f"{where}: 'dimensions' must be a non-empty list")
    specs = [_parse_dimension(item, f"{where}.dimensions[{index}]", index) for index, item in enumerate(dimensions)]
    _require_unique([spec.key for spec in specs], f"{where}.dimensions", "dimension key")
    return TaxonomySpec(
        key=_key(data, where),
        name=_text(data, "name", where, required=True),
        description=_text(data, "description", where),
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
        name=_text(data, "name", where, required=True),
        description=_text(data, "description", where),
        multi=multi,
        order=order,
        options=specs,
    )


def _parse_option(data, where, order):
    _require_mapping(data, where)
    children = data.get("children", [])
    if not isinstance(children, list):
        raise TaxonomyFileError(f"{where}.children: must be a list")
    return OptionSpec(
        key=_key(data, where),
        name=_text(data, "name", where, required=True),
        description=_text(data, "description", where),
        order=order,
        children=[_parse_option(item, f"{where}.children[{index}]", index) for index, item in enumerate(children)],
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


def _key(data, where):
    key = data.get("key")
    if not isinstance(key, str) or not _KEY.match(key):
        raise TaxonomyFileError(f"{where}.key: {key!r} is not a key (lower-case letters, digits, '_' or '-')")
    return key


def _text(data, name, where, required=False):
    value = data.get(name, "")
    if not isinstance(value, str):
        raise TaxonomyFileError(f"{where}.{name}: must be text, not {type(value).__name__}")
    if required and not value.strip():
        raise TaxonomyFileError(f"{where}.{name}: is required")
    return value.strip()
