"""The multitrack family: its tokens go round trip, a tiny model overfits one piece of
three tracks and writes it back from the track heads alone, infilling replaces only the
asked cells (every other note stays as it was), and the same seed gives the same bytes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import symusic
import torch

from cadenza.errors import InputFileError, InvalidArgumentError
from cadenza.models import multitrack_tokens as mt
from cadenza.models.family import family
from cadenza.models.multitrack import BarAsk, MultitrackModel, _context, continue_, infill
from cadenza.models.sampling import Sampling
from cadenza.models.transformer import Stepper, TransformerConfig
from cadenza.train.multitrack import MaskMix, MultitrackTask, fill_nll, transposed
from cadenza.train.trainer import TrainConfig, train

EXAMPLE = Path(__file__).resolve().parents[1] / "cadenza" / "examples" / "bwv66.6.mid"
GREEDY = Sampling(top_k=1, seed=0)


def _velocity(bin_: int) -> int:
    return 8 * bin_ + 4  # the middle of a velocity bin: what decoding writes back


def three_tracks(bars: int = 4) -> symusic.Score:
    """Melody (quarter notes), chords (whole-bar triads) and bass (half notes) in 4/4, on the grid."""
    tpq, bar = 480, 1920
    score = symusic.Score(tpq)
    score.tempos.append(symusic.Tempo(0, qpm=100.0))
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    melody, chords, bass = (symusic.Track(n, p) for n, p in (("melody", 0), ("piano", 0), ("bass", 33)))
    roots = [60, 65, 67, 60, 62, 57, 64, 60][:bars]
    tunes = [(0, 4, 7, 4), (0, 2, 4, 5), (7, 5, 4, 2), (4, 2, 0, 0), (2, 4, 5, 2), (0, 3, 7, 3), (4, 7, 11, 7)]
    for b, root in enumerate(roots):
        third = 3 if root in (62, 57, 64) else 4
        for beat, step in enumerate(tunes[b % len(tunes)]):
            melody.notes.append(symusic.Note(b * bar + beat * tpq, tpq, root + 12 + step, _velocity(9 + beat % 3)))
        for interval in (0, third, 7):
            chords.notes.append(symusic.Note(b * bar, bar, root + interval, _velocity(7)))
        for half in range(2):
            bass.notes.append(symusic.Note(b * bar + half * 2 * tpq, 2 * tpq, root - 24, _velocity(8 + half)))
    score.tracks.extend([melody, chords, bass])
    return score


def notes_of(track: symusic.Track) -> list[tuple[int, int, int, int]]:
    return sorted((n.time, n.duration, n.pitch, n.velocity) for n in track.notes)


def quantised(score: symusic.Score) -> list[list[tuple[int, int, int, int]]]:
    """Every track's notes as the tokens see them: (onset, pitch, duration, velocity bin) on the grid."""
    out = []
    for track in score.tracks:
        notes, _ = mt.quantised_notes(track, score.ticks_per_quarter)
        out.append(
            sorted(zip(*(a.tolist() for a in (notes.onset, notes.pitch, notes.duration, notes.velocity)), strict=True))
        )
    return out


# ------------------------------------------------------------------------------- tokens
def test_round_trip_reproduces_every_note() -> None:
    score = three_tracks()
    drums = symusic.Track("drums", 0, True)
    for beat in range(16):
        drums.notes.append(symusic.Note(beat * 480, 120, 36 if beat % 2 == 0 else 38, _velocity(12)))
    drums.notes.append(symusic.Note(480, 80, 42, _velocity(5)))  # two hits at one onset
    long_note = symusic.Note(3 * 480, 6 * 480, 48, _velocity(3))  # held across the bar line
    score.tracks[2].notes.append(long_note)
    score.tracks.append(drums)
    ids = mt.encode(score, roles=["melody", "harmony", "bass", "drums"])
    back = mt.decode(ids)
    assert [t.program for t in back.tracks] == [0, 0, 33, 0]
    assert [t.is_drum for t in back.tracks] == [False, False, False, True]
    assert [t.name for t in back.tracks] == ["melody", "harmony", "bass", "drums"]
    for original, decoded in zip(score.tracks, back.tracks, strict=True):
        assert notes_of(decoded) == notes_of(original)
    assert mt.encode(back, roles=["melody", "harmony", "bass", "drums"])[:4] == ids[:4]


