"""The multitrack family: the Transformer of :mod:`cadenza.models.transformer` over the
multitrack tokens of :mod:`cadenza.models.multitrack_tokens`, and what it composes.

:func:`infill` rewrites any bars × tracks of a score given everything around them (past
and future), :func:`continue_` adds bars after the end; writing a track given the others
is :func:`infill` of every bar of an empty track. All three are one prompt (the piece
with ``Fill`` holes) and one constrained decoding run (:class:`FillGrammar`) through the
shared loop :func:`cadenza.models.sampling.decode`. Only the notes that start in the
filled cells are replaced: every other note of the score is kept as it was, byte for byte.

Saved like the Transformer (``config.json`` names ``"family": "multitrack"``), with a
``tokenizer.json`` that holds the token names, checked when the model is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import symusic
import torch
import torch.nn.functional as F

from cadenza.errors import InputFileError, InvalidArgumentError
from cadenza.io.midi import untangle
from cadenza.models import multitrack_tokens as mt
from cadenza.models.constraints import DecodingState
from cadenza.models.folder import read_json, write_json
from cadenza.models.sampling import Sampling, decode
from cadenza.models.transformer import Stepper, TransformerConfig, TransformerModel
from cadenza.models.vocabulary import Vocabulary
from cadenza.theory import chord_pitch_classes

__all__ = ["MultitrackModel", "PrefillStepper", "BarAsk", "FillGrammar", "fill", "infill", "continue_", "TOKENIZER"]

TOKENIZER = "tokenizer.json"
MAX_NOTES_PER_BAR = 96  # of one track: the decoder closes the bar there


class MultitrackModel(TransformerModel):
    """A :class:`TransformerModel` whose ids are multitrack tokens."""

    family = "multitrack"

    def stepper(self) -> PrefillStepper:
        return PrefillStepper(self)

    @classmethod
    def tiny(cls, **overrides: object) -> MultitrackModel:
        """Two layers of width 64 over 512 tokens: trains and samples on a CPU in seconds, for tests."""
        settings: dict = {"block_size": 512, "d_model": 64, "tokens": "multitrack", **overrides}
        return cls(TransformerConfig.tiny(len(mt.NAMES), **settings))

    def save(self, folder: Path, dtype: torch.dtype = torch.float32, extra: dict | None = None) -> Path:
        weights = super().save(folder, dtype, extra)
        write_json(Path(folder) / TOKENIZER, mt.vocabulary_json())
        return weights

    @classmethod
    def load(cls, folder: Path, device: str | torch.device = "cpu") -> MultitrackModel:
        folder = Path(folder)
        if read_json(folder / TOKENIZER, "tokenizer.json") != mt.vocabulary_json():
            raise InputFileError("was made with other multitrack tokens than this cadenza writes", folder / TOKENIZER)
        model = super().load(folder, device)
        assert isinstance(model, MultitrackModel)
        return model


class PrefillStepper(Stepper):
    """The Transformer's :class:`~cadenza.models.transformer.Stepper`, except that a first
    call runs its whole prompt through the model at once (an infill prompt is hundreds of
    tokens; one at a time they cost most of the decoding time), filling the same cache
    slots the one-token steps would have; later calls step one token at a time."""

    def __call__(self, tokens: Sequence[int]) -> np.ndarray:
        tokens = [int(t) for t in tokens]
        if self.tokens or not 1 < len(tokens) <= self.window:
            return super().__call__(tokens)
        with torch.inference_mode():
            x = self._prefill(tokens)
            logits = torch.mv(self.head_weight, F.rms_norm(x, (x.shape[-1],)))
            probabilities = torch.softmax(logits.double(), dim=-1).numpy()
        self.tokens = tokens
        return probabilities

    def _prefill(self, tokens: list[int]) -> torch.Tensor:
        """The last layer's output (C,) for the last of ``tokens`` (positions 0..T-1, T at
        most the window); fills cache slots 0..T-1 as :meth:`_step` would."""
        T, H, hd = len(tokens), self.heads, self.head
        positions = torch.arange(T, device=self.embed.device)
        x = self.embed[torch.tensor(tokens, device=self.embed.device)]  # (T, C)
        for period, table in self.cycles:
            x = x + table[positions % period]
        C = x.shape[-1]
        angles = positions.double()[:, None] * self.inverse_frequency  # (T, hd/2), float64 as in _step
        rotation = torch.polar(torch.ones_like(angles), angles).to(torch.complex64)[:, None, None, :]
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        for layer, (qkv_weight, proj, up, down) in enumerate(self.layers):
            qkv = F.rms_norm(x, (C,)) @ qkv_weight.t()  # (T, 3C)
            pairs = qkv[:, : 2 * C].contiguous().view(T, 2, H, hd // 2, 2)
            qk = torch.view_as_real(torch.view_as_complex(pairs) * rotation).reshape(T, 2, H, hd)
            q, k, v = (
                qk[:, 0].transpose(0, 1),
                qk[:, 1].transpose(0, 1),
                qkv[:, 2 * C :].reshape(T, H, hd).transpose(0, 1),
            )
            self.keys[layer][:, :, :T] = k.transpose(1, 2)  # (H, hd, T)
            self.values[layer][:, :T] = v  # (H, T, hd)
            scores = torch.matmul(q, k.transpose(1, 2)).masked_fill(~causal, float("-inf"))  # (H, T, T)
            attended = torch.matmul(torch.softmax(scores, dim=-1), v)  # (H, T, hd)
            x = x + attended.transpose(0, 1).reshape(T, C) @ proj.t()
            x = x + F.gelu(F.rms_norm(x, (C,)) @ up.t()) @ down.t()
        return x[-1]


@dataclass(frozen=True)
class BarAsk:
    """Controls one filled bar must have (bins as in :mod:`~cadenza.models.multitrack_tokens`);
    ``None`` leaves that one to the model."""

    density: int | None = None
    polyphony: int | None = None
    chord: str | None = None  # a Harte label, e.g. "C:maj"; "N" for none
    intensity: int | None = None
    chord_tones: bool = False  # with a chord asked: every pitch of the cell one of its tones
    scale: frozenset[int] | None = None  # else, when given: the pitch classes the cell may use
    # with chord_tones: (position on the grid, chord) where the chord the notes hold to
    # changes inside the bar (the control still names one chord, ``chord``)
    changes: tuple[tuple[int, str], ...] = ()

    def tone_mask(self) -> np.ndarray | None:
        """The pitch tokens the cell may use: its chord's tones when it holds to them, else
        its scale's; None: any. With ``changes``, one row per position of the bar."""
        if self.chord_tones and self.changes:
            rows = np.zeros((mt.MAX_BAR_QUARTERS * mt.RESOLUTION, len(mt.NAMES)), dtype=bool)
            for start, chord in sorted(self.changes):
                rows[start:] = _classes_mask(chord_pitch_classes(chord) or self.scale or frozenset(range(12)))
            return rows
        held = chord_pitch_classes(self.chord) if self.chord_tones else frozenset()
        classes = held or self.scale
        if not classes:
            return None
        return _classes_mask(classes)

    def tokens(self) -> dict[str, int]:
        """{control kind: the token it must be}."""
        values = {"Density": self.density, "Poly": self.polyphony, "Intensity": self.intensity}
        values["Chord"] = None if self.chord is None else mt.chord_name(self.chord)  # type: ignore[assignment]
        out = {}
        for kind, value in values.items():
            if value is not None:
                name = f"{kind}_{value}"
                if name not in mt.IDS:
                    raise InvalidArgumentError(f"no {kind.lower()} control {value!r} in the multitrack tokens")
                out[kind] = mt.IDS[name]
        return out


