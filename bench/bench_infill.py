"""Infilling: real held-out POP909 bars scored with their future in view, and without.

    python bench/bench_infill.py --model FOLDER [--datasets DIR] [--songs 40] [--hole 2] [--context 4]

The songs of POP909's test split (as ``bench_generate.py`` splits it, by content hash),
as multitrack pieces (:func:`cadenza.models.multitrack_tokens.tokenize`). In each song,
``--per-song`` stretches of ``--hole`` bars, evenly spread, each with ``--context`` bars
on both sides, are held out, and :func:`cadenza.train.multitrack.fill_nll` gives the
negative log-likelihood of their tokens (controls and notes):

* **infill**: after the ``--context`` bars before them *and* the ``--context`` bars after;
* **left only**: after the bars before them alone (a continuation).

Two kinds of holes: every track of the bars, and one track of them (the tracks taken in
turn; the others' notes of those bars stay in view in both rows). Printed per kind: the
holes, the notes in them, nats per note for each way and their ratio (infill / left only;
below 1: the future helps), and the infill sequences' mean length in tokens with how many
are longer than the model's context (those are read with a sliding window, which can
hide the first tracks' context from the holes: lower ``--context`` until none is).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench_generate import _pop909_splits
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]


def holes_in(holes: list[tuple[int, int]], first: int) -> list[tuple[int, int]]:
    """``holes`` counted from bar ``first``."""
    return [(t, b - first) for t, b in holes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="A multitrack model folder.")
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets", help="Holds pop909/.")
    parser.add_argument("--songs", type=int, default=40, help="Test songs to read (0: all).")
    parser.add_argument("--per-song", type=int, default=2)
    parser.add_argument("--hole", type=int, default=2, help="Bars held out.")
    parser.add_argument("--context", type=int, default=4, help="Bars of context on each side.")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    from cadenza.models import multitrack_tokens as mt
    from cadenza.models.multitrack import MultitrackModel
    from cadenza.train.multitrack import fill_nll, window_piece

    torch.set_num_threads(args.threads)
    model = MultitrackModel.load(args.model)
    started = time.perf_counter()
    _, test = _pop909_splits(args.datasets)
    test = test[: args.songs] if args.songs else test
    # kind -> [holes, notes, nll with the future, nll from the left, infill tokens, longer than the context]
    totals = {"every track": [0, 0, 0.0, 0.0, 0, 0], "one track": [0, 0, 0.0, 0.0, 0, 0]}
    block = model.config.block_size
    span = args.hole + 2 * args.context
    for score in test:
        piece = mt.tokenize(score, style="pop")
        room = piece.bars - span
        if room < 0:
            continue
        for k in range(args.per_song):
            first = k * room // max(args.per_song - 1, 1) if args.per_song > 1 else room // 2
            bars = range(first + args.context, first + args.context + args.hole)
            track = k % len(piece.tracks)
            kinds = {
                "every track": [(t, b) for t in range(len(piece.tracks)) for b in bars],
                "one track": [(track, b) for b in bars],
            }
            for kind, holes in kinds.items():
                both, notes = fill_nll(model, piece, holes, range(first, first + span))
                left, _ = fill_nll(model, piece, holes, range(first, bars.stop))
                if notes:
                    length = len(window_piece(piece, range(first, first + span)).tokens(holes_in(holes, first)))
                    total = totals[kind]
                    total[0] += 1
                    total[1] += notes
                    total[2] += both
                    total[3] += left
                    total[4] += length
                    total[5] += length > block + 1

    seconds = time.perf_counter() - started
    table = Table(
        title=f"{args.model.name}: NLL of held-out POP909 test bars, {len(test)} songs, "
        f"holes of {args.hole} bars, {args.context} bars of context ({seconds:.0f} s)"
    )
    columns = ("holes", "count", "notes", "infill nats/note", "left only nats/note", "ratio")
    for column in (*columns, f"infill tokens: mean (over the {block} of context)"):
        table.add_column(column)
    for kind, (holes, notes, both, left, tokens, longer) in totals.items():
        if notes:
            table.add_row(
                kind,
                str(holes),
                str(notes),
                f"{both / notes:.3f}",
                f"{left / notes:.3f}",
                f"{both / left:.3f}",
                f"{tokens / holes:.0f} ({longer})",
            )
    Console(width=150).print(table)


if __name__ == "__main__":
    main()
