"""The ``cadenza`` command line: parse arguments, call the API, format the answer.

Every :class:`~cadenza.errors.CadenzaError` becomes one line on stderr and exit code 2;
text from files and paths is printed through :func:`~cadenza.cli_output.shown`.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperGroup

from cadenza import __version__
from cadenza.cli_output import console, error_console, print_json, progress, shown
from cadenza.errors import CadenzaError, InvalidArgumentError, OutputExistsError

if TYPE_CHECKING:
    from cadenza.compose.rerank import Judge
    from cadenza.provenance.report import OriginalityReport

__all__ = ["app", "console", "error_console", "main", "progress", "shown"]

EXIT_CODES = (
    "Exit codes: 0 done; 1 a negative verdict (originality FLAGGED, verify not intact); "
    "2 could not do it (one line on stderr names the file or argument and why); 130 interrupted."
)


class _FriendlyGroup(TyperGroup):
    """Turns a cadenza error into one line on stderr and exit code 2, wherever it is
    raised (also under typer's test runner, which calls the group directly)."""

    def invoke(self, ctx: Any) -> Any:  # click's Context, which typer vendors privately
        try:
            return super().invoke(ctx)
        except (typer.TyperException, typer.Exit, typer.Abort):
            raise  # usage errors, --help and exits: the command line's own business
        except CadenzaError as error:
            error_console.print(f"[red]error:[/red] {shown(error)}", highlight=False, soft_wrap=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            error_console.print("interrupted")
            ctx.exit(130)
        except BrokenPipeError:  # the reader went away (`cadenza ... | head`): nothing more to say
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(141)
        except Exception as error:  # a bug of ours: one line, the traceback only on request
            if os.environ.get("CADENZA_DEBUG"):
                raise
            # exit 2, never 1: a script reads 1 as a verdict (FLAGGED, not intact)
            error_console.print(
                f"[red]internal error:[/red] {shown(type(error).__name__)}: {shown(error)} "
                "(set CADENZA_DEBUG=1 for details and please report it)",
                highlight=False,
                soft_wrap=True,
            )
            ctx.exit(2)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Usage errors (an unknown option, a missing argument) as one line on stderr and
        exit 2, like every other failure; typer would draw them in a box over several."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except typer.Abort:
            error_console.print("aborted")
            sys.exit(1)
        except typer.TyperException as error:
            _usage_line(error)
            sys.exit(getattr(error, "exit_code", 2))
        sys.exit(code if isinstance(code, int) else 0)


def _usage_line(error: Exception) -> None:
    """``error: cadenza generate: No such option: --bogus (see `cadenza generate --help`)``;
    nothing where click has already shown the help (a group called without a command)."""
    format_message = getattr(error, "format_message", None)
    message = format_message() if format_message is not None else str(error)
    if not message:
        return
    context = getattr(error, "ctx", None)
    if context is None:
        error_console.print(f"[red]error:[/red] {shown(message)}", highlight=False, soft_wrap=True)
        return
    path = context.command_path
    line = f"[red]error:[/red] {shown(path)}: {shown(message)} (see `{shown(path)} --help`)"
    error_console.print(line, highlight=False, soft_wrap=True)


def _flags_show_no_type() -> None:
    """typer 0.2x's rich help prints every option's value type, ``<bool>`` on flags too
    (its plain-text help and older typers leave it out: a flag takes no value); print
    none for flags, here once for every command, ``--help`` included."""
    from typer.core import TyperOption

    show_type = getattr(TyperOption, "display_type_rich", None)
    if show_type is None or getattr(show_type, "flags_show_no_type", False):
        return  # a typer without the quirk, or already done

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag and not self.count else show_type(self, ctx)

    display_type_rich.flags_show_no_type = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_show_no_type()

app = typer.Typer(
    cls=_FriendlyGroup,
    name="cadenza",
    help=f"Compose, analyse and inspect music.\n\n{EXIT_CODES}",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

InputPath = Annotated[Path, typer.Argument(help="A music file: .mid .midi .musicxml .xml .mxl .abc .krn")]
Force = Annotated[bool, typer.Option("--force", help="Overwrite an existing output file.")]
Index = Annotated[int, typer.Option("--index", help="Which piece of a file that holds several (ABC books).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON instead of tables.")]


MAX_SEED = 2**63 - 1


def _seed(value: int) -> int:
    """Callback of ``--seed``: a seed is a whole number from 0 (a negative one has no meaning)."""
    if not 0 <= value <= MAX_SEED:
        raise InvalidArgumentError(f"--seed {value}: a seed is a whole number from 0 to {MAX_SEED}")
    return value


def _distinct(paths: list[Path]) -> list[Path]:
    """Callback of a repeated output option: one file named twice would be written twice."""
    seen: dict[str, Path] = {}
    for path in paths:
        same = seen.setdefault(os.path.realpath(path.expanduser()), path)
        if same is not path:
            also = "" if str(same) == str(path) else f" (also as {same})"
            raise InvalidArgumentError(f"is given twice as an output{also}", path)
    return paths


def _version(value: bool) -> None:
    if value:
        console.print(f"cadenza {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print cadenza's version and exit.")
    ] = False,
) -> None:
    """Compose, analyse and inspect music."""


BookIndex = Annotated[
    int | None,
    typer.Option("--index", help="Which piece of a file that holds several (an ABC tune book), from 0."),
]


def _print_book(path: Path, fmt: str, pieces: list[Any], as_json: bool) -> None:
    """The pieces of a file that holds several: index, title, bars, notes, length."""
    from cadenza.io.summary import summarize

    summaries = [summarize(piece.score) for piece in pieces]
    if as_json:
        rows = [
            {"index": i, "title": p.title, "bars": s.bars, "notes": s.notes, "seconds": round(s.seconds, 1)}
            for i, (p, s) in enumerate(zip(pieces, summaries, strict=True))
        ]
        print_json({"path": str(path), "format": fmt, "pieces": rows})
        return
    console.print(f"[bold]{shown(path)}[/bold]  ({fmt}): {len(pieces)} pieces; --index N shows or converts one")
    table = Table("index", "title", "bars", "notes", "seconds")
    for i, (piece, summary) in enumerate(zip(pieces, summaries, strict=True)):
        table.add_row(
            str(i), shown(piece.title or "—"), str(summary.bars), str(summary.notes), f"{summary.seconds:.1f}"
        )
    console.print(table)


@app.command()
def info(path: InputPath, as_json: AsJson = False, index: BookIndex = None) -> None:
    """Format, tracks, notes, length, tempo, meter and key signature of a music file.

    A file of several pieces (an ABC tune book) lists them; --index N describes piece N.
    """
    from cadenza.io import choose_piece, format_of, load_pieces
    from cadenza.io.summary import summarize

    pieces = load_pieces(path)
    fmt = format_of(path).value
    if index is None and len(pieces) > 1:
        _print_book(path, fmt, pieces, as_json)
        return
    piece = choose_piece(pieces, index or 0, path)
    summary = summarize(piece.score)
    if as_json:
        print_json({"path": str(path), "format": fmt, "title": piece.title, **summary.to_dict()})
        return
    console.print(f"[bold]{shown(path)}[/bold]  ({fmt})")
    if len(pieces) > 1:
        console.print(f"piece {index} of {len(pieces)} (from 0): {shown(piece.title or 'untitled')}")
    console.print(
        f"{summary.notes} notes · {summary.seconds:.1f} s · {summary.bars} bars · "
        f"tempo {', '.join(f'{t:g}' for t in summary.tempos_bpm)} bpm · "
        f"meter {', '.join(summary.time_signatures)} · "
        f"key signature {', '.join(summary.key_signatures) or 'none'} · {summary.ticks_per_quarter} ticks/quarter"
    )
    table = Table("#", "track", "instrument", "program", "notes")
    table.columns[1].overflow = "fold"  # a long name is folded on a narrow terminal, never cut
    for number, track in enumerate(summary.tracks, 1):
        program = "drums" if track.is_drum else str(track.program)
        table.add_row(str(number), shown(track.name) or "—", track.instrument, program, str(track.notes))
    console.print(table)


@app.command()
def analyze(path: InputPath, as_json: AsJson = False, index: Index = 0) -> None:
    """Key, chords, beats, tempo, meter, melody, sections and metrics of a music file."""
    from cadenza.analysis.report import analyze_score, render_report
    from cadenza.io import load_score

    result = analyze_score(load_score(path, index=index))
    if as_json:
        print_json(result)
        return
    console.print(f"[bold]{shown(path)}[/bold]")
    console.print(render_report(result))


@app.command()
def convert(
    source: InputPath,
    target: Annotated[Path, typer.Argument(help="Output: .mid .musicxml .xml .mxl .wav .png")],
    force: Force = False,
    index: BookIndex = None,
) -> None:
    """Convert between formats, chosen by the extensions.

    A file of several pieces (an ABC tune book) converts one piece per call, chosen with
    --index N; `cadenza info FILE` lists them.
    """
    from cadenza.errors import LimitExceededError
    from cadenza.io import choose_piece, load_pieces, save_score
    from cadenza.io.atomic import check_writable
    from cadenza.io.formats import WRITABLE, format_of

    format_of(target, WRITABLE)
    check_writable(target, force=force)  # before reading, which may take a while
    pieces = load_pieces(source)
    if index is None and len(pieces) > 1:
        raise InvalidArgumentError(
            f"holds {len(pieces)} pieces; choose one with --index 0..{len(pieces) - 1} (`cadenza info` lists them)",
            source,
        )
    score = choose_piece(pieces, index or 0, source).score
    try:
        save_score(score, target, force=force)
    except LimitExceededError as error:  # the music is at fault: name the file it came from
        if error.path != str(target):
            raise
        raise LimitExceededError(f"cannot be written as {shown(target)}: {error.reason}", source) from None
    console.print(f"wrote {shown(target)}")


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
    console.print(f"wrote {shown(output)}")


def _numbered(path: Path, number: int, count: int) -> Path:
    return path if count == 1 else path.with_name(f"{path.stem}-{number}{path.suffix}")


@app.command()
def generate(
    output: Annotated[
        list[Path],
        typer.Option(
            "-o", "--output", help="OUT.mid .musicxml .mxl .wav .png; repeat for several formats.", callback=_distinct
        ),
    ] = [],  # noqa: B006 (typer reads the default; it is never mutated)
    prompt: Annotated[
        str | None,
        typer.Option(help='What the scene needs, in words: "tense boss fight, 140 bpm, 2 minutes, builds".'),
    ] = None,
    loop: Annotated[bool, typer.Option("--loop", help="A seamless loop: the end leads into the start.")] = False,
    stems: Annotated[
        bool, typer.Option("--stems", help="Also one WAV per layer (OUT-stems/), summing to the mix.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan only; compose nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --dry-run: the plan as JSON.")] = False,
    style: Annotated[str | None, typer.Option(help="pop, chorale, folk, early or classical.")] = None,
    mood: Annotated[str | None, typer.Option(help="calm, happy, sad or tense; or FROM-to-TO (calm-to-tense).")] = None,
    key: Annotated[str | None, typer.Option(help='e.g. "D minor", "f# m", "Bb" (any case).')] = None,
    tempo: Annotated[float | None, typer.Option(help="Quarter notes per minute (30-240).")] = None,
    meter: Annotated[str | None, typer.Option(help="4/4, 3/4, 2/4, 6/8, 12/8, 3/8, 5/4 or 6/4.")] = None,
    bars: Annotated[int | None, typer.Option(help="Exactly this many bars.")] = None,
    seconds: Annotated[float | None, typer.Option(help="Exactly this many seconds, ending on a cadence.")] = None,
    instruments: Annotated[
        str | None, typer.Option(help="Comma-separated: lead, accompaniment, bass, e.g. piano,strings.")
    ] = None,
    model: Annotated[
        str, typer.Option(help="An installed model (see `cadenza models`) or a model folder.")
    ] = "default",
    seed: Annotated[int, typer.Option(help="The same seed and conditions give the same music.", callback=_seed)] = 0,
    temperature: Annotated[float, typer.Option(help="Above 1: bolder; below 1: safer.")] = 1.0,
    top_k: Annotated[int, typer.Option("--top-k", help="Sample from the k likeliest tokens (0: all).")] = 0,
    top_p: Annotated[float, typer.Option("--top-p", help="Sample from the smallest set with this probability.")] = 0.95,
    count: Annotated[int, typer.Option(help="Write this many different pieces (seeds seed, seed+1, ...).")] = 1,
    rerank: Annotated[
        int, typer.Option(help="Compose this many candidates and keep the one the GAN's critic finds most real.")
    ] = 1,
    critic: Annotated[str, typer.Option(help="The GAN whose critic judges (with --rerank).")] = "cadenza-gan",
    originality: Annotated[
        str,
        typer.Option(help="STRICT, NORMAL or OFF: compose again any passage that copies a training piece."),
    ] = "NORMAL",
    sign_with: Annotated[
        str | None,
        typer.Option("--sign-with", help="Sign the records with this key (made by `cadenza keys new --name NAME`)."),
    ] = None,
    plan: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            help="A plan (JSON, or YAML with PyYAML): sections, chords per bar, intensity. A multitrack "
            "model (--model cadenza-multitrack, or a folder) follows it; the default model follows only its "
            "first section's key, tempo, meter and mood and its bars, with a warning. Not with --style .. "
            "--instruments.",
        ),
    ] = None,
    force: Force = False,
) -> None:
    """Compose new music and write it with its signed provenance record."""
    from cadenza.analysis.bars import bar_count
    from cadenza.cli_soundtrack import generate_cue, uses_cue
    from cadenza.compose import Composer, Conditions, Sampling, compose_piece
    from cadenza.compose.planner import load_plan
    from cadenza.provenance.outputs import check_outputs
    from cadenza.provenance.record import sidecar_path
    from cadenza.provenance.report import Level
    from cadenza.provenance.signing import default_key, load_key

    if uses_cue(prompt, mood, loop, stems, dry_run):
        if plan is not None or count != 1:
            raise InvalidArgumentError(
                "--plan and --count are not for a cue (--prompt, --loop, --stems, --mood A-to-B)"
            )
        options = {
            "prompt": prompt, "loop": loop, "stems": stems, "dry_run": dry_run, "as_json": as_json, "style": style,
            "mood": mood, "key": key, "tempo": tempo, "meter": meter, "bars": bars, "seconds": seconds,
            "instruments": instruments, "model": model, "seed": seed, "temperature": temperature, "top_k": top_k,
            "top_p": top_p, "originality": originality, "sign_with": sign_with, "force": force,
        }  # fmt: skip
        generate_cue(list(output), options)
        return
    if not output:
        raise InvalidArgumentError("give an output with -o (OUT.mid, OUT.wav ...)")
    if as_json:
        raise InvalidArgumentError("--json goes with --dry-run")
    if count < 1:
        raise InvalidArgumentError("--count must be 1 or more")
    if not 1 <= rerank <= MAX_RERANK:
        raise InvalidArgumentError(f"--rerank {rerank} is outside 1..{MAX_RERANK}")
    given = {"--style": style, "--mood": mood, "--key": key, "--tempo": tempo, "--meter": meter}
    given.update({"--bars": bars, "--seconds": seconds, "--instruments": instruments})
    if plan is not None and any(v is not None for v in given.values()):
        first = next(name for name, v in given.items() if v is not None)
        raise InvalidArgumentError(f"{first} cannot be given with --plan: the plan says it (edit the plan)")
    the_plan = None if plan is None else load_plan(plan)
    level = Level.parse(originality)
    check_outputs((_numbered(p, n, count) for p in output for n in range(1, count + 1)), force=force)
    key_for_signing = default_key() if sign_with is None else load_key(sign_with)
    conditions = Conditions(
        style=style,
        mood=mood,
        key=key,
        tempo=tempo,
        meter=meter,
        bars=bars,
        seconds=seconds,
        instruments=tuple(i for i in (instruments or "").split(",") if i.strip()),
    )
    if the_plan is not None:
        conditions = the_plan.conditions()
    composer = Composer.from_pretrained(model)
    composer.resolve(conditions)  # contradictory conditions are refused before anything is composed
    judge = None if rerank == 1 else _judge(critic, rerank)
    for number in range(1, count + 1):
        sampling = Sampling(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed + number - 1)
        with progress(f"composing {number} of {count}" if count > 1 else "composing") as update:
            piece = compose_piece(composer, conditions, sampling, level, key_for_signing, update, the_plan, judge)
        resolved = piece.resolved
        bars_in_file = bar_count(piece.score)  # as `cadenza info` and `analyze` count them
        for path in output:
            target = _numbered(path, number, count)
            piece.write(target, force=force)
            console.print(
                f"wrote {shown(target)} ({resolved.seconds:.1f} s, {bars_in_file} bars, {resolved.key}, "
                f"{resolved.tempo:g} bpm, {resolved.meter}, seed {sampling.seed}) "
                f"and {shown(sidecar_path(target).name)}"
            )
        if piece.report is not None:
            console.print(_originality_line(piece.report))
        for warning in piece.warnings if number == 1 else ():
            error_console.print(f"[yellow]warning:[/yellow] {shown(warning)}", highlight=False, soft_wrap=True)


