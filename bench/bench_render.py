"""Benchmark: seconds of audio rendered per wall-clock second, cadenza against fluidsynth.

For each of the first N POP909 songs, times

* cadenza: ``symusic.Score(file)`` then ``render_wav`` (tinysoundfont, normalised WAV);
* the ``fluidsynth`` program on the same MIDI file, same SoundFont and sample rate,
  writing a WAV, once as installed (reverb and chorus on) and once with them off
  (``-R 0 -C 0``; tinysoundfont has no effects, so that is the like-for-like figure),

pinned to one CPU core, and prints a Markdown table. Run from the repository root:

    python bench/bench_render.py --count 10
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import symusic

from cadenza.io.audio import default_soundfont, render_wav

REPO = Path(__file__).resolve().parents[1]


def cadenza_seconds(midi: Path, out: Path, rate: int) -> float:
    start = time.perf_counter()
    render_wav(symusic.Score(midi), out, sample_rate=rate, force=True)
    return time.perf_counter() - start


def fluidsynth_seconds(midi: Path, out: Path, rate: int, font: Path, effects: bool) -> float:
    command = ["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(rate), "-F", str(out)]
    if not effects:
        command += ["-R", "0", "-C", "0"]
    start = time.perf_counter()
    subprocess.run([*command, str(font), str(midi)], check=True, capture_output=True)
    return time.perf_counter() - start


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--sample-rate", type=int, default=44100)
    parser.add_argument("--core", type=int, default=None, help="CPU to pin to (default: first)")
    args = parser.parse_args()

    songs = sorted((args.datasets / "pop909").glob("[0-9][0-9][0-9]/[0-9][0-9][0-9].mid"))
    songs = songs[: args.count]
    if not songs:
        print(f"no POP909 songs under {args.datasets / 'pop909'}", file=sys.stderr)
        return 2
    pinned = "not pinned"
    if hasattr(os, "sched_setaffinity"):
        core = args.core if args.core is not None else min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})  # fluidsynth inherits it
        pinned = f"pinned to CPU {core}"
    has_fluidsynth = shutil.which("fluidsynth") is not None
    font = default_soundfont()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {pinned}; ", end="")
    print(f"SoundFont {font.name}; {args.sample_rate} Hz; x = seconds of audio per wall second")
    print()
    print("| song | notes | audio s | cadenza x | fluidsynth x | fluidsynth no-fx x |", end="")
    print(" cadenza / fluidsynth no-fx |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    totals = {"audio": 0.0, "cadenza": 0.0, "fs": 0.0, "fs_dry": 0.0}
    with tempfile.TemporaryDirectory() as work:
        out = Path(work)
        for midi in songs:
            score = symusic.Score(midi)
            audio = score.to("second").end()
            ours = cadenza_seconds(midi, out / "cadenza.wav", args.sample_rate)
            assert abs(wav_seconds(out / "cadenza.wav") - audio) <= 1.0
            row = [midi.stem, str(score.note_num()), f"{audio:.1f}", f"{audio / ours:.0f}"]
            totals["audio"] += audio
            totals["cadenza"] += ours
            if has_fluidsynth:
                wet = fluidsynth_seconds(midi, out / "fs.wav", args.sample_rate, font, True)
                dry = fluidsynth_seconds(midi, out / "fs.wav", args.sample_rate, font, False)
                totals["fs"] += wet
                totals["fs_dry"] += dry
                row += [f"{audio / wet:.0f}", f"{audio / dry:.0f}", f"{dry / ours:.1f}"]
            else:
                row += ["not installed"] * 2 + ["-"]
            print("| " + " | ".join(row) + " |", flush=True)
    audio = totals["audio"]
    row = ["**all**", "", f"{audio:.1f}", f"**{audio / totals['cadenza']:.0f}**"]
    if has_fluidsynth:
        row += [f"{audio / totals['fs']:.0f}", f"{audio / totals['fs_dry']:.0f}"]
        row += [f"**{totals['fs_dry'] / totals['cadenza']:.1f}**"]
    else:
        row += ["not installed"] * 2 + ["-"]
    print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