def _classes_mask(classes: frozenset[int]) -> np.ndarray:
    """The pitch tokens of these pitch classes."""
    values = np.nan_to_num(mt.VALUES, nan=-1).astype(np.int64)
    return (mt.KINDS == "Pitch") & np.isin(values % 12, sorted(classes))


@cache
def _masks() -> dict[str, np.ndarray]:
    return {kind: kind == mt.KINDS for kind in set(mt.KINDS)}


@cache
def vocabulary() -> Vocabulary:
    return Vocabulary.from_tokenizer_vocab(mt.IDS)


def _token(token: int) -> np.ndarray:
    mask = np.zeros(len(mt.NAMES), dtype=bool)
    mask[token] = True
    return mask


class FillGrammar:
    """The decoding grammar of the fill segments that follow a prompt ending at ``FillStart``:

    ``Density (Poly Chord Intensity (Pos (Pitch Dur Vel)+)+)? FillEnd``, once per hole, then
    EOS. Positions rise inside the bar and stay in it, pitches rise at one position, a
    bar holds as many notes as its density bin says and as many notes per onset as its
    polyphony bin says (so those two controls always hold, unless they contradict each
    other), an empty bar (``Density_0``) holds none, and the controls of a hole with a
    :class:`BarAsk` are the ones asked for. Its mask is never empty.
    """

    def __init__(
        self,
        prompt_length: int,
        holes: int,
        bar_ticks: int,
        asks: Sequence[Mapping[str, int]],
        tones: Sequence[np.ndarray | None] = (),
    ) -> None:
        self.seen = prompt_length  # history tokens parsed so far (the prompt's last is FillStart)
        self.holes, self.bar_ticks, self.asks = holes, bar_ticks, list(asks)
        self.tones = list(tones)  # per hole, the pitch tokens it may use (None: any)
        self.hole, self.last, self.density, self.poly = 0, "FillStart", 0, 0  # hole: the index of the one being filled
        self.position, self.notes, self.onsets, self.at_position, self.pitch = -1, 0, 0, 0, -1
        masks = _masks()
        self.kind = masks
        self._positions = masks["Pos"] & (np.nan_to_num(mt.VALUES, nan=1e9) < bar_ticks)
        self._empty = _token(mt.IDS["Density_0"])
        self._full_poly = masks["Poly"] & ~_token(mt.IDS["Poly_0"])
        self.quarters = bar_ticks / mt.RESOLUTION

    def _advance(self, token: int) -> None:
        kind = str(mt.KINDS[token])
        value = mt.VALUES[token]
        if kind == "FillStart":
            self.hole += 1
            self.position, self.notes, self.onsets, self.density, self.poly = -1, 0, 0, 0, 0
        elif kind == "Density":
            self.density = int(mt.NAMES[token].split("_")[1])
        elif kind == "Poly":
            self.poly = int(mt.NAMES[token].split("_")[1])
        elif kind == "Pos":
            self.position, self.at_position, self.pitch = int(value), 0, -1
            self.onsets += 1
        elif kind == "Pitch":
            self.pitch = int(value)
            self.notes += 1
            self.at_position += 1
        self.last = kind

    def _note_range(self) -> tuple[int, float]:
        """(fewest, most) notes the bar's density bin allows."""
        if self.density == 0:
            return 0, 0
        edges = (0.0, *mt.DENSITY_EDGES, np.inf)
        low, high = edges[self.density - 1] * self.quarters, edges[self.density] * self.quarters
        return int(np.floor(low)) + 1, min(float(np.floor(high)), MAX_NOTES_PER_BAR)

    def _per_onset(self) -> int:
        """Notes one onset may hold for the bar to stay in its polyphony bin, were all like it."""
        return self.poly if 0 < self.poly < mt.POLYPHONY_BINS - 1 else mt.MAX_NOTES_AT_ONCE

    def _needed(self) -> int:
        return max(0, self._note_range()[0] - self.notes)

    def _open_positions(self) -> np.ndarray:
        """Later positions of the bar from which the notes the density still needs fit."""
        values = np.nan_to_num(mt.VALUES, nan=-1)
        room = (self.bar_ticks - values) * self._per_onset() >= self._needed()
        return self._positions & (values > self.position) & room

    def _pitches(self, required: bool = True) -> np.ndarray:
        """Pitches above the last one at this position, leaving room above for the notes
        that must still start here: those later positions cannot hold, and those the
        polyphony bin wants at this onset. Held to the hole's tones when it has them; a
        ``required`` note falls back to any pitch where none of them is left (at the top
        of the range), an optional one does not."""
        values = np.nan_to_num(mt.VALUES, nan=-1)
        later = (self.bar_ticks - 1 - self.position) * self._per_onset()
        for_density = self._needed() - later - 1  # besides the one chosen now
        for_polyphony = int(np.ceil((self.poly - 0.5) * self.onsets)) - self.notes - 1 if self.poly else 0
        here = max(0, for_density, for_polyphony)
        pitches = self.kind["Pitch"] & (values > self.pitch) & (values < mt.PITCHES.stop - here)
        tones = self.tones[self.hole] if self.hole < len(self.tones) else None
        if tones is not None and tones.ndim == 2:  # the tones change inside the bar
            tones = tones[min(max(self.position, 0), len(tones) - 1)]
        held = pitches & tones if tones is not None else pitches
        return held if held.any() or not required else pitches  # the counts come first

    def _control(self, kind: str, default: np.ndarray) -> np.ndarray:
        ask = self.asks[self.hole] if self.hole < len(self.asks) else {}
        return _token(ask[kind]) if kind in ask else default

    def allowed(self, state: DecodingState) -> np.ndarray:
        for token in state.history[self.seen :]:
            self._advance(token)
        self.seen = len(state.history)
        mask = self._mask()
        if not mask.any():  # a corner the rules paint themselves into: close the bar
            mask = _token(mt.FILL_END)
        return mask

    def _mask(self) -> np.ndarray:
        kind, last = self.kind, self.last
        if last == "FillStart":
            return self._control("Density", kind["Density"])
        if last == "Density":
            return _token(mt.FILL_END) if self.density == 0 else self._control("Poly", self._full_poly)
        if last == "Poly":
            return self._control("Chord", kind["Chord"])
        if last == "Chord":
            return self._control("Intensity", kind["Intensity"])
        if last == "Intensity":
            return self._open_positions()
        if last == "Pos":
            return self._pitches()
        if last == "Pitch":
            return kind["Dur"].copy()
        if last == "Dur":
            return kind["Vel"].copy()
        if last == "Vel":
            fewest, most = self._note_range()
            low, high = (self.poly - 0.5, self.poly + 0.5 if self.poly < mt.POLYPHONY_BINS - 1 else np.inf)
            mean = self.notes / self.onsets
            mask = np.zeros(len(mt.NAMES), dtype=bool)
            if self.notes < most:
                if (self.notes + min(self._per_onset(), most - self.notes)) / (self.onsets + 1) >= low:
                    mask |= self._open_positions()  # a new onset can still bring the mean into its bin
                if self.at_position < mt.MAX_NOTES_AT_ONCE and (self.notes + 1) / self.onsets < high:
                    mask |= self._pitches(required=False)
            if (self.notes >= fewest and low <= mean < high) or not mask.any():
                mask[mt.FILL_END] = True
            return mask
        if last == "FillEnd":
            return _token(mt.FILL_START if self.hole + 1 < self.holes else mt.EOS)
        return _token(mt.EOS)


