"""analyze_score's JSON shape and the rich report, on hand-made and real files."""

from __future__ import annotations

import json

import symusic
from analysis_scores import I_IV_V_I, block_chords, make_score
from rich.console import Console

from cadenza.analysis import analyze_score, render_report

KEYS = {
    "key",
    "chords",
    "beats",
    "downbeats",
    "bars",
    "tempo",
    "time_signature",
    "meter_stated",
    "estimated_time_signature",
    "melody_track",
    "sections",
    "metrics",
}


def check_shape(result: dict) -> None:
    assert set(result) == KEYS
    json.dumps(result, allow_nan=False)
    for k in result["key"]:
        assert set(k) == {"start", "end", "label", "confidence"} and 0 <= k["confidence"] <= 1
    for c in result["chords"]:
        assert set(c) == {"start", "end", "label"} and c["start"] < c["end"]
    assert all(isinstance(t, float) for t in result["beats"] + result["downbeats"])
    assert len(result["downbeats"]) == result["bars"] and result["downbeats"] == sorted(result["downbeats"])
    for t in result["tempo"]:
        assert set(t) == {"start", "bpm"} and t["bpm"] > 0
    for m in result["time_signature"] + result["estimated_time_signature"]:
        assert set(m) == {"start", "numerator", "denominator"}
    assert result["time_signature"][0]["start"] == 0.0
    assert result["estimated_time_signature"] == [] or not result["meter_stated"]
    for s in result["sections"]:
        assert set(s) == {"start", "end", "label"}
    assert result["melody_track"] is None or isinstance(result["melody_track"], int)


def render(result: dict) -> str:
    console = Console(width=120, record=True, color_system=None)
    console.print(render_report(result))
    return console.export_text()


def test_progression_report() -> None:
    result = analyze_score(make_score(block_chords(I_IV_V_I), qpm=60))
    check_shape(result)
    assert [c["label"].split("/")[0] for c in result["chords"]] == [
        "C:maj",
        "F:maj",
        "G:maj",
        "C:maj",
    ]
    assert result["chords"][1]["start"] == 4.0  # seconds at 60 bpm
    assert result["key"][0]["label"] == "C:maj"
    assert result["time_signature"] == [{"start": 0.0, "numerator": 4, "denominator": 4}]
    assert "C:maj" in render(result)


def test_empty_and_drum_only_reports() -> None:
    empty = analyze_score(make_score([]))
    check_shape(empty)
    assert empty["beats"] == [] and empty["key"] == [] and empty["melody_track"] is None
    assert empty["metrics"]["pitch_class_entropy"] is None
    drums = analyze_score(make_score([(36, b, b + 0.5) for b in range(8)], drum=True))
    check_shape(drums)
    assert {c["label"] for c in drums["chords"]} == {"N"} and drums["key"] == []
    render(empty)
    render(drums)


def test_pop909_report(datasets) -> None:
    result = analyze_score(symusic.Score(str(datasets / "pop909" / "001" / "001.mid")))
    check_shape(result)
    assert result["melody_track"] == 0  # the MELODY track
    assert result["key"][0]["label"] == "Gb:maj"
    assert abs(result["tempo"][0]["bpm"] - 90) < 0.01
    assert len(result["sections"]) > 4
    assert "Gb:maj" in render(result)


def test_chorale_report(chorale) -> None:
    result = analyze_score(chorale)
    check_shape(result)
    assert result["key"][0]["label"] == "F#:min"
    assert result["melody_track"] == 0  # Soprano
    assert "F#:min" in render(result)
