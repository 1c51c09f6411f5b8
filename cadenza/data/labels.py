"""Labels of a piece: key, tempo, meter, density, instruments, and a mood estimate.

The mood is a heuristic, not a measurement of how music feels: valence comes from the
mode (major +, minor −) and how consonant the harmony is; arousal from tempo, note
density and loudness. The four quadrants are named calm (+valence, −arousal), happy
(+, +), sad (−, −) and tense (−, +).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import symusic

from cadenza.io.notation_grid import Meter
from cadenza.theory import PITCH_NAMES, key_label, parse_key

__all__ = [
    "PieceLabels",
    "MOODS",
    "PITCH_CLASS_NAMES",
    "compute_labels",
    "parse_key",
    "key_label",
    "mood_of",
]

# Kept here for the modules that import them from labels; cadenza.theory owns them.
PITCH_CLASS_NAMES = PITCH_NAMES

MOODS = ("calm", "happy", "sad", "tense")
# Consonance of the interval classes 0..6 (unison/octave, m2, M2, m3, M3, P4, tritone).
_INTERVAL_CONSONANCE = np.array([1.0, 0.0, 0.3, 0.8, 0.9, 0.7, 0.1])


@dataclass(frozen=True)
class PieceLabels:
    key: str  # canonical, e.g. "F#:min"; "none" for a piece without pitched notes
    mode: str  # "maj", "min" or "none"
    tempo_bpm: float
    meter: str  # e.g. "3/4"
    notes_per_second: float
    instruments: list[int]  # sorted General MIDI programs; 128 stands for drums
    valence: float  # -1..1
    arousal: float  # -1..1
    mood: str  # one of MOODS

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def mood_of(valence: float, arousal: float) -> str:
    if valence >= 0:
        return "calm" if arousal < 0 else "happy"
    return "sad" if arousal < 0 else "tense"


def _consonance(score: symusic.Score) -> float:
    """Mean consonance of the pitch-class pairs that sound together, 0..1 (0.5 if none)."""
    pitches = [n for t in score.tracks if not t.is_drum for n in t.notes]
    if len(pitches) < 2:
        return 0.5
    onsets: dict[int, set[int]] = {}
    for note in pitches:
        onsets.setdefault(note.time, set()).add(note.pitch % 12)
    values = []
    for chord in onsets.values():
        classes = sorted(chord)
        for i, a in enumerate(classes):
            for b in classes[i + 1 :]:
                interval = min((b - a) % 12, (a - b) % 12)
                values.append(_INTERVAL_CONSONANCE[interval])
    return float(np.mean(values)) if values else 0.5


def _tempo(score: symusic.Score) -> float:
    """The tempo that lasts longest in the tempo map (120 when there is none)."""
    if not score.tempos:
        return 120.0
    end = max(score.end(), 1)
    spans: dict[float, int] = {}
    tempos = list(score.tempos)
    for tempo, following in zip(tempos, [*tempos[1:], None], strict=True):
        stop = following.time if following is not None else end
        spans[round(tempo.qpm, 1)] = spans.get(round(tempo.qpm, 1), 0) + max(stop - tempo.time, 0)
    return max(spans, key=lambda k: spans[k])


def _stated_meter(score: symusic.Score) -> str:
    """The first time signature's meter, or the one after a pickup (a short first bar
    of its own, as cadenza reads a MusicXML pickup), 4/4 where none is stated."""
    if not score.time_signatures:
        return "4/4"
    first = score.time_signatures[0]
    meter = Meter.of(score)
    if meter.pickup() is not None:
        return f"{meter.segments[1].numerator}/{meter.segments[1].denominator}"
    return f"{first.numerator}/{first.denominator}"


def compute_labels(score: symusic.Score, known_key: str | None = None) -> PieceLabels:
    """Labels of a tick-based Score; ``known_key`` (an annotation) wins over the estimate."""
    from cadenza.analysis.key import key_segments, main_key

    if known_key and known_key != "N":
        pc, mode = parse_key(known_key)
        key = key_label(pc, mode)
    else:
        estimate = main_key(key_segments(score))
        if estimate is None:
            key, mode = "none", "none"
        else:
            pc, mode = parse_key(estimate.label)
            key = key_label(pc, mode)
    seconds = float(score.to("second").end()) or 1.0
    notes = score.note_num()
    tempo = _tempo(score)
    velocities = [n.velocity for t in score.tracks for n in t.notes]
    loudness = float(np.mean(velocities)) if velocities else 64.0
    density = notes / seconds
    valence = float(np.clip((0.6 if mode == "maj" else -0.6 if mode == "min" else 0.0)
                            + 0.8 * (_consonance(score) - 0.55), -1, 1))  # fmt: skip
    arousal = float(np.clip(0.5 * (tempo - 100) / 40 + 0.3 * (density - 6) / 4 + 0.2 * (loudness - 75) / 25, -1, 1))
    meter = _stated_meter(score)
    instruments = sorted({128 if t.is_drum else t.program for t in score.tracks if len(t.notes)})
    return PieceLabels(key, mode, tempo, meter, round(density, 3), instruments,
                       round(valence, 3), round(arousal, 3), mood_of(valence, arousal))  # fmt: skip
