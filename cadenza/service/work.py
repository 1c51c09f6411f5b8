"""The work functions of ``generate`` and ``soundtrack`` (they run in a worker process).

Each does what the command line does for the same request, through the same library
calls (:func:`~cadenza.compose.pipeline.compose_piece`,
:func:`~cadenza.compose.pipeline.compose_soundtrack`), and leaves its files in
``folder/out`` under the fixed names the files endpoint serves. The ``check_*``
functions run in the server before a job is queued: what can be refused without a
model (an unknown mood, a prompt that contradicts itself) is a 400 at once.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cadenza.errors import CadenzaError, InvalidArgumentError

if TYPE_CHECKING:
    from cadenza.compose import Composer
    from cadenza.compose.cue import Cue
    from cadenza.compose.prompt import PromptReading
    from cadenza.models.sampling import Sampling
    from cadenza.provenance.report import OriginalityReport

__all__ = [
    "CHECK",
    "CUE_MODEL",
    "WORK",
    "composer",
    "generate",
    "model_names",
    "originality_summary",
    "provenance_summary",
    "soundtrack",
    "write_json",
]

CUE_MODEL = "cadenza-multitrack"
MAX_SECONDS = 600.0  # of music a request may ask for: a job's work is bounded by it
Progress = Callable[[int, int], None]


# shared by the work functions (work_sketch too) ------------------------------------------
def model_names() -> list[str]:
    """``default`` and the shipped models: the only models a client may name (a path would
    let a client load any folder on the server)."""
    from cadenza.models.registry import installed_models

    return ["default", *(info.name for info in installed_models())]


def check_model(name: str | None, family: str | None = None) -> None:
    """Refuse a model that is not shipped, or (``family``) not of that family."""
    from cadenza.models.registry import installed_models, locate

    if name is None:
        return
    if name not in model_names():
        raise InvalidArgumentError(f"unknown model {name[:60]!r}; accepted: {', '.join(model_names())}")
    if family is not None:
        folder = locate(name)
        found = next((info.family for info in installed_models() if info.folder == folder), None)
        if found != family:
            raise InvalidArgumentError(f"model {name}: a {family} model is needed here, this is a {found} model")


@functools.lru_cache(maxsize=4)
def composer(name: str) -> Composer:
    """A shipped model's composer, kept for the next job of this worker (loading costs seconds)."""
    from cadenza.compose import Composer

    check_model(name)
    return Composer.from_pretrained(name)


def originality_summary(report: OriginalityReport | None) -> dict[str, Any]:
    """The originality verdict in a few fields (the report in full is originality.json)."""
    if report is None:
        return {"verdict": "unchecked", "share_found": None, "repairs": 0}
    data = report.to_dict()
    return {
        "verdict": "flagged" if data["flagged"] else "original",
        "share_found": round(float(data["share_found"]), 4),
        "repairs": len(data.get("repairs", [])),
    }


def _part(record: dict[str, Any], name: str, kind: type) -> Any:
    value = record.get(name)
    return value if isinstance(value, kind) else kind()


def provenance_summary(record: dict[str, Any]) -> dict[str, Any]:
    """What the signed record says, in a few fields (the record in full is record.json)."""
    signature = _part(record, "signature", dict)
    model = _part(record, "model", dict)
    sources = _part(record, "training_sources", list)
    return {
        "signer": signature.get("signer"),
        "key_id": signature.get("key_id"),
        "created": record.get("created"),
        "music_sha256": record.get("music_sha256"),
        "model": model.get("name"),
        "model_sha256": model.get("weights_sha256"),
        "training_sources": [
            {"name": s.get("name"), "licence": s.get("licence")} for s in sources if isinstance(s, dict)
        ],
    }


def write_json(path: Path, data: object) -> None:
    from cadenza.io.atomic import atomic_output

    with atomic_output(path, force=True) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _sampling(params: dict[str, Any]) -> Sampling:
    from cadenza.compose import Sampling

    return Sampling(seed=int(params.get("seed") or 0))


