"""Lines of a piece as symbols that survive transposition, tempo change and small edits.

A piece gives two monophonic lines, its melody and its bass
(:func:`cadenza.analysis.melody.melody` and :func:`~cadenza.analysis.melody.bass`).
A note that starts while a higher note struck earlier still sounds is accompaniment
moving under a held melody note, not melody: it is left out of the melody (and a note
under which a lower one still sounds, out of the bass). So is a lone note more than a
major sixth below both its neighbours, and a note more than an octave below the median
of the eight melody notes before it (above, for the bass): the accompaniment showing
through a rest of the tune. Otherwise a tune with chords moving beneath its long notes
or in its rests would have those chords spliced into it.

Each note of a line becomes one symbol that describes the step to the next note:

* the **pitch interval** in semitones, clipped to ±15: the same in every key;
* the **inter-onset ratio**, this step's onset-to-onset time over the previous
  step's, as log2 rounded to halves and clipped to ±3: the same at every tempo and in
  every note value (a tune in halved note values gives the same ratios), and it tells
  2:1 from 3:2 from 3:1.

A fingerprint is ``n`` consecutive symbols packed into one integer (9 bits each): no
hashing, so no collisions. An edit to one note changes the two or three symbols around
it and only the n-grams through them; the rest of a copied passage still matches, and
the exact alignment (:mod:`cadenza.provenance.align`) bridges the edit.

Each note also keeps its bar number (from the time signatures, counted as a notation
program counts them: bar 1 starts at tick 0, each time signature starts a new bar), so
that a shared passage can be shown where a musician would look for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import symusic

from cadenza.analysis._notes import Notes, as_tick_score, pitched_notes
from cadenza.analysis.bars import bar_numbers
from cadenza.analysis.melody import melody_track, outer_line

__all__ = [
    "END",
    "Line",
    "FingerprintConfig",
    "DEFAULT_CONFIG",
    "bar_numbers",
    "encode_line",
    "encode_lines",
    "lines_of",
    "ngram_keys",
    "symbol_parts",
]

INTERVAL_CLIP = 15
DIP = 9  # semitones: a lone note this far beyond both neighbours is not on the line
REGISTER = 12  # semitones: a note this far beyond the line's recent median is not on it
_RECENT = 8
RATIO_CLIP = 6  # in halves of log2: ±3 = a ratio of 8
_RATIO_CLASSES = 2 * RATIO_CLIP + 1
SYMBOL_BITS = 9
END = (1 << SYMBOL_BITS) - 1  # the symbol of a line's last note: it never matches
LINE_NAMES = ("melody", "bass")


@dataclass(frozen=True)
class FingerprintConfig:
    """How fingerprints are made; an index stores it and a query must use the same.

    ``n``: symbols per fingerprint (n + 1 notes). Shorter survives denser edits, longer
    finds fewer chance matches; 5 keeps most of a copy with one note in ten changed.
    ``min_notes``: a line shorter than this is not indexed (nothing to copy in it).
    ``lines``: the version of the line extraction; an index built with another one is
    rebuilt rather than reused.
    """

    n: int = 4
    min_notes: int = 8
    lines: int = 4

    def __post_init__(self) -> None:
        if not 2 <= self.n <= 64 // SYMBOL_BITS:
            raise ValueError(f"n must be 2..{64 // SYMBOL_BITS}")


DEFAULT_CONFIG = FingerprintConfig()


@dataclass(frozen=True)
class Line:
    """One monophonic line: pitch, onset (in quarters) and bar (0-based) of each note."""

    name: str  # "melody" or "bass"
    pitches: np.ndarray  # (L,) int64
    onsets: np.ndarray  # (L,) float64, quarters, strictly increasing
    bars: np.ndarray  # (L,) int64

    def __len__(self) -> int:
        return int(self.pitches.size)

    @property
    def symbols(self) -> np.ndarray:
        """(L,) uint16 symbols, the last one END (see :func:`encode_line`)."""
        return encode_line(self.pitches, self.onsets)


def encode_lines(pitches: np.ndarray, onsets: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Symbols of several monophonic lines stored end to end; line k is notes
    ``offsets[k]:offsets[k + 1]`` with strictly increasing onsets.

    Symbol i describes note i -> i + 1: ``(interval + 15) * 13 + (ratio + 6)`` where
    the ratio compares onset steps i -> i + 1 and i - 1 -> i (1:1 for a line's first
    note). A line's last note gets :data:`END`.
    """
    pitches = np.asarray(pitches, dtype=np.int64)
    onsets = np.asarray(onsets, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.int64)
    symbols = np.full(pitches.size, END, dtype=np.uint16)
    if pitches.size < 2:
        return symbols
    interval = np.clip(np.diff(pitches), -INTERVAL_CLIP, INTERVAL_CLIP)
    ioi = np.maximum(np.diff(onsets), 1e-9)
    previous = np.r_[ioi[0], ioi[:-1]]
    starts = offsets[:-1][offsets[:-1] < ioi.size]
    previous[starts] = ioi[starts]  # a line's first step has no step before it
    ratio = np.clip(np.rint(2 * np.log2(ioi / previous)), -RATIO_CLIP, RATIO_CLIP).astype(np.int64)
    symbols[:-1] = (interval + INTERVAL_CLIP) * _RATIO_CLASSES + ratio + RATIO_CLIP
    ends = offsets[1:] - 1
    symbols[ends[ends >= 0]] = END
    return symbols


