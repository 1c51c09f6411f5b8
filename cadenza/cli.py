"""The ``cadenza`` command line: parse arguments, call the API, format the answer.

Every :class:`~cadenza.errors.CadenzaError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cadenza import __version__
from cadenza.errors import CadenzaError

app = typer.Typer(
    name="cadenza",
    help="Compose, analyse and inspect music.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
error_console = Console(stderr=True)

InputPath = Annotated[Path, typer.Argument(help="A music file: .mid .midi .musicxml .xml .mxl .abc .krn")]
Force = Annotated[bool, typer.Option("--force", help="Overwrite an existing output file.")]
Index = Annotated[int, typer.Option("--index", help="Which piece of a file that holds several (ABC books).")]


def _version(value: bool) -> None:
    if value:
        console.print(f"cadenza {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    """Compose, analyse and inspect music."""


@app.command()
def info(path: InputPath, as_json: Annotated[bool, typer.Option("--json")] = False, index: Index = 0) -> None:
    """Format, tracks, notes, length, tempo, meter and key signature of a music file."""
    from cadenza.io import format_of, load_score
    from cadenza.io.summary import summarize

    summary = summarize(load_score(path, index=index))
    fmt = format_of(path).value
    if as_json:
        console.print_json(json.dumps({"path": str(path), "format": fmt, **summary.to_dict()}))
        return
    console.print(f"[bold]{path}[/bold]  ({fmt})")
    console.print(
        f"{summary.notes} notes · {summary.seconds:.1f} s · {summary.bars} bars · "
        f"tempo {', '.join(f'{t:g}' for t in summary.tempos_bpm)} bpm · "
        f"meter {', '.join(summary.time_signatures)} · "
        f"key signature {', '.join(summary.key_signatures) or 'none'} · {summary.ticks_per_quarter} ticks/quarter"
    )
    table = Table("#", "track", "instrument", "program", "notes")
    for number, track in enumerate(summary.tracks, 1):
        program = "drums" if track.is_drum else str(track.program)
        table.add_row(str(number), track.name or "—", track.instrument, program, str(track.notes))
    console.print(table)


@app.command()
def convert(
    source: InputPath,
    target: Annotated[Path, typer.Argument(help="Output: .mid .musicxml .xml .mxl .wav .png")],
    force: Force = False,
    index: Index = 0,
) -> None:
    """Convert between formats, chosen by the extensions."""
    from cadenza.io import load_score, save_score

    save_score(load_score(source, index=index), target, force=force)
    console.print(f"wrote {target}")


@app.command()
def render(
    source: InputPath,
    output: Annotated[Path, typer.Option("-o", "--output", help="OUT.wav (audio) or OUT.png (piano roll)")],
    force: Force = False,
    index: Index = 0,
) -> None:
    """Render a music file to audio (WAV) or a piano-roll picture (PNG)."""
    from cadenza.io import Format, format_of, load_score, save_score

    format_of(output, frozenset({Format.WAV, Format.PNG}))
    save_score(load_score(source, index=index), output, force=force)
    console.print(f"wrote {output}")


def main() -> None:
    """Console entry point: run the app, turning cadenza errors into one line."""
    try:
        app()
    except CadenzaError as error:
        error_console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        error_console.print("interrupted")
        sys.exit(130)
    except Exception as error:  # a bug of ours: one line, the traceback only on request
        if os.environ.get("CADENZA_DEBUG"):
            raise
        error_console.print(
            f"[red]internal error:[/red] {type(error).__name__}: {error} "
            "(set CADENZA_DEBUG=1 for details and please report it)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
