"""A decoder-only Transformer over token sequences, with rotary positions.

Pre-norm blocks (RMSNorm → causal self-attention → RMSNorm → GELU MLP), rotary position
embeddings on queries and keys (so attention sees how far apart two tokens are, not
where they are), an input embedding tied to the output layer, and optional *cycle*
embeddings: for each period ``p`` in ``config.cycles`` a learned vector for
``position mod p``. A serialisation with a fixed rhythm uses them to tell the model
which voice and which beat comes next (4-voice 16th-note chorales: periods 4, 16, 64).

The condition tokens (style, key, mood; meter, tempo and instruments inside REMI) are
ordinary tokens at the head of the sequence: the model attends to them like any other.

Sampling goes through :func:`cadenza.models.sampling.decode` with a :class:`Stepper`, a
callable with a key-value cache that runs only the new tokens of each call. Past
``block_size`` tokens the cache keeps a sliding window of the last ``block_size``.

Saved as ``model.safetensors`` + ``config.json`` (``"family": "transformer"``, written by
:mod:`cadenza.models.folder`); never pickle. Loading checks the config against sane bounds
and the weights' header against the shapes the config implies before allocating.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cadenza.models.folder import (
    WEIGHTS,
    load_checked,
    write_config,
    write_file,
)

__all__ = ["TransformerConfig", "TransformerModel", "KVCache", "Stepper"]


@dataclass(frozen=True)
class TransformerConfig:
    vocab_size: int
    block_size: int = 1024  # longest context seen in training; the attention window
    n_layer: int = 6
    n_head: int = 8
    d_model: int = 512
    dropout: float = 0.1
    cycles: tuple[int, ...] = ()  # learned embeddings of (position mod p), e.g. voice, beat
    tokens: str = "remi"  # what the ids mean: "remi", "jsb16" or "jsb-frames"
    rope_base: float = 10000.0

    def __post_init__(self) -> None:
        for name, low, high in _BOUNDS:
            value = getattr(self, name)
            if type(value) is not int or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
        if self.d_model % self.n_head or (self.d_model // self.n_head) % 2:
            raise ValueError(f"d_model {self.d_model} must split into {self.n_head} heads of even size")
        if self.n_layer * self.block_size * self.d_model > _MAX_CACHE:  # the sampler's key-value cache
            raise ValueError(f"n_layer × block_size × d_model must be at most {_MAX_CACHE:,}")
        if len(self.cycles) > 16 or not all(type(p) is int and 1 <= p <= 65536 for p in self.cycles):
            raise ValueError(f"cycles must be at most 16 periods from 1 to 65536, got {list(self.cycles)!r}")
        if not (isinstance(self.dropout, int | float) and 0 <= self.dropout < 1):
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not (isinstance(self.rope_base, int | float) and 1 < self.rope_base < 1e12):
            raise ValueError(f"rope_base must be a number above 1, got {self.rope_base!r}")
        if not isinstance(self.tokens, str):
            raise ValueError(f"tokens must be a name, got {self.tokens!r}")

    @classmethod
    def tiny(cls, vocab_size: int, **overrides: object) -> TransformerConfig:
        """Two layers of width 32: trains and samples on a CPU in a second, for tests."""
        settings: dict = dict(block_size=128, n_layer=2, n_head=2, d_model=32, dropout=0.0)
        return cls(vocab_size=vocab_size, **{**settings, **overrides})

    def to_dict(self) -> dict:
        return {**asdict(self), "cycles": list(self.cycles)}

    @classmethod
    def from_dict(cls, data: dict) -> TransformerConfig:
        """Raises TypeError or ValueError for missing, mistyped or out-of-bounds settings."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}  # a model folder holds other keys too
        cycles = values.get("cycles", ())
        if not isinstance(cycles, list | tuple):
            raise ValueError(f"cycles must be a list, got {cycles!r}")
        values["cycles"] = tuple(cycles)
        return cls(**values)


_BOUNDS = (  # sane sizes: a hostile config.json must not allocate gigabytes before the weights are read
    ("vocab_size", 1, 65536),  # token ids are stored as uint16
    ("block_size", 1, 65536),
    ("n_layer", 1, 128),
    ("n_head", 1, 128),
    ("d_model", 2, 8192),
)
_MAX_CACHE = 1 << 30  # n_layer × block_size × d_model: 8 GiB of float32 keys and values