def encode_line(pitches: np.ndarray, onsets: np.ndarray) -> np.ndarray:
    """Symbols of one monophonic line (see :func:`encode_lines`); fewer than two notes
    give only END symbols."""
    return encode_lines(pitches, onsets, np.array([0, np.asarray(pitches).size]))


def symbol_parts(symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(interval in semitones, ratio class in halves of log2) of each symbol (END: 0, 0)."""
    symbols = np.asarray(symbols, dtype=np.int64)
    valid = symbols != END
    interval = np.where(valid, symbols // _RATIO_CLASSES - INTERVAL_CLIP, 0)
    ratio = np.where(valid, symbols % _RATIO_CLASSES - RATIO_CLIP, 0)
    return interval, ratio


def _under_held(onsets: np.ndarray, pitches: np.ndarray, pool: np.ndarray, higher: bool) -> np.ndarray:
    """Which line notes start while a pool note struck earlier, higher (lower), still sounds.

    ``pool`` rows are (start, end, pitch). Checked in blocks to bound memory.
    """
    under = np.zeros(onsets.size, dtype=bool)
    for a in range(0, onsets.size, 256):
        t, p = onsets[a : a + 256, None], pitches[a : a + 256, None]
        sounding = (pool[None, :, 0] < t) & (pool[None, :, 1] > t)
        beyond = pool[None, :, 2] > p if higher else pool[None, :, 2] < p
        under[a : a + 256] = (sounding & beyond).any(axis=1)
    return under


def _lone(pitches: np.ndarray, highest: bool) -> np.ndarray:
    """Notes more than DIP semitones below (above, for the bass) both neighbours."""
    lone = np.zeros(pitches.size, dtype=bool)
    if pitches.size >= 3:
        sign = 1 if highest else -1
        middle = sign * pitches[1:-1]
        lone[1:-1] = (middle < sign * pitches[:-2] - DIP) & (middle < sign * pitches[2:] - DIP)
    return lone


def _in_register(pitches: np.ndarray, highest: bool) -> np.ndarray:
    """Notes within REGISTER semitones below (above, for the bass) the median of the
    last eight kept notes; the first notes are always kept."""
    keep = np.ones(pitches.size, dtype=bool)
    sign = 1 if highest else -1
    recent: list[int] = []
    for i, pitch in enumerate(pitches.tolist()):
        if len(recent) >= 3 and sign * (pitch - float(np.median(recent))) < -REGISTER:
            keep[i] = False
            continue
        recent = [*recent[-(_RECENT - 1) :], pitch]
    return keep


def _line(score: symusic.Score, name: str, pool: Notes) -> Line:
    """The melody (or bass) of the notes in ``pool``, the analysis's outer line, cleaned."""
    highest = name == "melody"
    chosen = outer_line(pool, highest)
    onsets, pitches = pool.start[chosen].astype(np.int64), pool.pitch[chosen].astype(np.int64)
    keep = ~_under_held(onsets, pitches, np.stack([pool.start, pool.end, pool.pitch], axis=1), highest)
    onsets, pitches = onsets[keep], pitches[keep]
    keep = ~_lone(pitches, highest)
    onsets, pitches = onsets[keep], pitches[keep]
    keep = _in_register(pitches, highest)
    onsets, pitches = onsets[keep], pitches[keep]
    return Line(name, pitches, onsets / score.ticks_per_quarter, bar_numbers(score, onsets))


def lines_of(score: symusic.Score, config: FingerprintConfig = DEFAULT_CONFIG) -> list[Line]:
    """The melody and bass lines of a score that have at least ``config.min_notes`` notes.

    A one-voice piece has the same notes in both: only the melody is kept then.
    """
    score = as_tick_score(score)
    notes = pitched_notes(score)  # once for both lines: this runs for every indexed and checked piece
    named = melody_track(score)
    top = _line(score, "melody", notes if named is None else notes.select(notes.track == named))
    low = _line(score, "bass", notes)
    lines = [top]
    if len(low) != len(top) or not np.array_equal(low.pitches, top.pitches):
        lines.append(low)
    return [line for line in lines if len(line) >= config.min_notes]


def ngram_keys(symbols: np.ndarray, n: int) -> np.ndarray:
    """(L,) uint64: the n symbols from each position packed into one integer.

    Real keys have the top bit set; positions whose n-gram runs into or past the END
    symbol get the key 0 instead, and callers drop them.
    """
    symbols = np.asarray(symbols, dtype=np.uint64)
    length = symbols.size
    keys = np.zeros(length, dtype=np.uint64)
    if length < n:
        return keys
    windows = np.lib.stride_tricks.sliding_window_view(symbols, n)  # (L - n + 1, n)
    packed = np.zeros(windows.shape[0], dtype=np.uint64)
    for j in range(n):
        packed = (packed << np.uint64(SYMBOL_BITS)) | windows[:, j]
    has_end = (windows == END).any(axis=1)
    packed |= np.uint64(1 << 63)
    packed[has_end] = 0
    keys[: packed.size] = packed
    return keys
