"""The published JSON Schemas of the cue sheets: valid schemas, shipped in the package,
in step with the code's names, and catching what a writer or a user gets wrong."""

from __future__ import annotations

import copy
import importlib.resources
import json
import math
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from cadenza.compose.conditions import INSTRUMENTS, METERS
from cadenza.data.labels import MOODS
from cadenza.data.tokens import STYLES
from cadenza.errors import InvalidArgumentError, MissingDependencyError
from cadenza.schemas import NAMES, schema, validate

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "docs" / "soundtrack" / "examples"
CUE_DOC = REPO / "docs" / "soundtrack" / "cue-sheet.md"
LAYERS = ["pad", "bass", "rhythm", "melody", "percussion"]


def example_output() -> dict[str, Any]:
    return json.loads((EXAMPLES / "chase.cue.json").read_text(encoding="utf-8"))


def example_cue() -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / "chase.yaml").read_text(encoding="utf-8"))


def subschemas(node: object, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object of a schema with where it is."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from subschemas(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from subschemas(value, f"{path}/{index}")


# --- the schemas themselves ---------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_each_schema_is_a_valid_draft_2020_12_schema(name: str) -> None:
    document = schema(name)
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_ids_are_stable_and_distinct() -> None:
    ids = {name: schema(name)["$id"] for name in NAMES}
    assert ids == {
        "cue": "https://github.com/cadenza-music/cadenza/schemas/cue-1.json",
        "cue-sheet": "https://github.com/cadenza-music/cadenza/schemas/cue-sheet-1.json",
    }


@pytest.mark.parametrize("name", NAMES)
def test_every_property_has_a_description_and_every_object_is_closed(name: str) -> None:
    """The descriptions are what a game programmer reads; a closed object catches a typo."""
    undescribed, open_objects = [], []
    for path, node in subschemas(schema(name)):
        if path.endswith("/properties"):
            continue  # the mapping of fields itself, not a schema
        for field, sub in node.get("properties", {}).items():
            if not sub.get("description"):
                undescribed.append(f"{path}/properties/{field}")
        if "properties" in node and node.get("additionalProperties") is not False:
            open_objects.append(path or "/")
    assert undescribed == []
    assert open_objects == []


def test_schemas_name_what_the_code_accepts() -> None:
    """Instruments, meters, moods and styles in the schemas are the code's own lists."""
    cue, sheet = schema("cue"), schema("cue-sheet")
    instruments = {*INSTRUMENTS, "drums"}
    assert set(cue["$defs"]["instrument"]["enum"]) == instruments
    assert set(sheet["properties"]["layers"]["items"]["properties"]["instrument"]["enum"]) == instruments
    assert cue["properties"]["meter"]["enum"] == list(METERS)
    assert sheet["properties"]["meter"]["enum"] == list(METERS)
    assert cue["$defs"]["mood"]["enum"] == list(MOODS)
    assert sheet["properties"]["sections"]["items"]["properties"]["mood"]["enum"] == [*MOODS, None]
    assert cue["properties"]["style"]["enum"] == [s for s in STYLES if s != "other"]
    assert cue["$defs"]["layer"]["enum"] == LAYERS == sheet["$defs"]["layer"]["enum"]


# --- found through the package ------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_read_from_the_installed_package_wherever_the_process_runs(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    packaged = importlib.resources.files("cadenza.schemas").joinpath(f"{name}.schema.json")
    assert packaged.is_file()
    assert schema(name) == json.loads(packaged.read_text(encoding="utf-8"))


def test_schema_files_are_package_data_so_a_wheel_carries_them() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["cadenza"]
    shipped = {p.name for pattern in patterns for p in (REPO / "cadenza").glob(pattern)}
    assert {f"{name}.schema.json" for name in NAMES} <= shipped


def test_each_call_gives_a_fresh_copy() -> None:
    first = schema("cue-sheet")
    first["required"].clear()
    assert "samples" in schema("cue-sheet")["required"]


def test_an_unknown_schema_name_is_refused_with_the_accepted_names() -> None:
    with pytest.raises(InvalidArgumentError, match="no schema 'cuesheet'; accepted: cue, cue-sheet"):
        schema("cuesheet")


def test_validate_without_jsonschema_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jsonschema", None)  # import jsonschema now fails
    with pytest.raises(MissingDependencyError, match="pip install jsonschema"):
        validate(example_output(), "cue-sheet")


# --- the examples -------------------------------------------------------------------


def test_example_output_validates() -> None:
    assert validate(example_output(), "cue-sheet") == []


def test_example_cue_validates() -> None:
    assert validate(example_cue(), "cue") == []


def test_example_output_agrees_with_its_cue() -> None:
    """The example output (what `cadenza soundtrack` wrote for chase.yaml) agrees with it: length, sections, grid."""
    cue, out = example_cue(), example_output()
    assert out["seconds"] == cue["seconds"]
    assert out["samples"] == cue["seconds"] * out["sample_rate"]
    assert [s["name"] for s in out["sections"]] == [s["name"] for s in cue["sections"]]
    assert [s["bars"] for s in out["sections"][:2]] == [s["bars"] for s in cue["sections"][:2]]
    assert sum(s["bars"] for s in out["sections"]) == len(out["bars"])
    assert out["sections"][-1]["end_sample"] == out["samples"]
    for before, after in zip(out["sections"], out["sections"][1:], strict=False):
        assert before["end_sample"] == after["start_sample"]
    assert [(h["seconds"], h["kind"], h["name"]) for h in out["stingers"]] == [
        (h["at"], h["kind"], h["name"]) for h in cue["hits"]
    ]
    for bar in out["bars"]:
        assert bar["sample"] == round(bar["seconds"] * out["sample_rate"])
        assert len(bar["beats"]) == out["bar_beats"]
        assert bar["layers"] == [layer["name"] for layer in out["layers"] if layer["enters_at"] <= bar["intensity"]]
    for hit in out["stingers"]:
        assert out["bars"][hit["bar"]]["seconds"] == hit["seconds"]


# --- mistakes are caught, each naming its field ----------------------------------------


def problems(document: dict[str, Any], name: str) -> list[str]:
    lines = validate(document, name)
    assert lines, "the mutated document was taken as valid"
    return lines


def test_a_missing_required_field_is_named() -> None:
    out = example_output()
    del out["samples"]
    del out["sections"][1]["end_sample"]
    assert problems(out, "cue-sheet") == ["samples: missing (required)", "sections[1].end_sample: missing (required)"]


def test_a_negative_sample_is_named() -> None:
    out = example_output()
    out["bars"][3]["sample"] = -1
    assert problems(out, "cue-sheet") == ["bars[3].sample: -1 is less than the minimum of 0"]


def test_an_unknown_layer_name_is_named() -> None:
    out = example_output()
    out["layers"][0]["name"] = "strings"
    out["intensity_levels"][1]["layers"].append("choir")
    lines = problems(out, "cue-sheet")
    assert [line.split(":")[0] for line in lines] == ["intensity_levels[1].layers[2]", "layers[0].name"]
    assert all("is not one of 'pad', 'bass', 'rhythm', 'melody', 'percussion'" in line for line in lines)


def test_an_extra_property_is_named_with_the_accepted_ones() -> None:
    out = example_output()
    out["bars"][0]["colour"] = "red"
    out["loop_region"] = None
    lines = problems(out, "cue-sheet")
    assert lines[0].startswith("bars[0].colour: unknown field (accepted: beats, index, intensity, layers,")
    assert lines[1].startswith("loop_region: unknown field (accepted: bar_beats, bars, beat_unit, bpm,")


def test_a_hit_kind_outside_the_list_is_named() -> None:
    out, cue = example_output(), example_cue()
    out["stingers"][1]["kind"] = "explosion"
    cue["hits"][0]["kind"] = "boom"
    assert problems(out, "cue-sheet") == ["stingers[1].kind: 'explosion' is not one of 'accent', 'stinger', 'cadence'"]
    assert problems(cue, "cue") == ["hits[0].kind: 'boom' is not one of 'accent', 'stinger', 'cadence'"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda o: o.update(loop={"start": 0.0, "end": 44.0, "start_sample": 0}), "loop.end_sample: missing"),
        (lambda o: o.update(loop=False), "loop: False is not of type object or null"),
        (lambda o: o["bars"][2].update(intensity=1.2), "bars[2].intensity: 1.2 is greater than the maximum of 1"),
        (lambda o: o["sections"][0].update(bpm=400.0), "sections[0].bpm: 400.0 is greater than the maximum of 300"),
        (lambda o: o.update(key="D minor"), "key: 'D minor' does not match"),
        (lambda o: o.update(format="cue"), "format: 'cue' should be 'cadenza-cue-sheet'"),
        (lambda o: o["layers"][1].update(file=3), "layers[1].file: 3 is not of type string or null"),
        (lambda o: o.update(samples=1940400.0), "samples: 1940400.0 is not of type integer"),
        (lambda o: o.update(bar_beats=True), "bar_beats: True is not of type integer"),
        (lambda o: o["bars"][5]["beats"].__setitem__(1, math.nan), "bars[5].beats[1]: nan is not a finite number"),
    ],
)
def test_other_output_mistakes_are_named(change: Any, expected: str) -> None:
    out = example_output()
    change(out)
    lines = problems(out, "cue-sheet")
    assert any(line.startswith(expected) for line in lines), lines


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda c: c.update(tempo=0), "tempo: 0 is less than the minimum of 30"),
        (lambda c: c.update(tempi=120), "tempi: unknown field (accepted: arousal, exclude_instruments,"),
        (lambda c: c.update(instruments=["kazoo"]), "instruments[0]: 'kazoo' is not one of 'piano',"),
        (lambda c: c.update(meter="7/8"), "meter: '7/8' is not one of '4/4',"),
        (lambda c: c.update(valence=-1.5), "valence: -1.5 is less than the minimum of -1"),
        (lambda c: c["hits"][1].pop("at"), "hits[1].at: missing (required)"),
        (lambda c: c["sections"][0].pop("name"), "sections[0].name: missing (required)"),
        (
            lambda c: c["sections"][0].update(seconds=16),
            "sections[0]: not allowed: a section with both seconds and bars",
        ),
        (lambda c: c["sections"][1].pop("bars"), "sections: at most 1 section with neither seconds nor bars"),
        (lambda c: c["sections"][1].update(bars=2.5), "sections[1].bars: 2.5 is not of type integer"),
        (lambda c: c.update(sections=[]), "sections: [] should be non-empty"),
        (
            lambda c: c["sections"][2].update(intensity="grows"),
            "sections[2].intensity: 'grows' is not one of 'steady',",
        ),
        (lambda c: c["sections"][0].update(intensity={"from": 0.2, "too": 0.4}), "sections[0].intensity.too: unknown"),
        (lambda c: c["sections"][0].update(intensity={"from": 0.2}), "sections[0].intensity.to: missing (required)"),
        (lambda c: c["sections"][0].update(intensity=[0.1, 1.5]), "sections[0].intensity[1]: 1.5 is greater than"),
        (lambda c: c["sections"][0].update(intensity=2), "sections[0].intensity: 2 is greater than the maximum of 1"),
        (lambda c: c["sections"][0].update(intensity=True), "sections[0].intensity: True does not fit: An intensity"),
        (lambda c: c.update(layers=["pad", "pad"]), "layers: ['pad', 'pad'] has non-unique elements"),
    ],
)
def test_cue_sheet_mistakes_are_named(change: Any, expected: str) -> None:
    cue = example_cue()
    change(cue)
    lines = problems(cue, "cue")
    assert any(line.startswith(expected) for line in lines), lines


