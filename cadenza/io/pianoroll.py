"""Piano-roll PNG images of a Score, drawn with numpy and Pillow.

Time runs left to right in quarter notes (ticks), so bars at one meter are evenly
spaced even where the tempo changes; pitch runs bottom to top over the range in use.
Each track has its own colour, and velocity sets the brightness of its notes. Drum
hits are drawn as 3 px marks at their onsets, since their durations mean nothing. Bar
lines come from the time signatures (4/4 when there are none): thin, and stronger every
4 bars, with the bar number above each strong line.

The image size is bounded whatever the input: the width never passes ``max_width``
(the pixels per quarter note shrink for long pieces) and the height never passes
600 px, so a one-note file that lasts for days cannot allocate gigabytes.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont
from symusic.core import ScoreTick, TrackTick

from cadenza.errors import InvalidArgumentError, LimitExceededError
from cadenza.io.atomic import atomic_output

__all__ = ["TRACK_COLOURS", "render_pianoroll"]

MAX_ROLL_NOTES = 2_000_000
PX_PER_QUARTER = 12.0
"""Horizontal scale for pieces short enough to fit; longer ones are squeezed."""
MIN_PLOT_WIDTH = 320
PLOT_HEIGHT = 520
"""Target height of the note area; rows are 3..10 px per semitone."""
PITCH_MARGIN = 2
MIN_PITCH_SPAN = 25
DRUM_MARK_WIDTH = 3
GUTTER = 30  # left of the plot: octave labels
RIGHT_PAD = 8
LINE_HEIGHT = 14
MAX_LEGEND_LINES = 3
BAR_NUMBER_HEIGHT = 12

BACKGROUND = (18, 20, 26)
OCTAVE_LINE = (40, 44, 54)
BAR_LINE = (60, 64, 78)
STRONG_BAR_LINE = (128, 134, 150)
TEXT = (200, 204, 214)
TRACK_COLOURS = (
    (66, 165, 245),
    (255, 167, 38),
    (102, 187, 106),
    (239, 83, 80),
    (171, 71, 188),
    (38, 198, 218),
    (255, 238, 88),
    (161, 136, 127),
    (236, 64, 122),
    (212, 225, 87),
)
"""Track i is drawn in ``TRACK_COLOURS[i % 10]``, at full value when its velocity is 127."""


Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
Entry = tuple[str, tuple[int, ...]]  # legend text and colour


@dataclass(frozen=True)
class _Layout:
    """Where ticks and pitches land in the image."""

    px_per_tick: float
    plot_width: int
    low: int  # lowest pitch shown
    high: int  # highest pitch shown
    row: int  # pixels per semitone
    top: int  # y of the plot's top edge

    @property
    def bottom(self) -> int:
        return self.top + (self.high - self.low + 1) * self.row

    def x(self, ticks: npt.ArrayLike) -> np.ndarray:
        """Column of each tick, clipped to the plot."""
        columns = np.floor(np.asarray(ticks, np.float64) * self.px_per_tick).astype(np.int64)
        return GUTTER + np.clip(columns, 0, self.plot_width)

    def y(self, pitches: npt.ArrayLike) -> np.ndarray:
        """Top row of each pitch."""
        return self.top + (self.high - np.asarray(pitches, np.int64)) * self.row


def render_pianoroll(
    score: ScoreTick,
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    max_width: int = 4000,
) -> Path:
    """Draw ``score`` as a piano roll and write it to ``path`` as a PNG.

    The image is at most ``max_width`` pixels wide (at most 12 px per quarter note) and
    at most 600 px high. An empty score gives a valid, blank image. Raises
    :class:`LimitExceededError` for more than two million notes.
    """
    if not 400 <= max_width <= 16384:
        raise InvalidArgumentError(f"max width {max_width} px is outside 400..16384", path)
    if score.note_num() > MAX_ROLL_NOTES:
        raise LimitExceededError(f"{score.note_num()} notes, more than {MAX_ROLL_NOTES}", path)
    font = ImageFont.load_default(size=10)
    labels = _legend_entries(score)
    layout = _layout(score, max_width)
    legend_lines = _legend_rows(labels, font, right=GUTTER + layout.plot_width)
    layout = replace(layout, top=4 + LINE_HEIGHT * len(legend_lines) + BAR_NUMBER_HEIGHT)

    pixels = np.empty((layout.bottom + 4, GUTTER + layout.plot_width + RIGHT_PAD, 3), np.uint8)
    pixels[:] = BACKGROUND
    for c in range(layout.low - layout.low % 12 + 12, layout.high + 1, 12):
        pixels[int(layout.y(c)) + layout.row - 1, GUTTER : GUTTER + layout.plot_width] = OCTAVE_LINE
    bars, numbers = _bar_lines(score, layout)
    for x, number in zip(layout.x(bars).tolist(), numbers.tolist(), strict=True):
        pixels[layout.top : layout.bottom, x] = STRONG_BAR_LINE if number % 4 == 0 else BAR_LINE
    for index, track in enumerate(score.tracks):
        _draw_notes(pixels, layout, track, TRACK_COLOURS[index % len(TRACK_COLOURS)])

    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    for row, entries in enumerate(legend_lines):
        for x, text, colour in entries:
            y = 4 + row * LINE_HEIGHT
            draw.rectangle((x, y + 2, x + 8, y + 10), fill=colour)
            draw.text((x + 12, y), text, fill=TEXT, font=font)
    for c in range(layout.low - layout.low % 12 + 12, layout.high + 1, 12):
        draw.text((3, int(layout.y(c)) + layout.row - 11), f"C{c // 12 - 1}", fill=TEXT, font=font)
    _draw_bar_numbers(draw, layout, bars, numbers, font)

    with atomic_output(path, force=force) as tmp:
        image.save(tmp, format="PNG")
    return Path(path)


def _layout(score: ScoreTick, max_width: int) -> _Layout:
    """The scales for ``score``, with the plot's top edge at 0."""
    end = max(int(score.end()), 1)
    quarters = end / score.tpq
    plot_width = min(max(math.ceil(quarters * PX_PER_QUARTER), MIN_PLOT_WIDTH), max_width - GUTTER - RIGHT_PAD)
    pitches = [track.notes.numpy()["pitch"] for track in score.tracks if len(track.notes)]
    if pitches:
        used = np.concatenate(pitches)
        low, high = int(used.min()) - PITCH_MARGIN, int(used.max()) + PITCH_MARGIN
    else:
        low, high = 60, 60
    if high - low + 1 < MIN_PITCH_SPAN:
        low -= (MIN_PITCH_SPAN - (high - low + 1)) // 2
        high = low + MIN_PITCH_SPAN - 1
    low, high = max(low, 0), min(high, 127)
    row = min(max(PLOT_HEIGHT // (high - low + 1), 3), 10)
    return _Layout(plot_width / end, plot_width, low, high, row, top=0)


def _bar_lines(score: ScoreTick, layout: _Layout) -> tuple[np.ndarray, np.ndarray]:
    """Ticks of the bar lines to draw, and their bar numbers counted from 0.

    Bars are counted from the start of the piece; each time signature starts a new bar.
    When bars would lie closer than 4 px, only every 4th (16th, ...) one is drawn.
    """
    end = int(score.end())
    signatures = sorted(
        ((s.time, s.numerator, s.denominator) for s in score.time_signatures),
        key=lambda s: s[0],
    )
    if not signatures or signatures[0][0] > 0:
        signatures.insert(0, (0, 4, 4))
    segments = []  # (start tick, ticks per bar, number of bars)
    for i, (start, numerator, denominator) in enumerate(signatures):
        stop = signatures[i + 1][0] if i + 1 < len(signatures) else end
        bar = score.tpq * 4 * numerator / max(denominator, 1)
        if stop > start and bar > 0:
            segments.append((start, bar, math.ceil((stop - start) / bar)))
    total = sum(count for _, _, count in segments)
    stride = 1
    while total / stride > layout.plot_width / 4:
        stride *= 4
    ticks, numbers, first = [], [], 0  # first: number of bars before this segment
    for start, bar, count in segments:
        index = np.arange(-first % stride, count, stride)
        ticks.append(start + index * bar)
        numbers.append(first + index)
        first += count
    if not ticks:
        return np.zeros(0), np.zeros(0, np.int64)
    return np.concatenate(ticks), np.concatenate(numbers)


def _draw_notes(pixels: np.ndarray, layout: _Layout, track: TrackTick, colour: tuple[int, ...]) -> None:
    notes = track.notes.numpy()
    if not len(notes["time"]):
        return
    keep = (notes["pitch"] >= layout.low) & (notes["pitch"] <= layout.high)
    start = notes["time"][keep].astype(np.int64)
    x0 = layout.x(start)
    if track.is_drum:
        x1 = x0 + DRUM_MARK_WIDTH
    else:
        x1 = np.maximum(layout.x(start + notes["duration"][keep]), x0 + 1)
        x1 = np.where(x1 - x0 >= 3, x1 - 1, x1)  # a 1 px gap between repeated notes
    y0 = layout.y(notes["pitch"][keep])
    y1 = y0 + max(layout.row - 1, 1)
    shade = 0.35 + 0.65 * np.clip(notes["velocity"][keep], 0, 127) / 127
    rgb = np.rint(np.outer(shade, colour)).clip(0, 255).astype(np.int64)
    boxes = np.column_stack([x0, x1, y0, y1, rgb])  # (notes, 7)
    for start_row in range(0, len(boxes), 65536):  # Python lists of a bounded size
        for a, b, top, bottom, red, green, blue in boxes[start_row : start_row + 65536].tolist():
            pixels[top:bottom, a:b] = (red, green, blue)


def _legend_entries(score: ScoreTick) -> list[Entry]:
    entries: list[Entry] = []
    for index, track in enumerate(score.tracks):
        name = (track.name or f"track {index + 1}").strip()[:24]
        if track.is_drum:
            name += " (drums)"
        entries.append((name, TRACK_COLOURS[index % len(TRACK_COLOURS)]))
    return entries


def _legend_rows(entries: list[Entry], font: Font, *, right: int) -> list[list[tuple[int, str, tuple[int, ...]]]]:
    """Lay legend entries out left to right up to x = ``right``, in at most 3 lines."""
    rows: list[list[tuple[int, str, tuple[int, ...]]]] = []
    x = right  # forces a first row
    for i, (text, colour) in enumerate(entries):
        size = 12 + int(font.getlength(text)) + 14
        if x + size > right and (x > GUTTER or not rows):
            if len(rows) == MAX_LEGEND_LINES:
                rows[-1][-1] = (rows[-1][-1][0], f"+{len(entries) - i + 1} more", TEXT)
                break
            rows.append([])
            x = GUTTER
        rows[-1].append((x, text, colour))
        x += size
    return rows


def _draw_bar_numbers(
    draw: ImageDraw.ImageDraw,
    layout: _Layout,
    ticks: np.ndarray,
    numbers: np.ndarray,
    font: Font,
) -> None:
    """Number the strong bar lines (1, 5, 9, ...) where there is room for the text."""
    strong = numbers % 4 == 0
    last = -1000
    for x, number in zip(layout.x(ticks[strong]).tolist(), numbers[strong].tolist(), strict=True):
        if x - last >= 40:
            draw.text((x + 2, layout.top - BAR_NUMBER_HEIGHT), str(number + 1), fill=TEXT, font=font)
            last = x
