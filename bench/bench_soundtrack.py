"""Music that follows the picture: cue sheets composed by the multitrack model, measured.

    python bench/bench_soundtrack.py [--quick] [--seed 0] [--out DIR] [--threads 1] [--model cadenza-multitrack]

A fixed set of cue sheets (:data:`CUES`: 1 to 4 sections, 20 s to 2 min, 70 to 160 bpm,
4/4, 3/4 and 6/8, major and minor keys, intensity that builds, fades, swells, ramps and
steps, hit points of each kind, three seamless loops) is composed with
:func:`~cadenza.compose.pipeline.compose_soundtrack` (seed ``--seed``) and written as
``cadenza soundtrack CUE -o DIR --stems`` writes it (mix.wav, cue.mid, cue.json,
stems/LAYER.wav). Then, from the files (issue 15, "Measured"):

1. **Intensity following**, per cue: Pearson's r between the intensity asked for per bar
   (``cue.intensity``) and the one measured from the score alone, defined before looking
   at any result as the issue words it: note density (onsets per beat, every track) x
   loudness (mean velocity of the bar's onsets / 127) x layers (share of the cue's layers
   with a note sounding in the bar); and r of each factor alone. Goal: r >= 0.9. Beside
   it, not part of the measure: the (bar, layer) cells silent though the bar's intensity
   reaches the layer's level, and those sounding though it does not.
2. **Exact lengths**: every WAV's frames against ``round(seconds * 44100)``; the MIDI's
   ``end`` marker read back in seconds (symusic ``.to("second")``) against the cue's
   seconds, its tick against the bars' ticks; the latest note end against it.
3. **Hit points**: each hit's marker read back in seconds against the hit's second, and
   the percussion's crash (GM 49) nearest to it. Goal: < 10 ms.
4. **Loops**: (a) the model's NLL (:func:`cadenza.train.multitrack.fill_nll`, as
   ``bench_infill.py`` scores) of the model-written tracks (melody, rhythm, bass) of
   the first bar written after :data:`SEAM_CONTEXT` bars that end with the last (the
   piece rotated so that the seam lies inside the window), against the same-size
   windows everywhere inside the piece, in nats per token; the same for the cue
   composed without ``loop`` (same seed and sheet), to show what filling the seam
   changes. A second row scores the seam as it was filled: the last bar between
   :data:`SEAM_CONTEXT` bars before it and as many of the beginning after it. The loop
   cues keep their intensity >= 0.5, where the intensity gate lets every layer the model
   writes play (no cell is emptied by the gate). Goal: seam <= inside. (b) the mix WAV's seam
   (:func:`cadenza.io.stems.seam_discontinuity`): the jump from the last frame to the
   first against the 99th percentile of the steps inside. Goal: jump <= that step.
5. **Stems**: max |sum of the 16-bit stems - the 16-bit mix| (within rounding: at most
   one step per stem); and the analysis of step 2 on each layer alone (a MIDI file of
   that track with the cue's tempo map and meter) and on the whole cue.mid: key
   (:func:`cadenza.analysis.key.bar_keys`, the bars where the layer sounds, against the
   plan's key of each bar), tempo (every segment of
   :func:`~cadenza.analysis.beats.tempo_segments` within 1 bpm of the tempo map at its
   first beat, in the meter's beats) and meter
   (:func:`~cadenza.analysis.beats.meter_segments` all of the planned meter, as
   ``bench_generate.py`` checks them; and the share of the bars the analysis finds that
   have the meter's beats).
6. **Speed**: a 2-minute cue of all five layers composed and written with stems
   (compose, originality check, render, write), wall and CPU seconds, median of
   ``--repeats`` seeds; the peer in the same run is ``cadenza generate --seconds 120
   --model cadenza-multitrack -o x.wav`` through the library (compose_piece + write).

``--quick``: two short cues and one 30 s speed run (the test runs it). Composing is
seeded and torch runs on ``--threads`` threads: the tables are the same on each run but
for the timings.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import symusic
from rich.console import Console
from rich.table import Table

SAMPLE_RATE = 44100
SEAM_CONTEXT = 4  # bars before a scored bar, as bench_infill.py's default
GOAL_R = 0.9
GOAL_HIT_MS = 10.0
GOAL_SECONDS = 20.0
CRASH = 49

# name -> cue sheet (as a YAML cue sheet reads). Loops keep intensity >= 0.5 (the gate lets every model layer play).
CUES: dict[str, dict] = {
    "chase": {
        "seconds": 48, "tempo": 150, "meter": "4/4", "key": "E minor", "intensity": "builds",
        "hits": [{"at": 12.0, "kind": "stinger", "name": "jump"}, {"at": 30.5, "kind": "accent", "name": "hit"},
                 {"at": 44.8, "kind": "cadence", "name": "land"}],
    },
    "lullaby": {
        "seconds": 30, "tempo": 72, "meter": "3/4", "key": "F major", "style": "classical", "intensity": "swells",
        "hits": [{"at": 12.5, "kind": "accent", "name": "blink"}],
    },
    "harbor": {
        "tempo": 90, "meter": "6/8", "key": "D major", "style": "folk",
        "sections": [{"name": "calm", "seconds": 30, "intensity": 0.3},
                     {"name": "storm", "seconds": 30, "intensity": {"from": 0.5, "to": 1.0}}],
        "hits": [{"at": 30.0, "kind": "cadence", "name": "arrival"}, {"at": 41.0, "kind": "accent", "name": "wave"}],
    },
    "boss": {
        "seconds": 120, "tempo": 140, "meter": "4/4", "key": "C minor",
        "sections": [{"name": "intro", "seconds": 16, "intensity": 0.25},
                     {"name": "fight", "seconds": 40, "intensity": "builds"},
                     {"name": "climax", "seconds": 34, "intensity": 0.95},
                     {"name": "outro", "intensity": "fades"}],
        "hits": [{"at": 16.0, "kind": "stinger", "name": "appears"}, {"at": 37.0, "kind": "accent", "name": "blow"},
                 {"at": 90.0, "kind": "cadence", "name": "victory"}, {"at": 100.3, "kind": "stinger", "name": "fall"}],
    },
    "menu": {
        "tempo": 100, "meter": "4/4", "key": "A minor", "loop": True,
        "sections": [{"name": "a", "bars": 8, "intensity": 0.65},
                     {"name": "b", "bars": 8, "intensity": {"from": 0.55, "to": 0.95}}],
        "hits": [{"at": 10.2, "kind": "accent", "name": "select"}],
    },
    "sunrise": {
        "tempo": 120, "meter": "3/4", "seconds": 90,
        "sections": [{"name": "dawn", "seconds": 24, "key": "G major", "intensity": "swells"},
                     {"name": "doubt", "seconds": 36, "key": "E minor", "intensity": "fades"},
                     {"name": "day", "key": "G major", "intensity": "builds"}],
        "hits": [{"at": 24.0, "kind": "cadence", "name": "turn"}, {"at": 50.25, "kind": "accent", "name": "bird"},
                 {"at": 75.0, "kind": "stinger", "name": "sun"}],
    },
    "stealth": {
        "tempo": 132, "meter": "6/8", "key": "B minor", "loop": True,
        "sections": [{"name": "creep", "bars": 22, "intensity": 0.55},
                     {"name": "alert", "bars": 22, "intensity": 0.85}],
        "hits": [{"at": 30.0, "kind": "stinger", "name": "spotted"}],
    },
    "sting": {
        "seconds": 20, "tempo": 160, "meter": "4/4", "key": "Bb major", "intensity": {"from": 1.0, "to": 0.2},
        "hits": [{"at": 0.0, "kind": "stinger", "name": "logo"}, {"at": 10.0, "kind": "accent", "name": "tag"}],
    },
    "drift": {
        "seconds": 80, "tempo": 70, "meter": "4/4",
        "sections": [{"name": "still", "seconds": 40, "key": "Eb major", "intensity": "fades"},
                     {"name": "return", "key": "C minor", "intensity": {"from": 0.2, "to": 0.7}}],
        "hits": [{"at": 40.0, "kind": "cadence", "name": "home"}, {"at": 60.0, "kind": "accent", "name": "glint"}],
    },
    "puzzle": {
        "tempo": 96, "meter": "3/4", "key": "D minor", "loop": True,
        "sections": [{"name": "loop", "bars": 24, "intensity": [
            0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.55, 0.6, 0.65,
            0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.95, 0.9, 0.85, 0.9, 0.95, 0.95]}],
        "hits": [{"at": 22.5, "kind": "cadence", "name": "solved"}],
    },
}  # fmt: skip
QUICK = {
    "sting": CUES["sting"],
    "loop20": {
        "tempo": 120, "meter": "4/4", "key": "G major", "loop": True,
        "sections": [{"name": "a", "bars": 10, "intensity": {"from": 0.6, "to": 0.9}}],
        "hits": [{"at": 7.0, "kind": "accent", "name": "blip"}, {"at": 12.0, "kind": "cadence", "name": "rest"}],
    },
}  # fmt: skip
SPEED_CUE = {"seconds": 120, "tempo": 120, "key": "D minor", "intensity": "builds", "hits": [{"at": 60.0}]}


@dataclass
class Made:
    """A cue composed and written: its sheet, the piece, its folder."""

    name: str
    piece: object  # CuePiece
    folder: Path
    twin: object | None = None  # the same sheet without loop (a Soundtrack), for a loop cue

    @property
    def soundtrack(self):
        return self.piece.soundtrack  # type: ignore[attr-defined]


def timed(run: Callable[[], object]) -> tuple[float, float, object]:
    """Wall and CPU seconds (the process, all threads) of ``run()``, and what it returned."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def pearson(a: list[float], b: list[float]) -> float | None:
    """Pearson's r, None where either side does not vary."""
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(x) < 2 or np.ptp(x) < 1e-12 or np.ptp(y) < 1e-12:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def wav_frames(path: Path) -> np.ndarray:
    with wave.open(str(path)) as file:
        frames = file.readframes(file.getnframes())
        return np.frombuffer(frames, "<i2").reshape(-1, file.getnchannels()).astype(np.int64)


