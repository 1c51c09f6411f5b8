"""The Transformer: it learns a real piece, its cache agrees with a full pass, it saves
and loads exactly, and it samples well-formed REMI under the constraint filters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cadenza.errors import InputFileError
from cadenza.models.transformer import TransformerConfig, TransformerModel
from cadenza.train.datasets import Sequences
from cadenza.train.tasks import NextTokenTask, evaluate
from cadenza.train.trainer import TrainConfig, train

EXAMPLE = Path(__file__).resolve().parents[1] / "cadenza" / "examples" / "bwv66.6.mid"


@pytest.fixture(scope="module")
def tokenizer():
    from cadenza.data.tokens import make_tokenizer

    return make_tokenizer()


@pytest.fixture(scope="module")
def chorale(tokenizer) -> np.ndarray:
    """Bach's BWV 66.6 as REMI tokens with its condition tokens (727 tokens)."""
    import symusic

    from cadenza.data.tokens import encode_piece

    score = symusic.Score(str(EXAMPLE))
    return encode_piece(tokenizer, score, ["Style_chorale", "Key_F#:min", "Mood_calm"]).astype(np.int64)


def _tiny(vocab_size: int = 40, seed: int = 0, **overrides: object) -> TransformerModel:
    torch.manual_seed(seed)
    return TransformerModel(TransformerConfig.tiny(vocab_size, **overrides)).eval()


@torch.no_grad()
def _log_probs(model: TransformerModel, tokens: torch.Tensor) -> np.ndarray:
    """ln P(next token) at every position of one sequence, in one full pass."""
    return torch.log_softmax(model(tokens[None])[0].double(), -1).numpy()


@pytest.mark.slow
def test_tiny_model_overfits_one_piece(chorale: np.ndarray, tokenizer, tmp_path: Path) -> None:
    data = Sequences([chorale])
    model = _tiny(len(tokenizer.vocab), d_model=64)
    config = TrainConfig(steps=200, batch_size=8, window=128, lr=1e-2, min_lr=1e-3, warmup=10, eval_every=200)
    before = evaluate(model, data, 128, 64, 8)[0] / data.targets
    task = NextTokenTask.from_settings(data, data, model.config.vocab_size, config)
    result = train(model, task, config, tmp_path, progress=False)
    assert before > 5.0  # about ln(536)
    assert result.best_valid < 0.6, result  # nats per token over the whole piece
    # it has learned this piece: from its first 64 tokens, it predicts the next ones
    tokens = torch.from_numpy(chorale[:128])[None]
    with torch.no_grad():
        predicted = model.eval()(tokens)[0, 63:-1].argmax(-1)
    assert (predicted == tokens[0, 64:]).float().mean() > 0.8


def test_cache_gives_the_logits_of_a_full_pass() -> None:
    model = _tiny(cycles=(4, 16))
    tokens = torch.randint(0, 40, (100,))
    full = _log_probs(model, tokens)
    stepper = model.stepper()
    for end in (1, 2, 30, 31, 60, 100):  # one token at a time, and several at once
        cached = np.log(stepper(tokens[:end].tolist()))
        np.testing.assert_allclose(cached, full[end - 1], atol=1e-5)
    restarted = np.log(stepper(tokens[:50].tolist()))  # not an extension: starts over
    np.testing.assert_allclose(restarted, full[49], atol=1e-5)


def test_past_the_block_the_cache_slides_the_same_way_in_steps_or_at_once() -> None:
    model = _tiny(block_size=16)
    tokens = torch.randint(0, 40, (70,)).tolist()
    at_once = model.stepper()(tokens)
    stepper = model.stepper()
    for end in range(1, 71):
        one_by_one = stepper(tokens[:end])
    np.testing.assert_allclose(one_by_one, at_once, atol=1e-5)
    # within the first block the sliding window is the plain causal one
    window = _log_probs(model, torch.tensor(tokens[54:70]))[-1]
    assert not np.allclose(np.log(at_once), window, atol=1e-3)  # deeper layers see further back


