"""The routes that take a user's file: the composer tasks, analyze, originality, verify.

Each is a multipart form: ``file`` (MIDI or MusicXML), ``options`` (a JSON object, the
task's options named as the command's flags, checked by the pydantic model of
:data:`cadenza.service.work_sketch.OPTIONS`) and, for verify, ``record`` (the music's
provenance record). The server never parses the music: it only

* caps the body while it arrives (413 as soon as it passes the limit, before it is all
  read: the app's :class:`~cadenza.service.limits.BodyLimit`), and each file (413),
* tells the type by the name's extension and the first bytes (MIDI ``MThd``, MusicXML
  ``<``, compressed MusicXML ``PK``; else 415),
* saves it in the job's folder as ``upload<ext>`` (never by the client's name),

and queues the job; its worker reads the file within the service's limits.
"""

from __future__ import annotations

import codecs
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from cadenza.jsonfile import parse_json
from cadenza.service.errors import ApiError, ErrorBody
from cadenza.service.routes import JOB_RESPONSES, JobStatus, Wait, submit
from cadenza.service.work_sketch import OPTIONS, RECORD

__all__ = ["router", "upload_name"]

router = APIRouter(tags=["your music"])

MIDI = (".mid", ".midi")
MUSICXML = (".musicxml", ".xml")
MXL = (".mxl",)
FORM_BYTES = 64 * 1024  # the options field at most
TaskName = Literal["continue", "infill", "harmonize", "accompany", "vary", "arrange"]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": JobStatus, "description": "The job is queued (or running)"},
    **JOB_RESPONSES,
    413: {"model": ErrorBody, "description": "The upload is larger than the server accepts"},
    415: {"model": ErrorBody, "description": "The upload is not a MIDI or MusicXML file"},
}


def _form_doc(options: type[BaseModel] | None, record: bool = False) -> dict[str, Any]:
    """The multipart body in the OpenAPI spec (the route reads it itself, capped)."""
    properties: dict[str, Any] = {
        "file": {
            "type": "string",
            "format": "binary",
            "description": "MIDI (.mid .midi) or MusicXML (.musicxml .xml .mxl)",
        }
    }
    if options is not None:
        names = ", ".join(options.model_fields) or "none"
        properties["options"] = {"type": "string", "description": f"A JSON object of options: {names}"}
    if record:
        properties["record"] = {"type": "string", "format": "binary", "description": "The music's .provenance.json"}
    required = ["file", "record"] if record else ["file"]
    schema = {"type": "object", "properties": properties, "required": required}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


