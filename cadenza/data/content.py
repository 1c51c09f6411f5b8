"""Content hashes and deterministic splits.

Two files with the same notes (quantized to a 1/12-beat grid, across all tracks,
ignoring track order, names, tempo and velocity) have the same content hash; the split
is a function of that hash alone, so a piece and its duplicates land together and
adding pieces never moves an existing one.
"""

from __future__ import annotations

import hashlib

import numpy as np
import symusic

__all__ = ["content_hash", "split_of", "SPLITS"]

SPLITS = ("train", "valid", "test")
_GRID_PER_BEAT = 12


def content_hash(score: symusic.Score) -> str:
    """sha256 of the sorted (onset, duration, pitch, drum) rows of every note, on a beat grid."""
    rows = []
    for track in score.tracks:
        if len(track.notes) == 0:
            continue
        notes = track.notes.numpy()
        scale = _GRID_PER_BEAT / score.tpq
        onset = np.rint(notes["time"].astype(np.int64) * scale).astype(np.int64)
        duration = np.rint(notes["duration"].astype(np.int64) * scale).astype(np.int64)
        drum = np.full_like(onset, int(track.is_drum))
        rows.append(np.stack([onset, duration, notes["pitch"].astype(np.int64), drum], axis=1))
    if not rows:
        return hashlib.sha256(b"").hexdigest()
    table = np.concatenate(rows)
    table = table[np.lexsort(table.T[::-1])]
    return hashlib.sha256(table.astype("<i8").tobytes()).hexdigest()


def split_of(content: str, valid_percent: int = 5, test_percent: int = 5) -> str:
    """train / valid / test from the first 8 hex digits of a content hash."""
    bucket = int(content[:8], 16) % 100
    if bucket < test_percent:
        return "test"
    if bucket < test_percent + valid_percent:
        return "valid"
    return "train"
