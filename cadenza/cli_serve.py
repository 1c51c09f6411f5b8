"""``cadenza serve``: the studio over HTTP (FastAPI + uvicorn), see :mod:`cadenza.service`."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

import typer

from cadenza.cli_output import console, error_console, shown

__all__ = ["register", "listen", "ready_data_dir"]

MAX_KEEP_MINUTES = 30 * 24 * 60
MAX_UPLOAD_MB = 1024.0


def listen(host: str, port: int) -> socket.socket:
    """The socket the server will answer on, bound here so that an address in use or a
    host that does not resolve is one line naming it, not uvicorn's log and exit 3."""
    from cadenza.errors import InvalidArgumentError

    where = f"{host}:{port}"
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn chooses
        family, kind, proto, _, address = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as error:
        raise InvalidArgumentError(f"--host {host}: cannot listen there ({_reason(error)})") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise InvalidArgumentError(f"cannot listen on {where} ({_reason(error)})") from None
    return sock


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def ready_data_dir(data_dir: Path) -> None:
    """Make ``data_dir/jobs`` now: a folder that cannot be made is one line, not a failed startup."""
    from cadenza.errors import InputFileError

    try:
        (data_dir / "jobs").mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputFileError(f"cannot be made into the data folder ({_reason(error)})", data_dir) from None


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: Annotated[str, typer.Option(help="The address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="The port to listen on.")] = 8000,
        workers: Annotated[int, typer.Option(help="Jobs run at once, each in its own process.")] = 2,
        queue_limit: Annotated[
            int, typer.Option("--queue-limit", help="Jobs that may wait; more are refused (503).")
        ] = 20,
        keep_minutes: Annotated[
            float, typer.Option("--keep-minutes", help="Results are kept this long, then deleted.")
        ] = 60.0,
        data_dir: Annotated[
            Path | None, typer.Option("--data-dir", help="Where job folders go (default: a fresh temporary folder).")
        ] = None,
        api_key_file: Annotated[
            Path | None,
            typer.Option("--api-key-file", help="Keys clients must send (Authorization: Bearer KEY), one a line."),
        ] = None,
        rate: Annotated[int, typer.Option(help="Requests that start a job, per minute and client (0: no limit).")] = 60,
        max_upload_mb: Annotated[
            float, typer.Option("--max-upload-mb", help="The largest file a client may upload, in MiB.")
        ] = 2.0,
    ) -> None:
        """Serve the studio: a web page at / and a JSON API at /api (its OpenAPI spec at /openapi.json)."""
        import uvicorn

        from cadenza.errors import InvalidArgumentError
        from cadenza.service.app import create_app
        from cadenza.service.settings import Settings, read_api_keys

        if not 0 < keep_minutes <= MAX_KEEP_MINUTES:  # also refuses nan
            raise InvalidArgumentError(f"--keep-minutes {keep_minutes:g} is outside 0..{MAX_KEEP_MINUTES} (30 days)")
        if not 0 < max_upload_mb <= MAX_UPLOAD_MB:
            raise InvalidArgumentError(f"--max-upload-mb {max_upload_mb:g} is outside 0..{MAX_UPLOAD_MB:g}")
        keys = frozenset() if api_key_file is None else read_api_keys(api_key_file)
        settings = Settings(
            host=host,
            port=port,
            workers=workers,
            queue_limit=queue_limit,
            keep_seconds=keep_minutes * 60,
            data_dir=data_dir,
            rate=rate,
            api_keys=keys,
            max_upload_bytes=max(1, int(max_upload_mb * 1024 * 1024)),
        )
        if data_dir is not None:
            ready_data_dir(data_dir)
        sock = listen(host, port)
        port = int(sock.getsockname()[1])  # --port 0: the one the system chose
        shown_host = f"[{host}]" if ":" in host else host
        console.print(
            f"cadenza serve: http://{shown(shown_host)}:{port}/ ({workers} workers, "
            f"{'API keys required' if keys else 'open: no API keys'}); Ctrl-C stops",
            highlight=False,
        )
        if not keys and host not in ("127.0.0.1", "localhost", "::1"):
            error_console.print(
                f"[yellow]warning:[/yellow] listening on {shown(host)} without API keys: anyone who can reach "
                "it may use it (--api-key-file FILE)",
                highlight=False,
                soft_wrap=True,
            )
        # proxy_headers off: X-Forwarded-For is the client's word (uvicorn trusts it from
        # 127.0.0.1 by default), and the rate limit counts by the address that connected.
        config = uvicorn.Config(create_app(settings), log_level="info", access_log=False, proxy_headers=False)
        try:
            uvicorn.Server(config).run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn raises Ctrl-C again once it has shut down
            pass
        finally:
            sock.close()
