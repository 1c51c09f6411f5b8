"""Fitting the melody harmonizer (:mod:`cadenza.models.harmonizer`) on music with a tune.

Each piece is heard by :mod:`cadenza.analysis` on the bar grid its file states (POP909
as :mod:`cadenza.data.sources` aligns it to its annotated bars, the chorales in 4/4):
the chord of every beat from all its tracks (:func:`~cadenza.analysis.chords.grid_chords`),
a span's chord the one heard on most of its beats (the first on a tie), the key of every
bar (:func:`~cadenza.analysis.key.bar_keys`), and the tune's weights per span
(:func:`~cadenza.analysis.melody.span_weights`) from its melody track (POP909's MELODY,
the chorales' Soprano). Held out: POP909's test split (by content hash, as the
benchmarks split it) and the chorales' test split; the validation splits choose how
loud the tune speaks against the progression (:attr:`HarmonizerConfig.emission_weight`),
and the fit reports how often the harmonizer picks, from the tune alone, the chord the
analysis hears in held-out pieces.

    python -m cadenza.train.harmonizer --pop909 DIR --jsb Jsb16thSeparated.json --out cadenza/pretrained/harmonizer
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import symusic

from cadenza.analysis.chords import grid_chords
from cadenza.analysis.key import bar_keys
from cadenza.analysis.melody import span_weights
from cadenza.models.folder import write_json
from cadenza.models.harmonizer import Harmonizer, spans_per_bar
from cadenza.theory import parse_chord

__all__ = ["HeardPiece", "hear", "main"]

TUNE_NAMES = ("MELODY", "Soprano")
EMISSION_WEIGHTS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)


class HeardPiece:
    """What the fit needs of one piece: per span, its key, the chord heard and the tune's weights."""

    def __init__(self, keys: list[tuple[int, str]], chords: list[str], weights: np.ndarray) -> None:
        self.keys, self.chords, self.weights = keys, chords, weights


def _majority(labels: Sequence[str]) -> str:
    roots = [label.split("/")[0] for label in labels]
    return max(roots, key=lambda r: (roots.count(r), -roots.index(r))) if roots else "N"


def hear(score: symusic.Score) -> HeardPiece | None:
    """The spans of a piece with a tune track (None without one, or without a meter)."""
    tune = next((t for t in score.tracks if t.name in TUNE_NAMES and len(t.notes)), None)
    signatures = [ts for ts in score.time_signatures if ts.time == 0]
    if tune is None or not signatures:
        return None
    numerator, denominator = signatures[-1].numerator, signatures[-1].denominator
    bar = 4 * score.ticks_per_quarter * numerator / denominator
    end = max(int(t.end()) for t in score.tracks if len(t.notes))
    bars = int(np.ceil(end / bar))
    per_bar = spans_per_bar(f"{numerator}/{denominator}")
    beats = grid_chords(score, bar, numerator, bars)
    per_span = numerator // per_bar
    chords = [_majority(beats[i : i + per_span]) for i in range(0, len(beats), per_span)]
    starts = [bar * k / per_bar for k in range(bars * per_bar + 1)]
    weights = span_weights(tune, starts, bar / numerator)
    keys = [key for key in bar_keys(score, bar, bars) for _ in range(per_bar)]
    return HeardPiece(keys, chords, weights)


def _corpus(pop909: Path | None, jsb: Path | None) -> list[tuple[str, str, symusic.Score]]:
    """(style, split, score)."""
    from cadenza.data.content import content_hash, split_of
    from cadenza.data.sources import list_files, parse_source_spec, read_file

    pieces = []
    if pop909 is not None:
        for ref in list_files(parse_source_spec(f"pop909={pop909}")):
            for piece in read_file(ref):
                pieces.append(("pop", split_of(content_hash(piece.score)), piece.score))
    if jsb is not None:
        for ref in list_files(parse_source_spec(f"jsb={jsb}")):
            for piece in read_file(ref):
                pieces.append(("chorale", piece.split or "train", piece.score))
    return pieces


def agreement(harmonizer: Harmonizer, pieces: Sequence[HeardPiece], style: str) -> tuple[float, int]:
    """(share of spans whose chord the harmonizer picks as the analysis hears it, root and
    triad alike; spans counted) over pieces with a chord in every span compared."""
    right = total = 0
    for piece in pieces:
        picked = harmonizer.chords(piece.weights, piece.keys, style)
        for guess, heard in zip(picked, piece.chords, strict=True):
            parsed = parse_chord(heard)
            if parsed is None:
                continue
            total += 1
            right += guess == f"{heard.split(':')[0]}:{parsed[1]}" or parse_chord(guess) == parsed
    return (right / total if total else float("nan")), total


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fit cadenza's melody harmonizer on POP909 and the chorales.")
    parser.add_argument("--pop909", type=Path, help="the POP909 folder (one folder per song)")
    parser.add_argument("--jsb", type=Path, help="Jsb16thSeparated.json")
    parser.add_argument("--out", type=Path, required=True, help="folder for harmonizer.json and training.json")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    harmonizer = Harmonizer.empty()
    held: dict[str, list[HeardPiece]] = {"pop": [], "chorale": []}
    valid: dict[str, list[HeardPiece]] = {"pop": [], "chorale": []}
    counts: dict[str, int] = {}
    for style, split, score in _corpus(args.pop909, args.jsb):
        heard = hear(score)
        if heard is None:
            continue
        counts[f"{style}/{split}"] = counts.get(f"{style}/{split}", 0) + 1
        if split == "train":
            harmonizer.add(style, heard.keys, heard.chords, heard.weights)
        else:
            (held if split == "test" else valid)[style].append(heard)
    chosen = {}
    for weight in EMISSION_WEIGHTS:  # the weight that agrees best on the validation pieces, every style pooled
        harmonizer.config = replace(harmonizer.config, emission_weight=weight)
        scores = [agreement(harmonizer, pieces, style) for style, pieces in valid.items() if pieces]
        spans = sum(n for _, n in scores)
        chosen[weight] = sum(share * n for share, n in scores) / spans if spans else 0.0
    best = max(chosen, key=lambda w: chosen[w])
    harmonizer.config = replace(harmonizer.config, emission_weight=best)
    figures: dict[str, object] = {
        "emission_weight_by_validation_agreement": {str(w): round(a, 3) for w, a in chosen.items()}
    }
    for style, pieces in held.items():
        if pieces:
            share, spans = agreement(harmonizer, pieces, style)
            figures[style] = {"held_out_pieces": len(pieces), "held_out_spans": spans, "agreement": round(share, 3)}
    args.out.mkdir(parents=True, exist_ok=True)
    harmonizer.save(args.out / "harmonizer.json")
    write_json(
        args.out / "training.json",
        {
            "what": "chords per span (half a bar of four beats, else a bar) as cadenza.analysis hears them in "
            "the whole texture, and the melody's pitch-class weights under them; counts",
            "command": "python -m cadenza.train.harmonizer " + " ".join(sys.argv[1:] if argv is None else argv),
            "pieces": counts,
            "held_out": figures,
            "sources": [
                {"name": "pop909", "style": "pop", "licence": "MIT", "held_out": "the test split by content hash"},
                {"name": "jsb", "style": "chorale", "licence": "public-domain", "held_out": "the test split"},
            ],
            "seconds": round(time.perf_counter() - began, 1),
        },
    )
    print(f"fitted on {counts}; held out: {figures}; {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
