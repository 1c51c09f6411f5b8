"""Melody, bass and sections."""

from __future__ import annotations

import symusic
from analysis_scores import make_score

from cadenza.analysis import bass, melody, melody_track, sections
from cadenza.analysis.melody import skyline_track


def pitches(track: symusic.Track) -> list[int]:
    return [n.pitch for n in track.notes]


def test_track_named_melody_is_the_melody() -> None:
    score = make_score(
        [(48, 0, 4), (55, 0, 4), (84, 0, 4)],
        extra_tracks=[("MELODY", [(72, 0, 1), (74, 1, 2), (76, 2, 4)])],
    )
    assert melody_track(score) == 1
    assert pitches(melody(score)) == [72, 74, 76]


def test_skyline_with_voice_continuity_and_bass() -> None:
    notes = [(72, 0, 1), (60, 0, 1), (74, 1, 2), (60, 1, 2), (76, 2, 3), (93, 2, 3), (88, 2, 3)]
    score = make_score(notes)
    assert melody_track(score) is None
    # the top note 93 leaps > an octave from 74 while 88 lies a fourth below it
    assert pitches(melody(score)) == [72, 74, 88]
    assert pitches(bass(score)) == [60, 60, 76]


def test_lines_are_monophonic() -> None:
    line = melody(make_score([(60, 0, 3), (64, 1, 2)]))
    assert [(n.time, n.end) for n in line.notes] == [(0, 480), (480, 960)]


def test_empty_and_drum_only_lines() -> None:
    for score in (make_score([]), make_score([(36, 0, 1)], drum=True)):
        assert len(melody(score).notes) == 0 and len(bass(score).notes) == 0
        assert melody_track(score) is None and skyline_track(score) is None


def _phrase(tune: list[int], chords: list[list[int]], bar0: int) -> list[tuple[int, float, float]]:
    notes = []
    for b, chord in enumerate(chords):
        t = (bar0 + b) * 4
        notes += [(p, t, t + 4) for p in chord]
        notes += [(p, t + i, t + i + 1) for i, p in enumerate(tune[b * 4 : b * 4 + 4])]
    return notes


def test_sections_a_a_b_a() -> None:
    a_tune = [76, 74, 72, 74, 76, 76, 76, 76, 74, 74, 74, 74, 76, 79, 79, 79]
    a_chords = [[48, 52, 55], [48, 52, 55], [43, 47, 50], [48, 52, 55]]
    b_tune = [81, 81, 79, 77, 77, 77, 76, 76, 74, 74, 72, 71, 69, 69, 69, 69]
    b_chords = [[41, 45, 48], [41, 45, 48], [45, 48, 52], [45, 48, 52]]
    notes = (
        _phrase(a_tune, a_chords, 0)
        + _phrase(a_tune, a_chords, 4)
        + _phrase(b_tune, b_chords, 8)
        + _phrase(a_tune, a_chords, 12)
    )
    parts = sections(make_score(notes))
    assert [p.label for p in parts] == ["A", "A", "B", "A"]
    assert [p.start for p in parts] == [0, 16 * 480, 32 * 480, 48 * 480]


def test_sections_of_nothing() -> None:
    assert sections(make_score([])) == []
    assert [p.label for p in sections(make_score([(60, 0, 1)]))] == ["A"]
