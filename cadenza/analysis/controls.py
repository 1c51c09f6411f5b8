"""Controls a generator can be asked to obey, per bar and per track, measured from the notes.

The bars are those the file states (:func:`cadenza.analysis.bars.bar_grid`), so that
they line up with the bars of the tokens. For each bar:

* **density**: pitched notes starting in the bar per beat (a chord of three counts
  three), binned by :func:`density_bin`: 0 for a bar without pitched onsets, then
  1 below 0.5 notes per beat, 2 below 1, 3 below 2, 4 below 3, 5 below 4, 6 below 6,
  7 below 8 and 8 from 8 (:data:`DENSITY_EDGES`);
* **polyphony**: the mean number of pitched notes sounding (held ones included) at the
  distinct onset times of the bar, binned by :func:`polyphony_bin`: 0 without onsets,
  then 1 below 1.5 (a single line), 2 below 2.5, 3 below 3.5, 4 below 4.5, 5 below 6
  and 6 from 6 (:data:`POLYPHONY_EDGES`);
* **chord**: the chord label (Harte syntax, from :func:`cadenza.analysis.beat_chords`
  run on the beats of these bars) that covers most of the bar, the earliest on a tie,
  with its root pitch class (0 = C) and quality (``maj``, ``min``, ``7``...);
  ``N``, root and quality ``None``, where nothing sounds. ``changes`` lists every label
  of the bar in order (equal neighbouring beats merged): many pop bars hold two chords;
* **intensity**: a level 0..:data:`INTENSITY_MAX`. 0 when no note (pitched or drum)
  sounds in the bar; otherwise ``1 + floor(7 * (x - 0.3) / 0.6)`` kept within 1..7
  (x runs from about 0.35 to 0.85 on POP909 and the chorales), where
  ``x = 0.35 * rate + 0.30 * loud + 0.20 * tracks + 0.15 * span``, each in [0, 1]:
  ``rate = min(log2(1 + r) / log2(17), 1)`` with ``r`` the onsets per beat of all notes
  drums included, ``loud`` the mean velocity / 127 of the notes sounding in the bar,
  ``tracks`` the share of the piece's tracks with notes that sound in the bar, and
  ``span = min((highest - lowest sounding pitch) / 48, 1)``.

Per track and bar, the same density and polyphony measures over the track's own notes
(drum tracks included, where they count hits). Per track: its role and register
(:mod:`cadenza.analysis.roles`), its program and name.

A drum-only piece has density and polyphony bins 0 and chord ``N`` in every bar, and an
intensity from its drums; an empty score has no bars.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import symusic

from cadenza.analysis._notes import Notes, as_tick_score, pitched_notes, tempo_map, track_notes, window_pairs
from cadenza.analysis.bars import Bars, bar_grid, bar_of
from cadenza.analysis.beats import BeatGrid
from cadenza.analysis.chords import PITCH_NAMES, beat_chords
from cadenza.analysis.roles import track_profiles

__all__ = [
    "DENSITY_EDGES",
    "INTENSITY_MAX",
    "POLYPHONY_EDGES",
    "BarChord",
    "BarControls",
    "Controls",
    "TrackBarControls",
    "TrackControls",
    "bar_chords",
    "bar_controls",
    "piece_controls",
    "density_bin",
    "polyphony_bin",
]

DENSITY_EDGES = (0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)  # notes per beat, after 0
POLYPHONY_EDGES = (1.5, 2.5, 3.5, 4.5, 6.0)  # mean sounding notes at onsets
INTENSITY_MAX = 7
_INTENSITY_WEIGHTS = (0.35, 0.30, 0.20, 0.15)  # rate, loudness, active tracks, pitch span
_RATE_SATURATES = 16.0  # onsets per beat at which the rate term reaches 1
_SPAN_SATURATES = 48.0  # semitones at which the span term reaches 1
_X_RANGE = (0.3, 0.9)  # the weighted sum that maps onto levels 1..INTENSITY_MAX


@dataclass(frozen=True)
class BarChord:
    label: str  # Harte label, "N" for no chord
    root: int | None  # pitch class, 0 = C
    quality: str | None
    changes: tuple[str, ...]  # the labels of the bar in order, equal neighbours merged


@dataclass(frozen=True)
class TrackBarControls:
    track: int
    onsets: int
    density: float
    density_bin: int
    polyphony: float
    polyphony_bin: int


@dataclass(frozen=True)
class BarControls:
    index: int
    start: int  # ticks
    end: int
    onsets: int  # pitched notes starting in the bar
    density: float
    density_bin: int
    polyphony: float
    polyphony_bin: int
    chord: BarChord
    intensity: int
    tracks: tuple[TrackBarControls, ...]  # one per track of the score, in order


@dataclass(frozen=True)
class TrackControls:
    index: int
    name: str
    program: int
    is_drum: bool
    role: str | None  # see cadenza.analysis.roles.ROLES; None for a track without notes
    register: str | None  # "low", "mid", "high"; None for drums and empty tracks


@dataclass(frozen=True)
class Controls:
    bars: tuple[BarControls, ...]
    tracks: tuple[TrackControls, ...]


def density_bin(notes_per_beat: float) -> int:
    """0 for no notes, else 1..8 by :data:`DENSITY_EDGES`."""
    if notes_per_beat <= 0:
        return 0
    return 1 + int(np.searchsorted(DENSITY_EDGES, notes_per_beat, side="right"))


def polyphony_bin(mean_sounding: float) -> int:
    """0 for no onsets, else 1..6 by :data:`POLYPHONY_EDGES`."""
    if mean_sounding <= 0:
        return 0
    return 1 + int(np.searchsorted(POLYPHONY_EDGES, mean_sounding, side="right"))


def _texture(notes: Notes, bars: Bars) -> tuple[np.ndarray, np.ndarray]:
    """Per bar: onsets (notes starting) and mean notes sounding at the onset times."""
    n_bars = len(bars)
    where = bar_of(bars, notes.start)
    onsets = np.bincount(where[where >= 0], minlength=n_bars)[:n_bars]
    times = np.unique(notes.start)
    sounding = np.searchsorted(np.sort(notes.start), times, side="right") - np.searchsorted(
        np.sort(notes.end), times, side="right"
    )
    tb = bar_of(bars, times)
    ok = tb >= 0
    total = np.bincount(tb[ok], weights=sounding[ok], minlength=n_bars)[:n_bars]
    count = np.bincount(tb[ok], minlength=n_bars)[:n_bars]
    mean = np.divide(total, count, out=np.zeros(n_bars), where=count > 0)
    return onsets, mean


def _bounds(bars: Bars) -> np.ndarray:
    return np.r_[bars.starts, bars.ends[-1]] if len(bars) else np.zeros(1, dtype=np.int64)


def _beats_of(bars: Bars) -> tuple[np.ndarray, np.ndarray]:
    """The beat ticks of the bars and the index of each bar's first beat."""
    beats: list[float] = []
    firsts: list[int] = []
    for start, end, step in zip(bars.starts.tolist(), bars.ends.tolist(), bars.beat_ticks.tolist(), strict=True):
        firsts.append(len(beats))
        beats.extend(np.arange(start, end - 1e-6, step).tolist())
    return np.array(beats, dtype=np.float64), np.array(firsts, dtype=np.int64)


