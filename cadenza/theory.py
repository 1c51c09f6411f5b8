"""Music theory that every package asks: pitch names, keys, scales, key signatures, chords.

Pitch classes are integers 0..11 (C = 0). A key is a tonic pitch class and a mode,
``"maj"`` or ``"min"``; its label (the spelling in tokens, labels and records) is
``"Eb:maj"``, with the tonic from :data:`PITCH_NAMES`. The analysis names keys the way
musicians do (:func:`key_name`: ``"Db:maj"``, ``"G#:min"``), by the key signature with
the fewest accidentals. This module imports nothing from cadenza but its errors.
"""

from __future__ import annotations

import re

from cadenza.errors import InvalidArgumentError

__all__ = [
    "PITCH_NAMES",
    "MODES",
    "SCALES",
    "KEY_SCALES",
    "QUALITIES",
    "parse_pitch_class",
    "parse_key",
    "key_label",
    "key_name",
    "key_signature",
    "key_signature_name",
    "parse_chord",
]

# One name per pitch class: the spelling of key and chord labels (and of the Key_ tokens
# that trained models know, so it must not change).
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MODES = ("maj", "min")
_LETTERS = "CDEFGAB"
_LETTER_PC = (0, 2, 4, 5, 7, 9, 11)
_ACCIDENTAL = {"": 0, "#": 1, "♯": 1, "b": -1, "♭": -1, "sharp": 1, "flat": -1}

# Scales and modes as semitones above the tonic.
SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "natural minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
    "melodic minor": (0, 2, 3, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
    "major pentatonic": (0, 2, 4, 7, 9),
    "minor pentatonic": (0, 3, 5, 7, 10),
}
# The pitch classes a melody in a key may use: in minor the natural minor scale plus
# the leading tone (the raised 7th that a cadence needs).
KEY_SCALES: dict[str, tuple[int, ...]] = {
    "maj": SCALES["major"],
    "min": (*SCALES["natural minor"], 11),
}

# Chord quality (Harte shorthand) -> semitones above the root.
QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "hdim7": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
}

_TONIC = r"([A-G])(?:(?-i:([#♯b♭]))|[\s-]*(sharp|flat)\b)?"  # matched ignoring case but "b"
_KEY = re.compile(rf"\s*{_TONIC}\s*(?:[:\s-]\s*)?(major|maj|minor|min|m|M)?\s*", re.IGNORECASE)
_KEY_ACCEPTED = (
    "a tonic A-G (either case) with an optional #, b, 'sharp' or 'flat', then an optional "
    "mode: major, maj or M; minor, min or m (no mode: major); e.g. 'D minor', 'f# m', "
    "'Bb major', 'bb minor' (B-flat minor), 'Eb:min', 'C sharp minor'"
)


_LONGEST_NAME = 40  # "C sharp minor" is 13 characters; the regexes backtrack on long runs of spaces


def _normal(text: str) -> str | None:
    """``text`` with its runs of white space made one space and its ends stripped, or
    None when that is longer than any pitch, key or chord name (so the regexes below
    never see the long runs of spaces they would backtrack over for minutes)."""
    text = " ".join(text.split())
    return text if len(text) <= _LONGEST_NAME else None


def _tonic_pc(letter: str, accidental: str | None) -> int:
    return (_LETTER_PC[_LETTERS.index(letter.upper())] + _ACCIDENTAL[(accidental or "").lower()]) % 12


def parse_pitch_class(text: str) -> int:
    """``"C"`` -> 0, ``"f#"`` -> 6, ``"Bb"`` / ``"b-flat"`` -> 10, ``"Cb"`` -> 11."""
    normal = _normal(text)
    match = None if normal is None else re.fullmatch(_TONIC, normal, re.IGNORECASE)
    if not match:
        raise InvalidArgumentError(
            f"pitch name {text[:60]!r} not understood; write a letter A-G with an optional # or b"
        )
    return _tonic_pc(match.group(1), match.group(2) or match.group(3))