# generate -----------------------------------------------------------------------------
def _is_cue(params: dict[str, Any]) -> bool:
    from cadenza.compose.cue_options import uses_cue

    return uses_cue(
        params.get("prompt"), params.get("mood"), bool(params.get("loop")), bool(params.get("stems")), False
    )


def _cue_of(params: dict[str, Any]) -> tuple[Cue, PromptReading | None, dict[str, Any]]:
    from cadenza.compose.cue import read_cue
    from cadenza.compose.cue_options import cue_from_options
    from cadenza.compose.prompt import read_prompt

    reading = None if params.get("prompt") is None else read_prompt(params["prompt"])
    options = {k: params.get(k) for k in ("style", "mood", "key", "tempo", "meter", "bars", "seconds", "loop", "stems")}
    options["instruments"] = ",".join(params.get("instruments") or []) or None
    cue_data = cue_from_options(reading, options)
    cue = read_cue(cue_data)
    _bounded(cue.seconds)
    return cue, reading, cue_data


def _conditions(params: dict[str, Any]) -> Any:
    from cadenza.compose import Conditions

    if params.get("bars") is not None and params.get("seconds") is not None:
        raise InvalidArgumentError("give either bars or seconds, not both")
    return Conditions(
        style=params.get("style"),
        mood=params.get("mood"),
        key=params.get("key"),
        tempo=params.get("tempo"),
        meter=params.get("meter"),
        bars=params.get("bars"),
        seconds=params.get("seconds"),
        instruments=tuple(i for i in params.get("instruments") or () if i.strip()),
    )


def check_generate(params: dict[str, Any]) -> None:
    """Refuse at once what needs no model to refuse."""
    from cadenza.compose.conditions import resolve

    if _is_cue(params):
        check_model(params.get("model"), None if params.get("model") == "default" else "multitrack")
        _cue_of(params)
    else:
        check_model(params.get("model"))
        _bounded(resolve(_conditions(params)).seconds)


def _bounded(seconds: float) -> None:
    if seconds > MAX_SECONDS:
        raise InvalidArgumentError(f"{seconds:.0f} s of music is more than this service makes ({MAX_SECONDS:g} s)")


def generate(params: dict[str, Any], folder: Path, progress: Progress) -> dict[str, Any]:
    """``cadenza generate``: a piece for the conditions, or a cue for a prompt (a loop, stems,
    a mood that changes), with the model and seed asked for."""
    if _is_cue(params):
        cue, reading, cue_data = _cue_of(params)
        asked = {"prompt": params.get("prompt"), "cue sheet": cue_data}
        summary = _compose_cue(cue, params, folder / "out", progress, asked)
        if reading is not None:
            summary["prompt"] = {"read": reading.describe(), "unused": list(reading.unused)}
            if reading.unused:
                summary["warnings"].append("words not used: " + ", ".join(reading.unused))
        return summary
    return _compose_plain(params, folder / "out", progress)


def _compose_plain(params: dict[str, Any], out: Path, progress: Progress) -> dict[str, Any]:
    from cadenza.analysis.bars import bar_count
    from cadenza.compose import compose_piece
    from cadenza.io import save_score
    from cadenza.provenance.record import sidecar_path
    from cadenza.provenance.signing import default_key

    conditions = _conditions(params)
    model = composer(params.get("model") or "default")
    _bounded(model.resolve(conditions).seconds)  # also refuses contradictory conditions before composing
    sampling = _sampling(params)
    piece = compose_piece(model, conditions, sampling, "NORMAL", default_key(), progress)
    midi = out / "music.mid"
    os.replace(piece.write(midi), out / "record.json")
    record = json.loads((out / "record.json").read_text(encoding="utf-8"))
    warnings = list(piece.warnings)
    try:
        save_score(piece.score, out / "music.musicxml")
    except CadenzaError as error:  # notation that cannot be written: the rest still can
        warnings.append(f"no MusicXML: {error.reason}")
    if params.get("wav", True):
        save_score(piece.score, out / "music.wav", seconds=piece.seconds)
    save_score(piece.score, out / "pianoroll.png")
    if piece.report is not None:
        write_json(out / "originality.json", piece.report.to_dict())
    for stray in out.glob("*.provenance.json"):  # only music.mid's record is served
        if stray != sidecar_path(midi):
            stray.unlink()
    resolved = piece.resolved
    return {
        "key": resolved.key,
        "tempo": resolved.tempo,
        "meter": resolved.meter,
        "seconds": round(resolved.seconds, 3),
        "bars": bar_count(piece.score),
        "style": resolved.style,
        "mood": resolved.mood,
        "instruments": [i.name for i in resolved.instruments],
        "model": model.info.name,
        "seed": sampling.seed,
        "warnings": warnings,
        "originality": originality_summary(piece.report),
        "provenance": provenance_summary(record),
    }


