"""MuseGAN's objective metrics (Dong, Hsiao, Yang & Yang, AAAI 2018), on a multitrack piano roll.

A piece is laid out as a boolean piano roll of shape (tracks, bars, steps a bar, pitches):
the tracks are POP909's three, :data:`TRACKS` (melody, bridge, piano), the bars are 4/4
bars from tick 0, a bar holds ``4 * steps_per_beat`` time steps (MuseGAN uses 24 a beat;
12 is the coarser grid its later models use), the pitches are MIDI 24..107 (84, as in
MuseGAN; notes outside are left out). A note covers the steps from its onset to its end,
each rounded to the nearest step, at least one step. As in any piano roll, a pitch struck
again without a gap merges with the note before it, and notes of one pitch in two tracks
merged into one role (harmony and bass into piano) sound as one.

Per track (a roll of shape (bars, steps, pitches)):

* **EB**, empty bars: (bars in which the track sounds no step) / (bars);
* **UPC**, used pitch classes: the number of distinct pitch classes sounding in a bar,
  averaged over the track's non-empty bars (0..12);
* **QN**, qualified notes: (notes no shorter than a 32nd note) / (notes). The paper calls a
  note of three or more time steps qualified, "i.e. a 32th note", on its grid of 24 steps a
  beat (96 a bar); here a note is qualified when it lasts at least ``ceil(steps_per_beat / 8)``
  steps: 3 steps at 24 a beat, 2 steps at 12 a beat (a 32nd note is 1.5 of those). A note is
  a run of consecutive sounding steps of one pitch over the whole piece: a note held across
  a bar line counts once, as in MuseGAN's later code, which measures whole phrases.
  (MuseGAN's published code compares with ``>= 2`` steps; we follow the paper's text.)

Between two tracks:

* **TD**, tonal distance (MuseGAN's "harmonicity"): per beat, each track's chroma (steps
  sounding per pitch class, summed over the beat's steps and octaves) divided by its sum
  and mapped to Harte, Sandler & Gasser's (2006) 6-D tonal centroid (circle of fifths,
  minor thirds, major thirds with radii 1, 1, 0.5); TD is the Euclidean distance between
  the two centroids averaged over the beats in which both tracks sound. Beats where either
  is silent have no centroid and are left out (MuseGAN's code divides by zero there).
  ``window="bar"`` takes the chroma of whole bars instead of beats: smoother chroma, smaller
  distances (on POP909 about 0.78 against 1.13 per beat).

Undefined values are ``nan``: EB without bars, UPC and QN of a track that never sounds, TD
without a beat where both sound. Sets of pieces are pooled, as MuseGAN pools bars:
:class:`TrackCounts`, :class:`PairCounts` and :class:`MuseganCounts` add up, and the
metrics of a sum weigh every bar, note and beat alike.

Which notes play which role (:func:`musegan_parts`):

1. In a piece laid out as POP909's, with a track named ``MELODY`` or ``BRIDGE`` (any case),
   the tracks named ``MELODY``, ``BRIDGE`` and ``PIANO`` play those roles (a lone track named
   ``piano`` is only an instrument's name). Tracks named as cadenza's multitrack composer
   names them, an instrument and its role (``piano (melody)``), play melody for
   ``(melody)``, bridge for ``(counter)`` or ``(counter_melody)`` (POP909's bridge is a
   secondary melody), and piano for ``(harmony)`` and ``(bass)``: POP909's piano track holds
   the accompaniment's bass too. When any track is named so, the tracks that are not
   (drums, extra instruments) are left out.
2. Otherwise a piece with one pitched track with notes (cadenza's Markov and Transformer
   families write one keyboard texture named ``piano``) is split: its skyline melody
   (:func:`cadenza.analysis.melody.outer_line`, monophonic: a note ends where the next one
   starts) is the melody, every other note the piano; it has no bridge.
3. Otherwise each pitched track plays the role :mod:`cadenza.analysis.roles` hears in its
   notes: melody as melody, counter_melody as bridge, harmony and bass as piano.

A role no track plays is absent (``None`` in :class:`MuseganCounts`), which differs from a
track that is there and silent (all its bars empty).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import symusic

from cadenza.analysis._notes import Notes, as_tick_score, pitched_notes
from cadenza.analysis.melody import outer_line
from cadenza.analysis.roles import track_roles

__all__ = [
    "LOWEST_PITCH",
    "N_PITCHES",
    "TONAL_MATRIX",
    "TRACKS",
    "Window",
    "MuseganCounts",
    "PairCounts",
    "Roll",
    "TrackCounts",
    "empty_bar_rate",
    "musegan_counts",
    "musegan_metrics",
    "musegan_parts",
    "pair_counts",
    "piano_roll",
    "qualified_note_rate",
    "qualified_steps",
    "roll_counts",
    "tonal_centroids",
    "tonal_distance",
    "track_counts",
    "used_pitch_classes",
]

TRACKS = ("melody", "bridge", "piano")
LOWEST_PITCH = 24
N_PITCHES = 84
BEATS_A_BAR = 4
Window = Literal["beat", "bar"]
_POP909 = {"melody": "melody", "bridge": "bridge", "piano": "piano"}
_SUFFIX = re.compile(r"\((melody|counter|counter_melody|harmony|bass)\)\s*$", re.IGNORECASE)
_SUFFIX_ROLE = {
    "melody": "melody",
    "counter": "bridge",
    "counter_melody": "bridge",
    "harmony": "piano",
    "bass": "piano",
}
_ANALYSIS_ROLE = {"melody": "melody", "counter_melody": "bridge", "harmony": "piano", "bass": "piano"}


def _tonal_matrix() -> np.ndarray:
    """(6, 12): Harte et al.'s tonal centroid of each pitch class, radii 1, 1, 0.5."""
    pc = np.arange(12)
    rows = []
    for radius, angle in ((1.0, 7 / 6), (1.0, 3 / 2), (0.5, 2 / 3)):
        rows += [radius * np.sin(pc * angle * np.pi), radius * np.cos(pc * angle * np.pi)]
    return np.array(rows)


