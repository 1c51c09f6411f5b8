"""The library pipeline (compose, check, record, sign), the model-family registry, the
sampling threads, and what `cadenza generate` checks before it composes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from cadenza.cli import app
from cadenza.compose import Composer, Conditions, Sampling, compose_piece
from cadenza.errors import InputFileError
from cadenza.io import load_score
from cadenza.models import family as families
from cadenza.models.registry import locate
from cadenza.provenance.record import music_sha256
from cadenza.provenance.signing import default_key, new_key, verify_file, verify_record

runner = CliRunner()
FEW_BARS = Conditions(mood="calm", bars=3)


@pytest.fixture(scope="module")
def markov() -> Composer:
    return Composer.from_pretrained("cadenza-markov")


def _model_copy(tmp_path: Path, *, family: str | None = None) -> Path:
    """The shipped Markov model's files in a folder of its own, without its index."""
    folder = tmp_path / "model"
    folder.mkdir()
    shipped = locate("cadenza-markov")
    for name in ("config.json", "model.safetensors", "tokenizer.json", "training.json"):
        shutil.copyfile(shipped / name, folder / name)
    if family is not None:
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "family": family}))
    return folder


def test_the_pipeline_returns_a_piece_with_a_signed_record_of_that_music(markov: Composer, tmp_path: Path) -> None:
    piece = compose_piece(markov, FEW_BARS, Sampling(seed=4))
    assert piece.score.note_num() > 0
    assert piece.record["music_sha256"] == music_sha256(piece.score)
    assert verify_record(piece.record)[0]
    assert piece.record["signature"]["key_id"] == default_key().key_id
    assert piece.record["originality"]["checked"] is True and piece.report is not None
    assert piece.record["conditions"] == piece.resolved.to_dict() and piece.record["seed"] == 4
    assert piece.warnings == ()
    # the same music as Composer.generate, and as the command line writes it
    assert piece.score.dumps_midi() == markov.generate(FEW_BARS, Sampling(seed=4)).dumps_midi()
    piece.write(tmp_path / "piece.mid")
    assert verify_file(tmp_path / "piece.mid").intact
    cli = tmp_path / "cli.mid"
    result = runner.invoke(
        app, ["generate", "--model", "cadenza-markov", "--mood", "calm", "--bars", "3", "--seed", "4", "-o", str(cli)]
    )
    assert result.exit_code == 0, result.output
    assert cli.read_bytes() == (tmp_path / "piece.mid").read_bytes()


def test_sign_with_a_named_key(tmp_path: Path) -> None:
    studio = new_key("studio", "Studio A")
    out = tmp_path / "s.mid"
    args = ["generate", "--model", "cadenza-markov", "--bars", "2", "--sign-with", "studio", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "s.mid.provenance.json").read_text())
    assert record["signature"]["key_id"] == studio.key_id != default_key().key_id
    assert verify_file(out).intact


