"""Corpus build speed on POP909: the full build beside a bare single-process loop.

The bare loop is the floor of the work: symusic load + miditok REMI tokenize of the same
files, one process, nothing else. The full build also cleans, hashes, labels (key
analysis, mood), splits, writes shards and the manifest, over a process pool.

    python bench/bench_data.py [--datasets ../shared/datasets] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]


def bare_loop(files: list[Path]) -> float:
    import symusic

    from cadenza.data.tokens import make_tokenizer

    tokenizer = make_tokenizer()
    started = time.perf_counter()
    for path in files:
        tokenizer.encode(symusic.Score(path))
    return time.perf_counter() - started


def full_build(pop909: Path, out: Path, workers: int) -> float:
    from cadenza.data.build import build_corpus
    from cadenza.data.sources import parse_source_spec

    started = time.perf_counter()
    build_corpus([parse_source_spec(f"pop909={pop909}")], out, workers=workers)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    pop909 = args.datasets / "pop909"
    files = sorted(pop909.glob("*/*.mid"))
    if not files:
        raise SystemExit(f"no POP909 files under {pop909}")
    import miditok  # noqa: F401 - import torch once, outside every timing

    bare = bare_loop(files)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "corpus"
        cold = full_build(pop909, out, args.workers)
        warm = full_build(pop909, out, args.workers)
        shutil.rmtree(out)
    table = Table(title=f"POP909 corpus build, {len(files)} songs ({platform.machine()}, {os.cpu_count()} cores)")
    for column in ("run", "seconds", "songs/s", "vs bare loop"):
        table.add_column(column, justify="right" if column != "run" else "left")
    for name, seconds in (
        ("bare loop: symusic + miditok, 1 process", bare),
        (f"cadenza data build, {args.workers} workers, cold", cold),
        (f"cadenza data build, {args.workers} workers, cached", warm),
    ):
        table.add_row(name, f"{seconds:.1f}", f"{len(files) / seconds:.0f}", f"{bare / seconds:.2f}x")
    Console().print(table)


if __name__ == "__main__":
    main()
