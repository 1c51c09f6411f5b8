"""Which tracks leave their instrument's range: for a command that wrote parts for an
ensemble to check what it wrote, and for a user's own parts to be reported, never moved.

The ranges come from the caller's instrument table (``cadenza.compose.conditions.INSTRUMENTS``,
which sits above this package): ``out_of_range(score, INSTRUMENTS.values())``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import symusic

__all__ = ["Ranged", "out_of_range"]


class Ranged(Protocol):
    """An instrument as the table states it: its General MIDI program and the lowest
    and highest MIDI pitch it plays well."""

    @property
    def program(self) -> int: ...

    @property
    def low(self) -> int: ...

    @property
    def high(self) -> int: ...


def out_of_range(score: symusic.Score, instruments: Iterable[Ranged]) -> list[tuple[int, int]]:
    """``[(track index, notes outside its range)]`` for each track, drums aside, whose
    program is one of ``instruments`` and that has notes outside that instrument's
    range; tracks of other programs are not judged. In track order; empty when all fit."""
    ranges: dict[int, tuple[int, int]] = {}
    for instrument in instruments:
        ranges.setdefault(instrument.program, (instrument.low, instrument.high))
    found = []
    for index, track in enumerate(score.tracks):
        if track.is_drum or track.program not in ranges or not len(track.notes):
            continue
        low, high = ranges[track.program]
        pitches = track.notes.numpy()["pitch"]
        outside = int(((pitches < low) | (pitches > high)).sum())
        if outside:
            found.append((index, outside))
    return found
