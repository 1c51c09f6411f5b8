"""Splicing an edit into the user's own MIDI file: everything outside the edit is kept.

Each test makes a file (with mido, or takes a POP909 song), edits the notes of some bars of
one track or appends a track, splices the edit in, and reads the result back twice: with
mido, which must see exactly the original events outside the edit (channels, controllers,
tempos, meters, names, programs, note-off velocities; unchanged chunks byte for byte), and
with symusic, which must see the edited notes exactly.
"""

from __future__ import annotations

import io
from pathlib import Path

import mido
import pytest
import symusic

from cadenza.errors import InputFileError, OutputExistsError
from cadenza.io.midi import parse_midi_bytes
from cadenza.io.midi_edit import MidiSpliceError, splice_midi, write_midi_edit

Event = tuple[int, mido.Message | mido.MetaMessage]
NOTE_TYPES = ("note_on", "note_off")


def on(tick: int, channel: int, pitch: int, velocity: int = 80) -> Event:
    return tick, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)


def off(tick: int, channel: int, pitch: int, velocity: int = 0) -> Event:
    return tick, mido.Message("note_off", channel=channel, note=pitch, velocity=velocity)


def note(tick: int, length: int, channel: int, pitch: int, velocity: int = 80, off_velocity: int = 0) -> list[Event]:
    return [on(tick, channel, pitch, velocity), off(tick + length, channel, pitch, off_velocity)]


def named(name: str, channel: int, program: int) -> list[Event]:
    """A track's start: its name and program change."""
    return [
        (0, mido.MetaMessage("track_name", name=name)),
        (0, mido.Message("program_change", channel=channel, program=program)),
    ]


def make_midi(*tracks: list[Event], tpq: int = 480, midi_type: int = 1) -> bytes:
    """A MIDI file of tracks given as (absolute tick, message) lists."""
    midi = mido.MidiFile(type=midi_type, ticks_per_beat=tpq)
    for events in tracks:
        track = mido.MidiTrack()
        last = 0
        for tick, message in sorted(events, key=lambda event: event[0]):
            track.append(message.copy(time=tick - last))
            last = tick
        midi.tracks.append(track)
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()


def events_of(data: bytes) -> list[list[Event]]:
    """Every track's events as mido reads them, with absolute ticks."""
    tracks = []
    for track in mido.MidiFile(file=io.BytesIO(data)).tracks:
        tick, events = 0, []
        for message in track:
            tick += message.time
            events.append((tick, message.copy(time=0)))
        tracks.append(events)
    return tracks


def chunks_of(data: bytes) -> list[bytes]:
    pos, chunks = 8 + int.from_bytes(data[4:8], "big"), []
    while pos < len(data):
        end = pos + 8 + int.from_bytes(data[pos + 4 : pos + 8], "big")
        chunks.append(data[pos:end])
        pos = end
    return chunks


def keys(track: symusic.Track) -> list[tuple[int, int, int, int]]:
    return sorted((n.time, n.duration, n.pitch, n.velocity) for n in track.notes)


def replace_region(before: symusic.Score, index: int, start: int, end: int) -> symusic.Score:
    """``before`` with the notes of track ``index`` that lie within [start, end] replaced by
    a new line of eighth notes (none overlapping a kept note of its pitch)."""
    after = before.copy()
    track = after.tracks[index]
    kept = [k for k in keys(track) if not (k[0] >= start and k[0] + k[1] <= end)]
    assert len(kept) < len(track.notes), "the region holds no notes to replace"
    step = before.tpq // 2
    new = []
    for number, tick in enumerate(range(start, end, step)):
        pitch = 55 + (number * 5) % 24
        if not any(k[2] == pitch and k[0] < tick + step and k[0] + k[1] > tick for k in kept):
            new.append((tick, step, pitch, 60 + number))
    track.notes.clear()
    track.notes.extend([symusic.Note(t, d, p, v) for t, d, p, v in kept + new])
    return after


def assert_reads_as(data: bytes, after: symusic.Score) -> None:
    """symusic reads the spliced file as ``after``, track for track and note for note."""
    score = parse_midi_bytes(data)
    assert [keys(t) for t in score.tracks] == [keys(t) for t in after.tracks]
    assert [(t.program, t.is_drum, t.name) for t in score.tracks] == [
        (t.program, t.is_drum, t.name) for t in after.tracks
    ]