def test_round_trip_of_pop909_songs_keeps_every_quantised_note(pop909_files: list[Path]) -> None:
    for path in pop909_files[:3]:
        score = symusic.Score(str(path))
        back = mt.decode(mt.encode(score))
        assert len(back.tracks) == len(score.tracks) == 3
        assert quantised(back) == quantised(score), path.name
        assert sum(len(t) for t in quantised(score)) == sum(len(t.notes) for t in score.tracks)


def test_holes_move_a_cell_to_the_end_with_its_controls() -> None:
    piece = mt.tokenize(three_tracks())
    plain, holed = piece.tokens(), piece.tokens([(1, 2)])
    assert len(holed) == len(plain) + 3  # Fill, FillStart, FillEnd
    cell = piece.controls[1][2] + piece.notes[1][2]
    assert holed[-len(cell) - 3 :] == [mt.FILL_START, *cell, mt.FILL_END, mt.EOS]
    assert mt.decode(holed).tracks[1].notes == mt.decode(plain).tracks[1].notes
    assert mt.NAMES[piece.controls[1][2][2]] == "Chord_G:maj"  # the analysis hears the bar's triad


def test_an_empty_bar_is_density_zero_alone() -> None:
    score = three_tracks()
    score.tracks[0].notes.clear()
    piece = mt.tokenize(score)
    assert piece.controls[0] == [[mt.IDS["Density_0"]]] * 4
    assert piece.notes[0] == [[]] * 4


def test_a_meter_the_tokens_do_not_write_gives_way_to_the_one_heard() -> None:
    score = three_tracks()
    score.time_signatures[0] = symusic.TimeSignature(0, 1, 4)  # as 617 of POP909's files state
    piece = mt.tokenize(score)
    assert piece.meter == "4/4" and piece.bars == 4


def test_transposition_moves_pitches_and_chord_roots() -> None:
    piece = mt.tokenize(three_tracks())
    up = transposed(piece, 2)
    assert up is not None
    assert mt.NAMES[up.controls[1][0][2]] == "Chord_D:maj"
    back = mt.decode(up.tokens())
    assert [n.pitch for n in back.tracks[2].notes] == [n.pitch + 2 for n in three_tracks().tracks[2].notes]
    assert transposed(piece, 60) is None  # out of the piano's range


# --------------------------------------------------------------------------- the model
@pytest.fixture(scope="module")
def overfit(tmp_path_factory: pytest.TempPathFactory) -> MultitrackModel:
    """A tiny model trained on one piece with every cell a hole: it learns to write the
    piece from its header and track heads alone."""
    torch.manual_seed(0)
    piece = mt.tokenize(three_tracks(), roles=["melody", "harmony", "bass"])
    model = MultitrackModel.tiny(block_size=256)
    mix = MaskMix(block=0, track=0, continuation=0, everything=1, nothing=0, transpose=0)
    task = MultitrackTask([piece], [piece], 256, batch_size=4, mix=mix, start_share=1.0, valid_examples=1)
    config = TrainConfig(steps=200, batch_size=4, window=256, lr=1e-2, min_lr=1e-3, warmup=10, eval_every=200)
    out = tmp_path_factory.mktemp("multitrack")
    result = train(model, task, config, out, progress=False)
    assert result.best_valid < 0.05, result
    return MultitrackModel.load(out)


def test_tiny_model_overfits_one_piece_and_writes_it_back(overfit: MultitrackModel) -> None:
    score = three_tracks()
    # every cell a hole: the prompt holds the header, the track heads and `Fill` × 12, no note
    prompt = mt.infill_prompt(mt.tokenize(score), [(t, b) for t in range(3) for b in range(4)])
    assert not {mt.KINDS[i] for i in prompt} & {"Pos", "Pitch", "Chord"}
    written = infill(overfit, score, range(4), [0, 1, 2], GREEDY, roles=["melody", "harmony", "bass"])
    for original, new in zip(score.tracks, written.tracks, strict=True):
        assert notes_of(new) == notes_of(original)


def test_infilling_leaves_every_other_note_byte_identical(overfit: MultitrackModel) -> None:
    score = three_tracks(bars=6)
    bar = 1920
    out = infill(overfit, score, range(1, 3), [0, 2], Sampling(seed=3))
    assert notes_of(out.tracks[1]) == notes_of(score.tracks[1])
    for t in (0, 2):
        outside = [n for n in notes_of(score.tracks[t]) if not bar <= n[0] < 3 * bar]
        kept = [n for n in notes_of(out.tracks[t]) if not bar <= n[0] < 3 * bar]
        assert kept == outside
        assert any(bar <= n[0] < 3 * bar for n in notes_of(out.tracks[t]))
    assert out.tempos == score.tempos and out.time_signatures == score.time_signatures


