"""The adversarial family: a MuseGAN-style generator of multitrack piano-roll phrases and
the critic that judges them (Wasserstein loss with gradient penalty; the training loop is
:mod:`cadenza.train.gan`).

**A phrase** is a roll of shape ``(tracks, bars, steps, pitches)``: three tracks by role
(:data:`TRACKS`: POP909's MELODY, BRIDGE and PIANO; other corpora's tracks mapped to them
by :func:`track_slot`), ``bars`` bars of 4/4 counted from tick 0, ``resolution`` steps a
beat (12: 16ths and triplet 8ths; 48 steps a bar), pitches MIDI ``low`` .. ``low +
pitches - 1`` (24..107). Each cell is :data:`OFF`, :data:`HELD` (a note sounds on from the
step before) or :data:`ONSET` (a note starts here). Keeping onsets apart from held steps
is what lets a repeated note stay two notes (MuseGAN merges them); a roll of booleans is
read as MuseGAN's, every run of on-steps one note.

**The networks** see each track as two channels, *on* (held or onset) and *onset*. The
generator draws a shared latent, spreads it over the bars (its temporal part), adds one
latent per track, and runs a private bar generator per track (transposed convolutions,
a bar at a time, weights shared over bars) to the two channels' probabilities; its time
axis unfolds along the beat (beats, 8ths, 16ths, then each 16th's steps), so that a note
is written in 16ths and placed within one by the last layer. The critic encodes each bar
of all tracks (convolutions over an octave, then over the pitch axis, then over a 16th's
steps, 16ths with their neighbours, beats and the bar), and scores the phrase from the
bars' codes. Both may be conditioned on a
chord per bar (:data:`CHORDS`: 12 major, 12 minor triads and none, one-hot) and the
generator on a given track (``given_track``: it fills the others; the given roll replaces
its own output, so the critic sees every track).

Sampling (:func:`sample_phrases`) is a pure function of the seed and the conditions;
binarisation is a hard threshold at 0.5 (or Bernoulli draws from the same seed).

Saved as ``config.json`` (``"family": "gan"``) + ``model.safetensors`` (generator and
critic: the critic is kept to judge other families' candidates); never pickle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import ClassVar

import numpy as np
import symusic
import torch
from torch import Tensor, nn

from cadenza.errors import InvalidArgumentError
from cadenza.models.folder import (
    WEIGHTS,
    load_checked,
    write_config,
    write_file,
)
from cadenza.theory import PITCH_NAMES, QUALITIES, parse_chord

__all__ = [
    "TRACKS",
    "OFF",
    "HELD",
    "ONSET",
    "CHORDS",
    "NO_CHORD",
    "GanConfig",
    "GanModel",
    "Generator",
    "Critic",
    "track_slot",
    "score_to_phrases",
    "phrase_to_score",
    "bar_chords",
    "chord_index",
    "as_channels",
    "binarise",
    "sample_phrases",
]

TRACKS = ("MELODY", "BRIDGE", "PIANO")
OFF, HELD, ONSET = 0, 1, 2
CHORDS = (*(f"{name}:maj" for name in PITCH_NAMES), *(f"{name}:min" for name in PITCH_NAMES), "N")
NO_CHORD = len(CHORDS) - 1
_SLOTS = {"melody": 0, "counter": 1}  # token role -> track; the rest (harmony, bass, other) -> PIANO
_BEATS = 4  # 4/4
_START_BIAS = -3.0  # the generator's first rolls: about 5 % of cells on
_NEVER = -30.0  # the logit of an onset inside a 16th: a probability of 1e-13
_BOUNDS = (  # name, low, high: a config.json read from disk is refused outside these
    ("tracks", 1, 8),
    ("bars", 1, 16),
    ("resolution", 1, 48),
    ("low", 0, 127),
    ("pitches", 12, 128),
    ("latent", 1, 512),
    ("width", 1, 512),
    ("critic_width", 1, 512),
)


@dataclass(frozen=True)
class GanConfig:
    tracks: int = 3
    bars: int = 4
    resolution: int = 12  # steps a beat (4/4: 48 steps a bar)
    low: int = 24  # lowest MIDI pitch of the roll
    pitches: int = 84
    latent: int = 32  # size of the shared and of each track's latent
    width: int = 32  # channels of the bar generators' first layer
    critic_width: int = 16  # channels of the critic's first layer
    chords: bool = False  # conditioned on a chord per bar
    given_track: int = -1  # conditioned on this track (the generator fills the others); -1: none

    def __post_init__(self) -> None:
        for name, low, high in _BOUNDS:
            value = getattr(self, name)
            if type(value) is not int or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
        if self.pitches % 12 or self.low + self.pitches > 128:
            raise ValueError(f"pitches must be whole octaves inside MIDI 0..127, got {self.pitches} from {self.low}")
        if self.width % 8:
            raise ValueError(f"width must be a multiple of 8, got {self.width}")
        if self.steps % 16:
            raise ValueError(f"steps a bar ({self.steps}) must be a multiple of 16 (resolution a multiple of 4)")
        if type(self.chords) is not bool:
            raise ValueError(f"chords must be true or false, got {self.chords!r}")
        if type(self.given_track) is not int or not -1 <= self.given_track < self.tracks:
            raise ValueError(f"given_track must be -1 or a track index below {self.tracks}, got {self.given_track!r}")

    @property
    def steps(self) -> int:
        """Steps a bar."""
        return self.resolution * _BEATS

    @classmethod
    def tiny(cls, **overrides: object) -> GanConfig:
        """A few thousand parameters: trains on a CPU in seconds, for tests."""
        return cls(**{"latent": 4, "width": 8, "critic_width": 4, **overrides})  # type: ignore[arg-type]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> GanConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


# ------------------------------------------------------------------------ the roll
def track_slot(role: str) -> int | None:
    """The phrase track of a track role (:func:`cadenza.models.multitrack_tokens` roles):
    melody -> MELODY, counter -> BRIDGE, harmony, bass and other -> PIANO, drums: none."""
    if role == "drums":
        return None
    return _SLOTS.get(role, 2)


def _step(ticks: np.ndarray, tpq: int, resolution: int) -> np.ndarray:
    return np.rint(ticks.astype(np.float64) * resolution / tpq).astype(np.int64)


def score_to_phrases(score: symusic.Score, config: GanConfig | None = None, *, hop: int = 0) -> np.ndarray:
    """The phrases of ``score``: windows of ``config.bars`` bars of 4/4 counted from tick 0,
    ``hop`` bars apart (0: side by side), as an uint8 array ``(n, tracks, bars, steps,
    pitches)`` of :data:`OFF` / :data:`HELD` / :data:`ONSET`. Tracks go to the phrase's
    by role (:func:`track_slot`; tracks of one role share it); notes are moved to the
    nearest step (at least a step long, at most a phrase); notes outside the pitch range
    and drum tracks are left out. A pitch struck again while it sounds starts a new note
    there, held as long as either. Windows without a note are left out. Only windows
    that hold notes are ever allocated (a lone note far out costs one window)."""
    from cadenza.analysis._notes import as_tick_score
    from cadenza.models.multitrack_tokens import _track_roles

    config = config or GanConfig()
    empty = np.zeros((0, config.tracks, config.bars, config.steps, config.pitches), np.uint8)
    if score.ticks_per_quarter <= 0:
        return empty
    score = as_tick_score(score)
    per_phrase = config.bars * config.steps
    parts = []
    for role, track in zip(_track_roles(score), score.tracks, strict=True):
        slot = track_slot(role)
        if slot is None or slot >= config.tracks or not len(track.notes):
            continue
        data = track.notes.numpy()
        onset = _step(data["time"], score.tpq, config.resolution)
        end = _step(data["time"] + data["duration"], score.tpq, config.resolution)
        end = np.clip(end, onset + 1, onset + per_phrase)
        pitch = data["pitch"].astype(np.int64) - config.low
        keep = (pitch >= 0) & (pitch < config.pitches) & (onset >= 0)
        parts.append(np.stack([np.full(int(keep.sum()), slot), onset[keep], end[keep], pitch[keep]], axis=1))
    notes = np.concatenate(parts) if parts else np.zeros((0, 4), np.int64)
    if not len(notes):
        return empty
    notes = notes[np.lexsort((notes[:, 1], notes[:, 3], notes[:, 0]))]  # by track, pitch, then onset
    hop_steps = (hop or config.bars) * config.steps
    # the windows a note sounds in: starts s = k * hop_steps with s < end and s + per_phrase > onset
    first = np.maximum(0, -(-(notes[:, 1] - per_phrase + 1) // hop_steps))
    last = (notes[:, 2] - 1) // hop_steps
    spans = last - first + 1
    window_of = np.repeat(first, spans) + np.arange(int(spans.sum())) - np.repeat(np.cumsum(spans) - spans, spans)
    note_of = np.repeat(np.arange(len(notes)), spans)
    windows = np.unique(window_of)
    rolls = np.zeros((len(windows), config.tracks, config.pitches, per_phrase), np.uint8)
    row_of = np.searchsorted(windows, window_of)
    for row, k, index in zip(row_of.tolist(), window_of.tolist(), note_of.tolist(), strict=True):
        slot, onset_, end_, pitch_ = notes[index].tolist()
        begin = k * hop_steps
        rolls[row, slot, pitch_, max(onset_, begin) - begin : min(end_, begin + per_phrase) - begin] = HELD
    for row, k, index in zip(row_of.tolist(), window_of.tolist(), note_of.tolist(), strict=True):
        slot, onset_, _, pitch_ = notes[index].tolist()
        if k * hop_steps <= onset_:  # the window holds the note's onset
            rolls[row, slot, pitch_, onset_ - k * hop_steps] = ONSET
    shaped = rolls.reshape(len(windows), config.tracks, config.pitches, config.bars, config.steps)
    return np.ascontiguousarray(shaped.transpose(0, 1, 3, 4, 2))


def phrase_to_score(
    roll: np.ndarray,
    tempo: float = 120.0,
    programs: Sequence[int] = (0, 0, 0),
    *,
    resolution: int = 12,
    low: int = 24,
    tpq: int = 480,
    velocity: int = 80,
    names: Sequence[str] = TRACKS,
) -> symusic.Score:
    """A Score of one phrase ``(tracks, bars, steps, pitches)`` in 4/4 at ``tempo``: a note
    starts at an :data:`ONSET` or where the roll turns on, and lasts while the following
    steps are :data:`HELD`. A boolean roll is read as MuseGAN's: every run of on-steps of
    a pitch is one note."""
    roll = np.asarray(roll)
    if roll.ndim != 4 or roll.shape[0] > len(programs) or roll.shape[0] > len(names):
        raise InvalidArgumentError(
            f"a phrase is (tracks, bars, steps, pitches) with a program per track, got {roll.shape}"
        )
    tracks, bars, steps, pitches = roll.shape
    flat = roll.reshape(tracks, bars * steps, pitches).astype(np.uint8)
    if roll.dtype == np.bool_:
        flat = flat * HELD
    tick = tpq / resolution
    score = symusic.Score(tpq)
    score.tempos.append(symusic.Tempo(0, float(tempo)))
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    for t in range(tracks):
        track = symusic.Track(str(names[t]), int(programs[t]), False)
        on = flat[t] > 0  # (time, pitch)
        before = np.vstack([np.zeros((1, pitches), bool), on[:-1]])
        starts = on & ((flat[t] == ONSET) | ~before)
        notes = []
        for time, pitch in zip(*np.nonzero(starts), strict=True):
            end = time + 1
            while end < len(on) and flat[t, end, pitch] == HELD:
                end += 1
            notes.append((round(time * tick), round((end - time) * tick), low + int(pitch)))
        for time, duration, pitch in sorted(notes):
            track.notes.append(symusic.Note(time, duration, pitch, velocity))
        score.tracks.append(track)
    return score


# ------------------------------------------------------------------------ chords
def chord_index(label: str) -> int:
    """The index in :data:`CHORDS` of a Harte label: its triad (a seventh or a sus chord
    counts as its major or minor triad: minor when the quality has a minor third), or
    :data:`NO_CHORD` for ``"N"``."""
    parsed = parse_chord(label)
    if parsed is None:
        return NO_CHORD
    root, quality = parsed
    minor = 3 in QUALITIES[quality]
    return root + 12 * minor


_TEMPLATES = np.zeros((24, 12))
for _root in range(12):
    for _index, _third in ((_root, 4), (_root + 12, 3)):  # root, third and fifth: a root alone names its chord
        _TEMPLATES[_index, [_root, (_root + _third) % 12, (_root + 7) % 12]] = (1.0, 0.95, 0.9)


def bar_chords(phrases: np.ndarray) -> np.ndarray:
    """The chord of every bar of ``phrases`` ``(..., tracks, bars, steps, pitches)`` as an
    index in :data:`CHORDS`: the triad whose tones hold most of the bar's sounding steps
    (over every track; the root weighs a little more than the third, the third than the
    fifth), less the steps of other pitch classes; major before minor on a tie; none for
    an empty bar.
    ``config.low`` must be a multiple of 12 (a C), as it is by default."""
    on = (np.asarray(phrases) > 0).sum(axis=(-4, -2))  # (..., bars, pitches)
    octaves = on.shape[-1] // 12
    chroma = on[..., : octaves * 12].reshape(*on.shape[:-1], octaves, 12).sum(axis=-2).astype(np.float64)
    scores = chroma @ _TEMPLATES.T * 2 - chroma.sum(axis=-1, keepdims=True)  # in - out
    chords = scores.argmax(axis=-1)
    return np.where(chroma.sum(axis=-1) > 0, chords, NO_CHORD).astype(np.int64)


# ------------------------------------------------------------------------ the networks
def as_channels(phrases: np.ndarray | Tensor) -> Tensor:
    """``(n, tracks, bars, steps, pitches)`` of OFF/HELD/ONSET -> float ``(n, tracks, 2,
    bars, steps, pitches)``: the *on* and *onset* channels the networks see."""
    rolls = torch.as_tensor(phrases)
    return torch.stack([rolls > 0, rolls == ONSET], dim=2).float()


def _chord_one_hot(chords: Tensor) -> Tensor:
    return nn.functional.one_hot(chords, len(CHORDS)).float()


class _Down(nn.Module):
    """A convolution whose kernel is its stride, channels last: ``(n, time, pitch, cin)`` ->
    ``(n, time / kt, pitch / kp, cout)``, written as one matrix product (on a CPU many
    times faster than ``Conv2d`` with such kernels, forward and backward)."""

    def __init__(self, cin: int, cout: int, kt: int, kp: int) -> None:
        super().__init__()
        self.kt, self.kp = kt, kp
        self.linear = nn.Linear(kt * kp * cin, cout)

    def forward(self, x: Tensor) -> Tensor:
        n, time, pitch, cin = x.shape
        kt, kp = self.kt, self.kp
        patches = x.reshape(n, time // kt, kt, pitch // kp, kp, cin).transpose(2, 3)
        return self.linear(patches.reshape(n, time // kt, pitch // kp, kt * kp * cin))


class _Up(nn.Module):
    """A transposed convolution whose kernel is its stride, channels last: ``(n, time,
    pitch, cin)`` -> ``(n, time * kt, pitch * kp, cout)``, as one matrix product."""

    def __init__(self, cin: int, cout: int, kt: int, kp: int) -> None:
        super().__init__()
        self.kt, self.kp, self.cout = kt, kp, cout
        self.linear = nn.Linear(cin, kt * kp * cout)

    def forward(self, x: Tensor) -> Tensor:
        n, time, pitch, _ = x.shape
        kt, kp = self.kt, self.kp
        patches = self.linear(x).view(n, time, pitch, kt, kp, self.cout).transpose(2, 3)
        return patches.reshape(n, time * kt, pitch * kp, self.cout)


class _TimeMix(nn.Module):
    """A convolution over time with a kernel of three cells, channels last: ``(n, time,
    pitch, c)`` -> the same shape, each cell mixed with its neighbours (zeros beyond the
    bar). The kernel-is-stride layers around it never look across a cell's border; this
    one lets a note that crosses a 16th's border be written (and judged) as one note."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.linear = nn.Linear(3 * channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        edge = torch.zeros_like(x[:, :1])
        before = torch.cat([edge, x[:, :-1]], dim=1)
        after = torch.cat([x[:, 1:], edge], dim=1)
        return self.linear(torch.cat([before, x, after], dim=-1))