def parse_key(text: str) -> tuple[int, str]:
    """A key as a user or a label writes it -> (tonic pitch class, ``"maj"`` | ``"min"``).

    The first character is the tonic letter, in either case; one accidental may follow
    it (``#``/``♯`` or ``b``/``♭``, or the words ``sharp``/``flat``), then an optional
    separator (space, ``:`` or ``-``) and an optional mode. The mode words are
    case-insensitive (``major``, ``maj``, ``minor``, ``min``); of the one-letter forms,
    ``m`` is minor and ``M`` major, as in chord symbols. No mode means major. So
    ``"D Minor"`` and ``"d minor"`` are D minor, ``"bb minor"`` and ``"Bbm"`` are B-flat
    minor, ``"b"`` is B major, ``"F#"`` F-sharp major, ``"f# m"`` F-sharp minor, and
    ``"Gb:maj"`` (the labels cadenza writes) G-flat major. Anything else raises
    :class:`InvalidArgumentError` saying what is accepted.
    """
    normal = _normal(text)
    match = None if normal is None else _KEY.fullmatch(normal)
    if not match:
        raise InvalidArgumentError(f"key {text[:60]!r} not understood; accepted: {_KEY_ACCEPTED}")
    letter, accidental, word, mode = match.groups()
    is_minor = mode is not None and (mode == "m" or mode.lower().startswith("min"))
    return _tonic_pc(letter, accidental or word), "min" if is_minor else "maj"


def key_label(tonic: int, mode: str) -> str:
    """The canonical label of a key, e.g. ``key_label(3, "maj") == "Eb:maj"``."""
    return f"{PITCH_NAMES[tonic % 12]}:{mode}"


def _signatures(tonic: int, mode: str) -> list[int]:
    """The one or two key signatures (sharps +, flats −, within ±7) of this key."""
    relative_major = (tonic + 3) % 12 if mode == "min" else tonic % 12
    sharps = relative_major * 7 % 12  # each sharp moves the major tonic up a fifth
    return [s for s in (sharps, sharps - 12) if -7 <= s <= 7]


def key_signature(tonic: int, mode: str) -> int:
    """Sharps (+) or flats (−) of the key signature with the fewest accidentals.

    F-sharp major and D-sharp minor (six either way) get six sharps.
    """
    return min(_signatures(tonic, mode), key=lambda s: (abs(s), -s))


def key_signature_name(sharps: int, minor: bool) -> str:
    """The key a signature stands for: ``key_signature_name(-3, False) == "Eb major"``,
    ``key_signature_name(7, True) == "A# minor"``; beyond ±7, ``"+9 accidentals"``."""
    if not -7 <= sharps <= 7:
        return f"{sharps:+d} accidentals"
    # each sharp moves the tonic up a fifth: four letters, seven semitones
    letter = (4 * sharps + (5 if minor else 0)) % 7
    pc = (7 * sharps + (9 if minor else 0)) % 12
    offset = (pc - _LETTER_PC[letter] + 6) % 12 - 6
    accidental = "#" * offset if offset > 0 else "b" * -offset
    return f"{_LETTERS[letter]}{accidental} {'minor' if minor else 'major'}"


def key_name(tonic: int, mode: str) -> str:
    """The key as musicians spell it, from the signature with the fewest accidentals
    (six either way: flats): ``key_name(1, "maj") == "Db:maj"``, ``key_name(8, "min") ==
    "G#:min"``, ``key_name(6, "maj") == "Gb:maj"``."""
    sharps = min(_signatures(tonic, mode), key=lambda s: (abs(s), s))
    return f"{key_signature_name(sharps, mode == 'min').split()[0]}:{mode}"


def parse_chord(label: str) -> tuple[int, str] | None:
    """A Harte label (``"A:min7"``, ``"C:maj/3"``, ``"Db:7"``) -> (root pitch class, quality);
    ``"N"`` (no chord) -> None. The quality must be one of :data:`QUALITIES`; an inversion
    (``/3``, ``/b7``) is accepted and left out."""
    normal = _normal(label) or ""
    if normal == "N":
        return None
    root, sep, rest = normal.partition(":")
    quality = rest.split("/")[0] if sep else "maj"
    match = re.fullmatch(_TONIC, root, re.IGNORECASE)
    if not match or quality not in QUALITIES:
        raise InvalidArgumentError(
            f"chord {label[:60]!r} not understood; write ROOT:QUALITY like 'A:min' or 'N' (no chord), "
            f"the quality one of {', '.join(QUALITIES)}"
        )
    return _tonic_pc(match.group(1), match.group(2) or match.group(3)), quality


def chord_pitch_classes(label: str | None) -> frozenset[int]:
    """The pitch classes of a chord label (``"A:min7"`` -> {9, 0, 4, 7}); "N" or None: none."""
    parsed = parse_chord(label) if label is not None else None
    if parsed is None:
        return frozenset()
    root, quality = parsed
    return frozenset((root + step) % 12 for step in QUALITIES[quality])
