"""Hundreds of malformed music files, made here, deterministically.

Each generator yields ``(file name, bytes)``. The kinds follow what real parsers
choke on: wrong chunk lengths, huge delta times, running status with no status,
absurd headers, XML entity tricks, zip bombs, and files that are not music at all.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

import symusic

Case = tuple[str, bytes]


def vlq(value: int) -> bytes:
    """MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def midi_file(tracks: list[bytes], *, division: int = 480, ntracks: int | None = None, fmt: int = 1) -> bytes:
    header = b"MThd" + struct.pack(">IHHH", 6, fmt, len(tracks) if ntracks is None else ntracks, division)
    return header + b"".join(b"MTrk" + struct.pack(">I", len(t)) + t for t in tracks)


END_OF_TRACK = b"\x00\xff\x2f\x00"


def valid_midi() -> bytes:
    score = symusic.Score(480)
    score.tempos.append(symusic.Tempo(0, qpm=100.0))
    score.time_signatures.append(symusic.TimeSignature(0, 3, 4))
    for program, base in ((0, 60), (32, 36)):
        track = symusic.Track(name=f"p{program}", program=program)
        for i in range(24):
            track.notes.append(symusic.Note(i * 240, 240, base + (i * 5) % 12, 60 + i))
        score.tracks.append(track)
    return bytes(score.dumps_midi())


