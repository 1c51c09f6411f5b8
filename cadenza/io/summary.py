"""What a file says about itself: the facts behind ``cadenza info``.

These are read off the file's own metadata (tempo map, signatures, programs), not
estimated; :mod:`cadenza.analysis` estimates what the notes imply.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import symusic

from cadenza.analysis.bars import bar_count, meter_changes
from cadenza.theory import key_signature_name

__all__ = ["TrackSummary", "ScoreSummary", "bar_count", "summarize", "instrument_name", "key_signature_name"]

__all__ = ["TrackSummary", "ScoreSummary", "summarize", "instrument_name", "key_signature_name"]


def instrument_name(program: int, is_drum: bool = False) -> str:
    """The General MIDI name of a program number (0-127)."""
    if is_drum:
        return "Drums"
    from pretty_midi.constants import INSTRUMENT_MAP

    return INSTRUMENT_MAP[program] if 0 <= program < len(INSTRUMENT_MAP) else f"Program {program}"


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
    bars = bar_count(score)
    tempos = sorted({round(t.qpm, 2) for t in score.tempos}) or [120.0]
    meters = list(dict.fromkeys(f"{n}/{d}" for _, n, d in meter_changes(score)))
    keys = list(dict.fromkeys(key_signature_name(k.key, bool(k.tonality)) for k in score.key_signatures))
    return ScoreSummary(tracks, notes, seconds, bars, score.tpq, tempos, meters, keys)
