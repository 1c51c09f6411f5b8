"""Where pieces come from: the kinds of source a corpus is built from.

A source turns a path into :class:`FileRef` s (one per file to read, with the licence
it is under) and each FileRef into pieces. A file may hold several pieces (an ABC book,
a JSB split), so reading yields a list.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
import symusic

from cadenza.data.corpus import not_regular
from cadenza.errors import InputFileError, InvalidArgumentError
from cadenza.io import Limits, load_scores
from cadenza.io.formats import READABLE, format_of
from cadenza.jsonfile import read_json

__all__ = [
    "FileRef",
    "SourcePiece",
    "SourceSpec",
    "parse_source_spec",
    "list_files",
    "read_file",
    "MUSIC21_PUBLIC_DOMAIN",
    "style_of",
    "LABELLED_STYLES",
    "UNLABELLED",
]

# music21 corpus collections whose works are in the public domain. Left out: demos,
# lead sheets and theory exercises (mixed provenance), and 20th-century composers
# whose works may still be protected somewhere (Schoenberg, Webern, J. R. Johnson).
MUSIC21_PUBLIC_DOMAIN = (
    "airdsAirs", "bach", "beach", "beethoven", "chopin", "ciconia", "corelli", "cpebach",
    "essenFolksong", "handel", "haydn", "joplin", "josquin", "liliuokalani", "luca",
    "lusitano", "miscFolk", "monteverdi", "mozart", "oneills1850", "palestrina",
    "ryansMammoth", "schubert", "schumann_clara", "schumann_robert", "trecento", "verdi", "weber",
)  # fmt: skip

_STYLE_OF_COLLECTION = {
    "bach": "chorale",
    **dict.fromkeys(("palestrina", "josquin", "monteverdi", "trecento", "ciconia", "luca", "lusitano"), "early"),
    **dict.fromkeys(("essenFolksong", "ryansMammoth", "oneills1850", "airdsAirs", "miscFolk"), "folk"),
}
KNOWN_KINDS = ("pop909", "jsb", "music21", "folder")
# The styles a source may be labelled with (``--style NAME=STYLE``); a folder source
# without one is labelled UNLABELLED, the condition token every vocabulary has for it.
LABELLED_STYLES = ("pop", "chorale", "folk", "early", "classical")
UNLABELLED = "other"
MUSIC_EXTENSIONS = ".mid .midi .musicxml .xml .mxl .abc .krn"
# The CPU time a parse may take is sized to each file (an ABC book of the Essen
# collection, hundreds of tunes, gets minutes), so a corpus needs no larger limits
# than a single command.
CORPUS_LIMITS = Limits()
JSB_BYTES = 64 * 1024 * 1024  # Jsb16thSeparated.json is 1.7 MB


@dataclass(frozen=True)
class FileRef:
    """One file to read, and what is known about it before reading."""

    source: str  # the name given on the command line, e.g. "pop909"
    kind: str  # one of KNOWN_KINDS
    path: str
    licence: str
    collection: str  # composer or collection (music21), the source name otherwise
    piece_id: str  # stable id of the file within the corpus, e.g. "pop909/001"
    style: str = ""  # the style the source was labelled with; "" for its kind's own


@dataclass
class SourcePiece:
    """A piece as read from a file, with labels its source annotates."""

    piece_id: str
    score: symusic.Score
    split: str | None = None  # a split the source imposes (JSB's official one)
    annotations: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceSpec:
    name: str
    kind: str
    location: str
    licence: str
    style: str = ""  # one of LABELLED_STYLES, or "" for the kind's own (UNLABELLED for a folder)


def parse_source_spec(
    text: str, licences: dict[str, str] | None = None, styles: dict[str, str] | None = None
) -> SourceSpec:
    """``NAME=PATH``: pop909=DIR, jsb=FILE.json, music21=bach,palestrina (or all), other=DIR;
    ``styles`` labels a source's pieces (NAME -> one of LABELLED_STYLES)."""
    name, sep, location = text.partition("=")
    name = name.strip()
    if not sep or not name or not location:
        raise InvalidArgumentError(f"--source {text!r}: expected NAME=PATH, e.g. pop909=data/pop909")
    kind = name if name in ("pop909", "jsb", "music21") else "folder"
    default_licence = {"pop909": "MIT", "jsb": "public-domain", "music21": "public-domain"}.get(kind, "unknown")
    licence = (licences or {}).get(name, default_licence)
    if kind != "music21" and not Path(location).exists():
        raise InvalidArgumentError(f"--source {name}: {location} does not exist")
    style = (styles or {}).get(name, "")
    if style and style not in LABELLED_STYLES:
        raise InvalidArgumentError(f"--style {name}={style}: the style must be one of {', '.join(LABELLED_STYLES)}")
    return SourceSpec(name, kind, location, licence, style)