def test_infilling_a_real_chorale_keeps_the_other_voices(overfit: MultitrackModel) -> None:
    score = symusic.Score(str(EXAMPLE))
    out = infill(overfit, score, range(3, 5), [1], Sampling(seed=0))
    bar = 4 * score.ticks_per_quarter
    for t, (before, after) in enumerate(zip(score.tracks, out.tracks, strict=True)):
        if t != 1:
            assert notes_of(after) == notes_of(before)
        else:
            outside = [n for n in notes_of(before) if not 3 * bar <= n[0] < 5 * bar]
            assert [n for n in notes_of(after) if not 3 * bar <= n[0] < 5 * bar] == outside


def test_same_seed_same_bytes(overfit: MultitrackModel, tmp_path: Path) -> None:
    score = three_tracks()
    runs = [infill(overfit, score, range(2, 4), [0, 1], Sampling(seed=seed)) for seed in (5, 5)]
    paths = [tmp_path / "a.mid", tmp_path / "b.mid"]
    for run, path in zip(runs, paths, strict=True):
        run.dump_midi(str(path))
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_continue_adds_bars_after_the_end_only(overfit: MultitrackModel) -> None:
    score = three_tracks()
    out = continue_(overfit, score, 2, Sampling(seed=1))
    for before, after in zip(score.tracks, out.tracks, strict=True):
        new = [n for n in notes_of(after) if n not in notes_of(before)]
        assert [n for n in notes_of(after) if n[0] < 4 * 1920] == notes_of(before)
        assert new and all(4 * 1920 <= n[0] < 6 * 1920 for n in new)


def test_the_density_asked_for_holds(overfit: MultitrackModel) -> None:
    score = three_tracks()
    counts = {}
    for density in (1, 6):
        asks = {(0, 2): BarAsk(density=density, chord="C:maj")}
        out = infill(overfit, score, range(2, 3), [0], Sampling(seed=2), asks=asks)
        counts[density] = sum(1 for n in out.tracks[0].notes if 2 * 1920 <= n.time < 3 * 1920)
    assert 1 <= counts[1] <= 2  # up to 0.5 notes per quarter of a 4/4 bar
    assert 17 <= counts[6] <= 24  # above 4 up to 6 per quarter
    assert counts[6] > counts[1]


def test_infill_refuses_cells_outside_the_score(overfit: MultitrackModel) -> None:
    with pytest.raises(InvalidArgumentError, match="track 7"):
        infill(overfit, three_tracks(), range(1, 2), [7], GREEDY)
    with pytest.raises(InvalidArgumentError, match="bars"):
        infill(overfit, three_tracks(), range(2, 2), [0], GREEDY)


def test_the_family_registry_loads_the_folder(overfit: MultitrackModel, tmp_path: Path) -> None:
    overfit.save(tmp_path)
    loaded = family("multitrack").load(tmp_path)
    assert isinstance(loaded, MultitrackModel)
    for name, tensor in overfit.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name])
    (tmp_path / "tokenizer.json").write_text('{"tokens": "remi"}')
    with pytest.raises(InputFileError, match="other multitrack tokens"):
        MultitrackModel.load(tmp_path)


def test_training_examples_are_a_pure_function_of_the_step() -> None:
    pieces = [mt.tokenize(three_tracks(8))]
    task = MultitrackTask(pieces, pieces, 128, batch_size=8)
    from cadenza.train.distributed import setup

    process = setup()
    first, again = task.plan(0, 7, 8, process), task.plan(0, 7, 8, process)
    assert torch.equal(first.batches[0].inputs, again.batches[0].inputs)
    assert not torch.equal(first.batches[0].inputs, task.plan(0, 8, 8, process).batches[0].inputs)
    fills = int((first.batches[0].inputs == mt.FILL).sum())
    assert fills > 0 and np.all(first.batches[0].inputs.numpy()[:, 0] == mt.BOS)