def _context(piece: mt.Piece, holes: Sequence[tuple[int, int]], budget: int) -> range:
    """The bars the prompt shows: those of the holes, and as many around them, one on
    each side in turn, as fit in ``budget`` tokens with the fills' expected length."""
    sizes = np.array(
        [
            [1 + len(c) + len(n) for c, n in zip(cs, ns, strict=True)]
            for cs, ns in zip(piece.controls, piece.notes, strict=True)
        ]
    )
    bars = [b for _, b in holes]
    first, last = min(bars), max(bars) + 1
    per_cell = float(sizes.mean()) if sizes.size else 8.0
    fixed = len(piece.head) + 4 * len(piece.tracks) + len(holes) * (per_cell + 2) + 1

    def cost(a: int, b: int) -> float:
        return fixed + float(sizes[:, a:b].sum())

    grew = True
    while grew:
        grew = False
        if first > 0 and cost(first - 1, last) <= budget:
            first, grew = first - 1, True
        if last < piece.bars and cost(first, last + 1) <= budget:
            last, grew = last + 1, True
    return range(first, last)


def fill(
    model: TransformerModel,
    piece: mt.Piece,
    holes: Sequence[tuple[int, int]],
    sampling: Sampling,
    asks: Mapping[tuple[int, int], BarAsk] | None = None,
) -> dict[tuple[int, int], list[tuple[int, int, int, int]]]:
    """The notes the model writes in each ``(track, bar)`` hole of ``piece``:
    {hole: [(onset tick from the piece's start, pitch, duration ticks, velocity bin)]}."""
    from cadenza.models.family import torch_threads

    holes = sorted(set(holes))  # the order the sequence lists them: track, then bar
    if not holes:
        return {}
    window = _context(piece, holes, model.config.block_size)
    prompt = mt.infill_prompt(piece, holes, window)
    asked = [(asks or {}).get(hole, BarAsk()) for hole in holes]
    wanted = [ask.tokens() for ask in asked]
    tones = [ask.tone_mask() for ask in asked]
    grammar = FillGrammar(len(prompt), len(holes), mt.bar_ticks(piece.meter), wanted, tones)
    longest = len(prompt) + len(holes) * (6 + 4 * MAX_NOTES_PER_BAR) + 1
    with torch_threads():
        tokens = decode(model.stepper(), vocabulary(), prompt, [grammar], sampling, longest)
    parsed = mt.parse(tokens)
    shift = window.start * mt.bar_ticks(piece.meter)
    return {
        (t, b + window.start): [(onset + shift, pitch, length, velocity) for onset, pitch, length, velocity in notes]
        for t, b in parsed.filled
        for notes in [mt.piece_notes(parsed, t, b)]
    }