def _music21_root() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


def _music21_files(collections: str) -> Iterator[tuple[str, Path]]:
    root = _music21_root()
    wanted = MUSIC21_PUBLIC_DOMAIN if collections.strip() == "all" else tuple(collections.split(","))
    for collection in wanted:
        if collection not in MUSIC21_PUBLIC_DOMAIN:
            raise InvalidArgumentError(
                f"music21 collection {collection!r} is not one we may train on; choose from "
                + ", ".join(MUSIC21_PUBLIC_DOMAIN)
            )
        folder = root / collection
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix.lower() in (".mxl", ".xml", ".musicxml", ".krn", ".abc"):
                yield collection, path


def list_files(spec: SourceSpec) -> list[FileRef]:
    """Every file a source names, in a stable order. A named pipe or device among them is
    listed too, and dropped with its reason without being opened (opening a pipe blocks
    until a writer comes)."""
    if spec.kind == "music21":
        root = _music21_root()
        return [
            FileRef(spec.name, "music21", str(path), spec.licence, collection,
                    f"music21/{path.relative_to(root).with_suffix('').as_posix()}", spec.style)
            for collection, path in _music21_files(spec.location)
        ]  # fmt: skip
    location = Path(spec.location)
    if spec.kind == "jsb":
        return [FileRef(spec.name, "jsb", str(location), spec.licence, "bach", f"{spec.name}", spec.style)]
    if spec.kind == "pop909":
        songs = sorted(location.glob("*/*.mid"))
        if not songs:
            raise _nothing_to_read(spec, "POP909's layout: a folder per song holding its MIDI file (001/001.mid)")
        return [
            FileRef(spec.name, "pop909", str(path), spec.licence, "pop909", f"{spec.name}/{path.stem}", spec.style)
            for path in songs
        ]
    # Files that are not regular (a FIFO, a device) are listed too, to be reported as
    # dropped without ever being opened; dangling links are skipped.
    files = [location]
    if location.is_dir():
        files = sorted(p for p in location.rglob("*") if p.exists() and not p.is_dir())
    refs = []
    for path in files:
        if not _is_music(path):
            continue  # not a music file by its extension: not part of the corpus
        rel = path.name if not location.is_dir() else path.relative_to(location).as_posix()
        refs.append(FileRef(spec.name, "folder", str(path), spec.licence, spec.name, f"{spec.name}/{rel}", spec.style))
    if not refs:
        raise _nothing_to_read(spec, f"music files ending in {MUSIC_EXTENSIONS} (in any sub-folder)")
    return refs


def _is_music(path: Path) -> bool:
    try:
        format_of(path, READABLE)
    except Exception:
        return False
    return True


def _nothing_to_read(spec: SourceSpec, expected: str) -> InvalidArgumentError:
    """Why a source gives no file to read: what was expected and what is there."""
    location = Path(spec.location)
    found = [location] if not location.is_dir() else list(islice(location.rglob("*"), 100_000))
    kinds: Counter[str] = Counter()
    for path in found:
        if path.is_dir():
            continue
        kinds[path.suffix.lower() or "(no extension)" if not_regular(path) is None else "not regular"] += 1
    what = f"found {kinds.total()} files: " + ", ".join(f"{n} {k}" for k, n in kinds.most_common(8))
    return InvalidArgumentError(
        f"--source {spec.name}: {location} holds nothing to read; expected {expected}; "
        + (what if kinds else "found no file at all")
    )


def style_of(ref: FileRef) -> str:
    """The style label a piece carries: the one its source was labelled with, else pop,
    chorale, early, folk or classical by source, else UNLABELLED (a folder of one's own)."""
    if ref.style:
        return ref.style
    if ref.kind == "pop909":
        return "pop"
    if ref.kind == "jsb":
        return "chorale"
    if ref.kind == "music21":
        return _STYLE_OF_COLLECTION.get(ref.collection, "classical")
    return UNLABELLED


