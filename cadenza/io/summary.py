"""What a file says about itself: the facts behind ``cadenza info``.

These are read off the file's own metadata (tempo map, signatures, programs), not
estimated; :mod:`cadenza.analysis` estimates what the notes imply.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import symusic

__all__ = ["TrackSummary", "ScoreSummary", "bar_count", "summarize", "instrument_name", "key_signature_name"]

_SHARP_MAJOR = ["C", "G", "D", "A", "E", "B", "F#", "C#"]
_FLAT_MAJOR = ["C", "F", "Bb", "Eb", "Ab", "Db", "Gb", "Cb"]
_SHARP_MINOR = ["A", "E", "B", "F#", "C#", "G#", "D#", "A#"]
_FLAT_MINOR = ["A", "D", "G", "C", "F", "Bb", "Eb", "Ab"]


def instrument_name(program: int, is_drum: bool = False) -> str:
    """The General MIDI name of a program number (0-127)."""
    if is_drum:
        return "Drums"
    from pretty_midi.constants import INSTRUMENT_MAP

    return INSTRUMENT_MAP[program] if 0 <= program < len(INSTRUMENT_MAP) else f"Program {program}"


def key_signature_name(sharps: int, minor: bool) -> str:
    """``key_signature_name(-3, False)`` is ``'Eb major'``."""
    if not -7 <= sharps <= 7:
        return f"{sharps:+d} accidentals"
    names = (_SHARP_MINOR if sharps >= 0 else _FLAT_MINOR) if minor else (_SHARP_MAJOR if sharps >= 0 else _FLAT_MAJOR)
    return f"{names[abs(sharps)]} {'minor' if minor else 'major'}"


@dataclass(frozen=True)
class TrackSummary:
    name: str
    program: int
    instrument: str
    is_drum: bool
    notes: int


@dataclass(frozen=True)
class ScoreSummary:
    tracks: list[TrackSummary]
    notes: int
    seconds: float
    bars: int
    ticks_per_quarter: int
    tempos_bpm: list[float]
    time_signatures: list[str]
    key_signatures: list[str]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def bar_count(score: symusic.Score) -> int:
    """Bars from the start to the end of the music, as the time signatures lay them out
    (4/4 before the first; each signature starts a bar), in one pass over the
    signatures. ``len(score.get_downbeats())`` gives the same count on ordinary files
    (all of POP909) but takes time quadratic in the number of signatures."""
    end = int(score.end())
    signatures = score.time_signatures.numpy()
    order = np.argsort(signatures["time"], kind="stable")
    times = signatures["time"][order].astype(np.int64)
    numerators = signatures["numerator"][order].astype(np.float64)
    denominators = signatures["denominator"][order].astype(np.float64)
    if times.size == 0 or times[0] > 0:
        times, numerators, denominators = np.r_[0, times], np.r_[4.0, numerators], np.r_[4.0, denominators]
    stops = np.minimum(np.r_[times[1:], end], end)
    bar = score.tpq * 4 * numerators / np.maximum(denominators, 1)
    spans = np.maximum(stops - times, 0)
    return int(
        sum(
            math.ceil(span / length)
            for span, length in zip(spans.tolist(), bar.tolist(), strict=True)
            if span > 0 and length > 0
        )
    )


def summarize(score: symusic.Score) -> ScoreSummary:
    """Counts, length and the tempo, meter and key signatures a Score carries."""
    tracks = [
        TrackSummary(
            name=track.name,
            program=track.program,
            instrument=instrument_name(track.program, track.is_drum),
            is_drum=track.is_drum,
            notes=len(track.notes),
        )
        for track in score.tracks
    ]
    notes = sum(t.notes for t in tracks)
    seconds = float(score.to("second").end()) if notes else 0.0
    bars = bar_count(score) if notes else 0
    tempos = sorted({round(t.qpm, 2) for t in score.tempos}) or [120.0]
    meters = list(dict.fromkeys(f"{s.numerator}/{s.denominator}" for s in score.time_signatures)) or ["4/4"]
    keys = list(dict.fromkeys(key_signature_name(k.key, bool(k.tonality)) for k in score.key_signatures))
    return ScoreSummary(tracks, notes, seconds, bars, score.tpq, tempos, meters, keys)