TONAL_MATRIX = _tonal_matrix()


# --- roles -------------------------------------------------------------------------------


def _named_role(name: str, pop909: bool) -> str | None:
    text = name.strip().lower()
    if pop909 and text in _POP909:
        return _POP909[text]
    found = _SUFFIX.search(text)
    return _SUFFIX_ROLE[found.group(1).lower()] if found else None


def musegan_parts(score: symusic.Score) -> dict[str, Notes]:
    """The notes playing each of :data:`TRACKS` (see the module docstring); a role no
    track plays is not in the dict. Drum tracks never play a role."""
    score = as_tick_score(score)
    notes = pitched_notes(score)
    pitched = [i for i, t in enumerate(score.tracks) if not t.is_drum]
    names = [(t.name or "") for t in score.tracks]
    pop909 = any(name.strip().lower() in ("melody", "bridge") for name in names)
    named = {i: role for i in pitched if (role := _named_role(names[i], pop909)) is not None}
    if named:
        return {
            role: notes.select(np.isin(notes.track, [i for i, r in named.items() if r == role]))
            for role in TRACKS
            if role in named.values()
        }
    sounding = np.unique(notes.track).tolist()
    if len(sounding) == 1:
        top = np.zeros(len(notes), dtype=bool)
        top[outer_line(notes, highest=True)] = True
        melody = notes.select(top)
        end = melody.end.copy()
        end[:-1] = np.minimum(end[:-1], melody.start[1:])  # monophonic, as cadenza's melody()
        melody = Notes(melody.start, end, melody.pitch, melody.velocity, melody.track, melody.tpq)
        return {"melody": melody, "piano": notes.select(~top)}
    roles = track_roles(score)
    parts: dict[str, Notes] = {}
    for role in TRACKS:
        tracks = [i for i in sounding if _ANALYSIS_ROLE.get(roles[i] or "") == role]
        if tracks:
            parts[role] = notes.select(np.isin(notes.track, tracks))
    return parts


# --- the piano roll ----------------------------------------------------------------------


@dataclass(frozen=True)
class Roll:
    """A multitrack piano roll: ``data`` of shape (len(TRACKS), bars, steps a bar, N_PITCHES),
    ``present[t]`` whether the piece has track ``t`` at all (an absent one is all False)."""

    data: np.ndarray
    present: tuple[bool, ...]
    steps_per_beat: int

    def track(self, name: str) -> np.ndarray | None:
        """The (bars, steps, pitches) roll of one of :data:`TRACKS`, None when absent."""
        t = TRACKS.index(name)
        return self.data[t] if self.present[t] else None


def _to_steps(ticks: np.ndarray, steps_per_beat: int, tpq: int) -> np.ndarray:
    """Ticks to the nearest step (halves round up), in integers."""
    return (2 * ticks.astype(np.int64) * steps_per_beat + tpq) // (2 * tpq)


def _check_grid(steps_per_beat: int) -> None:
    if steps_per_beat < 1:
        raise ValueError(f"steps_per_beat must be at least 1, not {steps_per_beat}")


