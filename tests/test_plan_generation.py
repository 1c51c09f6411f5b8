"""Generation follows the plan with a multitrack model: the bars a varied section copies
are note for note its original's, a bar's chord control is the plan's and its notes
follow it, the same seed gives the same bytes, and `cadenza generate --plan FILE`
writes the plan's bars (or says in one line why it cannot)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import symusic
import torch
from typer.testing import CliRunner

from cadenza.analysis.bars import bar_count
from cadenza.cli import app
from cadenza.compose import Composer, Conditions, compose_piece
from cadenza.compose.multitrack_composer import MultitrackComposer, bar_asks, follow_plan
from cadenza.compose.plan import BarControl, Plan, Section
from cadenza.compose.planner import bar_sources
from cadenza.errors import InvalidArgumentError
from cadenza.models import multitrack_tokens as mt
from cadenza.models.family import torch_threads
from cadenza.models.multitrack import MultitrackModel
from cadenza.models.sampling import Sampling
from cadenza.train.multitrack import MaskMix, MultitrackTask
from cadenza.train.trainer import TrainConfig, train

TPQ, BAR = 480, 1920
C_TONES, G_TONES = {0, 4, 7}, {7, 11, 2}
CHORDS = {"C:maj": C_TONES, "G:maj": G_TONES}


def c_and_g(bars: int = 4, first: int = 0) -> symusic.Score:
    """A C-major piece whose bars alternate C and G (G first with ``first=1``): melody,
    harmony and bass on the chord's tones only."""
    score = symusic.Score(TPQ)
    score.tempos.append(symusic.Tempo(0, qpm=100.0))
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    melody, harmony, bass = (symusic.Track(n, p) for n, p in (("melody", 0), ("harmony", 0), ("bass", 33)))
    for b in range(bars):
        root = 60 if (b + first) % 2 == 0 else 55
        triad = (0, 4, 7)
        for beat, step in enumerate((0, 4, 7, 12)):
            melody.notes.append(symusic.Note(b * BAR + beat * TPQ, TPQ, root + step, 84 + 8 * (beat % 2)))
        for interval in triad:
            harmony.notes.append(symusic.Note(b * BAR, BAR, root + interval, 60))
        for half in range(2):
            bass.notes.append(symusic.Note(b * BAR + half * 2 * TPQ, 2 * TPQ, root - 12, 68))
    score.tracks.extend([melody, harmony, bass])
    return score


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny multitrack model overfit on :func:`c_and_g` both ways round (every cell a
    hole, or the last bars of every track), saved as a model folder: with the same heads, only a bar's chord control
    tells it whether to write that bar on C or on G."""
    torch.manual_seed(0)
    pieces = [mt.tokenize(c_and_g(4, first), roles=["melody", "harmony", "bass"], style="pop") for first in (0, 1)]
    model = MultitrackModel.tiny(block_size=256)
    mix = MaskMix(block=0, track=0, continuation=1, everything=1, nothing=0, transpose=0)
    task = MultitrackTask(pieces, pieces, 256, batch_size=4, mix=mix, start_share=1.0, valid_examples=1)
    config = TrainConfig(steps=200, batch_size=4, window=256, lr=1e-2, min_lr=1e-3, warmup=10, eval_every=200)
    out = tmp_path_factory.mktemp("multitrack-model")
    with torch_threads(1):  # the same arithmetic, so the same model, whatever threads the run was given
        result = train(model, task, config, out, progress=False)
    assert result.best_valid < 0.1, result
    return out


def a_and_a_prime(varied_bar: int = 7) -> Plan:
    """16 bars: A (C G C G ...), then A′ repeating it with bar ``varied_bar`` on C instead of G."""
    chords = ["C:maj", "G:maj"] * 4
    varied = list(chords)
    varied[varied_bar] = "C:maj"
    a = Section("A", 8, "C:maj", 100.0, "4/4", controls=tuple(BarControl(c, 0.6) for c in chords))
    a2 = Section("A'", 8, "C:maj", 100.0, "4/4", repeat_of="A", controls=tuple(BarControl(c, 0.7) for c in varied))
    return Plan((a, a2), "pop", ("piano", "strings", "bass"))


def bar_notes(score: symusic.Score, track: int, bar: int) -> list[tuple[int, int, int, int]]:
    """(onset within the bar, pitch, duration, velocity) of the notes that start in ``bar``."""
    return sorted(
        (n.time - bar * BAR, n.pitch, n.duration, n.velocity)
        for n in score.tracks[track].notes
        if bar * BAR <= n.time < (bar + 1) * BAR
    )


def test_the_bars_a_varied_section_copies_are_note_for_note_the_original(folder: Path) -> None:
    plan = a_and_a_prime()
    assert bar_sources(plan) == [None] * 8 + list(range(7)) + [None]
    composer = Composer.from_pretrained(folder)
    assert isinstance(composer, MultitrackComposer) and composer.follows_plans
    score = composer.generate(Conditions(), Sampling(seed=4), plan=plan)
    assert [t.name for t in score.tracks] == ["piano", "strings", "bass"]  # the instruments asked for
    assert [t.program for t in score.tracks] == [0, 48, 33]
    for track in range(3):
        for bar in range(6):
            assert bar_notes(score, track, bar) and bar_notes(score, track, 8 + bar) == bar_notes(score, track, bar)
        # bar 6's copy leads into the varied bar: a note held over is cut where that bar strikes its key again
        assert [(t, p, v) for t, p, _, v in bar_notes(score, track, 14)] == [
            (t, p, v) for t, p, _, v in bar_notes(score, track, 6)
        ]
    assert bar_notes(score, 0, 15) != bar_notes(score, 0, 7)  # the varied bar is written afresh, on C
    assert bar_count(score) == 16


def test_a_repeat_in_another_key_plays_its_original_moved_there(folder: Path) -> None:
    chords = ("C:maj", "G:maj") * 2
    a = Section("A", 4, "C:maj", 100.0, "4/4", controls=tuple(BarControl(c, 0.5) for c in chords))
    up = Section(
        "A'",
        4,
        "D:maj",
        100.0,
        "4/4",
        repeat_of="A",
        controls=tuple(BarControl(c, 0.5) for c in ("D:maj", "A:maj") * 2),
    )
    plan = Plan((a, up), "pop", ("piano", "piano", "piano"))  # a bass would fold what D lifts past its 67
    assert bar_sources(plan) == [None] * 4 + [0, 1, 2, 3]
    score = follow_plan(MultitrackModel.load(folder), plan, Sampling(seed=5))
    for track in range(3):
        for bar in range(3):
            moved = [(t, p + 2, d, v) for t, p, d, v in bar_notes(score, track, bar)]
            assert moved and bar_notes(score, track, 4 + bar) == moved
    assert [k.key for k in score.key_signatures] == [0, 2] and [k.time for k in score.key_signatures] == [0, 4 * BAR]


def test_each_bar_gets_the_plans_chord_and_its_notes_follow_it(folder: Path) -> None:
    asks = bar_asks(a_and_a_prime())
    assert [a.tokens()["Chord"] for a in asks[:2]] == [mt.IDS["Chord_C:maj"], mt.IDS["Chord_G:maj"]]
    assert asks[15].chord == "C:maj" and asks[7].chord == "G:maj" and asks[0].intensity == 3
    model = MultitrackModel.load(folder)
    shares = []
    for pattern in (("C:maj", "G:maj") * 2, ("G:maj", "C:maj") * 2):  # the same bar asked C, then G
        controls = tuple(BarControl(chord, 0.5) for chord in pattern)
        plan = Plan((Section("A", 4, "C:maj", 100.0, "4/4", controls=controls),), "pop", ("piano", "piano", "bass"))
        score = follow_plan(model, plan, Sampling(seed=1))
        for bar, chord in enumerate(pattern):
            pitches = [p for t in range(3) for _, p, _, _ in bar_notes(score, t, bar)]
            share = sum(p % 12 in CHORDS[chord] for p in pitches) / len(pitches)
            assert share >= 0.6, (chord, bar, pitches)
            shares.append(share)
    assert sum(shares) / len(shares) >= 0.9  # the asked chord's tones dominate every bar


def test_the_same_seed_gives_the_same_bytes(folder: Path, tmp_path: Path) -> None:
    composer = Composer.from_pretrained(folder)
    paths = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        composer.generate(Conditions(bars=12, key="G major"), Sampling(seed=seed)).dump_midi(str(tmp_path / name))
        paths.append((tmp_path / name).read_bytes())
    assert paths[0] == paths[1] and paths[0] != paths[2]
    plan = composer.plan(Conditions(bars=12, key="G major"), Sampling(seed=7))
    assert plan.bars == 12 and plan.sections[0].key == "G:maj"


def test_the_signed_pipeline_composes_with_a_multitrack_model(folder: Path) -> None:
    piece = compose_piece(Composer.from_pretrained(folder), Conditions(), Sampling(seed=2), plan=a_and_a_prime())
    assert piece.report is None and any("no index" in w or "not checked" in w for w in piece.warnings)
    conditions = piece.record["conditions"]
    assert isinstance(conditions, dict) and conditions["plan"] == a_and_a_prime().to_dict()
    assert bar_count(piece.score) == 16


def test_a_plan_that_changes_meter_is_refused_naming_the_section(folder: Path) -> None:
    sections = (Section("A", 4, "C", 100.0, "4/4"), Section("B", 4, "C", 100.0, "3/4"))
    with pytest.raises(InvalidArgumentError, match=r"section 'B' is in 3/4.*one meter per piece"):
        Composer.from_pretrained(folder).generate(Conditions(), Sampling(), plan=Plan(sections, "pop"))


def test_generate_plan_file_with_a_multitrack_model_writes_the_plans_bars(folder: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(a_and_a_prime().to_json())
    out = tmp_path / "song.mid"
    args = ["generate", "--model", str(folder), "--plan", str(plan_file), "-o", str(out), "--seed", "3"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert bar_count(symusic.Score(str(out))) == 16
    assert "16 bars" in result.output


def test_generate_plan_file_with_the_shipped_multitrack_model_writes_every_section(tmp_path: Path) -> None:
    plan = Plan((Section("A", 2, "D:min", 90.0, "3/4", mood="sad"), Section("B", 2, "F:maj", 120.0, "3/4")), "pop")
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(plan.to_json())
    out = tmp_path / "song.mid"
    args = ["generate", "--plan", str(plan_file), "--model", "cadenza-multitrack", "-o", str(out)]
    result = CliRunner().invoke(app, [*args, "--originality", "OFF"])
    assert result.exit_code == 0, result.output
    assert "first section" not in result.output
    score = symusic.Score(str(out))
    assert bar_count(score) == 4 and [t.numerator for t in score.time_signatures] == [3]
    assert [(t.time, round(t.qpm)) for t in score.tempos] == [(0, 90), (2 * 3 * score.tpq, 120)]
    assert [(k.time, k.key, k.tonality) for k in score.key_signatures] == [(0, -1, 1), (2 * 3 * score.tpq, -1, 0)]


def test_generate_plan_file_with_the_default_model_follows_its_first_section_and_warns(tmp_path: Path) -> None:
    plan = Plan((Section("A", 2, "D:min", 90.0, "3/4", mood="sad"), Section("B", 2, "F:maj", 120.0, "3/4")), "pop")
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(plan.to_json())
    out = tmp_path / "song.mid"
    result = CliRunner().invoke(app, ["generate", "--plan", str(plan_file), "-o", str(out), "--originality", "OFF"])
    assert result.exit_code == 0, result.output
    assert "follows a plan's first section" in " ".join(result.output.split())
    score = symusic.Score(str(out))
    assert bar_count(score) == 4 and score.time_signatures[0].numerator == 3
    assert round(score.tempos[0].qpm) == 90


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "not a plan"),
        (json.dumps({"style": "pop", "sections": []}), "at least one section"),
        (
            json.dumps(
                {"style": "pop", "sections": [{"name": "A", "bars": 4, "key": "H", "tempo": 90, "meter": "4/4"}]}
            ),
            "H",
        ),
    ],
)
def test_a_bad_plan_file_is_refused_in_one_line(tmp_path: Path, content: str, reason: str) -> None:
    plan_file = tmp_path / "bad.json"
    plan_file.write_text(content)
    out = tmp_path / "song.mid"
    result = CliRunner().invoke(app, ["generate", "--plan", str(plan_file), "-o", str(out)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "bad.json" in lines[0] and reason in lines[0], result.output
    assert not out.exists()


def test_plan_with_a_condition_option_is_refused(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(a_and_a_prime().to_json())
    args = ["generate", "--plan", str(plan_file), "--key", "D", "-o", str(tmp_path / "a.mid")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "--key cannot be given with --plan" in result.output


def test_generate_refuses_a_plan_that_changes_meter_in_one_line(tmp_path: Path) -> None:
    MultitrackModel.tiny().save(tmp_path / "mt")  # untrained: refused before anything is composed
    sections = (Section("A", 4, "C", 100.0, "4/4"), Section("B", 4, "C", 100.0, "3/4"))
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(Plan(sections, "pop").to_json())
    out = tmp_path / "a.mid"
    args = ["generate", "--model", str(tmp_path / "mt"), "--plan", str(plan_file), "-o", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "one meter per piece" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_unnamed_tracks_get_the_roles_the_analysis_hears() -> None:
    """Three tracks all called "Piano": a tune on top, a line below it, chords under both.
    The roles come from the notes (a name that says nothing decides nothing)."""
    score = symusic.Score(TPQ)
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    tune, line, chords = (symusic.Track("Piano", 0) for _ in range(3))
    for beat in range(16):
        tune.notes.append(symusic.Note(beat * TPQ, TPQ, 76 + (0, 2, 4, 2)[beat % 4], 90))
        line.notes.append(symusic.Note(beat * TPQ + TPQ // 2, TPQ, 64 + (0, 3, 5, 3)[beat % 4], 70))
    for bar in range(4):
        for pitch in (48, 52, 55):
            chords.notes.append(symusic.Note(bar * BAR, BAR, pitch, 60))
    drums = symusic.Track("Kit", 0, True)
    drums.notes.append(symusic.Note(0, 120, 36, 100))
    score.tracks.extend([tune, line, chords, drums, symusic.Track("Bass", 33)])
    roles = [head.role for head in mt.tokenize(score).tracks]
    assert roles == ["melody", "counter", "harmony", "drums", "bass"]


def test_regenerating_the_last_bar_keeps_the_piece_exactly_as_long(folder: Path) -> None:
    composer = Composer.from_pretrained(folder)
    conditions = Conditions(seconds=10.5, tempo=100.0)  # 4 bars of 4/4 and a held tail
    plan = composer.plan(conditions, Sampling(seed=1))
    assert plan.tail_quarters > 0
    length = plan.bars * BAR + round(plan.tail_quarters * TPQ)
    score = composer.generate(conditions, Sampling(seed=1), plan=plan)
    assert score.end() == length
    redone = composer.regenerate(score, plan.bars - 1, plan.bars, conditions, Sampling(seed=2), plan=plan)
    assert redone.end() == length
    assert [bar_notes(redone, t, b) for t in range(3) for b in range(plan.bars - 1)] == [
        bar_notes(score, t, b) for t in range(3) for b in range(plan.bars - 1)
    ]


def test_an_instrument_playing_several_roles_names_each_track_with_its_role() -> None:
    from cadenza.compose.conditions import instruments_of
    from cadenza.compose.multitrack_composer import role_tracks, track_names

    assert track_names(role_tracks(instruments_of(("violin", "piano", "cello")))) == ["violin", "piano", "cello"]
    two = track_names(role_tracks(instruments_of(("violin", "piano"))))
    assert two == ["violin", "piano (harmony)", "piano (bass)"]
