"""POP909 benchmark of cadenza.analysis: chords, key, beats and downbeats.

    python bench/bench_analysis.py [--datasets DIR] [--limit N] [--workers 2]

Scores every song against its annotations with mir_eval and prints one table:

* **cadenza** — its own beats (not the annotated ones), downbeats, chords and key;
* **music21 key** (peer) — ``music21.converter.parse(mid).analyze('key')``;
* **triad templates** (peer) — duration-weighted pitch classes per *annotated* beat
  matched to the 24 major/minor triads.

Reference choices:

* beats/downbeats: ``beat_midi.txt`` (column 1 time, column 3 the 4/4 downbeat flag),
  scored by ``mir_eval.beat.f_measure`` after ``trim_beats`` (the first 5 s dropped,
  as ``mir_eval.beat.evaluate`` does).
* chords: ``chord_midi.txt``; weighted recall by duration, as ``mir_eval.chord.evaluate``.
* key: ``key_audio.txt`` is in audio time; its segment bounds are mapped to MIDI time
  through the beats (``beat_audio.txt`` → ``beat_midi.txt``, linear interpolation), and
  the key that lasts longest in MIDI time is the song's key. cadenza's main key (longest
  over its segments) is compared with it by ``mir_eval.key.weighted_score``.

music21 needs 1.2–10 s a song (parsing the MIDI file is most of it), which on 909 songs
would take far more than the 2-minute budget; so on more than 100 songs the peer runs on
every 40th song only (index 0, 40, 80, ... of the sorted list, 23 songs; change it with
``--music21-every``), and a second table compares cadenza with it on that same subset.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import mir_eval
import numpy as np
import symusic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cadenza.analysis.beats import beat_grid
from cadenza.analysis.chords import chord_segments
from cadenza.analysis.key import key_segments, main_key
from cadenza.theory import PITCH_NAMES as _NAMES

MUSIC21_EVERY = 40
_TRIADS = [(r, q) for q in ("maj", "min") for r in range(12)]


def _read_table(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().strip().splitlines() if line.strip()]


def _mirex_key(label: str) -> str:
    tonic, mode = label.split(":")
    return f"{tonic} {'minor' if mode.startswith('min') else 'major'}"


def reference_key(song: Path) -> str:
    """The song's key in MIDI time: longest key of key_audio.txt after beat alignment."""
    rows = _read_table(song / "key_audio.txt")
    audio = np.loadtxt(song / "beat_audio.txt", ndmin=2)[:, 0]
    midi = np.loadtxt(song / "beat_midi.txt", ndmin=2)[:, 0]
    n = min(audio.size, midi.size)

    def to_midi(t: float) -> float:
        return float(np.interp(t, audio[:n], midi[:n])) if n >= 2 else t

    total: dict[str, float] = {}
    for start, end, label in rows:
        total[label] = total.get(label, 0.0) + to_midi(float(end)) - to_midi(float(start))
    return _mirex_key(max(total, key=lambda k: total[k]))


def reference_chords(ref_path: Path) -> tuple[np.ndarray, list[str]]:
    """The intervals (seconds) and Harte labels of a ``chord_midi.txt``."""
    rows = [line.split("\t") for line in ref_path.read_text().strip().splitlines()]
    return np.array([[float(r[0]), float(r[1])] for r in rows]), [r[2].strip() for r in rows]


def chord_scores(ref_path: Path, est_int: np.ndarray, est_lab: list[str]) -> list[float]:
    """Duration-weighted root, majmin and sevenths recall, as mir_eval.chord.evaluate."""
    return chord_scores_of(*reference_chords(ref_path), est_int, est_lab)


def chord_scores_of(ref_int: np.ndarray, ref_lab: list[str], est_int: np.ndarray, est_lab: list[str]) -> list[float]:
    """:func:`chord_scores` of reference intervals and labels in any time unit, over their span."""
    est_int, est_lab = mir_eval.util.adjust_intervals(est_int, est_lab, ref_int.min(), ref_int.max(), "N", "N")
    ints, ref, est = mir_eval.util.merge_labeled_intervals(ref_int, ref_lab, est_int, est_lab)
    dur = mir_eval.util.intervals_to_durations(ints)
    comparators: list[Callable] = [
        mir_eval.chord.root,
        mir_eval.chord.majmin,
        mir_eval.chord.sevenths,
    ]
    return [float(mir_eval.chord.weighted_accuracy(f(ref, est), dur)) for f in comparators]


def beat_scores(song: Path, beats_s: np.ndarray, downbeats_s: np.ndarray) -> list[float]:
    ref = np.loadtxt(song / "beat_midi.txt", ndmin=2)
    trim = mir_eval.beat.trim_beats
    beat_f = mir_eval.beat.f_measure(trim(ref[:, 0]), trim(beats_s))
    down_f = mir_eval.beat.f_measure(trim(ref[ref[:, 2] == 1, 0]), trim(downbeats_s))
    return [float(beat_f), float(down_f)]


def run_cadenza(song: Path) -> dict[str, float]:
    mid = song / f"{song.name}.mid"
    t0 = time.perf_counter()
    score = symusic.Score(str(mid))
    grid = beat_grid(score)
    segs = chord_segments(score, grid)
    key = main_key(key_segments(score, grid))
    seconds = time.perf_counter() - t0
    est_int = grid.tempo.to_seconds(np.array([[s.start, s.end] for s in segs]).reshape(-1, 2))
    root, majmin, sevenths = chord_scores(song / "chord_midi.txt", est_int, [s.label for s in segs])
    beat_f, down_f = beat_scores(song, grid.beat_seconds(), grid.downbeat_seconds())
    key_score = float(mir_eval.key.weighted_score(reference_key(song), _mirex_key(key.label))) if key else 0.0
    return {
        "root": root,
        "majmin": majmin,
        "sevenths": sevenths,
        "key": key_score,
        "beat_f": beat_f,
        "downbeat_f": down_f,
        "seconds": seconds,
    }


