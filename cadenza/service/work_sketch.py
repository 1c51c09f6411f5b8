"""The work functions of the jobs that take a user's file: the composer tasks
(``continue``, ``infill``, ``harmonize``, ``accompany``, ``vary``, ``arrange``),
``analyze``, ``originality`` and ``verify``.

Each runs inside a worker process and does what its ``cadenza`` command does, through
the same library calls (:func:`cadenza.compose.editing.edit_file` for the tasks, as
:mod:`cadenza.cli_sketch` drives it). The uploaded file is read here, never in the
server, within :data:`UPLOAD_LIMITS` (:func:`cadenza.io.load_score`; MusicXML in
cadenza's parsing sandbox, as the command line reads it). The options arrive as the route validated them with
the pydantic models below, one per task, named as the command's flags.

Errors name the job's files by their names (``upload.mid``), never by the server's
paths.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cadenza.errors import CadenzaError, InputFileError, InvalidArgumentError
from cadenza.io.limits import Limits
from cadenza.service.work import check_model, originality_summary, provenance_summary, write_json
from cadenza.service.work import composer as composer_of

if TYPE_CHECKING:
    import symusic

    from cadenza.compose.edit import Edit
    from cadenza.compose.editing import EditedPiece
    from cadenza.compose.sketch import Sketch

__all__ = ["CHECK", "OPTIONS", "RECORD", "TASKS", "UPLOAD_LIMITS", "WORK", "WorkFn"]

WorkFn = Callable[[dict, Path, Callable[[int, int], None]], dict]
Progress = Callable[[int, int], None]

SKETCH_MODEL = "cadenza-multitrack"
TASKS = ("continue", "infill", "harmonize", "accompany", "vary", "arrange")

# What one upload may ask of the service: a sketch, a song, a movement; not four hours
# of music (the command line's limits), which a shared server would render and analyse
# for minutes. A 52-byte MIDI file can still ask for a note held for hours: these bound
# the work its content implies, not only its bytes (see cadenza.io.limits).
UPLOAD_LIMITS = Limits(
    max_file_bytes=16 * 1024 * 1024,
    max_tracks=64,
    max_notes=100_000,
    max_seconds=30 * 60.0,
    max_tempo_events=10_000,
    max_quarters=8_000,
    max_note_quarters=200_000,
    max_note_seconds=100_000.0,
    max_polyphony=256,
    max_control_events=200_000,
    max_meta_events=10_000,
    parse_timeout_s=30.0,
    parse_memory_bytes=1024**3,
)


# ----------------------------------------------------------------------------- options
def _shipped_model(name: str, family: str | None = None) -> str:
    """A model shipped with cadenza, by name (a client never names a folder of the server),
    of ``family`` when given."""
    try:
        check_model(name, family)
    except InvalidArgumentError as error:
        raise ValueError(str(error)) from None
    return name


def _multitrack_model(name: str) -> str:
    """The composer tasks write bars of a user's piece: a multitrack model's work."""
    return _shipped_model(name, "multitrack")


def _bars_text(text: str | None) -> str | None:
    if text is None:
        return None
    from cadenza.compose.sketch import parse_bars

    try:
        parse_bars(text)
    except InvalidArgumentError as error:
        raise ValueError(str(error)) from None
    return text


def _instrument_list(value: str | list[str]) -> str:
    """Comma-separated names, as the command's flag takes them (a JSON list is joined)."""
    text = ",".join(value) if isinstance(value, list) else value
    if not [n for n in text.split(",") if n.strip()] or len(text) > 400:
        raise ValueError("name one instrument or more, e.g. piano,bass")
    return text


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int = Field(0, ge=0, le=9999, description="Which piece of a file that holds several.")


class _Rendered(_Options):
    wav: bool = Field(True, description="Also render music.wav (takes a while for long music).")


class _Composing(_Rendered):
    """The options every composing task shares: as `cadenza continue --help` lists them."""

    model: str = Field(SKETCH_MODEL, max_length=100, description="A multitrack model (see GET /api/models).")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="The same seed and file give the same music.")
    temperature: float = Field(
        1.0, ge=0.01, le=10.0, allow_inf_nan=False, description="Above 1: bolder; below 1: safer."
    )
    top_p: float = Field(
        0.95, gt=0.0, le=1.0, allow_inf_nan=False, description="Sample from the smallest set with this probability."
    )
    originality: Literal["STRICT", "NORMAL", "OFF", "strict", "normal", "off"] = Field(
        "NORMAL", description="How closely what the model wrote is judged."
    )

    _model = field_validator("model")(_multitrack_model)