class _BarEncoder(nn.Module):
    """A bar ``(n, steps, pitches, channels)`` -> a code of ``4 * width``: an octave at a
    time, then over the octaves, then a 16th's steps, the 16ths with their neighbours,
    a beat's 16ths, and the bar's beats."""

    def __init__(self, channels: int, width: int, config: GanConfig) -> None:
        super().__init__()
        w = width
        self.net = nn.Sequential(
            _Down(channels, w, 1, 12),
            nn.LeakyReLU(0.2),
            _Down(w, w, 1, config.pitches // 12),
            nn.LeakyReLU(0.2),
            _Down(w, 2 * w, config.resolution // 4, 1),
            nn.LeakyReLU(0.2),
            _TimeMix(2 * w),
            nn.LeakyReLU(0.2),
            _Down(2 * w, 4 * w, 4, 1),
            nn.LeakyReLU(0.2),
            _Down(4 * w, 4 * w, _BEATS, 1),
            nn.LeakyReLU(0.2),
        )

    def forward(self, bars: Tensor) -> Tensor:
        return self.net(bars).flatten(1)


class _BarGenerator(nn.Module):
    """A vector -> one track's bar, ``(steps, pitches, 2)`` logits. Time unfolds along the
    beat: a linear layer to a grid of (beats, octaves), 8ths, 16ths (then mixed with their
    neighbours), and the 12 pitches of each octave, to an *on* and an *onset* logit per 16th
    and pitch. The generator writes in 16ths, as the token families do: a 16th that is on
    holds all its steps, and a note starts on its first step (a real phrase's triplets
    the critic hears; the generator does not write them)."""

    def __init__(self, inputs: int, config: GanConfig) -> None:
        super().__init__()
        w = config.width
        a, b, c = max(4, w // 2), max(4, w // 4), max(4, w // 8)
        self.grid = (_BEATS, config.pitches // 12, w)
        self.linear = nn.Linear(inputs, w * self.grid[0] * self.grid[1])
        self.net = nn.Sequential(
            nn.LeakyReLU(0.2),
            _Up(w, a, 2, 2),
            nn.LeakyReLU(0.2),
            _Up(a, b, 2, 2),
            nn.LeakyReLU(0.2),
            _TimeMix(b),
            nn.LeakyReLU(0.2),
            _Up(b, c, 1, 3),
            nn.LeakyReLU(0.2),
            _Up(c, 2, 1, 1),
        )
        last = self.net[-1]
        assert isinstance(last, _Up)
        nn.init.constant_(last.linear.bias, _START_BIAS)  # a roll is mostly off: start sparse, not half on
        self.per_16th = config.resolution // 4

    def forward(self, x: Tensor) -> Tensor:
        sixteenths = self.net(self.linear(x).view(-1, *self.grid))  # (n, 16, pitches, 2)
        on = sixteenths[..., :1].repeat_interleave(self.per_16th, dim=1)
        onset = torch.full_like(on, _NEVER).view(*sixteenths.shape[:-1], self.per_16th)
        onset[..., 0] = sixteenths[..., 1]
        onset = onset.permute(0, 1, 3, 2).reshape(on.shape)
        return torch.cat([on, onset], dim=-1)


class Generator(nn.Module):
    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        z = config.latent
        self.temporal = nn.Sequential(nn.Linear(z, config.bars * z), nn.ReLU())
        conditions = (len(CHORDS) if config.chords else 0) + (4 * config.critic_width if config.given_track >= 0 else 0)
        self.given = _BarEncoder(2, config.critic_width, config) if config.given_track >= 0 else None
        self.bars = nn.ModuleList(_BarGenerator(2 * z + conditions, config) for _ in range(config.tracks))

    def forward(
        self, shared: Tensor, private: Tensor, chords: Tensor | None = None, given: Tensor | None = None
    ) -> Tensor:
        """Latents ``(n, latent)`` and ``(n, tracks, latent)``, chords ``(n, bars)`` and the
        given track's channels ``(n, 2, bars, steps, pitches)`` where the config asks for
        them -> probabilities ``(n, tracks, 2, bars, steps, pitches)``."""
        config, n = self.config, shared.shape[0]
        B = config.bars
        per_bar = [self.temporal(shared).view(n, B, -1)]
        if config.chords:
            assert chords is not None
            per_bar.append(_chord_one_hot(chords))
        if self.given is not None:
            assert given is not None
            codes = self.given(given.permute(0, 2, 3, 4, 1).reshape(n * B, config.steps, config.pitches, 2))
            per_bar.append(codes.view(n, B, -1))
        bar_input = torch.cat(per_bar, dim=-1)  # (n, B, ...)
        out = []
        for t, generate in enumerate(self.bars):
            x = torch.cat([bar_input, private[:, t, None, :].expand(n, B, -1)], dim=-1).reshape(n * B, -1)
            bars = torch.sigmoid(generate(x)).view(n, B, config.steps, config.pitches, 2).permute(0, 4, 1, 2, 3)
            out.append(bars)
        if self.given is not None:
            assert given is not None
            out[config.given_track] = given
        return torch.stack(out, dim=1)


class Critic(nn.Module):
    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        w = config.critic_width
        self.encoder = _BarEncoder(2 * config.tracks, w, config)
        chords = len(CHORDS) if config.chords else 0
        self.head = nn.Sequential(
            nn.Linear(config.bars * (4 * w + chords), 8 * w), nn.LeakyReLU(0.2), nn.Linear(8 * w, 1)
        )

    def forward(self, phrases: Tensor, chords: Tensor | None = None) -> Tensor:
        """``(n, tracks, 2, bars, steps, pitches)`` -> ``(n,)``: higher is more real."""
        config, n = self.config, phrases.shape[0]
        bars = phrases.permute(0, 3, 4, 5, 1, 2).reshape(n * config.bars, config.steps, config.pitches, -1)
        codes = self.encoder(bars).view(n, config.bars, -1)
        if config.chords:
            assert chords is not None
            codes = torch.cat([codes, _chord_one_hot(chords)], dim=-1)
        return self.head(codes.flatten(1)).squeeze(1)


class GanModel(nn.Module):
    """The generator and the critic of one configuration, saved and loaded together."""

    family: ClassVar[str] = "gan"

    def __init__(self, config: GanConfig) -> None:
        super().__init__()
        self.config = config
        self.generator = Generator(config)
        self.critic = Critic(config)

    @classmethod
    def tiny(cls, **overrides: object) -> GanModel:
        return cls(GanConfig.tiny(**overrides))

    def num_parameters(self, part: str = "") -> int:
        module = getattr(self, part) if part else self
        return sum(p.numel() for p in module.parameters())

    def save(self, folder: Path, dtype: torch.dtype = torch.float32, extra: dict | None = None) -> Path:
        """``model.safetensors`` and ``config.json`` (with ``extra`` keys: the default style, a
        training summary), each written aside and renamed."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        weights = folder / WEIGHTS
        state = {name: tensor.detach().to("cpu", dtype).contiguous() for name, tensor in self.state_dict().items()}
        write_file(weights, lambda path: save_file(state, str(path), metadata={"family": self.family}))
        write_config(folder, self.family, self.config.to_dict(), extra)
        return weights

    @staticmethod
    def expected_tensors(config: GanConfig) -> dict[str, tuple[str, tuple[int, ...]]]:
        """{name: ("float", shape)} of the weights ``config`` implies (built on the meta
        device: nothing is allocated)."""
        with torch.device("meta"):
            model = GanModel(config)
        return {name: ("float", tuple(t.shape)) for name, t in model.state_dict().items()}

    @classmethod
    def load(cls, folder: Path, device: str | torch.device = "cpu") -> GanModel:
        """A model folder: the config checked against its bounds and the weights' header
        against the config before anything is allocated."""
        model = load_checked(folder, cls.family, GanConfig.from_dict, cls.expected_tensors, cls)
        return model.to(device).eval()

    def latents(self, count: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """A shared and a per-track latent for ``count`` phrases, drawn from ``generator``."""
        config = self.config
        device = next(self.parameters()).device
        shared = torch.randn(count, config.latent, generator=generator)
        private = torch.randn(count, config.tracks, config.latent, generator=generator)
        return shared.to(device), private.to(device)


# ------------------------------------------------------------------------ sampling
def binarise(probabilities: Tensor, generator: torch.Generator | None = None) -> np.ndarray:
    """``(n, tracks, 2, bars, steps, pitches)`` probabilities -> OFF/HELD/ONSET rolls ``(n,
    tracks, bars, steps, pitches)``: on above 0.5 (or drawn, with ``generator``); an
    on-step is an onset where the onset channel says so or where the roll turns on."""
    p = probabilities.detach().cpu()
    if generator is None:
        on = p[:, :, 0] > 0.5
        onset = p[:, :, 1] > 0.5
    else:
        on = torch.rand(p[:, :, 0].shape, generator=generator) < p[:, :, 0]
        onset = torch.rand(p[:, :, 1].shape, generator=generator) < p[:, :, 1]
    n, tracks, bars, steps, pitches = on.shape
    flat = on.reshape(n, tracks, bars * steps, pitches)
    before = torch.cat([torch.zeros_like(flat[:, :, :1]), flat[:, :, :-1]], dim=2)
    starts = (flat & (onset.reshape(flat.shape) | ~before)).reshape(on.shape)
    return (on.numpy().astype(np.uint8) * HELD + starts.numpy().astype(np.uint8) * (ONSET - HELD)).astype(np.uint8)


def _conditions(model: GanModel, count: int, chords: object, given: object) -> tuple[Tensor | None, Tensor | None]:
    config = model.config
    chord_tensor = given_tensor = None
    if chords is not None:
        if not config.chords:
            raise InvalidArgumentError("this gan model was not trained on chords; it cannot follow them")
        array = np.broadcast_to(np.asarray(chords, dtype=np.int64), (count, config.bars))
        if array.min() < 0 or array.max() > NO_CHORD:
            raise InvalidArgumentError(f"chords are indices 0..{NO_CHORD} of cadenza.models.gan.CHORDS")
        chord_tensor = torch.from_numpy(np.ascontiguousarray(array))
    elif config.chords:
        chord_tensor = torch.full((count, config.bars), NO_CHORD, dtype=torch.int64)
    if given is not None:
        if config.given_track < 0:
            raise InvalidArgumentError("this gan model was not trained to accompany a given track")
        shape = (config.bars, config.steps, config.pitches)
        roll = np.asarray(given)
        if roll.shape[-3:] != shape:
            raise InvalidArgumentError(
                f"the given track must be a roll of (bars, steps, pitches) {shape}, got {roll.shape}"
            )
        given_tensor = as_channels(np.ascontiguousarray(np.broadcast_to(roll, (count, 1, *shape))))[:, 0]
    elif config.given_track >= 0:
        raise InvalidArgumentError(f"this gan model accompanies a given {TRACKS[config.given_track]} track; give one")
    device = next(model.parameters()).device
    return (
        None if chord_tensor is None else chord_tensor.to(device),
        None if given_tensor is None else given_tensor.to(device),
    )


@torch.no_grad()
def sample_phrases(
    model: GanModel,
    count: int,
    seed: int,
    chords: Sequence[int] | np.ndarray | None = None,
    given: np.ndarray | None = None,
    *,
    bernoulli: bool = False,
) -> np.ndarray:
    """``count`` phrases ``(count, tracks, bars, steps, pitches)`` of OFF/HELD/ONSET, a pure
    function of ``seed`` and the conditions: ``chords`` (indices in :data:`CHORDS`, one per
    bar, or one row per phrase) for a model trained on chords (none: every bar
    :data:`NO_CHORD`), ``given`` (a roll ``(bars, steps, pitches)``, or one per phrase) for a
    model that accompanies a track. Binarised at 0.5, or drawn (``bernoulli``)."""
    if count < 1:
        raise InvalidArgumentError(f"count must be at least 1, got {count}")
    chord_tensor, given_tensor = _conditions(model, count, chords, given)
    generator = torch.Generator().manual_seed(int(seed))
    was_training = model.training
    model.eval()
    shared, private = model.latents(count, generator)
    probabilities = model.generator(shared, private, chord_tensor, given_tensor)
    model.train(was_training)
    rolls = binarise(probabilities, generator if bernoulli else None)
    if given is not None:
        rolls[:, model.config.given_track] = np.broadcast_to(np.asarray(given, np.uint8), rolls[:, 0].shape)
    return rolls
