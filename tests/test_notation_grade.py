"""MusicXML that a notation program takes as it is: notatable lengths on a beat's grid,
one voice for one line, ranges reported (never changed), and parts, part names and
measures kept from MusicXML in to MusicXML out."""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import pytest
import symusic
from music21 import converter, corpus, stream

from cadenza.compose.conditions import INSTRUMENTS
from cadenza.data.labels import compute_labels
from cadenza.io import load_score, out_of_range, save_score
from cadenza.io.notation_grid import Meter, QuantizedNote, notation_grid, quantize_track
from tests.helpers import make_score

_TPQ = 480


def _assert_notation_grade(path: Path, grids: tuple[int, ...] = (4, 3, 6)) -> list[tuple[float, int]]:
    """Every note and rest of a written file a single (possibly dotted or triplet)
    value on the 16th or triplet grid; gives (offset, pitch) of its notes, ties merged."""
    parsed = converter.parse(path)
    for part in parsed.parts:
        for element in part.flatten().notesAndRests:
            length = Fraction(element.duration.quarterLength)
            assert element.duration.type not in ("complex", "inexpressible"), (element, length)
            assert any((length * d).denominator == 1 for d in grids), (element, length)
    return sorted((float(n.offset), p.midi) for n in parsed.flatten().stripTies().notes for p in n.pitches)


def _humanised(onsets: list[Fraction], length: Fraction, seed: int) -> list[tuple[int, float, float]]:
    rng = random.Random(seed)
    notes = []
    for i, onset in enumerate(onsets):
        start = float(onset) + rng.randint(-10, 10) / _TPQ
        end = float(onset + length) + rng.randint(-10, 10) / _TPQ
        notes.append((60 + i % 12, start, end))
    return notes


def test_sixteenths_triplets_and_sloppy_timing_are_written_as_notation_values(tmp_path: Path) -> None:
    sixteenths = [Fraction(k, 4) for k in range(8)]  # bar 1, beats 1-2
    triplets = [2 + Fraction(k, 3) for k in range(6)]  # bar 1, beats 3-4
    notes = _humanised(sixteenths, Fraction(1, 4), 1) + _humanised(triplets, Fraction(1, 3), 2)
    # a model's 1/12-quarter grid: a 16th beside a triplet made a 5/12-quarter note
    notes += [(72, 4, 4.25), (74, 4.25, 4 + 2 / 3), (76, 4 + 2 / 3, 5), (77, 5 + 1 / 12, 5 + 7 / 12)]
    notes += [(79, 5 + 2 / 3, 7.25)]  # from a triplet across beats into a 16th: tied pieces
    # (beat 6 holds onsets at 1/12 and 2/3 of it: its grid is the triplet's, which moves them least)
    out = save_score(make_score(notes), tmp_path / "sloppy.musicxml")
    written = _assert_notation_grade(out)
    expected_onsets = [float(o) for o in sixteenths + triplets] + [4.0, 4.25, 4.75, 5.0, 5 + 2 / 3]
    assert [offset for offset, _ in written] == expected_onsets


@pytest.mark.datasets
@pytest.mark.parametrize("song_id", ["001", "050"])
def test_a_pop909_melody_is_written_as_notation_values(datasets: Path, tmp_path: Path, song_id: str) -> None:
    song = load_score(datasets / "pop909" / song_id / f"{song_id}.mid")
    melody = next(t for t in song.tracks if t.name == "MELODY")
    score = song.copy()
    score.tracks.clear()
    score.tracks.append(melody)
    out = save_score(score, tmp_path / "melody.musicxml")
    assert b"<backup>" not in out.read_bytes()  # one voice (050's double stop at beat 170.8 opened a second)
    written = _assert_notation_grade(out)
    assert len(written) == len(melody.notes)
    assert [p for _, p in written] == [n.pitch for n in sorted(melody.notes, key=lambda n: (n.time, n.pitch))]
    back = load_score(out)
    assert len(back.tracks) == 1 and back.tracks[0].name == "MELODY"
    grid = notation_grid(score).tracks[0].notes
    assert [(n.time, n.end, n.pitch) for n in back.tracks[0].notes] == [(n.time, n.end, n.pitch) for n in grid]


def _voices_and_backups(path: Path) -> tuple[int, int]:
    parsed = converter.parse(path)
    voices = sum(len(m.voices) for part in parsed.parts for m in part.getElementsByClass(stream.Measure))
    return voices, path.read_bytes().count(b"<backup>")


