"""The prompt reader: free text -> the plan a reader takes from it, field by field."""

from __future__ import annotations

import importlib.util
import itertools
import json
import random
from pathlib import Path

import pytest

from cadenza.compose.conditions import INSTRUMENTS, METERS
from cadenza.compose.prompt import STOPWORDS, PromptReading, read_prompt
from cadenza.errors import InvalidArgumentError
from cadenza.theory import parse_key

ISSUE_PROMPT = "tense boss fight, 140 bpm, 2 minutes, strings and brass, builds to a climax"
TOP_KEYS = {
    "tempo",
    "seconds",
    "bars",
    "key",
    "meter",
    "instruments",
    "exclude_instruments",
    "loop",
    "style",
    "valence",
    "arousal",
    "intensity",
    "sections",
    "unused",
}
# formats.md section 1: what a cue sheet may hold
CUE_KEYS = {
    "version",
    "title",
    "seconds",
    "style",
    "key",
    "tempo",
    "meter",
    "mood",
    "valence",
    "arousal",
    "instruments",
    "exclude_instruments",
    "layers",
    "loop",
    "stems",
    "intensity",
    "sections",
    "hits",
}
CUE_SECTION_KEYS = {"name", "seconds", "bars", "key", "tempo", "mood", "valence", "arousal", "intensity"}


def test_the_issue_prompt() -> None:
    reading = read_prompt(ISSUE_PROMPT)
    assert reading.tempo == 140.0
    assert reading.seconds == 120.0
    assert reading.bars is None
    assert sorted(reading.instruments) == ["brass", "strings"]
    assert reading.intensity == "builds"
    assert reading.valence is not None and reading.valence < 0
    assert reading.arousal is not None and reading.arousal > 0
    assert reading.unused == ()
    assert reading.key is None and reading.meter is None and reading.loop is None and reading.style is None


@pytest.mark.parametrize(
    ("prompt", "tempo"),
    [
        ("at 90 beats per minute", 90.0),
        ("tempo 120, piano", 120.0),
        ("tempo: 96", 96.0),
        ("a hundred and twenty bpm", 120.0),
        ("140bpm", 140.0),
        ("slow piano", None),  # tempo words move arousal, not tempo
        ("fast and uptempo", None),
    ],
)
def test_tempo_only_from_a_number(prompt: str, tempo: float | None) -> None:
    assert read_prompt(prompt).tempo == tempo


def test_tempo_words_move_arousal() -> None:
    slow, fast = read_prompt("slow"), read_prompt("fast")
    assert slow.arousal is not None and fast.arousal is not None
    assert slow.arousal < 0 < fast.arousal
    assert slow.valence is None  # "slow" says nothing of valence


@pytest.mark.parametrize(
    ("prompt", "seconds"),
    [
        ("1:30", 90.0),
        ("2 minutes", 120.0),
        ("90 seconds", 90.0),
        ("30s jingle", 30.0),
        ("about 3 minutes", 180.0),
        ("around two minutes", 120.0),
        ("a minute and a half", 90.0),
        ("one minute and a half", 90.0),
        ("two and a half minutes", 150.0),
        ("ninety seconds", 90.0),
        ("twenty-five seconds", 25.0),
        ("2 minutes 30 seconds", 150.0),
        ("half a minute", 30.0),
        ("a 30 second ad", 30.0),
        ("1.5 min", 90.0),
    ],
)
def test_length_in_seconds(prompt: str, seconds: float) -> None:
    reading = read_prompt(prompt)
    assert reading.seconds == seconds
    assert reading.bars is None


@pytest.mark.parametrize(("prompt", "bars"), [("16 bars", 16), ("an 8-bar loop", 8), ("thirty-two measures", 32)])
def test_length_in_bars(prompt: str, bars: int) -> None:
    reading = read_prompt(prompt)
    assert reading.bars == bars
    assert reading.seconds is None


def test_8_bit_is_a_style_not_a_length() -> None:
    reading = read_prompt("happy 8-bit chiptune")
    assert reading.bars is None
    assert reading.style == "pop"


