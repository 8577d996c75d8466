"""Taxonomy files: what export writes imports back, and bad files are refused with a clear error."""

import json
from html import escape
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from labeling.actions import save_annotation
from labeling.models import Dimension, Option, Taxonomy
from labeling.queries import taxonomy_as_data
from labeling.taxonomy_file import MAX_OPTION_DEPTH, TaxonomyFileError, parse_taxonomy_text


def _taxonomy_data():
    """A small taxonomy file with every field the importer reads."""
    return {
        "key": "ops",
        "name": "Ops",
        "description": "How ops incidents go.",
        "dimensions": [
            {
                "key": "cause",
                "name": "Cause",
                "description": "What broke.",
                "multi": False,
                "options": [
                    {
                        "key": "software",
                        "name": "Software",
                        "description": "Code or configuration.",
                        "children": [{"key": "bug", "name": "Bug", "description": "A defect in code."}],
                    },
                    {"key": "hardware", "name": "Hardware", "description": "A machine failed."},
                ],
            }
        ],
    }


def _import_file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    call_command("import_taxonomy", str(path), stdout=StringIO())


def _upload(client, name, body):
    return client.post(reverse("labeling:taxonomy-upload"), {"file": SimpleUploadedFile(name, body)})


def test_export_gives_back_the_imported_file_with_dimension_descriptions(db, tmp_path):
    # given
    data = _taxonomy_data()
    _import_file(tmp_path, "ops.json", json.dumps(data))
    # when
    out = StringIO()
    call_command("export_taxonomy", "ops", stdout=out)
    # then
    assert json.loads(out.getvalue()) == data


def test_export_then_import_keeps_dimension_descriptions(db, tmp_path):
    # given
    _import_file(tmp_path, "ops.json", json.dumps(_taxonomy_data()))
    out = StringIO()
    call_command("export_taxonomy", "ops", stdout=out)
    # when
    _import_file(tmp_path, "ops.json", out.getvalue())
    # then
    assert Dimension.objects.get(taxonomy__key="ops", key="cause").description == "What broke."


def test_malformed_yaml_is_a_command_error_with_its_line(db, tmp_path):
    with pytest.raises(CommandError) as raised:
        _import_file(tmp_path, "ops.yaml", "key: ops\nname: Ops: more\n")
    assert str(raised.value) == f"{tmp_path / 'ops.yaml'}: line 2: not valid YAML: mapping values are not allowed here"
    assert not Taxonomy.objects.exists()


def test_malformed_yaml_upload_is_a_form_error(login, adam):
    response = _upload(login(adam), "ops.yaml", b"key: ops\nname: Ops: more\n")
    assert response.status_code == 200
    assert "ops.yaml: line 2: not valid YAML: mapping values are not allowed here" in response.content.decode()
    assert not Taxonomy.objects.exists()


SELF_ALIAS_YAML = b"""key: ops
name: Ops
dimensions:
- key: cause
  name: Cause
  options:
  - &software
    key: software
    name: Software
    children: [*software]
"""


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("deep.json", b"[" * 100_000 + b"]" * 100_000, "deep.json: not valid JSON: nested too deeply"),
        ("deep.yaml", b"[" * 100_000 + b"]" * 100_000, "deep.yaml: nested too deeply to be a taxonomy"),
        ("self.yaml", SELF_ALIAS_YAML, "self.yaml: line 10: not valid YAML: aliases (*name) are not allowed"),
    ],
    ids=["json-arrays", "yaml-lists", "yaml-alias-of-itself"],
)
def test_deeply_nested_upload_is_a_form_error(login, adam, name, body, message):
    response = _upload(login(adam), name, body)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Taxonomy.objects.exists()


def test_options_nest_at_most_the_maximum_depth():
    # given: one level of options more than allowed
    option = {"key": f"level{MAX_OPTION_DEPTH}", "name": "Deepest"}
    for level in reversed(range(MAX_OPTION_DEPTH)):
        option = {"key": f"level{level}", "name": "Level", "children": [option]}
    data = {"key": "ops", "name": "Ops", "dimensions": [{"key": "cause", "name": "Cause", "options": [option]}]}
    # when / then
    where = "ops.json.dimensions[0].options[0]" + ".children[0]" * (MAX_OPTION_DEPTH - 1)
    with pytest.raises(TaxonomyFileError) as raised:
        parse_taxonomy_text(json.dumps(data), "ops.json")
    assert str(raised.value) == f"{where}.children: options nest at most {MAX_OPTION_DEPTH} levels deep"


def test_yaml_aliases_are_refused_before_they_are_expanded():
    # given: each level holds ten aliases of the one before, so the file stands for 10**3 options
    lines = ["defs:", "- &level0 {key: bug, name: Bug}"]
    for level in range(1, 4):
        aliases = ", ".join([f"*level{level - 1}"] * 10)
        lines.append(f"- &level{level} {{key: bug, name: Bug, children: [{aliases}]}}")
    lines += ["key: ops", "name: Ops", "dimensions:", "- {key: cause, name: Cause, options: [*level3]}"]
    # when / then
    with pytest.raises(TaxonomyFileError) as raised:
        parse_taxonomy_text("\n".join(lines), "bomb.yaml")
    assert str(raised.value) == "bomb.yaml: line 3: not valid YAML: aliases (*name) are not allowed in a taxonomy file"