# ----------------------------------------------------------------------------- reading the form
async def _form(request: Request, fields: tuple[str, ...], files: int) -> dict[str, Any]:
    """The multipart form of ``request`` (``files`` file fields at most): its body is capped
    as it arrives by the app's :class:`~cadenza.service.limits.BodyLimit` (413)."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise ApiError(400, "send the file as multipart/form-data (a form with a `file` field)")
    form = await request.form(  # options sent as a file: refused below, by name
        max_files=files + 1, max_fields=len(fields), max_part_size=FORM_BYTES
    )
    found: dict[str, Any] = {}
    for name, value in form.multi_items():
        if name not in fields:
            raise ApiError(400, f"{name[:40]}: not a field of this request (send {', '.join(fields)})")
        if name in found:
            raise ApiError(400, f"{name}: sent twice")
        found[name] = value
    return found


async def _file_bytes(value: Any, field: str, cap: int) -> tuple[str, bytes]:
    """(the client's file name, the bytes) of an uploaded file field."""
    if not isinstance(value, UploadFile):
        raise ApiError(400, f"{field}: send a file (a multipart file field), not text")
    data = await value.read(cap + 1)
    if len(data) > cap:
        raise ApiError(413, f"{field}: the file is more than the {cap} bytes this server accepts")
    if not data:
        raise ApiError(400, f"{field}: the file is empty")
    return value.filename or "", data


def upload_name(filename: str, data: bytes) -> str:
    """``upload`` and the extension of the client's file name, lowercased, if the bytes
    are what the extension says (else 415); the client's name itself is never used."""
    base = PureWindowsPath(PurePosixPath(filename).name).name  # a name, whatever its slashes
    suffix = PurePosixPath(base).suffix.lower()
    if suffix in MIDI:
        if not data.startswith(b"MThd"):
            raise ApiError(415, f"a {suffix} file must be Standard MIDI (start with MThd); this one is not")
    elif suffix in MXL:
        if not data.startswith(b"PK\x03\x04"):
            raise ApiError(415, "a .mxl file must be compressed MusicXML (a zip archive); this one is not")
    elif suffix in MUSICXML:
        if not _looks_like_xml(data):
            raise ApiError(415, f"a {suffix} file must be MusicXML (text starting with <); this one is not")
    else:
        shown = f"extension {suffix[:12]!r}" if suffix else "no extension"
        raise ApiError(415, f"the file has {shown}; upload MIDI (.mid .midi) or MusicXML (.musicxml .xml .mxl)")
    return "upload" + suffix


def _looks_like_xml(data: bytes) -> bool:
    head = data[:1024]
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if head.startswith(bom):
            text = head[len(bom) :].decode(encoding, errors="ignore")
            break
    else:
        text = head.decode("utf-8", errors="ignore")
    return text.lstrip().startswith("<")


def _options(kind: str, text: Any) -> dict[str, Any]:
    """The ``options`` field checked by the task's model: a 400 naming the field."""
    if text is None or text == "":
        raw: Any = {}
    elif isinstance(text, str):
        try:
            raw = parse_json(text)  # NaN, and nesting deep enough to overflow the stack, refused
        except ValueError as error:
            raise ApiError(400, f"options: {error}") from None
    else:
        raise ApiError(400, "options: send a JSON object as text, not a file")
    if not isinstance(raw, dict):
        raise ApiError(400, 'options: must be a JSON object, e.g. {"seed": 1}')
    try:
        checked = OPTIONS[kind].model_validate(raw)
    except ValidationError as error:
        raise ApiError(400, _problem(error)) from None
    return checked.model_dump()


def _problem(error: ValidationError) -> str:
    problems = error.errors()
    first = problems[0]
    where = ".".join(["options", *(str(p) for p in first.get("loc", ()))])
    if first.get("type") == "extra_forbidden":
        return f"{where}: not an option of this task"
    message = str(first.get("msg", "not valid")).removeprefix("Value error, ")
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {message}{more}"


async def _job_of_upload(request: Request, kind: str, wait: float, *, record: bool = False) -> JSONResponse:
    cap = request.app.state.settings.max_upload_bytes
    fields = ("file", "options", "record") if record else ("file", "options")
    form = await _form(request, fields, 2 if record else 1)
    if "file" not in form:
        raise ApiError(400, "file: missing (send the music as a multipart file field named file)")
    filename, data = await _file_bytes(form["file"], "file", cap)
    name = upload_name(filename, data)
    inputs = {name: data}
    if record:
        if "record" not in form:
            raise ApiError(400, "record: missing (send the music's .provenance.json as a file field named record)")
        _, text = await _file_bytes(form["record"], "record", cap)
        if not _looks_like_json_object(text):
            raise ApiError(415, "record: a provenance record is a JSON object; this file is not")
        inputs[RECORD] = text
    params = {**_options(kind, form.get("options")), "upload": name}
    return await submit(request, kind, params, wait, inputs)


def _looks_like_json_object(data: bytes) -> bool:
    return data.removeprefix(codecs.BOM_UTF8)[:1024].decode("utf-8", errors="ignore").lstrip().startswith("{")


# ----------------------------------------------------------------------------- routes
@router.post(
    "/api/tasks/{task}",
    status_code=202,
    response_model=JobStatus,
    responses=_RESPONSES,
    openapi_extra=_form_doc(OPTIONS["continue"]),
    summary="A composer task on your music: continue, infill, harmonize, accompany, vary, arrange",
)
async def task_job(task: TaskName, request: Request, wait: Wait = 0.0) -> JSONResponse:
    """Options as the command's flags (``cadenza TASK --help``): continue ``bars``; infill
    ``bars`` (e.g. "9-12"), ``tracks``; harmonize ``style`` (chorale, pop); accompany
    ``instruments``; vary ``amount``, ``bars``; arrange ``instruments``; and (but arrange)
    ``model``, ``seed``, ``temperature``, ``top_p``, ``originality``; all ``index``, ``wav``."""
    return await _job_of_upload(request, task, wait)


@router.post(
    "/api/analyze",
    status_code=202,
    response_model=JobStatus,
    responses=_RESPONSES,
    openapi_extra=_form_doc(OPTIONS["analyze"]),
    summary="Key, chords, beats, tempo, meter, melody, sections and metrics of your music",
)
async def analyze_job(request: Request, wait: Wait = 0.0) -> JSONResponse:
    return await _job_of_upload(request, "analyze", wait)


@router.post(
    "/api/originality",
    status_code=202,
    response_model=JobStatus,
    responses=_RESPONSES,
    openapi_extra=_form_doc(OPTIONS["originality"]),
    summary="How much of your music is found in a model's training set",
)
async def originality_job(request: Request, wait: Wait = 0.0) -> JSONResponse:
    return await _job_of_upload(request, "originality", wait)


@router.post(
    "/api/verify",
    status_code=202,
    response_model=JobStatus,
    responses=_RESPONSES,
    openapi_extra=_form_doc(None, record=True),
    summary="Whether a file's music and its provenance record are intact, and who signed them",
)
async def verify_job(request: Request, wait: Wait = 0.0) -> JSONResponse:
    return await _job_of_upload(request, "verify", wait, record=True)
