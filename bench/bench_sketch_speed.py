"""Speed of the composer commands on a user's sketch: 32 bars of 3 tracks, on 2 cores.

    python bench/bench_sketch_speed.py [--model cadenza-multitrack] [--datasets DIR] [--songs 3] [--repeats 3]

The sketch: the first 32 bars (as :class:`~cadenza.compose.sketch.Sketch` counts them)
of POP909 held-out songs (the test split as ``bench_generate.py`` splits it, by content
hash; then the valid split where more are asked for), with their MELODY, BRIDGE and
PIANO tracks; ``harmonize`` and ``accompany`` get the MELODY track alone. Each command
runs as the library runs it, from the score in memory: the sketch's analysis (bar grid,
keys, roles) is part of the time, the model's loading is not (it is timed on its own).

Printed per command: wall seconds (median over songs x ``--repeats``), CPU seconds of
the process (all threads), the cells (bars x tracks) the model wrote and the seconds of
music they span, and the wall time as a share of the peer measured in the same run:
``cadenza generate`` for as many bars (:func:`~cadenza.compose.pipeline.compose_piece`
with ``Conditions(bars=32)``: composing, the originality check and the signed record,
with the same model). Then the whole pipeline a command runs through
(:func:`~cadenza.compose.editing.edit_file`: reading the file, the task, the originality
check of what the model wrote, the signed record; and writing the MIDI file with it),
to show what the check and the record add to the task, and ``cadenza continue`` run as
a process on the first sketch (what a user waits for: Python's imports, torch's among
them, the model and its index loaded, the check's first look-ups). Token sampling runs
on the threads :func:`cadenza.models.family.torch_threads` sets (``SAMPLING_THREADS``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import symusic
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
BARS = 32
TRACKS = ("MELODY", "BRIDGE", "PIANO")
GOAL_SECONDS = 5.0


def held_out_songs(datasets: Path, count: int) -> list[tuple[Path, symusic.Score, str]]:
    """(file, score, split) of POP909 songs the models did not learn from, as cadenza reads
    them (in 4/4 bars from the first annotated downbeat): the test split, then the valid
    split (split by content hash, as ``bench_generate._pop909_splits`` and training do;
    valid only chose the checkpoint); ``count`` 0: all."""
    from cadenza.data.content import content_hash, split_of
    from cadenza.data.sources import list_files, parse_source_spec, read_file

    split: dict[str, list[tuple[Path, symusic.Score, str]]] = {"test": [], "valid": []}
    for ref in list_files(parse_source_spec(f"pop909={datasets / 'pop909'}")):
        score = read_file(ref)[0].score
        name = split_of(content_hash(score))
        split.setdefault(name, []).append((Path(ref.path), score, name))
    songs = split["test"] + split["valid"]
    return songs[:count] if count else songs


def window(score: symusic.Score, first: int, bars: int, tracks: tuple[str, ...] = TRACKS) -> symusic.Score:
    """Bars ``first`` .. ``first + bars - 1`` (from 0, the bars of :class:`Sketch`) of the
    named tracks, moved to start at tick 0; a note sounding past the last bar is cut there.
    The tempo and meter in force at the first bar are kept, as are controls and pedals."""
    from cadenza.compose.sketch import Sketch

    sketch = Sketch.of(score)
    start, end = sketch.bar_start(first), sketch.bar_start(first + bars)
    out = score.clip(start, end).shift_time(-start)
    kept = [t for t in out.tracks if t.name in tracks] if tracks else list(out.tracks)
    out.tracks.clear()
    for track in sorted(kept, key=lambda t: tracks.index(t.name) if tracks else 0):
        for note in track.notes:
            note.duration = min(note.duration, end - start - note.time)
        out.tracks.append(track)
    return out


def span_seconds(score: symusic.Score, start: float, end: float) -> float:
    """Seconds from tick ``start`` to tick ``end`` of ``score``, by its tempo map."""
    from cadenza.analysis._notes import tempo_map

    begin, stop = tempo_map(score).to_seconds(np.array([start, end], dtype=np.float64))
    return float(stop - begin)


def written_seconds(edit) -> float:  # edit: cadenza.compose.tasks.Edit
    """Seconds of music the bars the model wrote span (the whole piece for ``arrange``)."""
    bars = sorted({b for _, b in edit.cells})
    if not bars:
        return span_seconds(edit.score, 0, edit.score.end())
    return sum(span_seconds(edit.score, b * edit.bar_ticks, (b + 1) * edit.bar_ticks) for b in bars)


def timed(run: Callable[[], object]) -> tuple[float, float, object]:
    """Wall and CPU seconds (the process, all threads) of ``run()``, and what it returned."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def process_seconds(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of ``argv`` run as a child process."""
    before, wall = os.times(), time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    after = os.times()
    cpu = after.children_user - before.children_user + after.children_system - before.children_system
    return time.perf_counter() - wall, cpu


