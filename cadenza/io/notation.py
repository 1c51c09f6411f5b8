"""MusicXML, ABC and Humdrum through music21, converted to and from ``symusic.Score``.

Reading treats the file as hostile: XML is checked with defusedxml (no entity
expansion, no external entities), a compressed .mxl is unpacked here with a cap on
what it may decompress to, and music21 runs in a forked child with CPU-time and memory
limits (see :mod:`cadenza.io.sandbox`). The child hands back Standard MIDI bytes,
which the parent parses and validates like any MIDI file.

XML in another encoding than UTF-8 (UTF-16 in some of music21's own corpus) is
re-encoded as UTF-8 here, since music21 reads XML it is given as UTF-8 only.

A file may hold many pieces (an ABC tune book): :func:`read_pieces` gives each with
its title, in the file's order; the position in that list is the piece's index.

The CPU time a parse may take is sized to the file: ``Limits.parse_timeout_s`` seconds
for music21's start-up and a small file, plus an allowance per megabyte of the format
(music21 reads ABC and Humdrum much more slowly than XML: the Essen book ``lux.abc``,
210 KB and 614 tunes, takes it about 20 s), at most :data:`MAX_PARSE_CPU_S`.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import symusic

from cadenza.errors import InputFileError, InvalidArgumentError, LimitExceededError
from cadenza.io.formats import READABLE, Format, format_of
from cadenza.io.limits import DEFAULT_LIMITS, Limits
from cadenza.io.midi import midi_bytes, parse_midi_bytes
from cadenza.io.sandbox import run_isolated

__all__ = [
    "MAX_PARSE_CPU_S",
    "Piece",
    "choose_piece",
    "load_pieces",
    "music21_to_score",
    "parse_cpu_seconds",
    "read_notation",
    "read_pieces",
]

_MUSIC21_FORMAT = {
    Format.MUSICXML: "musicxml",
    Format.MXL: "musicxml",
    Format.ABC: "abc",
    Format.HUMDRUM: "humdrum",
}
_MAX_ZIP_ENTRIES = 256
_MAX_MEASURES_PER_PART = 10_000
_MAX_HUMDRUM_SPINES = 64
_MAX_PIECES_PER_FILE = 10_000
_MAX_TICK = 2**31 - 1
_MAX_TITLE_CHARS = 200
# CPU seconds of parsing allowed per megabyte of input, on top of the base allowance:
# several times what music21 was measured to need (XML about 5 s/MB, ABC about 100 s/MB).
_PARSE_CPU_S_PER_MB = {Format.MUSICXML: 30.0, Format.MXL: 30.0, Format.ABC: 400.0, Format.HUMDRUM: 400.0}
MAX_PARSE_CPU_S = 900.0


@dataclass(frozen=True)
class Piece:
    """One piece of a file that may hold several: its title ('' if none) and music."""

    title: str
    score: symusic.Score


def parse_cpu_seconds(fmt: Format, size_bytes: int, limits: Limits = DEFAULT_LIMITS) -> float:
    """The CPU time a parse of ``size_bytes`` of ``fmt`` may take."""
    allowance = limits.parse_timeout_s + _PARSE_CPU_S_PER_MB[fmt] * size_bytes / 1e6
    return min(MAX_PARSE_CPU_S, allowance)


_XML_DECLARATION = re.compile(rb"^<\?xml[^>]*?\?>")
_DECLARED_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")


def _xml_as_utf8(data: bytes, path: str | os.PathLike[str]) -> bytes:
    """The XML document re-encoded as UTF-8, with its declaration saying so."""
    encoding: str | None = None
    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                      (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):  # fmt: skip
        if data.startswith(bom):
            encoding = name
            break
    else:
        if data.startswith(b"<\x00?\x00"):
            encoding = "utf-16-le"
        elif data.startswith(b"\x00<\x00?"):
            encoding = "utf-16-be"
    if encoding is None:
        declaration = _XML_DECLARATION.match(data)
        found = _DECLARED_ENCODING.search(declaration.group()) if declaration else None
        encoding = found.group(1).decode("ascii") if found else "utf-8"
        if encoding.lower().replace("-", "").startswith(("utf16", "utf32", "ucs")):
            encoding = "utf-8"  # a declaration readable as ASCII is not in UTF-16 or 32, whatever it says
    try:
        text = data.decode(encoding)
    except LookupError:
        raise InputFileError(f"is XML in an unknown encoding {encoding!r}", path) from None
    except UnicodeDecodeError as error:
        raise InputFileError(f"is not valid {encoding} text ({error.reason} at byte {error.start})", path) from None
    utf8 = text.removeprefix("\ufeff").encode("utf-8")
    declaration = _XML_DECLARATION.match(utf8)
    if declaration:
        fixed = _DECLARED_ENCODING.sub(b'encoding="UTF-8"', declaration.group(), count=1)
        utf8 = fixed + utf8[declaration.end() :]
    return utf8


def _check_xml(data: bytes, path: str | os.PathLike[str]) -> None:
    """Refuse entity tricks and absurd sizes before music21 sees the XML."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        root = fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise InputFileError(f"XML refused as unsafe ({type(error).__name__})", path) from None
    except Exception as error:
        raise InputFileError(f"is not well-formed XML ({str(error)[:200]})", path) from None
    if root.tag not in ("score-partwise", "score-timewise"):
        raise InputFileError(f"is XML but not MusicXML (root element <{root.tag[:50]}>)", path)
    for part in root.iter("part"):
        if len(part) > _MAX_MEASURES_PER_PART:
            raise LimitExceededError(f"a part has more than {_MAX_MEASURES_PER_PART} measures", path)


