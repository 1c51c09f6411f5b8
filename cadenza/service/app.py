"""``create_app(settings)``: the FastAPI application of ``cadenza serve``.

The job engine (worker processes) starts and stops with the application's lifespan:
with a TestClient, use it as a context manager (``with TestClient(app) as client``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from cadenza import __version__
from cadenza.service import routes, routes_files
from cadenza.service.errors import ApiError, install_error_handlers
from cadenza.service.jobs import Engine
from cadenza.service.limits import KEY_GUESSES, BodyLimit, RateLimiter, Streams, guard
from cadenza.service.settings import Settings

__all__ = ["STATIC", "create_app"]

STATIC = Path(__file__).resolve().parent / "static"
BODY_OVERHEAD = 64 * 1024  # a multipart body's boundaries and options around the upload itself


def create_app(settings: Settings | None = None) -> FastAPI:
    from cadenza.service.kinds import WORK

    settings = settings or Settings()
    engine = Engine(settings, WORK)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from cadenza.provenance.signing import default_key

        default_key()  # made once here, before workers could race to make it
        engine.start()
        try:
            yield
        finally:
            engine.stop()

    app = FastAPI(
        title="cadenza",
        version=__version__,
        description='Compose, analyse and check music over HTTP: every error is {"error": "one line"}.',
        lifespan=lifespan,
        docs_url=None,  # FastAPI's docs pages load their scripts from a CDN: not offline
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.limiter = RateLimiter(settings.rate)
    app.state.streams = Streams()
    app.state.key_guesses = RateLimiter(KEY_GUESSES)
    install_error_handlers(app)
    app.include_router(routes.open_router)
    app.include_router(routes.router, dependencies=[Depends(guard)])
    app.include_router(routes_files.router, dependencies=[Depends(guard)])

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        index = STATIC / "index.html"
        if not index.is_file():
            raise ApiError(404, "no page is installed; the API is at /api, described at /openapi.json")
        return FileResponse(index, media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes + BODY_OVERHEAD)
    return app
