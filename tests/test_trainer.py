"""The trainer: schedule, checkpoints, exact resume after a kill, early stopping, and
two gloo processes under torchrun matching one process with the same global batch."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from cadenza.errors import InvalidArgumentError
from cadenza.models.transformer import TransformerConfig, TransformerModel
from cadenza.train.checkpoint import load_checkpoint
from cadenza.train.datasets import Sequences
from cadenza.train.tasks import NextTokenTask
from cadenza.train.trainer import CHECKPOINT, LOG, TrainConfig, TrainResult, learning_rate, train

APP = """
import typer
from cadenza.cli_neural import register
app, train_app, evaluate_app = typer.Typer(), typer.Typer(), typer.Typer()
app.add_typer(train_app, name="train")
app.add_typer(evaluate_app, name="evaluate")
register(train_app, evaluate_app)
app()
"""


def _sequences(count: int, seed: int) -> Sequences:
    """Short sequences with a pattern to learn: BOS (39), then a rising scale with repeats."""
    rng = np.random.default_rng(seed)
    sequences = []
    for _ in range(count):
        start, length = rng.integers(0, 20), rng.integers(20, 60)
        sequences.append(np.array([39, *((start + np.arange(length) // 2) % 36)]))
    return Sequences(sequences)


def _model(dropout: float = 0.1) -> TransformerModel:
    torch.manual_seed(0)
    return TransformerModel(TransformerConfig.tiny(40, block_size=32, dropout=dropout))


def _train(
    model: TransformerModel, data: Sequences, valid: Sequences, config: TrainConfig, out: Path, **kw
) -> TrainResult:
    task = NextTokenTask.from_settings(data, valid, model.config.vocab_size, config)
    return train(model, task, config, out, progress=False, **kw)


def _rows(folder: Path) -> list[dict]:
    with (folder / LOG).open(newline="") as file:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(file)]


CONFIG = TrainConfig(steps=12, batch_size=4, micro_batch=2, window=32, warmup=3, eval_every=4, checkpoint_every=3)


def test_a_share_of_windows_begins_where_the_condition_tokens_are() -> None:
    long = Sequences([np.arange(5000) % 40 for _ in range(8)])
    uniform = long.draw(seed=0, step=0, count=400, window=64)
    assert sum(w.start == 0 for w in uniform) <= 2
    some = long.draw(seed=0, step=0, count=400, window=64, start_share=0.25)
    assert 70 < sum(w.start == 0 for w in some) < 130
    assert some == long.draw(seed=0, step=0, count=400, window=64, start_share=0.25)  # a function of (seed, step)
    assert all(w.start == 0 for w in long.draw(seed=0, step=1, count=50, window=64, start_share=1.0))


def test_learning_rate_warms_up_then_follows_a_cosine() -> None:
    config = TrainConfig(steps=1000, warmup=100, lr=1e-3, min_lr=1e-4)
    assert learning_rate(config, 0) == pytest.approx(1e-5)
    assert learning_rate(config, 99) == pytest.approx(1e-3)
    assert learning_rate(config, 550) == pytest.approx(5.5e-4)
    assert learning_rate(config, 1000) == pytest.approx(1e-4)


class _Killed(BaseException):
    """A kill the process cannot answer (SIGKILL, a power cut): no checkpoint is written."""


@pytest.mark.parametrize(("stop", "checkpoint_step"), [(_Killed, 6), (KeyboardInterrupt, 7)])
def test_resume_after_a_kill_or_ctrl_c_continues_the_run_exactly(
    tmp_path: Path, stop: type[BaseException], checkpoint_step: int
) -> None:
    """A kill at step 7 resumes from the checkpoint of step 6 (mid-interval); Ctrl-C writes
    one of step 7 itself. Either way the resumed run is the uninterrupted one."""
    train_data, valid_data = _sequences(20, 1), _sequences(5, 2)
    whole = _train(_model(), train_data, valid_data, CONFIG, tmp_path / "whole")

    def stop_at_step_7(step: int) -> None:
        if step == 7:
            raise stop

    with pytest.raises(stop):
        _train(_model(), train_data, valid_data, CONFIG, tmp_path / "cut", on_step=stop_at_step_7)
    assert load_checkpoint(tmp_path / "cut" / CHECKPOINT).state["step"] == checkpoint_step
    fresh = TransformerModel(TransformerConfig.tiny(40, block_size=32, dropout=0.1))  # other weights: all replaced
    resumed = _train(fresh, train_data, valid_data, CONFIG, tmp_path / "cut")

    assert resumed.step == whole.step == 12
    assert resumed.best_valid == whole.best_valid
    assert _rows(tmp_path / "cut") == _rows(tmp_path / "whole")  # step 7 once, as before
    a, b = load_checkpoint(tmp_path / "whole" / CHECKPOINT), load_checkpoint(tmp_path / "cut" / CHECKPOINT)
    for name, tensor in a.model.items():
        assert torch.equal(tensor, b.model[name]), name
    for param, values in a.optimizer["state"].items():
        for key, value in values.items():
            assert torch.equal(value, b.optimizer["state"][param][key]), (param, key)
    assert torch.equal(a.rng_torch[0], b.rng_torch[0])
    assert torch.equal(TransformerModel.load(tmp_path / "whole").embed.weight, fresh.embed.weight)


def test_a_checkpoint_of_other_settings_is_not_resumed(tmp_path: Path) -> None:
    data = _sequences(10, 1)
    _train(_model(), data, data, TrainConfig(steps=2, batch_size=2, window=32, eval_every=2), tmp_path)
    with pytest.raises(InvalidArgumentError, match="another configuration"):
        _train(_model(), data, data, TrainConfig(steps=2, batch_size=4, window=32, eval_every=2), tmp_path)


def test_early_stopping_after_patience_evaluations_without_progress(tmp_path: Path) -> None:
    data = _sequences(10, 1)
    config = TrainConfig(steps=1000, batch_size=2, window=32, lr=0.3, warmup=1, eval_every=1, patience=2, clip=0)
    result = _train(_model(), data, data, config, tmp_path)  # a rate that diverges
    assert result.stopped == "early stopping" and result.step < 1000
    rows = [float(r["valid_loss"]) for r in _rows(tmp_path)]
    assert min(rows[-2:]) >= result.best_valid and math.isfinite(result.best_valid)
    training = json.loads((tmp_path / "training.json").read_text())
    assert training["train"]["patience"] == 2 and training["result"]["best_valid_loss"] == result.best_valid


def _jsb_file(path: Path) -> Path:
    """A small JSB-format file: chords that move stepwise, S A T B per 16th step."""
    rng = np.random.default_rng(0)

    def piece() -> list[list[int]]:
        root = int(rng.integers(55, 62))
        return [[root + 12 + s, root + 7 + s, root + 4 + s, root - 12 + s] for s in range(12) for _ in range(4)]

    path.write_text(json.dumps({split: [piece() for _ in range(4)] for split in ("train", "valid", "test")}))
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(APP)
    data = _jsb_file(tmp_path / "jsb.json")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    common = ["train", "transformer", "--task", "jsb16", "--data", str(data), "--preset", "tiny", "--quiet"]
    common += ["--set", "train.steps=6", "--set", "train.eval_every=3", "--set", "train.batch_size=4"]
    single = [sys.executable, str(app), *common, "--out", str(tmp_path / "one"), "--set", "train.micro_batch=2"]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}"]
    double = [*launcher, str(app), *common, "--out", str(tmp_path / "two")]  # micro-batch 2 in each process
    for command in (single, double):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stderr[-3000:]
    one, two = _rows(tmp_path / "one"), _rows(tmp_path / "two")
    assert len(one) == len(two) == 6
    for a, b in zip(one, two, strict=True):
        assert float(a["train_loss"]) == pytest.approx(float(b["train_loss"]), abs=1e-4)
        assert a["tokens"] == b["tokens"]
    assert float(one[-1]["valid_loss"]) == pytest.approx(float(two[-1]["valid_loss"]), abs=1e-4)
    weights = [TransformerModel.load(tmp_path / name).state_dict() for name in ("one", "two")]
    for name, tensor in weights[0].items():
        torch.testing.assert_close(tensor, weights[1][name], atol=1e-4, rtol=1e-3)
    assert "2 × CPU" in json.loads((tmp_path / "two" / "training.json").read_text())["result"]["hardware"]


@pytest.mark.slow
def test_ctrl_c_stops_training_with_a_checkpoint_and_the_same_command_resumes(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(APP)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, str(app), "train", "transformer", "--task", "jsb16", "--preset", "tiny", "--quiet"]
    command += ["--data", str(_jsb_file(tmp_path / "jsb.json")), "--out", str(out)]
    command += ["--set", "train.steps=100000", "--set", "train.eval_every=100000"]  # days of it: only Ctrl-C ends it
    # a terminal's Ctrl-C: SIGINT at its default in the child even when this run was started in
    # the background, where shells start commands with SIGINT ignored (and Python keeps it so)
    running = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 200
    while not (out / LOG).exists() or len(_rows(out)) < 3:
        assert running.poll() is None and time.monotonic() < deadline, running.communicate()
        time.sleep(0.2)
    running.send_signal(signal.SIGINT)
    stdout, stderr = running.communicate(timeout=120)
    assert running.returncode == 130, stderr[-2000:]
    assert "interrupted at step" in stdout and "Traceback" not in stderr
    stopped_at = load_checkpoint(out / CHECKPOINT).state["step"]
    assert stopped_at == int(_rows(out)[-1]["step"]) >= 3  # the checkpoint is of the last step logged

    resumed = subprocess.run(
        [*command, "--set", "train.max_minutes=0.001"], env=env, capture_output=True, text=True, timeout=200
    )  # a time limit of a few milliseconds: a step or two more, evaluated and saved
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    steps = [int(r["step"]) for r in _rows(out)]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) > stopped_at  # went on, none lost or repeated
    assert TransformerModel.load(out).config.n_layer == 2


def test_settings_files_that_are_deep_or_malformed_are_one_line_errors(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cadenza.cli import app

    data = _jsb_file(tmp_path / "jsb.json")
    for name, text in (("deep.json", "[" * 100_000), ("bad.json", '{"train": {"lr": '), ("list.json", '{"train": []}')):
        (tmp_path / name).write_text(text)
        result = CliRunner().invoke(
            app, ["train", "transformer", "--task", "jsb16", "--data", str(data), "--out", str(tmp_path / "o"),
                  "--preset", "tiny", "--config", str(tmp_path / name)],
        )  # fmt: skip
        assert result.exit_code == 2, result.output
        assert name in result.output and len(result.output.strip().splitlines()) == 1


def test_training_settings_of_the_wrong_type_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="steps must be a int"):
        TrainConfig.from_dict({"steps": "many"})
    assert TrainConfig.from_dict({"lr": 1, "max_minutes": 40}).lr == 1  # a whole number is a float too


def test_the_auto_preset_sizes_the_run_for_this_machine() -> None:
    from cadenza.cli_neural import machine_preset, resolve_settings

    assert machine_preset() == ("default" if torch.cuda.is_available() else "cpu")
    auto = resolve_settings(536, "remi", "auto")
    assert auto == resolve_settings(536, "remi", machine_preset())
    cpu_model, cpu_train = resolve_settings(536, "remi", "cpu")
    assert TransformerModel(cpu_model).num_parameters() < 3_000_000 and cpu_train.steps <= 2000
    assert resolve_settings(536, "remi", "default")[0].n_layer == 6


def test_tokens_outside_the_vocabulary_are_refused_when_training(tmp_path: Path) -> None:
    from cadenza.errors import InputFileError

    source = tmp_path / "corpus"
    good, bad = _sequences(5, 1), Sequences([np.array([39, 1, 2, 45, 3])], source=source)
    with pytest.raises(InputFileError, match="token id 45, outside the vocabulary of 40") as error:
        NextTokenTask.from_settings(good, bad, 40, CONFIG)
    assert str(error.value).startswith(str(source))
    NextTokenTask.from_settings(good, good, 40, CONFIG)


@pytest.mark.parametrize("state", ["[" * 100_000 + "]" * 100_000, '{"step": 3}', "{"])
def test_a_damaged_checkpoint_is_refused_naming_it(tmp_path: Path, state: str) -> None:
    from safetensors.torch import save_file

    from cadenza.errors import InputFileError

    save_file({"model.x": torch.zeros(1)}, str(tmp_path / CHECKPOINT), metadata={"state": state, "param_groups": "[]"})
    data = _sequences(10, 1)
    with pytest.raises(InputFileError, match="is not a cadenza training checkpoint") as error:
        _train(_model(), data, data, CONFIG, tmp_path)
    assert str(error.value).startswith(str(tmp_path / CHECKPOINT))


def test_the_progress_shows_the_time_left(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _sequences(10, 1)
    config = TrainConfig(steps=8, batch_size=2, window=32, eval_every=8)
    task = NextTokenTask.from_settings(data, data, 40, config)
    train(_model(), task, config, tmp_path, progress=True)
    assert "the 3 steps left take about 0 h 00 min" in capsys.readouterr().err