def test_each_problem_is_one_line_and_many_are_capped() -> None:
    out = example_output()
    for bar in out["bars"]:
        bar["sample"] = -1
        bar["section"] = ""
    lines = validate(out, "cue-sheet", max_lines=10)
    assert len(lines) == 10
    assert lines[0].startswith("bars[0].")
    assert lines[-1] == f"... and {2 * len(out['bars']) - 9} more problems"
    assert all("\n" not in line for line in lines)


def test_a_value_too_long_to_read_is_shortened_in_its_line() -> None:
    cue = example_cue()
    cue["sections"][0]["intensity"] = [0.5] * 2000
    (line,) = problems(cue, "cue")
    assert line.startswith("sections[0].intensity: [0.5, 0.5,") and line.endswith("is too long")
    assert len(line) < 200


def test_the_documented_cue_is_the_example_file_and_every_yaml_block_validates() -> None:
    text = CUE_DOC.read_text(encoding="utf-8")
    assert (EXAMPLES / "chase.yaml").read_text(encoding="utf-8") in text
    blocks = [block.split("```", 1)[0] for block in text.split("```yaml\n")[1:]]
    assert blocks
    for block in blocks:
        assert validate(yaml.safe_load(block), "cue") == [], block


def test_validation_does_not_change_the_document() -> None:
    out = example_output()
    kept = copy.deepcopy(out)
    validate(out, "cue-sheet")
    assert out == kept


