"""The whole analysis of a Score as plain data, and its human-readable rendering.

:func:`analyze_score` returns (times in seconds, JSON-serialisable)::

    {"key": [{"start", "end", "label", "confidence"}],
     "chords": [{"start", "end", "label"}],
     "beats": [...], "downbeats": [...], "bars": int,
     "tempo": [{"start", "bpm"}],
     "time_signature": [{"start", "numerator", "denominator"}],
     "meter_stated": bool,
     "estimated_time_signature": [{"start", "numerator", "denominator"}],
     "melody_track": int | None,
     "sections": [{"start", "end", "label"}],
     "metrics": {name: float | None}}

Bars and meter are the file's own (:mod:`cadenza.analysis.bars`, as ``cadenza info``
counts them): ``downbeats`` are its bar lines, ``bars`` their number and
``time_signature`` its meter. A file that states no meter is read as MIDI reads it, in
4/4 (``meter_stated`` is false), and only then is the meter estimated from the notes
given, in ``estimated_time_signature`` (``[]`` otherwise).

``melody_track`` is the index (in ``score.tracks``) of the track named like a melody,
else of the track that gives the skyline melody most of its notes, else ``None``.
Undefined metrics (nan) are ``None``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import symusic
from rich.console import Group
from rich.table import Table
from rich.text import Text

from cadenza.analysis._notes import as_tick_score
from cadenza.analysis.bars import bar_lines, meter_changes, states_meter
from cadenza.analysis.beats import beat_grid, meter_segments, tempo_segments
from cadenza.analysis.chords import chord_segments
from cadenza.analysis.key import key_segments
from cadenza.analysis.melody import melody_track, skyline_track
from cadenza.analysis.metrics import all_metrics
from cadenza.analysis.structure import sections

__all__ = ["analyze_score", "render_report"]

_DIGITS = 4


def _sec(x: float) -> float:
    return round(float(x), _DIGITS)


def analyze_score(score: symusic.Score) -> dict[str, Any]:
    """Key, chords, beats, tempo, meter, melody track, sections and metrics of a score."""
    score = as_tick_score(score)
    grid = beat_grid(score)
    to_s = grid.tempo.to_seconds

    def span(a: float, b: float) -> tuple[float, float]:
        s, e = to_s(np.array([a, b]))
        return _sec(s), _sec(e)

    keys = []
    for k in key_segments(score, grid):
        s, e = span(k.start, k.end)
        keys.append({"start": s, "end": e, "label": k.label, "confidence": round(k.confidence, 3)})
    chords = []
    for c in chord_segments(score, grid):
        s, e = span(c.start, c.end)
        chords.append({"start": s, "end": e, "label": c.label})
    parts = []
    for p in sections(score, grid):
        s, e = span(p.start, p.end)
        parts.append({"start": s, "end": e, "label": p.label})
    mel = melody_track(score)
    if mel is None:
        mel = skyline_track(score)
    metrics = {k: (None if math.isnan(v) else round(float(v), _DIGITS)) for k, v in all_metrics(score).items()}
    stated = states_meter(score)
    meter = [(float(to_s(np.array([t]))[0]), n, d) for t, n, d in meter_changes(score)]
    estimated = [] if stated else meter_segments(grid)
    bars = bar_lines(score)
    return {
        "key": keys,
        "chords": chords,
        "beats": [_sec(t) for t in grid.beat_seconds()],
        "downbeats": [_sec(t) for t in to_s(bars)],
        "bars": int(bars.size),
        "tempo": [{"start": _sec(t), "bpm": round(b, 2)} for t, b in tempo_segments(grid)],
        "time_signature": _meters(meter),
        "meter_stated": stated,
        "estimated_time_signature": _meters(estimated),
        "melody_track": mel,
        "sections": parts,
        "metrics": metrics,
    }


def _meters(segments: list[tuple[float, int, int]]) -> list[dict[str, Any]]:
    return [{"start": _sec(t), "numerator": n, "denominator": d} for t, n, d in segments]


def _meter_names(segments: list[dict[str, Any]]) -> str:
    """Meters in order of first appearance: ``"4/4, 3/4"``."""
    return ", ".join(dict.fromkeys(f"{m['numerator']}/{m['denominator']}" for m in segments))


def _clock(t: float) -> str:
    return f"{int(t // 60)}:{t % 60:05.2f}"


def render_report(result: dict[str, Any], max_chords: int = 48) -> Group:
    """A rich renderable of :func:`analyze_score`'s result: summary, keys, sections, chords."""
    summary = Table(title="Analysis", show_header=False, box=None)
    summary.add_column(style="bold")
    summary.add_column()
    keys = result["key"]
    main = max(keys, key=lambda k: k["end"] - k["start"]) if keys else None
    summary.add_row("key", f"{main['label']} ({main['confidence']:.2f})" if main else "—")
    tempi = [t["bpm"] for t in result["tempo"]]
    tempo = (
        f"{tempi[0]:.1f} bpm"
        if len(tempi) == 1
        else (f"{min(tempi):.1f}–{max(tempi):.1f} bpm ({len(tempi)} changes)" if tempi else "—")
    )
    summary.add_row("tempo", tempo)
    meter = _meter_names(result["time_signature"]) or "—"
    if not result["meter_stated"]:
        guess = _meter_names(result["estimated_time_signature"])
        meter += f" (none stated in the file; the notes suggest {guess})" if guess else " (none stated in the file)"
    summary.add_row("meter", meter)
    summary.add_row("beats / bars", f"{len(result['beats'])} / {result['bars']}")
    mel = result["melody_track"]
    summary.add_row("melody track", "—" if mel is None else str(mel))
    summary.add_row("form", " ".join(s["label"] for s in result["sections"]) or "—")

    key_table = Table(title="Keys")
    for col in ("start", "end", "key", "confidence"):
        key_table.add_column(col)
    for k in keys:
        key_table.add_row(_clock(k["start"]), _clock(k["end"]), k["label"], f"{k['confidence']:.2f}")

    chord_table = Table(title="Chords")
    for col in ("start", "end", "chord"):
        chord_table.add_column(col)
    for c in result["chords"][:max_chords]:
        chord_table.add_row(_clock(c["start"]), _clock(c["end"]), c["label"])
    more = len(result["chords"]) - max_chords
    metric_table = Table(title="Metrics")
    metric_table.add_column("metric")
    metric_table.add_column("value", justify="right")
    for name, v in result["metrics"].items():
        metric_table.add_row(name.replace("_", " "), "—" if v is None else f"{v:.3f}")
    parts: list[Any] = [summary, key_table, chord_table]
    if more > 0:
        parts.append(Text(f"... and {more} more chords (use --json for all)", style="dim"))
    parts.append(metric_table)
    return Group(*parts)