def midi_cases(rng: random.Random) -> Iterator[Case]:
    base = valid_midi()
    for i in range(110):  # random byte flips
        data = bytearray(base)
        for _ in range(rng.randint(1, 12)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        yield f"flip{i}.mid", bytes(data)
    for i in range(40):  # truncations
        yield f"truncated{i}.mid", base[: rng.randrange(1, len(base))]
    for i, length in enumerate((0, 5, 7, 0x7FFFFFFF, 0xFFFFFFFF)):  # header chunk length
        yield f"mthd_length{i}.mid", b"MThd" + struct.pack(">I", length) + base[8:]
    for i, length in enumerate((0, 1, 3, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF)):  # track chunk length
        note = b"\x00\x90\x3c\x40\x60\x80\x3c\x00" + END_OF_TRACK
        yield f"mtrk_length{i}.mid", midi_file([note])[:18] + struct.pack(">I", length) + note
    huge = vlq(0x0FFFFFFF)
    yield "huge_deltas.mid", midi_file([(huge + b"\x90\x3c\x40") * 40 + b"\x00\x80\x3c\x00" + END_OF_TRACK])
    yield (
        "note_lasts_days.mid",
        midi_file(
            [b"\x00\xff\x51\x03\x7f\xff\xff\x00\x90\x3c\x40" + huge + b"\x80\x3c\x00" + END_OF_TRACK], division=1
        ),
    )
    yield "running_status_without_status.mid", midi_file([b"\x00\x3c\x40\x10\x3c\x00" + END_OF_TRACK])
    yield "running_status_after_meta.mid", midi_file([b"\x00\xff\x01\x01a\x00\x3c\x40" + END_OF_TRACK])
    yield "ten_thousand_tracks.mid", midi_file([END_OF_TRACK], ntracks=10_000)
    yield "max_tracks.mid", midi_file([END_OF_TRACK], ntracks=65_535)
    yield "tpq_zero.mid", midi_file([b"\x00\x90\x3c\x40\x60\x80\x3c\x00" + END_OF_TRACK], division=0)
    yield "smpte_division.mid", midi_file([b"\x00\x90\x3c\x40\x60\x80\x3c\x00" + END_OF_TRACK], division=0xE728)
    yield "tempo_zero.mid", midi_file([b"\x00\xff\x51\x03\x00\x00\x00\x00\x90\x3c\x40\x60\x80\x3c\x00" + END_OF_TRACK])
    yield "format_seven.mid", midi_file([END_OF_TRACK], fmt=7)
    yield "meta_huge_length.mid", midi_file([b"\x00\xff\x01" + vlq(0x0FFFFFFF) + b"abc"])
    yield "sysex_huge_length.mid", midi_file([b"\x00\xf0" + vlq(0x0FFFFFFF) + b"\x7e\xf7"])
    yield "unterminated_vlq.mid", midi_file([b"\xff\xff\xff\xff\xff\xff\xff\xff\xff"])
    yield "no_end_of_track.mid", midi_file([b"\x00\x90\x3c\x40\x60\x80\x3c\x00"])
    yield "header_only.mid", base[:14]
    yield "rmid_wrapper.mid", b"RIFF" + struct.pack("<I", len(base) + 4) + b"RMID" + base
    overflow = (vlq(0x0FFFFFFF) + b"\xff\x01\x00") * 9  # 9 x 2^28 ticks passes 2^31
    yield "int32_tick_overflow.mid", midi_file([overflow + b"\x00\x90\x3c\x40\x60\x80\x3c\x00" + END_OF_TRACK])
    # Small files that imply enormous work (cadenza.io.limits): 20 million beats in 20 s,
    # notes held over each other, a chord of 3,000 notes.
    tempo_1us = b"\x00\xff\x51\x03\x00\x00\x01"
    yield (
        "twenty_million_quarters.mid",
        midi_file([tempo_1us + b"\x00\x90\x3c\x40" + vlq(20_000_000) + b"\x80\x3c\x00" + END_OF_TRACK], division=1),
    )
    piled = b"\x00\x90\x3c\x40" + b"\x01\x3c\x40" * 5000 + b"\x00\x80\x3c\x00" + b"\x00\x3c\x00" * 5000
    yield "piled_on_one_key.mid", midi_file([piled + END_OF_TRACK], division=1)
    keys = [(i % 16, 24 + i % 80) for i in range(3000)]
    chord = b"".join(b"\x00" + bytes([0x90 + channel, pitch, 64]) for channel, pitch in keys)
    release = b"".join(b"\x00" + bytes([0x80 + channel, pitch, 0]) for channel, pitch in keys)
    yield "three_thousand_note_chord.mid", midi_file([chord + b"\x60" + release[1:] + END_OF_TRACK], division=480)


_MUSICXML = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 3.1 Partwise//EN" "http://www.musicxml.org/dtds/partwise.dtd">
<score-partwise version="3.1"><part-list><score-part id="P1"><part-name>Music</part-name></score-part></part-list>
<part id="P1">{measures}</part></score-partwise>"""
_MEASURE = (
    '<measure number="{n}"><attributes><divisions>{div}</divisions><time><beats>4</beats><beat-type>4</beat-type>'
    "</time></attributes><note><pitch><step>C</step><octave>4</octave></pitch><duration>{dur}</duration>"
    "<type>whole</type></note></measure>"
)


def valid_musicxml(measures: int = 4, div: int = 1, dur: int = 4) -> bytes:
    body = "".join(_MEASURE.format(n=i + 1, div=div, dur=dur) for i in range(measures))
    return _MUSICXML.format(measures=body).encode()


def xml_cases(rng: random.Random) -> Iterator[Case]:
    laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    yield "billion_laughs.musicxml", (laughs + "]><score-partwise>&lol9;</score-partwise>").encode()
    yield (
        "external_entity.musicxml",
        (
            b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<score-partwise>&x;</score-partwise>"
        ),
    )
    yield (
        "external_parameter_entity.xml",
        (b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]><score-partwise/>'),
    )
    yield (
        "quadratic_blowup.xml",
        (
            ('<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "' + "x" * 50_000 + '">]><score-partwise>')
            + "&a;" * 5_000
            + "</score-partwise>"
        ).encode(),
    )
    yield "deep_nesting.musicxml", b"<score-partwise>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</score-partwise>"
    yield "not_musicxml_root.xml", b'<?xml version="1.0"?><html><body>hello</body></html>'
    yield "broken.musicxml", valid_musicxml()[:-30]
    yield "twenty_thousand_measures.musicxml", valid_musicxml(measures=20_000)
    yield "divisions_zero.musicxml", valid_musicxml(div=0)
    yield "negative_duration.musicxml", valid_musicxml(dur=-4)
    yield "huge_duration.musicxml", valid_musicxml(dur=10**12)
    yield "empty_score.musicxml", _MUSICXML.format(measures="").encode()
    base = valid_musicxml()
    for i in range(30):
        data = bytearray(base)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(32, 127)
        yield f"xml_flip{i}.musicxml", bytes(data)


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _zip_bomb(uncompressed_mb: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("score.xml", "w") as member:
        member.write(b"<score-partwise>")
        chunk = b" " * (1 << 20)
        for _ in range(uncompressed_mb):
            member.write(chunk)
    return buffer.getvalue()


def mxl_cases(rng: random.Random) -> Iterator[Case]:
    container = b'<?xml version="1.0"?><container><rootfiles><rootfile full-path="{}"/></rootfiles></container>'
    yield "zip_bomb.mxl", _zip_bomb(200)
    yield "no_score_inside.mxl", _zip({"readme.txt": b"hello"})
    yield "missing_rootfile.mxl", _zip({"META-INF/container.xml": container.replace(b"{}", b"nope.xml")})
    yield (
        "container_entities.mxl",
        _zip({"META-INF/container.xml": b'<!DOCTYPE c [<!ENTITY e "x">]><container>&e;</container>'}),
    )
    yield "many_entries.mxl", _zip({f"f{i}.txt": b"" for i in range(1000)})
    yield "laughs_inside.mxl", _zip({"score.xml": next(xml_cases(random.Random(0)))[1]})
    good = _zip({"score.xml": valid_musicxml()})
    for i in range(20):
        data = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        yield f"mxl_flip{i}.mxl", bytes(data)
    yield "truncated.mxl", good[: len(good) // 2]


def text_cases(rng: random.Random) -> Iterator[Case]:
    yield "spines.krn", ("\t".join(["**kern"] * 10_000) + "\n" + "\t".join(["4c"] * 10_000) + "\n*-\n").encode()
    yield "garbage.krn", b"**kern\n!!! nothing\n%%%%\n4zz\n*-\n"
    yield "unterminated.krn", b"**kern\t**kern\n4c\n"
    yield "binary.krn", bytes(rng.randrange(256) for _ in range(500))
    yield "binary.abc", bytes(rng.randrange(256) for _ in range(500))
    yield "garbage.abc", b"X:1\nK:Q#\n|:[[[[((((]]]]\n"
    yield "no_header.abc", b"this is not abc at all\n"
    yield "long_note.abc", b"X:1\nL:1/8\nK:C\nC999999999|\n"
    yield "many_repeats.abc", b"X:1\nK:C\n" + b"|:C:|" * 5000 + b"\n"
    tune = "X:1\nT:t\nM:3/4\nL:1/8\nK:D\n|:d2 fe dc|B2 AG FE|D6:|\n"
    for i in range(25):
        chars = list(tune)
        for _ in range(rng.randint(1, 6)):
            chars[rng.randrange(len(chars))] = chr(rng.randrange(32, 127))
        yield f"abc_flip{i}.abc", "".join(chars).encode()
    kern = "**kern\t**kern\n*M4/4\t*M4/4\n4c\t4e\n4d\t4f\n=\t=\n2g\t2b\n*-\t*-\n"
    for i in range(15):
        chars = list(kern)
        for _ in range(rng.randint(1, 5)):
            chars[rng.randrange(len(chars))] = rng.choice("\t\n*=-!.4cg[]()")
        yield f"kern_flip{i}.krn", "".join(chars).encode()


def not_music_cases(rng: random.Random) -> Iterator[Case]:
    contents = {
        "empty": b"",
        "text": b"hello, I am not music\n",
        "png": b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(200)),
        "json": b'{"notes": [1, 2, 3]}',
        "zeros": b"\x00" * 4096,
        "random": bytes(rng.randrange(256) for _ in range(2048)),
    }
    for extension in (".mid", ".midi", ".xml", ".musicxml", ".mxl", ".abc", ".krn"):
        for kind, data in contents.items():
            yield f"{kind}{extension}", data


def write_all(folder: Path, seed: int = 2026) -> list[Path]:
    """Write every case into ``folder`` and return the paths."""
    rng = random.Random(seed)
    paths = []
    for generator in (midi_cases, xml_cases, mxl_cases, text_cases, not_music_cases):
        for name, data in generator(rng):
            path = folder / name
            path.write_bytes(data)
            paths.append(path)
    return paths