MAX_RERANK = 16  # candidates: each is a whole piece composed


def _judge(critic: str, candidates: int) -> Judge:
    """The critic of a GAN model (shipped or a folder) that judges ``--rerank`` candidates."""
    from cadenza.compose import Composer
    from cadenza.compose.gan_composer import GanComposer
    from cadenza.compose.rerank import Judge

    judge = Composer.from_pretrained(critic)
    if not isinstance(judge, GanComposer):
        raise InvalidArgumentError(f"--critic {critic}: a GAN model is needed, this is a {judge.info.family} model")
    return Judge(judge.gan, judge.info.name, judge.info.weights_sha256, candidates)


def _originality_line(report: OriginalityReport) -> str:
    data = report.to_dict()
    repaired = len(data.get("repairs", []))
    verdict = "[red]still close to a training piece[/red]" if data["flagged"] else "original"
    return f"  originality: {verdict}; {data['share_found']:.0%} of its patterns occur in the training set" + (
        f"; {repaired} passage(s) composed again" if repaired else ""
    )


def _source_line(source: dict) -> str:
    """ "pop909 (MIT, 816)": a training source, its licence and, where the record has it, its pieces."""
    details = [str(source.get("licence", "licence unknown"))]
    if "pieces" in source:
        details.append(str(source["pieces"]))
    return f"{source.get('name', '?')} ({', '.join(details)})"


