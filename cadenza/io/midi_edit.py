"""Write an edited Score back into the user's own MIDI file, changing nothing else.

Writing a Score with symusic loses what symusic does not keep: a track's channel, note-off
velocities, running status, sysex, the grouping of tracks into chunks. So an edit is
spliced into the original file instead: the note-ons and note-offs of the notes the edit
removed are taken out of their track chunk, those of the notes it added are put in on the
same chunk and channel, and every other event keeps its bytes, its place and its tick.
A chunk the edit does not touch is copied byte for byte.

To know which chunk and channel a symusic track came from, the file is read here the way
symusic 0.6 reads it: per chunk, a track for each (channel, program at the note-on), made
at its first note-on and listed in (channel, program) order; a note-off closes the oldest
open note of its channel and key; a control or pitch bend goes to the track of its channel
and current program, or, when there is none yet, to the next track made on its channel.
That reading must give ``before`` and the spliced file, read back by symusic, must give
``after``, track for track and note for note; otherwise :class:`MidiSpliceError` is raised
(the caller may then fall back to writing the Score with symusic).
"""

from __future__ import annotations

import os
import struct
from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import symusic

from cadenza.errors import InputFileError
from cadenza.io.atomic import atomic_output

__all__ = ["MidiSpliceError", "splice_midi", "write_midi_edit"]

NoteKey = tuple[int, int, int, int]
"""A note as compared here: (time, duration, pitch, velocity), in ticks."""

_DRUM_CHANNEL = 9
_END_OF_TRACK = b"\xff\x2f\x00"
_DEFAULT_OFF_VELOCITY = 64
_SUSTAIN = 64


class MidiSpliceError(InputFileError):
    """The edit cannot be spliced into the file exactly; write the Score instead."""


@dataclass
class _Chunk:
    """A chunk of the file: its raw bytes and, for a track chunk, its events."""

    raw: bytes
    is_track: bool
    events: list[tuple[int, bytes]] = field(default_factory=list)
    """(absolute tick, the event's bytes with its status byte, no delta time)."""


@dataclass
class _Source:
    """Where the notes of one symusic track live in the file."""

    chunk: int
    channel: int
    program: int
    notes: dict[NoteKey, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))
    """Each note -> the (note-on, note-off) event indices in its chunk, in file order."""
    controls: int = 0
    pitch_bends: int = 0

    def keys(self) -> list[NoteKey]:
        return sorted(key for key, pairs in self.notes.items() for _ in pairs)


# --- reading the file -------------------------------------------------------------------


def _vlq(data: bytes, pos: int, end: int, path: str | os.PathLike[str]) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        if pos >= end:
            raise MidiSpliceError("is truncated inside a MIDI event", path)
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos
    raise MidiSpliceError("has a variable-length number longer than 4 bytes", path)


def _encode_vlq(value: int) -> bytes:
    if not 0 <= value <= 0x0FFFFFFF:
        raise ValueError(f"a time or length of {value} ticks")
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _parse_events(data: bytes, start: int, end: int, path: str | os.PathLike[str]) -> list[tuple[int, bytes]]:
    """The events of one MTrk body; running status is made explicit."""
    events: list[tuple[int, bytes]] = []
    tick, pos, running = 0, start, 0
    while pos < end:
        delta, pos = _vlq(data, pos, end, path)
        tick += delta
        if pos >= end:
            raise MidiSpliceError("is truncated inside a MIDI event", path)
        status = data[pos]
        if status in (0xFF, 0xF0, 0xF7):
            begin = pos
            pos += 2 if status == 0xFF else 1
            length, pos = _vlq(data, pos, end, path)
            pos += length
            if pos > end:
                raise MidiSpliceError("is truncated inside a meta or sysex event", path)
            events.append((tick, data[begin:pos]))
            continue
        if status >= 0xF0:
            raise MidiSpliceError(f"has a system message 0x{status:02X} inside a track", path)
        if status >= 0x80:
            running = status
            pos += 1
        elif running == 0:
            raise MidiSpliceError("has a data byte with no running status", path)
        size = 1 if running & 0xF0 in (0xC0, 0xD0) else 2
        if pos + size > end:
            raise MidiSpliceError("is truncated inside a MIDI event", path)
        events.append((tick, bytes([running]) + data[pos : pos + size]))
        pos += size
    return events


