"""`cadenza generate` on every shipped model: conditions met, exact lengths, provenance."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cadenza.analysis.key import key_segments, main_key
from cadenza.cli import app
from cadenza.compose import Composer, Conditions, Sampling
from cadenza.data.labels import parse_key
from cadenza.errors import InvalidArgumentError
from cadenza.io import load_score
from cadenza.io.summary import summarize
from cadenza.models.family import family
from cadenza.models.registry import PRETRAINED, check_safetensors, installed_models, locate
from cadenza.provenance.record import MARKER_PREFIX

runner = CliRunner()
SHIPPED = [model.name for model in installed_models()]
every_model = pytest.mark.parametrize("model", SHIPPED)
# the families that write any meter, style and instruments (the GAN writes 4/4 pop phrases
# and refuses the rest in one line: tests/test_gan_composer.py)
ANY_METER = [model.name for model in installed_models() if not family(model.family).writes_scores]
any_meter_model = pytest.mark.parametrize("model", ANY_METER)


def _generate(*args: str) -> str:
    result = runner.invoke(app, ["generate", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _refused(*args: str) -> str:
    result = runner.invoke(app, ["generate", *args])
    assert result.exit_code == 2, result.output
    return result.output


def test_the_shipped_models_are_safetensors_under_16_mb_and_the_default_is_one_of_them() -> None:
    assert {"cadenza-markov", "cadenza-transformer"} <= set(SHIPPED)
    for model in installed_models():
        check_safetensors(model.folder / "model.safetensors")
        assert model.weights_bytes <= 16 * 1024 * 1024
    assert (PRETRAINED / "DEFAULT").read_text().strip() in SHIPPED


@every_model
def test_same_seed_same_bytes_other_seed_other_music(tmp_path: Path, model: str) -> None:
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        out = str(tmp_path / f"{name}.mid")
        _generate("--model", model, "--mood", "happy", "--bars", "8", "--seed", seed, "-o", out)
    a, b, c = ((tmp_path / f"{n}.mid").read_bytes() for n in "abc")
    assert a == b
    assert a != c


@every_model
@pytest.mark.parametrize(("seconds", "tempo"), [(30, 100), (30, 72), (12.5, 133)])
def test_seconds_give_that_length_within_a_beat(tmp_path: Path, seconds: float, tempo: int, model: str) -> None:
    out = tmp_path / "len.mid"
    _generate("--model", model, "--seconds", str(seconds), "--tempo", str(tempo), "-o", str(out))
    length = summarize(load_score(out)).seconds
    assert abs(length - seconds) <= 60 / tempo


@any_meter_model
def test_bars_give_whole_bars_in_the_meter(tmp_path: Path, model: str) -> None:
    out = tmp_path / "waltz.mid"
    _generate("--model", model, "--bars", "12", "--meter", "3/4", "--tempo", "90", "-o", str(out))
    score = load_score(out)
    assert score.end() == 12 * 3 * score.tpq
    assert (score.time_signatures[0].numerator, score.time_signatures[0].denominator) == (3, 4)
    assert score.tempos[0].qpm == pytest.approx(90, abs=0.01)


@every_model
def test_key_f_sharp_minor_is_analysed_as_f_sharp_minor(tmp_path: Path, model: str) -> None:
    out = tmp_path / "fsm.mid"
    _generate("--model", model, "--key", "F# minor", "--bars", "16", "--seed", "3", "-o", str(out))
    key = main_key(key_segments(load_score(out)))
    assert key is not None and parse_key(key.label) == (6, "min")


@any_meter_model
def test_every_option_through_the_cli(tmp_path: Path, model: str) -> None:
    outputs = [tmp_path / f"cue.{ext}" for ext in ("mid", "musicxml", "wav", "png")]
    args = ["--style", "folk", "--mood", "sad", "--key", "D minor", "--tempo", "84", "--meter", "6/8", "--bars", "6"]
    args += ["--instruments", "violin,piano,cello", "--model", model, "--seed", "5", "--temperature", "0.9"]
    args += ["--top-k", "40", "--top-p", "0.9", "--count", "2"]
    for out in outputs:
        args += ["-o", str(out)]
    printed = _generate(*args)
    assert printed.count("wrote") == 8
    for number in (1, 2):
        midi = tmp_path / f"cue-{number}.mid"
        score = load_score(midi)
        assert [t.name for t in score.tracks] == ["violin", "piano", "cello"]
        assert [t.program for t in score.tracks] == [40, 0, 42]
        assert all(55 <= n.pitch <= 103 for n in score.tracks[0].notes)  # the violin's range
        assert score.key_signatures[0].key == -1 and score.key_signatures[0].tonality == 1  # D minor
        assert score.end() == 6 * 3 * score.tpq  # six bars of 6/8
        for ext in ("mid", "musicxml", "wav", "png"):
            assert (tmp_path / f"cue-{number}.{ext}").stat().st_size > 0
            assert (tmp_path / f"cue-{number}.{ext}.provenance.json").exists()
    assert (tmp_path / "cue-1.mid").read_bytes() != (tmp_path / "cue-2.mid").read_bytes()
    # an existing output is kept unless --force
    _refused(*args)
    _generate(*args, "--force")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bars", "8", "--seconds", "10"], "either --bars or --seconds"),
        (["--mood", "angry"], "calm, happy, sad, tense"),
        (["--meter", "7/8"], "4/4, 3/4"),
        (["--instruments", "banjo"], "piano"),
        (["--style", "jazz"], "pop, chorale"),
        (["--key", "H major"], "not understood"),
        (["--tempo", "500"], "30..240"),
        (["--temperature", "0"], "temperature"),
        (["--model", "nonexistent"], "installed"),
    ],
)
def test_unknown_or_contradictory_options_are_refused(tmp_path: Path, args: list[str], message: str) -> None:
    output = _refused(*args, "-o", str(tmp_path / "x.mid"))
    assert message in output
    assert not (tmp_path / "x.mid").exists()


def test_a_model_file_that_is_not_safetensors_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "evil"
    shipped = locate("default")
    folder.mkdir()
    for name in ("config.json", "tokenizer.json"):
        (folder / name).write_bytes((shipped / name).read_bytes())
    (folder / "model.safetensors").write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    output = _refused("--model", str(folder), "-o", str(tmp_path / "x.mid"))
    assert "not a safetensors file" in output
    weights = tmp_path / "model.pt"
    weights.write_bytes(pickle.dumps([1]))
    assert "not a safetensors file" in _refused("--model", str(weights), "-o", str(tmp_path / "y.mid"))


@every_model
def test_provenance_record_names_model_weights_conditions_and_sources(tmp_path: Path, model: str) -> None:
    out = tmp_path / "p.mid"
    _generate("--model", model, "--mood", "calm", "--seconds", "20", "--seed", "11", "-o", str(out))
    record = json.loads((tmp_path / "p.mid.provenance.json").read_text())
    weights = locate(model) / "model.safetensors"
    assert record["model"]["name"] == model
    assert record["model"]["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert record["seed"] == 11 and record["sampling"]["seed"] == 11
    assert record["conditions"]["mood"] == "calm" and record["conditions"]["seconds"] == pytest.approx(20)
    licences = {s["name"]: s["licence"] for s in record["training_sources"]}
    assert licences and set(licences.values()) <= {"MIT", "public-domain"}
    assert record["created"].startswith("20")
    markers = [m.text for m in load_score(out).markers]
    assert len(markers) == 1 and markers[0].startswith(MARKER_PREFIX)
    embedded = json.loads(markers[0][len(MARKER_PREFIX) :])
    assert embedded["music_sha256"] == record["music_sha256"] and "created" not in embedded


@every_model
def test_python_api_matches_the_cli(tmp_path: Path, model: str) -> None:
    composer = Composer.from_pretrained(model)
    score = composer.generate(Conditions(mood="tense", bars=4), Sampling(seed=2))
    assert score.note_num() > 0
    assert score.end() == 4 * 4 * score.tpq
    again = composer.generate(Conditions(mood="tense", bars=4), Sampling(seed=2))
    assert score.dumps_midi() == again.dumps_midi()
    out = tmp_path / "cli.mid"
    _generate("--model", model, "--mood", "tense", "--bars", "4", "--seed", "2", "--originality", "OFF", "-o", str(out))
    from_cli = load_score(out)
    assert [(n.time, n.duration, n.pitch) for t in from_cli.tracks for n in t.notes] == [
        (n.time, n.duration, n.pitch) for t in score.tracks for n in t.notes
    ]


@every_model
def test_regenerating_bars_changes_only_those_bars(model: str) -> None:
    composer = Composer.from_pretrained(model)
    conditions = Conditions(mood="happy", bars=8, instruments=("violin", "piano"))
    score = composer.generate(conditions, Sampling(seed=1))
    redone = composer.regenerate(score, 2, 4, conditions, Sampling(seed=5))
    bar = 4 * score.tpq

    def notes(piece, first: int, last: int) -> list[tuple[int, int, int, int]]:
        return sorted(
            (i, n.time, n.duration, n.pitch)
            for i, t in enumerate(piece.tracks)
            for n in t.notes
            if first * bar <= n.time < last * bar
        )

    assert notes(redone, 0, 2) == notes(score, 0, 2)
    assert notes(redone, 4, 8) == notes(score, 4, 8)
    assert notes(redone, 2, 4) != notes(score, 2, 4)
    assert notes(redone, 2, 4)  # the bars are not left empty
    for track in redone.tracks:
        fresh = [n for n in track.notes if 2 * bar <= n.time < 4 * bar]
        assert all(n.time + n.duration <= 4 * bar for n in fresh)  # nothing new sounds past the bars redone
        held: dict[int, int] = {}  # pitch -> when its last note ends: a key is not struck while it sounds
        for n in sorted(track.notes, key=lambda n: (n.time, n.pitch)):
            assert n.time >= held.get(n.pitch, 0), (track.name, n)
            held[n.pitch] = max(held.get(n.pitch, 0), n.time + n.duration)


def test_regenerate_refuses_a_score_it_did_not_make() -> None:
    """A user's multi-track file crashed it (zip() argument 2 is shorter); `cadenza infill` is for those."""
    composer = Composer.from_pretrained("cadenza-transformer")
    user = load_score(Path(__file__).resolve().parents[1] / "cadenza" / "examples" / "bwv66.6.mid")
    with pytest.raises(InvalidArgumentError, match="cadenza infill"):
        composer.regenerate(user, 1, 2, Conditions(mood="calm", bars=8), Sampling(seed=1))