@app.command("models")
def list_models() -> None:
    """The models installed with cadenza."""
    from cadenza.models.registry import installed_models, locate
    from cadenza.provenance.index import INDEX_JSON

    default = locate("default").name if installed_models() else ""
    table = Table("name", "family", "weights", "sha256", "index", "trained on")
    for info in installed_models():
        sources = ", ".join(_source_line(s) for s in info.training.get("sources", []) if isinstance(s, dict))
        name = f"{info.name} (default)" if info.name == default else info.name
        indexed = "yes" if (info.folder / "index" / INDEX_JSON).exists() else "none (not checked)"
        size = f"{info.weights_bytes / 1e6:.1f} MB"
        table.add_row(shown(name), shown(info.family), size, info.weights_sha256[:16], indexed, shown(sources))
    console.print(table)


train_app = typer.Typer(help="Train models on a corpus built by `cadenza data build`.", no_args_is_help=True)
app.add_typer(train_app, name="train")


@train_app.command("markov")
def train_markov_command(
    data: Annotated[Path, typer.Option("--data", help="A corpus folder from `cadenza data build`.")],
    out: Annotated[Path, typer.Option("--out", help="The model folder to write.")],
    order: Annotated[int, typer.Option(help="Longest n-gram over all music pooled (context + next token).")] = 4,
    group_order: Annotated[int, typer.Option("--group-order", help="Longest n-gram per style and mode.")] = 8,
    min_pieces: Annotated[
        int, typer.Option("--min-pieces", help="Keep a long pattern only if this many pieces share it.")
    ] = 4,
    force: Force = False,
) -> None:
    """Fit the variable-order Markov model (seconds to minutes on a CPU)."""
    from cadenza.models.markov import MarkovConfig
    from cadenza.train.markov import train_markov

    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise OutputExistsError("exists already and is not an empty folder; pass --force to replace it", out)
    config = MarkovConfig(vocab_size=0, order=order, group_order=group_order, min_pieces=min_pieces)
    with console.status("counting n-grams"):
        folder = train_markov(data, out, config)
    size = (folder / "model.safetensors").stat().st_size
    console.print(f"wrote {shown(folder)} ({size / 1e6:.1f} MB of weights)")


