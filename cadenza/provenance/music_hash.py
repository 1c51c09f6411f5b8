"""The sha256 of a piece's music, the part of a provenance record that vouches for a file.

The hash covers everything that sounds or is shown: ticks per quarter, tempi, time and
key signatures, markers (all but the provenance marker, which holds the record itself),
lyrics, and per track its name, program, drum flag, notes, controllers (volume,
expression, pan, sustain pedal...) and pitch bends. It leaves out what a MIDI file does
not keep or keeps in another order, so that a score and the same score read back from
its MIDI file give the same hash:

- the order of events (each list is sorted);
- tracks with no notes, controllers, pedals nor pitch bends (a MIDI writer drops them;
  their lyrics still count, see below);
- which track a lyric sits on: symusic reads lyrics back onto a track of their own
  with the same name, so a lyric is hashed with its track's name, not its track;
- the ``pedals`` list where the track has sustain controllers (CC64): symusic reads
  pedals back from those controllers. A track with pedals and no CC64 (a Score made in
  memory) is hashed as the CC64 presses and releases that sound them, which is how
  :func:`pedal_controls` writes them into the file.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence

import numpy as np
import symusic

__all__ = ["MARKER_PREFIX", "SUSTAIN", "music_sha256", "pedal_controls", "unread_events"]

MARKER_PREFIX = "cadenza-provenance "
SUSTAIN = 64  # the sustain pedal's controller number
_VERSION = b"cadenza-music-v2\n"


def pedal_controls(track: symusic.core.TrackTick) -> list[tuple[int, int, int]]:
    """(time, controller, value) of the sustain presses and releases behind a track's
    pedals, when its controllers hold none (else ``[]``: they are the controllers)."""
    if not len(track.pedals) or any(c.number == SUSTAIN for c in track.controls):
        return []
    presses = [(int(p.time), SUSTAIN, 127) for p in track.pedals]
    return presses + [(int(p.time + p.duration), SUSTAIN, 0) for p in track.pedals]


def _table(events: object, fields: tuple[str, ...], extra: Sequence[tuple[int, ...]] = ()) -> bytes:
    """The events' fields as sorted little-endian int64 rows."""
    columns = events.numpy() if len(events) else {}  # type: ignore[attr-defined, arg-type]
    rows = np.stack([np.asarray(columns[k], dtype=np.int64) for k in fields], axis=1) if columns else None
    if extra:
        more = np.asarray(extra, dtype=np.int64).reshape(-1, len(fields))
        rows = more if rows is None else np.concatenate([rows, more])
    if rows is None:
        return b""
    return rows[np.lexsort(rows.T[::-1])].astype("<i8").tobytes()


def _sounds(track: symusic.core.TrackTick) -> bool:
    return bool(len(track.notes) or len(track.controls) or len(track.pitch_bends) or len(track.pedals))


def music_sha256(score: symusic.Score) -> str:
    """The hex sha256 of ``score``'s music in the canonical form the module describes."""
    tick = score if score.ttype == symusic.TimeUnit.tick else score.to("tick")
    header = {
        "tpq": int(tick.tpq),
        "tempos": sorted((int(t.time), int(t.mspq)) for t in tick.tempos),
        "time_signatures": sorted((int(t.time), t.numerator, t.denominator) for t in tick.time_signatures),
        "key_signatures": sorted((int(k.time), k.key, k.tonality) for k in tick.key_signatures),
        "markers": sorted((int(m.time), m.text) for m in tick.markers if not m.text.startswith(MARKER_PREFIX)),
        "lyrics": sorted((t.name, int(lyric.time), lyric.text) for t in tick.tracks for lyric in t.lyrics),
    }
    parts: list[str | bytes] = [json.dumps(header, sort_keys=True, ensure_ascii=False)]
    for track in tick.tracks:
        if _sounds(track):
            parts += [
                json.dumps([track.name, int(track.program), bool(track.is_drum)], ensure_ascii=False),
                _table(track.notes, ("time", "duration", "pitch", "velocity")),
                _table(track.controls, ("time", "number", "value"), pedal_controls(track)),
                _table(track.pitch_bends, ("time", "value")),
            ]
    digest = hashlib.sha256(_VERSION)
    for part in parts:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little") + data)  # each part's length: no two splits read alike
    return digest.hexdigest()


# What symusic does not read, so the hash cannot cover it, and cadenza never writes.
_UNREAD_META = {0x01: "text", 0x02: "copyright", 0x04: "instrument name", 0x07: "cue point"}
_UNREAD_CHANNEL = {0xA: "key aftertouch", 0xD: "channel aftertouch"}


def _varlen(data: bytes, i: int, end: int) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        if i >= end:
            break
        value, i = (value << 7) | (data[i] & 0x7F), i + 1
        if not data[i - 1] & 0x80:
            break
    return value, i


def _scan_track(data: bytes, i: int, end: int, found: Counter[str]) -> None:
    status = 0
    while i < end:
        _, i = _varlen(data, i, end)  # delta time
        if i >= end:
            return
        byte = data[i]
        if byte == 0xFF and i + 1 < end:  # meta: FF type length data
            kind = data[i + 1]
            if kind in _UNREAD_META:
                found[_UNREAD_META[kind]] += 1
            length, i = _varlen(data, i + 2, end)
            i += length
            continue
        if byte in (0xF0, 0xF7):  # SysEx: F0 length data
            found["SysEx"] += 1
            length, i = _varlen(data, i + 1, end)
            i, status = i + length, 0
            continue
        if byte & 0x80:
            status, i = byte, i + 1
        if not status or status >= 0xF0:
            return  # not a file symusic would read past either
        kind = status >> 4
        if kind in _UNREAD_CHANNEL:
            found[_UNREAD_CHANNEL[kind]] += 1
        i += 1 if kind in (0xC, 0xD) else 2


def unread_events(data: bytes) -> Counter[str]:
    """The events of a Standard MIDI File that :func:`music_sha256` cannot cover, because
    symusic does not read them, by kind: SysEx (a master volume of 0 mutes every track),
    key and channel aftertouch, and text, copyright, instrument-name and cue-point meta
    events. cadenza writes none of them, so a file it wrote that holds one was changed.
    One linear pass over the file's bytes."""
    found: Counter[str] = Counter()
    if data[:4] != b"MThd":
        return found
    position = 8 + int.from_bytes(data[4:8], "big")
    while position + 8 <= len(data):
        length = int.from_bytes(data[position + 4 : position + 8], "big")
        start = position + 8
        if data[position : position + 4] == b"MTrk":
            _scan_track(data, start, min(start + length, len(data)), found)
        position = start + length
    return found