@pytest.mark.parametrize(
    ("prompt", "key"),
    [
        ("in E flat minor", "Eb:min"),
        ("in D minor", "D:min"),
        ("key of F#", "F#:maj"),
        ("E flat major", "Eb:maj"),
        ("Bb minor", "Bb:min"),
        ("in the key of E flat", "Eb:maj"),
        ("in C# minor", "C#:min"),
        ("in A", "A:maj"),
        ("Am, piano", "A:min"),
        ("e♭ minor", "Eb:min"),
        ("B flat minor drone", "Bb:min"),
    ],
)
def test_key(prompt: str, key: str) -> None:
    reading = read_prompt(prompt)
    assert reading.key == key
    assert parse_key(key) == parse_key(reading.key)  # a label cadenza reads back


@pytest.mark.parametrize("prompt", ["a gentle waltz", "in a minor key", "music in a box", "I am happy"])
def test_articles_and_words_are_not_keys(prompt: str) -> None:
    assert read_prompt(prompt).key is None


@pytest.mark.parametrize(("prompt", "meter"), [("a waltz", "3/4"), ("in 6/8", "6/8"), ("12/8 jig", "12/8")])
def test_meter(prompt: str, meter: str) -> None:
    reading = read_prompt(prompt)
    assert reading.meter == meter
    assert reading.meter in METERS


def test_an_explicit_meter_wins_over_waltz() -> None:
    assert read_prompt("a waltz in 6/8").meter == "6/8"


def test_a_meter_cadenza_does_not_write_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="meter 7/8"):
        read_prompt("boss battle in 7/8")


@pytest.mark.parametrize(
    ("prompt", "instruments"),
    [
        ("strings and brass", ["brass", "strings"]),
        ("violins and cellos", ["cello", "violin"]),
        ("percussion", ["drums"]),
        ("a lofi beat", ["drums"]),
        ("drum kit and synth pad", ["drums", "pad"]),
        ("string quartet", ["strings"]),
        ("electric piano, upright bass", ["contrabass", "electric-piano"]),
        ("fiddle and lute", ["guitar", "violin"]),
        ("full orchestra", ["brass", "drums", "strings"]),
        ("electric guitars", ["electric-guitar"]),
    ],
)
def test_instruments(prompt: str, instruments: list[str]) -> None:
    reading = read_prompt(prompt)
    assert sorted(reading.instruments) == instruments
    assert set(reading.instruments) <= set(INSTRUMENTS) | {"drums"}


def test_orchestral_is_a_style_orchestra_also_instruments() -> None:
    orchestral, orchestra = read_prompt("orchestral"), read_prompt("for orchestra")
    assert orchestral.style == orchestra.style == "classical"
    assert orchestral.instruments == ()
    assert sorted(orchestra.instruments) == ["brass", "drums", "strings"]


@pytest.mark.parametrize(
    ("prompt", "excluded"),
    [
        ("no drums", ["drums"]),
        ("without piano", ["piano"]),
        ("no percussion", ["drums"]),
        ("no drums or bass, strings", ["bass", "drums"]),
        ("no drums, no bass", ["bass", "drums"]),
        ("no vocals", ["choir"]),
    ],
)
def test_excluded_instruments(prompt: str, excluded: list[str]) -> None:
    reading = read_prompt(prompt)
    assert sorted(reading.exclude_instruments) == excluded
    assert not set(reading.instruments) & set(excluded)


def test_an_instrument_asked_for_and_excluded_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="piano"):
        read_prompt("piano, no piano")


def test_an_unknown_word_is_listed_in_unused() -> None:
    reading = read_prompt("calm bassoon and piano for a zorblax level")
    assert reading.unused == ("bassoon", "zorblax", "level")
    assert reading.instruments == ("piano",)
    assert "words not used: bassoon, zorblax, level" in reading.describe()


def test_every_word_is_used_a_stopword_or_unused() -> None:
    """ "no melody": the "no" that excluded nothing is reported, not dropped."""
    reading = read_prompt("dark ambience, no melody, 2 minutes, then")
    assert reading.unused == ("ambience", "no", "melody", "then")
    assert not set(reading.unused) & STOPWORDS


@pytest.mark.parametrize(
    ("prompt", "loop"),
    [("seamless loop", True), ("loopable", True), ("looping", True), ("no loop", False), ("one-shot", False)],
)
def test_loop(prompt: str, loop: bool) -> None:
    assert read_prompt(prompt).loop is loop


