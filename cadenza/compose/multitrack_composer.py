"""Composing with the multitrack family: the plan first, then the notes that follow it.

:func:`follow_plan` writes a :class:`~cadenza.compose.plan.Plan` with a multitrack model
(:mod:`cadenza.models.multitrack`). It starts from an empty score with one track per
role (:func:`role_tracks`: the first instrument plays the melody, the second the
harmony, the third the bass, a fourth a counter-melody; fewer instruments take on the
roles left; each track's register token from its role, :func:`track_head`), then goes section by section, left to right:

* the bars that :func:`~cadenza.compose.planner.bar_sources` says repeat an earlier bar
  get that bar's notes, note for note (moved to the section's key when it has another);
* the other bars of the section (all of a new section, the changed bars of a varied
  one, A′) are filled by the model, a few bars of every track per run (as many as fit
  half the model's context, :data:`CELL_TOKENS` each), given everything before them
  and the copied bars right after them (bars yet to be written are not shown: an empty
  bar would say the music stops), every cell with the controls of its bar
  (:func:`bar_asks`): the plan's chord is the chord control, its intensity (0..1) the
  intensity bin, its density (when given) the density bin; polyphony is the model's;
  the harmony and bass keep to the chord's tones (:func:`held_to_chord`), the melody
  to the key's scale.

Velocities and register are the model's; each track is then folded into its
instrument's range. Every section's tempo and key go into the score at the section's
first bar; a piece has one meter (the multitrack tokens write one), so a plan whose
sections change meter is refused. The same plan, model and seed give the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import symusic

from cadenza.compose.arrange import TPQ, _fold
from cadenza.compose.composer import DEFAULT_SAMPLING, Composer, Progress
from cadenza.compose.conditions import Conditions, Instrument, instruments_of
from cadenza.compose.plan import Plan
from cadenza.compose.planner import bar_sources, make_plan
from cadenza.errors import InvalidArgumentError
from cadenza.io.midi import untangle
from cadenza.models import multitrack_tokens as mt
from cadenza.models.family import family
from cadenza.models.folder import read_config
from cadenza.models.multitrack import BarAsk, fill, infill
from cadenza.models.registry import ModelInfo
from cadenza.models.sampling import Sampling
from cadenza.theory import KEY_SCALES, chord_pitch_classes, key_signature

__all__ = ["MultitrackComposer", "role_tracks", "track_names", "held_to_chord", "bar_asks", "follow_plan", "plan_meter"]

_SECTION_SEED_STRIDE = 104_729  # each section draws from its own seed, derived from the piece's
_SCALE = TPQ // mt.RESOLUTION  # score ticks per token tick
CHORD_TONE_ROLES = ("harmony", "bass")  # roles whose notes are held to the bar's chord tones
CELL_TOKENS = 40  # what one written bar of one track is expected to take, for sizing a run
ROLE_PITCH = {"melody": 69, "counter": 64, "harmony": 62, "bass": 43}  # where a role's notes centre


def track_head(role: str, instrument: Instrument) -> mt.TrackHead:
    """The head of a track to write: its role, its instrument's program, and the register
    its role centres on (:data:`ROLE_PITCH`), kept inside the instrument's range."""
    centre = min(max(ROLE_PITCH[role], instrument.low), instrument.high)
    return mt.TrackHead(role, instrument.program, False, mt.register_bin(np.array([centre])))


def role_tracks(instruments: Sequence[Instrument]) -> list[tuple[str, Instrument]]:
    """(multitrack role, instrument) of each track to write: one instrument plays melody,
    harmony and bass (three tracks); two: melody, then harmony and bass on the second;
    three: melody, harmony, bass; a fourth adds a counter-melody."""
    chosen = list(instruments) or list(instruments_of(()))
    lead, middle, low = chosen[0], chosen[min(1, len(chosen) - 1)], chosen[min(2, len(chosen) - 1)]
    tracks = [("melody", lead), ("harmony", middle), ("bass", low)]
    if len(chosen) > 3:
        tracks.append(("counter", chosen[3]))
    return tracks