def commands(composer) -> dict[str, tuple[bool, Callable]]:
    """Command -> (takes the melody alone, ``task(sketch, sampling)``), as the CLI runs each."""
    from cadenza.compose.ensemble import arrange_for, ensemble
    from cadenza.compose.tasks import Edit, accompany, continue_sketch, harmonize, infill_sketch, vary

    middle = range(BARS // 2 - 2, BARS // 2 + 2)
    strings = ensemble(["violin", "violin", "viola", "cello"])

    def arrange(sketch, _sampling):
        score = arrange_for(sketch.score, strings)
        return Edit("arrange", score, (), (), {"instruments": [p.name for p in strings]}, sketch.bar_ticks)

    return {
        "continue --bars 8": (False, lambda s, p: continue_sketch(composer, s, 8, p)),
        f"infill --bars {middle.start + 1}-{middle.stop} (3 tracks)": (
            False,
            lambda s, p: infill_sketch(composer, s, middle, None, p),
        ),
        f"infill --bars {middle.start + 1}-{middle.stop} --tracks PIANO": (
            False,
            lambda s, p: infill_sketch(composer, s, middle, [s.track("PIANO")], p),
        ),
        "harmonize --style chorale (melody)": (
            True,
            lambda s, p: harmonize(composer, s, style="chorale", sampling=p),
        ),
        "harmonize --style pop (melody)": (True, lambda s, p: harmonize(composer, s, style="pop", sampling=p)),
        "accompany (melody)": (True, lambda s, p: accompany(composer, s, sampling=p)),
        "vary --amount 0.5": (False, lambda s, p: vary(composer, s, amount=0.5, sampling=p)),
        "arrange violin,violin,viola,cello": (False, arrange),
    }


def sketches(datasets: Path, count: int) -> list[tuple[str, symusic.Score, symusic.Score]]:
    """(song, its first 32 bars of 3 tracks, the MELODY alone) for the first ``count``
    held-out songs that have 32 bars and notes in all three tracks there."""
    from cadenza.compose.sketch import Sketch

    out = []
    for path, score, _ in held_out_songs(datasets, 0):
        if Sketch.of(score).bars < BARS:
            continue
        three = window(score, 0, BARS)
        if [t.name for t in three.tracks if len(t.notes)] != list(TRACKS):
            continue
        out.append((path.parent.name, three, window(score, 0, BARS, ("MELODY",))))
        if len(out) == count:
            break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cadenza-multitrack", help="A multitrack model (name or folder).")
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets", help="Holds pop909/.")
    parser.add_argument("--songs", type=int, default=3, help="Sketches (held-out songs) to time each command on.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="Run r of each command draws with seed + r.")
    args = parser.parse_args()

    from cadenza.compose import Composer, Conditions, Sampling
    from cadenza.compose.editing import edit_file
    from cadenza.compose.pipeline import compose_piece
    from cadenza.compose.sketch import Sketch
    from cadenza.compose.tasks import continue_sketch
    from cadenza.models.family import SAMPLING_THREADS
    from cadenza.provenance.signing import default_key

    console = Console(width=200)
    songs = sketches(args.datasets, args.songs)
    load_s, load_cpu, composer = timed(lambda: Composer.from_pretrained(args.model))
    weights_s, _, _ = timed(lambda: composer._model)
    index_s, _, _ = timed(lambda: composer.originality_index)
    key = default_key()
    seeds = [Sampling(temperature=1.0, top_p=0.95, seed=args.seed + r) for r in range(args.repeats)]
    tasks = commands(composer)
    first = songs[0][1]
    timed(lambda: tasks["vary --amount 0.5"][1](Sketch.of(first), seeds[0]))  # warm: imports, torch's first steps

    # the peer: `cadenza generate --bars 32 --model ...`, as many runs as a command gets
    peer = [timed(lambda p=p: compose_piece(composer, Conditions(bars=BARS), p, key=key)) for _ in songs for p in seeds]
    peer_wall = statistics.median(w for w, _, _ in peer)
    peer_cpu = statistics.median(c for _, c, _ in peer)
    peer_music = statistics.mean(span_seconds(p.score, 0, p.score.end()) for _, _, p in peer)
    bare = [timed(lambda p=p: composer.generate(Conditions(bars=BARS), p)) for p in seeds]

    rows = []
    for name, (melody_only, task) in tasks.items():
        runs = []
        for _, three, melody in songs:
            score = melody if melody_only else three
            runs += [timed(lambda score=score, task=task, p=p: task(Sketch.of(score), p)) for p in seeds]
        wall = statistics.median(w for w, _, _ in runs)
        cpu = statistics.median(c for _, c, _ in runs)
        cells = statistics.mean(len(e.cells) for _, _, e in runs)
        music = statistics.mean(written_seconds(e) for _, _, e in runs)
        rows.append((name, wall, max(w for w, _, _ in runs), cpu, cells, music))

    # the whole pipeline of one command, from the file on disk to the file written
    pipeline = []
    with tempfile.TemporaryDirectory() as folder:
        for number, (_, three, _) in enumerate(songs):
            source = Path(folder) / f"sketch{number}.mid"
            three.dump_midi(str(source))
            for repeat, sampling in enumerate(seeds):
                inside: list[tuple[float, float]] = []  # the task's own time, inside the pipeline

                def task(sketch, inside=inside, sampling=sampling):
                    wall, cpu, edit = timed(lambda: continue_sketch(composer, sketch, 8, sampling))
                    inside.append((wall, cpu))
                    return edit

                wall, cpu, edited = timed(lambda: edit_file(source, task, composer, sampling, key=key))  # noqa: B023
                target = Path(folder) / f"out{number}-{repeat}.mid"
                write_s, _, _ = timed(lambda: edited.write(target))  # noqa: B023
                pipeline.append((wall, cpu, wall - inside[0][0], cpu - inside[0][1], write_s, edited))
        source = Path(folder) / "sketch0.mid"
        cli = [sys.executable, "-m", "cadenza.cli", "continue", str(source), "--bars", "8", "--model", args.model]
        process = [
            process_seconds([*cli, "--seed", str(p.seed), "-o", str(Path(folder) / f"cli{p.seed}.mid")]) for p in seeds
        ]

    load = os.getloadavg()
    cores = len(os.sched_getaffinity(0))
    names = ", ".join(song for song, _, _ in songs)
    table = Table(
        title=f"Composer commands on a {BARS}-bar, {len(TRACKS)}-track sketch (POP909 held-out {names}), "
        f"{composer.info.name}, {cores} cores, sampling on {SAMPLING_THREADS} torch thread(s), "
        f"load average {load[0]:.1f} at the end; {len(songs)} song(s) x {args.repeats} runs; wall and CPU s: "
        "medians; cells: bars x tracks the model wrote; music s: the seconds they span"
    )
    for column in (
        "command",
        "wall s",
        "max",
        "CPU s",
        "cells",
        "music s",
        "x generate's wall",
        "x generate's CPU",
        f"< {GOAL_SECONDS:g} s",
    ):
        table.add_column(column, justify="left" if column == "command" else "right")
    for name, wall, worst, cpu, cells, music in rows:
        table.add_row(
            name,
            f"{wall:.2f}",
            f"{worst:.2f}",
            f"{cpu:.2f}",
            f"{cells:.0f}",
            f"{music:.1f}",
            f"{wall / peer_wall:.2f}",
            f"{cpu / peer_cpu:.2f}",
            "yes" if wall < GOAL_SECONDS else "no",
        )
    table.add_section()
    table.add_row(
        f"peer: cadenza generate --bars {BARS} (compose_piece)",
        f"{peer_wall:.2f}",
        f"{max(w for w, _, _ in peer):.2f}",
        f"{peer_cpu:.2f}",
        "—",
        f"{peer_music:.1f}",
        "1.00",
        "1.00",
        "yes" if peer_wall < GOAL_SECONDS else "no",
    )
    bare_wall = statistics.median(w for w, _, _ in bare)
    bare_cpu = statistics.median(c for _, c, _ in bare)
    table.add_row(
        "  composing alone (composer.generate)",
        f"{bare_wall:.2f}",
        f"{max(w for w, _, _ in bare):.2f}",
        f"{bare_cpu:.2f}",
        "—",
        "—",
        f"{bare_wall / peer_wall:.2f}",
        f"{bare_cpu / peer_cpu:.2f}",
        "",
    )
    console.print(table)

    whole = statistics.median(p[0] for p in pipeline)
    checked = sum(p[-1].report is not None for p in pipeline)
    table = Table(title="The whole pipeline of `cadenza continue --bars 8` (model loaded), against the task alone")
    for column in ("step", "wall s (median)", "CPU s", "x of generate's time"):
        table.add_column(column, justify="left" if column == "step" else "right")
    table.add_row(
        "continue_sketch alone (from the score in memory)",
        f"{rows[0][1]:.2f}",
        f"{rows[0][3]:.2f}",
        f"{rows[0][1] / peer_wall:.2f}",
    )
    table.add_row(
        f"edit_file: read, task, originality check ({checked}/{len(pipeline)} checked), signed record",
        f"{whole:.2f}",
        f"{statistics.median(p[1] for p in pipeline):.2f}",
        f"{whole / peer_wall:.2f}",
    )
    table.add_row(
        "  of which besides the task (reading, check, record)",
        f"{statistics.median(p[2] for p in pipeline):.2f}",
        f"{statistics.median(p[3] for p in pipeline):.2f}",
        "",
    )
    write_s = statistics.median(p[4] for p in pipeline)
    table.add_row("EditedPiece.write: MIDI spliced + record", f"{write_s:.2f}", "", "")
    table.add_row(
        f"the command as a process (imports, loading, all the above; {songs[0][0]})",
        f"{statistics.median(w for w, _ in process):.2f}",
        f"{statistics.median(c for _, c in process):.2f}",
        f"{statistics.median(w for w, _ in process) / peer_wall:.2f}",
    )
    table.add_section()
    table.add_row("loading (once per CLI run): Composer.from_pretrained", f"{load_s:.2f}", f"{load_cpu:.2f}", "")
    table.add_row("  the weights (first use)", f"{weights_s:.2f}", "", "")
    table.add_row("  the originality index (first check)", f"{index_s:.2f}", "", "")
    console.print(table)


if __name__ == "__main__":
    main()
