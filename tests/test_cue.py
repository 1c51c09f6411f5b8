"""A cue sheet resolved to exact times: section lengths, the tempo map, hit points, intensity, layers."""

from __future__ import annotations

import pytest

from cadenza.compose.conditions import INSTRUMENTS
from cadenza.compose.cue import ENTRY_LEVELS, LAYERS, curve, mood_of, read_cue
from cadenza.errors import InvalidArgumentError

CHASE = {
    "title": "Chase",
    "seconds": 45,
    "key": "D minor",
    "tempo": 120,
    "sections": [
        {"name": "calm", "seconds": 15, "mood": "calm", "intensity": {"from": 0.2, "to": 0.5}},
        {"name": "chase", "mood": "tense", "tempo": 140, "intensity": "builds"},
        {"name": "end", "seconds": 10, "intensity": 0.4},
    ],
    "hits": [{"at": 15.0, "kind": "stinger"}, {"at": 31.5, "name": "crash"}, {"at": 40, "kind": "cadence"}],
}


def test_sections_last_exactly_what_they_ask_and_the_rest_goes_to_the_one_without_a_length() -> None:
    cue = read_cue(CHASE)
    assert [(s.name, s.start, s.seconds) for s in cue.sections] == [
        ("calm", 0.0, 15.0),
        ("chase", 15.0, 20.0),
        ("end", 35.0, 10.0),
    ]
    assert cue.seconds == 45.0
    # whole bars fill each section: the grid reaches each section's start at its second
    quarter = 0.0
    for section in cue.sections:
        assert cue.seconds_at(quarter) == pytest.approx(section.start, abs=1e-9)
        quarter += section.bars * cue.bar_quarters
    assert cue.seconds_at(quarter) == pytest.approx(45.0, abs=1e-9)


def test_a_section_keeps_the_cues_tempo_and_key_unless_it_says_its_own() -> None:
    cue = read_cue(CHASE)
    calm, chase, end = cue.sections
    assert (calm.tempo, calm.key, calm.mood) == (120, "D:min", "calm")
    assert (chase.tempo, chase.mood) == (140, "tense")
    assert (end.tempo, end.key, end.mood) == (120, "D:min", None)
    # a 10 s section at 120 bpm in 4/4 is five bars; the grid there runs at 120 bpm until the cadence
    assert end.bars == 5


def test_hit_points_land_on_the_grid_exactly_at_their_second() -> None:
    cue = read_cue(CHASE)
    for hit, quarter in zip(cue.hits, cue.hit_quarters, strict=True):
        assert cue.seconds_at(quarter) == pytest.approx(hit.seconds, abs=1e-9)
        assert quarter == round(quarter)  # on a beat of 4/4
    cadence = cue.hit_quarters[2]
    assert cadence % cue.bar_quarters == 0  # a cadence lands on a bar line
    for mark in cue.tempo_map:  # no stretch of the grid runs more than a quarter off the tempo asked for
        section = next(s for s in reversed(cue.sections) if s.start <= mark.seconds + 1e-9)
        assert abs(mark.qpm / section.tempo - 1) <= 0.25


def test_intensity_per_bar_from_a_ramp_a_curve_word_and_a_number() -> None:
    calm, chase, end = read_cue(CHASE).sections
    assert calm.intensity[0] == 0.2 and calm.intensity[-1] == 0.5
    assert list(chase.intensity) == sorted(chase.intensity) and chase.intensity[-1] == 1.0
    assert set(end.intensity) == {0.4}
    assert curve("fades", 8)[0] > curve("fades", 8)[-1]
    swell = curve("swells", 9)
    assert max(swell) == swell[4] and swell[0] < swell[4] > swell[-1]


def test_a_whole_cue_curve_is_shared_out_to_sections_without_their_own() -> None:
    data = {
        "seconds": 32,
        "tempo": 120,
        "intensity": "builds",
        "sections": [{"name": "a", "seconds": 16}, {"name": "b"}],
    }
    cue = read_cue(data)
    flat = cue.intensity
    assert len(flat) == cue.bars == 16
    assert flat == sorted(flat) and flat[0] == 0.2 and flat[-1] == 1.0


def test_layers_enter_in_order_and_instruments_go_where_they_suit() -> None:
    cue = read_cue({"instruments": ["strings", "brass", "drums"]})
    assert [layer.name for layer in cue.layers] == list(LAYERS)
    by_name = {layer.name: layer.instrument for layer in cue.layers}
    assert by_name == {
        "pad": "strings",
        "melody": "brass",
        "bass": "strings",
        "rhythm": "strings",
        "percussion": "drums",
    }
    assert [layer.enters_at for layer in cue.layers] == list(ENTRY_LEVELS)
    no_drums = read_cue({"instruments": ["piano"]})
    assert "percussion" not in [layer.name for layer in no_drums.layers]
    excluded = read_cue({"exclude_instruments": ["drums", "pad"]})
    assert "percussion" not in [layer.name for layer in excluded.layers]
    assert next(layer for layer in excluded.layers if layer.name == "pad").instrument != "pad"
    only = read_cue({"layers": ["bass", "melody"]})  # in the order given
    assert [(layer.name, layer.enters_at) for layer in only.layers] == [("bass", 0.0), ("melody", 0.2)]


