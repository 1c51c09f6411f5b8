"""A cue sheet composed and delivered: exact lengths, hit points, layers, stems, loops, the JSON cue sheet."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest
import symusic
import yaml
from typer.testing import CliRunner

from cadenza.cli import app
from cadenza.compose.composer import Composer
from cadenza.compose.cue import read_cue
from cadenza.compose.delivery import SAMPLE_RATE
from cadenza.compose.soundtrack import compose_cue
from cadenza.io.audio import synthesizer
from cadenza.io.stems import seam_discontinuity
from cadenza.models.sampling import Sampling

needs_synth = pytest.mark.skipif(synthesizer() is None, reason="no synthesizer installed")

SCENE = {
    "title": "Door",
    "seconds": 20,
    "key": "E minor",
    "tempo": 120,
    "sections": [
        {"name": "wait", "seconds": 6, "mood": "calm", "intensity": 0.3},
        {"name": "search", "intensity": "builds"},
        {"name": "found", "seconds": 6, "intensity": 0.9},
    ],
    "hits": [{"at": 6.0, "kind": "stinger", "name": "door opens"}, {"at": 11.25, "kind": "accent", "name": "step"}],
}


def _frames(path: Path) -> np.ndarray:
    with wave.open(str(path)) as file:
        assert file.getframerate() == SAMPLE_RATE and file.getnchannels() == 2
        return np.frombuffer(file.readframes(file.getnframes()), "<i2").reshape(-1, 2).astype(np.int64)


@pytest.fixture(scope="module")
def composer() -> Composer:
    return Composer.from_pretrained("cadenza-multitrack")


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cue")
    (folder / "scene.yaml").write_text(yaml.safe_dump(SCENE))
    result = CliRunner().invoke(app, ["soundtrack", str(folder / "scene.yaml"), "-o", str(folder / "out"), "--stems"])
    assert result.exit_code == 0, result.output
    return folder / "out"


@needs_synth
def test_the_mix_and_every_stem_last_exactly_the_cue_to_the_sample(delivered: Path) -> None:
    mix = _frames(delivered / "mix.wav")
    assert len(mix) == round(20 * SAMPLE_RATE)
    stems = sorted((delivered / "stems").glob("*.wav"))
    assert [p.stem for p in stems] == sorted(["pad", "melody", "bass", "rhythm", "percussion"])
    for stem in stems:
        assert len(_frames(stem)) == len(mix)


@needs_synth
def test_the_stems_sum_to_the_mix_within_rounding(delivered: Path) -> None:
    mix = _frames(delivered / "mix.wav")
    total = sum(_frames(p) for p in (delivered / "stems").glob("*.wav"))
    assert np.max(np.abs(total - mix)) <= 5  # one rounding per stem at most
    assert np.max(np.abs(mix)) > 10_000  # and it is music, not silence


def test_the_midi_file_ends_exactly_at_the_cues_length_and_hits_land_at_their_seconds(delivered: Path) -> None:
    score = symusic.Score(str(delivered / "cue.mid"))
    seconds = score.to("second")
    ends = [n.time + n.duration for t in score.tracks for n in t.notes]
    end_marker = next(m for m in score.markers if m.text == "end")
    assert max(ends) <= end_marker.time
    tick_seconds = 60 / 140 / score.ticks_per_quarter  # one tick at the fastest tempo here
    seconds_end = next(m for m in seconds.markers if m.text == "end").time
    assert seconds_end == pytest.approx(20.0, abs=tick_seconds)
    for label, at in (("stinger: door opens", 6.0), ("accent: step", 11.25)):
        marker = next(m for m in seconds.markers if m.text == label)
        assert marker.time == pytest.approx(at, abs=0.010)  # within 10 ms (in fact within a tick)
        drums = next(t for t in seconds.tracks if t.is_drum)
        crash = [n for n in drums.notes if n.pitch == 49 and abs(n.time - at) < 0.001]
        assert crash, f"no crash on the hit at {at} s"
    sections = {m.text: m.time for m in seconds.markers if m.text.startswith("section: ")}
    assert sections == pytest.approx({"section: wait": 0.0, "section: search": 6.0, "section: found": 14.0}, abs=1e-3)


def test_the_json_cue_sheet_validates_and_says_where_everything_is(delivered: Path) -> None:
    from cadenza.schemas import validate

    sheet = json.loads((delivered / "cue.json").read_text())
    assert validate(sheet, "cue-sheet") == []
    assert sheet["samples"] == round(20 * SAMPLE_RATE) and sheet["loop"] is None
    assert [s["name"] for s in sheet["sections"]] == ["wait", "search", "found"]
    assert [s["start"] for s in sheet["sections"]] == pytest.approx([0.0, 6.0, 14.0])
    assert [(s["kind"], s["seconds"]) for s in sheet["stingers"]] == [("stinger", 6.0), ("accent", 11.25)]
    assert sheet["bars"][0]["seconds"] == 0.0 and len(sheet["bars"]) == sum(s["bars"] for s in sheet["sections"])
    assert {layer["name"]: layer["file"] for layer in sheet["layers"]}["pad"] == "stems/pad.wav"
    top = sheet["intensity_levels"][-1]
    assert top["layers"] == ["pad", "melody", "bass", "rhythm", "percussion"]


def test_every_file_carries_a_signed_record_that_verifies(delivered: Path) -> None:
    for path in [delivered / "mix.wav", delivered / "cue.mid", delivered / "cue.json", delivered / "stems" / "pad.wav"]:
        result = CliRunner().invoke(app, ["verify", str(path)])
        assert result.exit_code == 0, result.output
    record = json.loads((delivered / "stems" / "pad.wav.provenance.json").read_text())
    assert record["file"] == {"kind": "stem", "layer": "pad"}  # a stem's record says which layer it is
    assert record["conditions"]["asked"]["cue sheet"]["title"] == "Door"


def test_a_layer_plays_only_the_bars_whose_intensity_reaches_its_level(composer: Composer) -> None:
    cue = read_cue(SCENE)
    soundtrack = compose_cue(composer, cue, Sampling(seed=3))
    bar = soundtrack.bar_ticks
    intensity = cue.intensity
    for index, layer in enumerate(cue.layers):
        playing = {n.time // bar for n in soundtrack.score.tracks[index].notes}
        stinger_bar = round(cue.hit_quarters[0] / cue.bar_quarters)
        for b in playing - {stinger_bar}:
            assert intensity[b] >= layer.enters_at - 1e-9, (layer.name, b, intensity[b])
    drums = soundtrack.score.tracks[[layer.name for layer in cue.layers].index("percussion")]
    loud_bars = [b for b, v in enumerate(intensity) if v >= 0.8]
    assert {n.time // bar for n in drums.notes} >= set(loud_bars)


def test_the_same_cue_and_seed_give_the_same_music(composer: Composer) -> None:
    cue = read_cue({**SCENE, "hits": []})
    first = compose_cue(composer, cue, Sampling(seed=5)).score
    again = compose_cue(composer, cue, Sampling(seed=5)).score
    assert first.dumps_midi() == again.dumps_midi()


@needs_synth
def test_a_loop_ends_on_the_dominant_of_its_start_and_its_audio_seam_has_no_click(
    composer: Composer, tmp_path: Path
) -> None:
    data = {"seconds": 16, "tempo": 120, "key": "G major", "loop": True, "intensity": 0.7}
    result = CliRunner().invoke(
        app, ["generate", "--loop", "--seconds", "16", "--key", "G major", "-o", str(tmp_path / "loop.wav")]
    )
    assert result.exit_code == 0, result.output
    audio = _frames(tmp_path / "loop.wav")
    assert len(audio) == 16 * SAMPLE_RATE
    jump, typical = seam_discontinuity(audio.astype(np.float64))
    assert jump <= typical
    assert np.max(np.abs(audio[-SAMPLE_RATE // 10 :])) > 0  # a loop does not fade out
    sheet = json.loads((tmp_path / "loop.cue.json").read_text())
    assert sheet["loop"] == {"start": 0.0, "end": 16.0, "start_sample": 0, "end_sample": 16 * SAMPLE_RATE}
    soundtrack = compose_cue(composer, read_cue(data), Sampling(seed=0))
    last = soundtrack.plan.sections[-1].controls[-1].chord
    assert last == "D:7"  # the dominant of G, leading back to the first bar
    end = soundtrack.end_tick
    assert all(n.time + n.duration <= end for t in soundtrack.score.tracks for n in t.notes)
    last_bar = range(end - soundtrack.bar_ticks, end)
    assert any(n.time in last_bar for t in soundtrack.score.tracks[:4] for n in t.notes)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hits": [{"at": 25}]}, "hits[0].at: 25 s is outside the cue"),
        ({"seconds": 10}, "take 12.000 s, more than the cue's 10 s"),
        ({"tempo": 0}, "tempo 0 bpm is outside"),
        ({"instruments": ["theremin"]}, "unknown instrument 'theremin'"),
    ],
)
def test_a_bad_cue_sheet_gets_one_line_and_exit_2_and_nothing_is_written(
    tmp_path: Path, change: dict, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**SCENE, **change}))
    result = CliRunner().invoke(app, ["soundtrack", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert message in result.output and str(path) in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_an_existing_soundtrack_is_not_overwritten_without_force(delivered: Path, tmp_path: Path) -> None:
    before = (delivered / "mix.wav").read_bytes()
    path = tmp_path / "scene.yaml"
    path.write_text(yaml.safe_dump(SCENE))
    result = CliRunner().invoke(app, ["soundtrack", str(path), "-o", str(delivered), "--seed", "9"])
    assert result.exit_code == 2 and "exists already" in result.output
    assert (delivered / "mix.wav").read_bytes() == before


@needs_synth
@pytest.mark.parametrize("model", ["cadenza-markov", "cadenza-multitrack"])
def test_a_45_second_piece_renders_as_exactly_45_seconds_of_audio(model: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["generate", "--mood", "tense", "--seconds", "45", "--model", model, "-o", str(tmp_path / "cue.wav")]
    )
    assert result.exit_code == 0, result.output
    assert len(_frames(tmp_path / "cue.wav")) == 45 * SAMPLE_RATE