def _read_bounded(archive: zipfile.ZipFile, name: str, limit: int, path: str | os.PathLike[str]) -> bytes:
    with archive.open(name) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise LimitExceededError(f"{name} inside the archive decompresses to more than {limit} bytes", path)
    return data


def _unpack_mxl(data: bytes, path: str | os.PathLike[str], limits: Limits) -> bytes:
    """The MusicXML document inside a compressed .mxl archive."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
        if len(names) > _MAX_ZIP_ENTRIES:
            raise LimitExceededError(f"archive holds {len(names)} files, more than {_MAX_ZIP_ENTRIES}", path)
        rootfile = None
        if "META-INF/container.xml" in names:
            from defusedxml.ElementTree import fromstring

            container = fromstring(_read_bounded(archive, "META-INF/container.xml", 1 << 20, path))
            for element in container.iter():
                if element.tag.endswith("rootfile") and element.get("full-path"):
                    rootfile = element.get("full-path")
                    break
        if rootfile is None:
            candidates = [
                n for n in names if n.lower().endswith((".xml", ".musicxml")) and not n.startswith("META-INF")
            ]
            rootfile = candidates[0] if candidates else None
        if rootfile is None or rootfile not in names:
            raise InputFileError("compressed MusicXML without a score inside", path)
        return _read_bounded(archive, rootfile, limits.max_file_bytes, path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as error:
        raise InputFileError(f"is not a valid .mxl archive ({error})", path) from None
    except (InputFileError, LimitExceededError):
        raise
    except Exception as error:  # zlib errors, bad container XML
        raise InputFileError(f"is not a valid .mxl archive ({type(error).__name__}: {error})", path) from None


def _decode_text(data: bytes, path: str | os.PathLike[str]) -> str:
    if b"\x00" in data:
        raise InputFileError("is binary, not a text music file", path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _check_humdrum(text: str, path: str | os.PathLike[str]) -> None:
    for line in text.splitlines():
        if line.startswith("**"):
            spines = line.count("\t") + 1
            if spines > _MAX_HUMDRUM_SPINES:
                raise LimitExceededError(f"has {spines} spines, more than {_MAX_HUMDRUM_SPINES}", path)


def _tied_notes_merged(flat: Any) -> Iterator[tuple[float, float, int, int]]:
    """(start, length, pitch, velocity) of every sounding note of a flattened part, in
    quarters, each chain of tied notes merged into one note.

    music21's own ``stripTies`` joins the wrong notes when voices interleave in the
    flattened part (a tie chain in one voice swallows a note of the same part's other
    voice); here a tie joins only the held note of its pitch that ends where the next starts.
    """
    from music21 import chord

    held: dict[int, list[float]] = {}  # pitch -> [start, length, velocity] of a note whose tie goes on
    for element in flat.notes:
        length = float(element.quarterLength)
        if length <= 0:  # a grace note
            continue
        start = float(element.offset)
        velocity = int(element.volume.velocity) if element.volume.velocity is not None else 80
        members = list(element.notes) if isinstance(element, chord.Chord) else [element]
        for member in members:
            pitch = getattr(member, "pitch", None)  # unpitched percussion has none
            if pitch is None or not 0 <= pitch.midi <= 127:
                continue
            tie = (member.tie or element.tie).type if (member.tie or element.tie) else None
            open_note = held.pop(pitch.midi, None)
            if open_note is not None:
                # A tie ends on the next note of its pitch that starts where it ends, even
                # one the file forgot to mark as the tie's end (as music21 reads it).
                if abs(open_note[0] + open_note[1] - start) < 1e-6:
                    open_note[1] += length
                    if tie in ("start", "continue"):
                        held[pitch.midi] = open_note
                    else:
                        yield open_note[0], open_note[1], pitch.midi, int(open_note[2])
                    continue
                yield open_note[0], open_note[1], pitch.midi, int(open_note[2])
            if tie in ("start", "continue"):
                held[pitch.midi] = [start, length, velocity]
            else:
                yield start, length, pitch.midi, velocity
    for midi, open_note in held.items():
        yield open_note[0], open_note[1], midi, int(open_note[2])


def _pickup(part: Any) -> float | None:
    """The length in quarters of a part's first measure when it is a pickup (shorter
    than its meter's bar, the music starting after the bar line's time)."""
    from music21 import stream

    measures = part.getElementsByClass(stream.Measure)
    if len(measures) < 2 or not measures[0].paddingLeft or measures[0].offset != 0:
        return None
    length = float(measures[1].offset)
    return length if 0 < length < float(measures[1].barDuration.quarterLength) else None


def _with_pickup(signatures: list[tuple[float, int, int]], pickup: float | None) -> list[tuple[float, int, int]]:
    """The time signatures with a pickup stated as MIDI states it: a first bar of its
    own short meter (1/4 before a 4/4 bar), then the piece's meter at the first full bar."""
    if pickup is None or not signatures or signatures[0][0] != 0:
        return signatures
    _, numerator, denominator = signatures[0]
    short, short_denominator = Fraction(pickup).limit_denominator(64) * denominator / 4, denominator
    while short.denominator != 1 and short_denominator < 64:  # a dotted quarter's pickup in 3/4: 3/8
        short, short_denominator = short * 2, short_denominator * 2
    if short.denominator != 1:
        return signatures
    later = [s for s in signatures[1:] if s[0] >= pickup]
    if not later or later[0][0] != pickup:
        later.insert(0, (pickup, numerator, denominator))
    return [(0.0, int(short), short_denominator), *later]


