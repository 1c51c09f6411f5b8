"""The role of each track (melody, counter-melody, harmony, bass, percussion) and its register.

Roles come from the notes alone, never from track names, so any MIDI file gets them.
Each pitched track is measured over the onset times of the piece (every distinct tick
at which some pitched note starts):

* ``top_single``: at how many of its own onset times the track sounds a single note
  that is the highest sounding pitch of all pitched tracks (a unison counts for each
  track in it), and ``single``: at how many of its onset times it sounds a single note;
* ``bottom_share``: at what share of its own onset times it holds the lowest pitch;
* ``polyphony``: the mean number of its own notes sounding at its onset times;
* ``mean_pitch``, and ``density``: its onsets (distinct ticks) per quarter note over
  the span from its first onset to its last note end.

Then, with ties always going to the lower track index:

1. Drum tracks are ``percussion``; tracks without notes have no role (``None``).
2. A sole pitched track is ``harmony`` when it plays chords (polyphony at least
   :data:`CHORDAL_MIN`), else ``bass`` when its register is ``low``, else ``melody``.
3. Otherwise the ``melody`` is the track with the highest melody score,
   ``top_single + BELOW_WEIGHT * (single - top_single)``: a melody is a single line
   heard on top, and a busy single line below the top still counts a quarter as much
   (a sung tune under an instrumental descant, as in many POP909 songs). Among the
   other tracks that are not chordal and lie lower on average, the one most often at
   the bottom is the ``bass`` when it is the lowest line at least
   :data:`BASS_BOTTOM_MIN` of its onsets. Every other track is ``harmony`` when it
   plays chords and ``counter_melody`` when it is a line (perhaps doubled in octaves or
   thirds: polyphony below :data:`CHORDAL_MIN`).

So the four voices of a chorale come out soprano: melody, alto and tenor:
counter_melody, bass: bass; POP909's MELODY, BRIDGE and PIANO come out melody,
counter_melody and harmony (on 909 songs: see the report of this module's tests).

Register bins by mean pitch: ``mid`` for the octave around middle C, G3 to F#4
(MIDI 55 to 66), ``low`` below it (:data:`LOW_BELOW`), ``high`` above it
(:data:`HIGH_FROM`). A chorale's bass comes out low, its tenor and alto mid (an alto
sometimes high), its soprano high; POP909's PIANO mid, its MELODY and BRIDGE high.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import symusic

from cadenza.analysis._notes import Notes, as_tick_score, pitched_notes

__all__ = [
    "ROLES",
    "TrackProfile",
    "register_of",
    "track_profiles",
    "track_roles",
]

ROLES = ("melody", "counter_melody", "harmony", "bass", "percussion")
CHORDAL_MIN = 2.0  # mean sounding notes of a track at its onsets, from which it plays chords
BELOW_WEIGHT = 0.25
BASS_BOTTOM_MIN = 0.5
LOW_BELOW = 55  # G3
HIGH_FROM = 67  # G4


@dataclass(frozen=True)
class TrackProfile:
    """What the notes of one track say about its role (see the module docstring)."""

    index: int
    role: str | None  # one of ROLES, None for a track without notes
    register: str | None  # "low", "mid", "high"; None for drums and empty tracks
    mean_pitch: float
    polyphony: float
    density: float
    top_single: int
    single: int
    bottom_share: float
    is_drum: bool


def register_of(mean_pitch: float) -> str:
    """``low`` (< 55), ``mid`` or ``high`` (>= 67) for a mean MIDI pitch."""
    if mean_pitch < LOW_BELOW:
        return "low"
    return "high" if mean_pitch >= HIGH_FROM else "mid"


def _sounding_extremes(notes: Notes, n_tracks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Onset times U and, per (track, time), the highest and lowest sounding pitch
    (-1 / 1000 where the track is silent); shapes (U,), (T, U), (T, U). A note sounds
    from its start up to, not including, its end."""
    times = np.unique(notes.start)
    first = np.searchsorted(times, notes.start, side="left")
    last = np.searchsorted(times, notes.end, side="left")  # exclusive: a note ends before
    counts = last - first
    idx = np.repeat(np.arange(len(notes)), counts)
    at = first[idx] + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    high = np.full((n_tracks, times.size), -1, dtype=np.int64)
    low = np.full((n_tracks, times.size), 1000, dtype=np.int64)
    np.maximum.at(high, (notes.track[idx], at), notes.pitch[idx])
    np.minimum.at(low, (notes.track[idx], at), notes.pitch[idx])
    return times, high, low