@pytest.mark.parametrize("overlap_ticks", [10, 80])
def test_a_line_held_a_little_into_each_next_note_is_one_voice(tmp_path: Path, overlap_ticks: int) -> None:
    overlap = overlap_ticks / _TPQ
    line = [(60 + (i * 5) % 12, i * 0.5, (i + 1) * 0.5 + overlap) for i in range(15)]
    line += [(67, 7.5, 8 + overlap), (72, 7.5, 7.75)]  # a chord stays a chord, though ragged
    out = save_score(make_score(line), tmp_path / "legato.musicxml")
    assert _voices_and_backups(out) == (0, 0)
    parsed = converter.parse(out)
    assert len(parsed.parts[0].flatten().stripTies().getElementsByClass("Chord")) == 1
    assert len(_assert_notation_grade(out)) == 17


def test_a_line_with_one_note_held_under_the_next_is_still_one_voice(tmp_path: Path) -> None:
    line = [(60 + i % 7, i, i + 1) for i in range(20)]
    line[5] = (65, 5, 7.5)  # held long into the next two notes, once in twenty
    out = save_score(make_score(line), tmp_path / "held.musicxml")
    assert _voices_and_backups(out) == (0, 0)
    assert len(_assert_notation_grade(out)) == 20


def test_a_held_bass_under_a_moving_line_keeps_two_voices(tmp_path: Path) -> None:
    notes = [(36, 0, 4)] + [(60 + i, i / 2, (i + 1) / 2) for i in range(8)]
    out = save_score(make_score(notes), tmp_path / "bass.musicxml")
    voices, backups = _voices_and_backups(out)
    assert voices == 2 and backups == 1
    assert len(_assert_notation_grade(out)) == 9


def test_out_of_range_counts_notes_outside_each_instruments_range_and_the_writer_keeps_them(tmp_path: Path) -> None:
    violin = INSTRUMENTS["violin"]
    score = make_score([(violin.low - 5, 0, 1), (violin.low, 1, 2), (violin.high + 1, 2, 3)], program=violin.program)
    cello = symusic.Track(name="cello", program=INSTRUMENTS["cello"].program)
    cello.notes.append(symusic.Note(0, _TPQ, 48, 80))
    drums = symusic.Track(name="drums", program=0, is_drum=True)
    drums.notes.append(symusic.Note(0, _TPQ, 127, 80))
    odd = symusic.Track(name="sitar", program=104)  # no range known: not judged
    odd.notes.append(symusic.Note(0, _TPQ, 20, 80))
    for track in (cello, drums, odd):
        score.tracks.append(track)
    assert out_of_range(score, INSTRUMENTS.values()) == [(0, 2)]
    out = save_score(score, tmp_path / "ranges.musicxml")
    assert [p for _, p in _assert_notation_grade(out)][:4] == [20, 48, violin.low - 5, 127]
    assert out_of_range(load_score(out), INSTRUMENTS.values())[0] == (0, 2)  # (drums come back as a piano part)


def _measures(parsed: stream.Score) -> list[list[int | str]]:
    return [[m.number for m in part.getElementsByClass(stream.Measure)] for part in parsed.parts]


def _notes_by_part(parsed: stream.Score) -> list[list[tuple[float, int]]]:
    """(offset, pitch) of each part's sounding notes, ties merged, grace notes left out."""
    sounding = ((part, n) for part in parsed.parts for n in part.flatten().stripTies().notes if n.quarterLength)
    by_part: dict[int, list[tuple[float, int]]] = {id(part): [] for part in parsed.parts}
    for part, n in sounding:
        by_part[id(part)] += [(float(n.offset), p.midi) for p in n.pitches]
    return [sorted(by_part[id(part)]) for part in parsed.parts]


@pytest.mark.parametrize("work", ["bach/bwv66.6", "mozart/k156/movement4"])
def test_musicxml_round_trip_keeps_parts_names_measures_and_notes(work: str, tmp_path: Path) -> None:
    source = corpus.getWork(work)
    original = converter.parse(source)
    out = save_score(load_score(source), tmp_path / "back.musicxml")
    back = converter.parse(out)
    assert [p.partName for p in back.parts] == [p.partName for p in original.parts]
    assert len(back.parts) >= 4
    assert _measures(back) == _measures(original)
    assert _notes_by_part(back) == _notes_by_part(original)
    _assert_notation_grade(out, grids=(4, 3, 6, 8))  # Mozart writes 32nds


def test_a_pickup_is_read_as_a_short_first_bar_and_written_back_as_measure_0(tmp_path: Path) -> None:
    score = load_score(corpus.getWork("bach/bwv66.6"))  # a quarter's pickup before 4/4 bars
    assert [(t.time, t.numerator, t.denominator) for t in score.time_signatures] == [(0, 1, 4), (_TPQ, 4, 4)]
    assert compute_labels(score).meter == "4/4"  # the piece's meter, not the pickup's
    out = save_score(score, tmp_path / "pickup.musicxml")
    assert b'<measure implicit="yes" number="0">' in out.read_bytes()
    first = converter.parse(out).parts[0].getElementsByClass(stream.Measure)[0]
    assert (first.number, first.paddingLeft, first.timeSignature.ratioString) == (0, 3.0, "4/4")
    again = load_score(out)
    assert [(t.time, t.numerator, t.denominator) for t in again.time_signatures] == [(0, 1, 4), (_TPQ, 4, 4)]


