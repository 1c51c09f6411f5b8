"""Commands of ``cadenza.provenance``: ``originality``, ``index``, ``keys`` and ``verify``.

Mounted on the main app by :func:`register`; thin like the rest of the CLI: parse,
call the API, format the answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cadenza.cli_output import console, error_console, print_json, shown
from cadenza.errors import InvalidArgumentError

__all__ = ["register", "load_index"]

keys_app = typer.Typer(help="Signing keys for provenance records.", no_args_is_help=True)


def load_index(index: Path | None, model: str = "default"):  # -> Index
    """The index given, else the one shipped with ``model``; a clear error without one."""
    from cadenza.provenance.index import Index
    from cadenza.provenance.repair import model_index

    if index is not None:
        return Index.load(index)
    from cadenza.models.registry import locate

    found = model_index(locate(model))
    if found is None:
        raise InvalidArgumentError(
            f"model {model!r} ships no originality index; pass --index DIR (see `cadenza index`)"
        )
    return found


def _bars(span: tuple[int, int] | list[int]) -> str:
    return f"bar {span[0]}" if span[0] == span[1] else f"bars {span[0]}-{span[1]}"


def originality(
    path: Annotated[Path, typer.Argument(help="A music file to check.")],
    index: Annotated[Path | None, typer.Option("--index", help="An index folder (default: the model's).")] = None,
    model: Annotated[str, typer.Option(help="Use the index shipped with this model.")] = "default",
    level: Annotated[str, typer.Option(help="STRICT, NORMAL or OFF: how short a copy is flagged.")] = "NORMAL",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    piece: Annotated[int, typer.Option("--piece", help="Which piece of a file that holds several.")] = 0,
) -> None:
    """How much of a piece is found in the training set, and how that compares with
    what the training pieces share with one another.

    Exit code: 0 not flagged, 1 FLAGGED (close to a training piece), 2 could not check.
    """
    from cadenza.io import load_score
    from cadenza.provenance.report import originality_report

    report = originality_report(load_score(path, index=piece), load_index(index, model), level)
    if as_json:
        print_json({"file": str(path), **report.to_dict()})
    else:
        _print_report(path, report)
    if report.flagged:
        raise typer.Exit(1)


def _print_report(path: Path, report) -> None:
    base = report.human_baseline
    verdict = "[red]FLAGGED[/red]" if report.flagged else "[green]not flagged[/green]"
    console.print(f"[bold]{shown(path)}[/bold]: {verdict} at {report.level}")
    share_pct = base.get("share_found_percentile")
    context = ""
    if share_pct is not None and base.get("share_found"):
        median = base["share_found"].get("p50", 0)
        context = f" (human pieces of the corpus: median {median:.0%}; this piece is above {share_pct:.0f}% of them)"
    console.print(f"fingerprints found in the training set: {report.share_found:.0%} of {report.fingerprints}{context}")
    shared = report.longest_shared
    if shared is None:
        console.print("longest shared passage: none")
    else:
        console.print(
            f"longest shared passage: {shared.notes} notes ({shared.identical} identical), {_bars(shared.bars)} of the "
            f"{shared.line}, = {_bars(shared.training_bars)} of {shown(shared.id)} "
            f"({shown(shared.source)}, {shown(shared.licence)})"
        )
    table = Table("training piece", "source", "licence", "shared notes", "bits", "path")
    for near in report.nearest:
        table.add_row(
            shown(near["id"]),
            shown(near["source"]),
            shown(near["licence"]),
            str(near["shared_notes"]),
            f"{near['bits']:.0f}",
            shown(near["path"]),
        )
    if report.nearest:
        console.print(table)
    for copy in report.copies:
        console.print(
            f"[red]copy[/red]: {_bars(copy.bars)} ({copy.line}) = {_bars(copy.training_bars)} of {shown(copy.id)}: "
            f"{copy.identical} notes identical, {copy.bits:.0f} bits"
        )


def index_command(
    data: Annotated[Path, typer.Option("--data", help="A corpus folder from `cadenza data build`.")],
    out: Annotated[Path, typer.Option("--out", help="The index folder (updated incrementally).")],
    workers: Annotated[int, typer.Option("--workers", help="Processes reading files.")] = 1,
    baseline: Annotated[int, typer.Option("--baseline", help="Pieces sampled for the human baseline.")] = 300,
) -> None:
    """Build or update the originality index of a corpus (to ship in a model's index/)."""
    from cadenza.provenance.build import index_corpus

    with console.status("indexing"):
        summary = index_corpus(data, out, workers=workers, baseline_sample=baseline)
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    console.print(
        f"indexed {summary.pieces} pieces ({summary.reused} unchanged, {summary.read} read, "
        f"{summary.failed} unreadable), {summary.notes:,} notes; {shown(out)} is {size / 1e6:.1f} MB"
    )


@keys_app.command("new")
def keys_new(
    name: Annotated[str, typer.Option(help="The key's name.")] = "default",
    signer: Annotated[str | None, typer.Option(help='Who signs, e.g. "Ada <ada@example.org>".')] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a key of that name.")] = False,
) -> None:
    """Make an ed25519 key pair for signing provenance records."""
    from cadenza.provenance.keys import keys_dir, new_key

    key = new_key(name, signer, force=force)
    console.print(f"key {shown(key.name)} for {shown(key.signer)}, id {key.key_id}, in {shown(keys_dir())}")


@keys_app.command("list")
def keys_list() -> None:
    """The public keys this machine knows (its own and any put in the keys folder)."""
    from cadenza.provenance.keys import keys_dir, known_keys

    table = Table("key id", "signer")
    for key_id, signer in known_keys().items():
        table.add_row(key_id, shown(signer))
    console.print(shown(keys_dir()))
    console.print(table)


def _identity(result) -> str:  # a Verification whose signature holds
    claimed = shown(result.signer)
    if result.known_key:
        also = "" if result.known_signer == result.signer else f"; the record names the signer {claimed}"
        return f"signed by {shown(result.known_signer)} (key {result.key_id}, a key this machine knows{also})"
    unknown = f"signed with key {result.key_id}, which this machine does not know"
    return f"{unknown} (the record names the signer {claimed}, unconfirmed)"


def verify(
    path: Annotated[Path, typer.Argument(help="A file written by `cadenza generate`.")],
    as_json: Annotated[bool, typer.Option("--json", help="The findings as JSON.")] = False,
) -> None:
    """Whether a file's music and its provenance record are intact, and who signed them.

    Exit code 0: intact; 1: not intact; 2: could not check (no file, no record, or an unreadable one)."""
    import os
    from dataclasses import asdict

    from cadenza.errors import CadenzaError
    from cadenza.provenance.signing import verify_file

    try:
        result = verify_file(path)
    except CadenzaError as error:
        error_console.print(f"[red]could not check[/red]: {shown(error)}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except Exception as error:  # a bug of ours is not a verdict on the file
        if os.environ.get("CADENZA_DEBUG"):
            raise
        error_console.print(
            f"[red]could not check[/red]: {shown(path)}: internal error {type(error).__name__} "
            "(set CADENZA_DEBUG=1 for details and please report it)",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2) from None
    if as_json:
        print_json({**asdict(result), "intact": result.intact})
    else:
        for warning in result.warnings:
            error_console.print(f"[yellow]warning[/yellow]: {shown(warning)}", highlight=False, soft_wrap=True)
        if result.intact:
            line = f"[green]intact[/green]: {shown(path)}: music and record {_identity(result)}"
            console.print(line, highlight=False, soft_wrap=True)
        else:
            problems = "; ".join(shown(p) for p in result.problems)
            console.print(f"[red]NOT intact[/red]: {shown(path)}: {problems}", highlight=False, soft_wrap=True)
    if not result.intact:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``originality``, ``index``, ``keys new|list`` and ``verify`` to ``app``."""
    app.command("originality")(originality)
    app.command("index")(index_command)
    app.add_typer(keys_app, name="keys")
    app.command("verify")(verify)