def field_exists(path: str, document: dict[str, Any]) -> bool:
    """Whether `a[].b.c` names a property of the output schema (lists by `[]`)."""
    node = document
    for part in path.split("."):
        name = part.removesuffix("[]")
        node = node.get("properties", {}).get(name, {})
        if part.endswith("[]"):
            node = node.get("items", {})
        if not node:
            return False
    return True


@pytest.mark.parametrize("page", ["engines.md", "cue-sheet.md"])
def test_the_fields_the_docs_tables_name_are_in_the_output_schema(page: str) -> None:
    """The first column of engines.md's mapping table, and of cue-sheet.md's cue.json table."""
    text = (REPO / "docs" / "soundtrack" / page).read_text(encoding="utf-8")
    table = text.split("| `cue.json` |" if page == "engines.md" else "| field | what it is |", 1)[1].split("\n\n", 1)[0]
    fields = [f for row in table.splitlines()[2:] for f in row.split("|")[1].split("`")[1::2]]
    assert len(fields) >= 10
    sheet = schema("cue-sheet")
    assert [f for f in fields if not field_exists(f, sheet)] == []
    if page == "cue-sheet.md":  # every field of cue.json is explained
        assert {f.split(".")[0].removesuffix("[]") for f in fields} == set(sheet["properties"])


def test_the_cue_sheet_page_explains_every_key_a_user_may_write() -> None:
    text = CUE_DOC.read_text(encoding="utf-8")
    tables = [part.split("\n\n", 1)[0] for part in text.split("| key | value | meaning |")[1:]]
    keys = [{k for row in table.splitlines()[2:] for k in row.split("|")[1].split("`")[1::2]} for table in tables]
    cue = schema("cue")
    assert keys == [
        set(cue["properties"]),
        set(cue["$defs"]["section"]["properties"]),
        set(cue["$defs"]["hit"]["properties"]),
    ]


@pytest.mark.parametrize("name", NAMES)
def test_a_value_nested_too_deep_is_one_line_not_a_recursion_error(name: str) -> None:
    deep: list[Any] = []
    for _ in range(5000):
        deep = [deep]
    assert validate({"title": deep}, name) == ["title: nests more than 64 levels of lists and objects"]