def _split_file(data: bytes, path: str | os.PathLike[str]) -> tuple[bytes, list[_Chunk], bytes, int]:
    """The header chunk, the chunks up to the last track chunk the header declares, what
    follows them (kept as it is), and the ticks per quarter."""
    if len(data) < 14 or data[:4] != b"MThd":
        raise MidiSpliceError("is not a MIDI file (no MThd header)", path)
    (header_length,) = struct.unpack(">I", data[4:8])
    _, declared, division = struct.unpack(">HHH", data[8:14])
    if header_length < 6 or division & 0x8000:
        raise MidiSpliceError("has a MIDI header that cannot be edited in place", path)
    pos = 8 + header_length
    chunks: list[_Chunk] = []
    tracks = 0
    while tracks < declared:
        if pos + 8 > len(data):
            raise MidiSpliceError(f"holds {tracks} track chunks, fewer than its header declares", path)
        (length,) = struct.unpack(">I", data[pos + 4 : pos + 8])
        if pos + 8 + length > len(data):
            raise MidiSpliceError("has a truncated chunk", path)
        chunk = _Chunk(data[pos : pos + 8 + length], is_track=data[pos : pos + 4] == b"MTrk")
        if chunk.is_track:
            chunk.events = _parse_events(data, pos + 8, pos + 8 + length, path)
            tracks += 1
        chunks.append(chunk)
        pos += 8 + length
    return data[: 8 + header_length], chunks, data[pos:], division


def _chunk_sources(chunk_index: int, events: list[tuple[int, bytes]]) -> list[_Source]:
    """The symusic tracks one chunk gives, as symusic 0.6 reads it (see the module doc)."""
    sources: dict[tuple[int, int], _Source] = {}
    program = [0] * 16
    open_notes: dict[tuple[int, int], deque[tuple[int, int, int, _Source]]] = defaultdict(deque)
    stray_controls, stray_bends = [0] * 16, [0] * 16
    for index, (tick, event) in enumerate(events):
        kind, channel = event[0] & 0xF0, event[0] & 0x0F
        if kind == 0x90 and event[2] > 0:
            source = sources.get((channel, program[channel]))
            if source is None:  # a new track takes the controls its channel had no track for
                source = _Source(chunk_index, channel, program[channel])
                source.controls, source.pitch_bends = stray_controls[channel], stray_bends[channel]
                stray_controls[channel] = stray_bends[channel] = 0
                sources[channel, program[channel]] = source
            open_notes[channel, event[1]].append((tick, event[2], index, source))
        elif kind in (0x80, 0x90):
            queue = open_notes.get((channel, event[1]))
            if queue:
                start, velocity, on_index, source = queue.popleft()
                source.notes[start, tick - start, event[1], velocity].append((on_index, index))
        elif kind == 0xC0:
            program[channel] = event[1]
        elif kind in (0xB0, 0xE0):
            source = sources.get((channel, program[channel]))
            if source is not None:
                source.controls += kind == 0xB0
                source.pitch_bends += kind == 0xE0
            elif kind == 0xB0:
                stray_controls[channel] += 1
            else:
                stray_bends[channel] += 1
    return [sources[key] for key in sorted(sources)]


def _note_keys(track: symusic.Track) -> list[NoteKey]:
    arrays = track.notes.numpy()
    return sorted(
        zip(
            arrays["time"].tolist(),
            arrays["duration"].tolist(),
            arrays["pitch"].tolist(),
            arrays["velocity"].tolist(),
            strict=True,
        )
    )


def _same_track(source: _Source, track: symusic.Track, keys: list[NoteKey]) -> bool:
    return (
        source.program == track.program and (source.channel == _DRUM_CHANNEL) == track.is_drum and source.keys() == keys
    )


