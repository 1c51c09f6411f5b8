"""Realism: can a classifier tell generated 16-bar stretches from POP909's?

    python bench/bench_realism.py [--pieces 60] [--model NAME ...] [--datasets ../shared/datasets]

1. Reads POP909 and its test split (the songs whose content hash puts them there, as in
   ``bench_generate.py``), cut into 16-bar stretches at its bar lines.
2. Generates ``--pieces`` pieces per model (``Composer``, style pop, ``--bars`` bars, seeds
   0..N-1, torch on one thread) and cuts them the same way. A ``--model`` that is a
   multitrack model folder writes its pieces from the planner's plan
   (``bench_controls_obeyed.compose``).
3. One table, a row per set against POP909's test stretches: the cross-validated accuracy
   of a logistic regression telling the set from the real stretches
   (``cadenza.analysis.realism``, 0.5 = cannot tell), the mean overlapping area of
   ``cadenza.analysis.compare`` over its features (and the lowest, named), and a few
   feature means. The real-vs-real rows are the floor: stretches of POP909's training
   songs (one per song), and the test songs split in two halves.
4. A second table: the features that most tell each set from the real stretches, by
   standardised mean difference (difference of means over the pooled standard deviation).
5. Form: per whole piece, the share of bars that repeat or vary an earlier bar
   (:func:`cadenza.analysis.form.repetition`): its quartiles over POP909's test songs and
   over each model's pieces, and the share of those pieces inside the songs' interquartile
   range (the step-9 goal; a generated piece is ``--bars`` bars, a song is whole).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import symusic
from bench_generate import _pop909_splits
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = ["cadenza-transformer", "cadenza-markov"]
RERANK = "+rerank"  # --model cadenza-transformer+rerank4: the critic keeps the best of 4
SUMMARY = {
    "pitch_mean": "mean pitch",
    "velocity_std": "velocity std",
    "dur_<=16th": "≤16th notes",
    "bar_repetition": "bar repetition",
}


class Stretches:
    """The stretches of a set of pieces: their scores (for compare.py), features, and
    the piece each comes from (the classifier's folds keep a piece's stretches together)."""

    def __init__(self, name: str, pieces: Sequence[tuple[int, symusic.Score, int]], bars: int) -> None:
        from cadenza.analysis.realism import stretch_features, stretch_score

        self.name = name
        self.groups = np.array([piece for piece, _, _ in pieces], dtype=np.int64)
        self.scores = [stretch_score(score, start, bars) for _, score, start in pieces]
        self.features = np.array([stretch_features(score, start, bars) for _, score, start in pieces])

    def __len__(self) -> int:
        return len(self.scores)


def _cut(scores: Sequence[symusic.Score], bars: int) -> list[list[tuple[int, symusic.Score, int]]]:
    """Per piece, its stretches as (piece number, score, start bar)."""
    from cadenza.analysis.realism import stretches

    return [[(i, score, start) for start in stretches(score, bars)] for i, score in enumerate(scores)]


def _reranked(name: str, pieces: int, bars: int) -> list[symusic.Score]:
    """``NAME+rerankN``: each piece the most real of N candidates to the GAN's critic, drawn
    and chosen as ``cadenza generate --rerank N`` does (``Judge.seeds``, ``choose``)."""
    from cadenza.compose import Composer, Conditions, Sampling
    from cadenza.compose.rerank import Judge, choose

    model, count = name.split(RERANK)
    critic = Composer.from_pretrained("cadenza-gan")
    judge = Judge(critic.gan, critic.info.name, critic.info.weights_sha256, int(count))  # type: ignore[attr-defined]
    composer = Composer.from_pretrained(model)
    conditions = Conditions(style="pop", bars=bars)
    chosen = []
    for seed in range(pieces):
        candidates = [composer.generate(conditions, Sampling(seed=s)) for s in judge.seeds(seed)]
        chosen.append(candidates[choose(judge.critic, candidates)[0]])
    return chosen


def _generate(name: str, pieces: int, bars: int) -> list[symusic.Score]:
    """``pieces`` pop pieces of ``bars`` bars from a shipped model or a model folder; a
    multitrack folder writes them as ``bench_controls_obeyed.compose`` does (planned);
    ``NAME+rerankN`` keeps the critic's choice of N (:func:`_reranked`)."""
    from cadenza.compose import Composer, Conditions, Sampling

    if RERANK in name:
        return _reranked(name, pieces, bars)
    conditions = Conditions(style="pop", bars=bars)
    config = Path(name) / "config.json"
    if config.is_file() and json.loads(config.read_text()).get("family") == "multitrack":
        from bench_controls_obeyed import compose

        from cadenza.compose.planner import make_plan
        from cadenza.models.multitrack import MultitrackModel

        model = MultitrackModel.load(Path(name))
        return [compose(model, make_plan(conditions, seed=seed), seed) for seed in range(pieces)]
    composer = Composer.from_pretrained(name)
    return [composer.generate(conditions, Sampling(seed=seed)) for seed in range(pieces)]


def form_cells(shares: Sequence[float], low: float, high: float) -> tuple[str, str]:
    """Quartiles of the pieces' repetition shares, and the share of pieces in [low, high]."""
    q1, q2, q3 = np.percentile(shares, [25, 50, 75])
    inside = np.mean([low <= share <= high for share in shares])
    return f"{q1:.2f} / {q2:.2f} / {q3:.2f}", f"{inside:.0%}"