evaluate_app = typer.Typer(help="Measure models on standard benchmarks.", no_args_is_help=True)
app.add_typer(evaluate_app, name="evaluate")


def _corpus_nll_command(family: str) -> None:
    """``cadenza evaluate markov|transformer``: the held-out NLL per style of
    :mod:`cadenza.train.evaluation`, the same tokens for either family."""

    @evaluate_app.command(
        family,
        help=f"Negative log-likelihood per token of a corpus split under a {family} model, per style "
        "(the first --tokens music tokens of up to --pieces pieces per style).",
    )
    def command(
        model: Annotated[str, typer.Option(help="An installed model or a model folder.")] = "default",
        data: Annotated[Path, typer.Option("--data", help="A corpus folder from `cadenza data build`.")] = Path("."),
        split: Annotated[str, typer.Option(help="train, valid or test.")] = "valid",
        pieces: Annotated[int, typer.Option(help="Pieces per style.")] = 30,
        tokens: Annotated[int, typer.Option(help="Music tokens scored per piece, from its start; 0: all.")] = 300,
    ) -> None:
        from cadenza.models.registry import ModelInfo, locate
        from cadenza.train import evaluation

        if split not in ("train", "valid", "test"):
            raise InvalidArgumentError(f"unknown split {split!r}; accepted: train, valid, test")
        if pieces < 1 or tokens < 0:
            raise InvalidArgumentError("--pieces must be at least 1 and --tokens at least 0")
        folder = locate(model)
        found = ModelInfo.read(folder).family
        if found != family:
            raise InvalidArgumentError(f"{model} is not a {family} model; try `cadenza evaluate {found}`")
        evaluate = evaluation.evaluate_markov if family == "markov" else evaluation.evaluate_transformer
        results = evaluate(folder, data, split, pieces_per_style=pieces, tokens_per_piece=tokens)
        scored = f"the first {tokens:,} music tokens" if tokens else "every music token"
        title = f"{shown(model)} on {shown(data)} ({split}): {scored} of up to {pieces} pieces per style"
        table = Table("style", "NLL (nats/token)", "tokens", title=title)
        for style, (nll, count) in results.items():
            table.add_row(shown(style), f"{nll:.3f}", f"{count:,}")
        console.print(table)