class ContinueOptions(_Composing):
    bars: int = Field(8, ge=1, le=64, description="How many bars to add after the last one.")


class InfillOptions(_Composing):
    bars: str = Field(..., max_length=40, description="The bars to write anew, e.g. 9-12 (counted from 1).")
    tracks: str | None = Field(None, max_length=400, description="Comma-separated track names or numbers.")

    _bars = field_validator("bars")(_bars_text)


class HarmonizeOptions(_Composing):
    style: Literal["chorale", "pop"] = "chorale"


class AccompanyOptions(_Composing):
    instruments: str | list[str] = Field("piano,bass", description="Comma-separated; the last plays the bass.")

    @field_validator("instruments")
    @classmethod
    def _known(cls, value: str | list[str]) -> str:
        from cadenza.compose.conditions import instruments_of

        text = _instrument_list(value)
        try:
            instruments_of(tuple(n for n in text.split(",") if n.strip()))
        except CadenzaError as error:
            raise ValueError(str(error)) from None
        return text


class VaryOptions(_Composing):
    amount: float = Field(
        0.5, ge=0.0, le=1.0, allow_inf_nan=False, description="0: unchanged .. 1: every bar that plays written anew."
    )
    bars: str | None = Field(None, max_length=40, description="Only these bars, e.g. 1-8 (default: all).")

    _bars = field_validator("bars")(_bars_text)


class ArrangeOptions(_Rendered):
    instruments: str | list[str] = Field(..., description="Comma-separated, e.g. violin,violin,viola,cello.")

    @field_validator("instruments")
    @classmethod
    def _known(cls, value: str | list[str]) -> str:
        from cadenza.compose.ensemble import ensemble

        text = _instrument_list(value)
        try:
            ensemble(text.split(","))
        except CadenzaError as error:
            raise ValueError(str(error)) from None
        return text


class AnalyzeOptions(_Options):
    pass


class OriginalityOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field("default", max_length=100, description="Use the index shipped with this model.")
    level: Literal["STRICT", "NORMAL", "OFF", "strict", "normal", "off"] = "NORMAL"
    piece: int = Field(0, ge=0, le=9999, description="Which piece of a file that holds several.")

    _model = field_validator("model")(_shipped_model)


class VerifyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


OPTIONS: dict[str, type[BaseModel]] = {
    "continue": ContinueOptions,
    "infill": InfillOptions,
    "harmonize": HarmonizeOptions,
    "accompany": AccompanyOptions,
    "vary": VaryOptions,
    "arrange": ArrangeOptions,
    "analyze": AnalyzeOptions,
    "originality": OriginalityOptions,
    "verify": VerifyOptions,
}


# ----------------------------------------------------------------------------- files
RECORD = "record.json"  # a verify job's record, as the route saves it in input/


def _sidecar(upload: str) -> str:
    from cadenza.provenance.record import sidecar_path

    return sidecar_path(upload).name


def _upload(params: dict, folder: Path) -> Path:
    name = params.get("upload")
    if not isinstance(name, str) or not name.startswith("upload.") or Path(name).name != name:
        raise InvalidArgumentError("the job has no uploaded file")
    path = folder / "input" / name
    if not path.is_file():
        raise InputFileError("was not saved", name)
    return path


@contextlib.contextmanager
def _named_by_job(folder: Path, aliases: dict[str, str] | None = None) -> Iterator[None]:
    """A cadenza error names the job's files by name, not by where the server keeps them
    (``aliases``: a file by the name the client knows it by)."""
    try:
        yield
    except CadenzaError as error:
        places = sorted({str(folder / "input"), str(folder / "out"), str(folder)}, key=len, reverse=True)

        def hide(text: str) -> str:
            for place in places:
                text = text.replace(place + os.sep, "").replace(place, "")
            for name, known in (aliases or {}).items():
                text = text.replace(name, known)
            return text

        path = None if error.path is None else hide(error.path) or Path(error.path).name
        raise type(error)(hide(error.reason), path) from None


def _load(path: Path, index: int) -> symusic.Score:
    from cadenza.io import load_score

    return load_score(path, UPLOAD_LIMITS, index=index)


def _render(score: symusic.Score, out: Path, names: tuple[str, ...], warnings: list[str]) -> None:
    """Write ``score`` as each of ``names`` (format by extension); one that cannot be
    written (no synthesizer for WAV, music that MusicXML cannot hold) is a warning, not a failure."""
    from cadenza.io import save_score

    for name in names:
        try:
            save_score(score, out / name, force=True)
        except CadenzaError as error:
            warnings.append(f"{name} was not written: {error.reason}")


