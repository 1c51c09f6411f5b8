"""cadenza.theory: the one owner of pitch names, keys, scales and key signatures."""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path

import pytest

from cadenza.errors import InvalidArgumentError
from cadenza.theory import (
    KEY_SCALES,
    MODES,
    PITCH_NAMES,
    QUALITIES,
    SCALES,
    key_label,
    key_name,
    key_signature,
    key_signature_name,
    parse_chord,
    parse_key,
    parse_pitch_class,
)

PACKAGE = Path(__file__).resolve().parents[1] / "cadenza"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("D minor", (2, "min")),
        ("D Minor", (2, "min")),  # refused before: the mode word was case-sensitive
        ("d minor", (2, "min")),
        ("D MINOR", (2, "min")),
        ("A:MIN", (9, "min")),
        ("D-minor", (2, "min")),
        ("Bb major", (10, "maj")),
        ("bb minor", (10, "min")),  # the first letter is the tonic, the second b a flat
        ("Bbm", (10, "min")),
        ("B flat minor", (10, "min")),
        ("c sharp minor", (1, "min")),
        ("C♯m", (1, "min")),
        ("E♭", (3, "maj")),
        ("b", (11, "maj")),
        ("bm", (11, "min")),
        ("F#", (6, "maj")),
        ("f# m", (6, "min")),
        ("F#M", (6, "maj")),  # capital M is major, as in chord symbols
        ("Gb:maj", (6, "maj")),
        ("Eb:min", (3, "min")),
        ("Cb", (11, "maj")),
        ("E#", (5, "maj")),
        ("  g  ", (7, "maj")),
    ],
)
def test_parse_key_accepts_the_usual_spellings_in_any_case(text: str, expected: tuple[int, str]) -> None:
    assert parse_key(text) == expected


GARBAGE = ["", "H minor", "BB", "C##", "b b", "D dorian", "Dmin or", "C#b", "minor", "Bb majorly"]


@pytest.mark.parametrize("text", GARBAGE)
def test_parse_key_refuses_garbage_and_says_what_is_accepted(text: str) -> None:
    with pytest.raises(InvalidArgumentError) as error:
        parse_key(text)
    message = str(error.value)
    assert repr(text) in message and "accepted" in message
    assert all(word in message for word in ("major", "minor", "#", "'D minor'", "'bb minor'"))


def test_every_key_label_and_key_name_parses_back_to_its_key() -> None:
    for mode in MODES:
        for tonic in range(12):
            assert parse_key(key_label(tonic, mode)) == (tonic, mode)
            assert parse_key(key_name(tonic, mode)) == (tonic, mode)
            sharps = key_signature(tonic, mode)
            assert parse_key(key_signature_name(sharps, mode == "min")) == (tonic, mode)


def test_key_names_follow_the_signature_with_fewest_accidentals() -> None:
    major = [key_name(t, "maj").split(":")[0] for t in range(12)]
    minor = [key_name(t, "min").split(":")[0] for t in range(12)]
    assert major == ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"]
    assert minor == ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"]
    assert key_label(1, "maj") == "C#:maj" and key_label(8, "min") == "Ab:min"  # labels use PITCH_NAMES


def test_key_signatures() -> None:
    sharps_major = ["C", "G", "D", "A", "E", "B", "F#", "C#"]
    flats_major = ["C", "F", "Bb", "Eb", "Ab", "Db", "Gb", "Cb"]
    sharps_minor = ["A", "E", "B", "F#", "C#", "G#", "D#", "A#"]
    flats_minor = ["A", "D", "G", "C", "F", "Bb", "Eb", "Ab"]
    for n in range(8):
        assert key_signature_name(n, False) == f"{sharps_major[n]} major"
        assert key_signature_name(-n, False) == f"{flats_major[n]} major"
        assert key_signature_name(n, True) == f"{sharps_minor[n]} minor"
        assert key_signature_name(-n, True) == f"{flats_minor[n]} minor"
    assert key_signature_name(9, False) == "+9 accidentals"
    assert [key_signature(t, "maj") for t in range(12)] == [0, -5, 2, -3, 4, -1, 6, 1, -4, 3, -2, 5]
    assert key_signature(3, "min") == 6 and key_signature(9, "min") == 0 and key_signature(5, "min") == -4


def test_scales() -> None:
    major = SCALES["major"]
    church = ["major", "dorian", "phrygian", "lydian", "mixolydian", "natural minor", "locrian"]
    for degree, name in enumerate(church):  # the church modes are the major scale from each degree
        rotated = sorted((p - major[degree]) % 12 for p in major)
        assert SCALES[name] == tuple(rotated), name
    assert set(SCALES["major pentatonic"]) < set(major)
    assert KEY_SCALES["maj"] == major and KEY_SCALES["min"] == (*SCALES["natural minor"], 11)


def test_pitch_classes_and_chords() -> None:
    assert [parse_pitch_class(n) for n in PITCH_NAMES] == list(range(12))
    assert parse_pitch_class("b-flat") == 10 and parse_pitch_class("Cb") == 11
    assert parse_chord("A:min7/b3") == (9, "min7") and parse_chord("Db:7") == (1, "7") and parse_chord("N") is None
    assert parse_chord("G") == (7, "maj")
    for bad in ("H:maj", "C:minor9", "C#b:maj"):
        with pytest.raises(InvalidArgumentError, match=re.escape(repr(bad))):
            parse_chord(bad)
    assert all(intervals[0] == 0 for intervals in QUALITIES.values())


def test_theory_imports_nothing_from_cadenza_but_its_errors() -> None:
    tree = ast.parse((PACKAGE / "theory.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert {m for m in imported if m and m.startswith("cadenza")} == {"cadenza.errors"}


def test_no_other_module_keeps_its_own_pitch_name_or_scale_table() -> None:
    tables = re.compile(r'"C#",\s*"D"|"Db",\s*"D"|"F#",\s*"C#"|"Bb",\s*"Eb"|\(0,\s*2,\s*4,\s*5,\s*7,\s*9,\s*11\)')
    owners = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "theory.py" and tables.search(path.read_text())
    ]
    assert owners == []


@pytest.mark.parametrize("parse", [parse_key, parse_pitch_class, parse_chord], ids=lambda f: f.__name__)
@pytest.mark.parametrize("text", ["C" + " " * 20_000 + "!", " " * 20_000 + "!", "C" + " -" * 20_000 + "x"])
def test_long_runs_of_spaces_are_refused_at_once(parse, text: str) -> None:  # type: ignore[no-untyped-def]
    """The key regex backtracked cubically over spaces: 'C' and 2,000 spaces took 31 s."""
    started = time.process_time()
    with pytest.raises(InvalidArgumentError) as error:
        parse(text)
    assert time.process_time() - started < 1.0
    assert len(str(error.value)) < 600  # the text is quoted shortened


def test_white_space_inside_a_name_is_read_as_one_space() -> None:
    assert parse_key("  C   sharp \t minor ") == (1, "min") and parse_pitch_class(" b  flat ") == 10