for _family in ("markov", "transformer"):
    _corpus_nll_command(_family)


def _register_plugins() -> None:
    """Commands that live beside the parts they drive (neural training, provenance)."""
    from cadenza import cli_neural

    cli_neural.register(train_app, evaluate_app)
    from cadenza import cli_provenance

    cli_provenance.register(app)
    from cadenza import cli_sketch

    cli_sketch.register(app)
    from cadenza import cli_soundtrack

    cli_soundtrack.register(app)
    from cadenza import cli_serve

    cli_serve.register(app)


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
    style: Annotated[
        list[str],
        typer.Option(
            "--style",
            help="NAME=STYLE, repeatable: label a source's pieces pop, chorale, folk, early or classical "
            "(a folder source without one is labelled 'other' and composed as the model's default style).",
        ),
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    transpose: Annotated[
        str, typer.Option("--transpose", help="Augment training pieces by these semitone shifts, e.g. -3..3 or -2,2.")
    ] = "",
    workers: Annotated[int, typer.Option("--workers", help="Processes (default: every core).")] = 0,
) -> None:
    """Parse, clean, label, split and tokenize sources into shards with a manifest."""
    from rich.progress import Progress

    from cadenza.data.build import build_corpus
    from cadenza.data.process import BuildOptions, parse_shifts
    from cadenza.data.sources import parse_source_spec

    licences = dict(_pair(item, "--licence") for item in licence)
    styles = dict(_pair(item, "--style") for item in style)
    specs = [parse_source_spec(item, licences, styles) for item in source]
    for name in sorted(set(styles) - {spec.name for spec in specs}):
        raise InvalidArgumentError(f"--style {name}={styles[name]}: no --source is named {name!r}")
    options = BuildOptions(transpositions=parse_shifts(transpose))
    with Progress(console=error_console, transient=True) as bar:
        task = bar.add_task("building", total=None)
        summary = build_corpus(
            specs,
            out,
            options=options,
            workers=workers or os.cpu_count() or 1,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    console.print(
        f"{summary.kept} pieces kept, {summary.dropped} dropped ({summary.from_cache} files from cache); "
        f"tokens: " + ", ".join(f"{k} {v:,}" for k, v in summary.tokens.items())
    )
    empty = [split for split, count in summary.tokens.items() if not count]
    if empty:  # each piece's split is drawn from its content hash: a few pieces may leave one empty
        console.print(
            f"note: no piece fell in the {' or '.join(empty)} split ({summary.kept} pieces kept, about 5% go to "
            "each); training works, but `cadenza evaluate` has nothing to score there: add pieces",
            highlight=False,
        )


def _pair(text: str, option: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise InvalidArgumentError(f"{option} {text!r}: expected NAME=VALUE")
    return name, value


@data_app.command("info")
def data_info(folder: Annotated[Path, typer.Argument(help="A folder made by `cadenza data build`.")]) -> None:
    """Counts per source, split and label, and total tokens, of a built corpus."""
    from cadenza.data.info import corpus_info
    from cadenza.data.sources import UNLABELLED

    info = corpus_info(folder)
    console.print(f"[bold]{shown(folder)}[/bold]: {info.kept} pieces kept of {info.pieces}")
    table = Table("what", "counts")
    table.add_row("source", _counts(info.by_source))
    table.add_row("split", _counts(info.by_split))
    table.add_row("licence", _counts(info.licences))
    for label, counter in info.labels.items():
        table.add_row(shown(label), _counts(counter, most=12))
    table.add_row("dropped", _counts(info.dropped_by_reason) or "none")
    table.add_row(
        "tokens", ", ".join(f"{k} {v:,}" for k, v in info.tokens.items()) + f" (total {sum(info.tokens.values()):,})"
    )
    console.print(table)
    if info.labels["style"].get(UNLABELLED):
        console.print(
            f"style {UNLABELLED}: pieces of a folder source built without --style NAME=STYLE; a model trained "
            "on them composes them as its default style (generate without --style)",
            highlight=False,
        )


def _counts(counter: Counter[str], most: int = 20) -> str:
    """Names from a manifest, as text: never read as markup."""
    return shown(", ".join(f"{k} {v}" for k, v in counter.most_common(most)))


_register_plugins()


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
