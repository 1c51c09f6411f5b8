"""Musical understanding: pure functions of a ``symusic.Score``.

Key over time, chords per beat (Harte syntax), beats, downbeats, meter and tempo, the
bars a file states (the one count of bars every command uses), the melody and bass
lines, sections, descriptive metrics, and the comparison of two collections of pieces.
:func:`analyze_score` gathers them into one JSON-ready dict.
"""

from cadenza.analysis.bars import bar_count, bar_lines, bar_numbers, meter_changes
from cadenza.analysis.beats import BeatGrid, beat_grid, meter_segments, tempo_segments
from cadenza.analysis.chords import ChordSegment, beat_chords, chord_segments
from cadenza.analysis.compare import FeatureComparison, compare_collections, compare_values
from cadenza.analysis.key import KeySegment, key_segments, main_key
from cadenza.analysis.melody import bass, melody, melody_track
from cadenza.analysis.metrics import all_metrics
from cadenza.analysis.report import analyze_score, render_report
from cadenza.analysis.structure import Section, sections

__all__ = [
    "BeatGrid",
    "ChordSegment",
    "FeatureComparison",
    "KeySegment",
    "Section",
    "all_metrics",
    "analyze_score",
    "bar_count",
    "bar_lines",
    "bar_numbers",
    "bass",
    "beat_chords",
    "beat_grid",
    "chord_segments",
    "compare_collections",
    "compare_values",
    "key_segments",
    "main_key",
    "melody",
    "melody_track",
    "meter_changes",
    "meter_segments",
    "render_report",
    "sections",
    "tempo_segments",
]
