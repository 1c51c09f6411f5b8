"""From decoded notes to the piece the user asked for.

The model writes in a normalised key (tonic C) for one instrument family; here the
notes move to the requested key, split into roles (lead, accompaniment, bass) for the
requested instruments, fold into each instrument's range, and the end is made exact:
the final chord is held to the requested length and nothing sounds past it.
"""

from __future__ import annotations

import numpy as np
import symusic

from cadenza.compose.conditions import Instrument, Resolved
from cadenza.io.midi import untangle
from cadenza.theory import PITCH_NAMES, QUALITIES, key_signature

__all__ = ["arrange"]

TPQ = 480


def _fold(pitch: int, instrument: Instrument) -> int:
    while pitch < instrument.low:
        pitch += 12
    while pitch > instrument.high:
        pitch -= 12
    return pitch


def _roles(notes: np.ndarray, count: int) -> np.ndarray:
    """Role of each note: 0 lead (top voice), 1 accompaniment, 2 bass (bottom voice)."""
    roles = np.ones(len(notes), dtype=np.int64)
    if count == 1 or len(notes) == 0:
        return np.zeros(len(notes), dtype=np.int64)
    for onset in np.unique(notes[:, 0]):
        at = np.flatnonzero(notes[:, 0] == onset)
        roles[at[np.argmax(notes[at, 2])]] = 0
        if count >= 3 and len(at) > 1:
            roles[at[np.argmin(notes[at, 2])]] = 2
    return roles


def _final_chord(notes: np.ndarray, end: int, conditions: Resolved) -> np.ndarray:
    """Hold the last chord to the end, and put the tonic in the bass under it."""
    if len(notes) == 0:  # nothing decoded: the tonic chord alone still ends the piece
        third = 3 if conditions.mode == "min" else 4
        return np.array([[0, end, 48 + p, 70] for p in (0, third, 7)], dtype=np.int64)
    last_onset = notes[:, 0].max()
    sounding = (notes[:, 0] == last_onset) | (notes[:, 0] + notes[:, 1] >= last_onset + 1)
    sounding &= notes[:, 0] <= last_onset
    notes[sounding, 1] = end - notes[sounding, 0]
    bass = notes[sounding, 2].min()
    if bass % 12 != conditions.tonic:
        root = bass - ((bass - conditions.tonic) % 12)
        velocity = int(np.median(notes[sounding, 3]))
        notes = np.vstack([notes, [last_onset, end - last_onset, root, velocity]])
    return notes


def _chord_tones(label: str) -> tuple[int, tuple[int, ...]] | None:
    """Root pitch class and triad intervals of one of the analysis's Harte labels
    (``A:min7/b3``); None for no chord."""
    root, _, quality = label.partition(":")
    if root not in PITCH_NAMES:
        return None
    return PITCH_NAMES.index(root), QUALITIES.get(quality.split("/")[0], QUALITIES["maj"])[:3]