def _match_tracks(
    sources: list[_Source], before: symusic.Score, changed: Iterable[int], path: str | os.PathLike[str]
) -> dict[int, _Source]:
    """The source of each changed track of ``before``: by position when the file reads as
    ``before`` track for track, else by its notes when exactly one source has them."""
    keys = {index: _note_keys(before.tracks[index]) for index in changed}
    in_order = len(sources) == len(before.tracks) and all(
        (source.program, source.channel == _DRUM_CHANNEL, source.controls, source.pitch_bends)
        == (track.program, track.is_drum, len(track.controls), len(track.pitch_bends))
        for source, track in zip(sources, before.tracks, strict=True)
    )
    if in_order and all(_same_track(sources[index], before.tracks[index], keys[index]) for index in keys):
        return {index: sources[index] for index in keys}
    matched: dict[int, _Source] = {}
    for index, track_keys in keys.items():
        track = before.tracks[index]
        found = [source for source in sources if _same_track(source, track, track_keys)]
        if len(found) != 1:
            what = "no track" if not found else f"{len(found)} tracks"
            raise MidiSpliceError(
                f"track {index} ({track.name or 'unnamed'}) matches {what} of the file; cannot edit it in place",
                path,
            )
        matched[index] = found[0]
    return matched


# --- writing ----------------------------------------------------------------------------


def _message(status: int, *data: int) -> bytes:
    """A channel message; its data bytes must be 0-127."""
    if not all(0 <= value < 0x80 for value in data):
        raise ValueError(f"a MIDI data byte out of 0-127 in {data}")
    return bytes([status, *data])


def _encode_chunk(events: list[tuple[int, bytes]]) -> bytes:
    body = bytearray()
    last = 0
    for tick, event in events:
        body += _encode_vlq(tick - last)
        body += event
        last = tick
    return b"MTrk" + struct.pack(">I", len(body)) + bytes(body)


def _note_off_form(events: list[tuple[int, bytes]], channel: int) -> tuple[int, int]:
    """The (status, velocity) that this chunk ends its notes on ``channel`` with."""
    for _, event in events:
        if event[0] == 0x80 | channel:
            return 0x80 | channel, event[2]
        if event[0] == 0x90 | channel and event[2] == 0:
            return 0x90 | channel, 0
    return 0x80 | channel, _DEFAULT_OFF_VELOCITY


def _note_events(keys: Iterable[NoteKey], channel: int, off: tuple[int, int]) -> list[tuple[int, int, bytes]]:
    """(tick, order at that tick, bytes): note-offs go before what the tick holds and
    note-ons after it, but the off of a note that lasts no time after its own on."""
    out: list[tuple[int, int, bytes]] = []
    for time, duration, pitch, velocity in keys:
        if velocity < 1 or duration < 0:
            raise ValueError(f"a note of velocity {velocity} and duration {duration}")
        out.append((time, 2, _message(0x90 | channel, pitch, velocity)))
        out.append((time + duration, 0 if duration else 3, _message(off[0], pitch, off[1])))
    return out


def _rewrite(events: list[tuple[int, bytes]], removed: set[int], added: list[tuple[int, int, bytes]]) -> bytes:
    """A chunk without the events at ``removed``, with ``added`` (see :func:`_note_events`)."""
    merged = [(tick, 1, index, event) for index, (tick, event) in enumerate(events) if index not in removed]
    merged += [(tick, order, index, event) for index, (tick, order, event) in enumerate(added)]
    merged.sort(key=lambda item: item[:3])
    out = [(tick, event) for tick, _, _, event in merged if event != _END_OF_TRACK]
    ends = [tick for tick, event in events if event == _END_OF_TRACK]
    if ends:
        out.append((max([ends[-1]] + [tick for tick, _ in out[-1:]]), _END_OF_TRACK))
    return _encode_chunk(out)


def _meta(kind: int, data: bytes) -> bytes:
    return bytes([0xFF, kind]) + _encode_vlq(len(data)) + data


