"""Caps on what a file may contain, checked after a parser has accepted it.

A file size cap alone does not protect us: a 44-byte MIDI file (ticks per quarter 1,
tempo 1 µs) can hold a note twenty million quarter notes long, which analysis would lay
out beat by beat in gigabytes; symusic silently accepts ticks-per-quarter 0, tempo 0
and int32 tick overflow. So the content itself is checked, and the limits bound the
*work* that the content implies, not only bytes and counts:

* ``max_quarters``: the length in quarter notes. Bars, beats and 16th-note steps are
  laid out one by one (``info``'s bar count, every analysis, the piano roll's bar lines).
* ``max_note_quarters``: the sum of all note lengths in quarters, that is, the polyphony
  integrated over the piece. Analysis visits every (note, beat) pair a note sounds in, so
  2,000 notes held 28,000 quarters each, or 300,000 notes piled on one key, are 56 and
  94 million pairs of work from a 12 KB or 2 MB file.
* ``max_note_seconds``: the same integral in seconds: a synthesizer renders every
  sounding voice for every sample, so rendering costs seconds × polyphony.
* ``max_polyphony``: notes sounding at one instant; each is a synthesizer voice.
* ``max_control_events``: controllers, pitch bends and pedals. A 64 MB file holds 20
  million of them in a tenth of a second, and rendering handles each one.
* ``max_meta_events``: time and key signatures, markers and lyrics; meters are walked
  segment by segment.

Every check is one pass over numpy arrays (a sort for the polyphony), so refusing a
hostile file costs about as much as parsing it. POP909's 909 songs use under 1 % of
each limit (at most 785 quarters, 3,180 note-quarters, polyphony 17, 4,576 controller
events, 178 tempo changes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import cast

import numpy as np
import symusic

from cadenza.errors import InputFileError, LimitExceededError

__all__ = ["Limits", "DEFAULT_LIMITS", "validate_score", "peak_polyphony", "note_seconds"]


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 64 * 1024 * 1024
    max_tracks: int = 1024
    max_notes: int = 2_000_000
    max_seconds: float = 4 * 3600.0
    max_tpq: int = 32767  # MIDI's division field has 15 bits for ticks per quarter
    max_tempo_events: int = 100_000
    max_quarters: int = 100_000
    """Four hours at 416 quarters a minute; a 4-hour piece at 120 bpm is 28,800."""
    max_note_quarters: int = 2_000_000
    """Four hours at 120 bpm with 70 notes sounding throughout."""
    max_note_seconds: float = 1_000_000.0
    """Four hours with 70 voices sounding throughout."""
    max_polyphony: int = 2048
    """Sixteen MIDI channels with all 128 keys down, twice over."""
    max_control_events: int = 1_000_000
    """Controllers, pitch bends and pedals together: 70 a second for four hours."""
    max_meta_events: int = 100_000
    """Time signatures, key signatures, markers and lyrics together."""
    parse_timeout_s: float = 30.0
    parse_memory_bytes: int = 3 * 1024**3


DEFAULT_LIMITS = Limits()


def peak_polyphony(starts: np.ndarray, ends: np.ndarray) -> int:
    """The most notes sounding at one instant (a note ending where another starts does
    not overlap it; a note of no length never sounds)."""
    if starts.size == 0:
        return 0
    times = np.concatenate([starts, ends])
    steps = np.concatenate([np.ones(starts.size, np.int64), -np.ones(ends.size, np.int64)])
    order = np.lexsort((steps, times))  # at equal times, endings (-1) first
    return int(np.cumsum(steps[order]).max())


def note_seconds(score: symusic.Score) -> float:
    """The sum of all note lengths in seconds: the voice-seconds a synthesizer renders."""
    seconds = score if "second" in str(score.ttype).lower() else score.to("second")
    tracks = cast(symusic.Score, seconds).tracks
    return float(sum(track.notes.numpy()["duration"].astype(np.float64).sum() for track in tracks))


def _check_counts(score: symusic.Score, path: str | os.PathLike[str], limits: Limits) -> None:
    if not 1 <= score.tpq <= limits.max_tpq:
        raise InputFileError(f"ticks per quarter note is {score.tpq}, must be 1..{limits.max_tpq}", path)
    if len(score.tracks) > limits.max_tracks:
        raise LimitExceededError(f"{len(score.tracks)} tracks, more than {limits.max_tracks}", path)
    if len(score.tempos) > limits.max_tempo_events:
        raise LimitExceededError(f"{len(score.tempos)} tempo changes, more than {limits.max_tempo_events}", path)
    tempos = score.tempos.numpy()
    if tempos["time"].size:
        bad = np.flatnonzero(tempos["mspq"] <= 0)
        if bad.size:
            at = int(bad[0])
            raise InputFileError(
                f"tempo of {tempos['mspq'][at]} microseconds per quarter at tick {tempos['time'][at]}", path
            )
        if tempos["time"].min() < 0:
            raise InputFileError("tempo change at a negative time (tick overflow)", path)
    meta = len(score.time_signatures) + len(score.key_signatures) + len(score.markers)
    meta += sum(len(track.lyrics) for track in score.tracks)
    if meta > limits.max_meta_events:
        raise LimitExceededError(
            f"{meta:,} time signatures, key signatures, markers and lyrics, more than {limits.max_meta_events:,}", path
        )
    signatures = score.time_signatures.numpy()
    bad = np.flatnonzero((signatures["numerator"] <= 0) | (signatures["denominator"] <= 0))
    if bad.size:
        at = int(bad[0])
        numerator, denominator = signatures["numerator"][at], signatures["denominator"][at]
        raise InputFileError(f"time signature {numerator}/{denominator} at tick {signatures['time'][at]}", path)
    controls = sum(len(t.controls) + len(t.pitch_bends) + len(t.pedals) for t in score.tracks)
    if controls > limits.max_control_events:
        raise LimitExceededError(
            f"{controls:,} controller, pitch-bend and pedal events, more than {limits.max_control_events:,}", path
        )


def _note_arrays(score: symusic.Score, path: str | os.PathLike[str], limits: Limits) -> tuple[np.ndarray, np.ndarray]:
    """Start and end ticks of every note, after the per-note checks."""
    total = 0
    starts, ends = [], []
    for index, track in enumerate(score.tracks):
        total += len(track.notes)
        if total > limits.max_notes:
            raise LimitExceededError(f"more than {limits.max_notes} notes", path)
        if len(track.notes) == 0:
            continue
        notes = track.notes.numpy()
        start = notes["time"].astype(np.int64)
        end = start + notes["duration"].astype(np.int64)
        if start.min() < 0 or notes["duration"].min() < 0 or end.max() > np.iinfo(np.int32).max:
            raise InputFileError(f"track {index} has notes at negative or overflowing times", path)
        if notes["pitch"].min() < 0:
            raise InputFileError(f"track {index} has a pitch outside 0..127", path)
        starts.append(start)
        ends.append(end)
    if not starts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(starts), np.concatenate(ends)


def validate_score(
    score: symusic.Score, path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS
) -> symusic.Score:
    """Raise a named error if ``score`` breaks a limit or holds impossible values.

    The cheap counts come first, so that a file is refused before anything in
    proportion to its notes is computed.
    """
    _check_counts(score, path, limits)
    starts, ends = _note_arrays(score, path, limits)
    quarters = int(score.end()) / score.tpq
    if quarters > limits.max_quarters:
        raise LimitExceededError(
            f"music lasts {quarters:,.0f} quarter notes, longer than {limits.max_quarters:,}", path
        )
    note_quarters = float((ends - starts).sum()) / score.tpq
    if note_quarters > limits.max_note_quarters:
        raise LimitExceededError(
            f"its notes last {note_quarters:,.0f} quarter notes together (notes held over each other), "
            f"more than {limits.max_note_quarters:,}",
            path,
        )
    polyphony = peak_polyphony(starts, ends)
    if polyphony > limits.max_polyphony:
        raise LimitExceededError(f"{polyphony:,} notes sound at once, more than {limits.max_polyphony:,}", path)
    in_seconds = score.to("second")
    if in_seconds.end() > limits.max_seconds:
        hours = limits.max_seconds / 3600
        raise LimitExceededError(f"music lasts longer than {hours:g} hours", path)
    voice_seconds = note_seconds(in_seconds)
    if voice_seconds > limits.max_note_seconds:
        raise LimitExceededError(
            f"its notes sound {voice_seconds:,.0f} seconds together, more than {limits.max_note_seconds:,.0f}", path
        )
    return score
