"""Writing cells of a user's score (one bar of one track each) with a multitrack model.

A request rarely fits one pass of the model: a 32-bar harmonization is 96 cells, and
the model reads 512 tokens. So the cells are written a few bars at a time, left to
right (:data:`CELLS_PER_PASS` cells a pass), each pass seeing everything written so far;
with ``see_future`` it also sees what lies after its bars (the user's notes after a
filled passage, the rest of a piece being varied), else the piece stops where the pass
does (an empty bar to come would tell the model the music ends there).

Only the cells asked for change. A cell's old notes are those whose onset falls in its
bar on the tokens' grid; the new notes are cut where the run of cells written in that
track ends, so that nothing new sounds over a kept note after it, and a new note never
strikes a key that a kept note is still holding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import symusic

from cadenza.compose.sketch import Sketch
from cadenza.errors import InvalidArgumentError
from cadenza.io.midi import untangle
from cadenza.models import multitrack_tokens as mt
from cadenza.models.multitrack import BarAsk, fill
from cadenza.models.sampling import Sampling

__all__ = [
    "Cell",
    "write_cells",
    "merge_written",
    "check_cells",
    "check_grid",
    "CELLS_PER_PASS",
    "MAX_CELLS",
    "MAX_GRID",
]

Cell = tuple[int, int]  # (track, bar), both from 0
CELL_TOKENS = 40  # what one written bar of one track is expected to take
MAX_CELLS = 4096  # cells one request may ask for: 1,024 bars of four tracks, minutes of decoding


MAX_GRID = 200_000  # bars × tracks of a piece the model reads: 64 tracks of 3,000 bars


def check_grid(sketch: Sketch, tracks: int | None = None, bars: int | None = None) -> None:
    """Refuse a piece too large for the model to read (every pass tokenizes it: a list per
    bar of every track), before any of it is tokenized."""
    tracks = len(sketch.score.tracks) if tracks is None else tracks
    bars = sketch.bars if bars is None else bars
    if tracks * bars > MAX_GRID:
        raise InvalidArgumentError(
            f"the piece has {tracks} tracks of {bars} bars, more than the {MAX_GRID} bars of tracks the model "
            "reads in one request; work on a part of it (fewer tracks, or a passage cut out)"
        )


def check_cells(count: int) -> None:
    """Refuse a request whose cells would take the model more than :data:`MAX_CELLS` bars
    of one track to write (a short file can state a length of thousands of bars)."""
    if count > MAX_CELLS:
        raise InvalidArgumentError(
            f"this asks the model to write {count} bars of tracks, more than {MAX_CELLS} in one request; "
            "ask for fewer bars or tracks (--bars, --tracks), or work on the piece in parts"
        )


PASS_SEED_STRIDE = 7_919  # each pass draws from its own seed, derived from the request's


def cells_per_pass(block_size: int) -> int:
    """Cells one pass writes: their tokens take at most half the model's context."""
    return max(1, block_size // 2 // CELL_TOKENS)


CELLS_PER_PASS = cells_per_pass(512)


def _passes(cells: Sequence[Cell], per_pass: int) -> list[list[Cell]]:
    """The cells grouped by bar, whole bars to a pass, as many bars as fit ``per_pass``."""
    by_bar: dict[int, list[Cell]] = {}
    for cell in sorted(set(cells), key=lambda c: (c[1], c[0])):
        by_bar.setdefault(cell[1], []).append(cell)
    passes: list[list[Cell]] = []
    for bar in sorted(by_bar):
        if passes and len(passes[-1]) + len(by_bar[bar]) <= per_pass and passes[-1][-1][1] == bar - 1:
            passes[-1].extend(by_bar[bar])
        else:
            passes.append(list(by_bar[bar]))
    return passes


def _grid_bars(track: symusic.Track, sketch: Sketch) -> np.ndarray:
    """The bar of each note's onset, on the tokens' grid (as :func:`mt.tokenize` places it)."""
    tpq = sketch.score.ticks_per_quarter
    onsets = np.rint(track.notes.numpy()["time"].astype(np.float64) * mt.RESOLUTION / tpq).astype(np.int64)
    return onsets // mt.bar_ticks(sketch.meter)


def _clear(score: symusic.Score, sketch: Sketch, cells: Sequence[Cell]) -> None:
    by_track: dict[int, set[int]] = {}
    for t, b in cells:
        by_track.setdefault(t, set()).add(b)
    for t, bars in by_track.items():
        track = score.tracks[t]
        drop = np.isin(_grid_bars(track, sketch), sorted(bars))
        kept = [n for n, d in zip(track.notes, drop, strict=True) if not d]
        track.notes.clear()
        track.notes.extend(kept)


def _place(score: symusic.Score, sketch: Sketch, written: Mapping[Cell, list[tuple[int, int, int, int]]]) -> None:
    """Put the written notes (token grid, from the piece's start) into their cells, in place."""
    _clear(score, sketch, list(written))
    scale = score.ticks_per_quarter / mt.RESOLUTION
    per_bar = mt.bar_ticks(sketch.meter)
    for t in sorted({t for t, _ in written}):
        track = score.tracks[t]
        bars = {b for tt, b in written if tt == t}
        run_end: dict[int, int] = {}  # bar -> the end of the run of written bars it belongs to
        for b in sorted(bars, reverse=True):
            run_end[b] = run_end[b + 1] if b + 1 in bars else b + 1
        new = [
            symusic.Note(round(onset * scale), max(1, round(length * scale)), pitch, mt.velocity_of(velocity))
            for b in sorted(bars)
            for onset, pitch, duration, velocity in written[(t, b)]
            for length in [max(1, min(duration, run_end[b] * per_bar - onset))]
        ]
        notes = merge_written(list(track.notes), new)
        track.notes.clear()
        track.notes.extend(notes)


def merge_written(kept: list[symusic.Note], written: list[symusic.Note]) -> list[symusic.Note]:
    """The kept notes and the written ones, the written untangled (no key struck twice at
    once, none struck while down: :func:`~cadenza.io.midi.untangle`), none struck while a
    kept note holds its key, and each stopped where a later kept note of its pitch begins."""
    spans: dict[int, list[tuple[int, int]]] = {}  # pitch -> (start, end) of the kept notes
    for note in kept:
        spans.setdefault(note.pitch, []).append((note.time, note.time + note.duration))
    fresh = [n for n in untangle(written) if not any(a <= n.time < z for a, z in spans.get(n.pitch, []))]
    for n in fresh:
        later = [a for a, _ in spans.get(n.pitch, []) if a > n.time]
        if later and n.time + n.duration > min(later):
            n.duration = max(1, min(later) - n.time)
    return sorted([*kept, *fresh], key=lambda n: (n.time, n.pitch, n.duration))


def _say_chords(piece: mt.Piece, chords: Mapping[int, str]) -> None:
    """Every sounding cell's chord control in the bars of ``chords`` set to the bar's chord."""
    for bar, label in chords.items():
        if bar >= piece.bars:
            continue
        token = mt.IDS[f"Chord_{mt.chord_name(label)}"]
        for controls in piece.controls:
            cell = controls[bar]
            if len(cell) == len(mt.CONTROL_KINDS):
                controls[bar] = [*cell[:2], token, *cell[3:]]


def write_cells(
    model: object,
    sketch: Sketch,
    cells: Sequence[Cell],
    sampling: Sampling,
    *,
    roles: Sequence[str],
    style: str = "other",
    asks: Mapping[Cell, BarAsk] | None = None,
    heads: Mapping[int, mt.TrackHead] | None = None,
    see_future: bool = True,
    clear_first: bool = True,
    chords: Mapping[int, str] | None = None,
) -> symusic.Score:
    """A copy of the sketch's score with ``cells`` written by ``model``. ``roles`` names
    every track's role; ``heads`` replaces the heads of tracks the model should read
    another way (a new, empty track: its instrument and register). ``clear_first``
    removes every cell's old notes before the first pass (a fill from what is around);
    without it the cells not yet written stay in view (a variation of them). ``chords``
    names the chord of some bars: every track's chord control there says it, the kept
    tracks' too (else theirs would say what the analysis hears in what is kept alone)."""
    check_cells(len(cells))
    last_bar = max((b for _, b in cells), default=0) + 1
    check_grid(sketch, bars=max(sketch.bars, last_bar))
    score = sketch.score.copy()
    if not cells:
        return score
    if clear_first:
        _clear(score, sketch, cells)
    total = max(sketch.bars, last_bar)
    block_size = int(model.config.block_size)  # type: ignore[attr-defined]
    for number, chunk in enumerate(_passes(cells, cells_per_pass(block_size))):
        stop = total if see_future else max(b for _, b in chunk) + 1
        piece = mt.tokenize(score, list(roles), style=style, bars=stop)
        for t, head in (heads or {}).items():
            piece.tracks[t] = head
        _say_chords(piece, chords or {})
        seeded = replace(sampling, seed=sampling.seed + PASS_SEED_STRIDE * number)
        wanted = {cell: (asks or {}).get(cell, BarAsk()) for cell in chunk}
        written = fill(model, piece, chunk, seeded, wanted)  # type: ignore[arg-type]
        _place(score, sketch, {cell: written.get(cell, []) for cell in chunk})
    return score
