"""The planner: form, chords and intensity per bar; the chord-progression model; plan files."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from cadenza.compose.conditions import Conditions
from cadenza.compose.plan import Plan
from cadenza.compose.planner import bar_sources, form, load_plan, make_plan
from cadenza.errors import InputFileError, InvalidArgumentError
from cadenza.models.progression import (
    DOMINANTS,
    SHIPPED,
    UNSEEN,
    ProgressionModel,
    absolute_chord,
    default_progressions,
    relative_chord,
)
from cadenza.train.chords import BarChords, bar_chords, fit_progressions, fit_runs
from tests.helpers import make_score

_ROOTS = {"C": 48, "D": 50, "E": 52, "F": 53, "G": 55, "A": 57}
_TRIADS = {"maj": (0, 4, 7), "min": (0, 3, 7)}


def _chord_score(chords: list[str]) -> object:
    """One bar per chord: the root held in the bass, the triad on every beat above it."""
    notes = []
    for bar, chord in enumerate(chords):
        root, quality = chord.split(":")
        bass = _ROOTS[root] - 12
        notes.append((bass, 4 * bar, 4 * bar + 4, 90))
        for beat in range(4):
            for step in _TRIADS[quality]:
                notes.append((_ROOTS[root] + 12 + step, 4 * bar + beat, 4 * bar + beat + 1, 100 if beat == 0 else 70))
    return make_score(notes)


def _relative(plan: Plan) -> list[str | None]:
    tonic = plan.sections[0].tonic
    return [relative_chord(c.chord, tonic) for s in plan.sections for c in s.controls if c.chord is not None]


def test_the_same_seed_gives_the_same_plan_and_another_seed_another() -> None:
    conditions = Conditions(style="pop", mood="happy", key="Eb major", bars=32)
    first = make_plan(conditions, seed=7)
    assert make_plan(conditions, seed=7).to_json() == first.to_json()
    others = {make_plan(conditions, seed=s).to_json() for s in range(8, 12)}
    assert first.to_json() not in others and len(others) > 1


def test_32_bars_are_a_a_b_a_and_the_repeats_repeat_their_chords() -> None:
    plan = make_plan(Conditions(style="pop", key="G major", bars=32), seed=3)
    assert [(s.name, s.bars, s.repeat_of) for s in plan.sections] == [
        ("A", 8, None),
        ("A'", 8, "A"),
        ("B", 8, None),
        ("A''", 8, "A'"),
    ]
    chords = [[c.chord for c in s.controls] for s in plan.sections]
    assert chords[3] == chords[1]  # the return plays the varied A again
    changed = sum(a != b for a, b in zip(chords[0], chords[1], strict=True))
    assert 1 <= changed <= 2  # A' keeps most of A: its cadence or one bar changes
    assert plan.bars == 32 and all(len(s.controls) == s.bars for s in plan.sections)


@pytest.mark.parametrize("bars", [2, 5, 8, 13, 16, 25, 32, 49, 64])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_piece_in_a_major_key_ends_dominant_then_tonic(bars: int, seed: int) -> None:
    plan = make_plan(Conditions(style="pop", key="D major", bars=bars), seed=seed)
    chords = _relative(plan)
    assert len(chords) == bars
    assert chords[-1] == "0:maj" and plan.sections[-1].controls[-1].chord == "D:maj"
    assert chords[-2] in DOMINANTS
    assert bars < 3 or str(chords[0]).startswith("0:")  # and it opened at home (two bars: V I)


@pytest.mark.parametrize("style", ["pop", "chorale", "folk"])
def test_a_piece_in_a_minor_key_ends_on_its_minor_tonic(style: str) -> None:
    plan = make_plan(Conditions(style=style, key="F# minor", bars=16), seed=5)
    assert plan.sections[-1].controls[-1].chord == "F#:min"
    assert _relative(plan)[-2] in DOMINANTS


def test_the_plan_keeps_the_conditions_and_shapes_intensity() -> None:
    conditions = Conditions(style="chorale", mood="tense", key="c minor", tempo=84, meter="3/4", bars=32)
    plan = make_plan(conditions, seed=1)
    assert {(s.key, s.tempo, s.meter, s.mood) for s in plan.sections} == {("C:min", 84.0, "3/4", "tense")}
    by_name = {s.name: s for s in plan.sections}
    assert by_name["B"].intensity > by_name["A"].intensity  # rises into B
    last = [c.intensity for c in plan.sections[-1].controls]
    assert last[-1] < last[-2] < last[-3]  # falls at the end


def test_the_form_follows_the_length() -> None:
    assert [p.letter for p in form(8)] == ["A"]
    assert [(p.letter, p.bars, p.copies) for p in form(16)] == [("A", 8, "new"), ("A", 8, "vary")]
    assert [p.letter for p in form(13)] == ["A", "A", "Outro"] and sum(p.bars for p in form(13)) == 13
    long = form(64)
    assert long[0].letter == "Intro" and sum(p.bars for p in long) == 64
    assert {p.bars for p in long if p.letter in "ABC"} == {8}


def test_a_plan_round_trips_through_json_and_yaml_files(tmp_path: Path) -> None:
    plan = make_plan(Conditions(style="pop", mood="sad", bars=24, instruments=("piano", "cello")), seed=4)
    assert Plan.from_json(plan.to_json()) == plan
    (tmp_path / "plan.json").write_text(plan.to_json())
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan.to_dict()))
    assert load_plan(tmp_path / "plan.json") == plan
    assert load_plan(tmp_path / "plan.yaml") == plan


def _plan_dict() -> dict:
    return make_plan(Conditions(bars=8), seed=0).to_dict()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("plan.json", b"{not json", "not valid JSON"),
        ("plan.json", b"\xff\xfe\x00garbage", "not valid JSON"),
        ("plan.json", b"[" * 100_000, "not valid JSON"),
        ("plan.json", json.dumps({**_plan_dict(), "style": 3}).encode(), "plan.style: expected a string"),
        ("plan.yaml", b"a: [1, 2\nb: {", "invalid YAML"),
        ("plan.yaml", b"a: &x [1, 2]\nb: *x\n", "aliases (*name) are not allowed"),
        ("plan.yaml", b"- 1\n- 2\n", "plan: expected an object, got list"),
        ("plan.yaml", b"version: 1\nstyle: pop\nsections: 2020-01-01\n", "plan.sections: expected a list, got date"),
        ("plan.yml", b"\xff\xfe", "not UTF-8"),
        ("plan.yml", b"[" * 50_000, "invalid YAML"),
        ("plan.yml", b"!!python/object/apply:os.system ['echo hi']\n", "invalid YAML"),
        ("plan.txt", b"{}", "is not a plan file"),
    ],
)
def test_a_hostile_plan_file_is_refused_in_one_line_naming_it(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputFileError) as caught:
        load_plan(path)
    text = str(caught.value)
    assert message in text and str(path) in text and "\n" not in text


def test_a_bad_chord_in_a_yaml_plan_is_refused_naming_the_bar(tmp_path: Path) -> None:
    data = _plan_dict()
    data["sections"][0]["controls"][2]["chord"] = "H:min"
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InputFileError, match=r"plan\.sections\[0\]\.controls\[2\]: chord 'H:min'"):
        load_plan(path)


def test_a_plan_that_is_a_fifo_or_too_large_is_refused_without_reading_it(tmp_path: Path) -> None:
    fifo = tmp_path / "plan.json"
    os.mkfifo(fifo)
    with pytest.raises(InputFileError, match="not a regular file"):
        load_plan(fifo)
    with pytest.raises(InputFileError, match="unreadable: No such file") as caught:
        load_plan(tmp_path / "missing.json")
    assert str(tmp_path / "missing.json") in str(caught.value)
    big = tmp_path / "big.yaml"
    with big.open("wb") as file:
        file.truncate(5_000_000)
    with pytest.raises(InputFileError, match="too large for a plan"):
        load_plan(big)


def test_a_model_fitted_on_hand_made_chords_reproduces_their_most_frequent_transitions() -> None:
    loop = ["C:maj", "F:maj", "G:maj", "C:maj"] * 4
    other = ["C:maj", "A:min", "F:maj", "G:maj"] * 2 + ["C:maj"]
    heard = bar_chords(_chord_score(loop))
    assert [(r.mode, r.chords) for r in heard] == [("maj", tuple(relative_chord(c, 0) for c in loop))]
    model = fit_progressions([(_chord_score(loop), "pop"), (_chord_score(other), "pop")])
    table = model.tables["pop/maj"]
    assert table.bigram["7:maj"] == {"0:maj": 6} and table.bigram["5:maj"] == {"7:maj": 6}
    after_g = model.probabilities("pop", "maj", ["5:maj", "7:maj"])
    assert max(after_g, key=after_g.__getitem__) == "0:maj"
    assert sum(after_g.values()) == pytest.approx(1.0) and 0 < after_g[UNSEEN] < 0.05
    after_f = model.probabilities("pop", "maj", ["0:maj", "5:maj"])
    assert max(after_f, key=after_f.__getitem__) == "7:maj"
    drawn = [model.sample("pop", "maj", 2, np.random.default_rng(s), history=["0:maj", "5:maj"]) for s in range(20)]
    assert Counter(tuple(d) for d in drawn).most_common(1)[0][0] == ("7:maj", "0:maj")


def test_the_likelihood_prefers_the_progressions_it_was_fitted_on() -> None:
    runs = [("pop", BarChords("maj", ("0:maj", "9:min", "5:maj", "7:maj") * 4 + ("0:maj",), frozenset({16})))] * 3
    model = fit_runs(runs)
    seen = model.log_likelihood("pop", "maj", ["0:maj", "9:min", "5:maj", "7:maj", "0:maj"], {4})
    shuffled = model.log_likelihood("pop", "maj", ["0:maj", "7:maj", "9:min", "5:maj", "0:maj"], {4})
    unseen = model.log_likelihood("pop", "maj", ["0:maj", "1:dim", "5:maj", "7:maj", "0:maj"], {4})
    assert seen > shuffled > unseen > -1e9
    again = ProgressionModel.from_dict(json.loads(model.to_json()))
    assert again.to_json() == model.to_json() and again.vocabulary("pop", "maj") == model.vocabulary("pop", "maj")
    assert model.table_name("jazz", "min") == "all/min"  # a style without a table uses the pooled one


def test_relative_chords_round_trip() -> None:
    assert relative_chord("G:7/3", 0) == "7:7" and relative_chord("N", 3) is None
    assert absolute_chord("7:7", 2) == "A:7" and absolute_chord(relative_chord("Bb:min7", 5) or "", 5) == "Bb:min7"


def test_the_shipped_progressions_are_small_and_name_their_data() -> None:
    assert SHIPPED.stat().st_size < 1_000_000
    training = json.loads((SHIPPED.parent / "training.json").read_text())
    assert {s["licence"] for s in training["sources"]} == {"MIT", "public-domain"}
    model = default_progressions()
    assert set(model.styles) == {"chorale", "pop"}
    pop = model.probabilities("pop", "maj", ["5:maj", "7:maj"], "cadence")
    assert max(pop, key=pop.__getitem__) == "0:maj"  # IV V -> I at a section's end


def test_a_progression_file_that_is_not_one_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "progressions.json"
    path.write_text(json.dumps({"version": 1, "config": {}, "tables": {"pop/maj": {"unigram": {"X:maj": 1}}}}))
    with pytest.raises(InputFileError, match="relative chord 'X:maj'") as caught:
        ProgressionModel.load(path)
    assert str(path) in str(caught.value)
    path.write_text(json.dumps({"version": 1, "config": {"k": "much"}, "tables": {}}))
    with pytest.raises(InputFileError, match="progression config"):
        ProgressionModel.load(path)
    path.write_text(json.dumps({"version": 1, "config": {}, "tables": {}}))
    with pytest.raises(InvalidArgumentError, match="no chords for pop in maj"):
        make_plan(Conditions(bars=8), ProgressionModel.load(path))


@pytest.mark.parametrize("bars", [24, 40, 64, 100])
def test_every_repeat_keeps_the_chords_of_the_section_it_names(bars: int) -> None:
    plan = make_plan(Conditions(style="pop", key="A minor", bars=bars), seed=bars)
    by_name = {s.name: [c.chord for c in s.controls] for s in plan.sections}
    repeats = [s for s in plan.sections if s.repeat_of is not None]
    assert len(repeats) >= len(plan.sections) // 2
    for section in repeats:
        changed = sum(a != b for a, b in zip(by_name[section.name], by_name[section.repeat_of], strict=True))
        assert changed <= 2, section.name


def test_the_fitting_script_writes_a_model_and_its_record(datasets: Path, tmp_path: Path) -> None:
    from cadenza.train.chords import main

    main(["--pop909", str(datasets / "pop909"), "--limit", "20", "--out", str(tmp_path)])
    model = ProgressionModel.load(tmp_path / "progressions.json")
    record = json.loads((tmp_path / "training.json").read_text())
    figures = record["figures"]["pop"]
    assert (figures["train_pieces"], figures["held_out_pieces"]) == (18, 2)
    assert figures["train_bars"] == sum(model.tables["pop/maj"].unigram.values()) + sum(
        model.tables.get("pop/min", model.tables["all/min"]).unigram.values()
    )
    assert 1 < figures["held_out_perplexity_per_bar"] < 60


def test_bar_sources_say_which_bars_are_copied_and_which_written_afresh() -> None:
    plan = make_plan(Conditions(style="pop", key="E major", bars=32), seed=3)
    sources = bar_sources(plan)
    chords = [c.chord for s in plan.sections for c in s.controls]
    assert sources[:8] == [None] * 8 and sources[16:24] == [None] * 8  # A and B are new
    assert sum(s is None for s in sources[8:16]) in (1, 2)  # A' changes its cadence or one bar
    assert all(chords[s] == chords[i] for i, s in enumerate(sources) if s is not None)
    assert all(s is None or sources[s] is None for s in sources)  # every copy points to a written bar
    assert sources[24:] == [s if s is not None else 8 + j for j, s in enumerate(sources[8:16])]


def test_a_repeat_in_another_key_still_copies_its_bars() -> None:
    data = make_plan(Conditions(key="C major", bars=16), seed=2).to_dict()
    again = data["sections"][1]
    again["key"] = "D major"
    again["controls"] = [
        {**c, "chord": absolute_chord(relative_chord(c["chord"], 0) or "", 2)} for c in again["controls"]
    ]
    sources = bar_sources(Plan.from_dict(data))
    assert sources[:8] == [None] * 8 and sum(s is None for s in sources[8:]) in (1, 2)