def intensity_level(intensity: float) -> int:
    """A plan's intensity (0..1) as the multitrack intensity bin (0..4, equal fifths)."""
    return min(len(mt.INTENSITY_EDGES), int(intensity * (len(mt.INTENSITY_EDGES) + 1)))


def density_level(density: float) -> int:
    """A plan's density (0 sparse .. 1 busy) as a non-empty density bin (1..7)."""
    top = len(mt.DENSITY_EDGES) + 1
    return 1 + round(density * (top - 1))


def bar_asks(plan: Plan) -> list[BarAsk]:
    """The controls every track is asked for in each bar of the plan (``None``: the model's),
    with the pitch classes a free part may use: the scale of the bar's key
    (:data:`cadenza.theory.KEY_SCALES`) and the tones of its chord, which may lie outside it."""
    asks = []
    for section in plan.sections:
        scale = frozenset((section.tonic + step) % 12 for step in KEY_SCALES[section.mode])
        for j in range(section.bars):
            control = section.controls[j] if section.controls else None
            intensity = section.intensity if control is None or control.intensity is None else control.intensity
            density = None if control is None or control.density is None else density_level(control.density)
            chord = None if control is None else control.chord
            free = scale | chord_pitch_classes(chord)
            asks.append(BarAsk(density=density, chord=chord, intensity=intensity_level(intensity), scale=free))
    return asks


def held_to_chord(ask: BarAsk, role: str) -> BarAsk:
    """``ask`` for a track of ``role``: the harmony and the bass keep to the bar's chord
    tones (:data:`CHORD_TONE_ROLES`), so the plan's progression is what is heard; the
    melody and a counter-melody keep to the key's scale (passing notes, no chromatic
    ones), as the REMI families' scale constraint keeps theirs."""
    return replace(ask, chord_tones=role in CHORD_TONE_ROLES)


def plan_meter(plan: Plan) -> str:
    """The plan's one meter; InvalidArgumentError when its sections change meter or it is one
    the multitrack tokens do not write."""
    meter = plan.sections[0].meter
    for section in plan.sections:
        if section.meter != meter:
            raise InvalidArgumentError(
                f"section {section.name[:60]!r} is in {section.meter} where the piece begins in {meter}: "
                "a multitrack model writes one meter per piece (split the plan into pieces of one meter)"
            )
    if meter not in mt.METERS:
        raise InvalidArgumentError(f"meter {meter} is not one a multitrack model writes ({', '.join(mt.METERS)})")
    return meter


def _skeleton(plan: Plan, tracks: Sequence[tuple[str, Instrument]], meter: str) -> symusic.Score:
    """An empty score: every section's tempo and key at its first bar, one track per role."""
    score = symusic.Score(TPQ)
    numerator, denominator = (int(n) for n in meter.split("/"))
    score.time_signatures.append(symusic.TimeSignature(0, numerator, denominator))
    bar, tick, tempo, key = mt.bar_ticks(meter) * _SCALE, 0, None, None
    for section in plan.sections:
        if section.tempo != tempo:
            score.tempos.append(symusic.Tempo(tick, qpm=section.tempo))
        if section.key != key:
            minor = section.mode == "min"
            score.key_signatures.append(
                symusic.KeySignature(tick, key_signature(section.tonic, section.mode), int(minor))
            )
        tempo, key, tick = section.tempo, section.key, tick + section.bars * bar
    for name, (_, instrument) in zip(track_names(tracks), tracks, strict=True):
        score.tracks.append(symusic.Track(name=name, program=instrument.program))
    return score


def track_names(tracks: Sequence[tuple[str, Instrument]]) -> list[str]:
    """Each track named by its instrument, as the user asked for it; an instrument that
    plays several roles names each of its tracks with the role too ("piano (bass)")."""
    plays = [instrument.name for _, instrument in tracks]
    return [
        instrument.name if plays.count(instrument.name) == 1 else f"{instrument.name} ({role})"
        for role, instrument in tracks
    ]