def test_the_sampling_stepper_agrees_with_the_plain_kv_cache_past_the_block() -> None:
    """The stepper's ring of cached keys, reordered rotary pairs and folded scale compute
    what the model's own cached forward pass computes, window sliding included."""
    model = _tiny(block_size=16, cycles=(4, 16))
    tokens = torch.randint(0, 40, (60,))
    cache, stepper = model.new_cache(), model.stepper()
    for end in range(1, 61):
        with torch.no_grad():
            logits = model(tokens[end - 1 : end][None], cache=cache)[0, -1]
        reference = torch.log_softmax(logits.double(), dim=-1).numpy()
        np.testing.assert_allclose(np.log(stepper(tokens[:end].tolist())), reference, atol=1e-5)


def test_save_then_load_gives_identical_logits(tmp_path: Path) -> None:
    model = _tiny(cycles=(4,))
    model.save(tmp_path)
    loaded = TransformerModel.load(tmp_path)
    tokens = torch.randint(0, 40, (2, 50))
    with torch.no_grad():
        assert torch.equal(model(tokens), loaded(tokens))
    assert loaded.config == model.config
    assert json.loads((tmp_path / "config.json").read_text())["family"] == "transformer"


def test_weights_saved_in_bfloat16_take_half_the_bytes_and_load_as_float32(tmp_path: Path) -> None:
    model = _tiny()
    model.save(tmp_path / "full")
    model.save(tmp_path / "half", torch.bfloat16)
    size = lambda name: (tmp_path / name / "model.safetensors").stat().st_size  # noqa: E731
    assert size("half") < 0.55 * size("full")
    loaded = TransformerModel.load(tmp_path / "half")
    assert loaded.embed.weight.dtype == torch.float32
    tokens = torch.randint(0, 40, (60,))
    np.testing.assert_allclose(_log_probs(loaded, tokens), _log_probs(model, tokens), atol=0.02)


def test_loading_something_else_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"family": "markov", "order": 3}))
    with pytest.raises(InputFileError, match="not a transformer"):
        TransformerModel.load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"family": "transformer", "vocab_size": 40}))
    (tmp_path / "model.safetensors").write_bytes(b"\x80\x04pickle")
    with pytest.raises(InputFileError, match="not a safetensors file"):
        TransformerModel.load(tmp_path)


def test_samples_follow_the_grammar_and_the_constraints(tokenizer) -> None:
    from cadenza.models.constraints import Constraint, ExactBars, Grammar, Meter, PitchRange
    from cadenza.models.sampling import Sampling, decode
    from cadenza.models.vocabulary import Vocabulary

    vocab = Vocabulary.from_tokenizer_vocab(tokenizer.vocab)
    model = _tiny(len(vocab))
    head = [vocab.id("BOS_None"), vocab.id("Style_chorale"), vocab.id("Key_C:maj"), vocab.id("Mood_calm")]
    constraints: list[Constraint] = [
        Grammar(vocab),
        Meter(vocab, "3/4"),
        PitchRange(vocab, 60, 72),
        ExactBars(vocab, 2),
    ]
    sampling = Sampling(temperature=0.9, top_k=50, top_p=0.95, seed=3)
    tokens = decode(model.stepper(), vocab, head, constraints, sampling, max_tokens=400)
    assert tokens == decode(model.stepper(), vocab, head, constraints, sampling, max_tokens=400)  # seeded
    names = [vocab.names[t] for t in tokens[len(head) :]]
    assert names.count("Bar_None") == 2
    assert {n for n in names if n.startswith("TimeSig")} <= {"TimeSig_3/4"}
    assert all(60 <= int(n.split("_")[1]) <= 72 for n in names if n.startswith("Pitch_"))
    score = tokenizer.decode(tokens)
    assert score.note_num() == sum(n.startswith("Pitch_") for n in names)


def test_composer_generates_with_a_transformer_model_folder(tokenizer, tmp_path: Path) -> None:
    from cadenza.compose import Composer, Conditions, Sampling
    from cadenza.data.tokens import save_tokenizer

    _tiny(len(tokenizer.vocab)).save(tmp_path)
    save_tokenizer(tokenizer, tmp_path)
    composer = Composer.from_pretrained(tmp_path)
    conditions = Conditions(bars=2, key="D minor", meter="3/4")
    score = composer.generate(conditions, Sampling(seed=1))
    assert composer.info.family == "transformer"
    assert score.note_num() > 0
    assert score.dumps_midi() == composer.generate(conditions, Sampling(seed=1)).dumps_midi()
