"""Textbook voice-leading faults of a four-part (S A T B) texture, per chord change.

The texture is a ``(steps, 4)`` integer array on a 16th-note grid: column 0 the soprano,
1 the alto, 2 the tenor, 3 the bass; a MIDI pitch, or ``-1`` where the voice rests
(the layout of ``Jsb16thSeparated.json``). A pitch held over several steps is one note,
so a repeated note is not a change (as in Coconet's reading of the file).

A **chord change** is a step ``t >= 1`` where at least one voice's value differs from
step ``t - 1`` (a voice entering or falling silent counts). At every chord change, with
``prev`` the sonority at ``t - 1`` and ``cur`` the one at ``t``, and only voices sounding
in the sonorities looked at:

* **parallel fifths**: for each of the 6 pairs of voices, both voices move (each pitch
  changes) in the same direction and ``|upper - lower| mod 12 == 7`` in ``prev`` and in
  ``cur`` (compound fifths included; contrary and oblique fifths are not counted);
* **parallel octaves**: the same with ``|upper - lower| mod 12 == 0`` (unisons and compound
  octaves included);
* **voice crossing**: for each of the 3 pairs of adjacent voices (S–A, A–T, T–B), the
  lower voice strictly above the upper one in ``cur`` (any crossing of non-adjacent
  voices crosses an adjacent pair too);
* **wide spacing**: for each of the 2 pairs of adjacent upper voices (S–A, A–T),
  ``upper - lower > 12`` semitones in ``cur``.

Each fault is counted once per pair and change, so one change can hold several. A rate
is the count divided by the number of chord changes; over a collection the counts are
summed first (a pooled rate). No chord change (an empty piece, one sonority held
throughout): every rate is ``nan``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

import numpy as np
import symusic

from cadenza.errors import InvalidArgumentError

__all__ = ["FAULTS", "VoiceLeading", "voice_leading", "voices_from_jsb", "voices_from_score", "pooled"]

REST = -1
VOICES = 4
STEPS_PER_QUARTER = 4  # the 16th-note grid of JSB
FAULTS = ("parallel_fifths", "parallel_octaves", "voice_crossing", "wide_spacing")
_PAIRS = [(i, j) for i in range(VOICES) for j in range(i + 1, VOICES)]  # (upper, lower)
_ADJACENT = [(0, 1), (1, 2), (2, 3)]
_UPPER_ADJACENT = [(0, 1), (1, 2)]


@dataclass(frozen=True)
class VoiceLeading:
    """Fault counts of one texture (or summed over many) and its chord changes."""

    changes: int = 0
    parallel_fifths: int = 0
    parallel_octaves: int = 0
    voice_crossing: int = 0
    wide_spacing: int = 0

    def rate(self, fault: str) -> float:
        """Faults of kind ``fault`` per chord change; ``nan`` without a change."""
        if fault not in FAULTS:
            raise InvalidArgumentError(f"unknown voice-leading fault {fault!r}; one of {', '.join(FAULTS)}")
        return getattr(self, fault) / self.changes if self.changes else float("nan")

    def rates(self) -> dict[str, float]:
        return {fault: self.rate(fault) for fault in FAULTS}

    def __add__(self, other: VoiceLeading) -> VoiceLeading:
        return VoiceLeading(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


def pooled(counts: Iterable[VoiceLeading]) -> VoiceLeading:
    """The counts of many textures summed (their rates are then pooled rates)."""
    total = VoiceLeading()
    for count in counts:
        total = total + count
    return total


def _check(voices: np.ndarray) -> np.ndarray:
    array = np.asarray(voices, dtype=np.int64)
    if array.size == 0:
        return array.reshape(0, VOICES)
    if array.ndim != 2 or array.shape[1] != VOICES:
        raise InvalidArgumentError(f"a four-part texture is a (steps, 4) array, got shape {array.shape}")
    return array


def voice_leading(voices: np.ndarray) -> VoiceLeading:
    """The faults of a ``(steps, 4)`` S A T B array at its chord changes (module docstring)."""
    array = _check(voices)
    if len(array) < 2:
        return VoiceLeading()
    changed = (array[1:] != array[:-1]).any(axis=1)
    prev, cur = array[:-1][changed], array[1:][changed]
    sounding_prev, sounding_cur = prev != REST, cur != REST
    fifths = octaves = 0
    for upper, lower in _PAIRS:
        both = sounding_prev[:, upper] & sounding_prev[:, lower] & sounding_cur[:, upper] & sounding_cur[:, lower]
        move_upper = np.sign(cur[:, upper] - prev[:, upper])
        move_lower = np.sign(cur[:, lower] - prev[:, lower])
        similar = both & (move_upper != 0) & (move_upper == move_lower)
        before = np.abs(prev[:, upper] - prev[:, lower]) % 12
        after = np.abs(cur[:, upper] - cur[:, lower]) % 12
        fifths += int((similar & (before == 7) & (after == 7)).sum())
        octaves += int((similar & (before == 0) & (after == 0)).sum())
    crossing = sum(int((sounding_cur[:, u] & sounding_cur[:, v] & (cur[:, v] > cur[:, u])).sum()) for u, v in _ADJACENT)
    spacing = sum(
        int((sounding_cur[:, u] & sounding_cur[:, v] & (cur[:, u] - cur[:, v] > 12)).sum()) for u, v in _UPPER_ADJACENT
    )
    return VoiceLeading(int(changed.sum()), fifths, octaves, crossing, spacing)


def voices_from_jsb(steps: Sequence[Sequence[float]]) -> np.ndarray:
    """A piece of ``Jsb16thSeparated.json`` (a list of 16th steps of 4 pitches, -1 a rest;
    a step with fewer than 4 values rests in the missing voices) as a ``(steps, 4)`` array."""
    array = np.full((len(steps), VOICES), REST, dtype=np.int64)
    for index, step in enumerate(steps):
        values = [int(p) for p in step][:VOICES]
        array[index, : len(values)] = values
    array[array < 0] = REST
    return array


def voices_from_score(score: symusic.Score) -> np.ndarray:
    """The first four tracks of ``score`` (S, A, T, B in that order) sampled on the 16th
    grid (``tpq / 4`` ticks): the pitch sounding at each step's start, ``-1`` where none.
    Where a track sounds several notes at once, the one begun last is its voice (the
    highest of those begun together). A missing track rests throughout."""
    tick = score if type(score).__name__ == "ScoreTick" else score.to("tick")
    step = max(1, tick.ticks_per_quarter // STEPS_PER_QUARTER)
    tracks = list(tick.tracks)[:VOICES]
    end = max((int(t.end()) for t in tracks if len(t.notes)), default=0)
    count = -(-end // step)
    array = np.full((count, VOICES), REST, dtype=np.int64)
    for voice, track in enumerate(tracks):
        notes = track.notes.numpy()
        if len(notes["time"]) == 0:
            continue
        onset = notes["time"].astype(np.int64)
        offset = onset + notes["duration"].astype(np.int64)
        # later onsets, then higher pitches, win: write them last
        for k in np.lexsort((notes["pitch"], onset)):
            first = -(-int(onset[k]) // step)
            last = -(-int(offset[k]) // step)  # the steps whose start lies in [onset, offset)
            if last > first:
                array[first:last, voice] = int(notes["pitch"][k])
    return array
