"""Multitrack tokens with bar infilling and per-bar controls (the design: docs/models/multitrack.md).

A piece is a header, then its tracks one after the other; each track is its own head
(role, instrument, register) and then every bar of the piece, each bar its controls
(density, polyphony, chord, intensity) and then its notes::

    BOS Style_pop TimeSig_4/4 Tempo_96.03
    Track Role_melody Instr_0 Register_3
      Density_3 Poly_1 Chord_C:maj Intensity_2 Pos_0 Pitch_72 Dur_12 Vel_9 Pos_12 ...
      Fill                                     <- a bar to fill: its content comes at the end
    Track Role_bass Instr_33 Register_1
      Density_0                                <- an empty bar
      Density_2 ...
    FillStart Density_2 Poly_1 Chord_F:maj Intensity_2 Pos_0 Pitch_65 Dur_24 Vel_8 ... FillEnd
    EOS

Every track lists every bar, each beginning with its density (an empty bar is
``Density_0`` alone), or ``Fill``: bars line up across tracks by count, and no ``Bar``
token is needed. The bars to fill hold ``Fill``; their content
follows after the last track, one ``FillStart … FillEnd`` per hole in the order the holes
appear. Continuing, filling bars × tracks and writing a whole track are the same prompt:
the piece with its holes, ending at the first ``FillStart``.

Time is counted in :data:`RESOLUTION` ticks per quarter note; onsets sit on that grid
and durations on :data:`DURATIONS`. A piece has one meter (:func:`_meter`) and one tempo
(its first); bars count from tick 0 (a corpus aligns its pieces first, as
:mod:`cadenza.data.sources` does for POP909). Written directly on symusic: miditok's MMM has no chord or
intensity controls and no bar-fill layout (docs/models/multitrack.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import symusic

from cadenza.errors import InvalidArgumentError
from cadenza.theory import PITCH_NAMES, QUALITIES, parse_chord

__all__ = [
    "RESOLUTION",
    "DURATIONS",
    "ROLES",
    "METERS",
    "STYLES",
    "TEMPOS",
    "NAMES",
    "IDS",
    "CONTROL_KINDS",
    "Controls",
    "TrackHead",
    "Piece",
    "tokenize",
    "encode",
    "decode",
    "parse",
    "infill_prompt",
    "quantised_notes",
    "vocabulary_json",
]

RESOLUTION = 12  # ticks per quarter note: 16ths and triplet 8ths
MAX_BAR_QUARTERS = 8
PITCHES = range(21, 109)  # the piano's range; GM drum sounds (27..87) sit inside it
DURATIONS = (*range(1, 25), *range(27, 49, 3), *range(54, 97, 6), *range(108, 193, 12))  # ticks; 16 quarters at most
VELOCITY_BINS = 16  # bin = velocity // 8; a bin is written back as its middle, 8 * bin + 4
ROLES = ("melody", "counter", "harmony", "bass", "drums", "other")
METERS = ("2/4", "3/4", "4/4", "5/4", "6/4", "7/4", "2/2", "3/2", "3/8", "5/8", "6/8", "7/8", "9/8", "12/8")
STYLES = ("pop", "chorale", "folk", "early", "classical", "other")
TEMPOS = tuple(round(40 * (250 / 40) ** (i / 31), 2) for i in range(32))  # bpm, geometric
REGISTER_EDGES = (36, 48, 60, 72)  # a track's median pitch -> Register_0 (below C2) .. Register_4 (C5 and up)
DENSITY_EDGES = (0.5, 1, 2, 3, 4, 6)  # notes per quarter: Density_0 empty, _1 up to 0.5, ... _7 above 6
POLYPHONY_BINS = 6  # Poly_0 empty; else notes per onset, rounded, 1 .. 5 (5: five or more)
INTENSITY_EDGES = (48, 64, 80, 96)  # mean velocity of the bar over every track -> Intensity_0 .. _4
CHORDS = ("N", *(f"{PITCH_NAMES[root]}:{quality}" for quality in QUALITIES for root in range(12)))
CONTROL_KINDS = ("Density", "Poly", "Chord", "Intensity")  # per bar, in this order
MAX_NOTES_AT_ONCE = 12  # notes that may start at one position of one track (the decoder's limit)


def _names() -> tuple[str, ...]:
    names = ["PAD", "BOS", "EOS", "Track", "Fill", "FillStart", "FillEnd"]
    names += [f"Style_{s}" for s in STYLES] + [f"TimeSig_{m}" for m in METERS] + [f"Tempo_{t}" for t in TEMPOS]
    names += [f"Role_{r}" for r in ROLES] + [f"Instr_{p}" for p in range(128)] + ["Instr_drums"]
    names += [f"Register_{i}" for i in range(len(REGISTER_EDGES) + 1)]
    names += [f"Density_{i}" for i in range(len(DENSITY_EDGES) + 2)] + [f"Poly_{i}" for i in range(POLYPHONY_BINS)]
    names += [f"Chord_{c}" for c in CHORDS] + [f"Intensity_{i}" for i in range(len(INTENSITY_EDGES) + 1)]
    names += [f"Pos_{p}" for p in range(MAX_BAR_QUARTERS * RESOLUTION)] + [f"Pitch_{p}" for p in PITCHES]
    names += [f"Dur_{d}" for d in DURATIONS] + [f"Vel_{v}" for v in range(VELOCITY_BINS)]
    return tuple(names)


NAMES = _names()
IDS = {name: index for index, name in enumerate(NAMES)}
KINDS = np.array([name.split("_", 1)[0] for name in NAMES], dtype=object)
VALUES = np.array(
    [float(n.split("_")[1]) if n.split("_")[0] in ("Pos", "Pitch", "Dur", "Vel") else np.nan for n in NAMES]
)
PAD, BOS, EOS, TRACK, FILL, FILL_START, FILL_END = range(7)
_DURATIONS = np.array(DURATIONS)


def vocabulary_json() -> dict:
    """What a model folder's ``tokenizer.json`` holds: enough to refuse another vocabulary."""
    return {"tokens": "multitrack", "version": 1, "resolution": RESOLUTION, "names": list(NAMES)}


