"""The ``cadenza`` command line: parse arguments, call the API, format the answer.

Every :class:`~cadenza.errors.CadenzaError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cadenza import __version__
from cadenza.errors import CadenzaError, InvalidArgumentError

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


data_app = typer.Typer(help="Build and inspect training corpora.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("build")
def data_build(
    source: Annotated[
        list[str],
        typer.Option(
            "--source",
            help="NAME=PATH, repeatable: pop909=DIR, jsb=Jsb16thSeparated.json, "
            "music21=bach,palestrina (or all), or any NAME=FOLDER of music files.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder (rebuilt incrementally).")],
    licence: Annotated[
        list[str], typer.Option("--licence", help="NAME=LICENCE for a folder source (default: unknown).")
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    transpose: Annotated[
        str, typer.Option("--transpose", help="Augment training pieces by these semitone shifts, e.g. -3..3 or -2,2.")
    ] = "",
    workers: Annotated[int, typer.Option("--workers", help="Processes (default: every core).")] = 0,
    ray: Annotated[bool, typer.Option("--ray", help="Spread the work with Ray (must be installed).")] = False,
) -> None:
    """Parse, clean, label, split and tokenize sources into shards with a manifest."""
    from rich.progress import Progress

    from cadenza.data.build import build_corpus
    from cadenza.data.process import BuildOptions
    from cadenza.data.sources import parse_source_spec

    licences = dict(_pair(item, "--licence") for item in licence)
    specs = [parse_source_spec(item, licences) for item in source]
    options = BuildOptions(transpositions=_shifts(transpose))
    with Progress(console=error_console, transient=True) as bar:
        task = bar.add_task("building", total=None)
        summary = build_corpus(
            specs,
            out,
            options=options,
            workers=workers or os.cpu_count() or 1,
            use_ray=ray,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    console.print(
        f"{summary.kept} pieces kept, {summary.dropped} dropped ({summary.from_cache} files from cache); "
        f"tokens: " + ", ".join(f"{k} {v:,}" for k, v in summary.tokens.items())
    )


def _pair(text: str, option: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise InvalidArgumentError(f"{option} {text!r}: expected NAME=VALUE")
    return name, value


def _shifts(text: str) -> tuple[int, ...]:
    if not text.strip():
        return ()
    try:
        if ".." in text:
            low, high = (int(x) for x in text.split(".."))
            return tuple(s for s in range(low, high + 1) if s)
        return tuple(int(x) for x in text.split(",") if int(x))
    except ValueError:
        raise InvalidArgumentError(f"--transpose {text!r}: expected a range like -3..3 or a list like -2,2") from None


@data_app.command("info")
def data_info(folder: Annotated[Path, typer.Argument(help="A folder made by `cadenza data build`.")]) -> None:
    """Counts per source, split and label, and total tokens, of a built corpus."""
    from cadenza.data.info import corpus_info

    info = corpus_info(folder)
    console.print(f"[bold]{folder}[/bold]: {info.kept} pieces kept of {info.pieces}")
    table = Table("what", "counts")
    table.add_row("source", _counts(info.by_source))
    table.add_row("split", _counts(info.by_split))
    table.add_row("licence", _counts(info.licences))
    for label, counter in info.labels.items():
        table.add_row(label, _counts(counter, most=12))
    table.add_row("dropped", _counts(info.dropped_by_reason) or "none")
    table.add_row("tokens", ", ".join(f"{k} {v:,}" for k, v in info.tokens.items()) + f" (total {sum(info.tokens.values()):,})")
    console.print(table)


def _counts(counter: Counter[str], most: int = 20) -> str:
    return ", ".join(f"{k} {v}" for k, v in counter.most_common(most))


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
