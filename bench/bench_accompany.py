"""Accompanying POP909's test melodies: the chords heard in the accompaniment, and how
it compares with the songs' real piano parts.

    python bench/bench_accompany.py [--datasets ../shared/datasets] [--songs 20] [--bars 32]

1. The songs of POP909's test split (the ones whose content hash puts them there, as
   ``bench_generate._pop909_splits`` splits them), as ``cadenza.data.sources`` reads them
   (aligned to the annotated 4/4 bars); the first ``--songs`` of them in the corpus order.
   Of each, a window of ``--bars`` bars from the bar of the first melody note.
2. The window's MELODY track alone goes to ``cadenza.compose.tasks.accompany`` (model
   ``cadenza-multitrack``, seed = the song's index); the tracks it appends are the
   accompaniment.
3. Chords: ``cadenza.analysis.chords.chord_segments`` on the accompaniment tracks alone,
   on the window's 4/4 beat grid (the bars are known: the beat tracker's errors are not
   the accompaniment's), against the song's ``chord_midi.txt`` inside the window, majmin
   recall weighted by duration as in ``bench_analysis.py`` (mir_eval; goal ≥ 0.75).
   Beside it the same for the window's real PIANO track (what the recognizer reaches on
   the song's own accompaniment: the ceiling) and for the melody alone (the floor: what
   the melody alone says of its harmony), and the annotation's own chords held one or two
   to a bar (what a chooser of one chord a span could reach at best).
4. The set comparison (``cadenza.analysis.compare``, Yang & Lerch 2018): per feature, the
   overlapping area of the accompaniments against the real PIANO windows of the same
   songs, beside the PIANO windows of as many training songs against them (the human
   reference).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import symusic
from bench_analysis import chord_scores_of, reference_chords

REPO = Path(__file__).resolve().parents[1]
MODEL = "cadenza-multitrack"
GOAL_MAJMIN = 0.75


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(head: list[str], rows: list[list[str]]) -> str:
    return "\n".join([_row(head), "|" + "---|" * len(head), *(_row(r) for r in rows)])


def pop909_songs(datasets: Path) -> tuple[list[tuple[Path, symusic.Score]], list[tuple[Path, symusic.Score]]]:
    """(train, test) songs as (folder, aligned score), split as bench_generate splits them."""
    from cadenza.data.content import content_hash, split_of
    from cadenza.data.sources import list_files, parse_source_spec, read_file

    train, test = [], []
    for ref in list_files(parse_source_spec(f"pop909={datasets / 'pop909'}")):
        score = read_file(ref)[0].score
        (test if split_of(content_hash(score)) == "test" else train).append((Path(ref.path).parent, score))
    return train, test


def _track(score: symusic.Score, name: str) -> symusic.Track | None:
    return next((t for t in score.tracks if t.name.upper() == name), None)


def window(score: symusic.Score, bars: int) -> tuple[symusic.Score, int]:
    """The ``bars`` 4/4 bars from the bar of the first melody note, moved to start at 0,
    and where they start in the song (ticks)."""
    melody = _track(score, "MELODY")
    bar = 4 * score.ticks_per_quarter
    first = int(melody.notes.numpy()["time"].min()) if melody is not None and len(melody.notes) else 0
    start = first // bar * bar
    cut = score.clip(start, start + bars * bar, clip_end=False).shift_time(-start)
    return cut, start


def only(score: symusic.Score, tracks: list[symusic.Track]) -> symusic.Score:
    out = score.copy()
    out.tracks = symusic.Score(score.ticks_per_quarter).tracks
    for track in tracks:
        out.tracks.append(track.copy())
    return out


def _grid(score: symusic.Score, bars: int):  # type: ignore[no-untyped-def]
    from cadenza.analysis.beats import BeatGrid, tempo_map

    tpq = score.ticks_per_quarter
    return BeatGrid(np.arange(bars * 4) * float(tpq), np.arange(0, bars * 4, 4), float(tpq), "grid", tempo_map(score))


def reference_in_window(folder: Path, aligned: symusic.Score, start: int, bars: int) -> tuple[np.ndarray, list[str]]:
    """``chord_midi.txt`` (seconds of the original file) in the window's ticks, clipped to it."""
    import mir_eval

    from cadenza.analysis.beats import tempo_map

    original = symusic.Score(str(folder / f"{folder.name}.mid"))
    first = min(int(t.notes.numpy()["time"].min()) for t in original.tracks if len(t.notes))
    first_aligned = min(int(t.notes.numpy()["time"].min()) for t in aligned.tracks if len(t.notes))
    shift = first_aligned - first  # the aligned score is the original moved by this many ticks
    seconds, labels = reference_chords(folder / "chord_midi.txt")
    ticks = tempo_map(original).to_ticks(seconds.reshape(-1)).reshape(-1, 2) + shift - start
    end = bars * 4 * aligned.ticks_per_quarter
    inside = (ticks[:, 1] > 0) & (ticks[:, 0] < end)
    ticks, labels = ticks[inside], [lab for lab, keep in zip(labels, inside, strict=True) if keep]
    return mir_eval.util.adjust_intervals(ticks, labels, 0.0, float(end), "N", "N")