def _effect_sizes(real: np.ndarray, other: np.ndarray) -> np.ndarray:
    pooled = np.sqrt((real.var(axis=0) + other.var(axis=0)) / 2)
    difference = other.mean(axis=0) - real.mean(axis=0)
    return np.divide(difference, pooled, out=np.zeros_like(difference), where=pooled > 1e-12)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help=f"Repeat for several (default: {', '.join(DEFAULT_MODELS)}).")
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets", help="Holds pop909/.")
    parser.add_argument("--pieces", type=int, default=60, help="Pieces per model, seeds 0..N-1.")
    parser.add_argument("--bars", type=int, default=16, help="Bars per stretch and per generated piece.")
    parser.add_argument("--top", type=int, default=10, help="Rows of the table of telling features.")
    parser.add_argument("--seed", type=int, default=0, help="Subsamples and cross-validation folds.")
    args = parser.parse_args()

    import torch

    from cadenza.analysis.compare import compare_collections
    from cadenza.analysis.form import repetition
    from cadenza.analysis.realism import FEATURE_NAMES, two_sample_accuracy

    torch.set_num_threads(1)
    console = Console(width=170)
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    train_songs, test_songs = _pop909_splits(args.datasets)
    test_cut = _cut(test_songs, args.bars)
    test = Stretches("POP909 test", [s for song in test_cut for s in song], args.bars)
    # training songs: one stretch each, from as many songs as the test split has stretches
    train_cut = [song for song in _cut(train_songs, args.bars) if song]
    chosen = rng.permutation(len(train_cut))[: len(test)]
    train = Stretches("POP909 train", [train_cut[i][rng.integers(len(train_cut[i]))] for i in chosen], args.bars)
    halves = rng.permutation(len(test_cut))
    first = Stretches("POP909 test, half A", [s for i in halves[::2] for s in test_cut[i]], args.bars)
    second = Stretches("POP909 test, half B", [s for i in halves[1::2] for s in test_cut[i]], args.bars)
    console.print(
        f"POP909: {len(test_songs)} test songs, {len(test)} stretches of {args.bars} bars; "
        f"{len(train)} training stretches ({time.perf_counter() - started:.0f} s)"
    )

    generated, pieces = [], {}
    for name in args.model or DEFAULT_MODELS:
        started = time.perf_counter()
        scores = pieces[name] = _generate(name, args.pieces, args.bars)
        generated.append(Stretches(name, [s for piece in _cut(scores, args.bars) for s in piece], args.bars))
        seconds = time.perf_counter() - started
        console.print(f"{name}: {args.pieces} pieces, {len(generated[-1])} stretches ({seconds:.0f} s)")

    # (row label, reference set, candidate set)
    rows = [(g.name, test, g) for g in generated]
    rows += [("POP909 train vs test", test, train), ("POP909 half vs half", first, second)]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    table = Table(title=f"Realism against POP909's test split, {args.bars}-bar stretches ({machine})")
    for column in ("set (stretches)", "classifier acc ± std", "OA mean (lowest)", *SUMMARY.values()):
        table.add_column(column)
    column_of = {name: FEATURE_NAMES.index(name) for name in SUMMARY}
    means = [f"{test.features[:, column_of[n]].mean():.3f}" for n in SUMMARY]
    table.add_row(f"POP909 test ({len(test)})", "—", "—", *means)
    for label, reference, candidate in rows:
        accuracy, spread = two_sample_accuracy(
            reference.features,
            candidate.features,
            seed=args.seed,
            real_groups=reference.groups,
            other_groups=candidate.groups,
        )
        areas = {k: c.overlap_area for k, c in compare_collections(reference.scores, candidate.scores).items()}
        lowest = min(areas, key=lambda k: areas[k])
        means = [f"{candidate.features[:, column_of[n]].mean():.3f}" for n in SUMMARY]
        table.add_row(
            f"{label} ({len(reference)} vs {len(candidate)})",
            f"{accuracy:.3f} ± {spread:.3f}",
            f"{np.nanmean(list(areas.values())):.3f} ({areas[lowest]:.3f} {lowest})",
            *means,
        )
    console.print(table)

    others = [*generated, train]
    effects = np.array([_effect_sizes(test.features, other.features) for other in others])
    order = np.argsort(-np.abs(effects[: len(generated)]).max(axis=0), kind="stable")[: args.top]
    table = Table(title="What tells them apart: mean, and (standardised mean difference) against POP909 test")
    table.add_column("feature")
    table.add_column("POP909 test")
    for other in others:
        table.add_column(other.name)
    for i in order:
        cells = [f"{other.features[:, i].mean():.3f} ({effects[k, i]:+.2f})" for k, other in enumerate(others)]
        table.add_row(FEATURE_NAMES[i], f"{test.features[:, i].mean():.3f}", *cells)
    console.print(table)

    songs = [repetition(score).repetition_share for score in test_songs]
    low, high = np.percentile(songs, [25, 75])
    table = Table(title="Form: share of bars that repeat or vary an earlier bar (cadenza.analysis.form), per piece")
    for column in ("set (pieces)", "Q1 / median / Q3", f"in POP909 test's IQR {low:.2f}–{high:.2f}"):
        table.add_column(column)
    table.add_row(f"POP909 test songs ({len(songs)})", *form_cells(songs, low, high))
    for name, scores in pieces.items():
        shares = [repetition(score).repetition_share for score in scores]
        table.add_row(f"{name} ({len(shares)}, {args.bars} bars)", *form_cells(shares, low, high))
    console.print(table)


if __name__ == "__main__":
    main()