def accompany(melody: np.ndarray, conditions: Resolved) -> np.ndarray:
    """Chords under a single line, from the harmony cadenza's analysis hears in it:
    a close triad below the tune and the root in the bass, one per chord change."""
    from cadenza.analysis.chords import chord_segments

    rows = []
    for segment in chord_segments(score_of(melody, conditions)):
        tones = _chord_tones(segment.label)
        if tones is None:
            continue
        start, end = int(segment.start), int(segment.end)
        inside = melody[(melody[:, 0] < end) & (melody[:, 0] + melody[:, 1] > start)]
        ceiling = int(inside[:, 2].min()) - 1 if len(inside) else 71
        velocity = int(np.median(inside[:, 3]) * 0.7) if len(inside) else 60
        root, intervals = tones
        base = root + 12 * ((ceiling - 7 - root) // 12)  # the highest root whose triad stays below the tune
        rows += [(start, end - start, base + i, velocity) for i in intervals]
        bass = root + 12 * ((47 - root) // 12)  # the root between C2 and B2
        rows.append((start, end - start, bass - 12 if bass >= base else bass, velocity))
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


def notes_of(score: symusic.Score) -> np.ndarray:
    """(onset, duration, pitch, velocity) rows of every pitched note, at 480 per quarter."""
    source = score.resample(TPQ, min_dur=1) if score.tpq != TPQ else score
    rows = [(n.time, n.duration, n.pitch, n.velocity) for t in source.tracks if not t.is_drum for n in t.notes]
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


def score_of(notes: np.ndarray, conditions: Resolved) -> symusic.Score:
    """The inverse of :func:`notes_of`: the rows as one track (the first instrument's) of a
    Score with the conditions' tempo, meter and key signature."""
    score = empty_score(conditions)
    del score.tracks[1:]
    for onset, duration, pitch, velocity in notes:
        score.tracks[0].notes.append(symusic.Note(int(onset), int(duration), int(pitch), int(velocity)))
    return score


def orchestrate(notes: np.ndarray, instruments: tuple[Instrument, ...]) -> list[list[symusic.Note]]:
    """The notes each instrument plays: lead, accompaniment and bass, folded into range."""
    notes = notes[np.lexsort((notes[:, 2], notes[:, 0]))]
    roles = _roles(notes, min(len(instruments), 3))
    parts = []
    for index, instrument in enumerate(instruments):
        role = min(index, 2) if index < 3 else 1  # a fourth instrument doubles the accompaniment
        parts.append(
            untangle(
                [
                    symusic.Note(int(onset), int(duration), _fold(int(pitch), instrument), int(velocity))
                    for onset, duration, pitch, velocity in notes[roles == role]
                ]
            )
        )
    return parts


def _is_single_line(notes: np.ndarray) -> bool:
    """Whether most onsets carry one note: a tune without its harmony."""
    if len(notes) == 0:
        return False
    return len(np.unique(notes[:, 0])) >= 0.8 * len(notes)


def empty_score(conditions: Resolved) -> symusic.Score:
    """A Score with the tempo, meter, key signature and one empty track per instrument."""
    score = symusic.Score(TPQ)
    score.tempos.append(symusic.Tempo(0, qpm=conditions.tempo))
    score.time_signatures.append(symusic.TimeSignature(0, conditions.numerator, conditions.denominator))
    minor = conditions.mode == "min"
    score.key_signatures.append(symusic.KeySignature(0, key_signature(conditions.tonic, conditions.mode), int(minor)))
    for instrument in conditions.instruments:
        score.tracks.append(symusic.Track(name=instrument.name, program=instrument.program))
    return score


def within(notes: np.ndarray, begin: int, end: int) -> np.ndarray:
    """The notes that start in ``[begin, end)``, cut where that span ends."""
    kept = notes[(notes[:, 0] >= begin) & (notes[:, 0] < end)].copy()
    kept[:, 1] = np.clip(np.minimum(kept[:, 1], end - kept[:, 0]), 1, None)
    return kept


def voiced(notes: np.ndarray, shift: int, loudness: float) -> np.ndarray:
    """The notes moved ``shift`` semitones and played ``loudness`` times as loud."""
    moved = notes.copy()
    moved[:, 2] += shift
    moved[:, 3] = np.clip(np.rint(moved[:, 3] * loudness), 1, 127)
    return moved


def arrange(decoded: symusic.Score, conditions: Resolved, shift: int = 0) -> symusic.Score:
    """The finished Score (tick time, 480 per quarter) for ``conditions``; the decoded
    notes are moved ``shift`` semitones (from the model's key to the requested one)."""
    end = round(conditions.total_quarters * TPQ)
    bars_end = round(conditions.bars * conditions.bar_quarters * TPQ)
    notes = voiced(within(notes_of(decoded), 0, bars_end), shift, 1.0)
    notes = _final_chord(notes, end, conditions)
    if len(conditions.instruments) > 1 and _is_single_line(notes):
        notes = np.vstack([notes, within(accompany(notes, conditions), 0, end)])
    notes = voiced(notes, 0, conditions.loudness)
    score = empty_score(conditions)
    for track, part in zip(score.tracks, orchestrate(notes, conditions.instruments), strict=True):
        for note in part:
            track.notes.append(note)
    return score