def test_sign_with_an_unknown_key_is_refused_before_composing(tmp_path: Path) -> None:
    out = tmp_path / "s.mid"
    args = ["generate", "--model", str(tmp_path / "no-model"), "--sign-with", "nobody", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "nobody.key" in result.output and "no model" not in result.output
    assert not out.exists()


@pytest.mark.parametrize("where", ["missing", "file", "twice"])
def test_an_output_that_cannot_be_written_is_refused_before_composing(tmp_path: Path, where: str) -> None:
    (tmp_path / "plain.txt").write_text("not a folder")
    target = {"missing": tmp_path / "nowhere" / "a.mid", "file": tmp_path / "plain.txt" / "a.mid"}.get(
        where, tmp_path / "a.mid"
    )
    outputs = ["-o", str(target)] * (2 if where == "twice" else 1)
    # a model that does not exist: refused on the output means nothing was composed
    result = runner.invoke(app, ["generate", "--model", str(tmp_path / "no-model"), *outputs])
    assert result.exit_code == 2, result.output
    assert str(target) in result.output.replace("\n", "") and "no model" not in result.output
    assert "Traceback" not in result.output


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_refused_before_composing(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = runner.invoke(app, ["generate", "--model", str(tmp_path / "no-model"), "-o", str(folder / "a.mid")])
    finally:
        folder.chmod(0o755)
    assert result.exit_code == 2, result.output
    assert "not writable" in result.output and "no model" not in result.output


def test_a_model_without_an_index_says_so_on_the_console(tmp_path: Path) -> None:
    out = tmp_path / "u.mid"
    result = runner.invoke(app, ["generate", "--model", str(_model_copy(tmp_path)), "--bars", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "no originality index" in result.output
    record = json.loads((tmp_path / "u.mid.provenance.json").read_text())
    assert record["originality"]["checked"] is False
    assert load_score(out).note_num() > 0


def test_an_unknown_model_family_is_refused_naming_the_folder(tmp_path: Path) -> None:
    folder = _model_copy(tmp_path, family="diffusion")
    with pytest.raises(InputFileError, match="unknown model family 'diffusion'") as error:
        Composer.from_pretrained(folder)
    assert error.value.path == str(folder)


def test_a_family_without_a_next_token_distribution_composes_through_the_registry(
    markov: Composer, tmp_path: Path
) -> None:
    """A family that makes a whole passage at once (as a GAN would) plugs in by name;
    this one plays back a fixed passage, whatever it is asked."""
    resolved = markov.resolve(FEW_BARS)
    passage = markov._decode(resolved, Sampling(seed=1), markov._head(resolved), resolved.bars)
    asked: list[families.Request] = []

    class Playback(families.Family):
        name = "playback-test"

        def load(self, folder: Path) -> list[int]:
            return passage

        def generator(self, model, info, request, vocab):  # type: ignore[no-untyped-def]
            asked.append(request)
            return lambda prefix, constraints, sampling, max_tokens: list(model)

    families.register(Playback())
    try:
        composer = Composer.from_pretrained(_model_copy(tmp_path, family="playback-test"))
        score = composer.generate(FEW_BARS, Sampling(seed=9))
    finally:
        del families._FAMILIES["playback-test"]
    assert score.dumps_midi() == markov.generate(FEW_BARS, Sampling(seed=1)).dumps_midi()
    assert (asked[0].style, asked[0].mode, asked[0].meter) == (resolved.style, resolved.mode, resolved.meter)


def test_sampling_runs_on_one_thread_and_restores_the_callers_setting() -> None:
    composer = Composer.from_pretrained("cadenza-transformer")
    seen: list[int] = []
    real = families.TransformerFamily.distribution

    class Watched(families.TransformerFamily):
        def distribution(self, model, info, request):  # type: ignore[no-untyped-def]
            step = real(self, model, info, request)

            def watched(tokens):  # type: ignore[no-untyped-def]
                seen.append(torch.get_num_threads())
                if len(seen) == 40:
                    raise KeyboardInterrupt  # stopped mid-piece: the setting must still come back
                return step(tokens)

            return watched

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        composer.family = Watched()
        with pytest.raises(KeyboardInterrupt):
            composer.generate(FEW_BARS, Sampling(seed=3))
        assert torch.get_num_threads() == 2
        assert set(seen) == {families.SAMPLING_THREADS} == {1}
        composer.family = families.family("transformer")
        composer.generate(Conditions(bars=1), Sampling(seed=3))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_progress_follows_the_bars_and_changes_nothing(markov: Composer) -> None:
    seen: list[tuple[int, int]] = []
    conditions = Conditions(mood="calm", bars=6)
    with_progress = markov.generate(
        conditions, Sampling(seed=7), progress=lambda done, total: seen.append((done, total))
    )
    assert with_progress.dumps_midi() == markov.generate(conditions, Sampling(seed=7)).dumps_midi()
    assert seen[-1] == (6, 6)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert {total for _, total in seen} == {6}
    assert len({done for done, _ in seen}) >= 6  # one step a bar at least


def test_generate_reports_the_bars_the_file_holds(tmp_path: Path) -> None:
    from cadenza.analysis.bars import bar_count

    out = tmp_path / "cue.mid"
    result = runner.invoke(app, ["generate", "--model", "cadenza-markov", "--seconds", "30", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f" {bar_count(load_score(out))} bars," in result.output
