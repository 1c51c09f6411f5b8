"""Controls obeyed: a multitrack model asked for pieces bar by bar, checked from its notes.

    python bench/bench_controls_obeyed.py --model FOLDER [--pieces 20] [--bars 16] [--threads 1]

For each piece (keys, meters, moods and tempos cycled as in ``bench_generate.py``, seed =
its number) the planner (:func:`cadenza.compose.planner.make_plan`, the shipped chord
progression model) sets the form, a chord and an intensity per bar. Three empty tracks
(melody, harmony, bass) in the requested meter and tempo are then filled by the model with
one :class:`~cadenza.models.multitrack.BarAsk` per track and bar: the plan's chord, its
intensity (0..1 in five token bins), and a density and a polyphony bin drawn per role
(with ``--chord-tones``, harmony and bass also held to the chord's tones and the
melody to the key's scale, as ``cadenza generate`` asks them).
The bars the plan writes afresh are filled in one decoding run; the bars it repeats are
copied from their source bar (:func:`~cadenza.compose.planner.bar_sources`; a copied bar
asks what its source asked).

One table, a row per control, the share obeyed:

* **as written**: the controls the multitrack tokens read back from the output
  (:func:`cadenza.models.multitrack_tokens.tokenize`, the definition the model was asked in);
* **as heard**: :mod:`cadenza.analysis.controls` on the output (per-track density and
  polyphony bins, the bar's chord root). Its bins are per beat and its polyphony counts
  held notes, so it may differ from the tokens' count until the tokens take their
  controls from that module;
* key, tempo, meter and length: as written in the file (key signature, tempo and time
  signature events, bars of the tokens) and as the analysis hears them (``bench_generate.conditions_heard``);
* form: the quartiles over the pieces of the share of bars that repeat or vary an earlier
  bar (:func:`cadenza.analysis.form.repetition`) and the share of pieces inside POP909's
  interquartile range of it (``--form-iqr``: over all its songs, ``bench_controls.py``;
  ``bench_realism.py`` measures it on the test songs).
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import symusic
from bench_generate import KEYS, METERS, MOODS, TEMPOS, conditions_heard
from bench_realism import form_cells
from rich.console import Console
from rich.table import Table

ROLES = ("melody", "harmony", "bass")
PROGRAMS = {"melody": 0, "harmony": 0, "bass": 33}
# the density and polyphony bins (multitrack tokens) a role's bar is asked for, drawn at random
ASKED = {"melody": ((2, 3, 4), (1,)), "harmony": ((2, 3, 4, 5), (2, 3)), "bass": ((1, 2, 3), (1,))}
TPQ = 480
INTENSITY_BINS = 5  # Intensity_0 .. Intensity_4 of the multitrack tokens


def skeleton(tempo: float, meter: str, key: str | None = None) -> symusic.Score:
    """Empty melody, harmony and bass tracks in ``meter`` at ``tempo``, with ``key``'s signature."""
    from cadenza.theory import key_signature, parse_key

    score = symusic.Score(TPQ)
    if key is not None:
        tonic, mode = parse_key(key)
        score.key_signatures.append(symusic.KeySignature(0, key_signature(tonic, mode), int(mode == "min")))
    numerator, denominator = (int(n) for n in meter.split("/"))
    score.time_signatures.append(symusic.TimeSignature(0, numerator, denominator))
    score.tempos.append(symusic.Tempo(0, tempo))
    for role in ROLES:
        score.tracks.append(symusic.Track(role, PROGRAMS[role], False))
    return score


