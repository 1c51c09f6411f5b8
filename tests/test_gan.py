"""The gan family: the phrase roll and its round trip, the tiny GAN learning a toy set the
way a WGAN-GP does, save -> load -> the same samples, exact resume, conditions, the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import symusic
import torch
from typer.testing import CliRunner

from cadenza.cli import app
from cadenza.errors import InputFileError, InvalidArgumentError
from cadenza.io import load_score
from cadenza.models.family import family
from cadenza.models.gan import (
    CHORDS,
    HELD,
    NO_CHORD,
    ONSET,
    GanConfig,
    GanModel,
    bar_chords,
    chord_index,
    phrase_to_score,
    sample_phrases,
    score_to_phrases,
)
from cadenza.train.checkpoint import load_checkpoint
from cadenza.train.gan import CHECKPOINT, LOG, PRESETS, GanTrainConfig, train_gan

C_MAJOR = (0, 4, 7)


def toy_phrases(count: int = 16) -> np.ndarray:
    """Every phrase the same: a C major chord struck on every beat in PIANO (C3 E3 G3 C4
    E4 G4) under a C5 struck every two beats in MELODY; BRIDGE silent."""
    toy = np.zeros((count, 3, 4, 48, 84), np.uint8)
    for pitch in (48, 52, 55, 60, 64, 67):
        toy[:, 2, :, :, pitch - 24] = HELD
        toy[:, 2, :, ::12, pitch - 24] = ONSET
    toy[:, 0, :, :, 72 - 24] = HELD
    toy[:, 0, :, ::24, 72 - 24] = ONSET
    return toy


def tiny_settings(**overrides: object) -> GanTrainConfig:
    return GanTrainConfig.from_dict({**PRESETS["tiny"]["train"], "checkpoint_every": 1000, **overrides})


def wasserstein(out: Path) -> list[float]:
    return [json.loads(line)["wasserstein"] for line in (out / LOG).read_text().splitlines()]


def c_major_share(model: GanModel, seed: int = 7) -> tuple[float, float, int]:
    """(share of the on-probability in C, E and G; share of the binarised on-cells in
    them; how many cells are on) over 16 samples."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        on = model.generator(*model.latents(16, generator))[:, :, 0]  # (n, tracks, bars, steps, pitches)
    by_pitch = on.sum(dim=(0, 1, 2, 3)).numpy()
    classes = by_pitch.reshape(7, 12).sum(axis=0)
    cells = np.nonzero(sample_phrases(model, 16, seed) > 0)[-1]
    hard = float(np.isin(cells % 12, C_MAJOR).mean()) if len(cells) else 0.0
    return float(classes[list(C_MAJOR)].sum() / classes.sum()), hard, len(cells)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[GanModel, Path, tuple[float, float, int]]:
    """The tiny GAN after 40 steps on the toy set (and its C major share before)."""
    out = tmp_path_factory.mktemp("gan") / "model"
    torch.manual_seed(0)
    model = GanModel(GanConfig(**PRESETS["tiny"]["model"]))
    before = c_major_share(model)
    result = train_gan(model, toy_phrases(), tiny_settings(), out)
    assert result.step == 40 and result.stopped == "steps"
    return model, out, before


# ------------------------------------------------------------------------ training
def test_the_tiny_gan_learns_the_toy_set_as_a_wgan_gp_does(trained) -> None:
    model, out, (soft_before, _, _) = trained
    estimates = wasserstein(out)
    assert len(estimates) == 40
    # the critic starts blind (real and fake score alike), learns to tell them apart ...
    assert abs(estimates[0]) < 1.0
    peak = int(np.argmax(estimates))
    assert estimates[peak] > 20 * max(1.0, abs(estimates[0]))
    # ... and the estimate falls again as the generator's phrases come nearer the real ones
    assert estimates[-1] < 0.7 * estimates[peak]
    # those phrases now sound in C major, well above chance (3 of 12 pitch classes)
    soft_after, hard_after, cells = c_major_share(model)
    assert soft_before < 0.3
    assert soft_after > 0.5
    assert cells > 100 and hard_after > 0.9


def test_with_binary_the_critic_judges_what_a_sample_plays_and_the_gan_still_learns(tmp_path: Path) -> None:
    """``binary``: the generator's rolls reach the critic binarised (straight through); it
    learns the toy set all the same, and its samples are the rolls the critic judged."""
    from cadenza.train.distributed import setup
    from cadenza.train.gan import _Draws, _GanRun

    torch.manual_seed(0)
    model = GanModel.tiny()
    settings = tiny_settings(binary=True)
    run = _GanRun(model, toy_phrases(), settings, tmp_path, setup(), None, None)
    judged = run._fake(_Draws(toy_phrases(), model, settings, setup())(0, 0))
    assert set(torch.unique(judged.detach()).tolist()) <= {0.0, 1.0}
    judged.sum().backward()  # the gradient reaches the generator (straight through the threshold)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.generator.parameters())
    torch.manual_seed(0)
    model = GanModel.tiny()
    assert train_gan(model, toy_phrases(), settings, tmp_path / "trained").step == 40
    _, hard_after, cells = c_major_share(model)
    assert cells > 100 and hard_after > 0.5  # twice chance (3 of 12 pitch classes) in 40 steps