def music21_to_score(stream: object, tpq: int = 480) -> symusic.Score:
    """Convert a music21 Score (or Part) into a tick-based ``symusic.Score``.

    Tied notes are merged, grace notes (no duration) are dropped, chords become
    simultaneous notes; tempo marks, time and key signatures are kept. A pickup
    measure becomes a short first bar of its own time signature (see :func:`_with_pickup`).
    """
    from music21 import key, meter, tempo
    from music21 import stream as m21stream

    assert isinstance(stream, m21stream.Stream)
    parts = list(stream.parts) if isinstance(stream, m21stream.Score) else [stream]
    score = symusic.Score(tpq, ttype="quarter")
    flat_all = stream.flatten()
    seen_tempo: set[float] = set()
    for mark in flat_all.getElementsByClass(tempo.MetronomeMark):
        bpm = mark.getQuarterBPM()
        offset = float(mark.offset)
        if bpm and bpm > 0 and offset not in seen_tempo:
            seen_tempo.add(offset)
            score.tempos.append(symusic.Tempo(offset, qpm=float(bpm), ttype="quarter"))
    first = parts[0].flatten() if parts else flat_all
    signatures = [(float(s.offset), s.numerator, s.denominator) for s in first.getElementsByClass(meter.TimeSignature)]
    for time, numerator, denominator in _with_pickup(signatures, _pickup(parts[0]) if parts else None):
        score.time_signatures.append(symusic.TimeSignature(time, numerator, denominator, ttype="quarter"))
    for signature in first.getElementsByClass(key.KeySignature):
        minor = isinstance(signature, key.Key) and signature.mode == "minor"
        score.key_signatures.append(
            symusic.KeySignature(float(signature.offset), signature.sharps, int(minor), ttype="quarter")
        )
    for part in parts:
        instrument = part.getInstrument(returnDefault=True)
        program = instrument.midiProgram if instrument is not None and instrument.midiProgram is not None else 0
        name = getattr(part, "partName", None) or (instrument.instrumentName if instrument is not None else "") or ""
        track = symusic.Track(name=str(name), program=int(program), is_drum=False, ttype="quarter")
        for start, length, pitch, velocity in _tied_notes_merged(part.flatten()):
            track.notes.append(symusic.Note(start, length, pitch, velocity, ttype="quarter"))
        score.tracks.append(track)
    if score.end() * tpq >= _MAX_TICK:
        raise LimitExceededError("music runs past the longest time a MIDI file can hold")
    return score.to("tick")


