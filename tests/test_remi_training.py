"""A REMI Transformer from a corpus built by `cadenza data build`: pieces moved to C for
training, the model folder the composer needs, and the held-out likelihood both families
are measured by."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cadenza.cli import app
from cadenza.data.corpus import BUILD_FILE, digests
from cadenza.data.info import read_manifest
from cadenza.data.labels import parse_key
from cadenza.data.shards import open_shard
from cadenza.data.tokens import load_tokenizer
from cadenza.io import save_score
from cadenza.models.vocabulary import Vocabulary
from cadenza.train.datasets import remi_sequences
from tests.helpers import make_score

G_MAJOR = (67, 69, 71, 72, 74, 76, 78)
runner = CliRunner()


def _invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 different tunes in G major (eighth notes, four bars each), built into a corpus."""
    root = tmp_path_factory.mktemp("remi")
    (root / "tunes").mkdir()
    rng = np.random.default_rng(0)
    for number in range(60):
        pitches = rng.choice(G_MAJOR, size=32)
        notes = [(int(p), i / 2, i / 2 + 0.5) for i, p in enumerate(pitches)] + [(55, 0, 4), (50, 4, 8)]
        save_score(make_score(notes), root / "tunes" / f"tune{number:02d}.mid")
    _invoke("data", "build", "--source", f"tunes={root / 'tunes'}", "--licence", "tunes=CC0", "--out", str(root / "c"))
    return root / "c"


def test_key_normalised_sequences_are_in_c_with_a_c_key_token(corpus: Path) -> None:
    vocab = Vocabulary.from_tokenizer_vocab(load_tokenizer(corpus).vocab)
    rows = read_manifest(corpus)
    shard = open_shard(corpus, "train")
    sequences = remi_sequences(corpus, "train")
    assert len(sequences) == len(shard) > 40
    tonics = Counter()
    for i, tokens in enumerate(sequences.sequences):
        tonic, mode = parse_key(rows[int(shard.index[i, 2])]["labels"]["key"])
        tonics[tonic] += 1
        assert vocab.names[int(tokens[2])] == f"Key_C:{mode}"
        original = [int(vocab.values[t]) for t in shard.sequence(i) if vocab.kinds[t] == "Pitch"]
        moved = [int(vocab.values[t]) for t in tokens if vocab.kinds[t] == "Pitch"]
        assert len(moved) == len(original) == 34
        assert {(p - tonic) % 12 for p in original} == {p % 12 for p in moved}
    assert tonics.most_common(1)[0][0] == 7  # G major, as written


def test_a_subset_for_validation_is_spread_over_the_split(corpus: Path) -> None:
    whole = remi_sequences(corpus, "train")
    part = remi_sequences(corpus, "train", max_tokens=whole.targets // 4)
    assert 0.15 * len(whole) < len(part) < 0.4 * len(whole)


def test_train_a_key_normalised_model_then_compose_and_evaluate_with_it(corpus: Path, tmp_path: Path) -> None:
    model = tmp_path / "m"
    _invoke(
        "train", "transformer", "--data", str(corpus), "--out", str(model), "--preset", "tiny", "--quiet",
        "--normalise-key", "--valid-tokens", "2000", "--set", "train.steps=20", "--set", "train.eval_every=10",
    )  # fmt: skip
    config = json.loads((model / "config.json").read_text())
    assert config["family"] == "transformer" and config["key_normalised"] is True
    out = tmp_path / "tune.mid"
    _invoke("generate", "--model", str(model), "--key", "D major", "--bars", "4", "-o", str(out))
    printed = _invoke("evaluate", "transformer", "--model", str(model), "--data", str(corpus), "--split", "train")
    row = next(line for line in printed.splitlines() if "other" in line)  # a folder built without --style
    nll = float(row.split("│")[2])
    assert 0 < nll < np.log(536)  # better than a uniform guess over the vocabulary after 20 steps
    refused = runner.invoke(app, ["evaluate", "markov", "--model", str(model), "--data", str(corpus)])
    assert refused.exit_code == 2 and "not a markov model" in refused.output


def test_markov_trains_on_a_corpus_too_small_for_any_group(corpus: Path, tmp_path: Path) -> None:
    """Fewer than 20 pieces per style, mode and beat unit: every piece goes to the pooled
    tables, and the model still has a default style (the corpus's)."""
    small = tmp_path / "tunes"
    small.mkdir()
    for number in range(12):
        name = f"tune{number:02d}.mid"
        (small / name).write_bytes((corpus.parent / "tunes" / name).read_bytes())
    _invoke("data", "build", "--source", f"tunes={small}", "--licence", "tunes=CC0", "--out", str(tmp_path / "c"))
    _invoke("train", "markov", "--data", str(tmp_path / "c"), "--out", str(tmp_path / "m"))
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["groups"] == [] and config["default_style"] == "other"  # a folder built without --style
    _invoke("generate", "--model", str(tmp_path / "m"), "--bars", "2", "-o", str(tmp_path / "x.mid"))
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no half-written folder aside
    # too few pieces to set any aside for validation: evaluate says so, and fails
    assert len(open_shard(tmp_path / "c", "valid")) == 0
    refused = runner.invoke(app, ["evaluate", "markov", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "c")])
    assert refused.exit_code == 2 and "no pieces in its 'valid' split" in refused.output, refused.output
    table = _invoke(
        "evaluate", "markov", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "c"), "--split", "train"
    )
    assert "the first 300 music tokens" in table