def _parse(label: str, changes: tuple[str, ...]) -> BarChord:
    if label == "N" or ":" not in label:
        return BarChord("N", None, None, changes)
    root, rest = label.split(":", 1)
    return BarChord(label, PITCH_NAMES.index(root), rest.split("/", 1)[0], changes)


def bar_chords(score: symusic.Score, bars: Bars | None = None) -> list[BarChord]:
    """The chord of each bar (see the module docstring)."""
    score = as_tick_score(score)
    bars = bar_grid(score) if bars is None else bars
    if len(bars) == 0:
        return []
    beats, firsts = _beats_of(bars)
    grid = BeatGrid(beats, firsts, float(bars.beat_ticks[-1]), "grid", tempo_map(score))
    labels = beat_chords(score, grid)
    widths = np.diff(np.r_[beats, bars.ends[-1]])
    cuts = np.r_[firsts, beats.size]
    out = []
    for b in range(len(bars)):
        weight: dict[str, float] = {}
        changes: list[str] = []
        for i in range(cuts[b], cuts[b + 1]):
            weight[labels[i]] = weight.get(labels[i], 0.0) + float(widths[i])
            if not changes or changes[-1] != labels[i]:
                changes.append(labels[i])
        # max keeps the first of equal weights: the earliest label in the bar
        out.append(_parse(max(weight, key=lambda k: weight[k]), tuple(changes)))
    return out


