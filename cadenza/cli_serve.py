"""``cadenza serve``: the studio over HTTP (FastAPI + uvicorn), see :mod:`cadenza.service`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cadenza.cli_output import console, error_console, shown

__all__ = ["register"]


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
    ) -> None:
        """Serve the studio: a web page at / and a JSON API at /api (its OpenAPI spec at /openapi.json)."""
        import uvicorn

        from cadenza.service.app import create_app
        from cadenza.service.settings import Settings, read_api_keys

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
        )
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
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info", access_log=False)