def majmin(score: symusic.Score, reference: tuple[np.ndarray, list[str]], bars: int) -> float:
    from cadenza.analysis.chords import chord_segments

    segments = chord_segments(score, _grid(score, bars))
    if not segments:
        estimate, labels = np.array([[0.0, float(bars * 4 * score.ticks_per_quarter)]]), ["N"]
    else:
        estimate, labels = np.array([[s.start, s.end] for s in segments]), [s.label for s in segments]
    return chord_scores_of(reference[0], reference[1], estimate, labels)[1]


def held_annotation(reference: tuple[np.ndarray, list[str]], bars: int, per_bar: int, tpq: int) -> float:
    """majmin of the annotation's own chords held ``per_bar`` to a bar (each span's chord
    the one the annotation sounds longest in it) against the annotation: the ceiling of a
    chooser that names one chord a span."""
    intervals, labels = reference
    span = 4 * tpq / per_bar
    chosen = []
    for k in range(bars * per_bar):
        start, end = k * span, (k + 1) * span
        overlap = np.clip(np.minimum(intervals[:, 1], end) - np.maximum(intervals[:, 0], start), 0, None)
        totals: dict[str, float] = {}
        for label, length in zip(labels, overlap, strict=True):
            if length > 0:
                totals[label] = totals.get(label, 0.0) + float(length)
        chosen.append(max(totals, key=lambda lab: totals[lab]) if totals else "N")
    estimate = np.array([[k * span, (k + 1) * span] for k in range(bars * per_bar)])
    return chord_scores_of(intervals, labels, estimate, chosen)[1]


