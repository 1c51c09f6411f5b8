"""Caps on what a file may contain, checked after a parser has accepted it.

A file size cap alone does not protect us: a 40-byte MIDI file can hold a note that
lasts for days, which would make a piano roll or a tokenizer allocate gigabytes, and
symusic silently accepts ticks-per-quarter 0, tempo 0 and int32 tick overflow. So the
content itself is checked.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import symusic

from cadenza.errors import InputFileError, LimitExceededError

__all__ = ["Limits", "DEFAULT_LIMITS", "validate_score"]


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 64 * 1024 * 1024
    max_tracks: int = 1024
    max_notes: int = 2_000_000
    max_seconds: float = 4 * 3600.0
    max_tpq: int = 32767  # MIDI's division field has 15 bits for ticks per quarter
    max_tempo_events: int = 100_000
    parse_timeout_s: float = 30.0
    parse_memory_bytes: int = 3 * 1024**3


DEFAULT_LIMITS = Limits()


def validate_score(
    score: symusic.Score, path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS
) -> symusic.Score:
    """Raise a named error if ``score`` breaks a limit or holds impossible values."""
    if not 1 <= score.tpq <= limits.max_tpq:
        raise InputFileError(f"ticks per quarter note is {score.tpq}, must be 1..{limits.max_tpq}", path)
    if len(score.tracks) > limits.max_tracks:
        raise LimitExceededError(f"{len(score.tracks)} tracks, more than {limits.max_tracks}", path)
    if len(score.tempos) > limits.max_tempo_events:
        raise LimitExceededError(f"{len(score.tempos)} tempo changes, more than {limits.max_tempo_events}", path)
    for tempo in score.tempos:
        if tempo.mspq <= 0 or not math.isfinite(tempo.qpm):
            raise InputFileError(f"tempo of {tempo.mspq} microseconds per quarter at tick {tempo.time}", path)
        if tempo.time < 0:
            raise InputFileError("tempo change at a negative time (tick overflow)", path)
    for sig in score.time_signatures:
        if sig.numerator <= 0 or sig.denominator <= 0:
            raise InputFileError(f"time signature {sig.numerator}/{sig.denominator} at tick {sig.time}", path)
    total = 0
    for index, track in enumerate(score.tracks):
        total += len(track.notes)
        if total > limits.max_notes:
            raise LimitExceededError(f"more than {limits.max_notes} notes", path)
        if len(track.notes) == 0:
            continue
        notes = track.notes.numpy()
        starts = notes["time"].astype(np.int64)
        ends = starts + notes["duration"].astype(np.int64)
        if starts.min() < 0 or notes["duration"].min() < 0 or ends.max() > np.iinfo(np.int32).max:
            raise InputFileError(f"track {index} has notes at negative or overflowing times", path)
        pitches = notes["pitch"]
        if pitches.min() < 0:
            raise InputFileError(f"track {index} has a pitch outside 0..127", path)
    if score.to("second").end() > limits.max_seconds:
        hours = limits.max_seconds / 3600
        raise LimitExceededError(f"music lasts longer than {hours:g} hours", path)
    return score