def plan_asks(plan, rng: np.random.Generator, chord_tones: bool = False) -> dict[tuple[int, int], object]:
    """A BarAsk per (track, bar): the plan's chord and intensity, drawn density and polyphony;
    a bar the plan repeats asks what its source asks."""
    from cadenza.compose.multitrack_composer import bar_asks, held_to_chord
    from cadenza.compose.planner import bar_sources
    from cadenza.models.multitrack import BarAsk

    controls = [c for section in plan.sections for c in section.controls]
    generate_asks = bar_asks(plan)  # what `cadenza generate` asks: the scale of each bar's key
    sources = bar_sources(plan)
    asks: dict[tuple[int, int], object] = {}
    for b, (control, source) in enumerate(zip(controls, sources, strict=True)):
        for t, role in enumerate(ROLES):
            if source is not None:
                asks[t, b] = asks[t, source]
                continue
            densities, polyphonies = ASKED[role]
            level = None if control.intensity is None else min(INTENSITY_BINS - 1, int(control.intensity * 5))
            ask = BarAsk(int(rng.choice(densities)), int(rng.choice(polyphonies)), control.chord, level)
            if chord_tones:
                held = held_to_chord(generate_asks[b], role)
                ask = replace(ask, chord_tones=held.chord_tones, scale=held.scale)
            asks[t, b] = ask
    return asks


def compose(model, plan, seed: int, chord_tones: bool = False) -> symusic.Score:
    """The plan's piece: its fresh bars filled by ``model`` in one run, its repeats copied.
    A stand-in for the plan-following generator, until the Composer drives the multitrack model."""
    from cadenza.compose.planner import bar_sources
    from cadenza.models import multitrack_tokens as mt
    from cadenza.models.multitrack import _replace, fill
    from cadenza.models.sampling import Sampling

    section = plan.sections[0]
    score = skeleton(section.tempo, section.meter, section.key)
    asks = plan_asks(plan, np.random.default_rng(seed), chord_tones)
    sources = bar_sources(plan)
    piece = mt.tokenize(score, ROLES, style=plan.style, bars=len(sources))
    holes = [(t, b) for t in range(len(ROLES)) for b, source in enumerate(sources) if source is None]
    written = fill(model, piece, holes, Sampling(seed=seed), asks)  # type: ignore[arg-type]
    per_bar = mt.bar_ticks(piece.meter)
    for b, source in enumerate(sources):
        if source is not None:
            for t in range(len(ROLES)):
                shift = (b - source) * per_bar
                written[t, b] = [(onset + shift, *rest) for onset, *rest in written.get((t, source), [])]
    return _replace(score, piece.meter, range(len(sources)), written)


class Tally:
    """Hits and trials per row and column."""

    def __init__(self) -> None:
        self.hits: Counter = Counter()
        self.trials: Counter = Counter()

    def add(self, row: str, column: str, hit: bool) -> None:
        self.trials[row, column] += 1
        self.hits[row, column] += bool(hit)

    def cell(self, row: str, column: str) -> str:
        n = self.trials[row, column]
        return f"{self.hits[row, column] / n:.1%} ({n})" if n else "—"


def _root(label: str | None) -> int | None:
    from cadenza.theory import parse_chord

    parsed = parse_chord(label) if label else None
    return None if parsed is None else parsed[0]