def _all_notes(score: symusic.Score) -> Notes:
    """Every note, drums included, sorted by onset."""
    parts = [track_notes(score, i) for i in range(len(score.tracks)) if len(score.tracks[i].notes)]
    if not parts:
        return pitched_notes(score)  # empty
    start, end, pitch, velocity, track = (
        np.concatenate([getattr(p, f) for p in parts]) for f in ("start", "end", "pitch", "velocity", "track")
    )
    order = np.argsort(start, kind="stable")
    return Notes(start[order], end[order], pitch[order], velocity[order], track[order], int(score.ticks_per_quarter))


def _intensity(score: symusic.Score, bars: Bars) -> np.ndarray:
    notes = _all_notes(score)
    n_bars = len(bars)
    onsets, _ = _texture(notes, bars)
    ni, wi, _ = window_pairs(notes, _bounds(bars).astype(np.float64))
    sounding = np.bincount(wi, minlength=n_bars)[:n_bars]
    velocity = np.divide(
        np.bincount(wi, weights=notes.velocity[ni], minlength=n_bars)[:n_bars],
        sounding,
        out=np.zeros(n_bars),
        where=sounding > 0,
    )
    n_tracks = max(np.unique(notes.track).size, 1)
    active = np.zeros((n_bars, len(score.tracks)), dtype=bool)
    active[wi, notes.track[ni]] = True
    high = np.full(n_bars, -1)
    low = np.full(n_bars, 1000)
    is_drum = np.array([t.is_drum for t in score.tracks], dtype=bool)
    pitched = ~is_drum[notes.track[ni]]
    np.maximum.at(high, wi[pitched], notes.pitch[ni][pitched])
    np.minimum.at(low, wi[pitched], notes.pitch[ni][pitched])
    span = np.where(high >= 0, np.minimum((high - low) / _SPAN_SATURATES, 1.0), 0.0)
    rate = np.minimum(np.log2(1.0 + onsets / bars.beats) / np.log2(1.0 + _RATE_SATURATES), 1.0)
    terms = np.vstack([rate, velocity / 127.0, active.sum(1) / n_tracks, span])
    x = np.asarray(_INTENSITY_WEIGHTS) @ terms
    lo, hi = _X_RANGE
    level = np.clip(1 + np.floor(INTENSITY_MAX * (x - lo) / (hi - lo)).astype(np.int64), 1, INTENSITY_MAX)
    return np.where(sounding > 0, level, 0)


def _track_bars(score: symusic.Score, bars: Bars) -> list[list[TrackBarControls]]:
    """``out[bar]``: the density and polyphony of every track in that bar."""
    per_bar: list[list[TrackBarControls]] = [[] for _ in range(len(bars))]
    for t in range(len(score.tracks)):
        onsets, poly = _texture(track_notes(score, t), bars)
        for b in range(len(bars)):
            rate = float(onsets[b] / bars.beats[b])
            per_bar[b].append(
                TrackBarControls(t, int(onsets[b]), rate, density_bin(rate), float(poly[b]), polyphony_bin(poly[b]))
            )
    return per_bar


def bar_controls(score: symusic.Score, bars: Bars | None = None) -> list[BarControls]:
    """The controls of every bar (see the module docstring)."""
    score = as_tick_score(score)
    bars = bar_grid(score) if bars is None else bars
    if len(bars) == 0:
        return []
    onsets, poly = _texture(pitched_notes(score), bars)
    chords = bar_chords(score, bars)
    intensity = _intensity(score, bars)
    per_track = _track_bars(score, bars)
    out = []
    for b in range(len(bars)):
        rate = float(onsets[b] / bars.beats[b])
        out.append(
            BarControls(
                b,
                int(bars.starts[b]),
                int(bars.ends[b]),
                int(onsets[b]),
                rate,
                density_bin(rate),
                float(poly[b]),
                polyphony_bin(poly[b]),
                chords[b],
                int(intensity[b]),
                tuple(per_track[b]),
            )
        )
    return out


def piece_controls(score: symusic.Score) -> Controls:
    """Every bar's and every track's controls of a score."""
    score = as_tick_score(score)
    tracks = tuple(
        TrackControls(p.index, t.name, int(t.program), bool(t.is_drum), p.role, p.register)
        for p, t in zip(track_profiles(score), score.tracks, strict=True)
    )
    return Controls(tuple(bar_controls(score)), tracks)
