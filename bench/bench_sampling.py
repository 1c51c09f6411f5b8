"""Sampling speed on a CPU: a cadenza Transformer beside Hugging Face ``transformers``.

    python bench/bench_sampling.py [--model cadenza-transformer] [--seconds 60] [--threads 2]

Rows, all in one process on the same cores:

1. ``cadenza generate`` with every constraint (key, meter, tempo, range, exact length,
   cadence), through ``Composer.generate`` (decoding and arrangement): ``--seconds`` of
   music at 120 bpm, 5 seeds, the mean per piece. Its tokens per second of music, over the
   5 pieces, is the exchange rate used for every row.
2. The same model's KV-cached stepper alone: as many tokens as row 1's mean, drawn from
   its distribution with no constraint (the cost of the network), median of 5 seeds; and
   as many as GPT-2 makes (its learned positions stop at the context length), like for like;
   and the same through the model's plain cached ``forward`` (the stepper's reference).
3. Hugging Face ``GPT2LMHeadModel.generate`` (sampling, KV cache, top-p 0.95) on a GPT-2 of
   the same width, depth, heads, vocabulary and context (random weights: speed does not
   depend on them), at batch 1 and batch 8, the same number of new tokens per sequence.

"x real time" is seconds of music made per second of wall time; "ratio" is each row's
tokens per second over GPT-2's at batch 1.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

SEEDS = range(5)


def _median_seconds(run, repeats: int = 5) -> float:
    run(99)  # warm up: first-call allocations, lazy loading
    timings = []
    for seed in range(repeats):
        started = time.perf_counter()
        run(seed)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def _cadenza_rows(model: str, seconds: float) -> tuple[list[tuple], float, dict]:
    """Each seed makes a piece of its own length in tokens: the rows add up tokens and
    seconds over the seeds (and the music made is ``seconds`` per seed)."""
    from cadenza.compose import Composer, Conditions, Sampling

    composer = Composer.from_pretrained(model)
    if composer.info.family != "transformer":
        raise SystemExit(f"{model} is a {composer.info.family} model; this benchmark is for a transformer")
    conditions = Conditions(seconds=seconds, tempo=120)
    resolved = composer.resolve(conditions)
    head = composer._head(resolved)
    composer.generate(conditions, Sampling(seed=99))  # warm up: load the model
    tokens, walls = [], []
    for seed in SEEDS:
        tokens.append(len(composer._decode(resolved, Sampling(seed=seed), head, resolved.bars)) - len(head))
        started = time.perf_counter()
        composer.generate(conditions, Sampling(seed=seed))
        walls.append(time.perf_counter() - started)
    rate = sum(tokens) / (resolved.seconds * len(SEEDS))  # tokens per second of music
    mean_tokens = round(sum(tokens) / len(tokens))

    def raw(seed: int, count: int = mean_tokens) -> None:
        rng = np.random.default_rng(seed)
        step = composer._model.stepper()
        sequence = list(head)
        for _ in range(count):
            p = step(sequence)
            sequence.append(int(rng.choice(len(p), p=p)))

    def plain(seed: int, count: int) -> None:
        """The model's own cached forward pass (``KVCache``), the stepper's reference."""
        rng = np.random.default_rng(seed)
        model, cache = composer._model, composer._model.new_cache()
        token = head[-1]
        with torch.inference_mode():
            model(torch.tensor([head[:-1]]), cache=cache)
            for _ in range(count):
                logits = model(torch.tensor([[token]]), cache=cache)[0, -1]
                p = torch.softmax(logits.double(), dim=-1).numpy()
                token = int(rng.choice(len(p), p=p))

    config = composer._model.config
    like_gpt2 = min(mean_tokens, config.block_size - 8)
    rows = [
        (f"cadenza generate, every constraint ({len(SEEDS)} pieces)", 1, mean_tokens, sum(walls) / len(SEEDS)),
        ("cadenza stepper alone, no constraint", 1, mean_tokens, _median_seconds(raw)),
        ("cadenza stepper alone, GPT-2's length", 1, like_gpt2, _median_seconds(lambda s: raw(s, like_gpt2))),
        (
            "same model, plain KVCache forward, GPT-2's length",
            1,
            like_gpt2,
            _median_seconds(lambda s: plain(s, like_gpt2)),
        ),
    ]
    return rows, rate, {**config.to_dict(), "parameters": composer._model.num_parameters()}


def _gpt2_rows(config: dict, tokens: int) -> tuple[list[tuple], int]:
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging

    logging.set_verbosity_error()
    torch.manual_seed(0)
    gpt2 = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=config["vocab_size"],
            n_positions=config["block_size"],
            n_embd=config["d_model"],
            n_layer=config["n_layer"],
            n_head=config["n_head"],
            bos_token_id=1,
            eos_token_id=2,
            pad_token_id=0,
        )
    ).eval()
    new = min(tokens, config["block_size"] - 8)  # GPT-2's learned positions end at n_positions
    rows = []
    for batch in (1, 8):
        prompt = torch.ones((batch, 4), dtype=torch.long)

        def run(seed: int, prompt=prompt) -> None:
            torch.manual_seed(seed)
            with torch.inference_mode():
                gpt2.generate(
                    prompt,
                    attention_mask=torch.ones_like(prompt),
                    do_sample=True,
                    top_p=0.95,
                    max_new_tokens=new,
                    min_new_tokens=new,
                )

        rows.append((f"transformers GPT-2 generate (same size), batch {batch}", batch, new, _median_seconds(run, 3)))
    return rows, gpt2.num_parameters()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cadenza-transformer")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import transformers

    console = Console(width=150)
    ours, rate, config = _cadenza_rows(args.model, args.seconds)
    theirs, gpt2_parameters = _gpt2_rows(config, ours[0][2])
    baseline = theirs[0][1] * theirs[0][2] / theirs[0][3]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {args.threads} torch threads"
    table = Table(
        title=f"Sampling on a CPU ({machine}; torch {torch.__version__}, transformers {transformers.__version__})"
    )
    for column in ("run", "batch", "new tokens each", "wall s", "tokens/s", "x real time", "ratio"):
        table.add_column(column)
    for name, batch, tokens, wall in ours + theirs:
        per_second = batch * tokens / wall
        table.add_row(
            name,
            str(batch),
            str(tokens),
            f"{wall:.3f}",
            f"{per_second:.0f}",
            f"{per_second / rate:.1f}",
            f"{per_second / baseline:.2f}",
        )
    console.print(table)
    console.print(
        f"{args.model}: {config['parameters']:,} parameters (GPT-2 peer {gpt2_parameters:,}), "
        f"d_model {config['d_model']}, {config['n_layer']} layers, {config['n_head']} heads, "
        f"context {config['block_size']}; {rate:.1f} tokens per second of music at 120 bpm"
    )


if __name__ == "__main__":
    main()