def layer_track(score: symusic.Score, layer: str) -> symusic.Track | None:
    """The track of ``layer`` in a cue.mid read back (tracks are named "LAYER (instrument)")."""
    return next((t for t in score.tracks if t.name.split(" (")[0] == layer), None)


# 1. intensity ----------------------------------------------------------------------------


def measured_intensity(score: symusic.Score, cue) -> dict[str, list[float]]:
    """Per bar: density (onsets per beat, every track), loudness (mean velocity / 127),
    layers (share of the cue's layers sounding in the bar) and their product; and
    ``cells``: [(bar, layer) cells silent though the bar's intensity reaches the layer's
    level, cells sounding though it does not] (a diagnostic, not part of the measure)."""
    tpq = score.ticks_per_quarter
    bar = round(cue.bar_quarters * tpq)
    beats = int(cue.meter.split("/")[0])
    bars = cue.bars
    onsets = np.zeros(bars)
    velocity = np.zeros(bars)
    sounding = np.zeros(bars)
    asked = np.array(cue.intensity)
    silent = extra = 0  # (bar, layer) cells: silent where the layer's level is reached; sounding where it is not
    for layer in cue.layers:
        track = layer_track(score, layer.name)
        if track is None or not len(track.notes):
            continue
        notes = track.notes.numpy()
        start, end = notes["time"].astype(np.int64), (notes["time"] + notes["duration"]).astype(np.int64)
        first = np.minimum(start // bar, bars - 1)
        np.add.at(onsets, first, 1)
        np.add.at(velocity, first, notes["velocity"].astype(np.float64))
        edges = np.arange(bars) * bar
        sounds = np.array([bool(np.any((start < e + bar) & (end > e))) for e in edges])
        sounding += sounds
        plays = asked >= layer.enters_at - 1e-9
        silent += int(np.sum(plays & ~sounds))
        extra += int(np.sum(~plays & sounds))
    density = onsets / beats
    loudness = np.divide(velocity, onsets, out=np.zeros(bars), where=onsets > 0) / 127
    layers = sounding / len(cue.layers)
    return {
        "density": density.tolist(),
        "loudness": loudness.tolist(),
        "layers": layers.tolist(),
        "measured": (density * loudness * layers).tolist(),
        "cells": [float(silent), float(extra)],
    }


def intensity_table(made: list[Made]) -> Table:
    table = Table(
        title="1. Intensity following: Pearson r between the intensity asked per bar and the one measured from "
        f"cue.mid (density x loudness x layers); goal r >= {GOAL_R}. Silent / extra cells: (bar, layer) cells where "
        "the layer is silent though the intensity reaches its level (of those asked) / sounding though it does not"
    )
    for column in ("cue", "bars", "asked (min..max)", "r: measured", "r: density", "r: loudness", "r: layers", "goal",
                   "silent / extra cells"):  # fmt: skip
        table.add_column(column, justify="left" if column == "cue" else "right")
    found: dict[str, list[float]] = {"measured": [], "density": [], "loudness": [], "layers": []}
    for m in made:
        cue = m.soundtrack.cue
        score = symusic.Score(str(m.folder / "cue.mid"))
        factors = measured_intensity(score, cue)
        silent, extra = (int(v) for v in factors.pop("cells"))
        expected = sum(1 for v in cue.intensity for layer in cue.layers if v >= layer.enters_at - 1e-9)
        asked = cue.intensity
        rs = {name: pearson(asked, values) for name, values in factors.items()}
        for name, r in rs.items():
            if r is not None:
                found[name].append(r)
        r = rs["measured"]
        table.add_row(
            m.name,
            str(cue.bars),
            f"{min(asked):.2f}..{max(asked):.2f}",
            *(_r(rs[name]) for name in ("measured", "density", "loudness", "layers")),
            "n/a" if r is None else ("yes" if r >= GOAL_R else "no"),
            f"{silent}/{expected} / {extra}",
        )
    table.add_section()
    means = {name: statistics.mean(values) if values else None for name, values in found.items()}
    mean = means["measured"]
    table.add_row(
        "mean",
        "",
        "",
        *(_r(means[name]) for name in ("measured", "density", "loudness", "layers")),
        "n/a" if mean is None else ("yes" if mean >= GOAL_R else "no"),
        "",
    )
    return table


def _r(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


# 2. lengths and 3. hits -------------------------------------------------------------------


def lengths_table(made: list[Made]) -> Table:
    table = Table(
        title="2. Exact lengths: WAV frames (mix and stems) vs round(seconds x 44100); the MIDI's end marker read "
        "back vs the cue; the latest note end vs the end tick"
    )
    columns = ("cue", "seconds", "files", "max |frames - expected|", "MIDI end - cue, ms", "end tick - bars' ticks",
               "latest note end - end tick", "exact")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "cue" else "right")
    for m in made:
        cue = m.soundtrack.cue
        expected = round(cue.seconds * SAMPLE_RATE)
        wavs = [m.folder / "mix.wav", *sorted((m.folder / "stems").glob("*.wav"))]
        off = max(abs(len(wav_frames(p)) - expected) for p in wavs)
        score = symusic.Score(str(m.folder / "cue.mid"))
        end_tick = next(x.time for x in score.markers if x.text == "end")
        end_s = next(x.time for x in score.to("second").markers if x.text == "end")
        bars_ticks = cue.bars * round(cue.bar_quarters * score.ticks_per_quarter)
        latest = max(max(n.time + n.duration for n in t.notes) for t in score.tracks if len(t.notes))
        ms = (end_s - cue.seconds) * 1000
        exact = off == 0 and end_tick == bars_ticks and latest <= end_tick and abs(ms) < 1
        table.add_row(
            m.name,
            f"{cue.seconds:g}",
            str(len(wavs)),
            str(off),
            f"{ms:+.3f}",
            f"{end_tick - bars_ticks:+d}",
            f"{latest - end_tick:+d}",
            "yes" if exact else "no",
        )
    return table


def hits_table(made: list[Made]) -> tuple[Table, list[float]]:
    table = Table(
        title="3. Hit points: the hit's marker in cue.mid read back in seconds, and the nearest crash (GM 49) of "
        f"the percussion, vs the hit's second; goal < {GOAL_HIT_MS:g} ms"
    )
    for column in ("cue", "hit", "kind", "at s", "bar", "marker ms", "crash ms", "goal"):
        table.add_column(column, justify="left" if column in ("cue", "hit", "kind") else "right")
    errors: list[float] = []
    for m in made:
        cue = m.soundtrack.cue
        seconds = symusic.Score(str(m.folder / "cue.mid")).to("second")
        drums = layer_track(seconds, "percussion")
        crashes = np.array([n.time for n in drums.notes if n.pitch == CRASH]) if drums is not None else None
        for hit, quarter in zip(cue.hits, cue.hit_quarters, strict=True):
            label = f"{hit.kind}: {hit.name}" if hit.name else hit.kind
            marks = [x.time for x in seconds.markers if x.text == label]
            marker = min((abs(t - hit.seconds) * 1000 for t in marks), default=None)
            crash = None if crashes is None or not crashes.size else float(np.min(np.abs(crashes - hit.seconds))) * 1000
            shown = [v for v in (marker, crash if crashes is not None else None) if v is not None]
            errors.extend(shown)
            ok = marker is not None and (crashes is None or crash is not None) and all(v < GOAL_HIT_MS for v in shown)
            table.add_row(
                m.name,
                hit.name,
                hit.kind,
                f"{hit.seconds:g}",
                str(int(quarter // cue.bar_quarters) + 1),
                "missing" if marker is None else f"{marker:.3f}",
                "no percussion" if crashes is None else ("missing" if crash is None else f"{crash:.3f}"),
                "yes" if ok else "no",
            )
    return table, errors


# 4. loops -----------------------------------------------------------------------------------


def model_score(soundtrack, rotate: int) -> tuple[symusic.Score, list[str]]:
    """The model-written tracks of ``soundtrack`` (melody, rhythm, bass), its bars turned
    ``rotate`` bars later (the last ``rotate`` bars first): the loop's seam then lies
    before bar ``rotate``. Returns the score and the model's role of each track."""
    from cadenza.compose.soundtrack import MODEL_LAYERS

    source = soundtrack.score
    bar, end = soundtrack.bar_ticks, soundtrack.end_tick
    out = symusic.Score(source.ticks_per_quarter)
    out.time_signatures.extend(source.time_signatures)
    out.tempos.append(symusic.Tempo(0, qpm=source.tempos[0].qpm))
    roles = []
    for name, index in soundtrack.layer_tracks.items():
        if name not in MODEL_LAYERS:
            continue
        track = source.tracks[index].copy()
        notes = [symusic.Note((n.time + rotate * bar) % end, n.duration, n.pitch, n.velocity) for n in track.notes]
        track.notes.clear()
        track.notes.extend(sorted(notes, key=lambda n: (n.time, n.pitch)))
        out.tracks.append(track)
        roles.append(MODEL_LAYERS[name])
    return out, roles


def bar_nll(model, piece, bar: int, before: int, after: int = 0) -> tuple[float, int]:
    """(nats, tokens) of bar ``bar`` of every track of ``piece``, written after the
    ``before`` bars before it and, with ``after``, knowing the ``after`` bars after it."""
    from cadenza.train.multitrack import fill_nll, window_piece

    holes = [(t, bar) for t in range(len(piece.tracks))]
    bars = range(bar - before, bar + after + 1)
    nll, _ = fill_nll(model, piece, holes, bars)
    window = window_piece(piece, bars)
    moved = [(t, b - bars.start) for t, b in holes]
    scored = len(window.tokens(moved)) - 1 - len(window.tokens(moved, fills=False))
    return nll, scored


def seam_vs_inside(model, soundtrack, after: int) -> tuple[float, float, int]:
    """(seam nats/token, inside nats/token, windows inside). Without ``after``: the first
    bar after ``SEAM_CONTEXT`` bars ending with the last; with it: the last bar between
    ``SEAM_CONTEXT`` bars before it and ``after`` bars of the beginning after it (the seam
    as it was filled). Inside: every bar of the piece as it is with as many bars around."""
    from cadenza.models import multitrack_tokens as mt

    bars, style = soundtrack.cue.bars, soundtrack.cue.style
    before = SEAM_CONTEXT
    rotate = before + (1 if after else 0)  # the bar scored sits at index ``before`` of the rotated piece
    rotated, roles = model_score(soundtrack, rotate)
    piece = mt.tokenize(rotated, roles, style=style, bars=bars)
    seam, seam_tokens = bar_nll(model, piece, before, before, after)
    straight, roles = model_score(soundtrack, 0)
    piece = mt.tokenize(straight, roles, style=style, bars=bars)
    inside = [bar_nll(model, piece, b, before, after) for b in range(before, bars - after)]
    return seam / seam_tokens, sum(n for n, _ in inside) / sum(t for _, t in inside), len(inside)


def loops_table(made: list[Made], model) -> tuple[Table, Table]:
    nll = Table(
        title=f"4a. Loops: the model's NLL (nats/token, model-written tracks) across the seam: the first bar after "
        f"{SEAM_CONTEXT} bars ending with the last (the measure asked for), and the last bar between {SEAM_CONTEXT} "
        f"bars before it and the first {SEAM_CONTEXT} after it (as the seam was filled), vs the same windows inside "
        "the piece; the cue composed without loop beside it; goal: seam <= inside"
    )
    for column in ("cue", "bars", "scored", "loop: seam", "inside (windows)", "seam / inside", "goal",
                   "no loop: seam", "inside", "seam / inside"):  # fmt: skip
        nll.add_column(column, justify="left" if column in ("cue", "scored") else "right")
    audio = Table(
        title="4b. Loops: the mix's audio seam, |first frame - last frame| vs the 99th percentile of "
        "|x(i+1) - x(i)| inside (16-bit steps); goal: jump <= typical"
    )
    for column in ("cue", "seconds", "seam jump", "typical step (p99)", "jump / typical", "goal"):
        audio.add_column(column, justify="left" if column == "cue" else "right")
    from cadenza.io.stems import seam_discontinuity

    for m in made:
        if m.twin is None:
            continue
        for after, scored in ((0, "first bar, after the last"), (SEAM_CONTEXT, f"last bar, {SEAM_CONTEXT} after")):
            if m.soundtrack.cue.bars < SEAM_CONTEXT + after + 2:  # at least one window inside
                continue
            seam, inside, windows = seam_vs_inside(model, m.soundtrack, after)
            seam0, inside0, _ = seam_vs_inside(model, m.twin, after)
            nll.add_row(
                m.name,
                str(m.soundtrack.cue.bars),
                scored,
                f"{seam:.3f}",
                f"{inside:.3f} ({windows})",
                f"{seam / inside:.2f}",
                "yes" if seam <= inside else "no",
                f"{seam0:.3f}",
                f"{inside0:.3f}",
                f"{seam0 / inside0:.2f}",
            )
        jump, step = seam_discontinuity(wav_frames(m.folder / "mix.wav"))
        audio.add_row(
            m.name,
            f"{m.soundtrack.cue.seconds:g}",
            f"{jump:.0f}",
            f"{step:.0f}",
            f"{jump / step:.2f}" if step else "n/a",
            "yes" if jump <= step else "no",
        )
    return nll, audio


# 5. stems ----------------------------------------------------------------------------------


def planned_keys(soundtrack) -> list[tuple[int, str]]:
    from cadenza.theory import parse_key

    return [parse_key(s.key) for s in soundtrack.plan.sections for _ in range(s.bars)]


def planned_beat_bpm(cue, seconds: float) -> float:
    mark = next(m for m in reversed(cue.tempo_map) if m.seconds <= seconds + 1e-6)
    numerator, denominator = (int(n) for n in cue.meter.split("/"))
    beat = 1.5 if denominator == 8 and numerator in (6, 9, 12) else 4 / denominator if denominator < 8 else 1.0
    return mark.qpm / beat


def heard(score: symusic.Score, soundtrack) -> tuple[tuple[int, int] | None, bool, bool, tuple[int, int]]:
    """By the analysis of ``score``: ((bars heard in the planned key, bars sounding) or
    None without pitched notes, tempo as planned, meter as planned (every bar), (bars the
    analysis finds of the planned length, bars it finds))."""
    from cadenza.analysis.beats import beat_grid, meter_segments, tempo_segments
    from cadenza.analysis.key import bar_keys

    cue = soundtrack.cue
    tpq = score.ticks_per_quarter
    bar = round(cue.bar_quarters * tpq)
    pitched = [t for t in score.tracks if not t.is_drum and len(t.notes)]
    key = None
    if pitched:
        sounding = np.zeros(cue.bars, bool)
        for track in pitched:
            notes = track.notes.numpy()
            for start, end in zip(notes["time"], notes["time"] + notes["duration"], strict=True):
                sounding[int(start) // bar : min(cue.bars, -(-int(end) // bar))] = True
        keys = bar_keys(score, bar, cue.bars)
        plan = planned_keys(soundtrack)
        right = sum(1 for b in range(cue.bars) if sounding[b] and keys[b] == plan[b])
        key = (right, int(sounding.sum()))
    grid = beat_grid(score)
    segments = tempo_segments(grid)
    tempo_ok = bool(segments) and all(
        abs(bpm - planned_beat_bpm(cue, start + 30 / bpm)) <= 1.0 for start, bpm in segments
    )
    meter_ok = {f"{n}/{d}" for _, n, d in meter_segments(grid)} == {cue.meter}
    numerator, denominator = (int(n) for n in cue.meter.split("/"))
    beats = numerator // 3 if denominator == 8 and numerator in (6, 9, 12) else numerator
    lengths = grid.bar_lengths()[:-1]  # the last bar may be cut short by the end of the music
    return key, tempo_ok, meter_ok, (int(np.sum(lengths == beats)), int(lengths.size))


def layer_midi(score: symusic.Score, track: symusic.Track, path: Path) -> symusic.Score:
    """``track`` alone with the score's tempo map and meter, written to ``path`` and read back."""
    alone = symusic.Score(score.ticks_per_quarter)
    alone.tempos.extend(score.tempos)
    alone.time_signatures.extend(score.time_signatures)
    alone.key_signatures.extend(score.key_signatures)
    alone.tracks.append(track.copy())
    alone.dump_midi(str(path))
    return symusic.Score(str(path))


def stems_tables(made: list[Made]) -> tuple[Table, Table, Table]:
    sums = Table(title="5a. Stems: max |sum of the 16-bit stems - the 16-bit mix| (within rounding: <= stems)")
    for column in ("cue", "stems", "max |sum - mix|", "mix peak", "within rounding"):
        sums.add_column(column, justify="left" if column == "cue" else "right")
    names = ("pad", "melody", "bass", "rhythm", "percussion", "mix")
    # key right, key bars, tempo right, meter right, cues, bars of the meter's length, bars found
    totals = {name: [0, 0, 0, 0, 0, 0, 0] for name in names}
    detail = []
    for m in made:
        stems = sorted((m.folder / "stems").glob("*.wav"))
        mix = wav_frames(m.folder / "mix.wav")
        total = sum(wav_frames(p) for p in stems)
        off = int(np.max(np.abs(total - mix)))
        peak = str(int(np.max(np.abs(mix))))
        sums.add_row(m.name, str(len(stems)), str(off), peak, "yes" if off <= len(stems) else "no")
        score = symusic.Score(str(m.folder / "cue.mid"))
        (m.folder / "layers").mkdir(exist_ok=True)
        row = [m.name]
        for name in names:
            if name == "mix":
                alone = score
            else:
                track = layer_track(score, name)
                if track is None:
                    row.append("—")
                    continue
                alone = layer_midi(score, track, m.folder / "layers" / f"{name}.mid")
            key, tempo_ok, meter_ok, (meter_bars, found_bars) = heard(alone, m.soundtrack)
            total_row = totals[name]
            if key is not None:
                total_row[0] += key[0]
                total_row[1] += key[1]
            total_row[2] += tempo_ok
            total_row[3] += meter_ok
            total_row[4] += 1
            total_row[5] += meter_bars
            total_row[6] += found_bars
            shown = "n/a" if key is None else f"{key[0] / key[1]:.0%}" if key[1] else "silent"
            row.append(f"{shown} {'T' if tempo_ok else 't'}{'M' if meter_ok else 'm'}")
        detail.append(row)
    per_layer = Table(
        title="5b. Each layer alone (its own MIDI with the tempo map) and the mix (cue.mid) through step 2's "
        "analysis vs the plan: key = share of the bars where it sounds heard in the plan's key; tempo and meter = "
        "share of cues read as planned (meter: every bar); bars read in the meter: the bars the analysis finds "
        "that have the meter's beats"
    )
    for column in ("layer", "cues", "key right (bars)", "tempo right", "meter right", "bars read in the meter"):
        per_layer.add_column(column, justify="left" if column == "layer" else "right")
    for name, (right, bars, tempo, meter, cues, meter_bars, found_bars) in totals.items():
        if not cues:
            continue
        key = "n/a" if name == "percussion" or not bars else f"{right / bars:.0%} ({right}/{bars})"
        shown = f"{meter_bars / found_bars:.0%} ({meter_bars}/{found_bars})" if found_bars else "n/a"
        per_layer.add_row(name, str(cues), key, f"{tempo / cues:.0%}", f"{meter / cues:.0%}", shown)
    per_cue = Table(
        title="5c. Per cue and layer: key share, T/t tempo right/wrong, M/m meter right/wrong (—: no such layer)"
    )
    for column in ("cue", *names):
        per_cue.add_column(column, justify="left" if column == "cue" else "right")
    for row in detail:
        per_cue.add_row(*row)
    return sums, per_layer, per_cue


# composing ---------------------------------------------------------------------------------


def compose_all(composer, cues: dict[str, dict], seed: int, out: Path, key) -> list[Made]:
    from cadenza.compose import Sampling
    from cadenza.compose.cue import read_cue
    from cadenza.compose.delivery import folder_targets
    from cadenza.compose.pipeline import compose_soundtrack
    from cadenza.compose.soundtrack import compose_cue

    made = []
    for name, sheet in cues.items():
        cue = read_cue({"title": name, **sheet})
        sampling = Sampling(temperature=1.0, top_p=0.95, seed=seed)
        piece = compose_soundtrack(composer, cue, sampling, key=key)
        piece.write(folder_targets(out / name, True))
        twin = None
        if cue.loop:
            twin = compose_cue(composer, read_cue({"title": name, **sheet, "loop": False}), sampling)
        made.append(Made(name, piece, out / name, twin))
    return made


def speed_tables(composer, sheet: dict, repeats: int, seed: int, out: Path, key) -> Table:
    import cadenza.compose.delivery as delivery
    from cadenza.compose import Conditions, Sampling
    from cadenza.compose.cue import read_cue
    from cadenza.compose.pipeline import compose_piece, compose_soundtrack

    cue = read_cue({"title": "speed", **sheet})
    rendering: list[tuple[float, float]] = []
    render = delivery.render_stems

    def timed_render(*args, **kwargs):
        wall, cpu, result = timed(lambda: render(*args, **kwargs))
        rendering.append((wall, cpu))
        return result

    runs, peers = [], []
    conditions = Conditions(seconds=cue.seconds)
    delivery.render_stems = timed_render  # to split deliver's time: rendering, and the rest
    try:
        for r in range(repeats):
            sampling = Sampling(temperature=1.0, top_p=0.95, seed=seed + r)
            compose = timed(lambda s=sampling: compose_soundtrack(composer, cue, s, key=key))
            targets = delivery.folder_targets(out / "speed" / f"run{r}", True)
            write = timed(lambda p=compose[2], t=targets: p.write(t))  # type: ignore[attr-defined]
            runs.append((compose, write, rendering[-1]))
            peer = timed(lambda s=sampling: compose_piece(composer, conditions, s, key=key))
            target = out / "speed" / f"peer{r}.wav"
            peer_write = timed(lambda p=peer[2], t=target: p.write(t))  # type: ignore[attr-defined]
            peers.append((peer, peer_write))
    finally:
        delivery.render_stems = render

    def med(values) -> float:
        return statistics.median(values)

    rows = {
        "compose (model, originality check, pad, percussion)": [(c[0], c[1]) for c, _, _ in runs],
        "render (mix + stems)": [(r[0], r[1]) for _, _, r in runs],
        "write (MIDI, cue.json, signed records)": [(w[0] - r[0], w[1] - r[1]) for _, w, r in runs],
    }
    total = [(c[0] + w[0], c[1] + w[1]) for c, w, _ in runs]
    peer_total = [(p[0] + w[0], p[1] + w[1]) for p, w in peers]
    peer_wall, peer_cpu = med(w for w, _ in peer_total), med(c for _, c in peer_total)
    layers = len(cue.layers)
    table = Table(
        title=f"6. Speed: a {cue.seconds:g} s cue ({cue.bars} bars, {layers} layers) written with {layers} stems, "
        f"{len(os.sched_getaffinity(0))} cores, {repeats} run(s) (seeds {seed}..{seed + repeats - 1}), medians; "
        f"load average {os.getloadavg()[0]:.1f} at the end; goal < {GOAL_SECONDS:g} s"
    )
    for column in ("step", "wall s", "max", "CPU s", "x peer's wall", "goal"):
        table.add_column(column, justify="left" if column == "step" else "right")
    wall = med(w for w, _ in total)
    table.add_row(
        "soundtrack: compose_soundtrack + write with stems",
        f"{wall:.2f}",
        f"{max(w for w, _ in total):.2f}",
        f"{med(c for _, c in total):.2f}",
        f"{wall / peer_wall:.2f}",
        "yes" if wall < GOAL_SECONDS else "no",
    )
    for name, values in rows.items():
        table.add_row(
            f"  {name}",
            f"{med(w for w, _ in values):.2f}",
            f"{max(w for w, _ in values):.2f}",
            f"{med(c for _, c in values):.2f}",
            f"{med(w for w, _ in values) / peer_wall:.2f}",
            "",
        )
    table.add_section()
    table.add_row(
        f"peer: cadenza generate --seconds {cue.seconds:g} -o x.wav (compose_piece + write)",
        f"{peer_wall:.2f}",
        f"{max(w for w, _ in peer_total):.2f}",
        f"{peer_cpu:.2f}",
        "1.00",
        "yes" if peer_wall < GOAL_SECONDS else "no",
    )
    for name, index in (("compose_piece", 0), ("write (render + record)", 1)):
        values = [p[index] for p in peers]
        table.add_row(
            f"  {name}",
            f"{med(v[0] for v in values):.2f}",
            f"{max(v[0] for v in values):.2f}",
            f"{med(v[1] for v in values):.2f}",
            f"{med(v[0] for v in values) / peer_wall:.2f}",
            "",
        )
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cadenza-multitrack", help="A multitrack model (name or folder).")
    parser.add_argument("--quick", action="store_true", help="Two short cues and one 30 s speed run.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="Speed runs (seeds seed .. seed + repeats - 1).")
    parser.add_argument("--out", type=Path, help="Keep the files here (a new or empty folder); default: a temp one.")
    parser.add_argument("--threads", type=int, default=1, help="Torch's intra-op threads.")
    args = parser.parse_args(argv)
    if args.out is not None and args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        sys.exit(f"{args.out}: give a new or empty folder for --out")

    import torch

    from cadenza.compose import Composer
    from cadenza.provenance.signing import default_key

    torch.set_num_threads(args.threads)
    console = Console(width=170)
    started = time.perf_counter()
    composer = Composer.from_pretrained(args.model)
    key = default_key()
    cues = QUICK if args.quick else CUES
    speed = {**SPEED_CUE, "seconds": 30, "hits": [{"at": 15.0}]} if args.quick else SPEED_CUE
    repeats = 1 if args.quick else args.repeats
    with tempfile.TemporaryDirectory() as temporary:
        out = args.out or Path(temporary)
        out.mkdir(parents=True, exist_ok=True)
        made = compose_all(composer, cues, args.seed, out, key)
        composed = time.perf_counter() - started
        console.print(
            f"{composer.info.name}: {len(made)} cues composed and written with stems (seed {args.seed}, "
            f"{args.threads} torch thread(s)) in {composed:.0f} s; files in "
            f"{out if args.out else 'a temporary folder'}"
        )
        console.print(intensity_table(made))
        console.print(lengths_table(made))
        hits, _ = hits_table(made)
        console.print(hits)
        for table in loops_table(made, composer._model):
            console.print(table)
        for table in stems_tables(made):
            console.print(table)
        console.print(speed_tables(composer, speed, repeats, args.seed, out, key))
    console.print(f"whole run: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