def test_a_section_that_gives_only_its_arousal_keeps_the_cues_valence() -> None:
    cue = read_cue({"mood": "tense", "sections": [{"name": "a", "bars": 4}, {"name": "b", "bars": 4, "arousal": -0.8}]})
    assert [s.mood for s in cue.sections] == ["tense", "sad"]


def test_the_mood_of_a_valence_and_arousal_is_its_quadrant() -> None:
    assert mood_of(0.5, -0.5) == "calm" and mood_of(0.5, 0.5) == "happy"
    assert mood_of(-0.5, -0.5) == "sad" and mood_of(-0.6, 0.8) == "tense"
    cue = read_cue({"valence": -0.6, "arousal": 0.8})
    assert cue.sections[0].mood == "tense" and cue.sections[0].key == "A:min" and cue.sections[0].tempo == 124


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**CHASE, "hits": [{"at": 50}]}, r"cue\.hits\[0\]\.at: 50 s is outside the cue"),
        ({**CHASE, "hits": [{"at": -1}]}, r"cue\.hits\[0\]\.at: -1 s is outside"),
        ({**CHASE, "hits": [{"at": 15.1}]}, r"cue\.hits\[0\] \(15\.1 s\): lands on the same beat as section 'chase'"),
        ({**CHASE, "hits": [{"at": 15.3}]}, r"cue\.hits\[0\] \(15\.3 s\): cannot land exactly on the grid"),
        ({**CHASE, "hits": [{"at": 3, "kind": "boom"}]}, r"cue\.hits\[0\]\.kind: unknown hit kind 'boom'"),
        (
            {"seconds": 30, "sections": [{"name": "a", "seconds": 20}, {"name": "b", "seconds": 20}]},
            "they last 40.000 s but the cue is 30 s",
        ),
        ({"seconds": 30, "sections": [{"name": "a", "seconds": 30}, {"name": "b"}]}, "nothing is left for 'b'"),
        ({"sections": [{"name": "a"}, {"name": "b"}]}, "have no length"),
        ({"tempo": 0}, r"cue\.tempo: tempo 0 bpm is outside 30\.\.240"),
        ({"sections": [{"name": "a", "tempo": 0, "bars": 4}]}, r"cue\.sections\[0\]\.tempo: tempo 0 bpm"),
        ({"instruments": ["kazoo"]}, r"cue\.instruments\[0\]: unknown instrument 'kazoo'"),
        (
            {"sections": [{"name": "a", "seconds": 1.3}], "tempo": 60},
            r"cue\.sections\[0\]: 1\.300 s does not hold whole bars of 4/4 near 60 bpm \(1 bar at 185 bpm",
        ),
        ({"sections": [{"name": "a", "seconds": 4, "bars": 2}]}, "give seconds or bars, not both"),
        ({"sections": [{"name": "a", "bars": 2}, {"name": "a", "bars": 2}]}, "two sections are named 'a'"),
        ({"intensity": 1.5}, r"cue\.intensity: 1\.5 is outside 0\.\.1"),
        ({"sections": [{"name": "a", "bars": 4, "intensity": [0.1, 0.2]}]}, "2 values for 4 bars"),
        ({"seconds": 0}, r"cue\.seconds: 0 is outside"),
        ({"meter": "7/16"}, "unknown meter '7/16'"),
        ({"loop": "yes"}, r"cue\.loop: expected true or false"),
        ({"exclude_instruments": ["drums"], "layers": ["percussion"]}, "no layer is left"),
        ({"instruments": ["piano"], "exclude_instruments": ["piano"]}, "both asked for and excluded"),
        ({"tempi": 3}, "unknown field 'tempi'"),
        (
            {"tempo": 40, "sections": [{"name": "long", "bars": 1000}]},
            r"they last 6000\.000 s in all; a cue lasts 2\.\.1800 s",
        ),
        ({"layers": []}, r"cue\.layers: a cue needs at least one layer"),
        ({"exclude_instruments": [*INSTRUMENTS], "layers": ["pad"]}, "every instrument for the pad layer is excluded"),
        ({"title": "x" * 201}, r"cue\.title: 201 characters, more than 200"),
        ({"sections": [{"name": f"s{i}", "bars": 1} for i in range(101)]}, "101 sections; a cue has 1..100"),
        ({"seconds": 10**400}, r"cue\.seconds: expected a finite number, got an integer of more than 300 digits"),
        ({"version": "1"}, "this cadenza reads version 1"),
    ],
)
def test_a_bad_cue_sheet_is_refused_in_one_line_naming_the_field(data: dict, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        read_cue(data)
    assert "\n" not in str(caught.value)


def test_a_length_takes_the_whole_bars_nearest_within_the_stretch_either_way() -> None:
    cue = read_cue({"tempo": 240, "sections": [{"name": "a", "seconds": 3.5}]})  # 3 bars at 206 bpm; 4 would be 274
    assert cue.sections[0].bars == 3 and cue.seconds == 3.5


def test_drums_alone_are_a_percussion_layer_alone() -> None:
    assert [layer.name for layer in read_cue({"instruments": ["drums"]}).layers] == ["percussion"]


def test_the_same_cue_sheet_gives_the_same_cue() -> None:
    assert read_cue(CHASE) == read_cue(CHASE)
