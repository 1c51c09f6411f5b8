"""`cadenza generate` with a GAN model folder: the asked length, key, tempo and instruments; the rest refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import symusic
import torch
from typer.testing import CliRunner

from cadenza.cli import app
from cadenza.compose import Composer, Conditions, Sampling
from cadenza.compose.gan_composer import GanComposer
from cadenza.errors import InvalidArgumentError
from cadenza.models.gan import GanConfig, GanModel
from cadenza.train.gan import PRESETS, train_gan

sys.path.insert(0, str(Path(__file__).parent))
from test_gan import tiny_settings, toy_phrases


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gan") / "model"
    torch.manual_seed(0)
    train_gan(GanModel(GanConfig(**PRESETS["tiny"]["model"])), toy_phrases(), tiny_settings(), out)
    return out


def test_a_gan_folder_gets_its_own_composer_and_writes_the_asked_bars_key_and_tempo(folder: Path) -> None:
    composer = Composer.from_pretrained(folder)
    assert isinstance(composer, GanComposer)
    score = composer.generate(Conditions(bars=6, key="D major", tempo=90), Sampling(seed=1))
    assert score.tempos[0].qpm == pytest.approx(90, abs=0.01)
    assert (score.key_signatures[0].key, score.key_signatures[0].tonality) == (2, 0)
    bar = 4 * score.ticks_per_quarter
    notes = [n for t in score.tracks for n in t.notes]
    assert notes and all(n.time < 6 * bar and n.time + n.duration <= 6 * bar for n in notes)
    classes = np.bincount([n.pitch % 12 for n in notes], minlength=12)
    assert classes[[2, 6, 9]].sum() / classes.sum() > 0.8  # the toy's C major chord, moved to D


def test_the_same_seed_gives_the_same_piece_and_seconds_are_met(folder: Path) -> None:
    composer = Composer.from_pretrained(folder)
    first = composer.generate(Conditions(seconds=10, tempo=120), Sampling(seed=4))
    assert first.dumps_midi() == composer.generate(Conditions(seconds=10, tempo=120), Sampling(seed=4)).dumps_midi()
    assert first.to("second").end() == pytest.approx(10.0, abs=0.01)


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        (Conditions(meter="3/4"), "writes 4/4 phrases only"),
        (Conditions(style="chorale"), "learned pop only"),
        (Conditions(instruments=("piano", "violin", "cello", "flute")), "at most 3 instruments"),
    ],
)
def test_what_the_family_cannot_write_is_refused(folder: Path, conditions: Conditions, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        Composer.from_pretrained(folder).resolve(conditions)


def test_generate_command_with_a_gan_folder(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "gan.mid"
    result = CliRunner().invoke(app, ["generate", "--model", str(folder), "--bars", "8", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and (tmp_path / "gan.mid.provenance.json").is_file()
    refused = CliRunner().invoke(app, ["generate", "--model", str(folder), "--meter", "6/8", "-o", str(out), "--force"])
    assert refused.exit_code == 2 and "4/4 phrases only" in refused.output


def test_rerank_keeps_the_candidate_the_critic_finds_most_real_and_records_why(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "best.mid"
    command = ["generate", "--model", "cadenza-markov", "--bars", "8", "--rerank", "3", "--critic", str(folder)]
    result = CliRunner().invoke(app, [*command, "-o", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "best.mid.provenance.json").read_text())
    rerank = record["conditions"]["rerank"]
    assert len(rerank["realness"]) == 3 and rerank["chosen"] == int(np.argmax(rerank["realness"]))
    assert rerank["seeds"][0] == 0 and len(set(rerank["seeds"])) == 3
    chosen_seed = rerank["seeds"][rerank["chosen"]]
    alone = tmp_path / "alone.mid"
    again = CliRunner().invoke(
        app, ["generate", "--model", "cadenza-markov", "--bars", "8", "--seed", str(chosen_seed), "-o", str(alone)]
    )
    assert again.exit_code == 0
    notes = lambda p: [(n.time, n.pitch, n.duration) for t in symusic.Score(str(p)).tracks for n in t.notes]  # noqa: E731
    assert notes(out) == notes(alone)  # the kept candidate is the piece that seed composes


def test_a_critic_that_is_no_gan_is_refused(tmp_path: Path) -> None:
    command = ["generate", "--bars", "4", "--rerank", "2", "--critic", "cadenza-markov", "-o", str(tmp_path / "x.mid")]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2 and "a GAN model is needed" in result.output


def test_the_shipped_gan_composes_and_its_critic_reranks_by_default(tmp_path: Path) -> None:
    out = tmp_path / "gan.mid"
    result = CliRunner().invoke(
        app, ["generate", "--model", "cadenza-gan", "--bars", "8", "--key", "E minor", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    score = symusic.Score(str(out))
    assert (score.key_signatures[0].key, score.key_signatures[0].tonality) == (1, 1)
    assert score.note_num() > 0 and max(n.time for t in score.tracks for n in t.notes) < 8 * 4 * score.ticks_per_quarter
    best = tmp_path / "best.mid"
    reranked = CliRunner().invoke(
        app, ["generate", "--model", "cadenza-markov", "--bars", "8", "--rerank", "2", "-o", str(best)]
    )
    assert reranked.exit_code == 0, reranked.output
    record = json.loads((tmp_path / "best.mid.provenance.json").read_text())
    assert record["conditions"]["rerank"]["critic"] == "cadenza-gan"
