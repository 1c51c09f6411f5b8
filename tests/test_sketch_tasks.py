"""The composer commands on real music: the user's notes are kept outside the region,
the output parses back, and the record says what the model wrote."""

from __future__ import annotations

import json
from pathlib import Path

import mido
import pytest
import symusic
from typer.testing import CliRunner

from cadenza.cli import app
from cadenza.compose.composer import Composer
from cadenza.compose.edit import Edit
from cadenza.compose.ensemble import arrange_for, ensemble
from cadenza.compose.sketch import Sketch, parse_bars
from cadenza.compose.tasks import accompany, continue_sketch, harmonize, infill_sketch, vary
from cadenza.errors import InvalidArgumentError
from cadenza.models import multitrack_tokens as mt
from cadenza.models.sampling import Sampling

runner = CliRunner()
SEED = Sampling(seed=3)


@pytest.fixture(scope="module")
def composer() -> Composer:
    return Composer.from_pretrained("cadenza-multitrack")


# ----------------------------------------------------------------------------- files
def jsb_soprano(datasets: Path, number: int = 0) -> symusic.Score:
    """The soprano of a JSB test chorale, as the chorales file gives it (16th steps)."""
    steps = json.loads((datasets / "jsb-chorales" / "Jsb16thSeparated.json").read_text())["test"][number]
    score = symusic.Score(480)
    score.tempos.append(symusic.Tempo(0, qpm=80.0))
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    track = symusic.Track(name="Soprano", program=52)
    start, current = 0, -1
    for index, frame in enumerate([*steps, [-1] * 4]):
        if frame[0] != current:
            if current >= 0:
                track.notes.append(symusic.Note(start * 120, (index - start) * 120, int(current), 80))
            start, current = index, frame[0]
    score.tracks.append(track)
    return score


def pop909_melody(datasets: Path, bars: int = 12) -> symusic.Score:
    """POP909 song 001's MELODY track alone (it starts after a lead-in), its first bars."""
    score = symusic.Score(datasets / "pop909" / "001" / "001.mid")
    end = Sketch.of(score).bar_start(bars)
    melody = next(t for t in score.tracks if t.name == "MELODY")
    score.tracks.clear()
    melody.notes = melody.notes.filter(lambda n: n.time < end)  # type: ignore[attr-defined]
    score.tracks.append(melody)
    return score


def lead_in_with_tempo_map(path: Path, tpq: int = 960) -> Path:
    """A 3/4 tune starting after a 2-bar lead-in, a tempo map of three tempi, the melody on
    channel 3 with a volume controller and a sustain pedal, a bass on channel 5."""
    file = mido.MidiFile(ticks_per_beat=tpq)
    conductor = mido.MidiTrack(
        [
            mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0),
            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90), time=0),
            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(100), time=4 * 3 * tpq),
            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(84), time=4 * 3 * tpq),
        ]
    )
    file.tracks.append(conductor)
    tune = [72, 74, 76, 77, 79, 77, 76, 74, 72, 71, 72, 74, 76, 74, 72, 71, 69, 71, 72, 72, 71, 72, 74, 72]
    bass = [48, 43, 45, 41, 43, 48, 41, 43]
    for name, channel, program, pitches, length in (("Melody", 3, 73, tune, tpq), ("Bass", 5, 32, bass, 3 * tpq)):
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
        track.append(mido.Message("program_change", channel=channel, program=program, time=0))
        track.append(mido.Message("control_change", channel=channel, control=7, value=100, time=0))
        delay = 2 * 3 * tpq  # the lead-in
        for i, pitch in enumerate(pitches):
            if channel == 3 and i == 4:
                track.append(mido.Message("control_change", channel=channel, control=64, value=127, time=delay))
                delay = 0
            track.append(mido.Message("note_on", channel=channel, note=pitch, velocity=70 + i % 3, time=delay))
            track.append(mido.Message("note_off", channel=channel, note=pitch, velocity=0, time=length))
            delay = 0
        file.tracks.append(track)
    file.save(path)
    return path


# --------------------------------------------------------------------------- checks
def _grid_bar(time: int, tpq: int, meter: str) -> int:
    return round(time * mt.RESOLUTION / tpq) // mt.bar_ticks(meter)


