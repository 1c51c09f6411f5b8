"""Musical understanding: pure functions of a ``symusic.Score``.

Key over time, chords per beat (Harte syntax), beats, downbeats, meter and tempo, the
melody and bass lines, sections, descriptive metrics, and the comparison of two
collections of pieces. For conditioning a generator: the bars the time signatures state,
each track's role and register, per-bar controls (density, polyphony, chord, intensity)
and form (the share of bars that repeat or vary an earlier one). :func:`analyze_score`
gathers the descriptive ones into one JSON-ready dict.
"""

from cadenza.analysis.bars import (
    Bars,
    bar_count,
    bar_grid,
    bar_lines,
    bar_numbers,
    meter_changes,
    notes_by_bar,
    track_bar_notes,
)
from cadenza.analysis.beats import BeatGrid, beat_grid, meter_segments, tempo_segments
from cadenza.analysis.chords import ChordSegment, beat_chords, chord_segments
from cadenza.analysis.compare import FeatureComparison, compare_collections, compare_values
from cadenza.analysis.controls import BarControls, Controls, TrackControls, bar_chords, bar_controls, piece_controls
from cadenza.analysis.form import Repetition, bar_content_similarity, repetition
from cadenza.analysis.key import KeySegment, key_segments, main_key
from cadenza.analysis.melody import bass, melody, melody_track
from cadenza.analysis.metrics import all_metrics
from cadenza.analysis.report import analyze_score, render_report
from cadenza.analysis.roles import ROLES, TrackProfile, track_profiles, track_roles
from cadenza.analysis.structure import Section, sections

__all__ = [
    "BarControls",
    "Bars",
    "BeatGrid",
    "ChordSegment",
    "Controls",
    "FeatureComparison",
    "Repetition",
    "KeySegment",
    "ROLES",
    "Section",
    "TrackControls",
    "TrackProfile",
    "all_metrics",
    "analyze_score",
    "bar_count",
    "bar_lines",
    "bar_numbers",
    "bar_chords",
    "bar_content_similarity",
    "bar_controls",
    "bar_grid",
    "bass",
    "beat_chords",
    "beat_grid",
    "chord_segments",
    "compare_collections",
    "compare_values",
    "piece_controls",
    "repetition",
    "key_segments",
    "main_key",
    "melody",
    "melody_track",
    "meter_changes",
    "meter_segments",
    "notes_by_bar",
    "render_report",
    "sections",
    "tempo_segments",
    "track_bar_notes",
    "track_profiles",
    "track_roles",
]