def _clean_title(title: object) -> str:
    """A title as plain, one-line, bounded text: control characters shown escaped."""
    text = str(title or "").strip()[:_MAX_TITLE_CHARS]
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _parse_in_child(payload: bytes | str, m21_format: str) -> list[bytes]:
    """Runs in the sandbox: for each piece, its MIDI bytes then its title (UTF-8)."""
    import warnings

    from music21 import converter
    from music21 import stream as m21stream

    # music21 prints warnings about every oddity it repairs; the child's stderr is not
    # the user's terminal, and what matters comes back as the answer or the error.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    warnings.simplefilter("ignore")

    parsed = converter.parseData(payload, format=m21_format)
    pieces = list(parsed.scores) if isinstance(parsed, m21stream.Opus) else [parsed]
    if len(pieces) > _MAX_PIECES_PER_FILE:
        raise LimitExceededError(f"holds {len(pieces)} pieces, more than {_MAX_PIECES_PER_FILE}")
    blobs = []
    for piece in pieces:
        metadata = getattr(piece, "metadata", None)
        title = (metadata.title or metadata.movementName or "") if metadata is not None else ""
        blobs += [midi_bytes(music21_to_score(piece)), _clean_title(title).encode("utf-8")]
    return blobs


def _payload(data: bytes, path: str | os.PathLike[str], fmt: Format, limits: Limits) -> bytes | str:
    """What music21 is given: checked UTF-8 XML, or the text of an ABC or Humdrum file."""
    if fmt in (Format.MXL, Format.MUSICXML):
        xml = _xml_as_utf8(_unpack_mxl(data, path, limits) if fmt is Format.MXL else data, path)
        _check_xml(xml, path)
        return xml
    text = _decode_text(data, path)
    if fmt is Format.HUMDRUM:
        _check_humdrum(text, path)
    return text


def read_pieces(path: str | os.PathLike[str], fmt: Format, limits: Limits = DEFAULT_LIMITS) -> list[Piece]:
    """Every piece of a MusicXML, compressed MusicXML, ABC or Humdrum file, in order."""
    data = Path(path).read_bytes()
    if len(data) == 0:
        raise InputFileError("is empty", path)
    payload = _payload(data, path, fmt, limits)
    m21_format = _MUSIC21_FORMAT[fmt]
    blobs = run_isolated(
        lambda: _parse_in_child(payload, m21_format),
        path=str(path),
        cpu_seconds=parse_cpu_seconds(fmt, len(payload), limits),
        memory_bytes=limits.parse_memory_bytes,
    )
    if len(blobs) % 2:
        raise InputFileError("the parser gave an incomplete answer", path)
    pieces = [
        Piece(title.decode("utf-8", "replace"), parse_midi_bytes(blob, path, limits))
        for blob, title in zip(blobs[::2], blobs[1::2], strict=True)
    ]
    # music21 accepts almost any text as ABC or Humdrum; a "piece" without a note is
    # what it makes of a file that is not music.
    pieces = [piece for piece in pieces if piece.score.note_num() > 0]
    if not pieces:
        raise InputFileError("holds no notes (is it really a music file?)", path)
    return pieces


def read_notation(path: str | os.PathLike[str], fmt: Format, limits: Limits = DEFAULT_LIMITS) -> list[symusic.Score]:
    """Read a MusicXML, compressed MusicXML, ABC or Humdrum file: one Score per piece in it."""
    return [piece.score for piece in read_pieces(path, fmt, limits)]


def load_pieces(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> list[Piece]:
    """Every piece of any music file cadenza reads, with its title: a MIDI file is one
    untitled piece, an ABC tune book as many as it holds tunes."""
    from cadenza.io import loading

    fmt = format_of(path, READABLE)
    if fmt is Format.MIDI:
        return [Piece("", score) for score in loading.load_scores(path, limits)]
    return read_pieces(loading._check_input(path, limits), fmt, limits)


def choose_piece(pieces: list[Piece], index: int, path: str | os.PathLike[str]) -> Piece:
    """The ``index``-th piece (from 0), or an error naming the pieces there are."""
    if not 0 <= index < len(pieces):
        choice = "only piece 0" if len(pieces) == 1 else f"pieces 0 to {len(pieces) - 1}"
        raise InvalidArgumentError(f"holds {choice}; there is no piece {index}", path)
    return pieces[index]