def assert_kept(before: symusic.Score, after: symusic.Score, edit_cells: set[tuple[int, int]], meter: str) -> None:
    """Every track of ``before`` in ``after`` with its name and program, and every note of
    it outside the edited cells, controllers, pedals, tempos, meters and keys unchanged."""
    tpq = before.ticks_per_quarter
    assert after.ticks_per_quarter == tpq
    assert len(after.tracks) >= len(before.tracks)
    for t, (old, new) in enumerate(zip(before.tracks, after.tracks, strict=False)):
        assert (new.name, new.program, new.is_drum) == (old.name, old.program, old.is_drum)

        def outside(track: symusic.Track, t: int = t) -> list[tuple[int, int, int, int]]:
            return sorted(
                (n.time, n.duration, n.pitch, n.velocity)
                for n in track.notes
                if (t, _grid_bar(n.time, tpq, meter)) not in edit_cells
            )

        assert outside(new) == outside(old)
        assert [(c.time, c.number, c.value) for c in new.controls] == [
            (c.time, c.number, c.value) for c in old.controls
        ]
    assert [(x.time, x.mspq) for x in after.tempos] == [(x.time, x.mspq) for x in before.tempos]
    assert [(x.time, x.numerator, x.denominator) for x in after.time_signatures] == [
        (x.time, x.numerator, x.denominator) for x in before.time_signatures
    ]


def cells_of(edit: Edit) -> set[tuple[int, int]]:
    return set(edit.cells)


def written_notes(edit: Edit) -> int:
    return edit.generated_notes()


# ----------------------------------------------------------------------------- API
def test_continue_adds_bars_in_the_key_and_keeps_the_jsb_soprano(composer: Composer, datasets: Path) -> None:
    score = jsb_soprano(datasets)
    sketch = Sketch.of(score)
    edit = continue_sketch(composer, sketch, 4, SEED)
    assert {b for _, b in edit.cells} == set(range(sketch.bars, sketch.bars + 4))
    assert_kept(score, edit.score, cells_of(edit), sketch.meter)
    new = [n for n in edit.score.tracks[0].notes if n.time >= sketch.bar_start(sketch.bars)]
    assert len(new) >= 4  # a soprano line goes on
    scale = sketch.scale_at(sketch.bars - 1)
    assert all(n.pitch % 12 in scale for n in new)  # in the key the chorale ends in
    assert max(n.time + n.duration for n in new) <= sketch.bar_start(sketch.bars + 4)


def test_infill_rewrites_only_the_bars_and_tracks_asked(composer: Composer, tmp_path: Path) -> None:
    score = symusic.Score(lead_in_with_tempo_map(tmp_path / "tune.mid"))
    sketch = Sketch.of(score)
    assert sketch.meter == "3/4" and sketch.score.ticks_per_quarter == 960
    melody = sketch.track("melody")
    edit = infill_sketch(composer, sketch, range(3, 5), [melody], SEED)
    assert edit.cells == tuple((melody, b) for b in range(3, 5))
    assert_kept(score, edit.score, cells_of(edit), sketch.meter)
    assert edit.score.tracks[1].notes == score.tracks[1].notes  # the other track: every note as it was
    low, high = 60, 96  # the flute's range
    assert all(low <= n.pitch <= high for n in edit.score.tracks[melody].notes)


