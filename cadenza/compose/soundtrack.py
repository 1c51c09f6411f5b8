"""A cue composed: layers that follow its plan, land its hit points and, asked to, loop.

:func:`compose_cue` turns a :class:`~cadenza.compose.cue.Cue` into a
:class:`Soundtrack`, one track per layer:

1. **The plan** (:func:`plan_for`): each section planned as ``cadenza generate`` plans a
   piece (form, a chord and an intensity per bar), in its own key and mood, with the
   cue's intensity per bar; a cadence hit gets a dominant in the bar before it and the
   tonic on it; a loop's last bar gets the dominant of its first.
2. **The model's layers** (melody, rhythm, bass) written by the multitrack model
   following the plan (:func:`~cadenza.compose.multitrack_composer.follow_plan`), each
   cell asked for a density from its bar's intensity (empty where the layer rests,
   :func:`density_for`), checked for copies of its training pieces (passages that copy
   are written again); a loop's last bar is then written again between its bars before
   and the loop's first bars after it, and its first bar between the loop's last bars
   and its own next ones (:class:`_Seam`), so that the seam is written knowing both sides;
   each of the two is drawn :data:`SEAM_CANDIDATES` times and the draw the model finds
   likeliest across the seam (its NLL per token, that bar and the next) is kept.
3. **The rule layers**: a pad of held chords (:mod:`cadenza.compose.pad`) and the
   percussion (:mod:`cadenza.compose.percussion`; there is no drum corpus to learn from).
4. **Intensity**: a layer plays the bars whose intensity reaches its level
   (:data:`~cadenza.compose.cue.ENTRY_LEVELS`), so the texture thickens as the curve rises.
5. **Hit points**: notes on a hit are accented; a stinger adds a short tutti chord; the
   percussion crashes there; a marker names each.
6. **Time**: the tempo map of the cue (sections and hits exactly at their seconds); every
   note ends by the cue's end, which is exactly its length.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import symusic

from cadenza.compose.arrange import TPQ
from cadenza.compose.bar_grid import GridBar
from cadenza.compose.composer import Progress
from cadenza.compose.conditions import INSTRUMENTS, Instrument, Resolved, instruments_of, parse_meter
from cadenza.compose.cue import Cue, CueSection
from cadenza.compose.multitrack_composer import (
    MultitrackComposer,
    bar_asks,
    follow_plan,
    held_to_chord,
    plan_meter,
)
from cadenza.compose.pad import pad_track
from cadenza.compose.percussion import percussion_track
from cadenza.compose.plan import BarControl, Plan, Section
from cadenza.compose.planner import make_plan
from cadenza.errors import InvalidArgumentError
from cadenza.io.midi import untangle
from cadenza.models.multitrack import BarAsk, infill
from cadenza.models.progression import absolute_chord
from cadenza.models.sampling import Sampling
from cadenza.models.transformer import TransformerModel
from cadenza.provenance.repair import check_and_repair
from cadenza.provenance.report import Level, OriginalityReport
from cadenza.theory import chord_pitch_classes, parse_key

__all__ = ["MODEL_LAYERS", "Soundtrack", "compose_cue", "plan_for"]

MODEL_LAYERS = {"melody": "melody", "rhythm": "harmony", "bass": "bass"}  # layer -> the model's role
_SECTION_SEED_STRIDE = 7919
_REPAIR_SEED_STRIDE = 1000
ACCENT = 24  # velocity added to the notes struck on a hit point
QUIET, FULL = 36, 112  # the mean velocity of a bar at intensity 0 and 1
SEAM_CONTEXT_BARS = 2  # bars of a loop's other side shown when its first or last bar is written again
SEAM_CANDIDATES = 4  # a loop's seam bars: drawn this many times, the one the model finds likeliest across the seam kept
_CANDIDATE_SEED_STRIDE = 7
REPEAT_INTENSITY = 0.25  # a repeat plays its original again only where their intensities differ by at most this
# the density bins (multitrack_tokens.DENSITY_EDGES) a model layer is asked for, from its level to intensity 1
DENSITY_RANGE = {"melody": (2, 4), "harmony": (2, 5), "bass": (1, 3)}


@dataclass(frozen=True)
class Soundtrack:
    """A composed cue: its score (a track per layer, in the order of ``cue.layers``), the
    plan it followed and the originality report of what the model wrote."""

    score: symusic.Score
    cue: Cue
    plan: Plan
    report: OriginalityReport | None

    @property
    def layer_tracks(self) -> dict[str, int]:
        return {layer.name: index for index, layer in enumerate(self.cue.layers)}

    @property
    def bar_ticks(self) -> int:
        return round(self.cue.bar_quarters * TPQ)

    @property
    def end_tick(self) -> int:
        return self.cue.bars * self.bar_ticks


def _model_instruments(cue: Cue) -> tuple[str, ...]:
    names = [layer.instrument for layer in cue.layers if layer.name in MODEL_LAYERS]
    return tuple(dict.fromkeys(names))[:4] or ("piano",)


def _section_plan(cue: Cue, section: CueSection, index: int, seed: int) -> list[Section]:
    """The section planned as a piece of its length (its form, chords, repeats) in its key
    and mood, with the cue's intensity per bar; a repeat whose bars ask for another set of
    layers than its original's, or an intensity further than :data:`REPEAT_INTENSITY`
    from it, keeps the original's chords but is written afresh, so that its texture
    follows its own curve (a repeat's loudness follows its own curve anyway)."""

    def playing(level: float) -> tuple[str, ...]:
        return tuple(layer.name for layer in cue.layers if layer.enters_at <= level + 1e-9)

    tonic, mode = parse_key(section.key)
    numerator, denominator = parse_meter(cue.meter)
    instruments = instruments_of(_model_instruments(cue))
    resolved = Resolved(
        cue.style, section.mood, tonic, mode, section.tempo, numerator, denominator, section.bars, 0.0, instruments, 1.0
    )
    sub = make_plan(resolved, seed=seed + _SECTION_SEED_STRIDE * index).sections
    rename = {s.name: section.name if len(sub) == 1 else f"{section.name}/{s.name}" for s in sub}
    out, bar = [], 0
    heard: dict[str, tuple[float, ...]] = {}
    for s in sub:
        levels = section.intensity[bar : bar + s.bars]
        heard[s.name] = levels
        controls = tuple(replace(c, intensity=v) for c, v in zip(s.controls, levels, strict=True))
        same = s.repeat_of is not None and all(
            abs(a - b) <= REPEAT_INTENSITY and playing(a) == playing(b)
            for a, b in zip(levels, heard[s.repeat_of], strict=True)
        )
        out.append(
            replace(
                s,
                name=rename[s.name],
                repeat_of=rename[s.repeat_of] if same and s.repeat_of is not None else None,
                controls=controls,
                intensity=round(sum(levels) / len(levels), 6),
            )
        )
        bar += s.bars
    return out


def _set_chord(sections: list[Section], bar: int, chord: str) -> list[Section]:
    """The plan with bar ``bar`` (0-based, across sections) on ``chord``."""
    out, start = [], 0
    for s in sections:
        if start <= bar < start + s.bars:
            controls = list(s.controls)
            controls[bar - start] = replace(controls[bar - start], chord=chord)
            s = replace(s, controls=tuple(controls))
        out.append(s)
        start += s.bars
    return out


def _key_at(cue: Cue, bar: int) -> tuple[int, str]:
    start = 0
    for section in cue.sections:
        if bar < start + section.bars:
            return parse_key(section.key)
        start += section.bars
    return parse_key(cue.sections[-1].key)


def plan_for(cue: Cue, seed: int = 0) -> Plan:
    """The plan the cue's layers follow (see the module docstring)."""
    sections = [s for i, section in enumerate(cue.sections) for s in _section_plan(cue, section, i, seed)]
    for hit, quarter in zip(cue.hits, cue.hit_quarters, strict=True):
        if hit.kind != "cadence":
            continue
        bar = round(quarter / cue.bar_quarters)
        if bar < cue.bars:
            tonic, mode = _key_at(cue, bar)
            sections = _set_chord(sections, bar, absolute_chord("0:min" if mode == "min" else "0:maj", tonic))
        if bar >= 1:
            sections = _set_chord(sections, bar - 1, absolute_chord("7:7", _key_at(cue, max(bar, 0) % cue.bars)[0]))
    if cue.loop and cue.bars > 1:
        sections = _set_chord(sections, cue.bars - 1, absolute_chord("7:7", _key_at(cue, 0)[0]))
    return Plan(tuple(sections), cue.style, _model_instruments(cue), 0.0)


def _model_tracks(cue: Cue) -> list[tuple[str, Instrument]]:
    return [
        (MODEL_LAYERS[layer.name], INSTRUMENTS[layer.instrument]) for layer in cue.layers if layer.name in MODEL_LAYERS
    ]


def density_for(role: str, intensity: float, enters_at: float) -> int:
    """The density bin a model layer is asked for in a bar: empty (0) below the layer's
    level, else rising with the intensity through the role's range (:data:`DENSITY_RANGE`)."""
    if intensity < enters_at - 1e-9:
        return 0
    low, high = DENSITY_RANGE[role]
    above = (intensity - enters_at) / (1 - enters_at) if enters_at < 1 else 1.0
    return low + round((high - low) * min(max(above, 0.0), 1.0))


def _write_model_layers(
    composer: MultitrackComposer, cue: Cue, plan: Plan, sampling: Sampling, level: Level, progress: Progress | None
) -> tuple[symusic.Score, OriginalityReport | None]:
    tracks = _model_tracks(cue)
    roles = [role for role, _ in tracks]
    levels = [layer.enters_at for layer in cue.layers if layer.name in MODEL_LAYERS]
    intensity = cue.intensity
    model = composer._model
    asks = bar_asks(plan)

    def shape(track: int, bar: int, ask: BarAsk) -> BarAsk:
        return replace(ask, density=density_for(roles[track], intensity[bar], levels[track]))

    def cells(bars: range) -> dict[tuple[int, int], BarAsk]:
        return {(t, b): shape(t, b, held_to_chord(asks[b], roles[t])) for t in range(len(tracks)) for b in bars}

    score = follow_plan(model, plan, sampling, progress, tracks, shape)
    seam = _Seam(model, cue, roles, plan.style, cells)
    if cue.loop and cue.bars > 1:
        score = seam.refill(score, range(cue.bars - 1, cue.bars), replace(sampling, seed=sampling.seed + 17))
        score = seam.refill(score, range(0, 1), replace(sampling, seed=sampling.seed + 19))
    latest = [score]

    def regenerate(start_bar: int, end_bar: int, attempt: int) -> symusic.Score:
        retry = replace(sampling, seed=sampling.seed + _REPAIR_SEED_STRIDE * attempt)
        bars = range(start_bar, end_bar)
        if cue.loop and cue.bars > 1:  # what is written again still sees the loop's other side
            latest[0] = seam.refill(latest[0], bars, retry)
        else:
            latest[0] = infill(
                model, latest[0], bars, range(len(tracks)), retry, asks=cells(bars), roles=roles, style=plan.style
            )
        return latest[0]

    return check_and_repair(score, regenerate, composer.originality_index, level)


def _moved(note: symusic.Note, ticks: int) -> symusic.Note:
    return symusic.Note(note.time + ticks, note.duration, note.pitch, note.velocity)


@dataclass(frozen=True)
class _Seam:
    """Writing bars of a loop with the loop's other side in view: the piece is written
    between a copy of its last bars (before it) and of its first bars (after it), so that
    its last bar leads into its first and its first follows from its last."""

    model: TransformerModel
    cue: Cue
    roles: list[str]
    style: str
    cells: Callable[[range], dict[tuple[int, int], BarAsk]]

    def refill(self, score: symusic.Score, bars: range, sampling: Sampling) -> symusic.Score:
        bar, count = round(self.cue.bar_quarters * TPQ), self.cue.bars
        end = count * bar
        context = min(SEAM_CONTEXT_BARS, count - 1)
        shift = context * bar
        wrapped = score.copy()
        for track in wrapped.tracks:
            notes = list(track.notes)
            track.notes.clear()
            track.notes.extend(_moved(n, shift - end) for n in notes if n.time >= end - shift)  # the end, before
            track.notes.extend(_moved(n, shift) for n in notes)
            track.notes.extend(_moved(n, shift + end) for n in notes if n.time < shift)  # the beginning, after
        asks = {(t, b + context): ask for (t, b), ask in self.cells(bars).items()}
        holes = range(bars.start + context, bars.stop + context)
        tracks = range(len(self.roles))
        best: tuple[float, symusic.Score] | None = None
        for k in range(SEAM_CANDIDATES):
            drawn = replace(sampling, seed=sampling.seed + _CANDIDATE_SEED_STRIDE * k)
            out = infill(self.model, wrapped, holes, tracks, drawn, asks=asks, roles=self.roles, style=self.style)
            score_k = self._across(out, holes, context)
            if best is None or score_k < best[0]:
                best = (score_k, out)
        assert best is not None
        out = best[1]
        for track in out.tracks:
            kept = [
                symusic.Note(n.time - shift, min(n.duration, shift + end - n.time), n.pitch, n.velocity)
                for n in track.notes
                if shift <= n.time < shift + end
            ]
            track.notes.clear()
            track.notes.extend(kept)
        return out

    def _across(self, wrapped: symusic.Score, holes: range, context: int) -> float:
        """The model's NLL per token of the bars written and the bar after them, each
        track's, read with ``context`` bars on either side: how naturally the music runs
        on across the seam."""
        from cadenza.models import multitrack_tokens as mt
        from cadenza.train.multitrack import fill_nll, window_piece

        piece = mt.tokenize(wrapped, self.roles, style=self.style)
        scored = [(t, b) for t in range(len(self.roles)) for b in range(holes.start, min(holes.stop + 1, piece.bars))]
        window = range(max(0, holes.start - context), min(piece.bars, holes.stop + 1 + context))
        nll, _ = fill_nll(self.model, piece, scored, window)
        moved = [(t, b - window.start) for t, b in scored]
        view = window_piece(piece, window)
        tokens = len(view.tokens(moved)) - len(view.tokens(moved, fills=False))
        return nll / max(tokens, 1)


def _cut(score: symusic.Score, end: int) -> None:
    """Nothing starts or sounds past ``end``, and no track strikes a key still down
    (:func:`~cadenza.io.midi.untangle`: what a MIDI file can say)."""
    for track in score.tracks:
        kept = [n for n in track.notes if n.time < end]
        for n in kept:
            n.duration = max(1, min(n.duration, end - n.time))
        track.notes.clear()
        track.notes.extend(untangle(kept))


def _grid(cue: Cue, plan: Plan) -> list[GridBar]:
    numerator, denominator = parse_meter(cue.meter)
    bar = round(cue.bar_quarters * TPQ)
    out, index = [], 0
    for section in plan.sections:
        for j in range(section.bars):
            control = section.controls[j] if section.controls else BarControl()
            out.append(
                GridBar(
                    start=index * bar,
                    ticks=bar,
                    numerator=numerator,
                    denominator=denominator,
                    intensity=control.intensity if control.intensity is not None else section.intensity,
                    chord=control.chord,
                    tonic=section.tonic,
                    mode=section.mode,
                    section_start=j == 0,
                    section_end=j == section.bars - 1,
                )
            )
            index += 1
    return out


def _gate(track: symusic.Track, grid: Sequence[GridBar], enters_at: float, hits: frozenset[int]) -> None:
    """Only the bars whose intensity reaches ``enters_at`` keep the track's notes (and the
    notes struck on a hit point, which every layer plays); a note held into a bar where
    the layer is silent stops at that bar's start."""
    playing = [g.intensity >= enters_at - 1e-9 for g in grid]
    bar = grid[0].ticks
    kept = []
    for n in track.notes:
        first = min(n.time // bar, len(grid) - 1)
        if not playing[first] and n.time not in hits:
            continue
        stop = n.time + n.duration
        following = first + 1
        while following < len(grid) and following * bar < stop:
            if not playing[following]:
                stop = following * bar
                break
            following += 1
        n.duration = max(1, stop - n.time)
        kept.append(n)
    track.notes.clear()
    track.notes.extend(kept)


def velocity_for(intensity: float) -> int:
    """The mean velocity a bar of this intensity is played at: 36 (quiet) .. 112 (full)."""
    return round(QUIET + (FULL - QUIET) * intensity)


def _loudness(track: symusic.Track, grid: Sequence[GridBar]) -> None:
    """Each bar of the track played at its intensity's level (:func:`velocity_for`), its
    notes keeping their accents relative to one another."""
    bar = grid[0].ticks
    by_bar: dict[int, list[symusic.Note]] = {}
    for n in track.notes:
        by_bar.setdefault(min(n.time // bar, len(grid) - 1), []).append(n)
    for index, notes in by_bar.items():
        mean = sum(n.velocity for n in notes) / len(notes)
        scale = velocity_for(grid[index].intensity) / mean
        for n in notes:
            n.velocity = max(1, min(127, round(n.velocity * scale)))


def _hits(score: symusic.Score, cue: Cue, grid: Sequence[GridBar], pitched: Sequence[int]) -> None:
    """Accents on every hit point, a tutti chord on each stinger, and a marker for each."""
    for hit, quarter in zip(cue.hits, cue.hit_quarters, strict=True):
        tick = round(quarter * TPQ)
        for t in pitched:
            for n in score.tracks[t].notes:
                if n.time == tick:
                    n.velocity = min(127, n.velocity + ACCENT)
        if hit.kind == "stinger" and pitched:
            g = grid[min(tick // grid[0].ticks, len(grid) - 1)]
            root = g.tonic if g.chord is None else sorted(chord_pitch_classes(g.chord))[0]
            tones = sorted(chord_pitch_classes(g.chord)) if g.chord not in (None, "N") else [root]
            beat = round(4 / parse_meter(cue.meter)[1] * TPQ)
            length = max(1, min(beat, cue.bars * grid[0].ticks - tick))
            stinger = [36 + root, 48 + root, *(60 + pc for pc in tones)]
            score.tracks[pitched[0]].notes.extend(symusic.Note(tick, length, p, 112) for p in stinger)
        label = f"{hit.kind}: {hit.name}" if hit.name else hit.kind
        score.markers.append(symusic.TextMeta(tick, label))


def _timing(score: symusic.Score, cue: Cue, plan: Plan) -> None:
    """The cue's tempo map, and a marker at every section (and at a loop's two ends)."""
    score.tempos.clear()
    for mark in cue.tempo_map:
        score.tempos.append(symusic.Tempo(round(mark.quarter * TPQ), qpm=mark.qpm))
    bar = round(cue.bar_quarters * TPQ)
    start = 0
    for section in cue.sections:
        score.markers.append(symusic.TextMeta(start * bar, f"section: {section.name}"))
        start += section.bars
    if cue.loop:
        score.markers.append(symusic.TextMeta(0, "loop start"))
        score.markers.append(symusic.TextMeta(start * bar, "loop end"))
    score.markers.append(symusic.TextMeta(start * bar, "end"))  # the MIDI file lasts exactly the cue
    score.markers.sort(key=lambda m: m.time)


def compose_cue(
    composer: MultitrackComposer,
    cue: Cue,
    sampling: Sampling,
    level: Level | str = Level.NORMAL,
    progress: Progress | None = None,
) -> Soundtrack:
    """The cue composed (see the module docstring); the same cue, model and seed give the same score."""
    if not getattr(composer, "follows_plans", False):
        raise InvalidArgumentError(
            f"{composer.info.name} does not follow plans; a soundtrack needs a multitrack model "
            "(--model cadenza-multitrack)"
        )
    level = Level.parse(level)
    plan = plan_for(cue, sampling.seed)
    plan_meter(plan)  # a meter the model writes
    grid = _grid(cue, plan)
    score = symusic.Score(TPQ)
    numerator, denominator = parse_meter(cue.meter)
    score.time_signatures.append(symusic.TimeSignature(0, numerator, denominator))
    report = None
    written: dict[str, symusic.Track] = {}
    if any(layer.name in MODEL_LAYERS for layer in cue.layers):
        model_score, report = _write_model_layers(composer, cue, plan, sampling, level, progress)
        score.key_signatures.extend(model_score.key_signatures)
        names = [layer.name for layer in cue.layers if layer.name in MODEL_LAYERS]
        written.update(zip(names, model_score.tracks, strict=True))
    hit_ticks = [round(q * TPQ) for q in cue.hit_quarters]
    for layer in cue.layers:
        if layer.name == "pad":
            instrument = INSTRUMENTS[layer.instrument]
            written["pad"] = pad_track(grid, instrument.program, name=layer.instrument)
        elif layer.name == "percussion":
            written["percussion"] = percussion_track(grid, cue.style, sampling.seed, hits=hit_ticks)
    end = cue.bars * grid[0].ticks
    for layer in cue.layers:
        track = written[layer.name]
        track.name = f"{layer.name} ({layer.instrument})"
        _loudness(track, grid)
        _gate(track, grid, layer.enters_at, frozenset(hit_ticks))
        score.tracks.append(track)
    pitched = [i for i, layer in enumerate(cue.layers) if layer.name != "percussion"]
    _hits(score, cue, grid, pitched)
    _cut(score, end)
    _timing(score, cue, plan)
    return Soundtrack(score, cue, plan, report)