MAX_NEW_BARS = 1000  # bars past a score's end one infill or continuation may add


def infill(
    model: TransformerModel,
    score: symusic.Score,
    bars: range,
    tracks: Sequence[int],
    sampling: Sampling,
    *,
    asks: Mapping[tuple[int, int], BarAsk] | None = None,
    roles: Sequence[str] | None = None,
    style: str = "other",
) -> symusic.Score:
    """``score`` with the notes that start in ``bars`` (0-based, of the score's first
    meter; bars past the end add bars) of ``tracks`` written anew by ``model``, given
    everything around them. Every other note is kept unchanged. ``asks`` sets controls
    of single cells; ``roles`` overrides the roles the analysis hears."""
    score = score if type(score).__name__ == "ScoreTick" else score.to("tick")
    if not len(bars) or bars.step != 1 or bars.start < 0:
        raise InvalidArgumentError(f"bars must be a non-empty rising range from 0 up, got {bars!r}")
    for track in tracks:
        if not 0 <= track < len(score.tracks):
            raise InvalidArgumentError(f"track {track} is not in the score (it has {len(score.tracks)})")
    piece = mt.tokenize(score, roles, style=style)
    if bars.stop > piece.bars + MAX_NEW_BARS:  # bars past the end cost memory and decoding time each
        raise InvalidArgumentError(
            f"bars {bars.start}..{bars.stop} reach more than {MAX_NEW_BARS} bars past the score's {piece.bars}"
        )
    if piece.bars < bars.stop:
        piece = mt.tokenize(score, roles, style=style, bars=bars.stop)
    written = fill(model, piece, [(t, b) for t in tracks for b in bars], sampling, asks)
    return _replace(score, piece.meter, bars, written)