# ----------------------------------------------------------------------------- composer tasks
TaskFn = Callable[[Any, "Sketch", Any], "Edit"]


def _task_of(kind: str, options: Any) -> TaskFn:
    """The task as its command builds it (cadenza/cli_sketch.py), from the validated options."""
    from cadenza.compose import tasks
    from cadenza.compose.ensemble import arrange, ensemble
    from cadenza.compose.sketch import parse_bars

    if kind == "continue":
        return lambda c, s, p: tasks.continue_sketch(c, s, options.bars, p)
    if kind == "infill":
        region = parse_bars(options.bars)

        def infill(c: Any, s: Sketch, p: Any) -> Edit:
            names = options.tracks
            chosen = None if names is None else s.tracks([t for t in names.split(",") if t.strip()])
            return tasks.infill_sketch(c, s, region, chosen, p)

        return infill
    if kind == "harmonize":
        return lambda c, s, p: tasks.harmonize(c, s, style=options.style, sampling=p)
    if kind == "accompany":
        names = [n for n in options.instruments.split(",") if n.strip()]
        return lambda c, s, p: tasks.accompany(c, s, instruments=names, sampling=p)
    if kind == "vary":
        some = None if options.bars is None else parse_bars(options.bars)
        tasks.check_amount(options.amount)
        return lambda c, s, p: tasks.vary(c, s, amount=options.amount, bars=some, sampling=p)
    parts = ensemble(options.instruments.split(","))
    return lambda _c, sketch, _p: arrange(sketch, parts)


def _bars_and_key(before: symusic.Score, after: symusic.Score) -> tuple[int, int, str, str]:
    """Bars of the sketch and of the result on the sketch's bar grid, its meter, and the
    key the analysis hears in most of its bars."""
    from cadenza.compose.sketch import Sketch
    from cadenza.theory import PITCH_NAMES

    sketch = Sketch.of(before)
    end = max((n.time + n.duration for t in after.tracks for n in t.notes), default=1)
    after_bars = max(1, int(np.ceil(end / sketch.bar_ticks - 1e-9)))
    (tonic, mode), _ = Counter(sketch.keys).most_common(1)[0]
    name = {"maj": "major", "min": "minor"}.get(mode, mode)
    return sketch.bars, after_bars, sketch.meter, f"{PITCH_NAMES[tonic]} {name}"


def _run_task(kind: str, params: dict, folder: Path, progress: Progress) -> dict:
    from cadenza.compose.editing import edit_file
    from cadenza.io import midi_bytes
    from cadenza.models.sampling import Sampling
    from cadenza.provenance.report import Level
    from cadenza.provenance.signing import default_key

    options: Any = OPTIONS[kind].model_validate({k: v for k, v in params.items() if k != "upload"})
    source = _upload(params, folder)
    out = folder / "out"
    out.mkdir(parents=True, exist_ok=True)
    progress(0, 4)
    before = _load(source, options.index)  # refused here, within the service's limits, before any model loads
    task = _task_of(kind, options)
    (out / "before.mid").write_bytes(midi_bytes(before))
    warnings: list[str] = []
    _render(before, out, ("before.png",), warnings)
    progress(1, 4)
    composing = kind != "arrange"
    composer = composer_of(options.model) if composing else None
    sampling = Sampling(temperature=options.temperature, top_p=options.top_p, seed=options.seed) if composing else None
    edited = edit_file(
        source,
        lambda sketch: task(composer, sketch, sampling),
        composer,
        sampling,
        index=options.index,
        level=Level.parse(options.originality) if composing else Level.OFF,
        key=default_key(),
    )
    progress(2, 4)
    music = out / "music.mid"
    edited.write(music, force=True).replace(out / "record.json")  # the signed record, by the name the service lists
    originality = edited.record.get("originality")
    if composing:
        write_json(out / "originality.json", originality)
    _render(edited.score, out, ("music.musicxml", "pianoroll.png"), warnings)
    progress(3, 4)
    if options.wav:
        _render(edited.score, out, ("music.wav",), warnings)
    progress(4, 4)
    bars_before, bars_after, meter, key = _bars_and_key(before, edited.score)
    account = edited.edit.to_dict()
    return {
        "task": kind,
        "changed": edited.what_changed(),
        "generated": account["generated"],
        "generated_notes": account["generated_notes"],
        "settings": account["settings"],
        "bars": {"before": bars_before, "after": bars_after},
        "meter": meter,
        "key": key,
        "model": None if composer is None else composer.info.name,
        "seed": None if sampling is None else sampling.seed,
        "originality": _originality(originality, edited),
        "provenance": provenance_summary(edited.record),
        "warnings": [*edited.warnings, *warnings],
    }