def piano_roll(score: symusic.Score, steps_per_beat: int = 24, bars: int | None = None) -> Roll:
    """The piece as a :class:`Roll` of :data:`TRACKS` on 4/4 bars from tick 0.

    ``bars``: that many bars (notes after them are cut off); None: up to the bar holding
    the last step any pitched note sounds. Notes before tick 0 are cut at 0.
    """
    _check_grid(steps_per_beat)
    score = as_tick_score(score)
    tpq = int(score.ticks_per_quarter)
    parts = musegan_parts(score)
    bar_steps = BEATS_A_BAR * steps_per_beat
    spans = {}
    for role, notes in parts.items():
        start = np.maximum(_to_steps(notes.start, steps_per_beat, tpq), 0)
        end = np.maximum(_to_steps(notes.end, steps_per_beat, tpq), start + 1)
        keep = (notes.pitch >= LOWEST_PITCH) & (notes.pitch < LOWEST_PITCH + N_PITCHES) & (notes.end > 0)
        spans[role] = (start[keep], end[keep], notes.pitch[keep] - LOWEST_PITCH)
    if bars is None:
        last = max((int(end.max()) for _, end, _ in spans.values() if end.size), default=0)
        bars = math.ceil(last / bar_steps)
    total = bars * bar_steps
    data = np.zeros((len(TRACKS), total, N_PITCHES), dtype=bool)
    for role, (start, end, pitch) in spans.items():
        start, end = np.minimum(start, total), np.minimum(end, total)
        diff = np.zeros((total + 1, N_PITCHES), dtype=np.int64)  # +1 at onsets, -1 at ends
        np.add.at(diff, (start, pitch), 1)
        np.add.at(diff, (end, pitch), -1)
        data[TRACKS.index(role)] = np.cumsum(diff, axis=0)[:total] > 0
    present = tuple(role in parts for role in TRACKS)
    return Roll(data.reshape(len(TRACKS), bars, bar_steps, N_PITCHES), present, steps_per_beat)


# --- counts and metrics ------------------------------------------------------------------


def qualified_steps(steps_per_beat: int) -> int:
    """The fewest steps of a qualified note: a 32nd note, rounded up (3 at 24, 2 at 12)."""
    _check_grid(steps_per_beat)
    return math.ceil(steps_per_beat / 8)


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


@dataclass(frozen=True)
class TrackCounts:
    """What EB, UPC and QN of one track (or of one role over a set of pieces) are made of."""

    bars: int = 0
    empty_bars: int = 0
    pitch_classes: int = 0  # summed over the non-empty bars
    notes: int = 0
    qualified_notes: int = 0

    def __add__(self, other: TrackCounts) -> TrackCounts:
        return TrackCounts(
            self.bars + other.bars,
            self.empty_bars + other.empty_bars,
            self.pitch_classes + other.pitch_classes,
            self.notes + other.notes,
            self.qualified_notes + other.qualified_notes,
        )

    @property
    def eb(self) -> float:
        return _ratio(self.empty_bars, self.bars)

    @property
    def upc(self) -> float:
        return _ratio(self.pitch_classes, self.bars - self.empty_bars)

    @property
    def qn(self) -> float:
        return _ratio(self.qualified_notes, self.notes)


@dataclass(frozen=True)
class PairCounts:
    """What TD of two tracks is made of: the beats where both sound, distances summed."""

    beats: int = 0
    distance: float = 0.0

    def __add__(self, other: PairCounts) -> PairCounts:
        return PairCounts(self.beats + other.beats, self.distance + other.distance)

    @property
    def td(self) -> float:
        return _ratio(self.distance, self.beats)


def _steps_per_beat(track_roll: np.ndarray) -> int:
    if track_roll.ndim != 3 or track_roll.shape[1] % BEATS_A_BAR or track_roll.shape[2] != N_PITCHES:
        raise ValueError(f"expected a track roll (bars, 4 * steps a beat, {N_PITCHES}), not {track_roll.shape}")
    return track_roll.shape[1] // BEATS_A_BAR