def test_harmonize_chorale_adds_alto_tenor_bass_under_a_jsb_soprano(composer: Composer, datasets: Path) -> None:
    score = jsb_soprano(datasets, 1)
    sketch = Sketch.of(score)
    edit = harmonize(composer, sketch, style="chorale", sampling=SEED)
    assert [t.name for t in edit.score.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert edit.score.tracks[0].notes == score.tracks[0].notes  # the soprano, note for note
    assert edit.new_tracks == (1, 2, 3)
    for track, (low, high) in zip(edit.score.tracks[1:], ((52, 74), (46, 69), (36, 66)), strict=True):
        assert len(track.notes) >= sketch.bars  # a voice that sings
        assert all(low <= n.pitch <= high for n in track.notes)
    tonic, mode = sketch.key_at(sketch.bars - 1)
    from cadenza.theory import PITCH_NAMES, chord_pitch_classes

    last_bass = max(edit.score.tracks[3].notes, key=lambda n: n.time)
    assert last_bass.pitch % 12 in chord_pitch_classes(f"{PITCH_NAMES[tonic]}:{mode}")  # a cadence on the tonic
    soprano_end = max(n.time + n.duration for n in score.tracks[0].notes)
    assert max(n.time + n.duration for t in edit.score.tracks for n in t.notes) <= sketch.bar_start(sketch.bars)
    assert soprano_end <= sketch.bar_start(sketch.bars)


def test_accompany_a_pop909_melody_follows_chords_and_keeps_the_lead_in(composer: Composer, datasets: Path) -> None:
    score = pop909_melody(datasets)
    sketch = Sketch.of(score)
    first_note = min(n.time for n in score.tracks[0].notes)
    assert first_note > 0  # the song starts after a lead-in
    edit = accompany(composer, sketch, instruments=["piano", "bass"], sampling=SEED)
    assert [t.name for t in edit.score.tracks] == ["MELODY", "piano", "bass"]
    assert edit.score.tracks[0].notes == score.tracks[0].notes
    chords = edit.settings["chords"]
    assert isinstance(chords, list) and len(chords) == sketch.bars
    from cadenza.theory import chord_pitch_classes

    bass = edit.score.tracks[2]
    assert all(28 <= n.pitch <= 67 for n in bass.notes)
    held = sum(n.pitch % 12 in chord_pitch_classes(chords[int(n.time // sketch.bar_ticks)]) for n in bass.notes)
    assert held == len(bass.notes)  # the bass keeps to each bar's chord


def test_vary_keeps_form_and_changes_more_with_a_larger_amount(composer: Composer, datasets: Path) -> None:
    score = jsb_soprano(datasets, 2)
    sketch = Sketch.of(score)
    assert vary(composer, sketch, amount=0.0, sampling=SEED).score.tracks[0].notes == score.tracks[0].notes
    small = vary(composer, sketch, amount=0.25, sampling=SEED)
    large = vary(composer, sketch, amount=1.0, sampling=SEED)
    assert (
        len(small.cells)
        < len(large.cells)
        == sketch.bars - sum(1 for b in range(sketch.bars) if sketch.notes_in(0, range(b, b + 1)) == 0)
    )
    assert_kept(score, small.score, cells_of(small), sketch.meter)

    def changed(edit: Edit) -> int:
        old = {(n.time, n.pitch) for n in score.tracks[0].notes}
        return sum((n.time, n.pitch) not in old for n in edit.score.tracks[0].notes)

    assert changed(small) < changed(large)
    assert vary(composer, sketch, amount=0.25, sampling=SEED).score.tracks[0].notes == small.score.tracks[0].notes


def test_arrange_gives_every_note_to_a_part_in_range(datasets: Path) -> None:
    score = symusic.Score(Path(__file__).resolve().parents[1] / "cadenza" / "examples" / "bwv66.6.mid")
    parts = ensemble(["violin", "violin", "viola", "cello"])
    out = arrange_for(score, parts)
    assert [t.name for t in out.tracks] == ["violin 1", "violin 2", "viola", "cello"]
    assert sum(len(t.notes) for t in out.tracks) == sum(len(t.notes) for t in score.tracks)
    for track, instrument in zip(out.tracks, parts, strict=True):
        assert all(instrument.low <= n.pitch <= instrument.high for n in track.notes)
        times = [n.time for n in track.notes]
        assert times == sorted(times) and len(set(times)) == len(times)  # one line per part
    onsets = sorted({n.time for t in score.tracks for n in t.notes})
    assert onsets == sorted({n.time for t in out.tracks for n in t.notes})
    # SATB to a string quartet: where four voices sound, the parts keep their order
    four = [t for t in onsets if sum(any(n.time == t for n in tr.notes) for tr in out.tracks) == 4]
    ordered = 0
    for time in four:
        pitches = [next(n.pitch for n in tr.notes if n.time == time) for tr in out.tracks]
        ordered += pitches == sorted(pitches, reverse=True)
    assert ordered >= 0.9 * len(four)


def test_same_seed_same_music(composer: Composer, datasets: Path) -> None:
    sketch = Sketch.of(jsb_soprano(datasets, 3))
    one = harmonize(composer, sketch, style="chorale", sampling=SEED).score
    two = harmonize(composer, sketch, style="chorale", sampling=SEED).score
    assert one.dumps_midi() == two.dumps_midi()


# ----------------------------------------------------------------------------- requests
def test_parse_bars() -> None:
    assert parse_bars("9-12") == range(8, 12)
    assert parse_bars("5") == range(4, 5)
    for bad in ("0", "12-9", "x", "-3"):
        with pytest.raises(InvalidArgumentError):
            parse_bars(bad)


def test_no_melody_to_harmonize_is_refused(composer: Composer) -> None:
    score = symusic.Score(480)
    chords = symusic.Track(name="Piano", program=0)
    for bar in range(4):
        for pitch in (60, 64, 67, 72):
            chords.notes.append(symusic.Note(bar * 1920, 1920, pitch, 80))
    other = symusic.Track(name="Strings", program=48)
    other.notes.append(symusic.Note(0, 7680, 48, 60))
    score.tracks.extend([chords, other])
    with pytest.raises(InvalidArgumentError, match="no melody to harmonize"):
        harmonize(composer, Sketch.of(score), style="chorale", sampling=SEED)
    del score.tracks[1]
    with pytest.raises(InvalidArgumentError, match="holds chords"):
        harmonize(composer, Sketch.of(score), style="chorale", sampling=SEED)


# ----------------------------------------------------------------------------- commands
def _midi_events(path: Path) -> list[list[tuple[str, object]]]:
    """Each track's events as (type, values), note events left out, absolute times."""
    tracks = []
    for track in mido.MidiFile(path).tracks:
        now, events = 0, []
        for message in track:
            now += message.time
            if message.type not in ("note_on", "note_off") and not (
                message.is_meta and message.type in ("marker", "end_of_track")
            ):
                events.append((now, str(message.copy(time=0))))
        tracks.append(events)
    return tracks


def test_infill_command_keeps_the_users_midi_file_outside_the_bars(tmp_path: Path) -> None:
    source = lead_in_with_tempo_map(tmp_path / "tune.mid")
    out = tmp_path / "filled.mid"
    result = runner.invoke(app, ["infill", str(source), "--bars", "4-5", "--tracks", "Melody", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Melody bars 4-5" in result.output
    assert _midi_events(out)[: len(_midi_events(source))] == _midi_events(source)  # channels, controllers, tempi
    before, after = symusic.Score(source), symusic.Score(out)
    assert_kept(before, after, {(0, 3), (0, 4)}, "3/4")
    bass_in = [m for m in mido.MidiFile(source).tracks[2]]
    bass_out = [m for m in mido.MidiFile(out).tracks[2]]
    assert bass_out == bass_in  # a track the edit leaves alone: every event as it was
    record = json.loads((tmp_path / "filled.mid.provenance.json").read_text())
    assert record["conditions"]["task"] == "infill"
    assert record["conditions"]["generated"] == [{"track": 1, "name": "Melody", "bars": ["4-5"], "new": False}]
    assert record["conditions"]["source"]["file"] == "tune.mid"
    assert record["originality"]["covers"] == "the notes the model wrote"
    verify = runner.invoke(app, ["verify", str(out)])
    assert verify.exit_code == 0, verify.output


def test_harmonize_command_musicxml_keeps_the_part_and_measures(tmp_path: Path) -> None:
    import music21

    source = tmp_path / "tune.musicxml"
    chorale = music21.corpus.parse("bach/bwv66.6")
    soprano = music21.stream.Score([chorale.parts[0]])
    soprano.write("musicxml", fp=str(source))
    out = tmp_path / "harmonized.musicxml"
    result = runner.invoke(app, ["harmonize", str(source), "--style", "chorale", "-o", str(out)])
    assert result.exit_code == 0, result.output
    written = music21.converter.parse(str(out))
    assert [p.partName for p in written.parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    original = music21.converter.parse(str(source)).parts[0]
    pitches = [(float(n.offset), n.pitch.midi, float(n.quarterLength)) for n in original.stripTies().flatten().notes]
    kept = [
        (float(n.offset), n.pitch.midi, float(n.quarterLength)) for n in written.parts[0].stripTies().flatten().notes
    ]
    assert kept == pitches
    assert len(written.parts[0].getElementsByClass("Measure")) == len(original.getElementsByClass("Measure"))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["infill", "{tune}", "--bars", "40-44"], "outside the piece"),
        (["infill", "{tune}", "--bars", "2-3", "--tracks", "Flute"], "no track 'Flute'"),
        (["accompany", "{tune}", "--instruments", "piano,kazoo"], "unknown instrument 'kazoo'"),
        (["arrange", "{tune}", "--instruments", "violin,theremin"], "unknown instrument 'theremin'"),
        (["harmonize", "{chords}"], "no melody to harmonize"),
        (["vary", "{tune}", "--amount", "1.5"], "--amount must be from 0 to 1"),
        (["continue", "{tune}", "--bars", "0"], "--bars must be from 1"),
    ],
)
def test_bad_requests_get_one_line_and_exit_2(tmp_path: Path, arguments: list[str], message: str) -> None:
    tune = lead_in_with_tempo_map(tmp_path / "tune.mid")
    chords = tmp_path / "chords.mid"
    score = symusic.Score(480)
    track = symusic.Track(name="Pad", program=88)
    for pitch in (48, 52, 55, 60):
        track.notes.append(symusic.Note(0, 3840, pitch, 70))
    track2 = symusic.Track(name="Keys", program=0)
    for pitch in (60, 64, 67):
        track2.notes.append(symusic.Note(0, 3840, pitch, 70))
    score.tracks.extend([track, track2])
    score.dump_midi(chords)
    args = [a.format(tune=tune, chords=chords) for a in arguments] + ["-o", str(tmp_path / "out.mid")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.output
    assert not (tmp_path / "out.mid").exists()


def test_an_existing_output_is_refused_and_kept(tmp_path: Path) -> None:
    tune = lead_in_with_tempo_map(tmp_path / "tune.mid")
    original = tune.read_bytes()
    out = tmp_path / "out.mid"
    out.write_bytes(b"mine")
    result = runner.invoke(app, ["continue", str(tune), "--bars", "2", "-o", str(out)])
    assert result.exit_code == 2
    assert out.read_bytes() == b"mine"
    same = runner.invoke(app, ["continue", str(tune), "--bars", "2", "-o", str(tune), "--force"])
    assert same.exit_code == 2 and "is the input file" in same.output
    assert tune.read_bytes() == original


def test_a_track_name_shared_by_two_tracks_asks_for_a_number() -> None:
    score = symusic.Score(480)
    for name in ("Alto", "Alto", "Bass"):
        track = symusic.Track(name=name)
        track.notes.append(symusic.Note(0, 480, 60, 80))
        score.tracks.append(track)
    sketch = Sketch.of(score)
    with pytest.raises(InvalidArgumentError, match="tracks 1, 2 are all named 'alto'"):
        sketch.track("alto")
    assert sketch.track("2") == 1 and sketch.track("BASS") == 2


def test_accompany_command_splices_into_the_users_midi_file(tmp_path: Path) -> None:
    """Chord notes folded onto one key at once were two notes MIDI cannot hold apart: the
    file had to be written anew, the user's bytes and channels lost."""
    source = Path(__file__).resolve().parents[1] / "cadenza" / "examples" / "melody.mid"
    out = tmp_path / "accompanied.mid"
    result = runner.invoke(app, ["accompany", str(source), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "cannot be put into the file" not in result.output
    original, written = mido.MidiFile(source), mido.MidiFile(out)
    assert [m for m in written.tracks[0] if m.type != "marker"] == list(original.tracks[0])  # the tune, event for event
    assert len(written.tracks) == len(original.tracks) + 2
    for track in symusic.Score(out).tracks[1:]:
        keys = [(n.time, n.pitch) for n in track.notes]
        assert len(keys) == len(set(keys))


def test_a_request_for_thousands_of_bars_is_refused_before_any_work(composer: Composer) -> None:
    """A few kilobytes of MIDI can state 1,400 bars: harmonizing them would decode for an hour."""
    score = symusic.Score(480)
    tune = symusic.Track(name="Melody")
    for bar in range(1400):
        tune.notes.append(symusic.Note(bar * 1920, 960, 60 + bar % 5, 80))
    score.tracks.append(tune)
    sketch = Sketch.of(score)
    with pytest.raises(InvalidArgumentError, match="more than 4096 in one request"):
        harmonize(composer, sketch, style="chorale", sampling=SEED)
    with pytest.raises(InvalidArgumentError, match="more than 4096 in one request"):
        accompany(composer, sketch, instruments=["piano", "guitar", "bass"], sampling=SEED)


def test_a_piece_too_large_to_read_is_refused_before_it_is_tokenized(composer: Composer) -> None:
    """400 tracks of 600 bars: a four-bar infill would tokenize 240,000 bars of tracks each pass."""
    score = symusic.Score(480)
    for t in range(400):
        track = symusic.Track(name=f"T{t}")
        track.notes.append(symusic.Note(0, 480, 60, 80))
        track.notes.append(symusic.Note(599 * 1920, 480, 62, 80))
        score.tracks.append(track)
    sketch = Sketch.of(score)
    with pytest.raises(InvalidArgumentError, match="more than the 200000 bars of tracks"):
        infill_sketch(composer, sketch, range(3, 5), [0], SEED)
    with pytest.raises(InvalidArgumentError, match="more than the 200000 bars of tracks"):
        vary(composer, sketch, amount=0.5, sampling=SEED)