def assert_kept_outside(original: bytes, spliced: bytes, changed: int, start: int, end: int, channel: int) -> None:
    """Outside chunk ``changed`` every chunk keeps its bytes; inside it, every event but a
    note's keeps its tick, order and values, and the notes before ``start`` and after
    ``end`` are the original's; the note events written in the region are on ``channel``."""
    old_chunks, new_chunks = chunks_of(original), chunks_of(spliced)
    assert len(old_chunks) == len(new_chunks)
    for number, (old, new) in enumerate(zip(old_chunks, new_chunks, strict=True)):
        if number != changed:
            assert old == new, f"chunk {number} changed"
    old_events, new_events = events_of(original)[changed], events_of(spliced)[changed]
    assert [e for e in new_events if e[1].type not in NOTE_TYPES] == [
        e for e in old_events if e[1].type not in NOTE_TYPES
    ]
    for outside in (lambda tick: tick < start, lambda tick: tick > end):
        assert [e for e in new_events if e[1].type in NOTE_TYPES and outside(e[0])] == [
            e for e in old_events if e[1].type in NOTE_TYPES and outside(e[0])
        ]
    old_region = [e for e in old_events if e[1].type in NOTE_TYPES and start <= e[0] <= end]
    new_region = [e for e in new_events if e[1].type in NOTE_TYPES and start <= e[0] <= end]
    written = [message for tick, message in new_region if (tick, message) not in old_region]
    assert written and all(message.channel == channel for message in written)


# --- real files -------------------------------------------------------------------------


@pytest.mark.datasets
def test_pop909_song_bars_5_6_of_the_piano(datasets: Path) -> None:
    path = datasets / "pop909" / "001" / "001.mid"
    original = path.read_bytes()
    before = parse_midi_bytes(original, path)
    bar = before.tpq * 2  # POP909 songs are written in 2/4
    piano = [t.name for t in before.tracks].index("PIANO")
    after = replace_region(before, piano, 4 * bar, 6 * bar)

    spliced = splice_midi(original, before, after, path=path)

    assert_kept_outside(original, spliced, piano + 1, 4 * bar, 6 * bar, channel=2)  # chunk 0 holds the tempo
    assert_reads_as(spliced, after)
    piano_events = events_of(spliced)[piano + 1]
    assert sum(m.type == "control_change" for _, m in piano_events) == len(before.tracks[piano].controls)