def _originality(block: object, edited: EditedPiece) -> dict[str, Any]:
    """The verdict on what the model wrote, as a generate job says it, and why it is
    unchecked when it is (nothing composed, no index)."""
    said = originality_summary(edited.report)
    if edited.report is None and isinstance(block, dict):
        said["reason"] = block.get("reason")
    return said


# ----------------------------------------------------------------------------- analyze, originality, verify
def analyze(params: dict, folder: Path, progress: Progress) -> dict:
    """`cadenza analyze --json`: key, chords, beats, tempo, meter, melody, sections, metrics."""
    from cadenza.analysis.report import analyze_score

    with _named_by_job(folder):
        options = AnalyzeOptions.model_validate({k: v for k, v in params.items() if k != "upload"})
        source = _upload(params, folder)
        progress(0, 2)
        score = _load(source, options.index)
        result = analyze_score(score)
        progress(1, 2)
        out = folder / "out"
        write_json(out / "analysis.json", result)
        warnings: list[str] = []
        _render(score, out, ("pianoroll.png",), warnings)
        progress(2, 2)
        return {**result, "warnings": warnings} if warnings else result


def originality(params: dict, folder: Path, progress: Progress) -> dict:
    """`cadenza originality FILE --json`: how much of the piece is found in the training set."""
    from cadenza.models.registry import locate
    from cadenza.provenance.repair import model_index
    from cadenza.provenance.report import originality_report

    with _named_by_job(folder):
        options = OriginalityOptions.model_validate({k: v for k, v in params.items() if k != "upload"})
        source = _upload(params, folder)
        progress(0, 2)
        score = _load(source, options.piece)
        index = model_index(locate(options.model))
        if index is None:
            raise InvalidArgumentError(f"model {options.model!r} ships no originality index")
        report = originality_report(score, index, options.level)
        result = json.loads(json.dumps({"file": source.name, **report.to_dict()}))  # tuples as the file has them
        write_json(folder / "out" / "originality.json", result)
        progress(2, 2)
        return result


def _verdict(found: Any, name: str) -> str:
    """The line `cadenza verify` prints."""
    if not found.intact:
        return f"NOT intact: {name}: " + "; ".join(found.problems)
    if found.known_key:
        also = "" if found.known_signer == found.signer else f"; the record names the signer {found.signer}"
        who = f"signed by {found.known_signer} (key {found.key_id}, a key this service knows{also})"
    else:
        who = (
            f"signed with key {found.key_id}, which this service does not know "
            f"(the record names the signer {found.signer}, unconfirmed)"
        )
    return f"intact: {name}: music and record {who}"


def verify(params: dict, folder: Path, progress: Progress) -> dict:
    """`cadenza verify FILE --json`: whether the music and its record are intact, and who signed them."""
    from cadenza.provenance.signing import verify_file

    source = _upload(params, folder)
    sidecar = _sidecar(source.name)
    with _named_by_job(folder, {sidecar: RECORD}):
        VerifyOptions.model_validate({k: v for k, v in params.items() if k != "upload"})
        record = folder / "input" / RECORD
        if record.is_file():  # beside the music, where `cadenza verify` looks for it
            shutil.copyfile(record, folder / "input" / sidecar)
        progress(0, 1)
        found = verify_file(source)  # reads a MIDI file with the library's limits, the record capped
        result = {**asdict(found), "path": source.name, "record_path": RECORD, "intact": found.intact}
        write_json(folder / "out" / "verify.json", result)
        progress(1, 1)
        return {"valid": found.intact, "message": _verdict(found, source.name), **result}


def _task(kind: str, params: dict, folder: Path, progress: Progress) -> dict:
    """`cadenza KIND` on the uploaded sketch (continue, infill, harmonize, accompany, vary,
    arrange), its messages naming the job's files rather than the server's paths."""
    with _named_by_job(folder):
        return _run_task(kind, params, folder, progress)


TASKS = ("continue", "infill", "harmonize", "accompany", "vary", "arrange")

WORK: dict[str, WorkFn] = {
    **{kind: partial(_task, kind) for kind in TASKS},
    "analyze": analyze,
    "originality": originality,
    "verify": verify,
}
CHECK: dict[str, Callable[[dict], None]] = {}  # the route validates the options (OPTIONS) before queueing
