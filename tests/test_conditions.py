"""Conditions: what a user asks for, checked and completed (key names, exact lengths)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import symusic
from typer.testing import CliRunner

from cadenza.cli import app
from cadenza.compose import Composer, Conditions, Sampling
from cadenza.compose.conditions import resolve
from cadenza.compose.plan import BarControl, Plan, Section
from cadenza.errors import InputFileError, InvalidArgumentError

runner = CliRunner()


@pytest.mark.parametrize(
    ("key", "tonic", "mode"),
    [("D Minor", 2, "min"), ("d minor", 2, "min"), ("bb minor", 10, "min"), ("F#", 6, "maj"), ("f# m", 6, "min")],
)
def test_key_names_are_read_whatever_their_case(key: str, tonic: int, mode: str) -> None:
    resolved = resolve(Conditions(key=key))
    assert (resolved.tonic, resolved.mode) == (tonic, mode)


@pytest.mark.parametrize(("seconds", "tempo", "meter"), [(45, None, None), (13.37, 97, "3/4"), (10, 73.3, "6/8")])
def test_seconds_give_exactly_that_much_music(seconds: float, tempo: float | None, meter: str | None) -> None:
    conditions = Conditions(seconds=seconds, tempo=tempo, meter=meter)
    resolved = resolve(conditions)
    assert resolved.seconds == pytest.approx(seconds, abs=1e-9)
    score = Composer.from_pretrained().generate(conditions, Sampling(seed=5))
    written = symusic.Score.from_midi(score.dumps_midi())  # what a user's file holds
    half_tick = 60 / resolved.tempo / written.tpq / 2
    assert abs(written.to("second").end() - seconds) <= half_tick + 1e-4


def test_a_length_shorter_than_one_bar_is_refused_with_the_nearest_that_can_be_met() -> None:
    with pytest.raises(InvalidArgumentError) as error:
        resolve(Conditions(seconds=2, tempo=30))  # one bar of 4/4 at 30 bpm lasts 8 s
    assert "8 s" in str(error.value) and "--tempo 120" in str(error.value)
    with pytest.raises(InvalidArgumentError, match="12 s"):
        resolve(Conditions(seconds=7, tempo=30, meter="6/4"))
    with pytest.raises(InvalidArgumentError, match=r"3\.636 s"):
        resolve(Conditions(seconds=3, mood="sad"))  # the mood's own tempo, 66 bpm
    assert resolve(Conditions(seconds=8, tempo=30)).bars == 1  # exactly one bar is fine


def test_a_length_of_more_bars_than_allowed_is_refused_not_shortened() -> None:
    with pytest.raises(InvalidArgumentError) as error:
        resolve(Conditions(seconds=1800, tempo=240, meter="3/8"))  # 4800 bars
    assert "1000" in str(error.value) and "375 s" in str(error.value) and "--tempo 50" in str(error.value)


def test_the_cli_refuses_an_unmeetable_length_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "x.mid"
    result = runner.invoke(app, ["generate", "--seconds", "2", "--tempo", "30", "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert "8 s" in result.output and "Traceback" not in result.output
    assert not out.exists()


def _two_sections() -> Plan:
    verse = Section("verse", 4, "d minor", 90, "4/4", mood="sad", intensity=0.3)
    controls = tuple(BarControl(chord=c, intensity=0.9, density=d) for c, d in [("F:maj", 0.2), ("C:7/3", None)])
    bridge = Section("bridge", 2, "F major", 120.5, "3/4", intensity=1.0, controls=controls)
    again = Section("verse again", 4, "E minor", 90, "4/4", mood="tense", repeat_of="verse")
    return Plan((verse, bridge, again), "chorale", ("Strings", "cello"), tail_quarters=1.5)


@pytest.mark.parametrize(
    "conditions",
    [
        Conditions(),
        Conditions(mood="calm", key="Eb", bars=5),
        Conditions(mood="happy", meter="6/8", instruments=("violin", "piano")),
        Conditions(mood="sad", seconds=21.3, tempo=77),
        Conditions(mood="tense", style="folk", key="g# m", seconds=30),
    ],
)
def test_flat_conditions_are_a_one_section_plan_that_gives_them_back(conditions: Conditions) -> None:
    plan = Plan.from_conditions(conditions)
    assert len(plan.sections) == 1 and plan.resolved() == resolve(conditions)
    assert plan.seconds == pytest.approx(resolve(conditions).seconds)
    assert Plan.from_json(plan.to_json()) == plan


def test_a_plan_round_trips_through_json() -> None:
    plan = _two_sections()
    assert plan.sections[0].key == "D:min" and plan.instruments == ("strings", "cello")  # read, then kept canonical
    data = json.loads(plan.to_json())
    assert data["version"] == 1 and [s["name"] for s in data["sections"]] == ["verse", "bridge", "verse again"]
    assert data["sections"][1]["controls"][1] == {"chord": "C:7/3", "intensity": 0.9, "density": None}
    again = Plan.from_dict(data)
    assert again == plan and again.to_json() == plan.to_json()
    assert plan.bars == 10 and plan.seconds == pytest.approx((16 + 16 + 1.5) * 60 / 90 + 6 * 60 / 120.5)
    last = plan.resolved(-1)
    assert (last.tonic, last.mode, last.bars, last.tail_quarters) == (4, "min", 4, 1.5)
    assert plan.resolved(1).tail_quarters == 0.0 and plan.resolved(1).meter == "3/4"


def _edited(path: list[str | int], value: object) -> dict[str, Any]:
    data = _two_sections().to_dict()
    target: Any = data
    for step in path[:-1]:
        target = target[step]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["sections", 1, "tempo"], 500, "section 'bridge': tempo 500 bpm is outside 30..240"),
        (["sections", 1, "tempo"], "fast", "plan.sections[1].tempo: expected a finite number"),
        (["sections", 0, "key"], "H minor", "section 'verse': key 'H minor' not understood; accepted:"),
        (["sections", 0, "meter"], "7/8", "section 'verse': unknown meter '7/8'; accepted: 4/4"),
        (["sections", 0, "mood"], "angry", "unknown mood 'angry'; accepted: calm, happy, sad, tense"),
        (["sections", 0, "bars"], 0, "section 'verse': bars 0 is outside 1..1000"),
        (["sections", 0, "bars"], True, "plan.sections[0].bars: expected a whole number"),
        (["sections", 0, "intensity"], 1.5, "section 'verse': intensity 1.5 is outside 0..1"),
        (["sections", 0, "tempi"], 90, "plan.sections[0]: unknown field 'tempi'; accepted: bars, controls"),
        (["sections", 0, "name"], _DELETE, "plan.sections[0].name: expected a string, got NoneType"),
        (["sections", 1, "name"], "verse", "two sections are named 'verse'"),
        (["sections", 2, "repeat_of"], "chorus", "repeats 'chorus', which is not an earlier section; earlier: verse"),
        (["sections", 2, "bars"], 3, "'verse again' repeats 'verse' but has 3 bars of 4/4 where 'verse' has 4"),
        (["sections", 1, "controls"], [{}], "section 'bridge': 1 bar controls for 2 bars"),
        (["sections", 1, "controls", 0, "chord"], "F:minor9", "plan.sections[1].controls[0]: chord 'F:minor9'"),
        (["sections", 1, "controls", 1, "density"], -0.1, "plan.sections[1].controls[1]: density -0.1 is outside"),
        (["sections"], [], "a plan needs at least one section"),
        (["style"], "jazz", "unknown style 'jazz'; accepted: pop"),
        (["instruments"], ["banjo"], "unknown instrument 'banjo'"),
        (["tail_quarters"], 4.0, "tail_quarters 4.0 is outside 0..4 (one bar of 4/4)"),
        (["version"], 2, "plan version 2 is not known; this cadenza reads 1"),
    ],
)
def test_a_wrong_plan_is_refused_naming_what_is_wrong(path: list[str | int], value: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as error:
        Plan.from_dict(_edited(path, value))
    assert message in str(error.value)


def test_a_plan_file_that_is_not_a_plan_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    for text in ("{", "[" * 100_000 + "]" * 100_000, "[]", '{"sections": [{"name": NaN}]}', b"\xff\xfe{"):
        with pytest.raises(InputFileError) as error:
            Plan.from_json(text, path)
        assert str(path) in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(InvalidArgumentError, match="more than 1000"):
        Plan((Section("a", 600, "C", 100, "4/4"), Section("b", 600, "C", 100, "4/4")), "pop")


def test_a_plan_of_very_many_sections_is_refused_before_each_is_checked() -> None:
    """30,000 one-bar sections (2 MB of JSON) took 18 s of CPU before the bar limit refused them."""
    sections = [{"name": f"s{i}", "bars": 1, "key": "C", "tempo": 100, "meter": "4/4"} for i in range(30_000)]
    text = json.dumps({"version": 1, "style": "pop", "sections": sections})
    started = time.process_time()
    with pytest.raises(InvalidArgumentError, match="30000 sections, more than 1000"):
        Plan.from_json(text)
    assert time.process_time() - started < 2.0


@pytest.mark.parametrize("shape", ["1000-full-sections", "a-million-controls-on-one-bar"])
def test_a_plan_of_very_many_bar_controls_is_refused_before_each_is_built(shape: str) -> None:
    """1,000 sections of 1,000 controls each (3 MB of JSON) took 6.6 s of CPU before the bar limit refused them."""
    if shape == "1000-full-sections":
        section = {"bars": 1000, "key": "C", "tempo": 100, "meter": "4/4", "controls": [{}] * 1000}
        sections = [{"name": f"s{i}", **section} for i in range(1000)]
    else:
        sections = [{"name": "a", "bars": 1, "key": "C", "tempo": 100, "meter": "4/4", "controls": [{}] * 1_000_000}]
    text = json.dumps({"version": 1, "style": "pop", "sections": sections}, separators=(",", ":"))
    started = time.process_time()
    with pytest.raises(InvalidArgumentError, match=r"more than 1000|1000000 bar controls for 1 bars"):
        Plan.from_json(text)
    assert time.process_time() - started < 1.0


def test_long_names_in_a_plan_are_quoted_shortened() -> None:
    for edit in ("mood", "name"):
        broken = _two_sections().to_dict()
        if edit == "mood":
            broken["sections"][0]["mood"] = "x" * 1_000_000
        else:
            broken["sections"][0]["name"] = broken["sections"][1]["name"] = "y" * 1_000_000
        with pytest.raises(InvalidArgumentError) as error:
            Plan.from_dict(broken)
        assert len(str(error.value)) < 500, str(error.value)[:100]


def test_a_plan_file_is_read_through_the_bounded_reader(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(_two_sections().to_json())
    assert Plan.read(path) == _two_sections()
    path.write_text("[" * 70 + "]" * 70)
    with pytest.raises(InputFileError, match="nests too deeply"):
        Plan.read(path)
    path.write_text('{"sections": 1}')
    with pytest.raises(InputFileError) as error:
        Plan.read(path)
    assert str(error.value).startswith(f"{path}: ") and "plan.sections" in str(error.value)


def test_asking_for_the_style_other_says_how_to_get_it() -> None:
    with pytest.raises(InvalidArgumentError) as error:
        resolve(Conditions(style="other"))
    assert "composes them when no --style is given" in str(error.value) and "accepted: pop" in str(error.value)
