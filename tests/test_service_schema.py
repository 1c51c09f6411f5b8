"""schemathesis against ``cadenza serve``'s own OpenAPI spec, in-process: whatever it
sends within (or just outside) the spec, no answer is a 5xx, and every error is one
JSON line. The engine is not started (jobs stay queued): the API is what is tested."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings

from cadenza.service.app import create_app
from cadenza.service.settings import Settings

_DATA = Path(tempfile.mkdtemp(prefix="cadenza-schema-"))
APP = create_app(Settings(data_dir=_DATA, queue_limit=10_000, rate=0))


async def _without_lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The app, its lifespan answered here: schemathesis' client starts and stops an app
    at each call, and the engine's worker processes are not what this test is about."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await APP(scope, receive, send)


def _seconds(value: object) -> float:
    try:
        seconds = float(str(value))
    except ValueError:
        return 0.0
    return seconds if 0 <= seconds <= 30 else 0.0


schema = schemathesis.openapi.from_asgi("/openapi.json", _without_lifespan)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_answer_is_a_server_error(case: schemathesis.Case) -> None:
    if case.query and _seconds(case.query.get("wait")) > 0.1:
        case.query["wait"] = "0.1"  # no worker runs here: a valid wait would wait it all out
    answer = case.call()
    assert answer.status_code < 500, (case.method, case.path, answer.status_code, answer.text[:300])
    if answer.status_code >= 400:
        body = answer.json()
        assert list(body) == ["error"] and isinstance(body["error"], str) and "\n" not in body["error"], body