# ----------------------------------------------------------------------------- controls
def _bin(value: float, edges: Sequence[float]) -> int:
    return int(np.searchsorted(np.asarray(edges), value, side="left"))


def density_bin(notes: int, bar_quarters: float) -> int:
    return 0 if notes == 0 else 1 + _bin(notes / bar_quarters, DENSITY_EDGES)


def polyphony_bin(notes: int, onsets: int) -> int:
    return 0 if notes == 0 else min(POLYPHONY_BINS - 1, max(1, int(notes / onsets + 0.5)))


def intensity_bin(mean_velocity: float | None) -> int:
    return 0 if mean_velocity is None else _bin(mean_velocity, INTENSITY_EDGES)


ROLE_REGISTERS = {"melody": 3, "counter": 3, "harmony": 2, "bass": 1, "drums": 2, "other": 2}  # of an empty track


def register_bin(pitches: np.ndarray, role: str = "other") -> int:
    """The register of a track's notes; of an empty track (one to write), its role's usual one."""
    return ROLE_REGISTERS.get(role, 2) if len(pitches) == 0 else _bin(float(np.median(pitches)), REGISTER_EDGES)


def chord_name(label: str) -> str:
    """A Harte label (with any inversion) as a chord token's value: ``"A:min7/b7"`` -> ``"A:min7"``."""
    parsed = parse_chord(label)
    return "N" if parsed is None else f"{PITCH_NAMES[parsed[0]]}:{parsed[1]}"


@dataclass(frozen=True)
class Controls:
    """The per-bar controls of a piece: a chord label and an intensity bin per bar (they
    hold for every track), a density and a polyphony bin per track and bar."""

    chords: list[str]
    intensity: list[int]
    density: list[list[int]]  # [track][bar]
    polyphony: list[list[int]]  # [track][bar]


# ------------------------------------------------------------------------------- notes
@dataclass(frozen=True)
class _Notes:
    """One track's notes on the grid: onset and duration in ticks of RESOLUTION, pitch, velocity bin."""

    onset: np.ndarray
    duration: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray


