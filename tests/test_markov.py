"""The Markov model and the decoding constraints, on small hand-made data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cadenza.data.tokens import make_tokenizer
from cadenza.errors import InputFileError
from cadenza.models.constraints import Cadence, ExactBars, Grammar, Meter, PitchClasses, PitchRange, fixed_mask
from cadenza.models.markov import MarkovConfig, MarkovModel
from cadenza.models.sampling import Sampling, decode, reshape
from cadenza.models.vocabulary import Vocabulary
from cadenza.train.markov import fit_markov
from tests.helpers import make_score


@pytest.fixture(scope="module")
def tokenizer():
    return make_tokenizer()


@pytest.fixture(scope="module")
def vocab(tokenizer) -> Vocabulary:
    return Vocabulary.from_tokenizer_vocab(tokenizer.vocab)


def _scale_piece(tokenizer, pitches: list[int]) -> np.ndarray:
    score = make_score([(p, i * 0.5, i * 0.5 + 0.5) for i, p in enumerate(pitches)])
    return np.asarray(tokenizer.encode(score).ids, dtype=np.int64)


def test_distribution_is_normalised_and_follows_the_data(tokenizer, vocab) -> None:
    pieces = [_scale_piece(tokenizer, [60, 62, 64, 65, 67, 69, 71, 72] * 2) for _ in range(3)]
    model = fit_markov(MarkovConfig(vocab_size=len(vocab), order=6, min_pieces=2), pieces, ["a"] * 3)
    context = list(pieces[0][:12])  # ... Pitch_60 Velocity Duration Position
    p = model.next_distribution(context)
    assert p.sum() == pytest.approx(1.0) and (p > 0).all()
    assert vocab.names[int(np.argmax(p))] == vocab.names[int(pieces[0][12])]


def test_a_pattern_found_in_one_piece_only_is_pruned(tokenizer, vocab) -> None:
    shared = [60, 62, 64, 65, 67, 65, 64, 62]
    pieces = [
        _scale_piece(tokenizer, shared),
        _scale_piece(tokenizer, shared),
        _scale_piece(tokenizer, [60, 61, 66, 70, 75, 80]),
    ]
    strict = fit_markov(MarkovConfig(vocab_size=len(vocab), order=8, min_pieces=2), pieces, ["a"] * 3)
    loose = fit_markov(MarkovConfig(vocab_size=len(vocab), order=8, min_pieces=1), pieces, ["a"] * 3)
    assert len(strict.keys) < len(loose.keys)
    unique = list(pieces[2][:20])  # ends inside what only the third piece plays
    assert strict._chain(unique, "*", 8)[1] < loose._chain(unique, "*", 8)[1]  # shorter known context


def test_save_and_load_give_the_same_distributions(tmp_path: Path, tokenizer, vocab) -> None:
    pieces = [_scale_piece(tokenizer, [60, 64, 67, 72, 67, 64]), _scale_piece(tokenizer, [62, 65, 69, 74])]
    config = MarkovConfig(vocab_size=len(vocab), order=5, group_order=3, min_pieces=1, groups=("x", "y"))
    model = fit_markov(config, pieces, ["x", "y"])
    model.save(tmp_path)
    loaded = MarkovModel.load(tmp_path)
    assert loaded.config == model.config
    for group in (None, "x", "y"):
        assert np.array_equal(
            loaded.next_distribution(list(pieces[0][:9]), group), model.next_distribution(list(pieces[0][:9]), group)
        )


def test_loading_garbage_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"\x80\x04not safetensors")
    with pytest.raises(InputFileError):
        MarkovModel.load(tmp_path)


def test_constraints_give_a_valid_piece_of_exact_bars_in_key_and_meter(tokenizer, vocab) -> None:
    uniform = lambda tokens: np.full(len(vocab), 1.0 / len(vocab))  # noqa: E731 - any model will do
    head = [vocab.id("BOS_None")]
    constraints = [
        Grammar(vocab),
        Meter(vocab, "3/4"),
        PitchClasses(vocab, (0, 2, 4, 5, 7, 9, 11)),
        PitchRange(vocab, 55, 79),
        ExactBars(vocab, 4),
        Cadence(vocab, 0, False, last_bar=4),
    ]
    tokens = decode(uniform, vocab, head, constraints, Sampling(seed=1), max_tokens=3000)
    names = [vocab.names[t] for t in tokens]
    assert names[-1] == "EOS_None" and names.count("Bar_None") == 4
    assert {n for n in names if n.startswith("TimeSig")} == {"TimeSig_3/4"}
    score = tokenizer.decode(tokens)
    notes = [n for t in score.tracks for n in t.notes]
    assert notes and all(n.pitch % 12 in (0, 2, 4, 5, 7, 9, 11) and 55 <= n.pitch <= 79 for n in notes)
    bar = 3 * score.tpq
    assert all(n.time + n.duration <= 4 * bar for n in notes)  # nothing sounds past the last bar
    last_bar = [n.pitch % 12 for n in notes if n.time >= 3 * bar]
    assert set(last_bar) <= {0, 4, 7}  # the tonic chord closes the piece


def test_only_constraints_that_ignore_the_state_are_combined_once(vocab) -> None:
    """The loop ANDs these masks once per piece instead of at every token."""
    assert fixed_mask(Meter(vocab, "3/4")) is not None
    assert fixed_mask(PitchRange(vocab, 55, 79)) is not None
    assert fixed_mask(PitchClasses(vocab, (0, 4, 7))) is not None
    assert fixed_mask(PitchClasses(vocab, (0, 4, 7), bars=[4])) is None  # only in bar 4
    assert fixed_mask(Grammar(vocab)) is None and fixed_mask(ExactBars(vocab, 4)) is None
    assert fixed_mask(Cadence(vocab, 0, False, last_bar=4)) is None

    class Opaque:  # the same constraint, but the loop cannot tell that it ignores the state
        def __init__(self, constraint) -> None:
            self.constraint = constraint

        def allowed(self, state):
            return self.constraint.allowed(state)

    uniform = lambda tokens: np.full(len(vocab), 1.0 / len(vocab))  # noqa: E731
    constraints = [Grammar(vocab), Meter(vocab, "3/4"), PitchClasses(vocab, (0, 2, 4, 5, 7, 9, 11)),
                   PitchRange(vocab, 55, 79), ExactBars(vocab, 3)]  # fmt: skip
    head = [vocab.id("BOS_None")]
    combined = decode(uniform, vocab, head, constraints, Sampling(seed=4), max_tokens=2000)
    per_token = decode(uniform, vocab, head, [Opaque(c) for c in constraints], Sampling(seed=4), max_tokens=2000)
    assert combined == per_token and len(combined) > 20


def test_contradictory_constraints_still_decode(vocab) -> None:
    uniform = lambda tokens: np.full(len(vocab), 1.0 / len(vocab))  # noqa: E731
    impossible = [Grammar(vocab), PitchRange(vocab, 200, 300), ExactBars(vocab, 2)]
    tokens = decode(uniform, vocab, [vocab.id("BOS_None")], impossible, Sampling(seed=0), max_tokens=2000)
    assert vocab.names[tokens[-1]] == "EOS_None"


def test_reshape_applies_temperature_top_k_and_top_p() -> None:
    p = np.array([0.5, 0.3, 0.15, 0.05])
    assert np.count_nonzero(reshape(p, Sampling(top_k=2, top_p=1.0))) == 2
    assert np.count_nonzero(reshape(p, Sampling(top_p=0.7))) == 2
    cold = reshape(p, Sampling(temperature=0.1, top_p=1.0))
    assert cold[0] > 0.99
    with pytest.raises(Exception, match="temperature"):
        Sampling(temperature=0)


def test_sampling_hashes_contexts_exactly_as_training_does() -> None:
    """Training hashes every context of a corpus with numpy; sampling hashes one context
    with plain integers. If the two ever differ, a model finds none of its contexts."""
    from cadenza.models.markov import suffix_keys, window_keys

    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 536, size=40)
    for group in ("*|4", "pop|maj|4", ""):
        for length in range(8):
            trained = window_keys(tokens, length, group)  # key before each position i >= length
            for position in (length, 17, 39):
                context = list(tokens[:position])
                assert suffix_keys(context, group, length + 1)[length] == int(trained[position - length])
