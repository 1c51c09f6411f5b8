"""Training the adversarial family (:mod:`cadenza.models.gan`): WGAN-GP.

Each generator step follows ``critic_steps`` critic steps. The critic minimises
``D(fake) - D(real) + gp * (|grad D(mix)| - 1)^2`` on random mixes of real and fake
phrases; the generator minimises ``-D(fake)``. Both with Adam (lr 1e-4, betas 0.5 and
0.9), as in Gulrajani et al. and MuseGAN.

The shared loop (:mod:`cadenza.train.trainer`) has one optimizer with its own schedule,
clipping and a validation loss; a GAN has two optimizers stepped in turn and no
validation loss, so the loop is here, and keeps the shared parts: the checkpoint file
(:mod:`cadenza.train.checkpoint`: safetensors, both optimizers in one, the random state),
exact resume (batches, latents and mixes are a pure function of ``(seed, step, critic
step)``), Ctrl-C stopping after the current step with a checkpoint, and many processes
under ``torchrun`` (:mod:`cadenza.train.distributed`).

**Many processes** split every batch: each draws the whole batch, its latents and its
mixes from the same seed, keeps its own rows, and the gradients are averaged over the
processes (``all_reduce``) before each optimizer step, which is what
DistributedDataParallel does; done by hand here because the gradient penalty's
second-order pass happens inside the critic's step, outside DDP's hooks. So two processes
train as one process with the same batch does (up to the order of float sums), and a
checkpoint of one resumes in the other. Only rank 0 writes.

The output folder is a model folder (``config.json`` + ``model.safetensors`` +
``training.json``, written at every checkpoint and at the end) with
``checkpoint.safetensors`` and ``log.jsonl``: one line per generator step with the
critic's Wasserstein estimate, ``D(real) - D(fake)`` (mean over the step's critic steps).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from cadenza.errors import CadenzaError, InvalidArgumentError
from cadenza.models.folder import TRAINING, write_json
from cadenza.models.gan import GanConfig, GanModel, as_channels, bar_chords, score_to_phrases
from cadenza.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from cadenza.train.distributed import Process, agree, all_sum, setup, teardown

__all__ = [
    "GanTrainConfig",
    "GanResult",
    "PRESETS",
    "CHECKPOINT",
    "LOG",
    "train_gan",
    "phrases_from_folder",
    "run",
]

CHECKPOINT = "checkpoint.safetensors"
LOG = "log.jsonl"


@dataclass(frozen=True)
class GanTrainConfig:
    steps: int = 2000  # generator steps
    batch_size: int = 16  # phrases per critic or generator step
    critic_steps: int = 5  # critic steps per generator step
    gp: float = 10.0  # weight of the gradient penalty
    lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.9
    transpose: int = 0  # phrases move by a random interval in -transpose..transpose semitones
    binary: bool = False  # the critic judges the generator's rolls binarised (straight-through gradient)
    checkpoint_every: int = 100  # generator steps
    max_minutes: float = 0.0  # stop (checkpointed) after this long; 0: no limit
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.steps, self.batch_size, self.critic_steps, self.checkpoint_every) < 1:
            raise InvalidArgumentError("steps, batch_size, critic_steps and checkpoint_every must be at least 1")
        if not (self.lr > 0 and self.gp >= 0 and 0 <= self.beta1 < 1 and 0 <= self.beta2 < 1 and self.transpose >= 0):
            raise InvalidArgumentError("lr must be above 0, gp and transpose at least 0, the betas in [0, 1)")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> GanTrainConfig:
        defaults = cls().to_dict()
        unknown = set(data) - set(defaults)
        if unknown:
            raise InvalidArgumentError(f"unknown gan training settings: {', '.join(sorted(unknown))}")
        for name, value in data.items():
            kind = type(defaults[name])
            if type(value) not in ((int, float) if kind is float else (kind,)):
                raise InvalidArgumentError(f"gan training setting {name} must be a {kind.__name__}, got {value!r}")
        return cls(**data)


PRESETS: dict[str, dict[str, dict]] = {
    "tiny": {  # tests: a few thousand parameters, seconds on a CPU
        "model": {"latent": 4, "width": 8, "critic_width": 4},
        "train": {"steps": 40, "batch_size": 8, "checkpoint_every": 10, "lr": 1e-2},  # fast, for a toy set
    },
    "cpu": {  # about 200 thousand parameters: what a CPU session can train
        "model": {"latent": 32, "width": 32, "critic_width": 16},
        "train": {"steps": 2000, "batch_size": 16, "checkpoint_every": 100, "transpose": 5, "binary": True},
    },
}


@dataclass(frozen=True)
class GanResult:
    step: int
    wasserstein: float  # the critic's estimate at the last step
    seconds: float
    stopped: str  # "steps", "time limit" or "interrupted"


# ------------------------------------------------------------------------ data
def phrases_from_folder(folder: Path, config: GanConfig) -> tuple[np.ndarray, int, int]:
    """(phrases, files read, files skipped) of every ``.mid`` / ``.midi`` file under
    ``folder`` (POP909's root, or any collection), read with :func:`cadenza.io.load_score`;
    a file that cannot be read is skipped and counted."""
    from cadenza.io import load_score

    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidArgumentError(f"--data {folder}: not a folder of MIDI files")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".mid", ".midi") and p.is_file())
    parts, skipped = [], 0
    for path in files:
        try:
            parts.append(score_to_phrases(load_score(path), config))
        except (CadenzaError, RuntimeError, ValueError):
            skipped += 1
    empty = np.zeros((0, config.tracks, config.bars, config.steps, config.pitches), np.uint8)
    phrases = np.concatenate(parts) if parts else empty
    return phrases, len(files) - skipped, skipped


def _transposed(batch: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    out = np.zeros_like(batch)
    for row, shift in enumerate(shifts.tolist()):
        if shift > 0:
            out[row, ..., shift:] = batch[row, ..., :-shift]
        elif shift < 0:
            out[row, ..., :shift] = batch[row, ..., -shift:]
        else:
            out[row] = batch[row]
    return out


@dataclass(frozen=True)
class _Draw:
    """What one process sees of a critic or generator step: its rows of the batch of real
    phrases, their chords, the given track, the latents and the mixing shares."""

    real: Tensor
    chords: Tensor | None
    given: Tensor | None
    latents: tuple[Tensor, Tensor]
    shares: Tensor


class _Draws:
    """The whole batch of a step (real phrases, transposed; latents; shares of the
    gradient penalty's mixes) is a pure function of ``(seed, step, part)``; each process
    keeps its own contiguous rows of it."""

    def __init__(self, phrases: np.ndarray, model: GanModel, config: GanTrainConfig, process: Process) -> None:
        if config.batch_size % process.world:
            raise InvalidArgumentError(
                f"batch_size {config.batch_size} does not split evenly over {process.world} processes"
            )
        self.phrases, self.model, self.config, self.process = phrases, model, config, process
        share = config.batch_size // process.world
        self.rows = slice(process.rank * share, (process.rank + 1) * share)

    def __call__(self, step: int, part: int) -> _Draw:
        config, gan, device, rows = self.config, self.model.config, self.process.device, self.rows
        rng = np.random.default_rng([config.seed, step, part])
        batch = self.phrases[rng.integers(len(self.phrases), size=config.batch_size)]
        if config.transpose:
            batch = _transposed(batch, rng.integers(-config.transpose, config.transpose + 1, size=config.batch_size))
        batch = batch[rows]
        real = as_channels(batch).to(device)
        chords = torch.from_numpy(bar_chords(batch)).to(device) if gan.chords else None
        given = real[:, gan.given_track] if gan.given_track >= 0 else None
        noise = torch.Generator().manual_seed(int(rng.integers(2**62)))
        shared, private = self.model.latents(config.batch_size, noise)
        shares = torch.rand(config.batch_size, generator=noise)[rows].to(device)
        return _Draw(real, chords, given, (shared[rows], private[rows]), shares)


# ------------------------------------------------------------------------ checkpoints
def _merged(first: dict, second: dict) -> dict:
    """Two optimizers' state_dicts as one (the second's parameters numbered after the first's)."""
    offset = sum(len(group["params"]) for group in first["param_groups"])
    state = {**first["state"], **{int(k) + offset: v for k, v in second["state"].items()}}
    groups = [*first["param_groups"]]
    groups += [{**g, "params": [int(i) + offset for i in g["params"]]} for g in second["param_groups"]]
    return {"state": state, "param_groups": groups}


def _split(merged: dict, groups: int) -> tuple[dict, dict]:
    first_groups, second_groups = merged["param_groups"][:groups], merged["param_groups"][groups:]
    offset = sum(len(group["params"]) for group in first_groups)
    first = {"state": {k: v for k, v in merged["state"].items() if int(k) < offset}, "param_groups": first_groups}
    second = {
        "state": {int(k) - offset: v for k, v in merged["state"].items() if int(k) >= offset},
        "param_groups": [{**g, "params": [int(i) - offset for i in g["params"]]} for g in second_groups],
    }
    return first, second


# ------------------------------------------------------------------------ the loop
def train_gan(
    model: GanModel,
    phrases: np.ndarray,
    config: GanTrainConfig,
    out: Path,
    *,
    notes: dict | None = None,
    folder_config: dict | None = None,
    progress: bool = False,
    on_step: Callable[[int], None] | None = None,
) -> GanResult:
    """Train ``model`` on ``phrases`` (:func:`~cadenza.models.gan.score_to_phrases`) into
    ``out``, resuming from its checkpoint. ``notes`` go into ``training.json`` (sources,
    licences), ``folder_config`` into ``config.json`` (``default_style``).
    ``on_step(step)`` is called after every generator step; a KeyboardInterrupt it raises
    keeps that step in a checkpoint, then propagates."""
    process = setup()
    result = _GanRun(model, phrases, config, Path(out), process, notes, folder_config).loop(
        progress and process.main, on_step
    )
    teardown()  # only after a run that ended together: a rank that failed leaves torchrun to stop the others
    return result


class _GanRun:
    def __init__(
        self,
        model: GanModel,
        phrases: np.ndarray,
        config: GanTrainConfig,
        out: Path,
        process: Process,
        notes: dict | None,
        folder_config: dict | None,
    ) -> None:
        gan = model.config
        if phrases.ndim != 5 or phrases.shape[1:] != (gan.tracks, gan.bars, gan.steps, gan.pitches):
            raise InvalidArgumentError(f"phrases of shape {phrases.shape} do not fit the model's {gan}")
        if not len(phrases):
            raise InvalidArgumentError("there is no phrase to train on (no file held a note in the roll's range)")
        self.model, self.config, self.out, self.process = model.to(process.device), config, out, process
        self.notes, self.folder_config = notes or {}, folder_config or {}
        betas = (config.beta1, config.beta2)
        self.g_opt = torch.optim.Adam(model.generator.parameters(), lr=config.lr, betas=betas)
        self.d_opt = torch.optim.Adam(model.critic.parameters(), lr=config.lr, betas=betas)
        self.draws = _Draws(phrases, model, config, process)
        self.step, self.wasserstein, self.seconds, self.samples, self.stopped = 0, 0.0, 0.0, 0, ""
        out.mkdir(parents=True, exist_ok=True)
        if (out / CHECKPOINT).exists():
            self._resume(load_checkpoint(out / CHECKPOINT))
        self._trim_log()
        self.started = time.perf_counter() - self.seconds

    def _resume(self, checkpoint: Checkpoint) -> None:
        saved = checkpoint.state
        budget = ("max_minutes", "steps", "checkpoint_every")  # how long to run, not what is computed
        current = {k: v for k, v in self.config.to_dict().items() if k not in budget}
        earlier = {k: v for k, v in saved["train_config"].items() if k not in budget}
        if saved["model_config"] != self.model.config.to_dict() or earlier != current:
            raise InvalidArgumentError(
                f"{self.out}: holds a checkpoint of another configuration; use another --out, or the same settings"
            )
        self.model.load_state_dict(checkpoint.model)
        g_state, d_state = _split(checkpoint.optimizer, len(self.g_opt.param_groups))
        self.g_opt.load_state_dict(g_state)
        self.d_opt.load_state_dict(d_state)
        self.step, self.wasserstein, self.seconds = saved["step"], saved["best"], saved["seconds"]
        self.samples = saved["tokens"]
        if checkpoint.rng_torch:
            torch.set_rng_state(checkpoint.rng_torch[0])

    def _trim_log(self) -> None:
        """``log.jsonl`` without the lines after the checkpoint (a fresh run: empty)."""
        path = self.out / LOG
        lines = path.read_text().splitlines() if self.step and path.exists() else []
        kept = [line for line in lines if _step_of(line) <= self.step]
        if self.process.main:
            path.write_text("".join(line + "\n" for line in kept))

    def _averaged(self, module: torch.nn.Module) -> None:
        """Every process's gradients of ``module`` replaced by their mean over the processes."""
        if self.process.world == 1:
            return
        for parameter in module.parameters():
            if parameter.grad is not None:
                torch.distributed.all_reduce(parameter.grad)
                parameter.grad /= self.process.world

    def _mean(self, value: float) -> float:
        return all_sum(value, self.process) / self.process.world

    def _fake(self, draw: _Draw) -> Tensor:
        """The generator's phrases as the critic sees them: probabilities, or with ``binary``
        the rolls a sample would keep (on above 0.5) with the probabilities' gradient, as
        BinaryMuseGAN's deterministic binary neurons: the critic then never sees a haze of
        half-on cells that no sample would play."""
        fake = self.model.generator(*draw.latents, draw.chords, draw.given)
        if not self.config.binary:
            return fake
        return (fake > 0.5).float() + fake - fake.detach()

    def _critic_step(self, step: int, part: int) -> float:
        draw = self.draws(step, part)
        real, chords = draw.real, draw.chords
        critic = self.model.critic
        with torch.no_grad():
            fake = self._fake(draw)
        d_real, d_fake = critic(real, chords).mean(), critic(fake, chords).mean()
        loss = d_fake - d_real
        if self.config.gp:
            shares = draw.shares.view(-1, *([1] * (real.dim() - 1)))
            mix = (shares * real + (1 - shares) * fake).requires_grad_(True)
            (grad,) = torch.autograd.grad(critic(mix, chords).sum(), mix, create_graph=True)
            loss = loss + self.config.gp * ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
        self.d_opt.zero_grad(set_to_none=True)
        loss.backward()
        self._averaged(critic)
        self.d_opt.step()
        self.samples += self.config.batch_size
        return self._mean(float((d_real - d_fake).detach()))

    def _generator_step(self, step: int) -> float:
        draw = self.draws(step, self.config.critic_steps)
        critic = self.model.critic
        critic.requires_grad_(False)
        try:
            loss = -critic(self._fake(draw), draw.chords).mean()
            self.g_opt.zero_grad(set_to_none=True)
            loss.backward()
            self._averaged(self.model.generator)
            self.g_opt.step()
        finally:
            critic.requires_grad_(True)
        self.samples += self.config.batch_size
        return self._mean(float(loss.detach()))

    def loop(self, progress: bool, on_step: Callable[[int], None] | None) -> GanResult:
        from cadenza.train.trainer import _StopRequest

        config = self.config
        self.model.train()
        with _StopRequest() as stop, _Progress(progress, config.steps, self.step) as bar:
            while self.step < config.steps and not self.stopped:
                estimates = [self._critic_step(self.step, part) for part in range(config.critic_steps)]
                g_loss = self._generator_step(self.step)
                self.step += 1
                self.wasserstein = float(np.mean(estimates))
                self._log(g_loss)
                if agree(stop.requested, self.process):
                    self.stopped = "interrupted"
                elif agree(bool(config.max_minutes) and self._seconds() > 60 * config.max_minutes, self.process):
                    self.stopped = "time limit"
                if self.stopped or self.step % config.checkpoint_every == 0 or self.step == config.steps:
                    self._save()
                bar.advance(self.step, self.wasserstein)
                self._call(on_step)
        return GanResult(self.step, self.wasserstein, self._seconds(), self.stopped or "steps")

    def _call(self, on_step: Callable[[int], None] | None) -> None:
        if on_step is None:
            return
        try:
            on_step(self.step)
        except KeyboardInterrupt:
            self.stopped = "interrupted"
            self._save()
            raise

    def _seconds(self) -> float:
        return time.perf_counter() - self.started

    def _log(self, g_loss: float) -> None:
        if not self.process.main:
            return
        row = {"step": self.step, "wasserstein": round(self.wasserstein, 6), "generator_loss": round(g_loss, 6)}
        with (self.out / LOG).open("a") as file:
            file.write(json.dumps({**row, "seconds": round(self._seconds(), 2)}) + "\n")

    def _save(self) -> None:
        """The checkpoint, then the model folder (its weights, config.json, training.json);
        rank 0 writes them (every process holds the same weights)."""
        from cadenza.train.trainer import _hardware

        self.seconds = self._seconds()
        if not self.process.main:
            return
        state = {
            "step": self.step,
            "best": self.wasserstein if math.isfinite(self.wasserstein) else 0.0,
            "bad_evals": 0,
            "seconds": self.seconds,
            "tokens": self.samples,
            "stopped": self.stopped,
            "model_config": self.model.config.to_dict(),
            "train_config": self.config.to_dict(),
        }
        optimizer = _merged(self.g_opt.state_dict(), self.d_opt.state_dict())
        save_checkpoint(
            self.out / CHECKPOINT, Checkpoint(self.model.state_dict(), optimizer, [torch.get_rng_state()], [], state)
        )
        summary = {
            "step": self.step,
            "wasserstein": round(self.wasserstein, 6),
            "training_seconds": round(self.seconds, 1),
            "samples_seen": self.samples,
            "hardware": _hardware(self.process),
            "torch": torch.__version__,
        }
        self.model.save(self.out, extra={"default_style": "pop", **self.folder_config, "training": summary})
        training = {
            **self.notes,
            "model": self.model.config.to_dict(),
            "train": self.config.to_dict(),
            "result": summary,
        }
        write_json(self.out / TRAINING, training)


def _step_of(line: str) -> float:
    """The step of a line of ``log.jsonl``; a torn or foreign line sorts after every step."""
    try:
        step = json.loads(line)["step"]
    except (ValueError, TypeError, KeyError, RecursionError):
        return math.inf
    return step if isinstance(step, int) else math.inf


class _Progress:
    """A rich progress bar with the critic's estimate, or nothing."""

    def __init__(self, enabled: bool, total: int, done: int) -> None:
        self.progress: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
            self.progress = Progress(*columns, console=Console(stderr=True))
            self.task = self.progress.add_task("training", total=total, completed=done)

    def __enter__(self) -> _Progress:
        if self.progress is not None:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def advance(self, step: int, wasserstein: float) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=step, description=f"critic W {wasserstein:.3f}")


# ------------------------------------------------------------------------ a run
def run(
    data: Path,
    out: Path,
    preset: str = "cpu",
    *,
    resume: bool = False,
    progress: bool = True,
    licence: str = "not stated",
    model_overrides: dict | None = None,
    **train_overrides: Any,
) -> tuple[GanModel, GanResult, dict]:
    """Read the MIDI files under ``data``, train a gan of ``preset`` size into ``out`` and
    return the model, the result and the notes of ``training.json`` (``licence``: the
    data's, as its source states it, for the provenance record). A checkpoint in
    ``out`` is resumed only with ``resume`` (else refused); ``resume`` without one is refused."""
    if preset not in PRESETS:
        raise InvalidArgumentError(f"--preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    has_checkpoint = (Path(out) / CHECKPOINT).exists()
    if has_checkpoint and not resume:
        raise InvalidArgumentError(f"{out} holds a checkpoint: add --resume to continue it, or give another --out")
    if resume and not has_checkpoint:
        raise InvalidArgumentError(f"--resume: {out} holds no checkpoint ({CHECKPOINT})")
    settings = PRESETS[preset]
    try:
        gan = GanConfig(**{**settings["model"], **(model_overrides or {})})
    except (TypeError, ValueError) as error:
        raise InvalidArgumentError(f"invalid gan model settings: {error}") from None
    config = GanTrainConfig.from_dict({**settings["train"], **train_overrides})
    phrases, read, skipped = phrases_from_folder(Path(data), gan)
    if not len(phrases):
        raise InvalidArgumentError(
            f"--data {data}: no phrase to train on ({read} MIDI files read, {skipped} unreadable; "
            f"none held a note in MIDI {gan.low}..{gan.low + gan.pitches - 1})"
        )
    torch.manual_seed(config.seed)
    model = GanModel(gan)
    notes = {
        "sources": [
            {"name": Path(data).name, "path": str(data), "licence": licence, "files": read, "skipped": skipped}
        ],
        "phrases": len(phrases),
        "task": "WGAN-GP on multitrack piano-roll phrases (cadenza.train.gan)",
    }
    result = train_gan(model, phrases, config, Path(out), notes=notes, progress=progress)
    return model, result, notes


def main(argv: Sequence[str] | None = None) -> None:  # pragma: no cover - a thin wrapper
    """``python -m cadenza.train.gan --data DIR --out DIR [--preset cpu] [--steps N] [--resume]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m cadenza.train.gan", description=main.__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--steps", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    try:
        _, result, _ = run(
            args.data, args.out, args.preset, resume=args.resume, **({"steps": args.steps} if args.steps else {})
        )
    except CadenzaError as error:
        parser.exit(2, f"error: {error}\n")
    print(f"step {result.step} ({result.stopped}), critic W {result.wasserstein:.4f}, {result.seconds:.0f} s")


if __name__ == "__main__":  # pragma: no cover
    main()