class KVCache:
    """Keys and values of the tokens seen so far, per layer, for incremental decoding."""

    def __init__(self, n_layer: int) -> None:
        self.keys: list[Tensor | None] = [None] * n_layer  # each (B, H, S, head)
        self.values: list[Tensor | None] = [None] * n_layer
        self.length = 0  # tokens run through the model so far (absolute position of the next)


def rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate pairs of channels (first half, second half) of ``x`` (B, H, T, head)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


class Attention(nn.Module):
    def __init__(self, config: TransformerConfig, layer: int) -> None:
        super().__init__()
        self.n_head, self.layer, self.window = config.n_head, layer, config.block_size
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=False)
        self.proj = nn.Linear(config.d_model, config.d_model, bias=False)
        self.dropout = config.dropout

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, cache: KVCache | None) -> Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_head, C // self.n_head).permute(2, 0, 3, 1, 4)  # 3 × (B, H, T, hd)
        q, k = rotary(q, cos, sin), rotary(k, cos, sin)
        dropout = self.dropout if self.training else 0.0
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True)
        else:
            past_k, past_v = cache.keys[self.layer], cache.values[self.layer]
            if past_k is not None and past_v is not None:
                k, v = torch.cat((past_k, k), dim=2), torch.cat((past_v, v), dim=2)  # (B, H, S, hd)
            mask = None
            if T > 1:  # causal within the new tokens, and at most `window` keys back
                k_pos = torch.arange(k.shape[2], device=x.device) + (cache.length + T - k.shape[2])
                q_pos = torch.arange(T, device=x.device) + cache.length
                mask = (k_pos[None, :] <= q_pos[:, None]) & (k_pos[None, :] > q_pos[:, None] - self.window)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            cache.keys[self.layer], cache.values[self.layer] = k[:, :, 1 - self.window :], v[:, :, 1 - self.window :]
        y = y.transpose(1, 2).reshape(B, T, C)
        return F.dropout(self.proj(y), dropout, self.training)


class Block(nn.Module):
    def __init__(self, config: TransformerConfig, layer: int) -> None:
        super().__init__()
        self.norm1 = nn.RMSNorm(config.d_model)
        self.attention = Attention(config, layer)
        self.norm2 = nn.RMSNorm(config.d_model)
        self.up = nn.Linear(config.d_model, 4 * config.d_model, bias=False)
        self.down = nn.Linear(4 * config.d_model, config.d_model, bias=False)
        self.dropout = config.dropout

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, cache: KVCache | None) -> Tensor:
        x = x + self.attention(self.norm1(x), cos, sin, cache)
        mlp = self.down(F.gelu(self.up(self.norm2(x))))
        return x + F.dropout(mlp, self.dropout, self.training)