def _annotation(path: Path) -> str | None:
    """The text of a source's annotation file beside a piece, None when there is none;
    never opens what is not a regular file (a FIFO would block)."""
    if not os.path.lexists(path):
        return None
    reason = not_regular(path)
    if reason is not None:
        raise InputFileError(f"{path.name} is {reason}", path)
    return path.read_text()


def _pop909_key(folder: Path) -> str | None:
    """The key that covers most of the song in POP909's ``key_audio.txt`` (e.g. ``Gb:maj``)."""
    text = _annotation(folder / "key_audio.txt")
    if text is None:
        return None
    spans: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            spans[parts[2]] = spans.get(parts[2], 0.0) + float(parts[1]) - float(parts[0])
    return max(spans, key=lambda k: spans[k]) if spans else None


def _pop909_in_bars(score: symusic.Score, folder: Path) -> symusic.Score:
    """POP909's files carry arbitrary time signatures (1/4, 2/4, 12/8) and start at an
    arbitrary offset; its annotated beats say where the 4/4 bars are. Shift the music so
    that the first annotated downbeat falls on a bar line, and mark it 4/4."""
    text = _annotation(folder / "beat_midi.txt")
    if text is None:
        return score
    downbeats = [
        float(cols[0]) for line in text.splitlines() if len(cols := line.split()) >= 3 and float(cols[2]) == 1.0
    ]
    if not downbeats:
        return score
    from cadenza.analysis.beats import tempo_map

    bar = 4 * score.tpq
    first = round(float(tempo_map(score).to_ticks(np.array([downbeats[0]]))[0]))
    offset = (bar - first % bar) % bar
    onsets = [int(t.notes.numpy()["time"].min()) for t in score.tracks if len(t.notes)]
    first_note = min(onsets, default=0) + offset
    offset -= (first_note // bar) * bar  # and drop the empty bars before the music
    aligned = score.shift_time(offset)
    aligned.time_signatures = symusic.Score(score.tpq).time_signatures
    aligned.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    tempos = [t for t in aligned.tempos if t.time > 0]
    earlier = [t for t in aligned.tempos if t.time <= 0]
    aligned.tempos = symusic.Score(score.tpq).tempos
    aligned.tempos.append(symusic.Tempo(0, qpm=(earlier[-1] if earlier else score.tempos[0]).qpm))
    for tempo in tempos:
        aligned.tempos.append(tempo)
    return aligned


def _jsb_scores(ref: FileRef) -> list[SourcePiece]:
    """The SATB chorales of ``Jsb16thSeparated.json``: a 16th-note grid, -1 for silence.

    A pitch repeated on consecutive steps is one held note, as in Coconet.
    """
    data = read_json(ref.path, max_bytes=JSB_BYTES)
    if not isinstance(data, dict):
        raise InputFileError("is not a JSB chorales file (not a JSON object of splits)", ref.path)
    pieces = []
    for split in ("train", "valid", "test"):
        for number, steps in enumerate(data.get(split, [])):
            score = symusic.Score(480)
            score.tempos.append(symusic.Tempo(0, qpm=80.0))
            score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
            step_ticks = 120
            for voice, name in enumerate(("Soprano", "Alto", "Tenor", "Bass")):
                track = symusic.Track(name=name, program=52)  # choir aahs
                start, current = 0, -1
                for index, frame in enumerate([*steps, [-1] * 4]):
                    pitch = int(frame[voice]) if voice < len(frame) else -1
                    if pitch != current:
                        if current >= 0:
                            track.notes.append(
                                symusic.Note(start * step_ticks, (index - start) * step_ticks, current, 80)
                            )
                        start, current = index, pitch
                score.tracks.append(track)
            pieces.append(SourcePiece(f"{ref.piece_id}/{split}/{number:03d}", score, split=split))
    return pieces


def read_file(ref: FileRef) -> list[SourcePiece]:
    """Read the pieces of one file. Raises a CadenzaError when the file is unreadable."""
    if ref.kind == "jsb":
        return _jsb_scores(ref)
    scores = load_scores(ref.path, CORPUS_LIMITS)
    if ref.kind == "pop909":
        folder = Path(ref.path).parent
        key = _pop909_key(folder)
        score = _pop909_in_bars(scores[0], folder)
        return [SourcePiece(ref.piece_id, score, annotations={"key": key} if key else {})]
    if len(scores) == 1:
        return [SourcePiece(ref.piece_id, scores[0])]
    return [SourcePiece(f"{ref.piece_id}#{i}", score) for i, score in enumerate(scores)]
