"""Infilled bars against the song's annotated chords: does the model fill in the harmony?

    python bench/bench_infill_chords.py [--model cadenza-multitrack] [--datasets DIR] [--songs 50] [--hole 4]

POP909 songs the model did not learn from (the test split as ``bench_generate.py``
splits it, by content hash, then the valid split where more songs are asked for than it
holds). In each song the ``--hole`` bars in its middle are written anew by
:func:`cadenza.compose.tasks.infill_sketch` on a ``--window``-bar sketch around them
(the song's MELODY, BRIDGE and PIANO; the hole in the window's middle), and
cadenza's chord recognizer (:func:`cadenza.analysis.chords.chord_segments`, its own
beats, on the whole window) is scored against the song's ``chord_midi.txt`` over the
hole's time span: majmin, weighted by duration (``bench_analysis.chord_scores``), the
songs weighted by the hole's length in seconds. Rows:

* **real bars**: the song itself; the ceiling (what the recognizer gets right there);
* **infill**: the hole's bars of all three tracks (or of the PIANO alone) written with
  the bars before and after them in view;
* **left only**: the same bars written by ``infill_sketch`` on a copy of the window cut
  at the hole's end (no future: a continuation); the notes it wrote are then put into
  the window in place of the real ones, so that the recognizer hears the same context
  as in the other rows and only the hole differs;
* **previous chord held**: no model; the annotated chord sounding at the end of the bar
  before the hole, held through it;
* **oracle** (no command does this): the PIANO's bars written as ``infill_sketch`` writes
  them, but each asked to hold to the chord the tokens give the real bar (its ``Chord``
  control, one a bar, as ``vary`` asks it): whether the model follows a chord it is told,
  where the infill rows show whether it hears one from what is around.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import symusic
from bench_analysis import chord_scores
from bench_sketch_speed import held_out_songs, window
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
ROWS = (
    "real bars (the recognizer's ceiling)",
    "infill, all tracks",
    "infill, PIANO alone",
    "left only (a continuation), all tracks",
    "left only (a continuation), PIANO alone",
    "previous bar's annotated chord held",
    "oracle: PIANO alone, told each bar's real chord",
)


def _onsets(score: symusic.Score) -> np.ndarray:
    return np.concatenate([t.notes.numpy()["time"] for t in score.tracks if len(t.notes)])


def _reference(path: Path) -> list[tuple[float, float, str]]:
    rows = [line.split("\t") for line in path.read_text().strip().splitlines() if line.strip()]
    return [(float(r[0]), float(r[1]), r[2].strip()) for r in rows]


def _clipped(rows: list[tuple[float, float, str]], start: float, end: float) -> SimpleNamespace:
    """The annotation over ``start``..``end`` seconds, in chord_midi.txt's own text (what
    ``chord_scores`` reads from a file)."""
    kept = [(max(a, start), min(z, end), label) for a, z, label in rows if z > start and a < end]
    text = "\n".join(f"{a}\t{z}\t{label}" for a, z, label in kept)
    return SimpleNamespace(read_text=lambda: text)


def _held(rows: list[tuple[float, float, str]], before: float) -> str:
    """The annotated chord sounding just before ``before`` seconds."""
    return next((label for a, z, label in rows if a < before <= z), "N")


def _spliced(real: symusic.Score, edit, start: int, end: int) -> symusic.Score:
    """``real`` with the notes that start in ``start``..``end`` ticks of the tracks the
    ``edit`` (:class:`cadenza.compose.tasks.Edit`) wrote replaced by those it wrote."""
    out = real.copy()
    written = edit.generated()
    for t in sorted({t for t, _ in edit.cells}):
        kept = [n for n in out.tracks[t].notes if not start <= n.time < end]
        out.tracks[t].notes.clear()
        out.tracks[t].notes.extend(sorted([*kept, *written.tracks[t].notes], key=lambda n: (n.time, n.pitch)))
    return out


def _told(sketch, track: int, bars: range) -> dict:
    """{(track, bar): the ask to hold to the bar's real chord, as the tokens have it}."""
    from cadenza.models import multitrack_tokens as mt
    from cadenza.models.multitrack import BarAsk

    piece = mt.tokenize(sketch.score, sketch.roles, bars=sketch.bars)
    asks = {}
    for bar in bars:
        controls = dict(zip(("Density", "Poly", "Chord", "Intensity"), piece.controls[track][bar], strict=False))
        chord = str(mt.NAMES[controls["Chord"]]).split("_", 1)[1] if "Chord" in controls else None
        scale = sketch.scale_at(bar)
        asks[(track, bar)] = BarAsk(chord=chord, chord_tones=chord not in (None, "N"), scale=scale)
    return asks


def song_rows(composer, path: Path, song: symusic.Score, args, sampling) -> dict[str, tuple[float, float, int]] | None:
    """Row -> (majmin, seconds scored, notes in the hole) for one song; None when the song
    is shorter than the window."""
    from cadenza.analysis._notes import tempo_map
    from cadenza.analysis.chords import chord_segments
    from cadenza.compose.cells import write_cells
    from cadenza.compose.sketch import Sketch
    from cadenza.compose.tasks import infill_sketch

    bars = Sketch.of(song).bars
    if bars < args.window:
        return None
    hole_first = bars // 2 - args.hole // 2
    first = hole_first - (args.window - args.hole) // 2
    real = window(song, first, args.window)
    sketch = Sketch.of(real)
    hole = range(hole_first - first, hole_first - first + args.hole)
    start, end = sketch.bar_start(hole.start), sketch.bar_start(hole.stop)
    piano = [sketch.track("PIANO")]

    # ticks of the window -> seconds of the original file, where chord_midi.txt's times are
    original = symusic.Score(str(path))
    offset = int(_onsets(song).min()) - int(_onsets(original).min())  # read_file moved the song by this
    to_file = Sketch.of(song).bar_start(first) - offset
    seconds = tempo_map(original).to_seconds
    span = [float(s) for s in seconds(np.array([start + to_file, end + to_file], dtype=np.float64))]
    reference = _reference(path.parent / "chord_midi.txt")
    clipped = _clipped(reference, *span)

    cut = window(song, first, hole.stop)  # the window up to the hole's end: no future
    told = _told(sketch, piano[0], hole)
    scores = {
        ROWS[0]: real,
        ROWS[1]: infill_sketch(composer, sketch, hole, None, sampling).score,
        ROWS[2]: infill_sketch(composer, sketch, hole, piano, sampling).score,
        ROWS[3]: _spliced(real, infill_sketch(composer, Sketch.of(cut), hole, None, sampling), start, end),
        ROWS[4]: _spliced(real, infill_sketch(composer, Sketch.of(cut), hole, piano, sampling), start, end),
        ROWS[6]: write_cells(composer._model, sketch, list(told), sampling, roles=sketch.roles, asks=told),
    }
    out = {}
    for row, score in scores.items():
        segments = chord_segments(score)
        ticks = np.array([[s.start, s.end] for s in segments], dtype=np.float64).reshape(-1, 2) + to_file
        majmin = chord_scores(clipped, seconds(ticks), [s.label for s in segments])[1]  # type: ignore[arg-type]
        notes = int(((_onsets(score) >= start) & (_onsets(score) < end)).sum())
        out[row] = (majmin, span[1] - span[0], notes)
    held = _held(reference, span[0])
    out[ROWS[5]] = (chord_scores(clipped, np.array([span]), [held])[1], span[1] - span[0], 0)  # type: ignore[arg-type]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cadenza-multitrack", help="A multitrack model (name or folder).")
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets", help="Holds pop909/.")
    parser.add_argument("--songs", type=int, default=50, help="Held-out songs (the test split first).")
    parser.add_argument("--hole", type=int, default=4, help="Bars written anew, in the song's middle.")
    parser.add_argument("--window", type=int, default=24, help="Bars of the sketch around the hole.")
    parser.add_argument("--seed", type=int, default=0, help="Song k is written with seed + k.")
    args = parser.parse_args()

    from cadenza.compose import Composer, Sampling

    started = time.perf_counter()
    composer = Composer.from_pretrained(args.model)
    songs = held_out_songs(args.datasets, args.songs)
    totals = {row: [0.0, 0.0, 0] for row in ROWS}  # majmin x seconds, seconds, notes
    used, skipped = [], []
    splits: dict[str, int] = {}
    for number, (path, song, split) in enumerate(songs):
        sampling = Sampling(temperature=1.0, top_p=0.95, seed=args.seed + number)
        rows = song_rows(composer, path, song, args, sampling)
        if rows is None:
            skipped.append(path.parent.name)
            continue
        used.append(path.parent.name)
        splits[split] = splits.get(split, 0) + 1
        for row, (majmin, span, notes) in rows.items():
            totals[row][0] += majmin * span
            totals[row][1] += span
            totals[row][2] += notes
    wall = time.perf_counter() - started

    table = Table(
        title=f"{composer.info.name}: chords heard in {args.hole} filled bars of {len(used)} held-out POP909 songs "
        f"({' + '.join(f'{n} {split}' for split, n in splits.items())}) "
        f"({args.window}-bar sketches) against chord_midi.txt, majmin weighted by duration "
        f"({wall:.0f} s, {wall / max(len(used), 1):.1f} s a song, load average {os.getloadavg()[0]:.1f})"
    )
    for column in ("bars", "majmin", "notes per hole", "seconds scored"):
        table.add_column(column, justify="left" if column == "bars" else "right")
    for row, (weighted, span, notes) in totals.items():
        if span:
            table.add_row(
                row, f"{weighted / span:.3f}", "—" if row == ROWS[5] else f"{notes / len(used):.0f}", f"{span:.0f}"
            )
    Console(width=160).print(table)
    print(
        f"songs: {' '.join(used)}"
        + (f"; skipped (shorter than {args.window} bars): {' '.join(skipped)}" if skipped else "")
    )


if __name__ == "__main__":
    main()
