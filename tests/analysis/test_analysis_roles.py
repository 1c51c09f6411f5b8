"""Track roles and registers from the notes."""

from __future__ import annotations

import symusic
from analysis_scores import make_score

from cadenza.analysis import track_profiles, track_roles
from cadenza.analysis.roles import register_of


def _voice(pitches: list[int], start: float = 0.0, beats: float = 1.0) -> list[tuple[int, float, float]]:
    return [(p, start + i * beats, start + (i + 1) * beats) for i, p in enumerate(pitches)]


SATB = {
    "S": [72, 71, 72, 74, 76, 74, 72, 71, 72],
    "A": [67, 67, 69, 67, 67, 67, 65, 67, 64],
    "T": [64, 62, 60, 59, 60, 62, 57, 62, 55],
    "B": [48, 55, 53, 55, 48, 47, 53, 43, 48],
}


def test_four_voices_of_a_chorale_by_hand() -> None:
    # named neutrally and listed out of order: the roles come from the notes
    score = make_score(_voice(SATB["T"]), name="v1", extra_tracks=[(f"v{i}", _voice(SATB[v])) for i, v in
                       ((2, "B"), (3, "S"), (4, "A"))])  # fmt: skip
    assert track_roles(score) == ["counter_melody", "bass", "melody", "counter_melody"]
    assert [p.register for p in track_profiles(score)] == ["mid", "low", "high", "mid"]


def test_bach_chorale_voices(chorale: symusic.Score) -> None:
    roles = dict(zip((t.name for t in chorale.tracks), track_roles(chorale), strict=True))
    assert roles == {"Soprano": "melody", "Alto": "counter_melody", "Tenor": "counter_melody", "Bass": "bass"}


def test_pop_song_tracks() -> None:
    # a sung tune that a sparse descant sometimes tops, piano chords, drums, an empty track
    tune = _voice([64, 65, 67, 65, 64, 62, 60, 62] * 4)
    # the descant tops the tune on 18 of its 32 beats: a busy line below still counts
    phrase = [79, 81, 79, 77, 76, 77, 79, 81, 79]
    descant = _voice(phrase, start=4) + _voice(phrase, start=20)
    piano = [(p, b, b + 1) for b in range(32) for p in (48, 55, 60)]
    drums = _voice([36, 42] * 16)
    score = make_score(tune, name="t", extra_tracks=[("d", descant), ("p", piano), ("x", [])])
    score.tracks.append(symusic.Track(name="kit", is_drum=True))
    for n in (symusic.Note(round(s * 480), 480, p, 90) for p, s, _ in drums):
        score.tracks[-1].notes.append(n)
    assert track_roles(score) == ["melody", "counter_melody", "harmony", None, "percussion"]


def test_a_sole_track() -> None:
    assert track_roles(make_score(_voice([72, 74, 76]))) == ["melody"]
    assert track_roles(make_score(_voice([36, 43, 41]))) == ["bass"]
    assert track_roles(make_score([(p, 0, 4) for p in (60, 64, 67)])) == ["harmony"]
    assert track_roles(make_score([])) == [None]


def test_ties_go_to_the_lower_track_and_results_repeat() -> None:
    line = _voice([67, 69, 71, 72])
    score = make_score(line, extra_tracks=[("twin", line)])
    assert track_roles(score) == ["melody", "counter_melody"]
    assert track_profiles(score) == track_profiles(score.copy())


def test_register_bins() -> None:
    assert [register_of(p) for p in (30, 54.9, 55, 66.9, 67, 100)] == ["low", "low", "mid", "mid", "high", "high"]