def test_save_load_gives_the_same_samples_for_a_seed(trained, tmp_path: Path) -> None:
    model, out, _ = trained
    config = json.loads((out / "config.json").read_text())
    assert config["family"] == "gan" and config["default_style"] == "pop" and config["training"]["step"] == 40
    loaded = family("gan").load(out)
    assert isinstance(loaded, GanModel) and loaded.config == model.config
    first, again = sample_phrases(model, 6, seed=3), sample_phrases(loaded, 6, seed=3)
    assert first.dtype == np.uint8 and first.shape == (6, 3, 4, 48, 84)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, sample_phrases(loaded, 6, seed=4))
    drawn = sample_phrases(loaded, 6, seed=3, bernoulli=True)
    assert np.array_equal(drawn, sample_phrases(model, 6, seed=3, bernoulli=True))
    # saved again from the loaded model: the same weights, byte for byte
    loaded.save(tmp_path / "again")
    assert (tmp_path / "again" / "model.safetensors").read_bytes() == (out / "model.safetensors").read_bytes()


def test_resume_after_a_kill_is_exact(tmp_path: Path) -> None:
    """3 steps, a checkpoint, a new process's view (a fresh model), 3 more == 6 at once;
    with chords, a given track and transposition in play."""
    config = GanConfig.tiny(chords=True, given_track=0)
    phrases = toy_phrases(8)
    settings = tiny_settings(steps=6, transpose=3)

    def fresh() -> GanModel:
        torch.manual_seed(5)
        return GanModel(config)

    whole = fresh()
    train_gan(whole, phrases, settings, tmp_path / "whole")
    killed = fresh()
    train_gan(killed, phrases, tiny_settings(steps=3, transpose=3), tmp_path / "split")
    assert load_checkpoint(tmp_path / "split" / CHECKPOINT).state["step"] == 3
    resumed = fresh()  # the weights come from the checkpoint, not from this
    result = train_gan(resumed, phrases, settings, tmp_path / "split")
    assert result.step == 6
    for (name, a), (_, b) in zip(whole.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert wasserstein(tmp_path / "whole") == wasserstein(tmp_path / "split")
    assert len(wasserstein(tmp_path / "split")) == 6
    whole_state = load_checkpoint(tmp_path / "whole" / CHECKPOINT).optimizer
    split_state = load_checkpoint(tmp_path / "split" / CHECKPOINT).optimizer
    assert len(whole_state["param_groups"]) == 2  # the generator's Adam and the critic's
    for key, moments in whole_state["state"].items():
        for name, tensor in moments.items():
            assert torch.equal(tensor, split_state["state"][key][name])


def test_ctrl_c_keeps_the_step_and_the_run_resumes_exactly(tmp_path: Path) -> None:
    phrases = toy_phrases(4)

    def stop_at_two(step: int) -> None:
        if step == 2:
            raise KeyboardInterrupt

    torch.manual_seed(0)
    whole = GanModel.tiny()
    train_gan(whole, phrases, tiny_settings(steps=4), tmp_path / "whole")
    torch.manual_seed(0)
    first = GanModel.tiny()
    with pytest.raises(KeyboardInterrupt):
        train_gan(first, phrases, tiny_settings(steps=4), tmp_path / "split", on_step=stop_at_two)
    assert load_checkpoint(tmp_path / "split" / CHECKPOINT).state["stopped"] == "interrupted"
    (tmp_path / "split" / LOG).open("a").write('{"step": 3, "torn')  # a line half-written at the kill
    resumed = GanModel.tiny()
    assert train_gan(resumed, phrases, tiny_settings(steps=4), tmp_path / "split").step == 4
    pairs = zip(whole.state_dict().values(), resumed.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    assert wasserstein(tmp_path / "split") == wasserstein(tmp_path / "whole")


def test_a_checkpoint_of_other_settings_is_refused(tmp_path: Path) -> None:
    phrases = toy_phrases(4)
    train_gan(GanModel.tiny(), phrases, tiny_settings(steps=1), tmp_path)
    with pytest.raises(InvalidArgumentError, match="another configuration"):
        train_gan(GanModel.tiny(), phrases, tiny_settings(steps=2, gp=5.0), tmp_path)
    with pytest.raises(InvalidArgumentError, match="no phrase"):
        train_gan(GanModel.tiny(), phrases[:0], tiny_settings(), tmp_path / "empty")


# ------------------------------------------------------------------------ the roll
def _grid_notes(score: symusic.Score, first: int, bars: int = 4) -> dict[tuple[int, int, int], int]:
    """{(track, onset step, pitch): end step} of POP909's tracks on the 12-a-beat grid that
    start in the window of ``bars`` 4/4 bars from bar ``first``, ends cut at the window's."""
    begin, end = first * 48, (first + bars) * 48
    slots = {"MELODY": 0, "BRIDGE": 1, "PIANO": 2}
    notes: dict[tuple[int, int, int], int] = {}
    for track in score.tracks:
        for note in track.notes:
            onset = round(note.time * 12 / score.tpq)
            stop = max(onset + 1, round(note.end * 12 / score.tpq))
            if begin <= onset < end and 24 <= note.pitch < 108:
                notes[(slots[track.name], onset - begin, note.pitch)] = min(stop, end) - begin
    return notes


def test_a_pop909_phrase_comes_back_note_for_note(datasets: Path) -> None:
    score = load_score(datasets / "pop909" / "001" / "001.mid")
    phrases = score_to_phrases(score)
    assert phrases.shape[1:] == (3, 4, 48, 84) and len(phrases) > 10
    assert len(phrases) == len(score_to_phrases(score, hop=4))
    checked = 0
    for index in range(len(phrases)):
        back = phrase_to_score(phrases[index], tempo=90.0)
        assert [t.name for t in back.tracks] == ["MELODY", "BRIDGE", "PIANO"]
        expected = phrases[index].copy()
        first_step = expected[:, 0, 0]
        first_step[first_step == HELD] = ONSET  # a note held over from the bar before starts the phrase
        assert np.array_equal(score_to_phrases(back)[0], expected)
        # every note of the original that starts in the window is there, at the grid
        original = _grid_notes(score, 4 * index)
        rebuilt = {
            (t, note.time // 40, note.pitch): (note.time + note.duration) // 40
            for t, track in enumerate(back.tracks)
            for note in track.notes
        }
        assert set(original) <= set(rebuilt)
        same_pitch_clash = {
            key
            for key in original
            for other in original
            if other[::2] == key[::2] and key[1] < other[1] < original[key]
        }
        for key, stop in original.items():
            if key not in same_pitch_clash:  # a note cut by the same pitch struck again ends there
                assert rebuilt[key] == stop, key
                checked += 1
    assert checked > 500


def test_repeated_notes_stay_apart_and_a_boolean_roll_merges() -> None:
    roll = np.zeros((3, 4, 48, 84), np.uint8)
    roll[0, 0, 0:12, 36] = HELD
    roll[0, 0, 0, 36] = ONSET
    roll[0, 0, 12, 36] = ONSET  # the same pitch struck again right after
    roll[0, 0, 13:24, 36] = HELD
    score = phrase_to_score(roll)
    assert [(n.time, n.duration, n.pitch) for n in score.tracks[0].notes] == [(0, 480, 60), (480, 480, 60)]
    merged = phrase_to_score(roll > 0)
    assert [(n.time, n.duration) for n in merged.tracks[0].notes] == [(0, 960)]


def test_a_lone_note_far_out_costs_its_windows_only() -> None:
    """Before, the whole piece's roll was allocated: 100,000 quarters of it for one note."""
    score = symusic.Score(480)
    track = symusic.Track("PIANO", 0, False)
    track.notes.append(symusic.Note(480 * 99_000, 480 * 1_000, 60, 80))  # 1,000 quarters long
    score.tracks.append(track)
    phrases = score_to_phrases(score)
    assert phrases.shape == (2, 3, 4, 48, 84)  # its window and the next: a note lasts at most a phrase
    assert (phrases == ONSET).sum() == 1 and (phrases == HELD).sum() == 4 * 48 - 1


def test_chords_of_bars() -> None:
    phrase = np.zeros((1, 3, 4, 48, 84), np.uint8)
    for pitch in (48, 52, 55):  # C major
        phrase[0, 2, 0, :, pitch - 24] = HELD
    for pitch in (57, 60, 64):  # A minor
        phrase[0, 2, 1, :, pitch - 24] = HELD
    phrase[0, 0, 2, :, 67 - 24] = HELD  # a G alone: G major is the nearest triad
    assert bar_chords(phrase).tolist() == [[0, 21, 7, NO_CHORD]]
    assert CHORDS[21] == "A:min" and chord_index("A:min7") == 21 and chord_index("N") == NO_CHORD


def test_generated_phrases_parse_back_inside_their_bars(trained) -> None:
    model, _, _ = trained
    for phrase in sample_phrases(model, 4, seed=11):
        score = phrase_to_score(phrase, tempo=100.0, programs=(0, 48, 0))
        again = symusic.Score.from_midi(score.dumps_midi())
        notes = [note for track in again.tracks for note in track.notes]
        assert len(notes) == int((phrase == ONSET).sum()) > 0  # a sampled roll turns on at an onset
        assert all(n.time >= 0 and n.time + n.duration <= 4 * 4 * again.tpq for n in notes)
        assert all(24 <= n.pitch < 108 for n in notes)
        programs = {"MELODY": 0, "BRIDGE": 48, "PIANO": 0}
        assert all(programs[t.name] == t.program for t in again.tracks)  # an empty track is not written


# ------------------------------------------------------------------------ conditions
def test_conditions_a_model_was_not_trained_on_are_refused() -> None:
    plain = GanModel.tiny()
    with pytest.raises(InvalidArgumentError, match="not trained on chords"):
        sample_phrases(plain, 2, 0, chords=[0, 5, 7, 0])
    with pytest.raises(InvalidArgumentError, match="accompany"):
        sample_phrases(plain, 2, 0, given=toy_phrases(1)[0, 0])
    accompanist = GanModel.tiny(chords=True, given_track=0)
    with pytest.raises(InvalidArgumentError, match="give one"):
        sample_phrases(accompanist, 2, 0)
    melody = toy_phrases(1)[0, 0]
    out = sample_phrases(accompanist, 3, 0, chords=[0, 5, 7, 0], given=melody)
    assert all(np.array_equal(row[0], melody) for row in out)
    assert np.array_equal(out, sample_phrases(accompanist, 3, 0, chords=[0, 5, 7, 0], given=melody))
    with pytest.raises(InvalidArgumentError, match="indices"):
        sample_phrases(accompanist, 1, 0, chords=[0, 5, 7, 99], given=melody)


def test_a_hostile_model_folder_is_refused_in_one_line(tmp_path: Path) -> None:
    model = GanModel.tiny()
    model.save(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "width": 10**6}))
    with pytest.raises(InputFileError, match=r"invalid config\.json"):
        GanModel.load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**config, "width": 16}))
    with pytest.raises(InputFileError, match=r"does not match its config\.json"):
        GanModel.load(tmp_path)


