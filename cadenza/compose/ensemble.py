"""Arranging a user's music for an ensemble: every note given to one of its parts.

Nothing is composed: the notes (onsets, lengths, loudness) are the user's, moved to the
parts. At each onset the notes that start there are dealt out from the top down: with
as many notes as parts or more, in order (the top note to the highest part, the bottom
one to the lowest, the inner ones shared by the inner parts, a part taking several as a
chord); with fewer, to the parts whose last note lies nearest (dynamic programming that
keeps the order, so parts do not cross where they need not), a part still holding a
note costing more. A part plays one line: a note ends where the part's next onset
begins. Music that already is as many single lines as there are parts (a chorale for
a string quartet) keeps its lines, the highest to the highest-lying instrument. Then
each part is moved by octaves into its instrument's range. The tracks' controllers and
pedals stay behind: they belonged to the instruments the music leaves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import symusic

from cadenza.compose.conditions import INSTRUMENTS, Instrument
from cadenza.compose.conditions import choice as _choice
from cadenza.compose.edit import Edit
from cadenza.compose.sketch import Sketch
from cadenza.errors import InvalidArgumentError
from cadenza.io.midi import untangle

__all__ = ["arrange", "arrange_for", "ensemble"]

MAX_PARTS = 16
_BUSY_COST = 24.0  # semitones' worth: a part still holding a note is a worse home for a new one
_RANGE_COST = 2.0  # per semitone a note would lie outside a part's range


def ensemble(names: Sequence[str]) -> list[Instrument]:
    """Instruments by name, in the order given; an unknown one is refused with the list."""
    chosen = [INSTRUMENTS[_choice(n.strip().lower(), list(INSTRUMENTS), "instrument")] for n in names if n.strip()]
    if not chosen:
        raise InvalidArgumentError("--instruments needs at least one instrument, e.g. violin,viola,cello")
    if len(chosen) > MAX_PARTS:
        raise InvalidArgumentError(f"at most {MAX_PARTS} instruments, got {len(chosen)}")
    return chosen


def _part_names(instruments: Sequence[Instrument]) -> list[str]:
    """ "violin 1", "violin 2" where an instrument is named twice."""
    counts = {i.name: sum(j.name == i.name for j in instruments) for i in instruments}
    seen: dict[str, int] = {}
    out = []
    for instrument in instruments:
        seen[instrument.name] = seen.get(instrument.name, 0) + 1
        out.append(instrument.name if counts[instrument.name] == 1 else f"{instrument.name} {seen[instrument.name]}")
    return out


def _outside(pitch: int, instrument: Instrument) -> int:
    return max(0, instrument.low - pitch, pitch - instrument.high)


def _choose_parts(
    pitches: list[int], order: list[int], last: list[float], busy: list[bool], parts: list[Instrument]
) -> list[int]:
    """The part (index into ``parts``) of each pitch (highest first), keeping their order."""
    k, n = len(pitches), len(order)
    if k >= n:
        return [order[i * n // k] for i in range(k)]
    cost = np.full((k + 1, n + 1), np.inf)
    cost[0, :] = 0.0
    take = np.zeros((k + 1, n + 1), dtype=bool)
    for i in range(1, k + 1):
        for j in range(i, n + 1):
            part = order[j - 1]
            here = abs(pitches[i - 1] - last[part]) + _BUSY_COST * busy[part]
            here += _RANGE_COST * _outside(pitches[i - 1], parts[part])
            use = cost[i - 1, j - 1] + here
            skip = cost[i, j - 1]
            take[i, j] = use <= skip
            cost[i, j] = min(use, skip)
    chosen, i, j = [], k, n
    while i > 0:
        if take[i, j]:
            chosen.append(order[j - 1])
            i -= 1
        j -= 1
    return chosen[::-1]


def _lines(score: symusic.Score, count: int) -> list[list[symusic.Note]] | None:
    """The tracks as the parts' lines, highest first, when the music already is ``count``
    single lines (a chorale's voices for a quartet); else None."""
    tracks = [t for t in score.tracks if not t.is_drum and len(t.notes)]
    if len(tracks) != count:
        return None
    for track in tracks:
        times = track.notes.numpy()["time"]
        if len(times) > 1.05 * len(np.unique(times)):
            return None
    tracks.sort(key=lambda t: -float(np.mean(t.notes.numpy()["pitch"])))
    return [[n.copy() for n in t.notes] for t in tracks]


def _dealt(score: symusic.Score, instruments: Sequence[Instrument]) -> list[list[symusic.Note]]:
    """Every note dealt to a part, onset by onset (module docstring); parts by ``instruments``' order."""
    notes = sorted(
        ((n.time, -n.pitch, n.duration, n.velocity) for t in score.tracks if not t.is_drum for n in t.notes),
    )
    order = sorted(range(len(instruments)), key=lambda p: -(instruments[p].low + instruments[p].high))
    last = [(i.low + i.high) / 2 for i in instruments]
    ends = [0] * len(instruments)
    parts: list[list[symusic.Note]] = [[] for _ in instruments]
    sounding: list[list[symusic.Note]] = [[] for _ in instruments]  # each part's notes not yet ended
    index = 0
    while index < len(notes):
        onset = notes[index][0]
        group = []
        while index < len(notes) and notes[index][0] == onset:
            group.append(notes[index])
            index += 1
        pitches = [-g[1] for g in group]
        busy = [ends[p] > onset for p in range(len(instruments))]
        for (_, minus_pitch, duration, velocity), part in zip(
            group, _choose_parts(pitches, order, last, busy, list(instruments)), strict=True
        ):
            for held in sounding[part]:  # one line: what the part still holds ends here
                if held.time < onset < held.time + held.duration:
                    held.duration = onset - held.time
            note = symusic.Note(onset, duration, -minus_pitch, velocity)
            parts[part].append(note)
            sounding[part] = [n for n in sounding[part] if n.time + n.duration > onset] + [note]
            last[part] = -minus_pitch
            ends[part] = max(ends[part], onset + duration)
    return parts


def arrange_for(score: symusic.Score, instruments: Sequence[Instrument]) -> symusic.Score:
    """``score`` (tick time) with its pitched tracks replaced by one part per instrument,
    in the order given; drum tracks, tempos, meters, keys and markers are kept. Music
    that already is as many single lines as there are parts keeps its lines: the highest
    to the highest-lying instrument, and so down."""
    score = score if type(score).__name__ == "ScoreTick" else score.to("tick")
    lines = _lines(score, len(instruments))
    if lines is None:
        parts = _dealt(score, instruments)
    else:
        by_register = sorted(range(len(instruments)), key=lambda p: -(instruments[p].low + instruments[p].high))
        parts = [[] for _ in instruments]
        for line, part in zip(lines, by_register, strict=True):
            parts[part] = line
    out = score.copy()
    drums = [t for t in out.tracks if t.is_drum]
    out.tracks.clear()
    for instrument, name, line in zip(instruments, _part_names(instruments), parts, strict=True):
        track = symusic.Track(name=name, program=instrument.program)
        for note in line:
            while note.pitch < instrument.low and note.pitch + 12 <= 127:
                note.pitch += 12
            while note.pitch > instrument.high and note.pitch - 12 >= 0:
                note.pitch -= 12
        track.notes.extend(untangle(line))
        out.tracks.append(track)
    for drum in drums:
        out.tracks.append(drum)
    return out


def arrange(sketch: Sketch, instruments: Sequence[Instrument]) -> Edit:
    """The arrangement of a user's sketch as an :class:`~cadenza.compose.edit.Edit`: new
    parts, nothing composed (:func:`arrange_for`)."""
    score = arrange_for(sketch.score, instruments)
    settings: dict[str, object] = {"instruments": [i.name for i in instruments]}
    return Edit("arrange", score, (), (), settings, sketch.bar_ticks, in_place=False)