def _copy_bar(score: symusic.Score, source: int, target: int, shift: int, bar: int) -> None:
    """Every track's notes that start in bar ``source`` again in bar ``target``, ``shift`` semitones away."""
    begin, offset = source * bar, (target - source) * bar
    for track in score.tracks:
        copied = [
            symusic.Note(n.time + offset, n.duration, n.pitch + shift, n.velocity)
            for n in track.notes
            if begin <= n.time < begin + bar and 21 <= n.pitch + shift <= 108
        ]
        track.notes.extend(copied)


def _shift(plan: Plan, source: int, target: int) -> int:
    """Semitones from the key of bar ``source``'s section to that of bar ``target``'s (-5..6)."""
    tonics, bar = [], 0
    for section in plan.sections:
        tonics += [section.tonic] * section.bars
        bar += section.bars
    step = (tonics[target] - tonics[source]) % 12
    return step - 12 if step > 6 else step


def _hold_to_end(score: symusic.Score, plan: Plan, bar: int, *, silent_end: bool = True) -> None:
    """Make the piece last exactly as long as asked: the notes of every track's last onset
    in the last bar (and any that reach its end) are held to the end, the plan's tail
    included; when the last bar is silent and ``silent_end``, the piece's last onset is
    held there instead. Nothing sounds past that end."""
    end = plan.bars * bar
    stop_all = end + round(plan.tail_quarters * TPQ)
    last_bar = end - bar
    if silent_end and not any(n.time >= last_bar for track in score.tracks for n in track.notes):
        last_bar = max((n.time for track in score.tracks for n in track.notes), default=end)
    for track in score.tracks:
        last_onset = max((n.time for n in track.notes if n.time >= last_bar), default=None)
        for n in track.notes:
            stop = n.time + n.duration
            if n.time >= last_bar and (n.time == last_onset or stop >= end):
                stop = stop_all
            if n.time >= last_bar or stop > stop_all:
                n.duration = max(1, min(stop, stop_all) - n.time)


def _fold_track(track: symusic.Track, instrument: Instrument, ticks: range | None = None) -> None:
    """The track's notes (those starting in ``ticks``, or all) folded into the instrument's range."""
    for n in track.notes:
        if ticks is None or n.time in ticks:
            n.pitch = _fold(n.pitch, instrument)


def _finish(score: symusic.Score, plan: Plan, tracks: Sequence[tuple[str, Instrument]], bar: int) -> None:
    """Each track folded into its instrument's range and untangled, and held to the
    piece's exact length (:func:`_hold_to_end`)."""
    for track, (_, instrument) in zip(score.tracks, tracks, strict=True):
        _fold_track(track, instrument)
        notes = untangle(list(track.notes))
        track.notes.clear()
        track.notes.extend(notes)
    _hold_to_end(score, plan, bar)


