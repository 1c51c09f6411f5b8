"""The API's routes: generate, soundtrack, models, jobs, files, health.

:func:`submit` is what every route that makes a job calls (h-files' upload routes too):
it checks the request (a 400 at once for what needs no model), queues the job (503
when the queue is full) and answers 202, or waits ``?wait=S`` for it to end (200).
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import Receive, Scope, Send

from cadenza import __version__
from cadenza.errors import CadenzaError
from cadenza.service.errors import ApiError, documented
from cadenza.service.jobs import FINAL, Engine, QueueFullError
from cadenza.service.limits import FILE_POLICY, MAX_STREAMS_PER_CLIENT, Streams, client_of

__all__ = ["open_router", "router", "submit", "Wait", "JobStatus", "JOB_RESPONSES"]

MAX_WAIT_S = 30.0
POLL_S = 0.05
KEEPALIVE_S = 15.0
MAX_SEED = 2**63 - 1

open_router = APIRouter()
router = APIRouter()

Wait = Annotated[
    float, Query(ge=0, le=MAX_WAIT_S, allow_inf_nan=False, description="Wait up to this many seconds for the end.")
]
Text = Annotated[str, Field(min_length=1, max_length=60)]


class Progress(BaseModel):
    done: int
    total: int


class FileEntry(BaseModel):
    name: str
    media_type: str
    bytes: int
    url: str


class JobStatus(BaseModel):
    id: str
    kind: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    position: int | None
    progress: Progress
    error: str | None
    created: str
    finished: str | None
    expires: str | None
    files: list[FileEntry]
    summary: dict[str, Any]


JOB_RESPONSES = {
    200: {"model": JobStatus, "description": "The job ended within ?wait"},
    **documented(400, 401, 413, 429, 503),
}


class GenerateRequest(BaseModel):
    """What ``cadenza generate`` is told: conditions, or a prompt (a loop, stems, a mood
    that changes FROM-to-TO compose a cue with the multitrack model)."""

    model_config = ConfigDict(extra="forbid")

    prompt: str | None = Field(
        None, min_length=1, max_length=1000, description='What the scene needs: "tense boss fight, 140 bpm, 1 minute"'
    )
    mood: Text | None = Field(None, description="calm, happy, sad or tense; FROM-to-TO for a mood that changes")
    style: Text | None = Field(None, description="pop, chorale, folk, early or classical")
    key: Text | None = Field(None, description='"D minor", "F#:min", "Bb"')
    meter: Text | None = Field(None, description='"4/4", "3/4", "6/8"')
    tempo: float | None = Field(None, ge=30, le=240, allow_inf_nan=False, description="Quarter notes per minute")
    seconds: float | None = Field(None, ge=2, le=600, allow_inf_nan=False, description="Exactly this long")
    bars: int | None = Field(None, ge=1, le=256, description="Exactly this many bars (not with seconds)")
    instruments: list[Text] | None = Field(None, max_length=8, description='e.g. ["piano", "strings"]')
    loop: bool = Field(False, description="A seamless loop (a cue)")
    stems: bool = Field(False, description="Also one WAV per layer (a cue)")
    model: Text | None = Field(None, description="A model of GET /api/models (default: the default model)")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="The same seed and request give the same music")
    wav: bool = Field(True, description="Render music.wav")


class SoundtrackRequest(BaseModel):
    """``cadenza soundtrack``: a cue sheet, as JSON."""

    model_config = ConfigDict(extra="forbid")

    cue: dict[str, Any] = Field(description="A cue sheet (docs/soundtrack/cue-sheet.md) as JSON")
    model: Text | None = Field(None, description="A multitrack model (default: cadenza-multitrack)")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="The same seed and cue sheet give the same music")
    stems: bool = Field(False, description="Also one WAV per layer")
    wav: bool = Field(True, description="Render music.wav")


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def submit(
    request: Request,
    kind: str,
    params: Mapping[str, Any],
    wait: float = 0.0,
    inputs: Mapping[str, bytes] | None = None,
) -> JSONResponse:
    """Check, queue and answer a job (see the module docstring)."""
    from cadenza.service.kinds import CHECK

    check = CHECK.get(kind)
    if check is not None:
        try:
            await run_in_threadpool(check, dict(params))
        except CadenzaError as error:
            raise ApiError(400, str(error)) from None
    engine = _engine(request)
    try:
        status = await run_in_threadpool(engine.submit, kind, params, inputs)
    except QueueFullError as error:
        raise ApiError(503, str(error), {"Retry-After": str(error.retry_after)}) from None
    if wait > 0:
        status = await _wait(engine, status["id"], wait) or status
    headers = {"Location": f"/api/jobs/{status['id']}"}
    return JSONResponse(status, status_code=200 if status["status"] in FINAL else 202, headers=headers)


async def _wait(engine: Engine, job_id: str, seconds: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + seconds
    while True:
        status = engine.status(job_id)
        if status is None or status["status"] in FINAL or time.monotonic() >= deadline:
            return status
        await asyncio.sleep(POLL_S)


def _job(request: Request, job_id: str) -> dict[str, Any]:
    status = _engine(request).status(job_id)
    if status is None:
        raise ApiError(404, "no such job (it may have expired)")
    return status


@open_router.get("/api/health", tags=["service"])
def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@functools.lru_cache(maxsize=1)
def _models() -> list[dict[str, Any]]:
    from cadenza.models.registry import installed_models, locate

    what = {
        "markov": "Variable-order Markov model: fast, melody and accompaniment",
        "transformer": "Transformer over REMI tokens: the default, more coherent phrases",
        "gan": "Bar-wise GAN: also the critic that reranks candidates",
        "multitrack": "Multitrack model: cues, prompts, loops and stems (it follows plans and sections)",
    }
    default = locate("default").name
    return [
        {
            "name": info.name,
            "family": info.family,
            "default": info.name == default,
            "description": what.get(info.family, info.family),
            "weights_bytes": info.weights_bytes,
            "sources": [
                {"name": s.get("name"), "licence": s.get("licence")}
                for s in info.training.get("sources", [])
                if isinstance(s, dict)
            ],
        }
        for info in installed_models()
    ]


@router.get("/api/models", tags=["models"], responses=documented(401, 429))
def models() -> dict[str, list[dict[str, Any]]]:
    return {"models": _models()}


@router.post("/api/generate", status_code=202, response_model=JobStatus, responses=JOB_RESPONSES, tags=["jobs"])
async def generate(body: GenerateRequest, request: Request, wait: Wait = 0.0) -> JSONResponse:
    """Compose a piece (conditions) or a cue (a prompt, a loop, stems)."""
    return await submit(request, "generate", body.model_dump(), wait)


@router.post("/api/soundtrack", status_code=202, response_model=JobStatus, responses=JOB_RESPONSES, tags=["jobs"])
async def soundtrack(body: SoundtrackRequest, request: Request, wait: Wait = 0.0) -> JSONResponse:
    """Compose a cue sheet to its exact length."""
    return await submit(request, "soundtrack", body.model_dump(), wait)


@router.get("/api/jobs/{job_id}", response_model=JobStatus, responses=documented(401, 404, 429), tags=["jobs"])
def job(job_id: str, request: Request) -> JSONResponse:
    return JSONResponse(_job(request, job_id))


@router.delete("/api/jobs/{job_id}", response_model=JobStatus, responses=documented(401, 404, 429), tags=["jobs"])
def cancel(job_id: str, request: Request) -> JSONResponse:
    """Cancel a job: a queued one is dropped, a running one's worker is stopped and replaced."""
    status = _engine(request).cancel(job_id)
    if status is None:
        raise ApiError(404, "no such job (it may have expired)")
    return JSONResponse(status)