def track_counts(track_roll: np.ndarray) -> TrackCounts:
    """The counts of one track's roll, shape (bars, 4 * steps a beat, 84)."""
    steps_per_beat = _steps_per_beat(track_roll)
    sounding = np.asarray(track_roll.any(axis=(1, 2)))
    chroma = np.asarray(track_roll.any(axis=1).reshape(track_roll.shape[0], N_PITCHES // 12, 12).any(axis=1))
    flat = track_roll.reshape(-1, N_PITCHES).astype(np.int8)
    edges = np.diff(np.pad(flat, ((1, 1), (0, 0))), axis=0)
    onsets = np.nonzero(edges.T > 0)  # pitch by pitch, in time order
    ends = np.nonzero(edges.T < 0)
    lengths = ends[1] - onsets[1]
    return TrackCounts(
        int(sounding.size),
        int(np.count_nonzero(~sounding)),
        int(chroma[sounding].sum()),
        int(lengths.size),
        int(np.count_nonzero(lengths >= qualified_steps(steps_per_beat))),
    )


def tonal_centroids(track_roll: np.ndarray, window: Window = "beat") -> np.ndarray:
    """(beats or bars, 6): the tonal centroid of each beat (or bar) of a track roll (see the
    module docstring); nan where the track is silent."""
    if window not in ("beat", "bar"):
        raise ValueError(f"window is 'beat' or 'bar', not {window!r}")
    steps = _steps_per_beat(track_roll) * (BEATS_A_BAR if window == "bar" else 1)
    windows = track_roll.reshape(-1, steps, N_PITCHES).sum(axis=1, dtype=np.float64)
    chroma = windows.reshape(windows.shape[0], N_PITCHES // 12, 12).sum(axis=1)
    total = chroma.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (chroma / total) @ TONAL_MATRIX.T


def pair_counts(a: np.ndarray, b: np.ndarray, window: Window = "beat") -> PairCounts:
    """The TD counts of two track rolls of the same shape (``beats`` counts bars when
    ``window`` is ``"bar"``)."""
    if a.shape != b.shape:
        raise ValueError(f"tonal distance needs two rolls of one shape, not {a.shape} and {b.shape}")
    ca, cb = tonal_centroids(a, window), tonal_centroids(b, window)
    both = ~(np.isnan(ca).any(axis=1) | np.isnan(cb).any(axis=1))
    return PairCounts(int(both.sum()), float(np.linalg.norm(ca[both] - cb[both], axis=1).sum()))


def empty_bar_rate(track_roll: np.ndarray) -> float:
    """EB of one track's roll (nan without bars)."""
    return track_counts(track_roll).eb


def used_pitch_classes(track_roll: np.ndarray) -> float:
    """UPC of one track's roll: pitch classes per non-empty bar (nan when it never sounds)."""
    return track_counts(track_roll).upc


def qualified_note_rate(track_roll: np.ndarray) -> float:
    """QN of one track's roll (nan without notes); the grid is read from the roll's shape."""
    return track_counts(track_roll).qn


def tonal_distance(a: np.ndarray, b: np.ndarray, window: Window = "beat") -> float:
    """TD of two track rolls (nan without a beat, or bar, where both sound)."""
    return pair_counts(a, b, window).td


@dataclass(frozen=True)
class MuseganCounts:
    """The counts of a piece, or of a set of pieces added up: per present role of
    :data:`TRACKS`, and the melody–piano pair per beat and per bar (None when either role
    is absent)."""

    tracks: dict[str, TrackCounts] = field(default_factory=dict)
    melody_piano: PairCounts | None = None
    melody_piano_bars: PairCounts | None = None

    def __add__(self, other: MuseganCounts) -> MuseganCounts:
        tracks = dict(self.tracks)
        for role, counts in other.tracks.items():
            tracks[role] = tracks[role] + counts if role in tracks else counts
        return MuseganCounts(
            tracks,
            _add(self.melody_piano, other.melody_piano),
            _add(self.melody_piano_bars, other.melody_piano_bars),
        )

    def metrics(self) -> dict[str, float]:
        """``{"EB melody": ..., "UPC melody": ..., "QN melody": ..., ..., "TD melody-piano": ...,
        "TD melody-piano per bar": ...}`` for every role of :data:`TRACKS` (nan for an absent
        role)."""
        out = {}
        for role in TRACKS:
            counts = self.tracks.get(role)
            for name in ("eb", "upc", "qn"):
                out[f"{name.upper()} {role}"] = math.nan if counts is None else getattr(counts, name)
        out["TD melody-piano"] = math.nan if self.melody_piano is None else self.melody_piano.td
        out["TD melody-piano per bar"] = math.nan if self.melody_piano_bars is None else self.melody_piano_bars.td
        return out


def _add(a: PairCounts | None, b: PairCounts | None) -> PairCounts | None:
    return b if a is None else a if b is None else a + b


def musegan_counts(score: symusic.Score, steps_per_beat: int = 24, bars: int | None = None) -> MuseganCounts:
    """The counts of one piece, on :func:`piano_roll`'s grid."""
    return roll_counts(piano_roll(score, steps_per_beat, bars))


def roll_counts(roll: Roll) -> MuseganCounts:
    """The counts of a :class:`Roll` (of a piece, or of some of its bars: ``Roll(roll.data[:, a:b], ...)``)."""
    tracks = {role: track_counts(r) for role in TRACKS if (r := roll.track(role)) is not None}
    melody, piano = roll.track("melody"), roll.track("piano")
    if melody is None or piano is None:
        return MuseganCounts(tracks)
    return MuseganCounts(tracks, pair_counts(melody, piano), pair_counts(melody, piano, "bar"))


def musegan_metrics(score: symusic.Score, steps_per_beat: int = 24, bars: int | None = None) -> dict[str, float]:
    """EB, UPC and QN of each of :data:`TRACKS` and TD melody–piano of one piece, by name
    (see :meth:`MuseganCounts.metrics`)."""
    return musegan_counts(score, steps_per_beat, bars).metrics()