def test_corpus_sources_become_pieces_and_training_examples(datasets: Path, tmp_path: Path) -> None:
    from cadenza.data.sources import parse_source_spec
    from cadenza.train.distributed import setup
    from cadenza.train.multitrack import pieces_from_sources

    songs = tmp_path / "pop909"
    songs.mkdir()
    for number in ("001", "002"):
        (songs / number).symlink_to(datasets / "pop909" / number)
    folder = tmp_path / "mine"
    folder.mkdir()
    three_tracks().dump_midi(str(folder / "a.mid"))
    (folder / "notes.txt").write_text("not music")
    specs = [parse_source_spec(f"pop909={songs}"), parse_source_spec(f"mine={folder}")]
    splits, skipped = pieces_from_sources(specs)
    pieces = [piece for split in splits.values() for piece in split]
    assert [p.meter for p in pieces] == ["4/4", "4/4", "4/4"] and skipped == []
    assert [h.role for h in pieces[0].tracks] == ["melody", "counter", "harmony"]
    assert pieces[0].head[1] == mt.IDS["Style_pop"]
    task = MultitrackTask(pieces[:2], pieces[2:], 512, batch_size=4)
    plan = task.plan(0, 0, 4, setup())
    batch = plan.batches[0]
    assert batch.inputs.shape == (4, 512) and plan.units == batch.scored
    assert batch.scored > 4 * 400  # windows of real songs fill most of the context


def test_the_prefill_stepper_computes_what_the_one_token_stepper_does() -> None:
    torch.manual_seed(0)
    config = TransformerConfig.tiny(len(mt.NAMES), block_size=64, cycles=(3, 7), tokens="multitrack")
    model = MultitrackModel(config).eval()
    tokens = np.random.default_rng(0).integers(0, len(mt.NAMES), 60).tolist()
    one_by_one, prefilled = Stepper(model), model.stepper()
    for end in (50, 51, 52, 60):  # the prompt at once, then one token at a time, then a few
        np.testing.assert_allclose(prefilled(tokens[:end]), one_by_one(tokens[:end]), atol=1e-8)
    with torch.no_grad():
        full = torch.softmax(model(torch.tensor([tokens]))[0, -1].double(), -1).numpy()
    np.testing.assert_allclose(prefilled(tokens), full, atol=1e-8)


def test_the_context_grows_on_both_sides_within_the_budget() -> None:
    piece = mt.tokenize(three_tracks(8))
    assert _context(piece, [(0, 4)], 10_000) == range(8)
    small = _context(piece, [(0, 4)], 200)
    assert small.start < 4 < small.stop - 1  # bars before and after the hole
    assert 4 - small.start >= small.stop - 5 >= 4 - small.start - 1  # one side at most one bar more
    assert _context(piece, [(0, 4)], 10) == range(4, 5)  # the holes' own bars always


def test_fill_nll_scores_the_holes_with_and_without_the_future(overfit: MultitrackModel) -> None:
    piece = mt.tokenize(three_tracks(), roles=["melody", "harmony", "bass"])
    everything = [(t, b) for t in range(3) for b in range(4)]
    nll, notes = fill_nll(overfit, piece, everything, range(4))
    assert notes == 4 * (4 + 3 + 2)
    assert 0 <= nll / notes < 0.1  # it learnt this very sequence
    past_only, counted = fill_nll(overfit, piece, [(0, 3)], range(4))
    assert counted == 4 and past_only > 0
    longer = mt.tokenize(three_tracks(8))  # past the model's 256 tokens: read with a sliding window
    assert len(longer.tokens()) > overfit.config.block_size
    nll, counted = fill_nll(overfit, longer, [(0, 6)], range(8))
    assert counted == 4 and np.isfinite(nll) and nll > 0


def test_an_empty_track_to_write_gets_its_role_register() -> None:
    score = three_tracks()
    assert [h.register for h in mt.tokenize(score).tracks] == [4, 3, 1]  # C5 and up, C4-B4, C2-B2
    score.tracks[0].notes.clear()
    score.tracks[2].notes.clear()
    piece = mt.tokenize(score, roles=["melody", "harmony", "bass"])
    assert [h.register for h in piece.tracks] == [3, 3, 1]