# ------------------------------------------------------------------------ the command
def test_train_gan_command(datasets: Path, tmp_path: Path) -> None:
    data = tmp_path / "midi"
    (data / "001").mkdir(parents=True)
    shutil.copy(datasets / "pop909" / "001" / "001.mid", data / "001")
    (data / "broken.mid").write_bytes(b"not a MIDI file")
    out = tmp_path / "model"
    args = ["train", "gan", "--data", str(data), "--out", str(out), "--preset", "tiny", "--steps", "2", "--quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "19 phrases from 1 files (1 unreadable, skipped)" in result.output
    assert (out / "model.safetensors").exists() and len(wasserstein(out)) == 2
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "--resume" in again.output and "Traceback" not in again.output
    more = CliRunner().invoke(app, [*args[:-2], "4", "--resume", "--quiet"])
    assert more.exit_code == 0, more.output
    assert len(wasserstein(out)) == 4
    (tmp_path / "empty").mkdir()
    empty = CliRunner().invoke(app, ["train", "gan", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
    assert empty.exit_code == 2 and "no phrase to train on" in empty.output and "empty" in empty.output


# ------------------------------------------------------------------------ many processes
TORCHRUN_APP = """
import sys
from pathlib import Path
import numpy as np, torch
sys.path.insert(0, {tests!r})
from test_gan import toy_phrases, tiny_settings
from cadenza.models.gan import GanModel
from cadenza.train.gan import train_gan
torch.manual_seed(0)
model = GanModel.tiny()
train_gan(model, toy_phrases(8), tiny_settings(steps=4, batch_size=8, transpose=2), Path(sys.argv[1]))
"""


@pytest.mark.slow
def test_two_gloo_processes_train_as_one_process_with_the_same_batch(tmp_path: Path) -> None:
    """torchrun with two CPU processes (gloo): each takes half of every batch and the
    gradients are averaged, so the weights and the logged estimates match one process's."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = tmp_path / "app.py"
    script.write_text(TORCHRUN_APP.format(tests=str(Path(__file__).parent)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={port}"]
    for command in (
        [sys.executable, str(script), str(tmp_path / "one")],
        [*launcher, str(script), str(tmp_path / "two")],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stderr[-3000:]
    assert wasserstein(tmp_path / "one") == pytest.approx(wasserstein(tmp_path / "two"), abs=1e-4)
    assert len(wasserstein(tmp_path / "two")) == 4
    one, two = (GanModel.load(tmp_path / name).state_dict() for name in ("one", "two"))
    for name, tensor in one.items():
        torch.testing.assert_close(tensor, two[name], atol=1e-4, rtol=1e-3)
    hardware = json.loads((tmp_path / "two" / "training.json").read_text())["result"]["hardware"]
    assert hardware.startswith("2 × CPU")