@pytest.mark.parametrize(
    ("place", "where"),
    [
        (lambda data: data, "ops.json.key"),
        (lambda data: data["dimensions"][0], "ops.json.dimensions[0].key"),
        (lambda data: data["dimensions"][0]["options"][1], "ops.json.dimensions[0].options[1].key"),
    ],
    ids=["taxonomy", "dimension", "option"],
)
def test_a_key_with_a_trailing_newline_is_refused(place, where):
    data = _taxonomy_data()
    place(data)["key"] += "\n"
    with pytest.raises(TaxonomyFileError) as raised:
        parse_taxonomy_text(json.dumps(data), "ops.json")
    assert str(raised.value).startswith(f"{where}: ")


def test_an_upload_with_a_trailing_newline_key_is_a_form_error(login, adam):
    data = _taxonomy_data()
    data["key"] = "ops\n"
    response = _upload(login(adam), "ops.json", json.dumps(data).encode())
    assert response.status_code == 200
    assert escape("ops.json.key: 'ops\\n' is not a key") in response.content.decode()
    assert not Taxonomy.objects.exists()


@pytest.mark.parametrize(
    ("place", "field", "value", "message"),
    [
        (lambda data: data, "name", "N" * 201, "ops.json.name: longer than 200 characters"),
        (
            lambda data: data["dimensions"][0]["options"][0]["children"][0],
            "name",
            "N" * 201,
            "ops.json.dimensions[0].options[0].children[0].name: longer than 200 characters",
        ),
        (
            lambda data: data["dimensions"][0],
            "name",
            "Ca\x00use",
            "ops.json.dimensions[0].name: contains a NUL character, which cannot be stored",
        ),
        (
            lambda data: data["dimensions"][0]["options"][1],
            "description",
            "A machine \ud800 failed.",
            "ops.json.dimensions[0].options[1].description: contains an unpaired surrogate '\\ud800', not Unicode text",
        ),
    ],
    ids=["long-taxonomy-name", "long-option-name", "nul-in-dimension-name", "surrogate-in-option-description"],
)
def test_text_the_database_cannot_store_is_refused_naming_the_field(db, tmp_path, place, field, value, message):
    # given
    data = _taxonomy_data()
    place(data)[field] = value
    # when
    with pytest.raises(CommandError) as raised:
        _import_file(tmp_path, "ops.json", json.dumps(data))
    # then
    assert str(raised.value) == message.replace("ops.json", str(tmp_path / "ops.json"), 1)
    assert not Taxonomy.objects.exists()


@pytest.fixture
def two_mitigations(taxonomy, make_incident, alice):
    """An incident mitigated by both a hotfix and a rollback."""
    incident = make_incident()
    options = list(Option.objects.filter(dimension__taxonomy=taxonomy, key__in=["hotfix", "rollback"]))
    save_annotation(incident, options[0].dimension, alice, options)
    return incident


def _as_single_valued(taxonomy, dimension_key):
    data = taxonomy_as_data(taxonomy)
    data["name"] = "Renamed"
    next(dimension for dimension in data["dimensions"] if dimension["key"] == dimension_key)["multi"] = False
    return data


def test_making_a_dimension_with_several_values_single_valued_is_refused(taxonomy, two_mitigations, tmp_path):
    data = _as_single_valued(taxonomy, "mitigation")
    with pytest.raises(CommandError) as raised:
        _import_file(tmp_path, "llm.json", json.dumps(data))
    assert str(raised.value) == (
        f"{tmp_path / 'llm.json'}: mitigation: cannot become single-valued, 1 incident holds several values"
    )
    taxonomy.refresh_from_db()
    assert taxonomy.name == "LLM serving incidents"
    assert Dimension.objects.get(taxonomy=taxonomy, key="mitigation").multi is True


def test_an_upload_making_a_dimension_with_several_values_single_valued_is_a_form_error(
    login, adam, taxonomy, two_mitigations
):
    data = _as_single_valued(taxonomy, "mitigation")
    response = _upload(login(adam), "llm.json", json.dumps(data).encode())
    assert response.status_code == 200
    assert "llm.json: mitigation: cannot become single-valued, 1 incident holds several values" in (
        response.content.decode()
    )
    taxonomy.refresh_from_db()
    assert taxonomy.name == "LLM serving incidents"
    assert Dimension.objects.get(taxonomy=taxonomy, key="mitigation").multi is True


def test_a_multi_valued_dimension_with_one_value_per_incident_may_become_single_valued(
    taxonomy, make_incident, alice, tmp_path
):
    # given: a guard for the refusal above, which must not block dimensions that fit one value
    hotfix = Option.objects.get(dimension__taxonomy=taxonomy, key="hotfix")
    save_annotation(make_incident(), hotfix.dimension, alice, [hotfix])
    # when
    _import_file(tmp_path, "llm.json", json.dumps(_as_single_valued(taxonomy, "mitigation")))
    # then
    assert Dimension.objects.get(taxonomy=taxonomy, key="mitigation").multi is False
