"""The JSB benchmarks: serialisation, exact likelihoods over every token or frame, the
evaluate commands, and (with the datasets) the committed checkpoints against the docs."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

from cadenza.cli_neural import register
from cadenza.errors import InvalidArgumentError
from cadenza.models.transformer import TransformerConfig, TransformerModel
from cadenza.train.datasets import Sequences
from cadenza.train.jsb import (
    BOS,
    END,
    FRAME_SUCCESSORS,
    REST,
    VOCAB_SIZE,
    evaluate_jsb,
    frames_sequence,
    jsb16_sequence,
    jsb_sequences,
)

REPO = Path(__file__).resolve().parents[1]
SATB = [[[72, 67, 64, 48], [72, 67, 64, 48], [74, -1, 65, 50]], [[60, 55, 52, 36]] * 5]
FRAMES = [[[64, 48, 67, 72], [], [74, 65, 50]], [[60], [55, 52, 36, 60]]]


def _tokens(sequence: np.ndarray | None) -> np.ndarray:
    assert sequence is not None
    return sequence


def _model(task: str, block_size: int = 64, seed: int = 0) -> TransformerModel:
    torch.manual_seed(seed)
    config = TransformerConfig.tiny(VOCAB_SIZE, block_size=block_size, tokens=task, cycles=(4,))
    return TransformerModel(config).eval()


def _file(tmp_path: Path, pieces: list) -> Path:
    path = tmp_path / "jsb.json"
    path.write_text(json.dumps({"train": pieces, "valid": pieces, "test": pieces}))
    return path


def test_jsb16_is_bos_then_s_a_t_b_of_every_16th_with_rests() -> None:
    tokens = _tokens(jsb16_sequence(SATB[0]))
    assert tokens.tolist() == [BOS, 72, 67, 64, 48, 72, 67, 64, 48, 74, REST, 65, 50]
    assert _tokens(jsb16_sequence(SATB[0], shift=2))[1:5].tolist() == [74, 69, 66, 50]
    assert jsb16_sequence([[127, 60, 50, 40]], shift=1) is None  # would leave MIDI's range


def test_a_frame_is_its_pitches_ascending_then_end() -> None:
    assert _tokens(frames_sequence(FRAMES[0])).tolist() == [BOS, 48, 64, 67, 72, END, END, 50, 65, 74, END]


def test_the_frame_mask_gives_each_set_of_pitches_exactly_one_sequence() -> None:
    after = FRAME_SUCCESSORS
    assert after[BOS, :128].all() and after[END, :128].all() and after[:, END].all()
    assert not after[60, :61].any() and after[60, 61:128].all()  # only higher pitches in a frame
    assert not after[:, BOS].any()
    # under the mask every sequence of a frame rises: the sorted order is the only one
    sequence = _tokens(frames_sequence(FRAMES[1]))
    assert all(after[a, b] for a, b in itertools.pairwise(sequence))


@pytest.mark.parametrize(("length", "window", "stride"), [(2, 8, 4), (9, 8, 4), (10, 8, 4), (37, 8, 3), (100, 16, 16)])
def test_evaluation_windows_score_every_target_once(length: int, window: int, stride: int) -> None:
    data = Sequences([np.arange(length) % 7])
    batch = data.collate(data.evaluation_windows(window, stride), window)
    positions = (batch.starts[:, None] + torch.arange(window) + 1)[batch.targets >= 0]
    assert sorted(positions.tolist()) == list(range(1, length))  # each target, exactly once
    assert batch.scored == data.targets == length - 1


def test_jsb16_score_is_the_mean_over_every_token_of_the_split(tmp_path: Path) -> None:
    model = _model("jsb16")
    score = evaluate_jsb(model, "jsb16", _file(tmp_path, SATB), "valid")
    assert score.units == 4 * (3 + 5) and score.pieces == 2
    total = 0.0
    with torch.no_grad():
        for piece in SATB:
            tokens = torch.from_numpy(_tokens(jsb16_sequence(piece)))
            log_p = torch.log_softmax(model(tokens[None, :-1])[0].double(), -1)
            total -= float(log_p[torch.arange(len(tokens) - 1), tokens[1:]].sum())
    assert score.nll == pytest.approx(total / score.units, rel=1e-5)


def test_frames_score_is_the_exact_set_likelihood_per_frame(tmp_path: Path) -> None:
    model = _model("jsb-frames")
    score = evaluate_jsb(model, "jsb-frames", _file(tmp_path, FRAMES), "test")
    assert score.units == 5  # frames, the empty one included
    mask = torch.from_numpy(FRAME_SUCCESSORS)
    total = 0.0
    with torch.no_grad():
        for piece in FRAMES:
            tokens = torch.from_numpy(_tokens(frames_sequence(piece)))
            logits = model(tokens[None, :-1])[0].double().masked_fill(~mask[tokens[:-1]], -torch.inf)
            log_p = torch.log_softmax(logits, -1)
            total -= float(log_p[torch.arange(len(tokens) - 1), tokens[1:]].sum())
    assert score.nll == pytest.approx(total / 5, rel=1e-5)


def test_a_model_of_one_protocol_is_refused_by_the_other(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="jsb16"):
        evaluate_jsb(_model("jsb16"), "jsb-frames", _file(tmp_path, FRAMES), "test")
    with pytest.raises(InvalidArgumentError, match="only the training split"):
        jsb_sequences("jsb16", _file(tmp_path, SATB), "test", transpositions=(1,))


def test_evaluate_and_train_commands(tmp_path: Path) -> None:
    app, train_app, evaluate_app = typer.Typer(), typer.Typer(), typer.Typer()
    app.add_typer(train_app, name="train")
    app.add_typer(evaluate_app, name="evaluate")
    register(train_app, evaluate_app)
    runner = CliRunner()
    data = _file(tmp_path, SATB)
    args = ["train", "transformer", "--task", "jsb16", "--data", str(data), "--out", str(tmp_path / "m")]
    args += [
        "--preset",
        "tiny",
        "--quiet",
        "--set",
        "train.steps=4",
        "--set",
        "train.batch_size=2",
        "--transpose=-1..1",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m" / "model.safetensors").exists() and "best validation loss" in result.output
    result = runner.invoke(
        app, ["evaluate", "jsb16", "--model", str(tmp_path / "m"), "--data", str(data), "--split", "test"]
    )
    assert result.exit_code == 0, result.output
    expected = evaluate_jsb(TransformerModel.load(tmp_path / "m"), "jsb16", data, "test").nll
    assert f"jsb16 test: {expected:.4f} nats per token (32 tokens, 2 pieces)" in result.output
    warm = [*args[:7], str(tmp_path / "m2"), *args[8:], "--init", str(tmp_path / "m")]
    result = runner.invoke(app, warm)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "m2" / "training.json").read_text())["init"]["folder"] == str(tmp_path / "m")
    bad = runner.invoke(app, [*args[:-1], "--set", "model.n_layers=3"])
    assert isinstance(bad.exception, InvalidArgumentError)


@pytest.mark.slow
@pytest.mark.datasets
def test_committed_checkpoints_give_the_figures_in_the_docs(datasets: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_jsb", REPO / "bench" / "bench_jsb.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    docs = (REPO / "docs" / "benchmarks.md").read_text()
    for line in bench.our_rows(datasets / "jsb-chorales"):
        assert line in docs, line