def test_the_training_recipe_writes_a_model_folder_that_infills(tmp_path: Path) -> None:
    from cadenza.models.registry import ModelInfo, locate
    from cadenza.train.multitrack import main

    folder = tmp_path / "mine"
    folder.mkdir()
    for bars in (4, 6, 8):
        three_tracks(bars).dump_midi(str(folder / f"{bars}.mid"))
    out = tmp_path / "model"
    main(["--source", f"mine={folder}", "--out", str(out), "--preset", "tiny", "--steps", "6"])
    assert locate(out) == out and ModelInfo.read(out).family == "multitrack"
    training = json.loads((out / "training.json").read_text())
    assert training["pieces"]["train"] + training["pieces"]["valid"] + training["pieces"]["test"] == 3
    assert training["sources"] == [{"name": "mine", "kind": "folder", "licence": "unknown", "pieces": 3}]
    assert training["result"]["step"] == 6
    model = family("multitrack").load(out)
    written = infill(model, three_tracks(), range(1, 2), [2], Sampling(seed=0))
    assert notes_of(written.tracks[0]) == notes_of(three_tracks().tracks[0])


def test_a_run_can_start_from_a_trained_folder_and_records_it(tmp_path: Path) -> None:
    from cadenza.io.files import regular_sha256
    from cadenza.train.multitrack import main

    folder = tmp_path / "mine"
    folder.mkdir()
    for bars in (4, 6):
        three_tracks(bars).dump_midi(str(folder / f"{bars}.mid"))
    first, second = tmp_path / "first", tmp_path / "second"
    main(["--source", f"mine={folder}", "--out", str(first), "--preset", "tiny", "--steps", "3"])
    # a learning rate too small to move bfloat16 weights: the second run keeps the first's
    args = ["--preset", "tiny", "--steps", "1", "--lr", "1e-12", "--warmup", "0", "--save-dtype", "bfloat16"]
    main(["--source", f"mine={folder}", "--out", str(second), "--init", str(first), *args])
    training = json.loads((second / "training.json").read_text())
    assert training["init"]["weights_sha256"] == regular_sha256(first / "model.safetensors")
    assert training["init"]["training"]["result"]["step"] == 3
    before, after = MultitrackModel.load(first).state_dict(), MultitrackModel.load(second).state_dict()
    for name, weights in before.items():
        assert torch.equal(weights.to(torch.bfloat16), after[name].to(torch.bfloat16)), name


def test_a_start_folder_of_another_shape_is_refused_in_one_line(tmp_path: Path, capsys) -> None:
    from cadenza.train.multitrack import main

    folder = tmp_path / "mine"
    folder.mkdir()
    three_tracks(4).dump_midi(str(folder / "4.mid"))
    first = tmp_path / "first"
    main(["--source", f"mine={folder}", "--out", str(first), "--preset", "tiny", "--steps", "1"])
    with pytest.raises(SystemExit) as stop:
        main(["--source", f"mine={folder}", "--out", str(tmp_path / "b"), "--preset", "cpu", "--init", str(first)])
    assert stop.value.code == 2
    assert "the model there is not of the 'cpu' preset's shape" in capsys.readouterr().err


def test_the_density_and_polyphony_asked_for_hold_whenever_they_can_together() -> None:
    torch.manual_seed(0)
    model = MultitrackModel.tiny(block_size=256).eval()  # untrained: the grammar alone keeps them
    score = three_tracks()
    for density in range(2, 8):
        for polyphony in range(1, 6):
            if (density, polyphony) == (2, 5):
                continue  # at most 4 notes in the bar cannot average 4.5 an onset
            asks = {(1, 2): BarAsk(density=density, polyphony=polyphony)}
            out = infill(model, score, range(2, 3), [1], Sampling(seed=density), asks=asks)
            heard = mt.tokenize(out).controls[1][2][:2]
            assert [mt.NAMES[t] for t in heard] == [f"Density_{density}", f"Poly_{polyphony}"]


def _at_velocity(score: symusic.Score, velocity: int) -> symusic.Score:
    out = score.copy()
    for track in out.tracks:
        for note in track.notes:
            note.velocity = velocity
    return out