@pytest.mark.parametrize(
    ("prompt", "style"),
    [
        ("lofi", "pop"),
        ("lo-fi hip hop", "pop"),
        ("synthwave", "pop"),
        ("epic cinematic", "classical"),
        ("celtic", "folk"),
        ("medieval tavern", "folk"),
        ("medieval", "early"),
        ("baroque", "early"),
        ("church hymn", "chorale"),
        ("acoustic guitar", "folk"),
        ("haunted house", None),  # a house, not house music
        ("jazz", None),
    ],
)
def test_style(prompt: str, style: str | None) -> None:
    assert read_prompt(prompt).style == style


def test_mood_modifiers_and_negation() -> None:
    prompts = ("dark", "very dark", "slightly dark", "a bit dark", "not too dark")
    dark, very, slightly, a_bit, not_too = (read_prompt(p).valence for p in prompts)
    assert dark is not None and very is not None and slightly is not None and not_too is not None
    assert very < dark < slightly < 0 < not_too
    assert a_bit == slightly
    assert read_prompt("a bit dark").unused == ()


def test_several_mood_words_average() -> None:
    happy, sad, both = (read_prompt(p) for p in ("happy", "sad", "happy and sad"))
    assert both.valence == pytest.approx((happy.valence + sad.valence) / 2, abs=1e-3)  # type: ignore[operator]


@pytest.mark.parametrize("prompt", ["tempo 0", "-5 seconds", "0 seconds", "5000 bpm", "", "   ", "x" * 2001, "0 bars"])
def test_impossible_values_are_refused_in_one_line(prompt: str) -> None:
    with pytest.raises(InvalidArgumentError) as error:
        read_prompt(prompt)
    assert "\n" not in str(error.value)


def test_refusals_name_what_is_wrong() -> None:
    with pytest.raises(InvalidArgumentError, match="tempo 0 bpm"):
        read_prompt("tempo 0")
    with pytest.raises(InvalidArgumentError, match="-5 s"):
        read_prompt("-5 seconds")
    with pytest.raises(InvalidArgumentError, match="empty"):
        read_prompt("")
    with pytest.raises(InvalidArgumentError, match="2,001 characters"):
        read_prompt("a" * 2001)
    with pytest.raises(InvalidArgumentError, match="length twice"):
        read_prompt("2 minutes, 16 bars")
    with pytest.raises(InvalidArgumentError, match="two tempos"):
        read_prompt("120 bpm, 90 bpm")
    with pytest.raises(InvalidArgumentError, match="more than 1000"):
        read_prompt("1800 seconds at 240 bpm in 2/4")


def test_to_dict_has_every_key_with_nulls_where_silent() -> None:
    data = read_prompt("piano").to_dict()
    assert set(data) == TOP_KEYS
    assert data["instruments"] == ["piano"]
    for name in TOP_KEYS - {"instruments", "unused"}:
        assert data[name] is None, name
    assert data["unused"] == []
    json.dumps(data)


