"""The JSON cue sheet a game engine or an editor reads beside the audio.

:func:`cue_sheet` describes a :class:`~cadenza.compose.soundtrack.Soundtrack` as plain
data: tempo, meter, the bar and beat grid in seconds and samples, sections, loop
region, entry and exit cues, stingers, and which layers play at which intensity. Its
form is published as a JSON Schema (``cadenza/schemas/cue-sheet.schema.json``);
``docs/soundtrack/engines.md`` shows how Godot, FMOD and Wwise take it.
"""

from __future__ import annotations

from collections.abc import Mapping

from cadenza.compose.arrange import TPQ
from cadenza.compose.conditions import parse_meter
from cadenza.compose.soundtrack import Soundtrack

__all__ = ["CUE_SHEET_FORMAT", "cue_sheet"]

CUE_SHEET_FORMAT = "cadenza-cue-sheet"


def _point(name: str, bar: int, seconds: float, sample_rate: int) -> dict[str, object]:
    return {"name": name, "bar": bar, "seconds": round(seconds, 6), "sample": round(seconds * sample_rate)}


def cue_sheet(
    soundtrack: Soundtrack,
    sample_rate: int,
    files: Mapping[str, str | None],
    stem_files: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """The cue sheet of ``soundtrack``; ``files`` names the mix, the MIDI file and the
    record (``{"mix": ..., "midi": ..., "record": ...}``) and ``stem_files`` each layer's
    WAV, relative to the folder the cue sheet lies in."""
    cue = soundtrack.cue
    numerator, denominator = parse_meter(cue.meter)
    bar_q, beat_q = cue.bar_quarters, 4 / denominator
    samples = round(cue.seconds * sample_rate)
    intensity = cue.intensity
    bar_section = [s.name for s in cue.sections for _ in range(s.bars)]

    def playing(level: float) -> list[str]:
        return [layer.name for layer in cue.layers if layer.enters_at <= level + 1e-9]

    bars = []
    for index in range(cue.bars):
        seconds = cue.seconds_at(index * bar_q)
        bars.append(
            {
                "index": index,
                "tick": round(index * bar_q * TPQ),
                "seconds": round(seconds, 6),
                "sample": round(seconds * sample_rate),
                "beats": [round(cue.seconds_at(index * bar_q + k * beat_q), 6) for k in range(numerator)],
                "section": bar_section[index],
                "intensity": intensity[index],
                "layers": playing(intensity[index]),
            }
        )
    sections, entries, exits, first = [], [], [], 0
    for section in cue.sections:
        entries.append(_point("start" if first == 0 else f"{section.name} start", first, section.start, sample_rate))
        exits.append(_point(f"{section.name} end", first + section.bars, section.end, sample_rate))
        sections.append(
            {
                "name": section.name,
                "first_bar": first,
                "bars": section.bars,
                "start": round(section.start, 6),
                "end": round(section.end, 6),
                "start_sample": round(section.start * sample_rate),
                "end_sample": round(section.end * sample_rate),
                "key": section.key,
                "bpm": round(section.bars * bar_q * 60 / section.seconds, 6),
                "mood": section.mood,
                "intensity": round(sum(section.intensity) / section.bars, 6),
            }
        )
        first += section.bars
    stingers = []
    for hit, quarter in zip(cue.hits, cue.hit_quarters, strict=True):
        bar = min(int(quarter // bar_q), cue.bars - 1)
        stingers.append(
            {
                "name": hit.name or hit.kind,
                "kind": hit.kind,
                "bar": bar,
                "beat": round((quarter - bar * bar_q) / beat_q, 6),
                "seconds": round(hit.seconds, 6),
                "sample": round(hit.seconds * sample_rate),
            }
        )
    levels = sorted({layer.enters_at for layer in cue.layers})
    return {
        "format": CUE_SHEET_FORMAT,
        "version": 1,
        "title": cue.title,
        "seconds": round(cue.seconds, 6),
        "sample_rate": sample_rate,
        "samples": samples,
        "ticks_per_quarter": TPQ,
        "bpm": round(cue.tempo_map[0].qpm, 6),
        "meter": cue.meter,
        "bar_beats": numerator,
        "beat_unit": denominator,
        "key": cue.sections[0].key,
        "files": dict(files),
        "tempo_map": [
            {
                "bar": int(mark.quarter // bar_q),
                "beat": round((mark.quarter % bar_q) / beat_q, 6),
                "tick": round(mark.quarter * TPQ),
                "seconds": round(mark.seconds, 6),
                "bpm": round(mark.qpm, 6),
            }
            for mark in cue.tempo_map
        ],
        "bars": bars,
        "sections": sections,
        "loop": (
            {"start": 0.0, "end": round(cue.seconds, 6), "start_sample": 0, "end_sample": samples} if cue.loop else None
        ),
        "entry_cues": entries,
        "exit_cues": exits,
        "stingers": stingers,
        "layers": [
            {
                "name": layer.name,
                "instrument": layer.instrument,
                "enters_at": layer.enters_at,
                "file": (stem_files or {}).get(layer.name),
                "midi_track": index,
            }
            for index, layer in enumerate(cue.layers)
        ],
        "intensity_levels": [{"level": level, "layers": playing(level)} for level in levels],
    }