def _new_track_chunk(track: symusic.Track, channel: int) -> bytes:
    events: list[tuple[int, int, bytes]] = []
    if track.name:
        events.append((0, -2, _meta(0x03, track.name.encode("utf-8"))))
    events.append((0, -1, _message(0xC0 | channel, track.program)))
    for control in track.controls:
        events.append((control.time, 1, _message(0xB0 | channel, control.number, control.value)))
    if not any(control.number == _SUSTAIN for control in track.controls):  # pedals alone: write them
        for time, duration in sorted((pedal.time, pedal.duration) for pedal in track.pedals):
            events.append((time, 1, _message(0xB0 | channel, _SUSTAIN, 127)))
            events.append((time + duration, 1, _message(0xB0 | channel, _SUSTAIN, 0)))
    for bend in track.pitch_bends:
        value = bend.value + 8192
        events.append((bend.time, 1, _message(0xE0 | channel, value & 0x7F, value >> 7)))
    events += _note_events(_note_keys(track), channel, (0x80 | channel, _DEFAULT_OFF_VELOCITY))
    events.sort(key=lambda item: item[:2])
    last = events[-1][0]
    return _encode_chunk([(tick, event) for tick, _, event in events] + [(last, _END_OF_TRACK)])


def _used_channels(chunks: list[_Chunk]) -> set[int]:
    return {event[0] & 0x0F for chunk in chunks for _, event in chunk.events if event[0] < 0xF0}


def _verify(data: bytes, after: symusic.Score, path: str | os.PathLike[str]) -> None:
    """The spliced file, read by symusic, must hold ``after``'s tracks and notes exactly."""
    try:
        score = symusic.Score.from_midi(data)
    except Exception as error:  # symusic raises RuntimeError/ValueError with a reason
        raise MidiSpliceError(f"edit cannot be written in place ({error})", path) from None
    if len(score.tracks) != len(after.tracks):
        raise MidiSpliceError(
            f"edit cannot be written in place (it would read back as {len(score.tracks)} tracks, "
            f"not {len(after.tracks)})",
            path,
        )
    for index, (got, want) in enumerate(zip(score.tracks, after.tracks, strict=True)):
        if got.program != want.program or got.is_drum != want.is_drum or _note_keys(got) != _note_keys(want):
            raise MidiSpliceError(f"edit of track {index} cannot be written in place exactly", path)


def splice_midi(
    original: bytes,
    before: symusic.Score,
    after: symusic.Score,
    *,
    marker: str | None = None,
    path: str | os.PathLike[str] = "<bytes>",
) -> bytes:
    """The MIDI file ``original`` (whose symusic reading is ``before``) with the notes of ``after``.

    For each track of ``before``, the notes ``after`` no longer has are removed from the
    file's events and the notes it gained are added, on the same track chunk and channel
    (a note-off as that chunk writes them on that channel). Tracks ``after`` has past
    ``before``'s are appended as new track chunks (name, program change, controls, pitch
    bends and notes, on a channel no other track uses, 9 for a drum track; a format-0
    file becomes format 1). ``marker`` is added as a marker meta event at tick 0 of the
    first track chunk. Every other event keeps its bytes, order and tick; a chunk the
    edit does not touch keeps its bytes. Only notes are spliced: a track's controls,
    name and program in ``after`` are those of the file. ``path`` names the file in errors.

    Raises :class:`MidiSpliceError` when a changed track cannot be found in the file
    unambiguously, or when the result would not read back as ``after`` exactly.
    """
    if before.ttype != symusic.TimeUnit.tick or after.ttype != symusic.TimeUnit.tick:
        raise MidiSpliceError("edit must be given in ticks", path)
    header, chunks, tail, division = _split_file(original, path)
    if before.tpq != division or after.tpq != division:
        raise MidiSpliceError(f"has {division} ticks per quarter, the edit {after.tpq}; cannot edit it in place", path)
    if len(after.tracks) < len(before.tracks):
        raise MidiSpliceError("edit removes whole tracks; cannot edit the file in place", path)
    changed = [
        index
        for index, (old, new) in enumerate(zip(before.tracks, after.tracks[: len(before.tracks)], strict=True))
        if _note_keys(old) != _note_keys(new)
    ]
    if not changed and len(after.tracks) == len(before.tracks) and marker is None:
        return original

    track_chunks = [index for index, chunk in enumerate(chunks) if chunk.is_track]
    sources = [
        source for number, index in enumerate(track_chunks) for source in _chunk_sources(number, chunks[index].events)
    ]
    matched = _match_tracks(sources, before, changed, path)

    try:
        data = _splice(header, chunks, tail, before, after, matched, marker, path)
    except ValueError as error:
        raise MidiSpliceError(f"edit holds what a MIDI file cannot store ({error})", path) from None
    _verify(data, after, path)
    return data