def _measure(score: symusic.Score) -> dict[int, dict[str, float]]:
    """The measures of every pitched track with notes, by track index."""
    notes = pitched_notes(score)
    if len(notes) == 0:
        return {}
    n_tracks = len(score.tracks)
    times, high, low = _sounding_extremes(notes, n_tracks)
    top = high.max(axis=0)
    bottom = low.min(axis=0)
    out: dict[int, dict[str, float]] = {}
    for t in np.unique(notes.track).tolist():
        mine = notes.select(notes.track == t)
        own = np.isin(times, mine.start)
        sounding = np.searchsorted(np.sort(mine.start), times, side="right") - np.searchsorted(
            np.sort(mine.end), times, side="right"
        )
        single = own & (sounding == 1)
        span = max(int(mine.end.max() - mine.start.min()), 1)
        out[t] = {
            "mean_pitch": float(mine.pitch.mean()),
            "polyphony": float(sounding[own].mean()),
            "density": float(np.count_nonzero(own) / (span / notes.tpq)),
            "top_single": int(np.count_nonzero(single & (high[t] == top))),
            "single": int(np.count_nonzero(single)),
            "bottom_share": float(np.count_nonzero(own & (low[t] == bottom)) / np.count_nonzero(own)),
        }
    return out


def _melody_score(m: dict[str, float]) -> float:
    return m["top_single"] + BELOW_WEIGHT * (m["single"] - m["top_single"])


def _assign(measures: dict[int, dict[str, float]]) -> dict[int, str]:
    tracks = sorted(measures)
    if not tracks:
        return {}
    chordal = {t for t in tracks if measures[t]["polyphony"] >= CHORDAL_MIN}
    if len(tracks) == 1:
        (t,) = tracks
        if t in chordal:
            return {t: "harmony"}
        return {t: "bass" if register_of(measures[t]["mean_pitch"]) == "low" else "melody"}
    melody = max(tracks, key=lambda t: (_melody_score(measures[t]), measures[t]["mean_pitch"], -t))
    roles = {melody: "melody"}
    candidates = [
        t
        for t in tracks
        if t != melody
        and t not in chordal
        and measures[t]["mean_pitch"] < measures[melody]["mean_pitch"]
        and measures[t]["bottom_share"] >= BASS_BOTTOM_MIN
    ]
    if candidates:
        bass = max(candidates, key=lambda t: (measures[t]["bottom_share"], -measures[t]["mean_pitch"], -t))
        roles[bass] = "bass"
    for t in tracks:
        roles.setdefault(t, "harmony" if t in chordal else "counter_melody")
    return roles


def track_profiles(score: symusic.Score) -> list[TrackProfile]:
    """One profile per track of the score, in track order (see the module docstring)."""
    score = as_tick_score(score)
    measures = _measure(score)
    roles = _assign(measures)
    out = []
    for i, track in enumerate(score.tracks):
        m = measures.get(i)
        if track.is_drum or m is None:
            role = "percussion" if track.is_drum and len(track.notes) else None
            out.append(TrackProfile(i, role, None, 0.0, 0.0, 0.0, 0, 0, 0.0, bool(track.is_drum)))
            continue
        out.append(
            TrackProfile(
                i,
                roles[i],
                register_of(m["mean_pitch"]),
                m["mean_pitch"],
                m["polyphony"],
                m["density"],
                int(m["top_single"]),
                int(m["single"]),
                m["bottom_share"],
                False,
            )
        )
    return out


def track_roles(score: symusic.Score) -> list[str | None]:
    """The role of each track, in track order (``None`` for a track without notes)."""
    return [p.role for p in track_profiles(score)]
