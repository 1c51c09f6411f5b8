"""Where pieces come from: the kinds of source a corpus is built from.

A source turns a path into :class:`FileRef` s (one per file to read, with the licence
it is under) and each FileRef into pieces. A file may hold several pieces (an ABC book,
a JSB split), so reading yields a list.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import symusic

from cadenza.errors import InvalidArgumentError
from cadenza.io import Limits, load_scores
from cadenza.io.files import require_regular_file
from cadenza.io.formats import READABLE, format_of

__all__ = [
    "FileRef",
    "SourcePiece",
    "SourceSpec",
    "parse_source_spec",
    "list_files",
    "read_file",
    "MUSIC21_PUBLIC_DOMAIN",
    "style_of",
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
# An ABC book of the Essen collection holds over a thousand tunes and takes music21
# about 30 s: a corpus build allows more time per file than a single command does.
CORPUS_LIMITS = Limits(parse_timeout_s=600.0)


@dataclass(frozen=True)
class FileRef:
    """One file to read, and what is known about it before reading."""

    source: str  # the name given on the command line, e.g. "pop909"
    kind: str  # one of KNOWN_KINDS
    path: str
    licence: str
    collection: str  # composer or collection (music21), the source name otherwise
    piece_id: str  # stable id of the file within the corpus, e.g. "pop909/001"


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


def parse_source_spec(text: str, licences: dict[str, str] | None = None) -> SourceSpec:
    """``NAME=PATH``: pop909=DIR, jsb=FILE.json, music21=bach,palestrina (or all), other=DIR."""
    name, sep, location = text.partition("=")
    name = name.strip()
    if not sep or not name or not location:
        raise InvalidArgumentError(f"--source {text!r}: expected NAME=PATH, e.g. pop909=data/pop909")
    kind = name if name in ("pop909", "jsb", "music21") else "folder"
    default_licence = {"pop909": "MIT", "jsb": "public-domain", "music21": "public-domain"}.get(kind, "unknown")
    licence = (licences or {}).get(name, default_licence)
    if kind != "music21" and not Path(location).exists():
        raise InvalidArgumentError(f"--source {name}: {location} does not exist")
    return SourceSpec(name, kind, location, licence)


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
    refused here, before any worker opens it (opening a pipe blocks until a writer comes)."""
    refs = _list_refs(spec)
    for ref in refs:
        require_regular_file(ref.path)
    return refs


def _list_refs(spec: SourceSpec) -> list[FileRef]:
    if spec.kind == "music21":
        root = _music21_root()
        return [
            FileRef(spec.name, "music21", str(path), spec.licence, collection,
                    f"music21/{path.relative_to(root).with_suffix('').as_posix()}")
            for collection, path in _music21_files(spec.location)
        ]  # fmt: skip
    location = Path(spec.location)
    if spec.kind == "jsb":
        return [FileRef(spec.name, "jsb", str(location), spec.licence, "bach", f"{spec.name}")]
    if spec.kind == "pop909":
        return [
            FileRef(spec.name, "pop909", str(path), spec.licence, "pop909", f"{spec.name}/{path.stem}")
            for path in sorted(location.glob("*/*.mid"))
        ]
    files = [location]
    if location.is_dir():  # not only regular files: a pipe with a music extension is refused above
        files = sorted(p for p in location.rglob("*") if p.exists() and not p.is_dir())
    refs = []
    for path in files:
        try:
            format_of(path, READABLE)
        except Exception:
            continue  # not a music file by its extension: not part of the corpus
        rel = path.name if location.is_file() else path.relative_to(location).as_posix()
        refs.append(FileRef(spec.name, "folder", str(path), spec.licence, spec.name, f"{spec.name}/{rel}"))
    return refs


def style_of(ref: FileRef) -> str:
    """The style label a piece carries: pop, chorale, early, folk, classical or the source name."""
    if ref.kind == "pop909":
        return "pop"
    if ref.kind == "jsb":
        return "chorale"
    if ref.kind == "music21":
        return _STYLE_OF_COLLECTION.get(ref.collection, "classical")
    return ref.source


def _pop909_key(folder: Path) -> str | None:
    """The key that covers most of the song in POP909's ``key_audio.txt`` (e.g. ``Gb:maj``)."""
    path = folder / "key_audio.txt"
    if not path.exists():
        return None
    spans: dict[str, float] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3:
            spans[parts[2]] = spans.get(parts[2], 0.0) + float(parts[1]) - float(parts[0])
    return max(spans, key=lambda k: spans[k]) if spans else None


def _pop909_in_bars(score: symusic.Score, folder: Path) -> symusic.Score:
    """POP909's files carry arbitrary time signatures (1/4, 2/4, 12/8) and start at an
    arbitrary offset; its annotated beats say where the 4/4 bars are. Shift the music so
    that the first annotated downbeat falls on a bar line, and mark it 4/4."""
    path = folder / "beat_midi.txt"
    if not path.exists():
        return score
    downbeats = [
        float(cols[0])
        for line in path.read_text().splitlines()
        if len(cols := line.split()) >= 3 and float(cols[2]) == 1.0
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
    data = json.loads(Path(ref.path).read_text())
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
