"""The composer's tasks on a user's own music: continue, infill, harmonize, accompany, vary.

Each takes the user's score (any ticks per quarter, read from MIDI, MusicXML, ABC or
Humdrum) and a multitrack model, writes only the cells (bars of tracks) the task asks
for (:func:`cadenza.compose.cells.write_cells`), and returns an
:class:`~cadenza.compose.edit.Edit`: the whole
score, the cells the model wrote and the tracks it added. Every note, controller,
tempo, meter and key event outside those cells is the user's, unchanged; the new notes
keep to the key the analysis hears in each bar (:class:`~cadenza.compose.sketch.Sketch`),
and a part the model writes is kept in its instrument's range. ``arrange`` composes
nothing and lives in :mod:`cadenza.compose.ensemble`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import symusic

from cadenza.compose.cells import Cell, check_cells, check_grid, write_cells
from cadenza.compose.conditions import Instrument, instruments_of
from cadenza.compose.edit import Edit, edit_of
from cadenza.compose.harmony import chords_for, spans_per_bar
from cadenza.compose.multitrack_composer import CHORD_TONE_ROLES, ROLE_PITCH
from cadenza.compose.parts import MIN_TUNE_NOTES, fold, keep_voices_apart, track_ranges
from cadenza.compose.sketch import Sketch
from cadenza.compose.voicing import order_voices, repair_parallels
from cadenza.errors import InvalidArgumentError
from cadenza.models import multitrack_tokens as mt
from cadenza.models.multitrack import MAX_NEW_BARS, BarAsk
from cadenza.models.sampling import Sampling
from cadenza.theory import PITCH_NAMES, chord_pitch_classes

__all__ = [
    "continue_sketch",
    "infill_sketch",
    "harmonize",
    "accompany",
    "vary",
    "HARMONY_STYLES",
    "check_amount",
]

HARMONY_STYLES = ("chorale", "pop")
# Four-part writing: the voices added under a soprano, the pitch their register centres
# on, and their ranges (MIDI): the lowest and highest notes of Bach's voices in the JSB train split.
CHORALE_VOICES = (("Alto", "counter", 64, 52, 74), ("Tenor", "counter", 57, 46, 69), ("Bass", "bass", 48, 36, 66))
CHORALE_PROGRAM = 52  # choir aahs, as the chorales the model learned from
DEFAULT_ACCOMPANIMENT = ("piano", "bass")


def _scale_asks(sketch: Sketch, cells: Sequence[Cell], score: symusic.Score) -> dict[Cell, BarAsk]:
    return {(t, b): BarAsk(scale=sketch.scale_at(b)) for t, b in cells if not score.tracks[t].is_drum}


def _model_of(composer: object) -> object:
    if not getattr(composer, "follows_plans", False):
        name = getattr(getattr(composer, "info", None), "name", "this model")
        raise InvalidArgumentError(
            f"{name} writes a piece left to right and cannot fill bars of a user's music; "
            "use a multitrack model (--model cadenza-multitrack)"
        )
    return composer._model  # type: ignore[attr-defined]


def continue_sketch(composer: object, sketch: Sketch, bars: int, sampling: Sampling) -> Edit:
    """``bars`` more bars of every track that plays, after the sketch's last bar, in its
    meter, tempo, instruments and the key it ends in."""
    if not 1 <= bars <= MAX_NEW_BARS:
        raise InvalidArgumentError(f"--bars must be from 1 to {MAX_NEW_BARS}, got {bars}")
    model = _model_of(composer)
    playing = [t for t, track in enumerate(sketch.score.tracks) if len(track.notes)]
    new_bars = range(sketch.bars, sketch.bars + bars)
    cells = [(t, b) for t in playing for b in new_bars]
    asks = _scale_asks(sketch, cells, sketch.score)
    score = write_cells(model, sketch, cells, sampling, roles=sketch.roles, asks=asks, see_future=False)
    ranges = track_ranges(score, sketch)
    fold(score, cells, sketch, ranges)
    keep_voices_apart(score, sketch, cells, ranges)
    return edit_of("continue", sketch, score, cells, bars=bars)


def infill_sketch(
    composer: object, sketch: Sketch, bars: range, tracks: Sequence[int] | None, sampling: Sampling
) -> Edit:
    """Bars ``bars`` (from 0) of ``tracks`` (default: every track) written anew from what
    lies before and after them."""
    sketch.check_bars(bars)
    model = _model_of(composer)
    chosen = list(range(len(sketch.score.tracks))) if tracks is None else sorted(set(tracks))
    cells = [(t, b) for t in chosen for b in bars]
    check_cells(len(cells))
    heard = kept_harmony(sketch, chosen, bars)
    asks = _scale_asks(sketch, cells, sketch.score)
    if heard is not None:
        asks = {
            (t, b): _held_to(ask, heard[b - bars.start], sketch, sketch.roles[t] in CHORD_TONE_ROLES)
            for (t, b), ask in asks.items()
        }
    bar_chords = None if heard is None else {b: heard[b - bars.start][0][1] for b in bars}
    score = write_cells(
        model, sketch, cells, sampling, roles=sketch.roles, asks=asks, see_future=True, chords=bar_chords
    )
    ranges = track_ranges(score, sketch)
    fold(score, cells, sketch, ranges)
    keep_voices_apart(score, sketch, cells, ranges)
    names = [sketch.score.tracks[t].name or str(t + 1) for t in chosen]
    return edit_of("infill", sketch, score, cells, bars=f"{bars.start + 1}-{bars.stop}", tracks=names)


Changes = list[tuple[int, str]]  # (position in the bar on the tokens' grid, chord) where the chord changes


def kept_harmony(sketch: Sketch, filled: Sequence[int], bars: range) -> list[Changes] | None:
    """The chords of ``bars`` as the tracks that are kept tell them, for the filled ones to
    follow: where a kept track holds the harmony or the bass, the chord the analysis hears
    in the kept tracks on each beat; where only lines are kept (the tune, a counter-line),
    the chords the harmonizer chooses for the tune (two a bar of four beats), as the
    analysis hears little harmony in a line; where nothing is kept in those bars, None
    (the model chooses)."""
    from cadenza.analysis.chords import grid_chords

    kept = [t for t in sketch.pitched() if t not in set(filled) and sketch.notes_in(t, bars)]
    if not kept:
        return None
    beat = mt.bar_ticks(sketch.meter) // sketch.beats_per_bar
    if any(sketch.roles[t] in CHORD_TONE_ROLES for t in kept):
        alone = sketch.score.copy()
        for t, track in enumerate(alone.tracks):
            if t not in kept:
                track.notes.clear()
        labels = grid_chords(alone, sketch.bar_ticks, sketch.beats_per_bar, sketch.bars)
        out = []
        for b in bars:
            beats = labels[b * sketch.beats_per_bar : (b + 1) * sketch.beats_per_bar]
            changes = [(k * beat, c) for k, c in enumerate(beats) if c != "N" and (k == 0 or c != beats[k - 1])]
            out.append(changes or [(0, "N")])
        return out
    per_bar = spans_per_bar(sketch.meter)
    span = mt.bar_ticks(sketch.meter) // per_bar
    tune = next((t for t in kept if sketch.roles[t] == "melody"), kept[0])  # else a counter-line
    chords = chords_for(sketch, tune, bars, "pop", per_bar)
    return [[(k * span, c) for k, c in enumerate(bar)] for bar in chords]


def _held_to(ask: BarAsk, changes: Changes, sketch: Sketch, chord_tones: bool) -> BarAsk:
    """``ask`` with the bar's chord (the first) as its control and, for a part under the
    tune, its notes held to the chord of each position."""
    first = changes[0][1]
    if first == "N":
        return ask
    return replace(ask, chord=first, chord_tones=chord_tones, changes=tuple(changes) if chord_tones else ())


def _melody_of(sketch: Sketch) -> int:
    """The track to harmonize: the sketch's melody, if it is a tune: a single line (at most
    1.5 notes per onset) with at least :data:`MIN_TUNE_NOTES` notes and one every two bars."""
    melody = sketch.melody
    names = ", ".join(repr(t.name or "(unnamed)") for t in sketch.score.tracks)
    if melody is None:
        raise InvalidArgumentError(
            f"no melody to harmonize: no track is named or heard as the melody ({names}); "
            "give a file whose tune is one track named Melody, Soprano, Lead or Voice, or the tune alone"
        )
    times = sketch.score.tracks[melody].notes.numpy()["time"]
    onsets = len(np.unique(times))
    name = sketch.score.tracks[melody].name or str(melody + 1)
    if len(times) > 1.5 * onsets:
        raise InvalidArgumentError(
            f"no melody to harmonize: track {name!r} holds chords ({len(times)} notes on {onsets} onsets), "
            "not a single line"
        )
    if len(times) < max(MIN_TUNE_NOTES, sketch.bars / 2):
        raise InvalidArgumentError(
            f"no melody to harmonize: track {name!r} has {len(times)} notes in {sketch.bars} bars, too few for a tune"
        )
    return melody


def _with_tracks(sketch: Sketch, new: Sequence[tuple[str, int]]) -> Sketch:
    """The sketch with empty tracks (name, program) appended."""
    score = sketch.score.copy()
    for name, program in new:
        score.tracks.append(symusic.Track(name=name, program=program))
    return Sketch(score)


def _head(role: str, program: int, centre: int) -> mt.TrackHead:
    return mt.TrackHead(role, program, False, mt.register_bin(np.array([centre])))


def harmonize(
    composer: object, sketch: Sketch, *, style: str = "chorale", sampling: Sampling, voice_leading: bool = True
) -> Edit:
    """The sketch's melody with a harmony under it: ``chorale``, alto, tenor and bass
    voices written by the model in four-part style (the soprano kept), under chords the
    harmonizer chooses for the soprano (two a bar of four beats; the last the tonic when
    the tune ends on one of its tones): each bar's first is every voice's chord control,
    and the bass keeps to each chord's tones; ``pop``, chords
    chosen for the tune (:func:`~cadenza.compose.harmony.chords_for`) played by a
    piano and a bass (:func:`accompany`). ``voice_leading`` (chorale): the voices the model
    wrote are kept in order and out of parallel fifths and octaves
    (:mod:`cadenza.compose.voicing`); without it they are as the model wrote them."""
    if style not in HARMONY_STYLES:
        raise InvalidArgumentError(f"--style {style[:40]!r} is not one of {', '.join(HARMONY_STYLES)}")
    if style == "pop":
        edit = accompany(composer, sketch, sampling=sampling)
        return Edit(
            "harmonize", edit.score, edit.cells, edit.new_tracks, {"style": style, **edit.settings}, edit.bar_ticks
        )
    model = _model_of(composer)
    melody = _melody_of(sketch)
    others = [
        sketch.score.tracks[t].name or str(t + 1)
        for t in sketch.pitched()
        if t != melody and len(sketch.score.tracks[t].notes)
    ]
    if others:
        raise InvalidArgumentError(
            f"harmonize --style chorale writes alto, tenor and bass under a melody alone; the file has other "
            f"parts too ({', '.join(repr(o) for o in others)}): give the melody alone, or use infill to rewrite parts"
        )
    grown = _with_tracks(sketch, [(name, CHORALE_PROGRAM) for name, *_ in CHORALE_VOICES])
    first_new = len(sketch.score.tracks)
    roles = list(sketch.roles)
    roles[melody] = "melody"
    roles += [role for _, role, *_ in CHORALE_VOICES]
    heads = {
        first_new + i: _head(role, CHORALE_PROGRAM, centre) for i, (_, role, centre, *_) in enumerate(CHORALE_VOICES)
    }
    bars = range(sketch.bars)
    per_bar = spans_per_bar(sketch.meter)
    check_cells(len(CHORALE_VOICES) * len(bars))
    spans = chords_for(sketch, melody, bars, "chorale", per_bar)
    _end_on_the_tonic(spans, sketch, melody)
    chords = [bar[0] for bar in spans]
    span = mt.bar_ticks(sketch.meter) // per_bar
    cells = [(first_new + i, b) for i in range(len(CHORALE_VOICES)) for b in bars]
    asks = {
        (t, b): BarAsk(
            polyphony=1,
            chord=chords[b],
            scale=sketch.scale_at(b),
            chord_tones=roles[t] == "bass",  # the bass states each half bar's chord; the upper voices may pass
            changes=tuple((k * span, c) for k, c in enumerate(spans[b])) if roles[t] == "bass" else (),
        )
        for t, b in cells
    }
    score = write_cells(
        model, grown, cells, sampling, roles=roles, style="chorale", asks=asks, heads=heads, see_future=False
    )
    ranges = {first_new + i: (low, high) for i, (*_, low, high) in enumerate(CHORALE_VOICES)}
    fold(score, cells, grown, ranges)
    if voice_leading:
        voices = [melody, *range(first_new, first_new + len(CHORALE_VOICES))]
        order_voices(score, voices, ranges)
        repair_parallels(score, voices, ranges, chords, grown.bar_ticks, max(1, score.ticks_per_quarter // 4))
        order_voices(score, voices, ranges)  # a note moved out of a parallel may have crossed a voice below
        repair_parallels(score, voices, ranges, chords, grown.bar_ticks, max(1, score.ticks_per_quarter // 4))
    return edit_of(
        "harmonize", sketch, score, cells, style=style, melody=sketch.score.tracks[melody].name, chords=chords
    )


CHORDAL = frozenset(
    ("piano", "electric-piano", "harpsichord", "organ", "guitar", "electric-guitar", "harp", "strings", "choir",
     "brass", "pad", "vibraphone", "marimba")
)  # fmt: skip
# Where an accompaniment's roles lie (MIDI), inside the instrument's own range.
ROLE_RANGES = {"harmony": (48, 79), "bass": (28, 55)}


def _voices_at_once(role: str, instrument: Instrument) -> int | None:
    """Notes per onset asked of an accompanying part: chords (3) from an instrument that
    plays them, one at a time from a bass or a single line."""
    if role == "bass" or instrument.name not in CHORDAL:
        return 1
    return 3


def _role_range(role: str, instrument: Instrument) -> tuple[int, int]:
    """The role's range inside the instrument's, an octave at least."""
    low, high = ROLE_RANGES.get(role, (instrument.low, instrument.high))
    low, high = max(low, instrument.low), min(high, instrument.high)
    return (low, high) if high - low >= 12 else (instrument.low, instrument.high)


def _end_on_the_tonic(spans: list[list[str]], sketch: Sketch, melody: int) -> None:
    """The last span's chord the tonic triad when the tune ends on one of its tones (a
    cadence), in place."""
    notes = sketch.score.tracks[melody].notes
    if not len(spans) or not len(notes):
        return
    tonic, mode = sketch.key_at(len(spans) - 1)
    label = f"{PITCH_NAMES[tonic]}:{mode}"
    last = max(notes, key=lambda n: n.time)
    if last.pitch % 12 in chord_pitch_classes(label):
        spans[-1][-1] = label


def accompaniment_tracks(instruments: Sequence[Instrument]) -> list[tuple[str, str, Instrument]]:
    """(track name, role, instrument) of each accompanying track: the last instrument plays
    the bass, the others the harmony; one instrument alone plays both, on two tracks."""
    chosen = list(instruments)
    if len(chosen) == 1:
        only = chosen[0]
        return [(only.name, "harmony", only), (f"{only.name} (bass)", "bass", only)]
    return [(i.name, "harmony", i) for i in chosen[:-1]] + [(chosen[-1].name, "bass", chosen[-1])]


def accompany(
    composer: object,
    sketch: Sketch,
    *,
    instruments: Sequence[str] = DEFAULT_ACCOMPANIMENT,
    sampling: Sampling,
    style: str = "pop",
) -> Edit:
    """The sketch's melody with an accompaniment by ``instruments`` (the last plays the
    bass) that follows chords chosen for the tune (:func:`~cadenza.compose.harmony.chords_for`,
    two a bar of four beats); the melody and every other track are kept."""
    chosen = instruments_of(tuple(instruments) or DEFAULT_ACCOMPANIMENT)
    model = _model_of(composer)
    melody = _melody_of(sketch)
    parts = accompaniment_tracks(chosen)
    grown = _with_tracks(sketch, [(name, instrument.program) for name, _, instrument in parts])
    first_new = len(sketch.score.tracks)
    roles = list(sketch.roles)
    roles[melody] = "melody"
    roles += [role for _, role, _ in parts]
    heads = {
        first_new + i: _head(role, instrument.program, min(max(ROLE_PITCH[role], instrument.low), instrument.high))
        for i, (_, role, instrument) in enumerate(parts)
    }
    bars = range(sketch.bars)
    per_bar = spans_per_bar(sketch.meter)
    check_cells(len(parts) * len(bars))
    chords = chords_for(sketch, melody, bars, style, per_bar)
    span = mt.bar_ticks(sketch.meter) // per_bar
    cells = [(first_new + i, b) for i in range(len(parts)) for b in bars]
    asks = {
        (first_new + i, b): BarAsk(
            polyphony=_voices_at_once(role, instrument),
            chord=chords[b][0],
            chord_tones=role in CHORD_TONE_ROLES,
            scale=sketch.scale_at(b),
            changes=tuple((k * span, chord) for k, chord in enumerate(chords[b])),
        )
        for i, (_, role, instrument) in enumerate(parts)
        for b in bars
    }
    score = write_cells(
        model,
        grown,
        cells,
        sampling,
        roles=roles,
        style=style,
        asks=asks,
        heads=heads,
        see_future=False,
        chords={b: chords[b][0] for b in bars},
    )
    ranges = {first_new + i: _role_range(role, instrument) for i, (_, role, instrument) in enumerate(parts)}
    fold(score, cells, grown, ranges)
    return edit_of(
        "accompany",
        sketch,
        score,
        cells,
        instruments=[i.name for i in chosen],
        chords=[c for bar in chords for c in bar],
        chords_per_bar=per_bar,
    )


def check_amount(amount: float) -> None:
    if not 0.0 <= amount <= 1.0:
        raise InvalidArgumentError(f"--amount must be from 0 to 1, got {amount:g}")


def vary(
    composer: object, sketch: Sketch, *, amount: float = 0.5, bars: range | None = None, sampling: Sampling
) -> Edit:
    """A variation of ``bars`` (default: all): a share ``amount`` (0..1) of their cells
    that hold notes, drawn by the seed, written anew with the controls they have (notes
    per quarter, notes per onset, chord, loudness), so that form and harmony stay and the
    surface changes: every part under the tune keeps to the chord the analysis hears on
    each beat, the tune to the key's scale."""
    check_amount(amount)
    region = sketch.check_bars(bars if bars is not None else range(sketch.bars))
    model = _model_of(composer)
    check_grid(sketch)
    roles = sketch.roles
    piece = mt.tokenize(sketch.score, roles, bars=sketch.bars)
    playing = [
        (t, b) for t in sketch.pitched() for b in region if len(piece.notes[t][b])
    ]  # empty cells stay empty: the form is kept
    rng = np.random.default_rng(sampling.seed)
    count = round(amount * len(playing))
    chosen = sorted(playing[i] for i in rng.permutation(len(playing))[:count])
    asks = {}
    beat = mt.bar_ticks(sketch.meter) // sketch.beats_per_bar
    heard = sketch.beat_chords
    for t, b in chosen:
        controls = dict(zip(("Density", "Poly", "Chord", "Intensity"), piece.controls[t][b], strict=False))
        value = {kind: str(mt.NAMES[token]).split("_", 1)[1] for kind, token in controls.items()}
        beats = heard[b * sketch.beats_per_bar : (b + 1) * sketch.beats_per_bar]
        changes = tuple((k * beat, chord) for k, chord in enumerate(beats) if chord != "N")
        asks[(t, b)] = BarAsk(
            density=int(value["Density"]),
            polyphony=int(value["Poly"]) if "Poly" in value else None,
            chord=value.get("Chord"),
            intensity=int(value["Intensity"]) if "Intensity" in value else None,
            chord_tones=roles[t] != "melody" and bool(changes),  # the parts under the tune keep each beat's chord
            scale=sketch.scale_at(b),
            changes=changes,
        )
    score = write_cells(model, sketch, chosen, sampling, roles=roles, asks=asks, see_future=True, clear_first=False)
    ranges = track_ranges(score, sketch)
    fold(score, chosen, sketch, ranges)
    keep_voices_apart(score, sketch, chosen, ranges)
    return edit_of("vary", sketch, score, chosen, amount=amount, bars=f"{region.start + 1}-{region.stop}")
