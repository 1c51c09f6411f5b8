"""Running ``cadenza serve``'s app in-process for tests: real worker processes, a
temporary data folder, signing keys in a temporary CADENZA_HOME.

    with serving(tmp_path, workers=1) as client:
        job = client.post("/api/generate?wait=25", json=SMALL).json()
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from cadenza.service.app import create_app
from cadenza.service.settings import Settings

SMALL = {"model": "cadenza-markov", "bars": 2, "seed": 1, "wav": False}  # about a second once the model is loaded
LONG = {"model": "cadenza-markov", "bars": 128, "seed": 1, "wav": False}  # many seconds: to cancel, to queue behind


@contextmanager
def serving(folder: Path, **settings: Any) -> Iterator[TestClient]:
    """A TestClient on a fresh app whose engine runs (and stops at the end)."""
    home = os.environ.get("CADENZA_HOME")
    os.environ["CADENZA_HOME"] = str(folder / "cadenza-home")  # the workers inherit it when spawned
    settings.setdefault("data_dir", folder / "data")
    settings.setdefault("rate", 0)
    try:
        with TestClient(create_app(Settings(**settings)), raise_server_exceptions=False) as client:
            yield client
    finally:
        if home is None:
            os.environ.pop("CADENZA_HOME", None)
        else:
            os.environ["CADENZA_HOME"] = home


def poll(client: TestClient, job_id: str, until: Callable[[dict], bool], timeout: float = 120.0) -> dict:
    """The job's status once ``until`` holds for it (AssertionError after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(f"/api/jobs/{job_id}")
        status = answer.json()
        if answer.status_code == 200 and until(status):
            return status
        assert time.monotonic() < deadline, f"job {job_id} never got there: {status}"
        time.sleep(0.05)


def finished(client: TestClient, answer: Any) -> dict:
    """The final status of the job a POST made: ``?wait`` answers with it when the job ends
    in time, and a loaded machine may take longer (a worker's start, a model's load), so a
    202 is polled on to the end rather than taken for a failure."""
    assert answer.status_code in (200, 202), (answer.status_code, answer.text[:300])
    status = answer.json()
    if status["status"] in ("done", "failed", "cancelled"):
        return status
    return poll(client, status["id"], lambda s: s["status"] in ("done", "failed", "cancelled"), timeout=300)


def is_error(answer: Any, status: int) -> str:
    """Assert one JSON error with this status; returns its message."""
    assert answer.status_code == status, (answer.status_code, answer.text[:300])
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert list(body) == ["error"] and isinstance(body["error"], str) and body["error"], body
    assert "\n" not in body["error"] and "Traceback" not in body["error"]
    return body["error"]


def raw_get(app: Any, path: str) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (percent escapes decoded as a server does, dot
    segments kept): HTTP clients normalise ``..`` away before sending, a hostile one need not."""
    from urllib.parse import unquote

    import anyio

    answer: dict[str, Any] = {"status": 0, "body": b"", "asked": False}

    async def receive() -> dict[str, Any]:
        if answer["asked"]:  # the client stays connected until the answer is sent
            await anyio.sleep_forever()
        answer["asked"] = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode("ascii"),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    anyio.run(app, scope, receive, send)
    return answer["status"], answer["body"]
