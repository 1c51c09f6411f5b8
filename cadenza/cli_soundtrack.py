"""Music for a picture: ``cadenza soundtrack CUE.yaml -o DIR`` and ``cadenza generate``'s
``--prompt``, ``--loop``, ``--stems`` and ``--mood A-to-B``.

Both resolve to a :class:`~cadenza.compose.cue.Cue` (a cue sheet, or what a prompt and
the options say), print the plan back, and compose it through
:func:`cadenza.compose.pipeline.compose_soundtrack` with a multitrack model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cadenza.cli_output import console, error_console, progress, shown
from cadenza.compose.cue_options import cue_from_options, uses_cue
from cadenza.errors import InputFileError, InvalidArgumentError

if TYPE_CHECKING:
    from cadenza.compose import Sampling
    from cadenza.compose.cue import Cue
    from cadenza.compose.delivery import Targets
    from cadenza.compose.prompt import PromptReading

__all__ = ["register", "generate_cue", "cue_from_options", "uses_cue"]

CUE_MODEL = "cadenza-multitrack"
MAX_CUE_BYTES = 200_000  # a cue sheet of 1,000 bars with an intensity each is about 7 KB


def _cue(data: object, path: Path | None = None) -> Cue:
    from cadenza.compose.cue import read_cue

    try:
        return read_cue(data)
    except InvalidArgumentError as error:
        if path is None:
            raise
        raise InputFileError(error.reason, path) from None


def cue_summary(cue: Cue) -> dict[str, Any]:
    """The cue as it will be composed, as plain data (``--dry-run --json``'s ``plan``)."""
    return {
        "title": cue.title,
        "seconds": round(cue.seconds, 6),
        "bars": cue.bars,
        "meter": cue.meter,
        "style": cue.style,
        "loop": cue.loop,
        "layers": [
            {"name": layer.name, "instrument": layer.instrument, "enters_at": layer.enters_at} for layer in cue.layers
        ],
        "sections": [
            {
                "name": s.name,
                "start": round(s.start, 6),
                "seconds": round(s.seconds, 6),
                "bars": s.bars,
                "key": s.key,
                "tempo": s.tempo,
                "mood": s.mood,
                "intensity": list(s.intensity),
            }
            for s in cue.sections
        ],
        "hits": [
            {"at": hit.seconds, "kind": hit.kind, "name": hit.name, "bar": int(q // cue.bar_quarters)}
            for hit, q in zip(cue.hits, cue.hit_quarters, strict=True)
        ],
    }


def plan_json(cue: Cue, reading: PromptReading | None, cue_data: dict[str, Any]) -> dict[str, Any]:
    """``--dry-run --json``: the plan as it will be composed (the fields the issue names,
    ``sections`` null when the request names none), what the prompt said (null where it
    said nothing), the words it did not use, and the plan in full."""
    from cadenza.compose.cue import MOOD_POINTS

    first = cue.sections[0]
    said = reading.to_dict() if reading is not None else None
    valence = said.get("valence") if said else None
    arousal = said.get("arousal") if said else None
    if valence is None and arousal is None and first.mood is not None:
        valence, arousal = MOOD_POINTS[first.mood]
    named = "sections" in cue_data and len(cue_data["sections"]) > 1
    summary = cue_summary(cue)
    return {
        "tempo": first.tempo,
        "seconds": round(cue.seconds, 6),
        "bars": cue.bars,
        "key": first.key,
        "meter": cue.meter,
        "instruments": sorted({layer.instrument for layer in cue.layers}),
        "exclude_instruments": list(cue_data.get("exclude_instruments", [])),
        "loop": cue.loop,
        "style": cue.style,
        "valence": valence,
        "arousal": arousal,
        "intensity": cue.intensity,
        "sections": summary["sections"] if named else None,
        "unused": list(reading.unused) if reading is not None else [],
        "prompt": said,
        "plan": summary,
    }


def _clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:06.3f}".rstrip("0").rstrip(".")


def plan_lines(cue: Cue) -> list[str]:
    """The plan printed back before composing."""
    layers = ", ".join(f"{layer.name} ({layer.instrument}, from {layer.enters_at:g})" for layer in cue.layers)
    lines = [
        f"plan: {cue.seconds:g} s, {cue.bars} bar{'s' * (cue.bars != 1)} of {cue.meter}, {cue.style}"
        + (", a seamless loop" if cue.loop else ""),
        f"  layers: {layers}",
    ]
    for s in cue.sections:
        low, high = min(s.intensity), max(s.intensity)
        first, last = s.intensity[0], s.intensity[-1]
        shape = f"{first:.2f}" if low == high else f"{first:.2f} -> {last:.2f} ({low:.2f}..{high:.2f})"
        lines.append(
            f"  {s.name}: {_clock(s.start)}-{_clock(s.end)}, {s.bars} bar{'s' * (s.bars != 1)}, {s.key}, "
            f"{s.tempo:g} bpm{', ' + s.mood if s.mood else ''}, intensity {shape}"
        )
    for hit, quarter in zip(cue.hits, cue.hit_quarters, strict=True):
        lines.append(
            f"  {hit.kind} at {hit.seconds:g} s (bar {int(quarter // cue.bar_quarters) + 1}) {hit.name}".rstrip()
        )
    return lines


def _sampling(options: dict[str, Any]) -> Sampling:
    """The sampling settings of the options (checked: an impossible one is refused before any plan is shown)."""
    from cadenza.compose import Sampling

    return Sampling(
        temperature=options.get("temperature", 1.0),
        top_k=options.get("top_k", 0),
        top_p=options.get("top_p", 0.95),
        seed=options.get("seed", 0),
    )


def _compose_and_write(cue: Cue, targets: Targets, options: dict[str, Any]) -> None:
    from cadenza.compose import Composer
    from cadenza.compose.delivery import check_targets
    from cadenza.compose.pipeline import compose_soundtrack
    from cadenza.provenance.report import Level
    from cadenza.provenance.signing import default_key, load_key

    level = Level.parse(options.get("originality", "NORMAL"))
    check_targets(targets, [layer.name for layer in cue.layers], force=options.get("force", False))
    key = default_key() if options.get("sign_with") is None else load_key(options["sign_with"])
    model = options.get("model") or CUE_MODEL
    composer = Composer.from_pretrained(CUE_MODEL if model == "default" else model)
    sampling = _sampling(options)
    with progress("composing") as update:
        piece = compose_soundtrack(composer, cue, sampling, level, key, update, options.get("asked"))
    with progress("rendering"):
        written = piece.write(targets, force=options.get("force", False))
    for path in written:
        console.print(f"wrote {shown(path)}", highlight=False, soft_wrap=True)
    if piece.report is not None:
        data = piece.report.to_dict()
        verdict = "[red]still close to a training piece[/red]" if data["flagged"] else "original"
        console.print(f"  originality: {verdict}; {data['share_found']:.0%} of its patterns occur in the training set")
    for warning in piece.warnings:
        error_console.print(f"[yellow]warning:[/yellow] {shown(warning)}", highlight=False, soft_wrap=True)


def generate_cue(outputs: list[Path], options: dict[str, Any]) -> None:
    """``cadenza generate`` with a prompt, a loop, stems or a mood that changes."""
    from cadenza.compose.delivery import output_targets
    from cadenza.io import format_of
    from cadenza.io.formats import WRITABLE

    if not outputs and not options.get("dry_run"):
        raise InvalidArgumentError("give an output with -o (OUT.wav, OUT.mid ...), or --dry-run for the plan only")
    if options.get("as_json") and not options.get("dry_run"):
        raise InvalidArgumentError("--json goes with --dry-run")
    for path in outputs:
        format_of(path, WRITABLE)  # a folder, "." or a name without a known extension is refused here
    _sampling(options)
    reading = None
    if options.get("prompt") is not None:
        from cadenza.compose.prompt import read_prompt

        reading = read_prompt(options["prompt"])
    cue_data = cue_from_options(reading, options)
    cue = _cue(cue_data)
    if options.get("dry_run") and options.get("as_json"):
        print(json.dumps(plan_json(cue, reading, cue_data), indent=2, ensure_ascii=False))
        return
    for line in reading.describe() if reading is not None else []:
        if line.startswith("words not used"):
            continue  # said once, as a warning, below
        console.print(f"prompt: {shown(line)}", highlight=False, soft_wrap=True)
    if reading is not None and reading.unused:
        error_console.print(
            f"[yellow]warning:[/yellow] words not used: {shown(', '.join(reading.unused))}",
            highlight=False,
            soft_wrap=True,
        )
    for line in plan_lines(cue):
        console.print(shown(line), highlight=False, soft_wrap=True)
    if options.get("dry_run"):
        return
    asked = {"prompt": options.get("prompt"), "cue sheet": cue_data}
    _compose_and_write(cue, output_targets(outputs, cue.stems), {**options, "asked": asked})


def register(app: typer.Typer) -> None:
    @app.command()
    def soundtrack(
        cue_sheet: Annotated[Path, typer.Argument(help="A cue sheet (.yaml, .yml or .json): sections, hits, layers.")],
        output: Annotated[Path, typer.Option("-o", "--output", help="The folder to write into (made if missing).")],
        stems: Annotated[bool, typer.Option("--stems", help="Also one WAV per layer, summing to the mix.")] = False,
        model: Annotated[str, typer.Option(help="A multitrack model or a model folder.")] = CUE_MODEL,
        seed: Annotated[int, typer.Option(help="The same seed and cue sheet give the same music.", min=0)] = 0,
        temperature: Annotated[float, typer.Option(help="Above 1: bolder; below 1: safer.", min=0.01)] = 1.0,
        top_p: Annotated[
            float, typer.Option("--top-p", help="Sample from the smallest set with this probability.")
        ] = 0.95,
        originality: Annotated[str, typer.Option(help="STRICT, NORMAL or OFF.")] = "NORMAL",
        sign_with: Annotated[str | None, typer.Option("--sign-with", help="Sign the records with this key.")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan only.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="With --dry-run: the plan as JSON.")] = False,
        force: Annotated[bool, typer.Option("--force", help="Overwrite files that exist.")] = False,
    ) -> None:
        """Compose a cue sheet: sections, hit points, tempo changes, layers; exactly its length.

        Writes DIR/mix.wav, DIR/cue.mid, DIR/cue.json (the cue sheet a game engine reads) and,
        with --stems, DIR/stems/LAYER.wav, each with its signed provenance record."""
        from cadenza.compose.delivery import folder_targets
        from cadenza.io.documents import read_document

        if as_json and not dry_run:
            raise InvalidArgumentError("--json goes with --dry-run")
        options = {
            "model": model, "seed": seed, "temperature": temperature, "top_p": top_p,
            "originality": originality, "sign_with": sign_with, "force": force,
        }  # fmt: skip
        _sampling(options)
        sheet = read_document(cue_sheet, "cue sheet", MAX_CUE_BYTES)
        cue = _cue(sheet, cue_sheet)
        if dry_run:
            if as_json:
                print(json.dumps(cue_summary(cue), indent=2, ensure_ascii=False))
            else:
                for line in plan_lines(cue):
                    console.print(shown(line), highlight=False, soft_wrap=True)
            return
        for line in plan_lines(cue):
            console.print(shown(line), highlight=False, soft_wrap=True)
        targets = folder_targets(output, stems or cue.stems)
        if any(p.resolve() == cue_sheet.resolve() for p in targets.all([layer.name for layer in cue.layers])):
            raise InvalidArgumentError(f"{cue_sheet} would be overwritten by the output; write into another folder")
        _compose_and_write(cue, targets, {**options, "asked": {"cue sheet": sheet}})