class TransformerModel(nn.Module):
    """Logits of the next token at every position; see the module docstring."""

    inverse_frequency: Tensor  # (head/2,) float64, a buffer
    family: ClassVar[str] = "transformer"  # what config.json names; a subclass with other tokens names its own

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.cycle_embeds = nn.ModuleList(nn.Embedding(p, config.d_model) for p in config.cycles)
        self.blocks = nn.ModuleList(Block(config, i) for i in range(config.n_layer))
        self.norm = nn.RMSNorm(config.d_model)
        head = config.d_model // config.n_head
        inverse = config.rope_base ** (-torch.arange(0, head, 2, dtype=torch.float64) / head)
        self.register_buffer("inverse_frequency", inverse, persistent=False)  # (hd/2,) float64
        self.apply(self._init)
        for name, parameter in self.named_parameters():  # GPT-2: residual projections scaled by depth
            if name.endswith(("attention.proj.weight", "down.weight")):
                nn.init.normal_(parameter, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx: Tensor, start: Tensor | int = 0, cache: KVCache | None = None) -> Tensor:
        """Logits (B, T, V) for tokens ``idx`` (B, T) whose first sits at position ``start``
        (an int, or one per row (B,)); with ``cache`` the tokens follow the cached ones."""
        T = idx.shape[1]
        offset = cache.length if cache is not None else 0
        if cache is not None:
            start = cache.length
        if cache is None and self.config.block_size < T:
            raise ValueError(f"{T} tokens exceed block_size {self.config.block_size}; use a KVCache")
        x = self.embed(idx)  # (B, T, C)
        if self.config.cycles:
            positions = torch.as_tensor(start, device=idx.device).view(-1, 1) + torch.arange(T, device=idx.device)
            for period, table in zip(self.config.cycles, self.cycle_embeds, strict=True):
                x = x + table(positions % period)  # (B or 1, T, C)
        x = F.dropout(x, self.config.dropout, self.training)
        # rotary angles in float64: exact at any position, then cast to the activations' dtype
        angles = (torch.arange(T, device=idx.device, dtype=torch.float64) + offset)[:, None] * self.inverse_frequency
        cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)  # (T, hd/2)
        for block in self.blocks:
            x = block(x, cos, sin, cache)
        if cache is not None:
            cache.length += T
        return F.linear(self.norm(x), self.embed.weight)  # (B, T, V), tied to the input embedding

    def new_cache(self) -> KVCache:
        return KVCache(self.config.n_layer)

    def stepper(self) -> Stepper:
        """A KV-cached ``next_distribution(tokens)`` for :func:`cadenza.models.sampling.decode`."""
        return Stepper(self)

    # ---------------------------------------------------------------- save/load
    def save(self, folder: Path, dtype: torch.dtype = torch.float32, extra: dict | None = None) -> Path:
        """Weights (in ``dtype``: bfloat16 halves the file; loading restores float32) and
        ``config.json`` (with ``extra`` keys for the composer), each written aside and renamed."""
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        weights = folder / WEIGHTS
        state = {name: tensor.detach().to("cpu", dtype).contiguous() for name, tensor in self.state_dict().items()}
        write_file(weights, lambda path: save_file(state, str(path), metadata={"family": self.family}))
        write_config(folder, self.family, self.config.to_dict(), extra)
        return weights

    @staticmethod
    def expected_tensors(config: TransformerConfig) -> dict[str, tuple[str, tuple[int, ...]]]:
        """{name: ("float", shape)} of the weights ``config`` implies, computed without
        building the model (tests compare it with a real model's state_dict)."""
        C = config.d_model
        shapes: dict[str, tuple[int, ...]] = {"embed.weight": (config.vocab_size, C), "norm.weight": (C,)}
        shapes.update({f"cycle_embeds.{i}.weight": (period, C) for i, period in enumerate(config.cycles)})
        for i in range(config.n_layer):
            block = {"norm1": (C,), "attention.qkv": (3 * C, C), "attention.proj": (C, C), "norm2": (C,)}
            block.update({"up": (4 * C, C), "down": (C, 4 * C)})
            shapes.update({f"blocks.{i}.{name}.weight": shape for name, shape in block.items()})
        return {name: ("float", shape) for name, shape in shapes.items()}

    @classmethod
    def load(cls, folder: Path, device: str | torch.device = "cpu") -> TransformerModel:
        """A model folder: its config checked against sane bounds and the weights' header
        against the config, before anything is allocated."""
        model = load_checked(folder, cls.family, TransformerConfig.from_dict, cls.expected_tensors, cls)
        return model.to(device).eval()