def continue_(
    model: TransformerModel,
    score: symusic.Score,
    bars: int,
    sampling: Sampling,
    *,
    asks: Mapping[tuple[int, int], BarAsk] | None = None,
    roles: Sequence[str] | None = None,
    style: str = "other",
) -> symusic.Score:
    """``score`` and ``bars`` more bars of every track after its last onset's bar."""
    if bars < 1:
        raise InvalidArgumentError(f"bars must be at least 1, got {bars}")
    start = mt.tokenize(score, roles, style=style).bars
    tracks = range(len(score.tracks))
    return infill(model, score, range(start, start + bars), tracks, sampling, asks=asks, roles=roles, style=style)


def _replace(
    score: symusic.Score, meter: str, bars: range, written: Mapping[tuple[int, int], list[tuple[int, int, int, int]]]
) -> symusic.Score:
    """A copy of ``score`` whose filled cells hold the written notes instead of their own,
    cut at the end of the bars filled: what is written never sounds over the notes kept."""
    out = score.copy()
    tpq = score.ticks_per_quarter
    per_bar = mt.bar_ticks(meter)
    stop = bars.stop * per_bar
    for track in sorted({t for t, _ in written}):
        notes = out.tracks[track].notes
        onsets = np.rint(notes.numpy()["time"].astype(np.float64) * mt.RESOLUTION / tpq).astype(np.int64)
        inside = (onsets >= bars.start * per_bar) & (onsets < bars.stop * per_bar)
        kept = [note for note, drop in zip(notes, inside, strict=True) if not drop]
        scale = tpq / mt.RESOLUTION
        new = untangle(
            [
                symusic.Note(round(onset * scale), round(min(duration, stop - onset) * scale), pitch, v)
                for bar in bars
                for onset, pitch, duration, velocity in written.get((track, bar), [])
                for v in [mt.velocity_of(velocity)]
            ]
        )
        begin = round(bars.start * per_bar * scale)
        held: dict[int, int] = {}  # pitch -> when the kept notes struck before the bars release it
        for note in kept:
            if note.time < begin:
                held[note.pitch] = max(held.get(note.pitch, 0), note.time + note.duration)
        new = [n for n in new if n.time >= held.get(n.pitch, 0)]  # no key struck while a kept note holds it
        notes.clear()
        notes.extend(kept + new)
    return out