def _splice(
    header: bytes,
    chunks: list[_Chunk],
    tail: bytes,
    before: symusic.Score,
    after: symusic.Score,
    matched: dict[int, _Source],
    marker: str | None,
    path: str | os.PathLike[str],
) -> bytes:
    """The spliced file (see :func:`splice_midi`); ValueError for a value MIDI cannot hold."""
    track_chunks = [index for index, chunk in enumerate(chunks) if chunk.is_track]
    removed: dict[int, set[int]] = defaultdict(set)
    added: dict[int, list[tuple[int, int, bytes]]] = defaultdict(list)
    for index, source in matched.items():
        old, new = Counter(_note_keys(before.tracks[index])), Counter(_note_keys(after.tracks[index]))
        for key, count in (old - new).items():
            for on_index, off_index in source.notes[key][:count]:
                removed[source.chunk].update((on_index, off_index))
        events = chunks[track_chunks[source.chunk]].events
        off = _note_off_form(events, source.channel)
        added[source.chunk] += _note_events(sorted((new - old).elements()), source.channel, off)

    out = [chunk.raw for chunk in chunks]
    for number in removed.keys() | added.keys():
        out[track_chunks[number]] = _rewrite(chunks[track_chunks[number]].events, removed[number], added[number])
    if marker is not None and track_chunks:
        out[track_chunks[0]] = _with_marker(out[track_chunks[0]], marker, path)

    appended = after.tracks[len(before.tracks) :]
    if appended:
        used = _used_channels(chunks)
        for track in appended:
            channel = _DRUM_CHANNEL if track.is_drum else _free_channel(used, path)
            used.add(channel)
            out.append(_new_track_chunk(track, channel))
        midi_format, tracks = struct.unpack(">HH", header[8:12])
        header = header[:8] + struct.pack(">HH", max(midi_format, 1), tracks + len(appended)) + header[12:]

    return header + b"".join(out) + tail


def _free_channel(used: set[int], path: str | os.PathLike[str]) -> int:
    for channel in range(16):
        if channel != _DRUM_CHANNEL and channel not in used:
            return channel
    raise MidiSpliceError("uses every MIDI channel; a new track has none left", path)


def _with_marker(chunk: bytes, marker: str, path: str | os.PathLike[str]) -> bytes:
    """The chunk with a marker at its start, or right after a leading track name: where
    no running status is in effect, so the events after it keep their bytes."""
    body = chunk[8:]
    start = 0
    if body[:2] == b"\x00\xff" and len(body) > 2 and body[2] == 0x03:
        length, start = _vlq(body, 3, len(body), path)
        start += length
    body = body[:start] + b"\x00" + _meta(0x06, marker.encode("utf-8")) + body[start:]
    return b"MTrk" + struct.pack(">I", len(body)) + body


def write_midi_edit(
    original: bytes,
    before: symusic.Score,
    after: symusic.Score,
    path: str | os.PathLike[str],
    *,
    marker: str | None = None,
    source: str | os.PathLike[str] = "<bytes>",
    force: bool = False,
) -> Path:
    """Write :func:`splice_midi`'s result to ``path``, atomically; an existing file is
    kept unless ``force``. ``source`` names the original in errors."""
    data = splice_midi(original, before, after, marker=marker, path=source)
    with atomic_output(path, force=force) as tmp:
        tmp.write_bytes(data)
    return Path(path)