def accompany_windows(windows: list[symusic.Score]) -> tuple[list[symusic.Score] | None, list[list[str]], str, float]:
    """The accompaniment (appended tracks) of each window's melody, or None with the reason;
    and the chord it chose for each bar (``Edit.settings["chords"]``, where it says)."""
    try:
        from cadenza.compose.sketch import Sketch
        from cadenza.compose.tasks import accompany
    except ImportError as error:
        return None, [], f"not measured: cadenza.compose.tasks.accompany is not there ({error})", 0.0
    from cadenza.compose import Composer, Sampling

    composer = Composer.from_pretrained(MODEL)
    out, chords = [], []
    started = time.perf_counter()
    for index, cut in enumerate(windows):
        melody = only(cut, [_track(cut, "MELODY")])  # type: ignore[list-item]
        edit = accompany(composer, Sketch.of(melody), sampling=Sampling(seed=index))
        out.append(only(edit.score, [edit.score.tracks[t] for t in edit.new_tracks]))
        chosen = edit.settings.get("chords")
        chords.append([str(c) for c in chosen] if isinstance(chosen, list) else [])
    seconds = (time.perf_counter() - started) / max(1, len(windows))
    return out, chords, f"`{MODEL}`, Sampling(seed=song index), default instruments", seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets")
    parser.add_argument("--songs", type=int, default=20, help="test songs (default 20)")
    parser.add_argument("--bars", type=int, default=32, help="bars per window (default 32)")
    args = parser.parse_args()
    if args.songs < 2 or args.bars < 1:
        parser.error("--songs must be at least 2 (the set comparison needs two) and --bars at least 1")
    from cadenza.analysis.compare import compare_collections

    started = time.perf_counter()
    train, test = pop909_songs(args.datasets)
    songs = [(folder, score) for folder, score in test if _track(score, "MELODY") and _track(score, "PIANO")]
    songs = songs[: args.songs]
    cuts = [window(score, args.bars) for _, score in songs]
    references = [reference_in_window(f, s, start, args.bars) for (f, s), (_, start) in zip(songs, cuts, strict=True)]
    pianos = [only(cut, [_track(cut, "PIANO")]) for cut, _ in cuts]  # type: ignore[list-item]
    melodies = [only(cut, [_track(cut, "MELODY")]) for cut, _ in cuts]  # type: ignore[list-item]
    accompaniments, chosen, note, seconds = accompany_windows([cut for cut, _ in cuts])

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"# Accompanying POP909's test melodies ({len(songs)} songs, {args.bars}-bar windows; {machine})\n")
    rows = []
    sets = [("cadenza accompany: its tracks alone", accompaniments)] if accompaniments is not None else []
    sets += [("the song's real PIANO track (the ceiling)", pianos), ("the melody alone (the floor)", melodies)]
    for label, scores in sets:
        values = [majmin(s, r, args.bars) for s, r in zip(scores, references, strict=True)]
        mark = f" {'✓' if np.mean(values) >= GOAL_MAJMIN else '✗'}" if scores is accompaniments else ""
        rows.append([label, str(len(values)), f"{np.mean(values):.3f}{mark}", f"{np.min(values):.3f}"])
    if accompaniments is None:
        rows.insert(0, ["cadenza accompany", "—", "—", "—"])
    elif all(chosen):  # what the accompaniment was asked to play: the chord chooser alone
        tpq = cuts[0][0].ticks_per_quarter
        values = [
            chord_scores_of(*reference, np.array([[k * span, (k + 1) * span] for k in range(len(c))]), c)[1]
            for c, reference in zip(chosen, references, strict=True)
            for span in [4 * tpq * args.bars / max(1, len(c))]
        ]
        rows.insert(1, ["the chords accompany chose (its Edit's settings)", str(len(values)),
                        f"{np.mean(values):.3f}", f"{np.min(values):.3f}"])  # fmt: skip
    tpq = cuts[0][0].ticks_per_quarter if cuts else 480
    for per_bar in (2, 1):  # what a chooser that picked the annotation's own chord per span would score
        values = [held_annotation(reference, args.bars, per_bar, tpq) for reference in references]
        label = f"the annotated chords themselves, {'two a bar' if per_bar == 2 else 'one a bar'} (an oracle chooser)"
        rows.append([label, str(len(values)), f"{np.mean(values):.3f}", f"{np.min(values):.3f}"])
    print("## Chords the recognizer hears against chord_midi.txt (majmin, weighted by duration)\n")
    print(_table(["notes heard", "songs", f"majmin, mean (goal ≥ {GOAL_MAJMIN})", "lowest song"], rows))
    print(f"\ncadenza accompany: {note}" + (f"; {seconds:.1f} s a song" if accompaniments is not None else ""))

    rng = np.random.default_rng(0)
    picked = rng.choice(len(train), size=min(len(songs), len(train)), replace=False)
    human = []
    for i in picked:
        cut, _ = window(train[i][1], args.bars)
        piano = _track(cut, "PIANO")
        if piano is not None:
            human.append(only(cut, [piano]))
    theirs = compare_collections(pianos, human)
    ours = compare_collections(pianos, accompaniments) if accompaniments is not None else None
    print("\n## Against the real PIANO windows of the same songs: overlapping area per feature (higher is closer)\n")
    head = ["feature", f"cadenza accompany ({len(songs)})", f"POP909 train PIANO windows ({len(human)})"]
    table = []
    for feature, theirs_f in theirs.items():
        ours_f = f"{ours[feature].overlap_area:.3f}" if ours is not None else "—"
        table.append([feature, ours_f, f"{theirs_f.overlap_area:.3f}"])
    means = [np.nanmean([c.overlap_area for c in result.values()]) for result in (ours, theirs) if result is not None]
    table.append(["mean", *(f"{m:.3f}" for m in means)] if ours is not None else ["mean", "—", f"{means[0]:.3f}"])
    print(_table(head, table))
    print(f"\n({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
