"""Commands of the neural families: ``cadenza train transformer``, ``cadenza train gan``, ``cadenza evaluate jsb16``
and ``cadenza evaluate jsb-frames``. :func:`register` adds them to the main CLI's sub-apps.

Settings come from the dataclass defaults, then ``--preset``, then a ``--config`` JSON
file (``{"model": {...}, "train": {...}}``; a trained model's ``training.json`` is one),
then ``--set section.name=value`` overrides, in that order. The preset ``auto`` (the
default) sizes the run for the machine: ``default`` on a CUDA GPU, ``cpu`` (the shipped
model's settings, under an hour on a laptop) without one.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from cadenza.cli_output import console, shown
from cadenza.data.process import parse_shifts
from cadenza.errors import InputFileError, InvalidArgumentError
from cadenza.models.folder import TRAINING, read_json, write_file

__all__ = ["register", "resolve_settings"]

TASKS = ("remi", "jsb16", "jsb-frames")
PRESETS = ("auto", "tiny", "cpu", "default")
_PRESET_SETTINGS: dict[str, dict[str, dict]] = {
    "tiny": {  # tests: seconds on a CPU
        "model": {"block_size": 128, "n_layer": 2, "n_head": 2, "d_model": 32, "dropout": 0.0},
        "train": {"batch_size": 4, "window": 64, "steps": 200, "eval_every": 50, "warmup": 10},
    },
    "cpu": {  # the shipped model's size: about a second per step on a laptop CPU
        "model": {"block_size": 512, "n_layer": 4, "n_head": 3, "d_model": 192, "dropout": 0.0},
        "train": {
            "batch_size": 16,
            "window": 512,
            "steps": 2000,
            "eval_every": 200,
            "warmup": 50,
            "lr": 5e-4,
            "min_lr": 5e-5,
            "start_share": 0.25,
        },
    },
    "default": {"model": {}, "train": {}},  # the dataclass defaults: a GPU's run
}


def machine_preset() -> str:
    """The preset ``auto`` stands for on this machine."""
    import torch

    return "default" if torch.cuda.is_available() else "cpu"


def resolve_settings(
    vocab_size: int, task: str, preset: str = "default", config: Path | None = None, overrides: list[str] | None = None
) -> tuple:
    """(TransformerConfig, TrainConfig) from defaults, a preset, a JSON file and overrides."""
    from cadenza.models.transformer import TransformerConfig
    from cadenza.train.trainer import TrainConfig

    if preset not in PRESETS:
        raise InvalidArgumentError(f"--preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    chosen = _PRESET_SETTINGS[machine_preset() if preset == "auto" else preset]
    sections: dict[str, dict] = {
        "model": {**TransformerConfig(vocab_size).to_dict(), **chosen["model"]},
        "train": {**TrainConfig().to_dict(), **chosen["train"]},
    }
    if config is not None:
        loaded = read_json(config, "JSON settings file")
        for name in ("model", "train"):
            section = loaded.get(name, {}) if isinstance(loaded, dict) else None
            if not isinstance(section, dict):
                raise InputFileError(f"is not a settings file ({name!r} must be a JSON object)", config)
            sections[name].update(section)
    for item in overrides or []:
        key, sep, text = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or section not in sections or name not in sections[section]:
            raise InvalidArgumentError(
                f"--set {item!r}: expected model.NAME=VALUE or train.NAME=VALUE with a known NAME"
            )
        try:
            sections[section][name] = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            sections[section][name] = text
    sections["model"].update(vocab_size=vocab_size, tokens=task)
    try:
        return TransformerConfig.from_dict(sections["model"]), TrainConfig.from_dict(sections["train"])
    except (TypeError, ValueError) as error:
        raise InvalidArgumentError(f"invalid settings: {error}") from None


def _remi_data(corpus: Path, out: Path, key_normalised: bool = False, valid_tokens: int = 0) -> tuple:
    """Training and validation sequences of a built corpus, the notes on its sources and
    the keys ``config.json`` holds for the composer.

    ``key_normalised``: every piece moved to C (major or minor), as the Markov model learns;
    the composer moves the result to the requested key. ``valid_tokens``: validate on an
    evenly spread subset of the validation pieces of about this many tokens (0: all).
    """
    from cadenza.data.info import read_manifest
    from cadenza.data.tokens import TOKENIZER_FILE, load_tokenizer
    from cadenza.train.datasets import Sequences, remi_sequences

    for needed in (TOKENIZER_FILE, "train.tokens.npy", "valid.tokens.npy", "manifest.jsonl"):
        if not (corpus / needed).exists():
            raise InputFileError(f"is not a built corpus (no {needed}); run `cadenza data build`", corpus)
    vocab_size = len(load_tokenizer(corpus).vocab)
    try:
        if key_normalised:
            train, valid = remi_sequences(corpus, "train"), remi_sequences(corpus, "valid", valid_tokens)
        else:
            train, valid = Sequences.from_shard(corpus, "train"), Sequences.from_shard(corpus, "valid")
            if valid_tokens:
                valid = remi_sequences(corpus, "valid", valid_tokens, key_normalised=False)
    except ValueError:
        raise InputFileError("has an empty training or validation split; add pieces", corpus) from None
    rows = read_manifest(corpus)
    from cadenza.data.shards import open_shard

    index = open_shard(corpus, "train").index
    sources: Counter = Counter()
    styles: Counter = Counter()
    for row_number in {int(r) for r in index[:, 2]}:
        row = rows[row_number]
        sources[(row["source"], row["licence"])] += 1
        styles[row["labels"]["style"]] += 1
    out.mkdir(parents=True, exist_ok=True)
    write_file(out / TOKENIZER_FILE, lambda path: shutil.copyfile(corpus / TOKENIZER_FILE, path))
    # pop, when the corpus has it: a full texture (melody, chords, bass) suits most uses
    default_style = "pop" if "pop" in styles else styles.most_common(1)[0][0]
    folder_config = {"key_normalised": key_normalised, "default_style": default_style}
    notes = {
        "corpus": str(corpus),
        "pieces": len(index),
        "key_normalised": key_normalised,
        "valid_tokens": valid_tokens or "all",
        "sources": [{"name": n, "licence": lic, "pieces": c} for (n, lic), c in sorted(sources.items())],
    }
    return vocab_size, train, valid, notes, folder_config


def _training_data(task: str, data: Path, out: Path, transpose: str, normalise_key: bool, valid_tokens: int) -> tuple:
    """(vocab size, training and validation sequences, notes for training.json, keys for
    config.json) of a corpus (``remi``) or a JSB file."""
    from cadenza.train.jsb import VOCAB_SIZE, jsb_sequences

    if task not in TASKS:
        raise InvalidArgumentError(f"--task must be one of {', '.join(TASKS)}, got {task!r}")
    if task != "remi" and (normalise_key or valid_tokens):
        raise InvalidArgumentError("--normalise-key and --valid-tokens are for --task remi")
    if task == "remi":
        if transpose:
            raise InvalidArgumentError("--transpose is for JSB; transpose a corpus when building it")
        return _remi_data(data, out, normalise_key, valid_tokens)
    shifts = parse_shifts(transpose)
    notes: dict = {"data": str(data), "task": task, "transpositions": shifts}
    notes["sources"] = [{"name": "jsb-chorales (train split)", "licence": "public domain", "pieces": 229}]
    train_data, valid_data = jsb_sequences(task, data, "train", shifts), jsb_sequences(task, data, "valid")
    return VOCAB_SIZE, train_data, valid_data, notes, {}


def _warm_start(model, folder: Path) -> dict:
    """Copy a trained model's weights into ``model``; returns that model's training record."""
    from cadenza.models.transformer import TransformerModel

    start = TransformerModel.load(folder)
    if start.config != model.config:
        raise InvalidArgumentError(f"--init {folder}: its model settings differ from this run's")
    model.load_state_dict(start.state_dict())
    record = folder / TRAINING
    earlier = read_json(record, "training.json") if record.exists() else {}
    if not isinstance(earlier, dict):
        raise InputFileError("is not a training record (not a JSON object)", record)
    return {"folder": str(folder), "result": earlier.get("result", {}), "init": earlier.get("init")}


def register(train_app: typer.Typer, evaluate_app: typer.Typer) -> None:
    """Add ``train transformer`` and ``evaluate jsb16`` / ``evaluate jsb-frames``."""

    @train_app.command("transformer")
    def train_transformer(
        data: Annotated[Path, typer.Option("--data", help="A built corpus folder, or a JSB .json for --task jsb*.")],
        out: Annotated[Path, typer.Option("--out", help="Model folder; a checkpoint there is resumed.")],
        task: Annotated[str, typer.Option("--task", help="remi (a corpus), jsb16 or jsb-frames.")] = "remi",
        config: Annotated[Path | None, typer.Option("--config", help="JSON: {model: {...}, train: {...}}.")] = None,
        preset: Annotated[
            str,
            typer.Option(
                "--preset",
                help="auto (cpu without a CUDA GPU, default with one), cpu (about an hour on a laptop), "
                "default (a GPU's run) or tiny (tests).",
            ),
        ] = "auto",
        set_: Annotated[list[str], typer.Option("--set", help="Override: model.n_layer=4, train.lr=3e-4.")] = [],  # noqa: B006
        transpose: Annotated[str, typer.Option("--transpose", help="JSB: shift training pieces, e.g. -5..6.")] = "",
        init: Annotated[
            Path | None, typer.Option("--init", help="Start from this model folder's weights (same settings).")
        ] = None,
        quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
        normalise_key: Annotated[
            bool, typer.Option("--normalise-key", help="remi: move every piece to C, as the Markov model does.")
        ] = False,
        valid_tokens: Annotated[
            int, typer.Option("--valid-tokens", help="remi: validate on about this many tokens (0: the whole split).")
        ] = 0,
    ) -> None:
        """Train a Transformer (one process, or many under torchrun)."""
        import torch

        from cadenza.models.transformer import TransformerModel
        from cadenza.train.distributed import setup, teardown
        from cadenza.train.tasks import NextTokenTask
        from cadenza.train.trainer import train

        prepared = _training_data(task, data, out, transpose, normalise_key, valid_tokens)
        vocab_size, train_data, valid_data, notes, folder_config = prepared
        model_config, train_config = resolve_settings(vocab_size, task, preset, config, set_)
        process = setup()
        torch.manual_seed(train_config.seed)  # the same initial weights in every process
        model = TransformerModel(model_config)
        if init is not None:
            notes["init"] = _warm_start(model, init)
        task_data = NextTokenTask.from_settings(train_data, valid_data, model_config.vocab_size, train_config)
        if process.main:
            chosen = f"{preset} ({machine_preset()})" if preset == "auto" else preset
            console.print(
                f"preset {chosen}: {model.num_parameters():,} parameters, {train_config.steps:,} steps; "
                f"{train_data.targets:,} training targets"
            )
        try:
            result = train(
                model,
                task_data,
                train_config,
                out,
                notes=notes,
                folder_config=folder_config,
                process=process,
                progress=not quiet,
            )
        finally:
            teardown()
        if result.stopped == "interrupted":
            if process.main:
                console.print(
                    f"interrupted at step {result.step}: checkpoint in {shown(out)}; run the same command to resume"
                )
            raise typer.Exit(130)
        if process.main:
            console.print(
                f"step {result.step} ({result.stopped}), best validation loss {result.best_valid:.4f}, "
                f"{result.seconds / 60:.1f} min; model in {shown(out)}"
            )

    @train_app.command("gan")
    def train_gan(
        data: Annotated[Path, typer.Option("--data", help="A folder of MIDI files, read recursively (POP909's root).")],
        out: Annotated[Path, typer.Option("--out", help="Model folder, with its checkpoint and log.jsonl.")],
        preset: Annotated[str, typer.Option("--preset", help="cpu (about 200 k parameters) or tiny (tests).")] = "cpu",
        steps: Annotated[int, typer.Option("--steps", help="Generator steps (0: the preset's).", min=0)] = 0,
        resume: Annotated[bool, typer.Option("--resume", help="Continue the checkpoint in --out.")] = False,
        licence: Annotated[
            str, typer.Option("--licence", help="The data's licence, for training.json and provenance records.")
        ] = "not stated",
        quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    ) -> None:
        """Train a GAN of multitrack piano-roll phrases (WGAN-GP; under torchrun, each
        process takes its share of every batch)."""
        import os

        from cadenza.train.gan import run

        overrides: dict[str, Any] = {"steps": steps} if steps else {}
        model, result, notes = run(data, out, preset, resume=resume, progress=not quiet, licence=licence, **overrides)
        if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 speaks for all
            return
        console.print(
            f"{notes['phrases']:,} phrases from {notes['sources'][0]['files']:,} files "
            f"({notes['sources'][0]['skipped']} unreadable, skipped); {model.num_parameters():,} parameters"
        )
        if result.stopped == "interrupted":
            console.print(f"interrupted at step {result.step}: checkpoint in {shown(out)}; add --resume to continue")
            raise typer.Exit(130)
        console.print(
            f"step {result.step} ({result.stopped}), critic's Wasserstein estimate {result.wasserstein:.4f}, "
            f"{result.seconds / 60:.1f} min; model in {shown(out)}"
        )

    def _evaluate(task: str, model_path: Path, data: Path, split: str) -> None:
        from cadenza.models.transformer import TransformerModel
        from cadenza.train.jsb import evaluate_jsb

        model = TransformerModel.load(model_path)
        score = evaluate_jsb(model, task, data, split)
        unit = "token" if task == "jsb16" else "frame"
        console.print(
            f"{task} {split}: {score.nll:.4f} nats per {unit} ({score.units:,} {unit}s, {score.pieces} pieces)"
        )

    @evaluate_app.command("jsb16")
    def evaluate_jsb16(
        model: Annotated[Path, typer.Option("--model", help="A transformer model folder trained with --task jsb16.")],
        data: Annotated[Path, typer.Option("--data", help="Jsb16thSeparated.json")],
        split: Annotated[str, typer.Option("--split", help="valid or test")] = "valid",
    ) -> None:
        """NLL in nats per token of 16th-note S A T B chorales (Coconet's protocol)."""
        _evaluate("jsb16", model, data, split)

    @evaluate_app.command("jsb-frames")
    def evaluate_frames(
        model: Annotated[
            Path, typer.Option("--model", help="A transformer model folder trained with --task jsb-frames.")
        ],
        data: Annotated[Path, typer.Option("--data", help="jsb-chorales-quarter.json")],
        split: Annotated[str, typer.Option("--split", help="valid or test")] = "test",
    ) -> None:
        """NLL in nats per quarter-note frame, an exact set likelihood (Boulanger-Lewandowski's protocol)."""
        _evaluate("jsb-frames", model, data, split)
