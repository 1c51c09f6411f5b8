"""The melody harmonizer: fitted counts in, chords under a tune out; its file refused when broken."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import symusic

from cadenza.analysis.melody import span_weights
from cadenza.errors import InputFileError
from cadenza.models.harmonizer import Harmonizer, default_harmonizer, spans_per_bar
from cadenza.train.harmonizer import hear


def _weights(*pitch_classes: int) -> np.ndarray:
    row = np.zeros(12)
    row[list(pitch_classes)] = 1.0
    return row


def test_a_fitted_harmonizer_hears_the_chord_a_tune_outlines() -> None:
    harmonizer = Harmonizer.empty()
    c, f, g = _weights(0, 4, 7), _weights(5, 9, 0), _weights(7, 11, 2)
    for _ in range(20):  # I IV V I in C major, the tune on the chords' tones
        harmonizer.add("pop", [(0, "maj")] * 4, ["C:maj", "F:maj", "G:maj", "C:maj"], np.stack([c, f, g, c]))
    assert harmonizer.chords(np.stack([c, g, f, c]), [(0, "maj")] * 4) == ["C:maj", "G:maj", "F:maj", "C:maj"]
    # in D major the same counts, relative to the key, give D G A
    d, g_, a = np.roll(c, 2), np.roll(f, 2), np.roll(g, 2)
    assert harmonizer.chords(np.stack([d, g_, a, d]), [(2, "maj")] * 4) == ["D:maj", "G:maj", "A:maj", "D:maj"]


def test_the_shipped_harmonizer_round_trips_and_puts_a_tonic_under_a_tonic_arpeggio() -> None:
    shipped = default_harmonizer()
    again = Harmonizer.from_dict(json.loads(json.dumps(shipped.to_dict())))
    tune = np.stack([_weights(7, 11, 2), _weights(7, 11, 2), _weights(0, 4, 7), _weights(0, 4, 7)])
    assert again.chords(tune, [(7, "maj")] * 4) == shipped.chords(tune, [(7, "maj")] * 4)
    assert shipped.chords(tune, [(7, "maj")] * 4)[0] == "G:maj"
    assert spans_per_bar("4/4") == 2 and spans_per_bar("3/4") == 1


@pytest.mark.parametrize("broken", [{"version": 99}, {"version": 1, "config": {}}, [1, 2], {"version": 1}])
def test_a_broken_harmonizer_file_is_refused_naming_it(tmp_path: Path, broken: object) -> None:
    path = tmp_path / "harmonizer.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(InputFileError, match="harmonizer"):
        Harmonizer.load(path)


def test_span_weights_count_beats_and_the_first_beat_twice() -> None:
    track = symusic.Track()
    track.notes.append(symusic.Note(0, 480, 60, 80))  # beat 1 of span 1: counts double
    track.notes.append(symusic.Note(480, 960, 64, 80))  # beats 2-3, across the half bar
    weights = span_weights(track, [0, 960, 1920], 480)
    assert weights[0, 0] == 2.0 and weights[0, 4] == 1.0
    assert weights[1, 4] == 2.0  # its second half lies on the second span's first beat


def test_hear_reads_the_tune_chords_and_keys_of_a_chorale() -> None:
    score = symusic.Score(Path(__file__).resolve().parents[1] / "cadenza" / "examples" / "bwv66.6.mid")
    heard = hear(score)
    assert heard is not None
    assert len(heard.keys) == len(heard.chords) == len(heard.weights)
    assert heard.keys[0] == (6, "min")  # F sharp minor
    assert heard.weights.sum() > 0