@pytest.mark.datasets
def test_pop909_song_gets_a_new_track(datasets: Path) -> None:
    path = datasets / "pop909" / "001" / "001.mid"
    original = path.read_bytes()
    before = parse_midi_bytes(original, path)
    after = before.copy()
    bass = symusic.Track(name="Bass", program=33)
    bass.notes.extend([symusic.Note(tick, 400, 40 + tick // 960 % 5, 90) for tick in range(0, 9600, 480)])
    drums = symusic.Track(name="Drums", program=0, is_drum=True)
    drums.notes.extend([symusic.Note(tick, 60, 36, 100) for tick in range(0, 9600, 960)])
    after.tracks.extend([bass, drums])

    spliced = splice_midi(original, before, after, path=path)

    assert chunks_of(spliced)[:4] == chunks_of(original)
    assert spliced[8:12] == original[8:10] + (6).to_bytes(2, "big")  # format 1, six chunks
    assert_reads_as(spliced, after)
    new_tracks = events_of(spliced)[4:]
    assert {m.channel for _, m in new_tracks[0] if m.type in NOTE_TYPES} == {3}  # channels 0-2 are taken
    assert {m.channel for _, m in new_tracks[1] if m.type in NOTE_TYPES} == {9}
    assert [m.program for _, m in new_tracks[0] if m.type == "program_change"] == [33]
    assert [m.name for _, m in new_tracks[0] if m.type == "track_name"] == ["Bass"]


# --- hand-made files --------------------------------------------------------------------


def melody(channel: int, tpq: int, bars: int = 8, beats: int = 4) -> list[Event]:
    """A quarter-note line over ``bars`` bars, its note-offs with velocity 37."""
    events: list[Event] = []
    for number in range(bars * beats):
        events += note(number * tpq, tpq - tpq // 8, channel, 60 + number % 12, 70 + number % 40, off_velocity=37)
    return events


def test_960_ticks_per_quarter() -> None:
    tpq = 960
    conductor = [(0, mido.MetaMessage("set_tempo", tempo=500000))]
    lead = [
        (0, mido.MetaMessage("track_name", name="Lead")),
        (0, mido.Message("program_change", channel=0, program=73)),
    ]
    bass = [
        (0, mido.MetaMessage("track_name", name="Bass")),
        (0, mido.Message("program_change", channel=1, program=33)),
    ]
    original = make_midi(conductor, lead + melody(0, tpq), bass + melody(1, tpq), tpq=tpq)
    before = parse_midi_bytes(original)
    bar = 4 * tpq
    after = replace_region(before, 1, 4 * bar, 6 * bar)

    spliced = splice_midi(original, before, after)

    assert_kept_outside(original, spliced, 2, 4 * bar, 6 * bar, channel=1)
    assert_reads_as(spliced, after)
    kept_offs = [m.velocity for t, m in events_of(spliced)[2] if m.type == "note_off" and t < 4 * bar]
    assert kept_offs and set(kept_offs) == {37}  # symusic would have rewritten them


def test_format_0_file_with_two_channels() -> None:
    tpq = 96
    events = [
        (0, mido.MetaMessage("set_tempo", tempo=600000)),
        (0, mido.Message("program_change", channel=0, program=0)),
        (0, mido.Message("program_change", channel=1, program=40)),
        *melody(0, tpq),
        *melody(1, tpq),
    ]
    original = make_midi(events, tpq=tpq, midi_type=0)
    before = parse_midi_bytes(original)
    assert [t.program for t in before.tracks] == [0, 40]
    bar = 4 * tpq
    after = replace_region(before, 1, 4 * bar, 6 * bar)

    spliced = splice_midi(original, before, after)

    assert mido.MidiFile(file=io.BytesIO(spliced)).type == 0
    assert_kept_outside(original, spliced, 0, 4 * bar, 6 * bar, channel=1)
    assert_reads_as(spliced, after)
    channel_0 = [e for e in events_of(original)[0] if e[1].type in NOTE_TYPES and e[1].channel == 0]
    assert [e for e in events_of(spliced)[0] if e[1].type in NOTE_TYPES and e[1].channel == 0] == channel_0


def test_format_0_file_gets_a_new_track_as_format_1() -> None:
    original = make_midi(melody(0, 96) + melody(1, 96), tpq=96, midi_type=0)
    before = parse_midi_bytes(original)
    after = before.copy()
    added = symusic.Track(name="Pad", program=89)
    added.notes.extend([symusic.Note(0, 384, 48, 50), symusic.Note(384, 384, 50, 50)])
    after.tracks.append(added)

    spliced = splice_midi(original, before, after)

    assert mido.MidiFile(file=io.BytesIO(spliced)).type == 1
    assert chunks_of(spliced)[0] == chunks_of(original)[0]
    assert {m.channel for _, m in events_of(spliced)[1] if m.type in NOTE_TYPES} == {2}
    assert_reads_as(spliced, after)


def test_track_on_channel_3_keeps_its_channel_controllers_and_pedal() -> None:
    tpq = 480
    bar = 4 * tpq
    controls: list[Event] = [
        (0, mido.MetaMessage("track_name", name="Keys")),
        (0, mido.Message("program_change", channel=3, program=4)),
        (0, mido.Message("control_change", channel=3, control=7, value=100)),
        (0, mido.Message("control_change", channel=3, control=10, value=30)),
    ]
    for number in range(8):  # the sustain pedal down and up in every bar
        controls += [
            (number * bar + 10, mido.Message("control_change", channel=3, control=64, value=127)),
            (number * bar + bar - 10, mido.Message("control_change", channel=3, control=64, value=0)),
        ]
    controls.append((5 * bar, mido.Message("pitchwheel", channel=3, pitch=1200)))
    original = make_midi([(0, mido.MetaMessage("set_tempo", tempo=500000))], controls + melody(3, tpq))
    before = parse_midi_bytes(original)
    assert len(before.tracks[0].pedals) == 8
    after = replace_region(before, 0, 4 * bar, 6 * bar)

    spliced = splice_midi(original, before, after)

    assert_kept_outside(original, spliced, 1, 4 * bar, 6 * bar, channel=3)
    assert_reads_as(spliced, after)
    score = parse_midi_bytes(spliced)
    assert len(score.tracks[0].pedals) == 8 and len(score.tracks[0].pitch_bends) == 1
    symusic_written = events_of(before.dumps_midi())
    assert {m.channel for track in symusic_written for _, m in track if m.type in NOTE_TYPES} == {0}


def test_tempo_map_and_meter_change_are_kept() -> None:
    tpq = 480
    conductor: list[Event] = [
        (0, mido.MetaMessage("time_signature", numerator=4, denominator=4)),
        (0, mido.MetaMessage("set_tempo", tempo=500000)),
        (2 * 4 * tpq, mido.MetaMessage("set_tempo", tempo=450000)),
        (4 * 4 * tpq, mido.MetaMessage("time_signature", numerator=3, denominator=4)),
        (4 * 4 * tpq, mido.MetaMessage("set_tempo", tempo=520000)),
        (4 * 4 * tpq + 3 * 3 * tpq, mido.MetaMessage("set_tempo", tempo=600000)),
        (4 * 4 * tpq, mido.MetaMessage("key_signature", key="D")),
    ]
    # four bars of 4/4, then 3/4: bars 5-6 are [16, 22) quarters
    line = [e for number in range(30) for e in note(number * tpq, tpq // 2, 0, 62 + number % 7, 90)]
    original = make_midi(conductor, line)
    before = parse_midi_bytes(original)
    start, end = 16 * tpq, 22 * tpq
    after = replace_region(before, 0, start, end)

    spliced = splice_midi(original, before, after)

    assert_kept_outside(original, spliced, 1, start, end, channel=0)
    assert events_of(spliced)[0] == events_of(original)[0]
    score = parse_midi_bytes(spliced)
    assert [(t.time, t.mspq) for t in score.tempos] == [(t.time, t.mspq) for t in before.tempos]
    assert [(t.time, t.numerator) for t in score.time_signatures] == [(0, 4), (16 * tpq, 3)]
    assert_reads_as(spliced, after)


def test_running_status_and_note_on_zero_offs() -> None:
    """A chunk written with running status and note-on 0 offs: the unchanged chunk keeps
    its bytes, the changed one ends its new notes the way it ends its own."""

    def chunk(body: bytes) -> bytes:
        body += b"\x00\xff\x2f\x00"
        return b"MTrk" + len(body).to_bytes(4, "big") + body

    body = b"".join(
        bytes([0x00 if number == 0 else 0x60])
        + (b"\x92" if number == 0 else b"")
        + bytes([60 + number, 80, 0x60])
        + bytes([60 + number, 0])
        for number in range(8)
    )  # every event after the first runs on status 0x92
    first = chunk(b"\x00\xff\x51\x03\x07\xa1\x20")
    original = b"MThd" + (6).to_bytes(4, "big") + bytes([0, 1, 0, 2, 0, 96]) + first + chunk(body)
    before = parse_midi_bytes(original)
    assert len(before.tracks[0].notes) == 8
    after = before.copy()
    after.tracks[0].notes.append(symusic.Note(2000, 48, 72, 99))

    spliced = splice_midi(original, before, after)

    assert chunks_of(spliced)[0] == first
    added = [m for t, m in events_of(spliced)[1] if m.type in NOTE_TYPES and m.note == 72]
    assert [(m.type, m.channel, m.velocity) for m in added] == [("note_on", 2, 99), ("note_on", 2, 0)]
    assert_reads_as(spliced, after)


def test_overlapping_notes_of_one_pitch_are_removed_as_the_file_pairs_them() -> None:
    # two C4s overlap: symusic pairs the first off with the first on (A = 0-300, B = 100-500)
    events = [on(0, 0, 60, 70), on(100, 0, 60, 90), off(300, 0, 60, 11), off(500, 0, 60, 22), *note(600, 50, 0, 64)]
    original = make_midi(events)
    before = parse_midi_bytes(original)
    assert keys(before.tracks[0])[:2] == [(0, 300, 60, 70), (100, 400, 60, 90)]
    after = before.copy()
    after.tracks[0].notes.clear()
    after.tracks[0].notes.extend([symusic.Note(0, 300, 60, 70), symusic.Note(600, 50, 64, 80)])

    spliced = splice_midi(original, before, after)

    notes = [(t, m.type, m.velocity) for t, m in events_of(spliced)[0] if m.type in NOTE_TYPES and m.note == 60]
    assert notes == [(0, "note_on", 70), (300, "note_off", 11)]
    assert_reads_as(spliced, after)


# --- empty edits, markers, refusals -----------------------------------------------------


def test_an_empty_edit_returns_the_file_itself() -> None:
    original = make_midi([(0, mido.MetaMessage("track_name", name="Lead")), *melody(3, 480)])
    before = parse_midi_bytes(original)
    assert splice_midi(original, before, before.copy()) == original


def test_a_marker_is_the_only_change_of_an_empty_edit() -> None:
    conductor = [(0, mido.MetaMessage("set_tempo", tempo=500000)), (0, mido.MetaMessage("track_name", name="Song"))]
    original = make_midi(conductor, melody(3, 480))
    before = parse_midi_bytes(original)

    spliced = splice_midi(original, before, before.copy(), marker="cadenza infill bars 5-6")

    assert chunks_of(spliced)[1] == chunks_of(original)[1]
    old, new = events_of(original)[0], events_of(spliced)[0]
    marker = (0, mido.MetaMessage("marker", text="cadenza infill bars 5-6"))
    assert new == [old[0], marker, *old[1:]] or new == [marker, *old]
    assert [m.text for m in parse_midi_bytes(spliced).markers] == ["cadenza infill bars 5-6"]
    assert_reads_as(spliced, before)


def test_a_before_that_is_not_the_file_is_refused() -> None:
    original = make_midi(melody(0, 480), melody(1, 480))
    before = parse_midi_bytes(make_midi(melody(0, 480, bars=2)))
    after = before.copy()
    after.tracks[0].notes.append(symusic.Note(10000, 10, 90, 90))
    with pytest.raises(MidiSpliceError, match=r"^song\.mid: track 0 .* matches no track"):
        splice_midi(original, before, after, path="song.mid")


def test_an_edit_the_file_cannot_hold_is_refused() -> None:
    original = make_midi(note(0, 480, 0, 60))
    before = parse_midi_bytes(original)
    after = before.copy()
    after.tracks[0].notes.append(symusic.Note(100, 100, 60, 50))  # inside the C4: MIDI pairs it otherwise
    with pytest.raises(MidiSpliceError, match=r"^song\.mid: .*cannot be written in place"):
        splice_midi(original, before, after, path="song.mid")
    assert issubclass(MidiSpliceError, InputFileError)


def test_write_midi_edit_keeps_an_existing_file_unless_forced(tmp_path: Path) -> None:
    original = make_midi(melody(0, 480))
    before = parse_midi_bytes(original)
    after = replace_region(before, 0, 4 * 1920, 6 * 1920)
    target = tmp_path / "out.mid"
    target.write_bytes(b"keep me")
    with pytest.raises(OutputExistsError):
        write_midi_edit(original, before, after, target)
    assert target.read_bytes() == b"keep me"
    write_midi_edit(original, before, after, target, force=True)
    assert target.read_bytes() == splice_midi(original, before, after)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mid"]


def test_bytes_after_the_declared_tracks_are_kept_and_new_tracks_go_before_them() -> None:
    junk = b"MTrk\x00\x00\x00\x04\x00\xff\x2f\x00 and some trailing bytes"
    original = make_midi(melody(0, 96)) + junk
    before = parse_midi_bytes(original)
    after = replace_region(before, 0, 4 * 384, 6 * 384)
    after.tracks.append(symusic.Track(name="Added", program=1))
    after.tracks[1].notes.append(symusic.Note(0, 96, 60, 90))

    spliced = splice_midi(original, before, after)

    assert spliced.endswith(junk)
    assert_reads_as(spliced, after)


def test_a_new_track_keeps_its_pedals_and_a_note_that_lasts_no_time() -> None:
    original = make_midi(melody(0, 96))
    before = parse_midi_bytes(original)
    after = before.copy()
    keys_track = symusic.Track(name="Keys", program=2)
    keys_track.notes.extend([symusic.Note(0, 0, 60, 90), symusic.Note(96, 96, 62, 90)])
    keys_track.pedals.extend([symusic.Pedal(96, 96), symusic.Pedal(0, 96)])
    after.tracks.append(keys_track)

    spliced = splice_midi(original, before, after)

    assert_reads_as(spliced, after)
    pedals = parse_midi_bytes(spliced).tracks[1].pedals
    assert [(p.time, p.duration) for p in pedals] == [(0, 96), (96, 96)]


@pytest.mark.parametrize(
    "bad_note",
    [(-100, 50, 60, 80), (0, 50, 60, 0), (0, 2**29, 60, 80), (0, 50, -3, 80)],
    ids=["negative-time", "velocity-0", "too-long", "negative-pitch"],
)
def test_notes_a_midi_file_cannot_hold_are_refused(bad_note: tuple[int, int, int, int]) -> None:
    original = make_midi(melody(0, 96))
    before = parse_midi_bytes(original)
    for appended in (False, True):
        after = before.copy()
        if appended:
            after.tracks.append(symusic.Track(name="New"))
        after.tracks[-1].notes.append(symusic.Note(*bad_note))
        with pytest.raises(MidiSpliceError, match=r"^song\.mid: edit"):
            splice_midi(original, before, after, path="song.mid")


def test_a_new_track_with_a_program_outside_midi_is_refused() -> None:
    original = make_midi(melody(0, 96))
    before = parse_midi_bytes(original)
    after = before.copy()
    after.tracks.append(symusic.Track(name="New", program=200))
    after.tracks[1].notes.append(symusic.Note(0, 10, 60, 80))
    with pytest.raises(MidiSpliceError, match="cannot store"):
        splice_midi(original, before, after, path="song.mid")