def test_evaluate_scores_the_first_tokens_or_every_token_as_asked(corpus: Path, tmp_path: Path) -> None:
    _invoke("train", "markov", "--data", str(corpus), "--out", str(tmp_path / "m"))

    def tokens(*options: str) -> int:
        printed = _invoke("evaluate", "markov", "--model", str(tmp_path / "m"), "--data", str(corpus), *options)
        row = next(line for line in printed.splitlines() if "other" in line and "│" in line)
        return int(row.split("│")[3].replace(",", ""))

    pieces = 5
    assert tokens("--split", "train", "--pieces", str(pieces), "--tokens", "20") == pieces * 19
    whole = tokens("--split", "train", "--pieces", str(pieces), "--tokens", "0")
    assert whole > pieces * 100  # four bars of eighth notes and two bass notes are more than 100 tokens


def test_tokens_outside_the_vocabulary_are_refused_when_training(corpus: Path, tmp_path: Path) -> None:
    import shutil

    damaged = tmp_path / "c"
    shutil.copytree(corpus, damaged)
    tokens = np.load(damaged / "train.tokens.npy")
    tokens[-1] = len(load_tokenizer(corpus).vocab) + 5  # a shard from another tokenizer
    np.save(damaged / "train.tokens.npy", tokens)
    # a build that wrote these tokens itself (its build.json lists them), so that what
    # refuses them is the vocabulary check, not the corpus's own digests
    build = json.loads((damaged / BUILD_FILE).read_text())
    build["files"] = digests(damaged)
    (damaged / BUILD_FILE).write_text(json.dumps(build))
    for command in (["markov"], ["transformer", "--preset", "tiny", "--quiet"]):
        result = runner.invoke(app, ["train", *command, "--data", str(damaged), "--out", str(tmp_path / "m")])
        assert result.exit_code == 2, result.output
        assert "outside the vocabulary" in result.output and str(damaged) in result.output
        assert not (tmp_path / "m" / "model.safetensors").exists()


def test_train_markov_replaces_a_model_only_with_force_and_only_whole(corpus: Path, tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("a file of the user's")
    refused = runner.invoke(app, ["train", "markov", "--data", str(corpus), "--out", str(taken)])
    assert refused.exit_code == 2 and "pass --force" in refused.output and taken.read_text() == "a file of the user's"
    model = tmp_path / "m"
    _invoke("train", "markov", "--data", str(corpus), "--out", str(model), "--order", "3")
    _invoke("train", "markov", "--data", str(corpus), "--out", str(model), "--order", "5", "--force")
    assert json.loads((model / "config.json").read_text())["order"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "taken"]
