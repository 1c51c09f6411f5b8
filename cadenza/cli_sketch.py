"""The composer commands: ``continue``, ``infill``, ``harmonize``, ``accompany``, ``vary``, ``arrange``.

Each reads the user's file, runs its task (:mod:`cadenza.compose.tasks`,
:mod:`cadenza.compose.ensemble`) through :func:`cadenza.compose.editing.edit_file`, and
writes the result with its signed record. The user's file is never written to: an
output that exists is refused unless ``--force``, and is replaced only once complete.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cadenza.cli_output import console, error_console, progress, shown
from cadenza.errors import InvalidArgumentError

if TYPE_CHECKING:
    from cadenza.compose.edit import Edit
    from cadenza.compose.editing import EditedPiece
    from cadenza.compose.sketch import Sketch

__all__ = ["register"]

SKETCH_MODEL = "cadenza-multitrack"

InputPath = Annotated[Path, typer.Argument(help="Your music: .mid .midi .musicxml .xml .mxl .abc .krn")]
Output = Annotated[Path, typer.Option("-o", "--output", help="OUT.mid .musicxml .mxl .wav .png")]
Model = Annotated[str, typer.Option(help="A multitrack model (see `cadenza models`) or a model folder.")]
Seed = Annotated[int, typer.Option(help="The same seed and file give the same music.", min=0)]
Temperature = Annotated[float, typer.Option(help="Above 1: bolder; below 1: safer.", min=0.01)]
TopP = Annotated[float, typer.Option("--top-p", help="Sample from the smallest set with this probability.")]
Originality = Annotated[str, typer.Option(help="STRICT, NORMAL or OFF: how closely what the model wrote is judged.")]
SignWith = Annotated[str | None, typer.Option("--sign-with", help="Sign the record with this key.")]
Force = Annotated[bool, typer.Option("--force", help="Overwrite an existing output file.")]
Index = Annotated[int, typer.Option("--index", help="Which piece of a file that holds several (ABC books).")]


@dataclass(frozen=True)
class Common:
    """The options every composer command shares (arrange uses the last three)."""

    model: str | None = SKETCH_MODEL  # None: the task composes nothing
    seed: int = 0
    temperature: float = 1.0
    top_p: float = 0.95
    originality: str = "NORMAL"
    sign_with: str | None = None
    force: bool = False
    index: int = 0


def _run(path: Path, output: Path, task: Callable[[Any, Sketch, Any], Edit], common: Common, doing: str) -> None:
    """Check the output, load the model, run ``task(composer, sketch, sampling)``, write, report."""
    from cadenza.compose import Composer, Sampling
    from cadenza.compose.editing import edit_file
    from cadenza.provenance.outputs import check_outputs
    from cadenza.provenance.report import Level
    from cadenza.provenance.signing import default_key, load_key

    level = Level.parse(common.originality)
    if output.resolve() == path.resolve():
        raise InvalidArgumentError(f"{output} is the input file; write the result to another file")
    check_outputs([output], force=common.force)
    key = default_key() if common.sign_with is None else load_key(common.sign_with)
    composer = None if common.model is None else Composer.from_pretrained(common.model)
    sampling = None
    if composer is not None:
        sampling = Sampling(temperature=common.temperature, top_p=common.top_p, seed=common.seed)
    with progress(doing):
        edited = edit_file(
            path,
            lambda sketch: task(composer, sketch, sampling),
            composer,
            sampling,
            index=common.index,
            level=level,
            key=key,
        )
    record = edited.write(output, force=common.force)
    _report(edited, output, record)


def _report(edited: EditedPiece, output: Path, record: Path) -> None:
    made = edited.what_changed()
    console.print(f"wrote {shown(output)} ({shown(made)}) and {shown(record.name)}")
    if edited.report is not None:
        report = edited.report
        longest = report.longest_shared
        shared = (
            f"its longest passage shared with a training piece: {longest.notes} notes"
            if longest
            else "no passage shared with a training piece"
        )
        if report.flagged:
            pieces = ", ".join(sorted({c.id for c in report.copies})[:3])
            verdict = f"[red]FLAGGED[/red], it copies {shown(pieces)}"
            console.print(f"originality of what the model wrote: {verdict} ({shared}); try another --seed")
        else:
            console.print(f"originality of what the model wrote: not flagged ({shared})")
    for warning in edited.warnings:
        error_console.print(f"[yellow]warning:[/yellow] {shown(warning)}", highlight=False, soft_wrap=True)


def continue_command(
    path: InputPath,
    output: Output,
    bars: Annotated[int, typer.Option(help="How many bars to add after the last one.")] = 8,
    model: Model = SKETCH_MODEL,
    seed: Seed = 0,
    temperature: Temperature = 1.0,
    top_p: TopP = 0.95,
    originality: Originality = "NORMAL",
    sign_with: SignWith = None,
    force: Force = False,
    index: Index = 0,
) -> None:
    """Continue your music: N more bars in its style, key, meter, tempo and instruments."""
    from cadenza.compose.tasks import continue_sketch

    _run(
        path,
        output,
        lambda c, s, p: continue_sketch(c, s, bars, p),
        Common(model, seed, temperature, top_p, originality, sign_with, force, index),
        f"continuing by {bars} bars",
    )


def infill_command(
    path: InputPath,
    output: Output,
    bars: Annotated[str, typer.Option(help="The bars to write anew, e.g. 9-12 (counted from 1).")],
    tracks: Annotated[str | None, typer.Option(help="Comma-separated track names or numbers (default: all).")] = None,
    model: Model = SKETCH_MODEL,
    seed: Seed = 0,
    temperature: Temperature = 1.0,
    top_p: TopP = 0.95,
    originality: Originality = "NORMAL",
    sign_with: SignWith = None,
    force: Force = False,
    index: Index = 0,
) -> None:
    """Write some bars of some tracks anew, from the music before and after them."""
    from cadenza.compose.sketch import parse_bars
    from cadenza.compose.tasks import infill_sketch

    region = parse_bars(bars)

    def task(composer: Any, sketch: Sketch, sampling: Any) -> Edit:
        chosen = None if tracks is None else sketch.tracks([t for t in tracks.split(",") if t.strip()])
        return infill_sketch(composer, sketch, region, chosen, sampling)

    _run(
        path,
        output,
        task,
        Common(model, seed, temperature, top_p, originality, sign_with, force, index),
        f"filling bars {bars}",
    )


def harmonize_command(
    path: InputPath,
    output: Output,
    style: Annotated[
        str, typer.Option(help="chorale: alto, tenor and bass under the tune; pop: chords, piano and bass.")
    ] = "chorale",
    model: Model = SKETCH_MODEL,
    seed: Seed = 0,
    temperature: Temperature = 1.0,
    top_p: TopP = 0.95,
    originality: Originality = "NORMAL",
    sign_with: SignWith = None,
    force: Force = False,
    index: Index = 0,
) -> None:
    """Harmonize a melody: a four-part chorale under it, or chords with an accompaniment."""
    from cadenza.compose.tasks import harmonize

    _run(
        path,
        output,
        lambda c, s, p: harmonize(c, s, style=style, sampling=p),
        Common(model, seed, temperature, top_p, originality, sign_with, force, index),
        "harmonizing",
    )


def accompany_command(
    path: InputPath,
    output: Output,
    instruments: Annotated[
        str, typer.Option(help="Comma-separated; the last plays the bass, e.g. piano,bass or guitar,strings,bass.")
    ] = "piano,bass",
    model: Model = SKETCH_MODEL,
    seed: Seed = 0,
    temperature: Temperature = 1.0,
    top_p: TopP = 0.95,
    originality: Originality = "NORMAL",
    sign_with: SignWith = None,
    force: Force = False,
    index: Index = 0,
) -> None:
    """Accompany a melody: chords chosen for it, played by a piano (or a band) and a bass."""
    from cadenza.compose.conditions import instruments_of
    from cadenza.compose.tasks import accompany

    names = [n for n in instruments.split(",") if n.strip()]
    instruments_of(tuple(names))  # an unknown instrument is refused before the model loads
    _run(
        path,
        output,
        lambda c, s, p: accompany(c, s, instruments=names, sampling=p),
        Common(model, seed, temperature, top_p, originality, sign_with, force, index),
        "accompanying",
    )


def vary_command(
    path: InputPath,
    output: Output,
    amount: Annotated[float, typer.Option(help="0: unchanged .. 1: every bar that plays written anew.")] = 0.5,
    bars: Annotated[str | None, typer.Option(help="Only these bars, e.g. 1-8 (default: all).")] = None,
    model: Model = SKETCH_MODEL,
    seed: Seed = 0,
    temperature: Temperature = 1.0,
    top_p: TopP = 0.95,
    originality: Originality = "NORMAL",
    sign_with: SignWith = None,
    force: Force = False,
    index: Index = 0,
) -> None:
    """Vary your music: the same form and harmony, a new surface."""
    from cadenza.compose.sketch import parse_bars
    from cadenza.compose.tasks import check_amount, vary

    region = None if bars is None else parse_bars(bars)
    check_amount(amount)  # before the model loads
    _run(
        path,
        output,
        lambda c, s, p: vary(c, s, amount=amount, bars=region, sampling=p),
        Common(model, seed, temperature, top_p, originality, sign_with, force, index),
        "varying",
    )


def arrange_command(
    path: InputPath,
    output: Output,
    instruments: Annotated[str, typer.Option(help="Comma-separated, e.g. violin,violin,viola,cello (top part first).")],
    sign_with: SignWith = None,
    force: Force = False,
    index: Index = 0,
) -> None:
    """Arrange your music for an ensemble: every note given to a part, each part in its range."""
    from cadenza.compose.ensemble import arrange, ensemble

    parts = ensemble(instruments.split(","))  # an unknown instrument is refused before the file is read
    _run(
        path,
        output,
        lambda _composer, sketch, _sampling: arrange(sketch, parts),
        Common(None, originality="OFF", sign_with=sign_with, force=force, index=index),
        "arranging",
    )


def register(app: typer.Typer) -> None:
    app.command("continue")(continue_command)
    app.command("infill")(infill_command)
    app.command("harmonize")(harmonize_command)
    app.command("accompany")(accompany_command)
    app.command("vary")(vary_command)
    app.command("arrange")(arrange_command)
