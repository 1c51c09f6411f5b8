"""Sampling threads: torch's default beside cadenza's choice, on a quiet and on a busy CPU.

    python bench/bench_threads.py [--model cadenza-transformer] [--seconds 10] [--seeds 3]

One run, two phases: first with nothing started by the benchmark, then under a CPU load
it starts itself (one busy-loop process per core, killed at the end, and bounded in
time in any case), as when a DAW, a browser or CI shares the machine. In each phase,
for each seed, ``Composer.generate`` runs with torch's default intra-op threads and with
the setting cadenza samples with (``cadenza.models.family.SAMPLING_THREADS``), in
alternating order; the table gives the median wall time per piece and the ratio. Both
settings must give the same bytes (checked for every seed; the run fails otherwise).

The last rows are batch work (one forward pass over a batch of training-length
sequences, as evaluation and training do): the reason batch work keeps torch's default.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from rich.console import Console
from rich.table import Table

from cadenza.compose import Composer, Conditions, Sampling
from cadenza.models import family as families

_SPIN = "import time\nend = time.monotonic() + {limit}\nwhile time.monotonic() < end: pass\n"


@contextmanager
def cpu_load(processes: int, limit_s: float) -> Iterator[None]:
    """``processes`` busy loops, each ending by itself after ``limit_s``, killed on exit."""
    spinners = [subprocess.Popen([sys.executable, "-c", _SPIN.format(limit=limit_s)]) for _ in range(processes)]
    try:
        time.sleep(2.0 if processes else 0.0)  # let them start spinning
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def _timed(run: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def _sampling_rows(composer: Composer, conditions: Conditions, seeds: int, default: int) -> list[tuple[str, float]]:
    chosen = families.SAMPLING_THREADS
    timings: dict[int, list[float]] = {default: [], chosen: []}
    for seed in range(seeds):
        sampling = Sampling(seed=seed)
        made = {}
        for threads in (default, chosen) if seed % 2 == 0 else (chosen, default):
            families.SAMPLING_THREADS = threads  # what the transformer family samples with
            try:
                wall, made[threads] = _timed(lambda s=sampling: composer.generate(conditions, s).dumps_midi())
            finally:
                families.SAMPLING_THREADS = chosen
            timings[threads].append(wall)
        if made[default] != made[chosen]:
            raise SystemExit(f"seed {seed}: {default} and {chosen} threads gave different music")
    return [
        (f"generate, torch default ({default} threads)", statistics.median(timings[default])),
        (f"generate, cadenza's setting ({chosen} thread{'s' * (chosen != 1)})", statistics.median(timings[chosen])),
    ]


def _batch_rows(composer: Composer, repeats: int, default: int) -> list[tuple[str, float]]:
    model = composer._model
    batch = torch.randint(0, model.config.vocab_size, (8, model.config.block_size))
    rows = []
    for threads in (default, families.SAMPLING_THREADS):
        with families.torch_threads(threads), torch.inference_mode():
            model(batch)  # warm up
            walls = [_timed(lambda: model(batch))[0] for _ in range(repeats)]
        rows.append((f"batch forward 8x{model.config.block_size}, {threads} thread(s)", statistics.median(walls)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cadenza-transformer")
    parser.add_argument("--seconds", type=float, default=10.0, help="Music per piece.")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--load", type=int, default=os.cpu_count() or 1, help="Busy processes in the loaded phase.")
    args = parser.parse_args()

    composer = Composer.from_pretrained(args.model)
    if composer.info.family != "transformer":
        raise SystemExit(f"{args.model} is a {composer.info.family} model: only torch families use threads")
    default = torch.get_num_threads()  # OMP_NUM_THREADS, when set, is torch's default too
    conditions = Conditions(seconds=args.seconds, tempo=120)
    composer.generate(conditions, Sampling(seed=99))  # warm up: load the model
    before = os.getloadavg()[0]
    phases = {}
    phases["none added"] = _sampling_rows(composer, conditions, args.seeds, default) + _batch_rows(composer, 3, default)
    with cpu_load(args.load, limit_s=600):
        phases[f"{args.load} busy processes"] = _sampling_rows(composer, conditions, args.seeds, default) + _batch_rows(
            composer, 3, default
        )

    title = (
        f"Sampling threads ({platform.machine()}, {os.cpu_count()} cores; torch {torch.__version__}; "
        f"{args.model}, {args.seconds:g} s of music per piece, median of {args.seeds} seeds; same bytes: yes; "
        f"load avg before the run {before:.1f})"
    )
    table = Table(title=title)
    chosen = families.SAMPLING_THREADS
    for column in ("CPU load", "run", "wall s", f"÷ {chosen} thread"):
        table.add_column(column)
    for load, rows in phases.items():
        for (name, wall), reference in zip(rows, [rows[1][1]] * 2 + [rows[3][1]] * 2, strict=True):
            table.add_row(load, name, f"{wall:.3f}", f"{wall / reference:.2f}")
    Console(width=150).print(table)


if __name__ == "__main__":
    main()
