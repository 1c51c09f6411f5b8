"""A pad layer written by rule: each bar's chord held through the bar, smoothly voiced.

The model's harmony track plays the chords in a rhythm; a pad is the other thing a
cue's bed needs, a held sound that must make sense alone (a stem, or the only layer at
the lowest intensity): no gap between bars, every chord tone there, voices that move as
little as they can. So it is not learned but voiced like a keyboard player would:

* the bar's chord (:func:`cadenza.theory.chord_pitch_classes`); a bar without one
  ("N" or None) holds the chord before it, or at the start the key's tonic triad;
* one note per chord tone (a triad in three voices, a seventh chord in four), inside
  ``[low, high]`` and spanning at most an octave;
* of those voicings, the one that moves least from the previous bar's (the summed
  semitones of the voices, matched low to high; between three and four voices each
  note to its nearest), ties going to the one nearest the middle of the range;
  the first bar takes the voicing nearest the middle;
* each note lasts the whole bar; when the next bar has the same voicing the notes are
  held on (one longer note), except at a section's first bar, which is struck again
  so that a section can be cut out and re-sequenced on its own;
* the velocity follows the bar's intensity, softly (40 .. 90).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import symusic

from cadenza.compose.bar_grid import GridBar, check_bars
from cadenza.errors import InvalidArgumentError
from cadenza.theory import chord_pitch_classes

__all__ = ["pad_track", "voicings", "movement"]

TONIC_TRIADS = {"maj": (0, 4, 7), "min": (0, 3, 7)}
MAX_SPAN = 12  # semitones from a voicing's lowest note to its highest
VELOCITY_RANGE = (40, 90)  # at intensity 0 and 1

Voicing = tuple[int, ...]


def voicings(pitch_classes: frozenset[int], low: int, high: int) -> list[Voicing]:
    """Every voicing of the pitch classes, one note each, sorted low to high, inside
    ``[low, high]`` and spanning at most :data:`MAX_SPAN` semitones."""
    options = [[p for p in range(low, high + 1) if p % 12 == pc] for pc in sorted(pitch_classes)]
    found = {tuple(sorted(chord)) for chord in itertools.product(*options) if max(chord) - min(chord) <= MAX_SPAN}
    return sorted(found)


def movement(before: Voicing, after: Voicing) -> int:
    """Semitones the voices move from ``before`` to ``after``: matched low to high when
    both have as many notes; else each note of either to the nearest of the other."""
    if len(before) == len(after):
        return sum(abs(a - b) for a, b in zip(before, after, strict=True))
    return sum(min(abs(a - b) for b in before) for a in after) + sum(min(abs(a - b) for a in after) for b in before)


def _next_voicing(pitch_classes: frozenset[int], previous: Voicing | None, low: int, high: int) -> Voicing:
    middle = (low + high) / 2

    def rank(v: Voicing) -> tuple[float, ...]:
        moved = 0 if previous is None else movement(previous, v)
        return (moved, abs(sum(v) / len(v) - middle), max(v) - min(v), *v)

    return min(voicings(pitch_classes, low, high), key=rank)


def pad_track(bars: Sequence[GridBar], program: int, name: str = "pad", low: int = 48, high: int = 79) -> symusic.Track:
    """Held chords of ``bars`` on GM ``program`` (module docstring). Raises
    :class:`InvalidArgumentError` for a program or range outside MIDI, a range under an
    octave (a chord would not fit), an unknown chord label, or a grid
    :func:`cadenza.compose.bar_grid.check_bars` refuses."""
    if not 0 <= program <= 127:
        raise InvalidArgumentError(f"pad program {program} is not a General MIDI program 0..127")
    if not 0 <= low <= high <= 127 or high - low < 12:
        raise InvalidArgumentError(
            f"pad range {low}..{high} must lie in MIDI pitches 0..127 and span an octave or more"
        )
    check_bars(bars)
    held: list[list[int]] = []  # [start, duration, pitch, velocity]: symusic copies notes on append
    pitch_classes: frozenset[int] = frozenset()
    voicing: Voicing | None = None
    for bar in bars:
        pitch_classes = chord_pitch_classes(bar.chord) or pitch_classes
        if not pitch_classes:
            pitch_classes = frozenset((bar.tonic + step) % 12 for step in TONIC_TRIADS[bar.mode])
        chosen = _next_voicing(pitch_classes, voicing, low, high)
        if chosen == voicing and not bar.section_start:
            for note in held[-len(chosen) :]:
                note[1] += bar.ticks
            continue
        soft, loud = VELOCITY_RANGE
        velocity = round(soft + (loud - soft) * bar.intensity)
        held += [[bar.start, bar.ticks, pitch, velocity] for pitch in chosen]
        voicing = chosen
    track = symusic.Track(name=name, program=program)
    track.notes.extend([symusic.Note(*note) for note in held])
    return track