def follow_plan(
    model: object,
    plan: Plan,
    sampling: Sampling,
    progress: Progress | None = None,
    tracks: Sequence[tuple[str, Instrument]] | None = None,
    shape: Callable[[int, int, BarAsk], BarAsk] | None = None,
) -> symusic.Score:
    """The piece ``plan`` describes, written by a multitrack ``model`` (see the module
    docstring); ``tracks`` (role, instrument) replace those of :func:`role_tracks`, and
    ``shape(track, bar, ask)`` gives the ask of each cell in place of the plan's."""
    meter = plan_meter(plan)
    tracks = list(tracks) if tracks is not None else role_tracks(instruments_of(plan.instruments))
    roles = [role for role, _ in tracks]
    heads = [track_head(role, instrument) for role, instrument in tracks]
    score = _skeleton(plan, tracks, meter)
    bar = mt.bar_ticks(meter) * _SCALE
    sources = bar_sources(plan)
    asks = bar_asks(plan)
    start = 0
    for index, section in enumerate(plan.sections):
        stop = start + section.bars
        fresh = [b for b in range(start, stop) if sources[b] is None]
        for b in range(start, stop):
            source = sources[b]
            if source is not None:
                _copy_bar(score, source, b, _shift(plan, source, b), bar)
        per_run = max(1, model.config.block_size // 2 // (CELL_TOKENS * len(tracks)))  # type: ignore[attr-defined]
        for run, first in enumerate(range(0, len(fresh), per_run)):  # a few bars at a time, left to right
            chunk = fresh[first : first + per_run]
            end = chunk[-1] + 1
            while end < stop and sources[end] is not None:  # copied bars after the chunk are context
                end += 1
            piece = mt.tokenize(score, roles, style=plan.style, bars=end)  # no empty bars to come
            piece.tracks = list(heads)  # the same heads all through, whatever was written so far
            holes = [(t, b) for t in range(len(tracks)) for b in chunk]
            seeded = replace(sampling, seed=sampling.seed + _SECTION_SEED_STRIDE * (index + run * len(plan.sections)))
            cells = {(t, b): held_to_chord(asks[b], roles[t]) for t, b in holes}
            if shape is not None:
                cells = {cell: shape(*cell, ask) for cell, ask in cells.items()}
            written = fill(model, piece, holes, seeded, cells)  # type: ignore[arg-type]
            for (t, _), notes in sorted(written.items()):
                score.tracks[t].notes.extend(
                    symusic.Note(onset * _SCALE, length * _SCALE, pitch, mt.velocity_of(velocity))
                    for onset, pitch, length, velocity in notes
                )
        if progress is not None:
            progress(stop, plan.bars)
        start = stop
    _finish(score, plan, tracks, bar)
    return score


class MultitrackComposer(Composer):
    """The :class:`Composer` of a multitrack model: every piece is planned
    (:func:`~cadenza.compose.planner.make_plan`, or the plan given) and follows its plan."""

    follows_plans = True

    def __init__(self, folder: Path, name: str | None = None) -> None:  # no REMI tokenizer to read
        self.info = ModelInfo.read(folder, name)
        self.folder = folder
        self.family = family(self.info.family, folder)
        self.config = read_config(folder)
        self.key_normalised = False
        self.default_style = str(self.config.get("default_style", "pop"))

    def plan(self, conditions: Conditions, sampling: Sampling = DEFAULT_SAMPLING) -> Plan:
        """The plan a piece for ``conditions`` follows (the same seed, the same plan)."""
        return make_plan(self.resolve(conditions), seed=sampling.seed)

    def generate(
        self,
        conditions: Conditions,
        sampling: Sampling = DEFAULT_SAMPLING,
        progress: Progress | None = None,
        plan: Plan | None = None,
    ) -> symusic.Score:
        """A new piece that follows ``plan``, or the plan made for ``conditions``."""
        return follow_plan(self._model, plan or self.plan(conditions, sampling), sampling, progress)

    def regenerate(
        self,
        score: symusic.Score,
        start_bar: int,
        end_bar: int,
        conditions: Conditions,
        sampling: Sampling,
        plan: Plan | None = None,
    ) -> symusic.Score:
        """``score`` with bars ``start_bar``..``end_bar - 1`` of every track filled anew, with
        the plan's controls; every other note is kept."""
        plan = plan or self.plan(conditions, sampling)
        if not 0 <= start_bar < end_bar <= plan.bars:
            raise InvalidArgumentError(f"bars {start_bar}..{end_bar} are outside the piece's {plan.bars} bars")
        asks = bar_asks(plan)
        tracks = range(len(score.tracks))
        instruments = role_tracks(instruments_of(plan.instruments))
        roles = [role for role, _ in instruments]
        role_of = [roles[t] if t < len(roles) else "other" for t in tracks]
        wanted = {(t, b): held_to_chord(asks[b], role_of[t]) for t in tracks for b in range(start_bar, end_bar)}
        out = infill(
            self._model, score, range(start_bar, end_bar), tracks, sampling, asks=wanted, roles=roles, style=plan.style
        )
        if len(out.tracks) == len(instruments):  # a piece of this plan: finish the bars written as generate does
            bar = mt.bar_ticks(plan_meter(plan)) * _SCALE * out.ticks_per_quarter // TPQ
            for track, (_, instrument) in zip(out.tracks, instruments, strict=True):
                _fold_track(track, instrument, range(start_bar * bar, end_bar * bar))
            after_end = any(n.time >= plan.bars * bar for track in out.tracks for n in track.notes)
            if end_bar == plan.bars and out.ticks_per_quarter == TPQ and not after_end:
                _hold_to_end(out, plan, bar, silent_end=False)  # the user's notes before the bars stay as they are
        return out
