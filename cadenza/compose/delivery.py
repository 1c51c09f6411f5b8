"""What a soundtrack leaves in its folder, each file with its signed record beside it.

::

    DIR/cue.mid          every layer a track, the tempo map, markers at sections, hits and loop ends
    DIR/mix.wav          the full mix, exactly the cue's length
    DIR/stems/LAYER.wav  with stems: one per layer, same length, summing to the mix
    DIR/cue.json         the cue sheet a game engine reads (cadenza/schemas/cue-sheet.schema.json)

Every file is checked before anything is written (an existing one is refused unless
``force``), and each is written to a temporary file and renamed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from cadenza.compose.cue_sheet import cue_sheet
from cadenza.compose.soundtrack import Soundtrack
from cadenza.errors import CadenzaError, InvalidArgumentError
from cadenza.io.atomic import atomic_output, check_writable
from cadenza.io.stems import render_stems
from cadenza.provenance.outputs import write_with_record
from cadenza.provenance.record import sidecar_path, write_record
from cadenza.provenance.signing import SigningKey, sign_record

__all__ = ["SAMPLE_RATE", "Targets", "folder_targets", "output_targets", "check_targets", "deliver"]

SAMPLE_RATE = 44100


@dataclass(frozen=True)
class Targets:
    """Where a soundtrack's files go: ``outputs`` are written in their format (every WAV
    exactly the cue's length), the first WAV among them with the stems (one
    ``LAYER.wav`` per layer in ``stems``) when asked, and the cue sheet at ``sheet``."""

    outputs: tuple[Path, ...]
    sheet: Path
    stems: Path | None = None

    def stem_paths(self, layers: list[str]) -> dict[str, Path]:
        return {} if self.stems is None else {name: self.stems / f"{name}.wav" for name in layers}

    def all(self, layers: list[str]) -> list[Path]:
        return [*self.outputs, self.sheet, *self.stem_paths(layers).values()]


def folder_targets(folder: str | os.PathLike[str], stems: bool) -> Targets:
    """``cadenza soundtrack CUE -o DIR``: DIR/mix.wav, DIR/cue.mid, DIR/cue.json, DIR/stems/."""
    folder = Path(folder)
    return Targets((folder / "mix.wav", folder / "cue.mid"), folder / "cue.json", folder / "stems" if stems else None)


def output_targets(outputs: list[Path], stems: bool) -> Targets:
    """``cadenza generate -o OUT.wav ...``: the outputs asked for, the cue sheet as
    OUT.cue.json and, with stems, OUT-stems/LAYER.wav (and OUT.mid, the multitrack MIDI,
    when no MIDI output was asked for)."""
    first = outputs[0]
    extra = []
    if stems and not any(p.suffix.lower() in (".mid", ".midi") for p in outputs):
        extra.append(first.with_suffix(".mid"))
    if stems and not any(p.suffix.lower() == ".wav" for p in outputs):
        extra.append(first.with_suffix(".wav"))
    folder = first.with_name(f"{first.stem}-stems") if stems else None
    return Targets((*outputs, *extra), first.with_suffix(".cue.json"), folder)


def check_targets(targets: Targets, layers: list[str], *, force: bool = False) -> None:
    """Refuse, before any work, an output (or its record) that exists without ``force``,
    one named twice, or a folder that is a file."""
    seen: set[Path] = set()
    for path in targets.all(layers):
        if path.absolute() in seen:
            raise InvalidArgumentError(f"{path} is given twice as an output")
        seen.add(path.absolute())
        existing = next(folder for folder in (path.parent, *path.parent.parents) if folder.exists())
        if not existing.is_dir():
            raise CadenzaError("is not a folder", existing)
        if not os.access(existing, os.W_OK | os.X_OK):
            raise CadenzaError(f"folder {existing} is not writable", path)
        if existing == path.parent:  # else the folder is made, and nothing in it exists yet
            check_writable(path, force=force)
            check_writable(sidecar_path(path), force=force)


def deliver(
    soundtrack: Soundtrack,
    record: dict[str, object],
    key: SigningKey,
    targets: Targets,
    *,
    force: bool = False,
    soundfont: Path | None = None,
) -> list[Path]:
    """Write the soundtrack's files (see :class:`Targets`), each with its record signed by
    ``key``; returns every file written."""
    cue = soundtrack.cue
    layers = [layer.name for layer in cue.layers]
    check_targets(targets, layers, force=force)
    stem_paths = targets.stem_paths(layers)
    for path in targets.all(layers):
        path.parent.mkdir(parents=True, exist_ok=True)
    mix = next((p for p in targets.outputs if p.suffix.lower() == ".wav"), None)
    stem_files: dict[str, str] | None = None
    written: list[Path] = []
    for path in targets.outputs:
        suffix = path.suffix.lower()
        if suffix == ".wav":
            with_stems = stem_paths if path == mix and stem_paths else None
            render_stems(
                soundtrack.score,
                {name: [index] for index, name in enumerate(layers)},
                path,
                with_stems,
                seconds=cue.seconds,
                loop=cue.loop,
                soundfont=soundfont,
                sample_rate=SAMPLE_RATE,
                force=force,
            )
            audio = [(path, {"kind": "mix"})]
            audio += [(p, {"kind": "stem", "layer": n}) for n, p in (with_stems or {}).items()]
            for file, what in audio:
                write_record(sign_record({**record, "file": what}, key, file=file), file, force=force)
                written.append(file)
        else:
            write_with_record(soundtrack.score, {**record, "file": {"kind": "score"}}, path, key, force=force)
            written.append(path)
    sheet_folder = targets.sheet.parent
    if stem_paths:
        stem_files = {name: os.path.relpath(p, sheet_folder) for name, p in stem_paths.items()}
    midi = next((p for p in targets.outputs if p.suffix.lower() in (".mid", ".midi")), None)
    files = {
        "mix": None if mix is None else os.path.relpath(mix, sheet_folder),
        "midi": None if midi is None else os.path.relpath(midi, sheet_folder),
        "record": None if mix is None else os.path.relpath(sidecar_path(mix), sheet_folder),
    }
    sheet = cue_sheet(soundtrack, SAMPLE_RATE, files, stem_files)
    with atomic_output(targets.sheet, force=force) as tmp:
        tmp.write_text(json.dumps(sheet, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_record(
        sign_record({**record, "file": {"kind": "cue sheet"}}, key, file=targets.sheet), targets.sheet, force=force
    )
    written.append(targets.sheet)
    return written