def _compose_cue(
    cue: Cue, params: dict[str, Any], out: Path, progress: Progress, asked: dict[str, Any]
) -> dict[str, Any]:
    from cadenza.compose.delivery import Targets
    from cadenza.compose.pipeline import compose_soundtrack
    from cadenza.provenance.signing import default_key

    name = params.get("model") or CUE_MODEL
    model = composer(CUE_MODEL if name == "default" else name)
    sampling = _sampling(params)
    piece = compose_soundtrack(model, cue, sampling, "NORMAL", default_key(), progress, asked)
    stems = bool(params.get("stems") or cue.stems)
    wav = bool(params.get("wav", True)) or stems
    outputs = (out / "music.mid", *((out / "music.wav",) if wav else ()))
    piece.write(Targets(outputs, out / "cue-sheet.json", out / "stems" if stems else None))
    os.replace(out / "music.mid.provenance.json", out / "record.json")
    record = json.loads((out / "record.json").read_text(encoding="utf-8"))
    for stray in out.glob("*.provenance.json"):
        stray.unlink()
    if stems:
        for stem in sorted((out / "stems").glob("*.wav")):
            os.replace(stem, out / f"stem-{stem.stem.lower()}.wav")
        shutil.rmtree(out / "stems", ignore_errors=True)
    from cadenza.io import save_score

    save_score(piece.soundtrack.score, out / "pianoroll.png")
    if piece.report is not None:
        write_json(out / "originality.json", piece.report.to_dict())
    first = cue.sections[0]
    return {
        "title": cue.title,
        "key": first.key,
        "tempo": first.tempo,
        "meter": cue.meter,
        "seconds": round(cue.seconds, 3),
        "bars": cue.bars,
        "style": cue.style,
        "loop": cue.loop,
        "instruments": sorted({layer.instrument for layer in cue.layers}),
        "layers": [layer.name for layer in cue.layers],
        "sections": [s.name for s in cue.sections],
        "model": model.info.name,
        "seed": sampling.seed,
        "warnings": list(piece.warnings),
        "originality": originality_summary(piece.report),
        "provenance": provenance_summary(record),
    }


# soundtrack ---------------------------------------------------------------------------
def check_soundtrack(params: dict[str, Any]) -> None:
    from cadenza.compose.cue import read_cue

    check_model(params.get("model"), None if params.get("model") == "default" else "multitrack")
    _bounded(read_cue(params.get("cue")).seconds)


def soundtrack(params: dict[str, Any], folder: Path, progress: Progress) -> dict[str, Any]:
    """``cadenza soundtrack CUE``: the cue sheet composed to its exact length."""
    from cadenza.compose.cue import read_cue

    cue = read_cue(params.get("cue"))
    _bounded(cue.seconds)
    return _compose_cue(cue, params, folder / "out", progress, {"cue sheet": params.get("cue")})


WORK: dict[str, Callable[[dict[str, Any], Path, Progress], dict[str, Any]]] = {
    "generate": generate,
    "soundtrack": soundtrack,
}
CHECK: dict[str, Callable[[dict[str, Any]], None]] = {
    "generate": check_generate,
    "soundtrack": check_soundtrack,
}