class _HeldStream(StreamingResponse):
    """A stream that gives its client's place back however it ends."""

    def __init__(self, streams: Streams, client: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._release = functools.partial(streams.give, client)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


@router.get(
    "/api/jobs/{job_id}/events",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "One event per change"},
        **documented(401, 404, 429),
    },
    response_class=StreamingResponse,
    tags=["jobs"],
)
async def events(job_id: str, request: Request) -> StreamingResponse:
    """Server-sent events: ``data: <job status>`` at each change, until the job ends
    (a client may hold a few streams open at once; more are 429: poll the job instead)."""
    engine = _engine(request)
    _job(request, job_id)
    streams: Streams = request.app.state.streams
    client = client_of(request)
    if not streams.take(client):
        raise ApiError(
            429,
            f"too many open event streams (at most {MAX_STREAMS_PER_CLIENT} a client); poll GET /api/jobs/ID instead",
            {"Retry-After": "5"},
        )

    async def stream() -> AsyncIterator[str]:
        seen = -1
        quiet_since = time.monotonic()
        while True:
            version = engine.version(job_id)
            if version is None:
                return
            if version != seen:
                status = engine.status(job_id)
                if status is None:
                    return
                seen = version
                quiet_since = time.monotonic()
                yield f"data: {json.dumps(status)}\n\n"
                if status["status"] in FINAL:
                    return
            elif time.monotonic() - quiet_since > KEEPALIVE_S:
                quiet_since = time.monotonic()
                yield ": still here\n\n"
            if await request.is_disconnected():
                return
            await asyncio.sleep(POLL_S)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return _HeldStream(streams, client, stream(), media_type="text/event-stream", headers=headers)


@router.get(
    "/api/jobs/{job_id}/files/{name}",
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The file"},
        **documented(401, 404, 429),
    },
    response_class=FileResponse,
    tags=["jobs"],
)
def file(job_id: str, name: str, request: Request, inline: bool = False) -> FileResponse:
    """A result file the job listed (only those: no other name reaches the disk)."""
    from cadenza.service.jobs import media_type

    _job(request, job_id)
    path = _engine(request).file(job_id, name)
    if path is None:
        raise ApiError(404, "no such file in this job")
    disposition = "inline" if inline else "attachment"
    return FileResponse(
        path,
        media_type=media_type(name),
        filename=name,
        content_disposition_type=disposition,
        headers={"Content-Security-Policy": FILE_POLICY},
    )
