"""MuseGAN's objective metrics on real POP909 and on cadenza's families, side by side.

    python bench/bench_musegan.py [--pieces 50] [--model NAME ...] [--bars 16] [--steps-per-beat 12]
                                  [--phrase-bars 4] [--datasets ../shared/datasets]

1. Reads all of POP909 through cadenza's reader (each song shifted so that its first
   annotated downbeat falls on a bar line, the empty bars before the music dropped, 4/4).
2. Generates ``--pieces`` pieces per model (``Composer.from_pretrained(name).generate``,
   style pop, ``--bars`` bars, seeds 0..N-1, torch on one thread: the same run prints the
   same table).
3. Measures every set with :mod:`cadenza.analysis.musegan_metrics` on a piano roll of
   ``--steps-per-beat`` steps a beat (default 12), over the whole phrases of
   ``--phrase-bars`` bars (default 4, MuseGAN's phrases: a song's last, incomplete phrase is
   left out): EB, UPC and QN of the melody, bridge and piano, TD melody–piano per beat (as
   MuseGAN's code) and per bar, pooled over the set's bars, notes and beats. One table: a
   row per metric and track, a column for the figure issue 16 gives, one for POP909 as
   measured here, and per model its value and its relative difference to POP909 (goal:
   within 10 %).

The defaults reproduce the issue's POP909 figures within 3 % (EB piano 0.009 against 0.010
aside) when TD is taken per bar; at 24 steps a beat, QN comes out near 0.98: POP909's
notes are played, not quantised, and a note of 2.5 to 3 of those steps rounds to 3, a
qualified note. MuseGAN's code takes TD per beat, about 1.13 on POP909.

A set is one column: another family (the GAN) is one more ``--model``, or one more entry
of :data:`DEFAULT_MODELS`.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = ["cadenza-markov", "cadenza-transformer", "cadenza-multitrack", "cadenza-gan"]
GOAL = 0.10  # relative difference to real POP909 the issue asks for
ISSUE = {  # issue 16, "Measured": POP909, all 909 songs
    "EB melody": 0.217,
    "UPC melody": 3.31,
    "QN melody": 0.956,
    "EB bridge": 0.317,
    "UPC bridge": 3.30,
    "QN bridge": 0.964,
    "EB piano": 0.010,
    "UPC piano": 4.53,
    "QN piano": 0.968,
    "TD melody-piano": 0.783,
    "TD melody-piano per bar": 0.783,  # the issue gives one TD and does not say its window
}


def pop909(datasets: Path) -> list:
    """Every POP909 song as cadenza reads it (in 4/4 bars from its first downbeat)."""
    from cadenza.data.sources import list_files, parse_source_spec, read_file

    return [read_file(ref)[0].score for ref in list_files(parse_source_spec(f"pop909={datasets / 'pop909'}"))]


def generate(name: str, pieces: int, bars: int) -> list:
    """``pieces`` pop pieces of ``bars`` bars from a shipped model or a model folder, seeds 0..N-1."""
    from cadenza.compose import Composer, Conditions, Sampling

    composer = Composer.from_pretrained(name)
    conditions = Conditions(style="pop", bars=bars)
    return [composer.generate(conditions, Sampling(seed=seed)) for seed in range(pieces)]


def measure(scores: Sequence, steps_per_beat: int, phrase_bars: int):
    """The set's counts (a MuseganCounts), added up over the whole phrases of ``phrase_bars``
    bars of its pieces (a piece's last, incomplete phrase is left out; 0: every bar)."""
    from cadenza.analysis.musegan_metrics import MuseganCounts, Roll, piano_roll, roll_counts

    total = MuseganCounts()
    for score in scores:
        roll = piano_roll(score, steps_per_beat)
        bars = roll.data.shape[1] - roll.data.shape[1] % phrase_bars if phrase_bars else roll.data.shape[1]
        total += roll_counts(Roll(roll.data[:, :bars], roll.present, steps_per_beat))
    return total


def cell(value: float, digits: int = 3) -> str:
    return "—" if math.isnan(value) else f"{value:.{digits}f}"


def difference(value: float, real: float) -> tuple[str, bool | None]:
    """The relative difference to the real value, and whether it is within the goal."""
    if math.isnan(value) or math.isnan(real) or real == 0:
        return "—", None
    relative = (value - real) / real
    within = abs(relative) <= GOAL
    colour = "green" if within else "red"
    return f"[{colour}]{relative:+.1%}[/{colour}]", within


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help=f"Repeat for several (default: {', '.join(DEFAULT_MODELS)}).")
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets", help="Holds pop909/.")
    parser.add_argument("--pieces", type=int, default=50, help="Pieces per model, seeds 0..N-1.")
    parser.add_argument("--bars", type=int, default=16, help="Bars per generated piece.")
    parser.add_argument("--steps-per-beat", type=int, default=12, choices=(12, 24), help="The piano roll's grid.")
    parser.add_argument(
        "--phrase-bars", type=int, default=4, help="Measure whole phrases of this many bars (0: every bar)."
    )
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    console = Console(width=200)
    spb = args.steps_per_beat
    started = time.perf_counter()
    songs = pop909(args.datasets)
    real = measure(songs, spb, args.phrase_bars)
    console.print(
        f"POP909: {len(songs)} songs, {real.tracks['melody'].bars} bars "
        f"({time.perf_counter() - started:.0f} s to read and measure)"
    )
    columns = {}
    for name in args.model or DEFAULT_MODELS:
        started = time.perf_counter()
        scores = generate(name, args.pieces, args.bars)
        made = time.perf_counter() - started
        columns[name] = measure(scores, spb, args.phrase_bars)
        console.print(
            f"{name}: {args.pieces} pieces of {args.bars} bars ({made:.0f} s to generate, "
            f"{time.perf_counter() - started - made:.1f} s to measure)"
        )

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    table = Table(
        title=f"MuseGAN's metrics, {spb} steps a beat, {args.phrase_bars}-bar phrases, pooled over each set; "
        "Δ: relative to POP909 here, "
        f"goal within {GOAL:.0%} ({machine})"
    )
    table.add_column("metric")
    table.add_column("issue 16", justify="right")
    table.add_column(f"POP909 ({len(songs)} songs)", justify="right")
    table.add_column("Δ issue", justify="right")
    for name in columns:
        table.add_column(f"{name} ({args.pieces})", justify="right")
        table.add_column("Δ", justify="right")
    ours = real.metrics()
    theirs = {name: counts.metrics() for name, counts in columns.items()}
    within = {name: [0, 0] for name in columns}
    for metric, value in ours.items():
        expected = ISSUE.get(metric, math.nan)
        cells = [cell(expected), cell(value), difference(value, expected)[0]]
        for name, metrics in theirs.items():
            text, ok = difference(metrics[metric], value)
            cells += [cell(metrics[metric]), text]
            if ok is not None:
                within[name][0] += ok
                within[name][1] += 1
        table.add_row(metric, *cells)
    table.add_section()
    table.add_row(
        f"within {GOAL:.0%} of POP909",
        "",
        "",
        "",
        *(c for name in columns for c in ("", f"{within[name][0]} / {within[name][1]}")),
    )
    console.print(table)
    console.print(
        "—: no such track (cadenza's families write no bridge; Markov and Transformer write one keyboard "
        "track, split into its skyline melody and the rest; the multitrack family's harmony and bass are "
        "its piano). Issue 16 gives one TD (0.783) without its window: it is shown beside both."
    )


if __name__ == "__main__":
    main()
