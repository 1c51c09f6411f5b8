"""Fitting the chord-progression model (:mod:`cadenza.models.progression`) on a corpus.

Each piece is heard by :mod:`cadenza.analysis`, so any MIDI folder fits the same way:
the beats and bars (:func:`~cadenza.analysis.beat_grid`), a chord per beat
(:func:`~cadenza.analysis.beat_chords`), the key over time
(:func:`~cadenza.analysis.key_segments`) and the sections
(:func:`~cadenza.analysis.sections`). A bar's chord is the one heard on most of its
beats (the earliest on a tie), written relative to the key of the bar; a pickup bar
and the silent bars at either end are left out, and a silent bar inside the music holds
the chord before it. A change of key starts a new run of bars, counted in the table of
its mode. A section's last bar (the bar before the analysis hears another part begin,
and the last bar of the piece) is counted as a cadence.

Run it as a script to fit the shipped file::

    python -m cadenza.train.chords --pop909 DIR --jsb Jsb16thSeparated.json --out cadenza/pretrained/progressions
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import symusic

from cadenza.analysis import beat_chords, beat_grid, key_segments, sections
from cadenza.models.folder import write_json
from cadenza.models.progression import ProgressionConfig, ProgressionModel, ProgressionTable, relative_chord
from cadenza.theory import parse_key

__all__ = ["BarChords", "bar_chords", "fit_runs", "fit_progressions", "perplexity", "main"]


@dataclass(frozen=True)
class BarChords:
    """A run of bars in one key: its mode, one relative chord per bar, and the indices of
    the bars that end a section."""

    mode: str
    chords: tuple[str, ...]
    ends: frozenset[int] = field(default_factory=frozenset)


def _bar_chord(labels: Sequence[str]) -> str:
    roots = [label.split("/")[0] for label in labels]
    return max(roots, key=lambda r: (roots.count(r), -roots.index(r)))


def bar_chords(score: symusic.Score) -> list[BarChords]:
    """The runs of bar chords of a score as the analysis hears it ([] when it hears none)."""
    grid = beat_grid(score)
    if grid.downbeats.size == 0:
        return []
    labels = beat_chords(score, grid)
    starts = [int(i) for i in grid.downbeats]  # a pickup before the first downbeat is left out
    edges = [*starts, len(labels)]
    bar_ticks = grid.beats[starts]
    keys = key_segments(score, grid)
    ends = {len(starts) - 1}
    parts = sections(score, grid)
    for before, after in itertools.pairwise(parts):
        if after.label != before.label:
            ends.add(int(np.searchsorted(bar_ticks, after.start, side="left")) - 1)
    bars: list[tuple[str, tuple[int, str], bool]] = []  # (label, key, ends a section)
    for j, (a, b) in enumerate(itertools.pairwise(edges)):
        if b <= a:
            continue
        heard = next((k.label for k in keys if k.start <= bar_ticks[j] < k.end), keys[-1].label if keys else "C:maj")
        bars.append((_bar_chord(labels[a:b]), parse_key(heard), j in ends))
    sounding = [i for i, bar in enumerate(bars) if bar[0] != "N"]
    if not sounding:
        return []
    runs: list[BarChords] = []
    chords: list[str] = []
    run_ends: set[int] = set()
    current: tuple[int, str] | None = None
    held = "N"
    for label, key, is_end in bars[sounding[0] : sounding[-1] + 1]:
        label = held if label == "N" else label
        held = label
        if key != current and chords:
            runs.append(BarChords(current[1] if current else "maj", tuple(chords), frozenset(run_ends)))
            chords, run_ends = [], set()
        current = key
        chord = relative_chord(label, key[0])
        if chord is None:
            continue
        if is_end:
            run_ends.add(len(chords))
        chords.append(chord)
    if chords and current is not None:
        runs.append(BarChords(current[1], tuple(chords), frozenset(run_ends | {len(chords) - 1})))
    return runs


def fit_runs(runs: Iterable[tuple[str, BarChords]], config: ProgressionConfig | None = None) -> ProgressionModel:
    """A model from (style, run) pairs."""
    tables: dict[str, ProgressionTable] = {}
    for style, run in runs:
        tables.setdefault(f"{style}/{run.mode}", ProgressionTable()).add(run.chords, run.ends)
    return ProgressionModel(tables, config)


def fit_progressions(
    scores_with_style: Iterable[tuple[symusic.Score, str]], config: ProgressionConfig | None = None
) -> ProgressionModel:
    """A model from (score, style) pairs, each heard by the analysis."""
    return fit_runs(((style, run) for score, style in scores_with_style for run in bar_chords(score)), config)


def perplexity(model: ProgressionModel, runs: Iterable[tuple[str, BarChords]]) -> tuple[float, int]:
    """Per-bar perplexity of held-out runs, and the number of bars scored."""
    total, bars = 0.0, 0
    for style, run in runs:
        total += model.log_likelihood(style, run.mode, run.chords, run.ends)
        bars += len(run.chords)
    return (math.exp(-total / bars) if bars else float("nan")), bars


def _corpus(pop909: Path | None, jsb: Path | None, limit: int) -> list[tuple[str, str, str, symusic.Score]]:
    """(piece id, style, split, score): POP909 every 10th song held out, JSB its own split."""
    from cadenza.data.sources import list_files, parse_source_spec, read_file

    pieces = []
    if pop909 is not None:
        refs = list_files(parse_source_spec(f"pop909={pop909}"))[:limit]
        for n, ref in enumerate(refs):
            for piece in read_file(ref):
                pieces.append((piece.piece_id, "pop", "test" if n % 10 == 9 else "train", piece.score))
    if jsb is not None:
        for ref in list_files(parse_source_spec(f"jsb={jsb}")):
            for piece in read_file(ref):
                pieces.append((piece.piece_id, "chorale", "test" if piece.split == "test" else "train", piece.score))
    return pieces


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fit cadenza's chord-progression model on POP909 and the chorales.")
    parser.add_argument("--pop909", type=Path, help="the POP909 folder (one folder per song)")
    parser.add_argument("--jsb", type=Path, help="Jsb16thSeparated.json")
    parser.add_argument("--limit", type=int, default=10_000, help="at most this many POP909 songs")
    parser.add_argument("--out", type=Path, required=True, help="folder for progressions.json and training.json")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    heard: dict[str, list[tuple[str, BarChords]]] = {"train": [], "test": []}
    pieces: dict[tuple[str, str], int] = {}
    for _, style, split, score in _corpus(args.pop909, args.jsb, args.limit):
        pieces[(style, split)] = pieces.get((style, split), 0) + 1
        heard[split].extend((style, run) for run in bar_chords(score))
    model = fit_runs(heard["train"])
    figures = {}
    for style in model.styles:
        held = [(s, r) for s, r in heard["test"] if s == style]
        ppl, bars = perplexity(model, held)
        unigram = fit_runs(heard["train"], ProgressionConfig(weights=(0.0, 0.0, 1.0)))
        base, _ = perplexity(unigram, held)
        figures[style] = {
            "train_pieces": pieces.get((style, "train"), 0),
            "held_out_pieces": pieces.get((style, "test"), 0),
            "held_out_bars": bars,
            "held_out_perplexity_per_bar": round(ppl, 3),
            "unigram_perplexity_per_bar": round(base, 3),
            "train_bars": sum(len(r.chords) for s, r in heard["train"] if s == style),
            "distinct_chords": {
                mode: len(model.tables[f"{style}/{mode}"].unigram)
                for mode in ("maj", "min")
                if f"{style}/{mode}" in model.tables
            },
        }
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / "progressions.json")
    write_json(
        args.out / "training.json",
        {
            "what": "chord per bar, relative to the key of the bar, as cadenza.analysis hears it; trigram counts",
            "command": "python -m cadenza.train.chords " + " ".join(sys.argv[1:] if argv is None else argv),
            "sources": [
                {
                    "name": "pop909",
                    "style": "pop",
                    "licence": "MIT",
                    "credit": "Wang, Chen et al., POP909, ISMIR 2020 (music-x-lab/POP909-Dataset)",
                    "held_out": "every 10th song in folder order (010, 020, ...)",
                },
                {
                    "name": "jsb",
                    "style": "chorale",
                    "licence": "public-domain",
                    "credit": "J.S. Bach chorales, Boulanger-Lewandowski et al. ICML 2012 split",
                    "held_out": "the test split",
                },
            ],
            "selection": "k, weights and cadence_weight (the config in progressions.json) were chosen on POP909 "
            "songs 009, 019, ... (part of the training set) and the JSB valid split; the held-out figures "
            "are on songs and chorales never used to fit or choose",
            "figures": figures,
            "seconds": round(time.perf_counter() - began, 1),
        },
    )
    print(figures)


if __name__ == "__main__":
    main()