def test_to_dict_intensity_is_per_bar_of_the_resolved_length() -> None:
    # 2 minutes at 140 bpm in 4/4: a bar lasts 240/140 s, so floor(120 / (240/140)) = 70 bars
    data = read_prompt(ISSUE_PROMPT).to_dict()
    assert isinstance(data["intensity"], list) and len(data["intensity"]) == 70
    assert len(read_prompt("calm, 16 bars in 3/4").to_dict()["intensity"]) == 16  # type: ignore[arg-type]
    # no tempo: 70 + 60 * (arousal + 1) / 2; no length: 60 s
    sad = read_prompt("sad")
    tempo = round(70 + 60 * (sad.arousal + 1) / 2)  # type: ignore[operator]
    assert len(sad.to_dict()["intensity"]) == int(60 // (4 * 60 / tempo))  # type: ignore[arg-type]


def test_intensity_curve_rises_for_builds_and_falls_for_fades() -> None:
    builds = read_prompt("builds to a climax").intensity_curve(16)
    fades = read_prompt("fades out").intensity_curve(16)
    assert builds is not None and fades is not None
    assert all(b > a for a, b in itertools.pairwise(builds))
    assert all(b < a for a, b in itertools.pairwise(fades))
    assert all(0 <= v <= 1 for v in builds + fades)
    swells = read_prompt("swells in the middle").intensity_curve(9)
    assert swells is not None and max(swells) == swells[4]


def test_intensity_curve_from_mood_alone_is_steady_and_none_when_silent() -> None:
    calm, tense = read_prompt("calm").intensity_curve(8), read_prompt("tense").intensity_curve(8)
    assert calm is not None and tense is not None
    assert len(set(calm)) == 1 and len(set(tense)) == 1
    assert calm[0] < tense[0]
    assert read_prompt("piano, 16 bars").intensity_curve(16) is None


def test_two_part_prompt_gives_two_sections() -> None:
    reading = read_prompt("calm, then explosive, 1 minute")
    assert reading.sections is not None
    assert [s.name for s in reading.sections] == ["calm", "explosive"]
    calm, explosive = reading.sections
    assert isinstance(calm.intensity, float) and isinstance(explosive.intensity, float)
    assert calm.intensity < explosive.intensity
    curve = reading.intensity_curve(10)
    assert curve is not None and curve[:5] == [calm.intensity] * 5 and curve[5:] == [explosive.intensity] * 5


def test_cue_dict_sections_sum_to_the_whole() -> None:
    cue = read_prompt("calm, then explosive, 45 seconds").cue_dict()
    sections = cue["sections"]
    assert isinstance(sections, list) and len(sections) == 2
    assert sum(s["seconds"] for s in sections) == pytest.approx(cue["seconds"], abs=1e-9)
    cue = read_prompt("mysterious at first, then heroic, 100 seconds").cue_dict()
    assert sum(s["seconds"] for s in cue["sections"]) == pytest.approx(100.0, abs=1e-9)  # type: ignore[attr-defined]
    cue = read_prompt("starts quiet and ends with a big finale, 32 bars").cue_dict()
    assert [s["bars"] for s in cue["sections"]] == [16, 16]  # type: ignore[attr-defined]
    assert "seconds" not in cue


def test_cue_dict_sections_without_a_whole_leave_the_last_length_out() -> None:
    cue = read_prompt("verse chorus verse chorus, 100 bpm").cue_dict()
    sections = cue["sections"]
    assert isinstance(sections, list)
    assert [s["name"] for s in sections] == ["verse", "chorus", "verse 2", "chorus 2"]
    assert all("bars" in s for s in sections[:-1]) and "bars" not in sections[-1]


def test_section_lengths_give_the_whole() -> None:
    reading = read_prompt("an intro of 8 bars then a chorus of 16 bars, pop")
    assert reading.bars == 24
    assert reading.sections is not None and [(s.name, s.bars) for s in reading.sections] == [
        ("intro", 8),
        ("chorus", 16),
    ]
    assert read_prompt("an intro of 8 bars then a chorus of 16 bars").cue_dict()["sections"] == [
        {"name": "intro", "bars": 8, "intensity": 0.3},
        {"name": "chorus", "bars": 16, "intensity": 0.8},
    ]


def test_sections_that_do_not_fit_the_whole_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="sections last 24 bars but the whole is 16"):
        read_prompt("an intro of 8 bars then a chorus of 16 bars, 16 bars in all")


@pytest.mark.parametrize(
    "prompt",
    [
        ISSUE_PROMPT,
        "calm, then explosive: 1 minute fight music with drums and strings",
        "verse chorus verse chorus, 100 bpm, in D minor, 3/4, no piano, loop",
        "ABA form, happy, 16 bars",
        "piano",
    ],
)
def test_cue_dict_holds_only_keys_of_the_cue_format(prompt: str) -> None:
    cue = read_prompt(prompt).cue_dict()
    assert cue["version"] == 1
    assert set(cue) <= CUE_KEYS
    for section in cue.get("sections", []):  # type: ignore[attr-defined]
        assert set(section) <= CUE_SECTION_KEYS
    names = [s["name"] for s in cue.get("sections", [])]  # type: ignore[attr-defined]
    assert len(names) == len(set(names))
    json.dumps(cue)


def test_cue_dict_leaves_out_what_the_prompt_does_not_say() -> None:
    assert read_prompt("piano").cue_dict() == {"version": 1, "instruments": ["piano"]}
    assert read_prompt("16 bars").cue_dict() == {"version": 1, "sections": [{"name": "main", "bars": 16}]}


def test_describe() -> None:
    lines = read_prompt(ISSUE_PROMPT + ", no drums").describe()
    assert "tempo 140 bpm" in lines
    assert "length 2:00 (120 s)" in lines
    assert "instruments strings, brass" in lines
    assert "not: drums" in lines
    assert "intensity builds" in lines


def test_same_prompt_same_plan() -> None:
    first = json.dumps(read_prompt(ISSUE_PROMPT).to_dict(), sort_keys=True)
    assert json.dumps(read_prompt(ISSUE_PROMPT).to_dict(), sort_keys=True) == first
    assert read_prompt(ISSUE_PROMPT) == read_prompt(ISSUE_PROMPT)