def _meter(score: symusic.Score) -> str:
    """The meter of the bar grid: the last time signature stated at tick 0; where there
    is none, or one the tokens do not write (POP909's files state 1/4), the first meter
    the analysis hears, else 4/4."""
    at_start = [ts for ts in score.time_signatures if ts.time == 0]
    if at_start:
        meter = f"{at_start[-1].numerator}/{at_start[-1].denominator}"
        if meter in METERS:
            return meter
    from cadenza.analysis import beat_grid, meter_segments

    heard = meter_segments(beat_grid(score))
    meter = f"{heard[0][1]}/{heard[0][2]}" if heard else "4/4"
    return meter if meter in METERS else "4/4"


def bar_ticks(meter: str) -> int:
    numerator, denominator = (int(n) for n in meter.split("/"))
    return numerator * 4 * RESOLUTION // denominator


def quantised_notes(track: symusic.Track, tpq: int) -> tuple[_Notes, np.ndarray]:
    """A track's notes on the token grid, in (onset, pitch, duration, velocity) order, and
    for each the index of the symusic note it came from. Notes outside :data:`PITCHES` are left out."""
    data = track.notes.numpy()
    onset = np.rint(data["time"].astype(np.float64) * RESOLUTION / tpq).astype(np.int64)
    length = np.maximum(1, np.rint(data["duration"].astype(np.float64) * RESOLUTION / tpq)).astype(np.int64)
    duration = _DURATIONS[np.abs(_DURATIONS[None, :] - length[:, None]).argmin(axis=1)] if len(length) else length
    pitch = data["pitch"].astype(np.int64)
    velocity = np.minimum(VELOCITY_BINS - 1, data["velocity"].astype(np.int64) // 8)
    keep = np.flatnonzero((pitch >= PITCHES.start) & (pitch < PITCHES.stop) & (onset >= 0))
    order = keep[np.lexsort((velocity[keep], duration[keep], pitch[keep], onset[keep]))]
    notes = _Notes(onset[order], duration[order], pitch[order], velocity[order])
    return notes, order


# ------------------------------------------------------------------------------ pieces
@dataclass(frozen=True)
class TrackHead:
    role: str
    program: int  # General MIDI program, 0..127
    is_drum: bool = False
    register: int = 2  # Register_k: the bin of the track's median pitch (REGISTER_EDGES)

    def tokens(self) -> list[int]:
        instrument = "Instr_drums" if self.is_drum else f"Instr_{self.program}"
        return [TRACK, IDS[f"Role_{self.role}"], IDS[instrument], IDS[f"Register_{self.register}"]]


@dataclass
class Piece:
    """A tokenized piece: its header tokens, each track's head, and for every track and
    bar the control tokens and the note tokens. :meth:`tokens` lays it out with holes."""

    head: list[int]  # BOS Style TimeSig Tempo
    tracks: list[TrackHead]
    controls: list[list[list[int]]]  # [track][bar] -> the 4 control tokens
    notes: list[list[list[int]]]  # [track][bar] -> Pos/Pitch/Dur/Vel tokens
    meter: str = "4/4"
    tempo: float = 120.0
    filled: list[tuple[int, int]] = field(default_factory=list)  # holes a parsed sequence filled, in order

    @property
    def bars(self) -> int:
        return len(self.notes[0]) if self.notes else 0

    def cell_sizes(self) -> np.ndarray:
        """(tracks, bars): the tokens of each cell, controls + notes."""
        return np.array(
            [
                [len(c) + len(n) for c, n in zip(cs, ns, strict=True)]
                for cs, ns in zip(self.controls, self.notes, strict=True)
            ],
            dtype=np.int64,
        ).reshape(len(self.tracks), self.bars)

    def tokens(self, holes: Iterable[tuple[int, int]] = (), bars: range | None = None, fills: bool = True) -> list[int]:
        """The sequence of bars ``bars`` (default: all; renumbered from 0) with the
        ``(track, bar)`` cells in ``holes`` moved to the end, then EOS; without ``fills``
        it stops where the first hole's content would begin."""
        window = range(self.bars) if bars is None else bars
        hole_set = set(holes)
        out = list(self.head)
        order = []
        for t, head in enumerate(self.tracks):
            out += head.tokens()
            for b in window:
                if (t, b) in hole_set:
                    out.append(FILL)
                    order.append((t, b))
                else:
                    out += self.controls[t][b] + self.notes[t][b]
        if not fills:
            return out
        for t, b in order:
            out += [FILL_START, *self.controls[t][b], *self.notes[t][b], FILL_END]
        out.append(EOS)
        return out


_TOKEN_ROLES = {"counter_melody": "counter", "percussion": "drums"}  # analysis role -> token role


def _named_role(track: symusic.Track) -> str | None:
    """The role a track's name or program states (POP909's MELODY and BRIDGE, a chorale's
    Soprano, a bass program), or None where they state none."""
    name = track.name.lower()
    if track.is_drum:
        return "drums"
    if any(word in name for word in ("melody", "vocal", "lead", "voice", "soprano")):
        return "melody"
    if "bass" in name or 32 <= track.program <= 39:
        return "bass"
    if any(word in name for word in ("bridge", "counter", "alto", "tenor")):
        return "counter"
    return None


def _track_roles(score: symusic.Score) -> list[str]:
    """A role per track: the one its name or program states; else the one
    :func:`cadenza.analysis.roles.track_roles` hears from the notes, in the tokens' names
    (``counter_melody`` is ``counter``, ``percussion`` is ``drums``); else (a track
    without notes) ``harmony``. Names come first: on POP909 the analysis sometimes hears
    the BRIDGE as the melody, where the file says which track is sung."""
    from cadenza.analysis.roles import track_roles

    heard = track_roles(score)
    roles = []
    for role, track in zip(heard, score.tracks, strict=True):
        named = _named_role(track)
        roles.append(named or ("harmony" if role is None else _TOKEN_ROLES.get(role, role)))
    return roles


def _bar_controls(score: symusic.Score, tracks: list[_Notes], meter: str, bars: int) -> Controls:
    """Chords (from :func:`cadenza.analysis.beat_chords` on the bar grid), intensity,
    density and polyphony of every bar, in the tokens' own bins. Not
    :func:`cadenza.analysis.controls.bar_controls`: its bins mean other things (density
    per beat in 9 bins, polyphony counting held notes, intensity 0..7 from a mix of rate,
    loudness, tracks and span, bars as the file states them) where these tokens, and the
    counts :class:`~cadenza.models.multitrack.FillGrammar` enforces, use notes per quarter,
    notes per onset and mean velocity on the grid from tick 0."""
    from cadenza.analysis import beat_chords
    from cadenza.analysis._notes import tempo_map
    from cadenza.analysis.beats import BeatGrid

    per_bar = bar_ticks(meter)
    numerator, denominator = (int(n) for n in meter.split("/"))
    beat = 4 * RESOLUTION // denominator
    tpq = score.ticks_per_quarter
    unit = beat * tpq / RESOLUTION
    beats = np.arange(bars * numerator) * unit
    grid = BeatGrid(beats, np.arange(0, bars * numerator, numerator), unit, "grid", tempo_map(score))
    labels = beat_chords(score, grid) if bars else []
    chords = []
    for b in range(bars):
        in_bar = labels[b * numerator : (b + 1) * numerator]
        counts: dict[str, int] = {}
        for label in in_bar:
            name = chord_name(label)
            counts[name] = counts.get(name, 0) + 1
        chords.append(max(counts, key=lambda n: counts[n]) if counts else "N")  # ties: the earliest
    bar_quarters = per_bar / RESOLUTION
    density, polyphony = [], []
    velocity_sum, velocity_count = np.zeros(bars), np.zeros(bars)
    for notes in tracks:
        bar_of = notes.onset // per_bar
        counts_per_bar = np.bincount(bar_of, minlength=bars)[:bars]
        onsets = np.bincount(np.unique(notes.onset) // per_bar, minlength=bars)[:bars]
        density.append([density_bin(int(n), bar_quarters) for n in counts_per_bar])
        polyphony.append([polyphony_bin(int(n), int(o)) for n, o in zip(counts_per_bar, onsets, strict=True)])
        inside = bar_of < bars
        np.add.at(velocity_sum, bar_of[inside], velocity_of(notes.velocity[inside]))
        np.add.at(velocity_count, bar_of[inside], 1)
    intensity = [intensity_bin(s / c if c else None) for s, c in zip(velocity_sum, velocity_count, strict=True)]
    return Controls(chords, intensity, density, polyphony)


def control_tokens(controls: Controls, track: int, bar: int) -> list[int]:
    """The control tokens of one bar of one track; an empty bar is ``Density_0`` alone."""
    if controls.density[track][bar] == 0:
        return [IDS["Density_0"]]
    return [
        IDS[f"Density_{controls.density[track][bar]}"],
        IDS[f"Poly_{controls.polyphony[track][bar]}"],
        IDS[f"Chord_{controls.chords[bar]}"],
        IDS[f"Intensity_{controls.intensity[bar]}"],
    ]


def _as_ticks(score: symusic.Score) -> symusic.Score:
    return score if type(score).__name__ == "ScoreTick" else score.to("tick")


def tokenize(
    score: symusic.Score,
    roles: Sequence[str] | None = None,
    controls: Controls | None = None,
    style: str = "other",
    bars: int | None = None,
) -> Piece:
    """``score`` as a :class:`Piece`: every track (empty ones too) in its order, ``bars``
    bars (default: up to the last onset). ``roles`` and ``controls`` default to what the
    analysis hears."""
    score = _as_ticks(score)
    meter = _meter(score)
    per_bar = bar_ticks(meter)
    tracks = [quantised_notes(track, score.ticks_per_quarter)[0] for track in score.tracks]
    if not tracks:
        raise InvalidArgumentError("the score has no track to tokenize")
    last = max((int(n.onset.max()) for n in tracks if len(n.onset)), default=-1)
    count = max(1, last // per_bar + 1) if bars is None else bars
    roles = list(roles) if roles is not None else _track_roles(score)
    controls = controls or _bar_controls(score, tracks, meter, count)
    tempo = float(score.tempos[0].qpm) if len(score.tempos) else 120.0
    tempo_bin = TEMPOS[int(np.abs(np.log(np.array(TEMPOS) / tempo)).argmin())]
    head = [
        BOS,
        IDS[f"Style_{style if style in STYLES else 'other'}"],
        IDS[f"TimeSig_{meter}"],
        IDS[f"Tempo_{tempo_bin}"],
    ]
    heads, all_controls, all_notes = [], [], []
    for t, (track, notes) in enumerate(zip(score.tracks, tracks, strict=True)):
        heads.append(TrackHead(roles[t], int(track.program), bool(track.is_drum), register_bin(notes.pitch, roles[t])))
        all_controls.append([control_tokens(controls, t, b) for b in range(count)])
        all_notes.append(_bar_tokens(notes, per_bar, count))
    return Piece(head, heads, all_controls, all_notes, meter, tempo_bin)


def _bar_tokens(notes: _Notes, per_bar: int, bars: int) -> list[list[int]]:
    out: list[list[int]] = [[] for _ in range(bars)]
    last = (-1, -1)
    for onset, duration, pitch, velocity in zip(notes.onset, notes.duration, notes.pitch, notes.velocity, strict=True):
        bar, position = divmod(int(onset), per_bar)
        if bar >= bars:
            break
        if (bar, position) != last:
            out[bar].append(IDS[f"Pos_{position}"])
            last = (bar, position)
        out[bar] += [IDS[f"Pitch_{pitch}"], IDS[f"Dur_{duration}"], IDS[f"Vel_{velocity}"]]
    return out


def encode(
    score: symusic.Score, roles: Sequence[str] | None = None, controls: Controls | None = None, style: str = "other"
) -> list[int]:
    """Token ids of ``score`` with no holes."""
    return tokenize(score, roles, controls, style).tokens()


# ------------------------------------------------------------------------------ decoding
def parse(ids: Sequence[int]) -> Piece:
    """A token sequence back into a :class:`Piece`, the fill segments put in their holes
    (``Piece.filled`` lists them). Tokens out of place are skipped; a hole never filled
    stays empty."""
    head: list[int] = []
    tracks: list[TrackHead] = []
    controls: list[list[list[int]]] = []
    notes: list[list[list[int]]] = []
    holes: list[tuple[int, int]] = []
    meter, tempo = "4/4", 120.0
    target: list[int] | None = None  # where note tokens go now
    control_target: list[int] | None = None  # where control tokens go now
    fills: Iterator[tuple[int, int]] = iter([])
    filled: list[tuple[int, int]] = []
    for token in (int(i) for i in ids):
        if not 0 <= token < len(NAMES) or token == PAD:
            continue
        kind = KINDS[token]
        if token == EOS:
            break
        if kind in ("BOS", "Style") or (kind in ("TimeSig", "Tempo") and not tracks):
            head.append(token)
            if kind == "TimeSig":
                meter = NAMES[token].split("_", 1)[1]
            elif kind == "Tempo":
                tempo = float(NAMES[token].split("_", 1)[1])
        elif token == TRACK:
            tracks.append(TrackHead("other", 0))
            controls.append([])
            notes.append([])
            target = None
        elif kind in ("Role", "Instr", "Register") and tracks and not notes[-1]:
            value = NAMES[token].split("_", 1)[1]
            old = tracks[-1]
            if kind == "Role":
                tracks[-1] = TrackHead(value, old.program, old.is_drum, old.register)
            elif kind == "Instr":
                drum = value == "drums"
                tracks[-1] = TrackHead(old.role, 0 if drum else int(value), drum, old.register)
            else:
                tracks[-1] = TrackHead(old.role, old.program, old.is_drum, int(value))
        elif (kind == "Density" and not filled and tracks) or (token == FILL and tracks):
            controls[-1].append([])  # a new bar of the last track
            notes[-1].append([])
            target, control_target = notes[-1][-1], controls[-1][-1]
            if token == FILL:
                holes.append((len(tracks) - 1, len(notes[-1]) - 1))
                target = control_target = None
            else:
                control_target.append(token)
        elif token == FILL_START:
            if not filled:
                fills = iter(list(holes))
            hole = next(fills, None)
            filled.append(hole or (-1, -1))  # from here on, a Density belongs to a hole
            target = control_target = None
            if hole is not None:
                t, b = hole
                target, control_target = notes[t][b], controls[t][b]
        elif token == FILL_END:
            target = control_target = None
        elif kind in CONTROL_KINDS and control_target is not None:
            control_target.append(token)
        elif kind in ("Pos", "Pitch", "Dur", "Vel") and target is not None:
            target.append(token)
            control_target = None
    return Piece(head, tracks, controls, notes, meter, tempo, [hole for hole in filled if hole[0] >= 0])


def piece_notes(piece: Piece, track: int, bar: int) -> list[tuple[int, int, int, int]]:
    """(onset tick in the piece, pitch, duration ticks, velocity bin) of one bar of one track."""
    per_bar = bar_ticks(piece.meter)
    out = []
    position, pitch, duration = 0, None, None
    for token in piece.notes[track][bar]:
        kind, value = KINDS[token], int(VALUES[token])
        if kind == "Pos":
            position = value
        elif kind == "Pitch":
            pitch = value
        elif kind == "Dur":
            duration = value
        elif kind == "Vel" and pitch is not None and duration is not None:
            out.append((bar * per_bar + position, pitch, duration, value))
            pitch = duration = None
    return out


def velocity_of(bin_: Any) -> Any:
    """The velocity a bin is written back as (an int, or an array of them)."""
    return 8 * bin_ + 4


def decode(ids: Sequence[int], tpq: int = 480) -> symusic.Score:
    """A token sequence as a Score of ``tpq`` ticks per quarter (a multiple of
    :data:`RESOLUTION` keeps every onset exact): one track per ``Track``, named by its role."""
    piece = parse(ids)
    scale = tpq / RESOLUTION
    score = symusic.Score(tpq)
    numerator, denominator = (int(n) for n in piece.meter.split("/"))
    score.time_signatures.append(symusic.TimeSignature(0, numerator, denominator))
    score.tempos.append(symusic.Tempo(0, piece.tempo))
    for t, head in enumerate(piece.tracks):
        track = symusic.Track(head.role, head.program, head.is_drum)
        for bar in range(len(piece.notes[t])):
            for onset, pitch, duration, velocity in piece_notes(piece, t, bar):
                track.notes.append(
                    symusic.Note(round(onset * scale), round(duration * scale), pitch, velocity_of(velocity))
                )
        score.tracks.append(track)
    return score


def infill_prompt(piece: Piece, holes: Iterable[tuple[int, int]], bars: range | None = None) -> list[int]:
    """The sequence with ``holes`` (bar numbers inside ``bars``) up to and including the
    first ``FillStart``: what a model continues to fill them."""
    return [*piece.tokens(holes, bars, fills=False), FILL_START]