def score_piece(score: symusic.Score, plan, asks, tally: Tally) -> None:
    """Adds the piece's controls, as written and as heard, to ``tally``."""
    from cadenza.analysis.controls import bar_controls
    from cadenza.models import multitrack_tokens as mt
    from cadenza.theory import key_signature, parse_key

    bars = plan.bars
    piece = mt.tokenize(score, ROLES, style=plan.style, bars=bars)
    heard = bar_controls(score)
    for (t, b), ask in asks.items():
        cell = [mt.NAMES[i] for i in piece.controls[t][b]]
        value = {name.split("_", 1)[0]: name.split("_", 1)[1] for name in cell}
        track = heard[b].tracks[t] if b < len(heard) else None
        tally.add("density bin (track × bar)", "written", value.get("Density") == str(ask.density))
        tally.add("density bin (track × bar)", "heard", track is not None and track.density_bin == ask.density)
        tally.add("polyphony bin (track × bar)", "written", value.get("Poly") == str(ask.polyphony))
        tally.add("polyphony bin (track × bar)", "heard", track is not None and track.polyphony_bin == ask.polyphony)
    for b in range(bars):
        ask = asks[0, b]
        written = [
            mt.NAMES[c[2]].split("_", 1)[1] for c in (piece.controls[t][b] for t in range(len(ROLES))) if len(c) > 2
        ]
        if ask.chord not in (None, "N"):
            root = _root(ask.chord)
            tally.add("chord root (bar)", "written", bool(written) and _root(written[0]) == root)
            tally.add("chord root (bar)", "heard", b < len(heard) and heard[b].chord.root == root)
        if ask.intensity is not None:
            levels = {mt.NAMES[c[3]] for c in (piece.controls[t][b] for t in range(len(ROLES))) if len(c) > 3}
            tally.add("intensity bin (bar)", "written", levels == {f"Intensity_{ask.intensity}"})
    section = plan.sections[0]
    meter = f"{score.time_signatures[0].numerator}/{score.time_signatures[0].denominator}"
    signature = score.key_signatures[0] if len(score.key_signatures) else None
    tonic, mode = parse_key(section.key)
    tally.add(
        "key (piece)",
        "written",
        signature is not None
        and (signature.key, signature.tonality) == (key_signature(tonic, mode), int(mode == "min")),
    )
    tally.add("tempo (piece)", "written", abs(score.tempos[0].qpm - section.tempo) < 0.01)
    tally.add("meter (piece)", "written", meter == section.meter)
    tally.add("length (piece)", "written", mt.tokenize(score, ROLES).bars == bars)
    for name, ok in conditions_heard(score, section.key, section.meter, section.tempo, plan.seconds).items():
        tally.add(f"{name} (piece)", "heard", ok)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="A multitrack model folder.")
    parser.add_argument("--pieces", type=int, default=20)
    parser.add_argument("--bars", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--chord-tones", action="store_true", help="harmony, bass on chord tones, melody on the scale, as generate asks"
    )
    parser.add_argument("--form-iqr", type=float, nargs=2, default=(0.35, 0.61), metavar=("Q1", "Q3"))
    args = parser.parse_args()

    import torch

    from cadenza.analysis.form import repetition
    from cadenza.compose import Conditions
    from cadenza.compose.planner import make_plan
    from cadenza.models.multitrack import MultitrackModel

    torch.set_num_threads(args.threads)
    model = MultitrackModel.load(args.model)
    tally, shares = Tally(), []
    combos = itertools.cycle(itertools.product(KEYS, METERS, MOODS))
    started = time.perf_counter()
    for number in range(args.pieces):
        key, meter, mood = next(combos)
        conditions = Conditions(
            style="pop", key=key, meter=meter, mood=mood, tempo=TEMPOS[number % len(TEMPOS)], bars=args.bars
        )
        plan = make_plan(conditions, seed=number)
        score = compose(model, plan, number, args.chord_tones)
        score_piece(score, plan, plan_asks(plan, np.random.default_rng(number), args.chord_tones), tally)
        shares.append(repetition(score).repetition_share)
    seconds = time.perf_counter() - started

    table = Table(
        title=f"{args.model.name}: controls obeyed over {args.pieces} pieces of {args.bars} bars ({seconds:.0f} s)"
        + ("; harmony and bass held to the chord's tones, melody to the key's scale" if args.chord_tones else "")
    )
    for column in ("control", "as written (trials)", "as heard (trials)"):
        table.add_column(column)
    rows = dict.fromkeys(row for row, _ in tally.trials)
    for row in rows:
        table.add_row(row, tally.cell(row, "written"), tally.cell(row, "heard"))
    q1, q3 = args.form_iqr
    quartiles, inside = form_cells(shares, q1, q3)
    table.add_row(
        "form: bars repeating or varying an earlier one",
        f"Q1 / median / Q3 {quartiles}",
        f"{inside} of pieces in POP909's IQR {q1:.2f}–{q3:.2f}",
    )
    Console(width=150).print(table)


if __name__ == "__main__":
    main()
