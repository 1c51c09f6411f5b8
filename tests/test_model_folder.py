"""Model folders: written whole or not at all, and refused with one line naming the folder
when a file is missing, truncated, deep, or implies sizes its weights do not hold, before
anything is allocated."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from cadenza.cli import app
from cadenza.errors import InputFileError
from cadenza.models.folder import new_folder, read_json
from cadenza.models.markov import MarkovConfig, MarkovModel
from cadenza.models.transformer import TransformerConfig, TransformerModel
from cadenza.train.markov import fit_markov

runner = CliRunner()


def _markov_folder(folder: Path) -> Path:
    pieces = [np.array([1, 2, 3, 4, 5, 1, 2, 3]), np.array([3, 4, 5, 6, 7])]
    model = fit_markov(MarkovConfig.tiny(10), pieces, ["a", "a"])
    model.save(folder, extra={"key_normalised": True, "default_style": "pop"})
    return folder


def _transformer_folder(folder: Path, **overrides: object) -> Path:
    torch.manual_seed(0)
    TransformerModel(TransformerConfig.tiny(40, **overrides)).save(folder)
    return folder


def _edit_config(folder: Path, **changes: object) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))


def test_one_writer_puts_the_composer_keys_and_the_family_in_config_json(tmp_path: Path) -> None:
    config = json.loads((_markov_folder(tmp_path / "m") / "config.json").read_text())
    assert config["family"] == "markov" and config["key_normalised"] is True and config["vocab_size"] == 10
    assert MarkovModel.load(tmp_path / "m").config.vocab_size == 10


def test_a_folder_interrupted_while_written_never_appears(tmp_path: Path) -> None:
    target = tmp_path / "model"
    with pytest.raises(KeyboardInterrupt), new_folder(target) as folder:
        _markov_folder(folder)
        raise KeyboardInterrupt  # killed before the tokenizer and training.json were written
    assert not target.exists() and list(tmp_path.iterdir()) == []
    left = tmp_path / ".model.partial-999999"  # what a SIGKILL leaves
    _markov_folder(left)
    with new_folder(target) as folder:
        _markov_folder(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert MarkovModel.load(target).config.vocab_size == 10


def test_replacing_a_folder_keeps_the_old_one_until_the_new_one_is_whole(tmp_path: Path) -> None:
    target = _markov_folder(tmp_path / "model")
    before = (target / "model.safetensors").read_bytes()
    with pytest.raises(RuntimeError), new_folder(target) as folder:
        (folder / "config.json").write_text("{")
        raise RuntimeError("disk full")
    assert (target / "model.safetensors").read_bytes() == before


@pytest.mark.parametrize("family", ["markov", "transformer"])
@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "config.json").write_text((f / "config.json").read_text()[:40]), "is not valid JSON"),
        (lambda f: (f / "config.json").write_text("[" * 100_000 + "]" * 100_000), "nests too deeply"),
        (lambda f: (f / "config.json").write_text("[" * 40 + "]" * 40), "nests too deeply .more than 32 levels"),
        (lambda f: (f / "config.json").unlink(), "config.json: is missing"),
        (lambda f: (f / "model.safetensors").unlink(), "model.safetensors: is missing"),
        (lambda f: (f / "model.safetensors").write_bytes((f / "model.safetensors").read_bytes()[:100]), "safetensors"),
    ],
)
def test_a_damaged_folder_is_refused_naming_it(tmp_path: Path, family: str, damage, message: str) -> None:
    folder = _markov_folder(tmp_path / "m") if family == "markov" else _transformer_folder(tmp_path / "m")
    damage(folder)
    load = MarkovModel.load if family == "markov" else TransformerModel.load
    with pytest.raises(InputFileError, match=message) as error:
        load(folder)
    assert str(tmp_path / "m") in str(error.value) and "\n" not in str(error.value)


def test_generate_refuses_a_truncated_config_in_one_line(tmp_path: Path) -> None:
    folder = _markov_folder(tmp_path / "m")
    (folder / "tokenizer.json").write_text("{}")
    (folder / "config.json").write_text('{"family": "mark')
    result = runner.invoke(app, ["generate", "--model", str(folder), "--bars", "2", "-o", str(tmp_path / "x.mid")])
    assert result.exit_code == 2, result.output
    assert "config.json" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x.mid").exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_layer": 2000}, "n_layer must be a whole number from 1 to 128"),
        ({"n_layer": 10**6}, "n_layer"),
        ({"d_model": 10**9}, "d_model"),
        ({"vocab_size": -1}, "vocab_size"),
        ({"block_size": "1024"}, "block_size"),
        ({"n_layer": 3}, "the weights lack blocks.2"),
        ({"d_model": 64, "n_head": 2}, "the config implies float \\[40, 64\\]"),
        ({"vocab_size": 41}, "embed.weight is F32 \\[40, 32\\]"),
    ],
)
def test_a_transformer_config_out_of_bounds_or_unlike_its_weights_is_refused_before_allocating(
    tmp_path: Path, changes: dict, message: str
) -> None:
    folder = _transformer_folder(tmp_path / "m")
    _edit_config(folder, **changes)
    with pytest.raises(InputFileError, match=message) as error:
        TransformerModel.load(folder)
    assert str(error.value).startswith(str(folder))


def test_the_shapes_a_transformer_config_implies_are_its_weights() -> None:
    config = TransformerConfig.tiny(40, n_layer=3, cycles=(4, 16))
    state = TransformerModel(config).state_dict()
    assert TransformerModel.expected_tensors(config) == {n: ("float", tuple(t.shape)) for n, t in state.items()}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"order": 10**6}, "order must be a whole number from 1 to 64"),
        ({"vocab_size": 0}, "vocab_size"),
        ({"groups": "pop"}, "groups must be a list"),
        ({"vocab_size": 5}, "a token beyond vocab_size 5"),
    ],
)
def test_a_markov_config_out_of_bounds_or_unlike_its_table_is_refused(
    tmp_path: Path, changes: dict, message: str
) -> None:
    folder = _markov_folder(tmp_path / "m")
    _edit_config(folder, **changes)
    with pytest.raises(InputFileError, match=message):
        MarkovModel.load(folder)


def test_a_markov_table_of_mismatched_columns_is_refused(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    folder = _markov_folder(tmp_path / "m")
    keys = np.arange(5, dtype=np.uint64)
    save_file(
        {"keys": keys, "successors": np.zeros(4, np.uint16), "counts": np.ones(5, np.uint16)},
        str(folder / "model.safetensors"),
    )
    with pytest.raises(InputFileError, match="successors is U16 \\[4\\]"):
        MarkovModel.load(folder)


def test_the_shipped_models_pass_the_checks() -> None:
    shipped = Path(__file__).resolve().parents[1] / "cadenza" / "pretrained"
    assert MarkovModel.load(shipped / "cadenza-markov").config.groups
    assert TransformerModel.load(shipped / "cadenza-transformer").config.n_layer == 4


def test_read_json_refuses_a_fifo(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)
    with pytest.raises(InputFileError, match="not a regular file"):
        read_json(fifo)
