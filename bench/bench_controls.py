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
  intensity levels of :func:`cadenza.analysis.controls.bar_controls`.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import numpy as np

from cadenza.analysis.controls import bar_controls
from cadenza.analysis.form import repetition
from cadenza.analysis.roles import track_roles
from cadenza.data.sources import FileRef, read_file

POP909_ROLES = {"MELODY": "melody", "BRIDGE": "counter_melody", "PIANO": "harmony"}
JSB_ROLES = ("melody", "counter_melody", "counter_melody", "bass")


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
        for bar in bar_controls(score):
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