def test_the_intensity_asked_for_sets_how_loud_the_bar_is(tmp_path: Path) -> None:
    """A tiny model that learned the same piece soft (Intensity_0) and loud (Intensity_4):
    asked for either in every bar, it writes the bars that soft or that loud."""
    from cadenza.models.family import torch_threads

    torch.manual_seed(0)
    soft, loud = _at_velocity(three_tracks(), _velocity(4)), _at_velocity(three_tracks(), _velocity(13))
    pieces = [mt.tokenize(s, roles=["melody", "harmony", "bass"]) for s in (soft, loud)]
    assert {mt.NAMES[pieces[0].controls[0][0][3]], mt.NAMES[pieces[1].controls[0][0][3]]} == {
        "Intensity_0",
        "Intensity_4",
    }
    # plain pieces and blocks teach what the intensity token means; whole-piece holes, filling every bar
    mix = MaskMix(block=1, track=0, continuation=0, everything=1, nothing=1, transpose=0)
    task = MultitrackTask(pieces, pieces, 256, batch_size=4, mix=mix, start_share=1.0, valid_examples=1)
    config = TrainConfig(steps=250, batch_size=4, window=256, lr=1e-2, min_lr=1e-3, warmup=10, eval_every=250)
    model = MultitrackModel.tiny(block_size=256)
    with torch_threads(1):
        train(model, task, config, tmp_path, progress=False)
    model = MultitrackModel.load(tmp_path)
    cells = [(t, b) for t in range(3) for b in range(4)]
    mean = {}
    for level in (0, 4):
        asks = {cell: BarAsk(intensity=level) for cell in cells}
        out = infill(model, soft, range(4), [0, 1, 2], Sampling(seed=1), asks=asks, roles=["melody", "harmony", "bass"])
        velocities = [n.velocity for track in out.tracks for n in track.notes]
        assert velocities
        mean[level] = sum(velocities) / len(velocities)
    assert mean[0] < 48 <= 96 <= mean[4], mean


def test_a_cell_held_to_its_chord_plays_only_the_chords_tones() -> None:
    torch.manual_seed(0)
    model = MultitrackModel.tiny(block_size=256).eval()  # untrained: the grammar alone keeps them
    for chord, tones in (("C:maj", {0, 4, 7}), ("A:min7", {9, 0, 4, 7}), ("F#:dim", {6, 9, 0})):
        asks = {(1, 2): BarAsk(density=5, polyphony=3, chord=chord, chord_tones=True)}
        out = infill(model, three_tracks(), range(2, 3), [1], Sampling(seed=4), asks=asks)
        pitches = [n.pitch for n in out.tracks[1].notes if 2 * 1920 <= n.time < 3 * 1920]
        assert len(pitches) >= 10 and {p % 12 for p in pitches} <= tones, (chord, pitches)
    free = infill(model, three_tracks(), range(2, 3), [1], Sampling(seed=4), asks={(1, 2): BarAsk(density=5)})
    assert {n.pitch % 12 for n in free.tracks[1].notes if 2 * 1920 <= n.time < 3 * 1920} - {0, 4, 7}


def test_a_cell_given_a_scale_plays_only_its_pitch_classes() -> None:
    torch.manual_seed(0)
    model = MultitrackModel.tiny(block_size=256).eval()
    d_minor = frozenset({2, 4, 5, 7, 9, 10, 1})
    asks = {(0, 2): BarAsk(density=5, polyphony=1, chord="G:min", scale=d_minor)}  # the scale, not the chord
    out = infill(model, three_tracks(), range(2, 3), [0], Sampling(seed=4), asks=asks)
    pitches = [n.pitch for n in out.tracks[0].notes if 2 * 1920 <= n.time < 3 * 1920]
    assert len(pitches) >= 10 and {p % 12 for p in pitches} <= d_minor


def test_a_written_note_never_strikes_a_key_a_kept_note_holds_nor_rings_past_the_bars() -> None:
    from cadenza.models.multitrack import _replace

    score = three_tracks()
    held = symusic.Note(960, 1920, 90, 80)  # bar 0's last half and bar 1's first: a kept note holding key 90
    score.tracks[0].notes.append(held)
    written = {(0, 1): [(48, 90, 24, 9), (60, 91, 96, 9)]}  # token ticks from the start: 90 at bar 1; 91 past its end
    out = _replace(score, "4/4", range(1, 2), written)
    new = [n for n in notes_of(out.tracks[0]) if 1920 <= n[0] < 2 * 1920]
    assert new == [(1920 + 480, 1920 - 480, 91, _velocity(9))]  # 90 dropped; 91 cut at the bar's end
    assert (held.time, held.duration, held.pitch, held.velocity) in notes_of(out.tracks[0])


def test_asking_for_a_billion_bars_is_refused_before_anything_is_allocated(overfit: MultitrackModel) -> None:
    with pytest.raises(InvalidArgumentError, match="more than 1000 bars past"):
        continue_(overfit, three_tracks(), 10**9, Sampling(seed=0))
    with pytest.raises(InvalidArgumentError, match="more than 1000 bars past"):
        infill(overfit, three_tracks(), range(10**9, 10**9 + 1), [0], Sampling(seed=0))
