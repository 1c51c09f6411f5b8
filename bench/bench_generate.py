"""Generation on a CPU: speed and memory for 60 s of music, conditions met, and how the
music compares with POP909's test split.

    python bench/bench_generate.py [--model NAME ...] [--datasets ../shared/datasets] [--pieces 100]

1. Time to generate 60 s of music (median of 5 seeds, model already loaded) and the
   process's peak memory, beside the same model decoding with the grammar alone (the
   cost of the constraint filters), as a ratio.
2. ``--pieces`` pieces with conditions cycled over keys, tempos, meters, moods and
   lengths; each checked with cadenza's own analysis: main key == requested key, tempo
   within 1 bpm (in beats of the meter: dotted quarters in 6/8), every bar the analysis
   finds in the requested meter, length within one beat.
3. The same pieces against POP909's test split (its songs whose content hash puts them
   there), per feature: overlapping area of the intra-set and inter-set distance
   distributions (Yang & Lerch 2018); beside the same measure for POP909's own training
   split against its test split, the human reference.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import resource
import statistics
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
KEYS = ["C major", "A minor", "F# minor", "Eb major", "D minor", "G major", "Bb minor", "E major"]
METERS = ["4/4", "3/4", "6/8", "2/4"]
MOODS = ["calm", "happy", "sad", "tense"]
TEMPOS = [72, 96, 120, 140, 84]
COMPOUND = {"6/8", "9/8", "12/8"}


def _speed(composer, seconds: float = 60.0) -> tuple[float, float | None, int]:
    """Median seconds of ``cadenza generate`` for 60 s, and of the bare decoding loop with
    the grammar alone for 2,400 tokens (None for a multitrack model: it has no REMI
    grammar; ``bench_multitrack_speed.py`` times its decoding)."""
    from cadenza.compose import Conditions, Sampling
    from cadenza.models.constraints import Grammar
    from cadenza.models.family import Request

    conditions = Conditions(seconds=seconds, tempo=120)
    composer.generate(conditions, Sampling(seed=99))  # warm: load the model
    timings = []
    for seed in range(5):
        started = time.perf_counter()
        composer.generate(conditions, Sampling(seed=seed))
        timings.append(time.perf_counter() - started)
    if composer.follows_plans:
        return statistics.median(timings), None, 0
    resolved = composer.resolve(conditions)
    head = [composer.vocab.id("BOS_None")]
    request = Request(resolved.style, resolved.mode, resolved.meter, head=len(head))
    grammar_only = []
    for seed in range(5):
        generate = composer.family.generator(composer._model, composer.info, request, composer.vocab)
        started = time.perf_counter()
        generate(head, [Grammar(composer.vocab)], Sampling(seed=seed), 2400)
        grammar_only.append(time.perf_counter() - started)
    return statistics.median(timings), statistics.median(grammar_only), 2400


def conditions_heard(score, key: str, meter: str, tempo: float, seconds: float) -> dict[str, bool]:
    """Whether cadenza's analysis hears ``score`` in the requested key, tempo (within 1
    bpm, in beats of the meter: dotted quarters in 6/8), meter (every bar) and length
    (within one beat)."""
    from cadenza.analysis.beats import beat_grid, meter_segments, tempo_segments
    from cadenza.analysis.key import key_segments, main_key
    from cadenza.data.labels import parse_key

    found = main_key(key_segments(score))
    grid = beat_grid(score)
    beat_bpm = tempo * 2 / 3 if meter in COMPOUND else tempo
    tempi = [bpm for _, bpm in tempo_segments(grid)]
    return {
        "key": found is not None and parse_key(found.label) == parse_key(key),
        "tempo": bool(tempi) and all(abs(bpm - beat_bpm) <= 1.0 for bpm in tempi),
        "meter": {f"{n}/{d}" for _, n, d in meter_segments(grid)} == {meter},
        "length": abs(float(score.to("second").end()) - seconds) <= 60.0 / tempo,
    }


def _conditions_met(composer, pieces: int) -> tuple[list, dict[str, float]]:
    from cadenza.compose import Conditions, Sampling

    scores, met = [], {"key": 0, "tempo": 0, "meter": 0, "length": 0}
    combos = itertools.cycle(itertools.product(KEYS, METERS, MOODS))
    for number in range(pieces):
        key, meter, mood = next(combos)
        tempo = TEMPOS[number % len(TEMPOS)]
        length = {"seconds": 30.0} if number % 2 else {"bars": 16}
        conditions = Conditions(key=key, meter=meter, mood=mood, tempo=tempo, **length)
        score = composer.generate(conditions, Sampling(seed=number))
        scores.append(score)
        heard = conditions_heard(score, key, meter, tempo, composer.resolve(conditions).seconds)
        for name, ok in heard.items():
            met[name] += ok
    return scores, {k: v / pieces for k, v in met.items()}


def _pop909_splits(datasets: Path) -> tuple[list, list]:
    from cadenza.data.content import content_hash, split_of
    from cadenza.data.sources import list_files, parse_source_spec, read_file

    train, test = [], []
    for ref in list_files(parse_source_spec(f"pop909={datasets / 'pop909'}")):
        score = read_file(ref)[0].score
        (test if split_of(content_hash(score)) == "test" else train).append(score)
    return train, test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="Repeat to compare models side by side (default: default).")
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets")
    parser.add_argument("--pieces", type=int, default=100)
    args = parser.parse_args()

    from cadenza.analysis.compare import compare_collections
    from cadenza.compose import Composer

    console = Console()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
    generated: dict[str, list] = {}
    for name in args.model or ["default"]:
        composer = Composer.from_pretrained(name)
        model = composer.info.name
        generate_s, grammar_s, tokens = _speed(composer)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        table = Table(title=f"Generating 60 s of music with {model} ({machine})")
        for column in ("run", "wall s (median of 5)", "x real time", "ratio"):
            table.add_column(column)
        table.add_row("cadenza generate, all constraints", f"{generate_s:.3f}", f"{60 / generate_s:.0f}", "1.00")
        if grammar_s is not None:
            table.add_row(
                f"same model, grammar only ({tokens} tokens)", f"{grammar_s:.3f}", "—", f"{grammar_s / generate_s:.2f}"
            )
        console.print(table)
        console.print(f"peak memory of the process so far (models loaded, pieces made): {peak_mb:.0f} MB")

        started = time.perf_counter()
        scores, met = _conditions_met(composer, args.pieces)
        generated[model] = scores
        table = Table(title=f"{model}: {args.pieces} generated pieces, requested conditions met (cadenza's analysis)")
        for column in ("key", "tempo", "meter", "length"):
            table.add_column(column)
        table.add_row(*(f"{met[k]:.0%}" for k in ("key", "tempo", "meter", "length")))
        console.print(table)
        console.print(f"({time.perf_counter() - started:.0f} s for generation and analysis)")

    train, test = _pop909_splits(args.datasets)
    rng = np.random.default_rng(0)
    human = [train[i] for i in rng.choice(len(train), size=min(args.pieces, len(train)), replace=False)]
    ours = {model: compare_collections(test, scores) for model, scores in generated.items()}
    theirs = compare_collections(test, human)
    table = Table(title=f"Against POP909's test split ({len(test)} songs): overlapping area, higher is closer")
    table.add_column("feature")
    for model, scores in generated.items():
        table.add_column(f"{model} ({len(scores)})")
    table.add_column(f"POP909 train ({len(human)})")
    for feature in theirs:
        cells = [f"{ours[model][feature].overlap_area:.3f}" for model in generated]
        table.add_row(feature, *cells, f"{theirs[feature].overlap_area:.3f}")
    console.print(table)


if __name__ == "__main__":
    main()