def test_a_midi_pickup_bar_is_written_as_a_pickup(tmp_path: Path) -> None:
    score = make_score([(67, 0, 0.5), (69, 0.5, 1), (71, 1, 5)], meter=(3, 4))
    score.time_signatures.clear()
    score.time_signatures.append(symusic.TimeSignature(0, 1, 4))
    score.time_signatures.append(symusic.TimeSignature(_TPQ, 3, 4))
    parsed = converter.parse(save_score(score, tmp_path / "pickup.musicxml"))
    measures = parsed.parts[0].getElementsByClass(stream.Measure)
    assert [m.number for m in measures] == [0, 1, 2]
    assert measures[0].timeSignature.ratioString == "3/4" and measures[0].paddingLeft == 2.0


def _random_sketch(seed: int) -> symusic.Score:
    """Two tracks of overlapping notes on a model's 1/12-quarter grid, some nudged off
    it, in changing meters (3/8, 5/8, 7/8 and the like among them)."""
    rng = random.Random(seed)
    score = symusic.Score(_TPQ)
    time = 0
    for _ in range(3):
        numerator, denominator = rng.choice([(4, 4), (3, 4), (6, 8), (5, 8), (7, 8), (2, 2), (3, 8), (5, 4)])
        score.time_signatures.append(symusic.TimeSignature(time, numerator, denominator))
        time += rng.randint(1, 4) * _TPQ * 4 * numerator // denominator
    for index in range(2):
        track = symusic.Track(name=f"track {index}", program=0)
        for pitch in rng.sample(range(40, 90), 40):  # no unison to read back ambiguously
            start = rng.randint(0, 12 * 24) * 40 + rng.choice([0, 0, rng.randint(-15, 15)])
            length = rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 12, 18, 30]) * 40 + rng.randint(-10, 10)
            track.notes.append(symusic.Note(max(0, start), length, pitch, 80))
        score.tracks.append(track)
    return score


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_overlapping_voices_in_changing_meters_are_written_as_notation_values(seed: int, tmp_path: Path) -> None:
    # (seed 1: music21 split a dotted eighth after part of a 16th triplet into 1/3 + 5/12)
    score = _random_sketch(seed)
    out = save_score(score, tmp_path / "sketch.musicxml")
    assert save_score(score, tmp_path / "again.musicxml").read_bytes() == out.read_bytes()
    _assert_notation_grade(out, grids=(4, 3, 6))
    back = load_score(out)  # cadenza's reader joins ties within each voice
    written = {(Fraction(n.time, back.tpq), Fraction(n.end, back.tpq), n.pitch) for t in back.tracks for n in t.notes}
    assert written == {(n.start, n.end, n.pitch) for n in _grid_notes(score)}


def _grid_notes(score: symusic.Score) -> list[QuantizedNote]:
    meter = Meter.of(score)
    notes = []
    for track in score.tracks:
        quantized, _ = quantize_track(
            ((Fraction(n.time, _TPQ), Fraction(n.end, _TPQ), n.pitch, n.velocity) for n in track.notes), meter
        )
        notes += quantized
    return notes


def test_a_dotted_quarters_pickup_in_3_4_comes_back_as_measure_0(tmp_path: Path) -> None:
    from music21 import meter, note

    part = stream.Part()
    part.partName = "Flute"
    pickup = stream.Measure(number=0)
    pickup.timeSignature = meter.TimeSignature("3/4")
    pickup.paddingLeft = 1.5
    pickup.append(note.Note("G4", quarterLength=1.5))
    part.append(pickup)
    for number in (1, 2):
        bar = stream.Measure(number=number)
        bar.append(note.Note("C5", quarterLength=3))
        part.append(bar)
    source = stream.Score([part])
    path = tmp_path / "source.musicxml"
    source.write("musicxml", fp=path)
    score = load_score(path)
    assert [(t.time, t.numerator, t.denominator) for t in score.time_signatures] == [(0, 3, 8), (720, 3, 4)]
    back = converter.parse(save_score(score, tmp_path / "back.musicxml"))
    assert _measures(back) == [[0, 1, 2]]
    first = back.parts[0].getElementsByClass(stream.Measure)[0]
    assert (first.paddingLeft, first.timeSignature.ratioString) == (1.5, "3/4")
    assert _notes_by_part(back) == [[(0.0, 67), (1.5, 72), (4.5, 72)]]
