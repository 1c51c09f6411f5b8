"""Optional API keys (401) and a per-client token bucket on POSTs (429 + Retry-After).

A client is its API key where keys are configured, else its remote address. ``/``, ``/static``
and ``/api/health`` stay open: :func:`guard` is a dependency of the API routers only.
"""

from __future__ import annotations

import hmac
import math
import threading
import time

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cadenza.service.errors import ApiError, error_response

__all__ = ["BodyLimit", "RateLimiter", "Streams", "TooLargeError", "address_of", "api_key_of", "client_of", "guard"]

MAX_CLIENTS = 10_000  # buckets kept; full ones are forgotten first
MAX_STREAMS_PER_CLIENT = 8  # event streams one client may hold open at once
MAX_STREAMS = 256  # ... and all clients together (each polls its job until it ends)
KEY_GUESSES = 10  # wrong API keys an address may send a minute, whatever --rate is


class RateLimiter:
    """``rate`` requests a minute per client, in bursts of up to ``rate``."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._per_second = rate / 60
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, when)
        self._lock = threading.Lock()

    def take(self, client: str) -> int | None:
        """None if the client may go on, else the seconds to wait."""
        if self.rate <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            tokens, when = self._buckets.get(client, (float(self.rate), now))
            tokens = min(float(self.rate), tokens + (now - when) * self._per_second)
            if tokens < 1:
                self._buckets[client] = (tokens, now)
                return max(1, math.ceil((1 - tokens) / self._per_second))
            self._buckets[client] = (tokens - 1, now)
            if len(self._buckets) > MAX_CLIENTS:
                self._forget(now)
            return None

    def _forget(self, now: float) -> None:
        full = [c for c, (t, w) in self._buckets.items() if t + (now - w) * self._per_second >= self.rate]
        for client in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[client]


class Streams:
    """The event streams open now, per client: :meth:`take` a place before answering
    one (False: refuse it), :meth:`give` it back when the stream ends."""

    def __init__(self) -> None:
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> bool:
        with self._lock:
            mine = self._open.get(client, 0)
            if mine >= MAX_STREAMS_PER_CLIENT or sum(self._open.values()) >= MAX_STREAMS:
                return False
            self._open[client] = mine + 1
            return True

    def give(self, client: str) -> None:
        with self._lock:
            left = self._open.get(client, 0) - 1
            if left > 0:
                self._open[client] = left
            else:
                self._open.pop(client, None)


def api_key_of(request: Request) -> str | None:
    """``Authorization: Bearer KEY`` or ``X-API-Key: KEY``."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = request.headers.get("x-api-key", "").strip()
    return key or None


def address_of(request: Request) -> str:
    """The address that connected (``X-Forwarded-For`` is never read: ``cadenza serve``
    runs uvicorn without proxy headers)."""
    return "addr:" + (request.client.host if request.client else "unknown")


def client_of(request: Request) -> str:
    """The API key where keys are configured (checked by :func:`guard`), else the address:
    without keys, a key sent would let a client make itself many clients."""
    key = api_key_of(request) if request.app.state.settings.api_keys else None
    if key is not None:
        return "key:" + key
    return address_of(request)


def _known(key: str, keys: frozenset[str]) -> bool:
    found = False
    for candidate in keys:  # every key compared, in constant time each
        found |= hmac.compare_digest(key.encode(), candidate.encode())
    return found


def guard(request: Request) -> None:
    """The API key (when keys are configured), then the rate limit on POSTs."""
    settings = request.app.state.settings
    if settings.api_keys:
        key = api_key_of(request)
        if key is None:
            raise ApiError(401, "an API key is needed (Authorization: Bearer KEY)", {"WWW-Authenticate": "Bearer"})
        if not _known(key, settings.api_keys):
            wait = request.app.state.key_guesses.take(address_of(request))
            if wait is not None:  # a short key is not to be guessed at the speed of the network
                raise ApiError(429, f"too many wrong API keys; try again in {wait} s", {"Retry-After": str(wait)})
            raise ApiError(401, "the API key is not known", {"WWW-Authenticate": "Bearer"})
    if request.method == "POST":
        wait = request.app.state.limiter.take(client_of(request))
        if wait is not None:
            raise ApiError(429, f"too many requests; try again in {wait} s", {"Retry-After": str(wait)})


class TooLargeError(StarletteHTTPException):
    """A request body over the limit: a 413 (an HTTPException, so FastAPI's body
    parsing passes it on instead of answering 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request is larger than {limit:,} bytes")


class BodyLimit:
    """ASGI middleware: a body larger than ``limit`` bytes is refused (413) before it is
    read in full, by its Content-Length or as it streams; every answer also gets a few
    headers that keep a browser from reading a file as something else."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        # its length first: int() of thousands of digits raises instead of answering
        if declared.isdigit() and (len(declared) > len(str(self.limit)) or int(declared) > self.limit):
            await error_response(413, TooLargeError(self.limit).detail)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise TooLargeError(self.limit)
            return message

        async def guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SAFE_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, limited, guarded)


# the page's own policy: scripts, styles and fetches from this server only, nothing
# inline; images and audio also as blob: URLs (files fetched with an API key)
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
FILE_POLICY = "default-src 'none'; sandbox"  # a result file opened in the browser runs nothing
SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": PAGE_POLICY,
}