def test_the_reading_is_frozen() -> None:
    reading = read_prompt("piano")
    with pytest.raises(AttributeError):
        reading.tempo = 120.0  # type: ignore[misc]
    assert isinstance(reading, PromptReading)


def test_hostile_text_gives_a_reading_or_a_one_line_refusal() -> None:
    rng = random.Random(15)
    alphabet = "abcdefg #b:/-.,0123456789 minor major bpm bars seconds then no loop ♭♯~&'\t\n\x00é"
    for _ in range(400):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 80)))
        try:
            reading = read_prompt(text)
        except InvalidArgumentError as error:
            assert "\n" not in str(error)
            continue
        json.dumps(reading.to_dict())
        json.dumps(reading.cue_dict())


def _bench() -> object:
    path = Path(__file__).resolve().parents[1] / "bench" / "bench_prompts.py"
    spec = importlib.util.spec_from_file_location("bench_prompts", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_prompts_are_read_as_a_reader_would() -> None:
    """The issue's goal: at least 40 prompts, at least 90 % of their fields right."""
    bench = _bench()
    cases = json.loads((Path(bench.__file__).parent / "prompts.json").read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    assert len(cases) >= 45
    fields = bench.FIELDS  # type: ignore[attr-defined]
    right = 0
    for case in cases:
        assert set(case["expect"]) == set(fields)
        plan = bench.plan_of(read_prompt(case["prompt"]))  # type: ignore[attr-defined]
        right += sum(bench._same(case["expect"][f], plan[f]) for f in fields)  # type: ignore[attr-defined]
    assert right / (len(cases) * len(fields)) >= 0.9


def test_more_sections_than_bars_is_refused() -> None:
    """Each section needs a bar at least: eight parts cannot fit four bars."""
    with pytest.raises(InvalidArgumentError, match="8 sections but only 4 bars"):
        read_prompt("verse chorus verse chorus verse chorus verse chorus, 4 bars")
    cue = read_prompt("verse chorus verse chorus verse chorus verse chorus, 8 bars").cue_dict()
    assert [s["bars"] for s in cue["sections"]] == [1] * 8  # type: ignore[attr-defined]


@pytest.mark.parametrize("prompt", ["1" + "0" * 400 + " bars", "9" * 400 + " bpm", "1" + "0" * 400 + " seconds"])
def test_a_number_too_large_for_a_float_is_refused(prompt: str) -> None:
    with pytest.raises(InvalidArgumentError, match="too large"):
        read_prompt(prompt)


def test_words_with_accents_are_kept_whole() -> None:
    assert read_prompt("café piano, naïve").unused == ("café", "naïve")


def test_excluding_one_of_a_group_leaves_the_rest() -> None:
    """ "orchestra" stands for strings, brass and drums; "no drums" takes the drums out."""
    reading = read_prompt("full orchestra, no drums")
    assert sorted(reading.instruments) == ["brass", "strings"]
    assert reading.exclude_instruments == ("drums",)


def test_sections_named_by_position_words() -> None:
    reading = read_prompt("a calm intro, a tense middle and an explosive ending")
    assert reading.sections is not None
    assert [s.name for s in reading.sections] == ["intro", "middle", "ending"]
    levels = [s.intensity for s in reading.sections]
    assert all(isinstance(v, float) for v in levels)
    assert levels == sorted(levels)  # type: ignore[type-var]
    assert reading.unused == ()


@pytest.mark.parametrize(
    ("prompt", "names"),
    [
        ("quiet piano until the drop, then full band", ["quiet", "drop"]),  # "full band" names no mood: joins the drop
        ("starts quiet, ending on a big chord", ["quiet", "big"]),
        ("sad piano ending with a big finale", ["sad", "finale"]),
        ("gentle opening followed by a heroic theme", ["gentle", "heroic"]),
    ],
)
def test_sequence_words_make_parts(prompt: str, names: list[str]) -> None:
    reading = read_prompt(prompt)
    assert reading.sections is not None
    assert [s.name for s in reading.sections] == names
    assert not {"then", "until", "ending", "starts", "followed"} & set(reading.unused)


def test_a_sequence_of_instruments_alone_is_no_sections() -> None:
    reading = read_prompt("piano, then strings")
    assert reading.sections is None
    assert reading.unused == ("then",)
