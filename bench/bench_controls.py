"""Track roles, per-bar controls and form on POP909 and the JSB chorales.

    python bench/bench_controls.py [--datasets DIR] [--limit N]

Reads the songs as the corpus build does (``cadenza.data.sources.read_file``: POP909
aligned to its annotated 4/4 bars) and prints:

* **roles**: how often :func:`cadenza.analysis.roles.track_roles`, which reads only the
  notes, gives POP909's MELODY / BRIDGE / PIANO tracks the roles melody /
  counter_melody / harmony, and the JSB chorales' soprano / alto / tenor / bass
  melody / counter_melody / counter_melody / bass;
* **form**: quartiles over the POP909 songs of the share of bars that repeat an
  earlier bar exactly, and that repeat or vary one (:func:`cadenza.analysis.form.form`);
* **controls**: how the bars of POP909 spread over the density, polyphony and
  intensity levels of :func:`cadenza.analysis.controls.bar_controls`, and how often a
  bar's chord has the root of POP909's ``chord_midi.txt``: over the bars one annotated
  chord fills (3/4 of the bar or more), and over the others, where it counts when the
  root is that of any chord filling 40 % of the bar or more. The annotation is in the
  seconds of the original file; the aligned score is moved by the shift of its first
  onset.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import numpy as np
import symusic

from cadenza.analysis._notes import tempo_map
from cadenza.analysis.bars import bar_grid
from cadenza.analysis.controls import BarControls, bar_controls
from cadenza.analysis.form import repetition
from cadenza.analysis.roles import track_roles
from cadenza.data.sources import FileRef, read_file

POP909_ROLES = {"MELODY": "melody", "BRIDGE": "counter_melody", "PIANO": "harmony"}
JSB_ROLES = ("melody", "counter_melody", "counter_melody", "bass")


_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def _root(label: str) -> int:
    name = label.split(":")[0]
    return (_PC[name[0]] + name.count("#") - name[1:].count("b")) % 12


def _first_onset_s(score: symusic.Score) -> float:
    first = min(int(t.notes.numpy()["time"].min()) for t in score.tracks if len(t.notes))
    return float(tempo_map(score).to_seconds(np.array([first]))[0])


def _chord_hits(path: Path, score: symusic.Score, bars: list[BarControls]) -> Counter:
    """Bars filled by one annotated chord / others, and the root hits of each."""
    shift = _first_onset_s(score) - _first_onset_s(symusic.Score(str(path)))
    spans = []
    for line in (path.parent / "chord_midi.txt").read_text().splitlines():
        cols = line.split()
        if len(cols) >= 3 and cols[2] != "N":
            spans.append((float(cols[0]) + shift, float(cols[1]) + shift, cols[2]))
    tmap = tempo_map(score)
    grid = bar_grid(score)
    out: Counter = Counter()
    for bar, a, b in zip(bars, tmap.to_seconds(grid.starts), tmap.to_seconds(grid.ends), strict=True):
        cover: dict[str, float] = {}
        for lo, hi, label in spans:
            if min(hi, b) > max(lo, a):
                cover[label] = cover.get(label, 0.0) + min(hi, b) - max(lo, a)
        if not cover:
            continue
        kind = "one" if max(cover.values()) >= 0.75 * (b - a) else "more"
        roots = {_root(k) for k, v in cover.items() if v >= (0.75 if kind == "one" else 0.4) * (b - a)}
        out[kind] += 1
        out[f"{kind} hit"] += bar.chord.root in roots
    return out


def _agreement(hits: Counter, totals: Counter) -> str:
    return "  ".join(f"{k} {hits[k]}/{totals[k]} ({100 * hits[k] / max(totals[k], 1):.1f} %)" for k in totals)


def _spread(counts: Counter) -> str:
    total = sum(counts.values())
    return "  ".join(f"{k}: {100 * counts[k] / total:.1f} %" for k in sorted(counts))


def main(argv: list[str] | None = None) -> int:
    repo = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=repo.parent / "shared" / "datasets")
    parser.add_argument("--limit", type=int, default=0, help="read only the first N POP909 songs")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    songs = sorted((args.datasets / "pop909").glob("*/*.mid"))
    songs = songs[: args.limit] if args.limit else songs
    hits, totals = Counter(), Counter()
    shares, repeats = [], []
    levels: dict[str, Counter] = {"density": Counter(), "polyphony": Counter(), "intensity": Counter()}
    chords: Counter = Counter()
    for path in songs:
        ref = FileRef("pop909", "pop909", str(path), "MIT", "pop909", f"pop909/{path.stem}")
        score = read_file(ref)[0].score
        for track, role in zip(score.tracks, track_roles(score), strict=True):
            if track.name in POP909_ROLES and role is not None:
                totals[track.name] += 1
                hits[track.name] += role == POP909_ROLES[track.name]
        shape = repetition(score)
        shares.append(shape.repetition_share)
        repeats.append(shape.repeat_share)
        bars = bar_controls(score)
        if (path.parent / "chord_midi.txt").exists():
            chords += _chord_hits(path, score, bars)
        for bar in bars:
            levels["density"][bar.density_bin] += 1
            levels["polyphony"][bar.polyphony_bin] += 1
            levels["intensity"][bar.intensity] += 1
    print(f"POP909, {len(songs)} songs")
    print(f"  roles: {_agreement(hits, totals)}")
    for name, values in (("repeat or vary", shares), ("repeat exactly", repeats)):
        q1, q2, q3 = np.percentile(values, [25, 50, 75])
        print(f"  form, share of bars that {name} an earlier bar: Q1 {q1:.3f}  median {q2:.3f}  Q3 {q3:.3f}")
    for name, counts in levels.items():
        print(f"  {name} levels of the bars: {_spread(counts)}")
    print(
        f"  bar chord root as annotated: {chords['one hit']}/{chords['one']} bars of one chord, "
        f"{chords['more hit']}/{chords['more']} bars of several (one of those filling 40 %)"
    )
    jsb = args.datasets / "jsb-chorales" / "Jsb16thSeparated.json"
    if jsb.exists():
        hits, totals = Counter(), Counter()
        for piece in read_file(FileRef("jsb", "jsb", str(jsb), "public-domain", "bach", "jsb")):
            for track, role, want in zip(piece.score.tracks, track_roles(piece.score), JSB_ROLES, strict=True):
                totals[track.name] += 1
                hits[track.name] += role == want
        print(f"JSB chorales, {totals['Soprano']} pieces")
        print(f"  roles: {_agreement(hits, totals)}")
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
