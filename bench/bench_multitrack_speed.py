"""Speed of a multitrack model on a CPU, beside Hugging Face ``generate`` on a GPT-2 of its size.

    python bench/bench_multitrack_speed.py --model FOLDER [--seconds 60] [--tempo 120] [--threads 1]

Rows, all in one process on ``--threads`` torch threads (median of 5 seeds, after a warm-up):

1. **plan**: a pop piece of ``--seconds`` seconds in 4/4 at ``--tempo``, as
   ``bench_controls_obeyed.py`` makes it (the planner's form and chords, the fresh bars of
   melody, harmony and bass filled with per-bar controls in one decoding run, the repeats
   copied);
2. **every bar**: the same empty tracks, every bar of every track filled, no control
   asked (the decoding alone). Its tokens per second of music are the exchange rate of
   the "x real time" column for the GPT-2 rows;
3. ``GPT2LMHeadModel.generate`` (sampling, KV cache, top-p 0.95) on a GPT-2 of the same
   width, depth, heads, vocabulary and context (random weights), batch 1 and 8, as many
   new tokens as row 2 decodes (at most its context), from ``bench_sampling.py``.

"x real time" is seconds of music per second of wall time; "ratio" is tokens per second
over GPT-2's at batch 1. Then the process's peak resident memory (``getrusage``), after
the multitrack rows and at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
from pathlib import Path

from bench_controls_obeyed import ROLES, compose, skeleton
from bench_sampling import _gpt2_rows, _median_seconds
from rich.console import Console
from rich.table import Table


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="A multitrack model folder.")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--tempo", type=float, default=120.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch
    import transformers

    from cadenza.compose import Conditions
    from cadenza.compose.planner import make_plan
    from cadenza.models import multitrack_tokens as mt
    from cadenza.models.multitrack import MultitrackModel, fill
    from cadenza.models.sampling import Sampling

    torch.set_num_threads(args.threads)
    model = MultitrackModel.load(args.model)
    bars = max(1, round(args.seconds * args.tempo / 60 / 4))
    music = bars * 4 * 60 / args.tempo  # seconds
    conditions = Conditions(style="pop", key="C major", meter="4/4", tempo=args.tempo, bars=bars)
    plan_wall = _median_seconds(lambda seed: compose(model, make_plan(conditions, seed=seed), seed))

    piece = mt.tokenize(skeleton(args.tempo, "4/4"), ROLES, style="pop", bars=bars)
    holes = [(t, b) for t in range(len(ROLES)) for b in range(bars)]
    decoded = []

    def every_bar(seed: int) -> None:
        written = fill(model, piece, holes, Sampling(seed=seed))
        # FillStart, the controls, the notes and FillEnd of every hole, then EOS; the first
        # FillStart ends the prompt
        notes = sum(len({onset for onset, *_ in cell}) + 3 * len(cell) for cell in written.values())
        decoded.append(sum(2 + (1 if not written.get(h) else 4) for h in holes) + notes)

    bar_wall = _median_seconds(every_bar)
    tokens = round(sum(decoded) / len(decoded))
    rate = tokens / music  # tokens per second of music
    peak_ours = _peak_mb()
    config = {**model.config.to_dict(), "parameters": model.num_parameters()}
    theirs, gpt2_parameters = _gpt2_rows(config, tokens)

    rows = [("multitrack, plan (fresh bars filled, repeats copied)", 1, None, plan_wall)]
    rows += [("multitrack, every bar of 3 tracks, no control asked", 1, tokens, bar_wall), *theirs]
    baseline = theirs[0][2] / theirs[0][3]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {args.threads} torch threads"
    table = Table(
        title=f"{args.model.name}: {music:.0f} s of music ({bars} bars of 4/4 at {args.tempo:g} bpm) on a CPU "
        f"({machine}; torch {torch.__version__}, transformers {transformers.__version__})"
    )
    for column in ("run", "batch", "new tokens each", "wall s", "tokens/s", "x real time", "ratio"):
        table.add_column(column)
    for name, batch, count, wall in rows:
        if count is None:  # the plan row: music made, tokens not counted
            table.add_row(name, "1", "—", f"{wall:.3f}", "—", f"{music / wall:.1f}", "—")
            continue
        per_second = batch * count / wall
        table.add_row(
            name,
            str(batch),
            str(count),
            f"{wall:.3f}",
            f"{per_second:.0f}",
            f"{per_second / rate:.1f}",
            f"{per_second / baseline:.2f}",
        )
    Console(width=160).print(table)
    print(
        f"{model.num_parameters():,} parameters (GPT-2 peer {gpt2_parameters:,}), d_model {config['d_model']}, "
        f"{config['n_layer']} layers, {config['n_head']} heads, context {config['block_size']}; "
        f"{rate:.1f} tokens per second of music; peak memory {peak_ours:.0f} MB after the multitrack rows, "
        f"{_peak_mb():.0f} MB at the end"
    )


if __name__ == "__main__":
    main()