class Stepper:
    """``next_distribution`` with a key-value cache, for sampling on a CPU.

    Each call may extend the previous call's tokens by one or more; only the new ones run
    through the model, one at a time (a call whose tokens do not extend the last ones
    starts over). One token at a time through a small model is dominated by the cost of
    each operation, not by arithmetic, so the step is written with as few as it can be:

    - the cache is a ring of ``block_size`` slots per layer, preallocated: keys are
      rotated at their absolute positions, so attention (a sum over slots) does not care
      in which slot a key sits, and the window slides without copying;
    - the query and key rows of each attention weight are reordered so that rotary pairs
      sit side by side, which makes the rotation one complex multiplication, and the
      query rows carry the 1/sqrt(head) scale;
    - each RMSNorm's gain is folded into the matrix after it; keys are stored transposed;
    - no masks: one query attends to every filled slot.

    It computes what :meth:`TransformerModel.forward` computes with a sliding window of
    ``block_size`` keys (tests compare the two).
    """

    def __init__(self, model: TransformerModel) -> None:
        config = model.config
        self.model, self.config = model, config
        self.heads, self.head = config.n_head, config.d_model // config.n_head
        self.window = config.block_size
        device = next(model.parameters()).device
        half = self.head // 2
        pairs = torch.arange(self.head).view(2, half).t().reshape(-1)  # 0, half, 1, half+1, ...
        order = (torch.arange(self.heads)[:, None] * self.head + pairs).reshape(-1)
        C = config.d_model
        weights = {name: tensor.detach().float() for name, tensor in model.state_dict().items()}

        def after_norm(matrix: Tensor, norm: str) -> Tensor:
            """``matrix`` applied after the RMSNorm ``norm``, with the norm's gain folded in."""
            return (matrix * weights[norm]).contiguous()

        self.embed = weights["embed.weight"]
        self.head_weight = after_norm(self.embed, "norm.weight")
        self.cycles = [(period, weights[f"cycle_embeds.{i}.weight"]) for i, period in enumerate(config.cycles)]
        self.layers = []
        for i in range(config.n_layer):
            prefix = f"blocks.{i}."
            q, k, v = weights[prefix + "attention.qkv.weight"].split(C)
            qkv = torch.cat((q[order] / math.sqrt(self.head), k[order], v))
            self.layers.append(
                (
                    after_norm(qkv, prefix + "norm1.weight"),
                    weights[prefix + "attention.proj.weight"],
                    after_norm(weights[prefix + "up.weight"], prefix + "norm2.weight"),
                    weights[prefix + "down.weight"],
                )
            )
        self.inverse_frequency = model.inverse_frequency.to(device)
        # keys stored transposed: (1, head) @ (head, slots) is a fast product on a CPU, the
        # (slots, head) @ (head, 1) one is several times slower
        self.keys = torch.zeros(config.n_layer, self.heads, self.head, self.window, device=device)
        self.values = torch.zeros(config.n_layer, self.heads, self.window, self.head, device=device)
        self.tokens: list[int] = []

    def __call__(self, tokens: Sequence[int]) -> np.ndarray:
        tokens = [int(t) for t in tokens]
        seen = len(self.tokens)
        if not tokens:
            raise ValueError("the stepper needs at least one token (BOS)")
        if len(tokens) <= seen or tokens[:seen] != self.tokens:
            seen = 0  # the ring's filled slots are tracked by position: nothing to clear
        with torch.inference_mode():
            for position in range(seen, len(tokens)):
                x = self._step(tokens[position], position)
            logits = torch.mv(self.head_weight, F.rms_norm(x, (x.shape[-1],)))
            probabilities = torch.softmax(logits.double(), dim=-1).numpy()
        self.tokens = tokens
        return probabilities

    def _step(self, token: int, position: int) -> Tensor:
        """The last layer's output (C,) for ``token`` at ``position``; fills its cache slot."""
        x = self.embed[token]
        for period, table in self.cycles:
            x = x + table[position % period]
        angles = position * self.inverse_frequency  # float64: exact at any position
        rotation = torch.polar(torch.ones_like(angles), angles).to(torch.complex64)  # (head/2,)
        slot, filled = position % self.window, min(position + 1, self.window)
        C, H, hd = x.shape[-1], self.heads, self.head
        for layer, (qkv_weight, proj, up, down) in enumerate(self.layers):
            qkv = torch.mv(qkv_weight, F.rms_norm(x, (C,)))
            qk = torch.view_as_real(torch.view_as_complex(qkv[: 2 * C].view(2, H, hd // 2, 2)) * rotation)
            keys, values = self.keys[layer], self.values[layer]
            keys[:, :, slot] = qk[1].view(H, hd)
            values[:, slot] = qkv[2 * C :].view(H, hd)
            scores = torch.matmul(qk[0].view(H, 1, hd), keys[:, :, :filled])  # (H, 1, filled)
            attended = torch.matmul(torch.softmax(scores, dim=-1), values[:, :filled])  # (H, 1, hd)
            x = x + torch.mv(proj, attended.view(C))
            x = x + torch.mv(down, F.gelu(torch.mv(up, F.rms_norm(x, (C,)))))
        return x