def run_triad_baseline(song: Path) -> dict[str, float]:
    """Pitch classes per annotated beat (duration-weighted) against 24 triad templates."""
    t0 = time.perf_counter()
    score = symusic.Score(str(song / f"{song.name}.mid")).to("second")
    beats = np.loadtxt(song / "beat_midi.txt", ndmin=2)[:, 0]
    bounds = np.r_[beats, beats[-1] + np.median(np.diff(beats))]
    chroma = np.zeros((beats.size, 12))
    for track in score.tracks:
        if track.is_drum:
            continue
        arr = track.notes.numpy()
        start, end, pitch = arr["time"], arr["time"] + arr["duration"], arr["pitch"]
        # overlap of every note with every beat: (notes, beats)
        ov = np.minimum(end[:, None], bounds[None, 1:]) - np.maximum(start[:, None], bounds[None, :-1])
        np.add.at(chroma.T, pitch % 12, np.clip(ov, 0, None))
    templates = np.zeros((24, 12))
    for i, (r, q) in enumerate(_TRIADS):
        templates[i, [r, (r + (4 if q == "maj" else 3)) % 12, (r + 7) % 12]] = 1
    labels = [f"{_NAMES[r]}:{q}" for r, q in _TRIADS]
    best = np.argmax(chroma @ templates.T, axis=1)
    est = ["N" if chroma[i].sum() <= 0 else labels[b] for i, b in enumerate(best)]
    seconds = time.perf_counter() - t0
    est_int = np.c_[bounds[:-1], bounds[1:]]
    root, majmin, sevenths = chord_scores(song / "chord_midi.txt", est_int, est)
    return {"root": root, "majmin": majmin, "sevenths": sevenths, "seconds": seconds}


def run_music21(song: Path) -> dict[str, float]:
    import music21

    t0 = time.perf_counter()
    key = music21.converter.parse(str(song / f"{song.name}.mid")).analyze("key")
    seconds = time.perf_counter() - t0
    tonic = key.tonic.name.replace("-", "b")
    est = f"{tonic} {key.mode}"
    return {"key": float(mir_eval.key.weighted_score(reference_key(song), est)), "seconds": seconds}


def run_song(job: tuple[Path, bool]) -> dict[str, dict[str, float]]:
    song, with_music21 = job
    out = {"cadenza": run_cadenza(song), "triads": run_triad_baseline(song)}
    if with_music21:
        out["music21"] = run_music21(song)
    return out


def _mean(rows: list[dict[str, float]], key: str) -> float:
    return float(np.mean([r[key] for r in rows]))


def _table(title: str, rows: list[tuple[str, dict[str, float | None]]]) -> str:
    cols = ["root", "majmin", "sevenths", "key", "beat_f", "downbeat_f", "seconds"]
    head = [
        "system",
        "songs",
        "chord root",
        "majmin",
        "sevenths",
        "key",
        "beat F",
        "downbeat F",
        "s/song",
    ]
    lines = [title, "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, vals in rows:
        cells = [name, str(int(vals["n"] or 0))]
        for c in cols:
            v = vals.get(c)
            cells.append("—" if v is None else f"{v:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _summary(results: list[dict[str, dict[str, float]]], name: str, keys: list[str]) -> dict:
    rows = [r[name] for r in results if name in r]
    out: dict[str, float | None] = {"n": len(rows)}
    for k in ["root", "majmin", "sevenths", "key", "beat_f", "downbeat_f", "seconds"]:
        out[k] = _mean(rows, k) if k in keys and rows else None
    return out


def main(argv: list[str] | None = None) -> int:
    repo = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=repo.parent / "shared" / "datasets")
    parser.add_argument("--limit", type=int, default=None, help="first N songs only")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--music21-every", type=int, default=MUSIC21_EVERY, help="music21 on every k-th song")
    args = parser.parse_args(argv)
    root = args.datasets / "pop909"
    songs = sorted(p for p in root.iterdir() if (p / f"{p.name}.mid").is_file())
    if args.limit:
        songs = songs[: args.limit]
    if not songs:
        print(f"no POP909 songs under {root}", file=sys.stderr)
        return 2
    subset = len(songs) > 100
    jobs = [(s, (not subset) or i % args.music21_every == 0) for i, s in enumerate(songs)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(run_song, jobs, chunksize=4))
    wall = time.perf_counter() - t0
    all_keys = ["root", "majmin", "sevenths", "key", "beat_f", "downbeat_f", "seconds"]
    n = len(songs)
    rows = [
        ("cadenza (own beats)", _summary(results, "cadenza", all_keys)),
        (
            "triad templates (annotated beats)",
            _summary(results, "triads", ["root", "majmin", "sevenths", "seconds"]),
        ),
    ]
    m21 = [r for r in results if "music21" in r]
    print(
        _table(
            f"POP909, {n} songs, {args.workers} workers, wall {wall:.1f} s",
            rows + ([] if subset else [("music21 key", _summary(m21, "music21", ["key", "seconds"]))]),
        )
    )
    if subset:
        sub_rows = [
            ("cadenza (own beats)", _summary(m21, "cadenza", all_keys)),
            (
                "triad templates (annotated beats)",
                _summary(m21, "triads", ["root", "majmin", "sevenths", "seconds"]),
            ),
            ("music21 key", _summary(m21, "music21", ["key", "seconds"])),
        ]
        print()
        print(
            _table(
                f"Subset: every {args.music21_every}th song ({len(m21)} songs), where music21 runs",
                sub_rows,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
